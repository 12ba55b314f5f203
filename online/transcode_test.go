package online_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

func TestTranscodeMatchesDecode(t *testing.T) {
	long := strings.Repeat("é", 200) // lengths over 127 bytes
	floats := make([]float64, 40)
	tests := []struct {
		name   string
		view   *online.View
		values []*almanacv1.Value
	}{
		{"every type", allTypes(), allValues()},
		{"every type null", allTypes(), make([]*almanacv1.Value, 16)},
		{"empty lists", view("v", registry.ListOf(registry.Float32), registry.ListOf(registry.Bytes), registry.ListOf(registry.String), registry.ListOf(registry.Int64)), []*almanacv1.Value{
			{Val: &almanacv1.Value_FloatListVal{FloatListVal: &almanacv1.FloatList{}}},
			{Val: &almanacv1.Value_BytesListVal{}},
			{Val: &almanacv1.Value_StringListVal{StringListVal: &almanacv1.StringList{}}},
			{Val: &almanacv1.Value_Int64ListVal{Int64ListVal: &almanacv1.Int64List{}}},
		}},
		{"long values", view("v", registry.TypeString, registry.ListOf(registry.String), registry.ListOf(registry.Float64), registry.TypeBytes), []*almanacv1.Value{
			str(long),
			{Val: &almanacv1.Value_StringListVal{StringListVal: &almanacv1.StringList{Val: []string{long, "", long}}}},
			{Val: &almanacv1.Value_DoubleListVal{DoubleListVal: &almanacv1.DoubleList{Val: floats}}},
			byt([]byte(long)),
		}},
		{"zeros", view("v", registry.TypeInt32, registry.TypeInt64, registry.TypeFloat64, registry.TypeBool, registry.TypeString, registry.TypeTimestamp), []*almanacv1.Value{
			i32(0), i64(0), f64(0), boolean(false), str(""), ts(0),
		}},
		{"no features", view("v"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := online.NewCodec(tt.view)
			b, err := c.AppendRecord(nil, t0, tt.values)
			if err != nil {
				t.Fatal(err)
			}
			checkTranscode(t, c, string(b))
		})
	}
}

// checkTranscode checks that Transcode agrees with Decode on rec: the same
// error, or the same event time and, for each feature, the bytes
// proto.Marshal makes of the decoded value.
func checkTranscode(t *testing.T, c *online.Codec, rec string) {
	t.Helper()
	want, decErr := c.DecodeRecord(rec)
	prefix := []byte("kept")
	ends := make([]int, 64)
	got, found, eventTime, err := c.Transcode(bytes.Clone(prefix), rec, ends)
	if decErr != nil || err != nil {
		if decErr == nil || err == nil || err.Error() != decErr.Error() {
			t.Fatalf("Transcode error %v, Decode error %v", err, decErr)
		}
		if !bytes.Equal(got, prefix) {
			t.Fatalf("Transcode failed but changed dst to %q", got)
		}
		return
	}
	if found != want.Found {
		t.Fatalf("Transcode found %t, Decode %t", found, want.Found)
	}
	if !found {
		if !bytes.Equal(got, prefix) {
			t.Fatalf("Transcode found nothing but changed dst to %q", got)
		}
		return
	}
	if !eventTime.Equal(want.EventTime) {
		t.Errorf("Transcode event time %v, Decode %v", eventTime, want.EventTime)
	}
	start := len(prefix)
	for i, v := range want.Values {
		field := got[start:ends[i]]
		start = ends[i]
		var wantField []byte
		if v != nil {
			if wantField, err = (proto.MarshalOptions{Deterministic: true}).Marshal(v); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(field, wantField) {
			t.Errorf("feature %d: Transcode gave %x, proto.Marshal of the decoded value %x", i, field, wantField)
		}
	}
	if start != len(got) {
		t.Errorf("Transcode wrote %d bytes after the last feature", len(got)-start)
	}
}

func TestTranscodeOfAnotherSchema(t *testing.T) {
	b, err := online.NewCodec(view("v", registry.TypeFloat64)).AppendRecord(nil, t0, []*almanacv1.Value{f64(1)})
	if err != nil {
		t.Fatal(err)
	}
	_, found, at, err := online.NewCodec(view("v", registry.TypeInt64)).Transcode(nil, string(b), make([]int, 1))
	if err != nil || found || !at.Equal(time.Time{}) {
		t.Fatalf("got found %t, event time %v, error %v; want not found", found, at, err)
	}
}

func TestTranscodeCorrupt(t *testing.T) {
	c := online.NewCodec(view("v", registry.ListOf(registry.String), registry.TypeBool))
	good, err := c.AppendRecord(nil, t0, []*almanacv1.Value{
		{Val: &almanacv1.Value_StringListVal{StringListVal: &almanacv1.StringList{Val: []string{"ok"}}}}, boolean(true)})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range [][]byte{
		good[:len(good)-1],
		append(bytes.Clone(good[:14]), 1, 1, 0xff, 1), // invalid UTF-8 in a list
		append(bytes.Clone(good[:14]), 1, 2, 'o', 'k', 2),
	} {
		_, _, _, err := c.Transcode(nil, string(rec), make([]int, 2))
		if !errors.Is(err, online.ErrCorrupt) {
			t.Errorf("record %x: got error %v, want ErrCorrupt", rec, err)
		}
		checkTranscode(t, c, string(rec))
	}
}
