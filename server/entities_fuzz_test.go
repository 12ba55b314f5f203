package server

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/almanac-fs/almanac/online/local"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// fuzzPlans are the feature lists FuzzEntities looks up: a view for each
// join key type, and views over several keys.
var fuzzPlans = [][]string{{"v_int32"}, {"v_int64"}, {"v_string"}, {"v_bytes"}, {"v_all"}, {"v_int32", "v_string"}}

// FuzzEntities looks up arbitrary entity columns (keys, value types, row
// counts) through the server's lookup, on an embedded store: it never
// panics, every error is INVALID_ARGUMENT with a short message, and every
// lookup it accepts is answered with a row per entity, the join keys as
// their types.
func FuzzEntities(f *testing.F) {
	s := fuzzServer(f)
	v := func(x any) *almanacv1.Value {
		switch x := x.(type) {
		case int32:
			return &almanacv1.Value{Val: &almanacv1.Value_Int32Val{Int32Val: x}}
		case int64:
			return &almanacv1.Value{Val: &almanacv1.Value_Int64Val{Int64Val: x}}
		case string:
			return &almanacv1.Value{Val: &almanacv1.Value_StringVal{StringVal: x}}
		case []byte:
			return &almanacv1.Value{Val: &almanacv1.Value_BytesVal{BytesVal: x}}
		case float64:
			return &almanacv1.Value{Val: &almanacv1.Value_DoubleVal{DoubleVal: x}}
		case bool:
			return &almanacv1.Value{Val: &almanacv1.Value_BoolVal{BoolVal: x}}
		case time.Time:
			return &almanacv1.Value{Val: &almanacv1.Value_UnixTimestampVal{UnixTimestampVal: x.UnixMilli()}}
		case []int64:
			return &almanacv1.Value{Val: &almanacv1.Value_Int64ListVal{Int64ListVal: &almanacv1.Int64List{Val: x}}}
		}
		return &almanacv1.Value{}
	}
	col := func(xs ...any) *almanacv1.RepeatedValue {
		rv := &almanacv1.RepeatedValue{}
		for _, x := range xs {
			rv.Val = append(rv.Val, v(x))
		}
		return rv
	}
	for _, seed := range []struct {
		plan     uint8
		entities map[string]*almanacv1.RepeatedValue
	}{
		{0, map[string]*almanacv1.RepeatedValue{"k_int32": col(int32(1), int64(2), int64(-1<<31))}},
		{0, map[string]*almanacv1.RepeatedValue{"k_int32": col(int32(1), int64(2), int64(1<<40), "3", nil)}},
		{1, map[string]*almanacv1.RepeatedValue{"k_int64": col(int64(-1), int32(7))}},
		{1, map[string]*almanacv1.RepeatedValue{"k_int64": col(int64(-1), int32(7), 1.5, true, []int64{1})}},
		{2, map[string]*almanacv1.RepeatedValue{"k_string": col("", "é", "a\x00b", strings.Repeat("z", 300), []byte("b"))}},
		{2, map[string]*almanacv1.RepeatedValue{"k_string": col("", "é", "a\x00b", strings.Repeat("z", 300))}},
		{3, map[string]*almanacv1.RepeatedValue{"k_bytes": col([]byte{}, []byte{0xff}, []byte("{}:"))}},
		{3, map[string]*almanacv1.RepeatedValue{"k_bytes": col([]byte{}, []byte{0xff}, "s", time.Unix(0, 0))}},
		{4, map[string]*almanacv1.RepeatedValue{"k_int32": col(int32(1)), "k_int64": col(int64(1)), "k_string": col("a"), "k_bytes": col([]byte("b"))}},
		{4, map[string]*almanacv1.RepeatedValue{"k_int32": col(int32(1), int32(2)), "k_int64": col(int64(1)), "k_string": col("a"), "k_bytes": col([]byte("b"))}},
		{5, map[string]*almanacv1.RepeatedValue{"k_int32": col(int32(1)), "k_string": col("a"), "k_unknown": col("x")}},
		{5, map[string]*almanacv1.RepeatedValue{}},
	} {
		b, err := proto.Marshal(&almanacv1.GetOnlineFeaturesRequest{Entities: seed.entities})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(seed.plan, b)
	}
	f.Fuzz(func(t *testing.T, plan uint8, entities []byte) {
		req := &almanacv1.GetOnlineFeaturesRequest{}
		if err := proto.Unmarshal(entities, req); err != nil {
			return
		}
		refs := fuzzPlans[int(plan)%len(fuzzPlans)]
		req.Kind = &almanacv1.GetOnlineFeaturesRequest_Features{Features: &almanacv1.FeatureList{Val: refs}}
		r, err := s.lookup(t.Context(), req)
		if err != nil {
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument || st.Message() == "" || len(st.Message()) > 1<<10 {
				t.Fatalf("lookup of %v: %v (%d bytes), want INVALID_ARGUMENT with a short message", refs, st.Code(), len(st.Message()))
			}
			return
		}
		defer r.release()
		for c, k := range r.plan.keys {
			vals := req.GetEntities()[k.Name].GetVal()
			if len(r.keys[c]) != len(vals) || r.rows != len(vals) {
				t.Fatalf("key %q: %d values and %d rows served for %d asked", k.Name, len(r.keys[c]), r.rows, len(vals))
			}
			for i, got := range r.keys[c] {
				if _, err := keyValue(k.Type, got); err != nil || !isType(got, k.Type.Elem) {
					t.Fatalf("key %q, row %d: served %v for %v, not a %s", k.Name, i, got, vals[i], k.Type)
				}
			}
		}
		if _, err := r.appendWire(nil); err != nil {
			t.Fatalf("lookup of %v accepted, then its reply cannot be written: %v", refs, err)
		}
	})
}

