package values

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// TestKindsCoverTheWire checks the table against value.proto: every case
// of Value's oneof is the Field or ListField of exactly one Kind, Unpack
// maps it to that Kind's type, and SetList and Go agree with it.
func TestKindsCoverTheWire(t *testing.T) {
	oneof := (&almanacv1.Value{}).ProtoReflect().Descriptor().Oneofs().ByName("val")
	seen := map[protoreflect.FieldNumber]bool{}
	for _, k := range Kinds() {
		for _, c := range []struct {
			num  protoreflect.FieldNumber
			want registry.Type
		}{{k.Field, registry.Type{Elem: k.Scalar}}, {k.ListField, registry.ListOf(k.Scalar)}} {
			fd := oneof.Fields().ByNumber(c.num)
			if fd == nil {
				t.Fatalf("%s: field %d is not a case of Value.val", c.want, c.num)
			}
			if seen[c.num] {
				t.Fatalf("%s: field %d is described twice", c.want, c.num)
			}
			seen[c.num] = true
			v := &almanacv1.Value{}
			if c.want.List {
				k.SetList(v, List{})
			} else {
				Set(v, k.Scalar, Payload{})
			}
			if got := v.ProtoReflect().WhichOneof(oneof).Number(); got != c.num {
				t.Errorf("%s: a value made from the table sets field %d, want %d", c.want, got, c.num)
			}
			if got := TypeOf(v); got != c.want {
				t.Errorf("TypeOf(field %d) = %s, want %s", c.num, got, c.want)
			}
		}
		if k.Field >= 16 {
			t.Errorf("%s: field %d takes a 2-byte tag; online.newColumn keeps one byte", k.Scalar, k.Field)
		}
	}
	if got, want := len(seen), oneof.Fields().Len(); got != want {
		t.Errorf("the table describes %d of Value.val's %d cases", got, want)
	}
}
