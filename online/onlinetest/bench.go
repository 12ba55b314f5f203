package onlinetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// BenchView returns a view of ten features, four float64, three int64 and
// three string, the shape of the read benchmarks.
func BenchView(name string) *online.View {
	v := &online.View{Name: name}
	for i := range 10 {
		t := []registry.Type{registry.TypeFloat64, registry.TypeInt64, registry.TypeString}[i%3]
		v.Features = append(v.Features, registry.Field{Name: fmt.Sprintf("f%d", i), Type: t})
	}
	return v
}

// BenchRow returns the row of entity id in a BenchView at time at.
func BenchRow(id int64, at time.Time) online.Row {
	values := make([]*almanacv1.Value, 10)
	for i := range values {
		switch i % 3 {
		case 0:
			values[i] = f64(float64(id) + float64(i)/10)
		case 1:
			values[i] = i64(id*100 + int64(i))
		default:
			values[i] = str(fmt.Sprintf("value-%d-%d", id, i))
		}
	}
	return online.Row{Key: key(i64(id)), EventTime: at, Values: values}
}

// BenchRead runs the sub-benchmark "entities=E/views=V": the raw cost of one
// Read of entities × views lookups on s, every record present, each of a
// BenchView. It writes the records first and checks one Read of them
// before timing.
func BenchRead(b *testing.B, s online.Store, entities, views int) {
	b.Run(fmt.Sprintf("entities=%d/views=%d", entities, views), func(b *testing.B) {
		ctx := b.Context()
		at := time.Now().Truncate(time.Millisecond)
		rows := make([]online.Row, entities)
		for i := range rows {
			rows[i] = BenchRow(int64(i), at)
		}
		lookups := make([]online.Lookup, 0, entities*views)
		for v := range views {
			view := BenchView(fmt.Sprintf("bench_view_%d", v))
			if err := s.Write(ctx, *view, rows); err != nil {
				b.Fatalf("write fixture: %v", err)
			}
			for i := range entities {
				lookups = append(lookups, online.Lookup{View: view, Key: rows[i].Key})
			}
		}
		recs, err := s.Read(ctx, lookups)
		if err != nil {
			b.Fatalf("read fixture: %v", err)
		}
		for i, rec := range recs {
			want := rows[i%entities]
			if !rec.Found || !rec.EventTime.Equal(at) || len(rec.Values) != len(want.Values) {
				b.Fatalf("lookup %d: got %+v, want the values of %v", i, rec, want.Key)
			}
			for j := range want.Values {
				if !sameValue(rec.Values[j], want.Values[j]) {
					b.Fatalf("lookup %d, feature %d: got %v, want %v", i, j, rec.Values[j], want.Values[j])
				}
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Read(ctx, lookups); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*len(lookups))/b.Elapsed().Seconds(), "records/s")
	})
}

// BenchUpdate runs the sub-benchmark "keys=K/bytes=B": one Update of keys
// records of size bytes on s, each replaced by one that differs from it in
// its last byte, as a materialization of tiles replaces them. It creates
// the records first and checks them before timing.
func BenchUpdate(b *testing.B, s online.Store, keys, size int) {
	b.Run(fmt.Sprintf("keys=%d/bytes=%d", keys, size), func(b *testing.B) {
		u, ok := s.(online.Updater)
		if !ok {
			b.Fatalf("store %T is not an online.Updater", s)
		}
		ctx := b.Context()
		view := online.View{Name: "bench_tiles"}
		ids := make([]int64, keys)
		for i := range ids {
			ids[i] = int64(i)
		}
		entities := keysOf(ids...)
		record := strings.Repeat("t", size-1) + "0"
		next := func(i int, old string) (string, error) {
			if old == "" {
				return record, nil
			}
			return old[:size-1] + string('0'+(old[size-1]-'0'+1)%10), nil
		}
		if err := u.Update(ctx, view, entities, next); err != nil {
			b.Fatalf("create fixture: %v", err)
		}
		got, err := online.ReadEncoded(ctx, s, []online.Lookup{{View: &view, Key: entities[0]}, {View: &view, Key: entities[keys-1]}})
		if err != nil {
			b.Fatalf("read fixture: %v", err)
		}
		if got[0] != record || got[1] != record {
			b.Fatalf("fixture: got records of %d and %d bytes, want %d", len(got[0]), len(got[1]), size)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := u.Update(ctx, view, entities, next); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*keys)/b.Elapsed().Seconds(), "keys/s")
	})
}
