package server

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// TestWireMatchesMessage holds the hand-written wire form of replies equal,
// byte for byte, to what protobuf makes of the response message built from
// the decoded records: every value type, nulls, empty and long lists,
// negative numbers, long strings, every status, event times before 1970,
// and columns long enough for multi-byte lengths.
func TestWireMatchesMessage(t *testing.T) {
	var scalars = []registry.Scalar{registry.Int32, registry.Int64, registry.Float32, registry.Float64, registry.Bool, registry.String, registry.Bytes, registry.Timestamp}
	var every []registry.Field
	for _, list := range []bool{false, true} {
		for _, s := range scalars {
			typ := registry.Type{Elem: s, List: list}
			every = append(every, registry.Field{Name: "f_" + strings.ReplaceAll(typ.String(), "<", "_"), Type: typ})
		}
	}
	views := []*viewInfo{
		testView(online.View{Name: "every", Features: every, TTL: time.Hour}),
		testView(online.View{Name: "plain", Features: []registry.Field{{Name: "x", Type: registry.Type{Elem: registry.Float64}}}}),
	}
	p := &plan{views: views, keys: []registry.Field{{Name: "id", Type: registry.Type{Elem: registry.Int64}}, {Name: "region", Type: registry.Type{Elem: registry.String}}}}
	names := &almanacv1.FeatureList{Val: []string{"id", "region"}}
	for j, v := range views {
		for i, f := range v.view.Features {
			p.columns = append(p.columns, column{record: j, field: i})
			names.Val = append(names.Val, f.Name)
		}
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

	for _, tt := range []struct {
		rows int
		seed uint64
	}{{0, 1}, {1, 2}, {1, 3}, {7, 4}, {200, 5}, {300, 6}} {
		t.Run(fmt.Sprintf("rows=%d,seed=%d", tt.rows, tt.seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(tt.seed, 0))
			keys := make([][]*almanacv1.Value, 2)
			var recs []online.Record
			for i := range tt.rows {
				keys[0] = append(keys[0], &almanacv1.Value{Val: &almanacv1.Value_Int64Val{Int64Val: rng.Int64() - math.MaxInt64/2}})
				keys[1] = append(keys[1], &almanacv1.Value{Val: &almanacv1.Value_StringVal{StringVal: strings.Repeat("é", rng.IntN(100))}})
				for _, v := range views {
					recs = append(recs, randomRecord(rng, v.view.Features, now, i))
				}
			}
			r, err := newReply(newArena(), p, names, keys, encodeRecords(t, p, recs), tt.rows, now)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.appendWire(nil)
			if err != nil {
				t.Fatal(err)
			}
			msg := responseMessage(p, names, keys, recs, tt.rows, now)
			want, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				var back almanacv1.GetOnlineFeaturesResponse
				err := proto.Unmarshal(got, &back)
				t.Fatalf("the wire form differs from the message's encoding (%d and %d bytes); read back: err %v, equal %v", len(got), len(want), err, proto.Equal(&back, msg))
			}
		})
	}
}

func testView(v online.View) *viewInfo {
	return &viewInfo{view: v, codec: online.NewCodec(&v)}
}

// encodeRecords encodes the records of a lookup of plan p, as a store holds
// them.
func encodeRecords(t testing.TB, p *plan, recs []online.Record) []string {
	encoded := make([]string, len(recs))
	for k, rec := range recs {
		if !rec.Found {
			continue
		}
		b, err := p.views[k%len(p.views)].codec.AppendRecord(nil, rec.EventTime, rec.Values)
		if err != nil {
			t.Fatal(err)
		}
		encoded[k] = string(b)
	}
	return encoded
}