// isType reports whether v holds a value of scalar type t.
func isType(v *almanacv1.Value, t registry.Scalar) bool {
	switch v.GetVal().(type) {
	case *almanacv1.Value_Int32Val:
		return t == registry.Int32
	case *almanacv1.Value_Int64Val:
		return t == registry.Int64
	case *almanacv1.Value_StringVal:
		return t == registry.String
	case *almanacv1.Value_BytesVal:
		return t == registry.Bytes
	}
	return false
}

// fuzzServer returns a server of views over join keys of every key type,
// each with one feature, on an empty embedded store.
func fuzzServer(tb testing.TB) *Server {
	tb.Helper()
	defs := &registry.Definitions{
		Sources: []*registry.Source{{Name: "src", Format: registry.FormatPush, TimestampField: "ts"}},
	}
	var all []string
	for _, typ := range []registry.Type{registry.TypeInt32, registry.TypeInt64, registry.TypeString, registry.TypeBytes} {
		name := typ.String()
		defs.Entities = append(defs.Entities, &registry.Entity{Name: "e_" + name, JoinKeys: []registry.Field{{Name: "k_" + name, Type: typ}}})
		defs.Views = append(defs.Views, fuzzView("v_"+name, "e_"+name))
		all = append(all, "e_"+name)
	}
	defs.Views = append(defs.Views, fuzzView("v_all", all...))
	reg := registry.OpenStore(filepath.Join(tb.TempDir(), "registry"), registry.StoreOptions{})
	if _, _, err := registry.Apply(tb.Context(), reg, "fuzz", defs, true); err != nil {
		tb.Fatal(err)
	}
	store, err := local.New(local.DefaultOptions(filepath.Join(tb.TempDir(), "online.db")))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	s, err := New(Options{Store: store, Registry: reg})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func fuzzView(name string, entities ...string) *registry.FeatureView {
	return &registry.FeatureView{Name: name, Entities: entities, Source: "src", Online: true,
		Features: []registry.Field{{Name: "x_" + name, Type: registry.TypeFloat64}}}
}