// responseMessage builds the response to a lookup of plan p that found recs
// at time now as a message, the straightforward way.
func responseMessage(p *plan, names *almanacv1.FeatureList, keys [][]*almanacv1.Value, recs []online.Record, rows int, now time.Time) *almanacv1.GetOnlineFeaturesResponse {
	resp := &almanacv1.GetOnlineFeaturesResponse{Metadata: &almanacv1.GetOnlineFeaturesResponse_Metadata{FeatureNames: names}}
	for _, col := range keys {
		fv := &almanacv1.GetOnlineFeaturesResponse_FeatureVector{}
		for _, v := range col {
			fv.Values = append(fv.Values, v)
			fv.Statuses = append(fv.Statuses, almanacv1.FieldStatus_PRESENT)
			fv.EventTimestamps = append(fv.EventTimestamps, &timestamppb.Timestamp{})
		}
		resp.Results = append(resp.Results, fv)
	}
	for _, c := range p.columns {
		fv := &almanacv1.GetOnlineFeaturesResponse_FeatureVector{}
		for i := range rows {
			rec := recs[i*len(p.views)+c.record]
			st := online.Status(rec, c.field, p.views[c.record].view.TTL, now)
			v := &almanacv1.Value{}
			if st == almanacv1.FieldStatus_PRESENT {
				v = rec.Values[c.field]
			}
			ts := &timestamppb.Timestamp{}
			if rec.Found {
				ts = timestamppb.New(rec.EventTime)
			}
			fv.Values = append(fv.Values, v)
			fv.Statuses = append(fv.Statuses, st)
			fv.EventTimestamps = append(fv.EventTimestamps, ts)
		}
		resp.Results = append(resp.Results, fv)
	}
	return resp
}

// randomRecord returns a record of features: not found, old enough to be
// outside a one-hour TTL, or found with random values, some null.
func randomRecord(rng *rand.Rand, features []registry.Field, now time.Time, i int) online.Record {
	switch rng.IntN(6) {
	case 0:
		return online.Record{}
	case 1:
		return online.Record{Found: true, EventTime: now.Add(-2 * time.Hour), Values: make([]*almanacv1.Value, len(features))}
	}
	at := now.Add(-time.Duration(rng.Int64N(int64(time.Hour)))).Truncate(time.Millisecond)
	switch i % 3 {
	case 1:
		at = time.UnixMilli(-rng.Int64N(1e12)).UTC() // before 1970
	case 2:
		at = time.UnixMilli(rng.Int64N(1000)).UTC() // within the first second of 1970
	}
	rec := online.Record{Found: true, EventTime: at}
	for _, f := range features {
		var v *almanacv1.Value
		if rng.IntN(5) > 0 {
			v = randomValue(rng, f.Type)
		}
		rec.Values = append(rec.Values, v)
	}
	return rec
}

func randomValue(rng *rand.Rand, t registry.Type) *almanacv1.Value {
	n := rng.IntN(4)
	if rng.IntN(10) == 0 {
		n = 300 // lengths over 127 bytes
	}
	str := func() string { return strings.Repeat("ab", rng.IntN(3)*n) }
	i32 := func() int32 { return int32(rng.Uint32()) } // negative half the time
	i64 := func() int64 { return int64(rng.Uint64()) }
	f64 := func() float64 { return rng.NormFloat64() * 1e6 }
	f32 := func() float32 { return float32(rng.NormFloat64()) }
	boolean := func() bool { return rng.IntN(2) == 0 }
	if !t.List {
		switch t.Elem {
		case registry.Int32:
			return &almanacv1.Value{Val: &almanacv1.Value_Int32Val{Int32Val: i32()}}
		case registry.Int64:
			return &almanacv1.Value{Val: &almanacv1.Value_Int64Val{Int64Val: i64()}}
		case registry.Float32:
			return &almanacv1.Value{Val: &almanacv1.Value_FloatVal{FloatVal: f32()}}
		case registry.Float64:
			return &almanacv1.Value{Val: &almanacv1.Value_DoubleVal{DoubleVal: f64()}}
		case registry.Bool:
			return &almanacv1.Value{Val: &almanacv1.Value_BoolVal{BoolVal: boolean()}}
		case registry.String:
			return &almanacv1.Value{Val: &almanacv1.Value_StringVal{StringVal: str()}}
		case registry.Bytes:
			return &almanacv1.Value{Val: &almanacv1.Value_BytesVal{BytesVal: []byte(str())}}
		case registry.Timestamp:
			return &almanacv1.Value{Val: &almanacv1.Value_UnixTimestampVal{UnixTimestampVal: i64()}}
		}
	}
	switch t.Elem {
	case registry.Int32:
		return &almanacv1.Value{Val: &almanacv1.Value_Int32ListVal{Int32ListVal: &almanacv1.Int32List{Val: fill(n, i32)}}}
	case registry.Int64:
		return &almanacv1.Value{Val: &almanacv1.Value_Int64ListVal{Int64ListVal: &almanacv1.Int64List{Val: fill(n, i64)}}}
	case registry.Float32:
		return &almanacv1.Value{Val: &almanacv1.Value_FloatListVal{FloatListVal: &almanacv1.FloatList{Val: fill(n, f32)}}}
	case registry.Float64:
		return &almanacv1.Value{Val: &almanacv1.Value_DoubleListVal{DoubleListVal: &almanacv1.DoubleList{Val: fill(n, f64)}}}
	case registry.Bool:
		return &almanacv1.Value{Val: &almanacv1.Value_BoolListVal{BoolListVal: &almanacv1.BoolList{Val: fill(n, boolean)}}}
	case registry.String:
		return &almanacv1.Value{Val: &almanacv1.Value_StringListVal{StringListVal: &almanacv1.StringList{Val: fill(n, str)}}}
	case registry.Bytes:
		return &almanacv1.Value{Val: &almanacv1.Value_BytesListVal{BytesListVal: &almanacv1.BytesList{Val: fill(n, func() []byte { return []byte(str()) })}}}
	case registry.Timestamp:
		return &almanacv1.Value{Val: &almanacv1.Value_UnixTimestampListVal{UnixTimestampListVal: &almanacv1.Int64List{Val: fill(n, i64)}}}
	}
	panic("no random value for type " + t.String())
}

func fill[T any](n int, elem func() T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = elem()
	}
	return out
}

// BenchmarkReply turns the stored records of a 100-entity lookup of 5 views ×
// 10 features (4 float64, 4 int64, 2 strings each), the shape of
// bench/serving, into response bytes both ways: transcoded to the server's
// hand-written wire form, and decoded into a message that protobuf marshals,
// as the server did before.
func BenchmarkReply(b *testing.B) {
	var features []registry.Field
	for i, s := range []registry.Scalar{registry.Float64, registry.Float64, registry.Float64, registry.Float64, registry.Int64, registry.Int64, registry.Int64, registry.Int64, registry.String, registry.String} {
		features = append(features, registry.Field{Name: fmt.Sprintf("f%d", i), Type: registry.Type{Elem: s}})
	}
	p := &plan{keys: []registry.Field{{Name: "user_id", Type: registry.Type{Elem: registry.Int64}}}}
	names := &almanacv1.FeatureList{Val: []string{"user_id"}}
	for j := range 5 {
		p.views = append(p.views, testView(online.View{Name: fmt.Sprintf("v%d", j), Features: features, TTL: 30 * 24 * time.Hour}))
		for i, f := range features {
			p.columns = append(p.columns, column{record: j, field: i})
			names.Val = append(names.Val, fmt.Sprintf("v%d__%s", j, f.Name))
		}
	}
	now := time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	const rows = 100
	keys := [][]*almanacv1.Value{make([]*almanacv1.Value, rows)}
	var recs []online.Record
	for i := range rows {
		keys[0][i] = &almanacv1.Value{Val: &almanacv1.Value_Int64Val{Int64Val: int64(i)}}
		for range p.views {
			rec := online.Record{Found: true, EventTime: now.Add(-time.Duration(rng.Int64N(int64(time.Hour)))).Truncate(time.Millisecond)}
			for _, f := range features {
				rec.Values = append(rec.Values, randomValue(rng, f.Type))
			}
			recs = append(recs, rec)
		}
	}
	encoded := encodeRecords(b, p, recs)
	b.Run("transcode+wire", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			r, err := newReply(newArena(), p, names, keys, encoded, rows, now)
			if err != nil {
				b.Fatal(err)
			}
			if buf, err = r.appendWire(buf[:0]); err != nil {
				b.Fatal(err)
			}
			r.release()
		}
		b.ReportMetric(float64(len(buf)), "bytes/reply")
	})
	b.Run("decode+message+proto.Marshal", func(b *testing.B) {
		lookups := make([]online.Lookup, len(encoded))
		for k := range lookups {
			lookups[k].View = &p.views[k%len(p.views)].view
		}
		var buf []byte
		for b.Loop() {
			recs, err := online.DecodeAll(lookups, encoded, func(int) string { return "" })
			if err != nil {
				b.Fatal(err)
			}
			if buf, err = (proto.MarshalOptions{}).MarshalAppend(buf[:0], responseMessage(p, names, keys, recs, rows, now)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(buf)), "bytes/reply")
	})
}
