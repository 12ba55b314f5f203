package online_test

import (
	"database/sql/driver"
	"fmt"
	"testing"

	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// servingShape is a view of 10 features (4 float64, 4 int64, 2 strings),
// the shape of bench/serving, and one row of its values.
func servingShape() (*online.View, []*almanacv1.Value) {
	v := view("serving", registry.TypeFloat64, registry.TypeFloat64, registry.TypeFloat64, registry.TypeFloat64,
		registry.TypeInt64, registry.TypeInt64, registry.TypeInt64, registry.TypeInt64, registry.TypeString, registry.TypeString)
	return v, []*almanacv1.Value{f64(0.25), f64(-1e9), f64(3.5), f64(12),
		i64(7), i64(1 << 40), i64(-3), i64(99_999), str("s_4fzyo82mvyr"), str("amsterdam")}
}

// codecShapes are the views the codec benchmarks run on, with one row each.
func codecShapes() []struct {
	name   string
	view   *online.View
	values []*almanacv1.Value
} {
	sv, svals := servingShape()
	return []struct {
		name   string
		view   *online.View
		values []*almanacv1.Value
	}{
		{"shape=serving", sv, svals},
		{"shape=every_type", allTypes(), allValues()},
	}
}

func BenchmarkAppendRecord(b *testing.B) {
	for _, s := range codecShapes() {
		b.Run(s.name, func(b *testing.B) {
			c := online.NewCodec(s.view)
			buf, err := c.AppendRecord(nil, t0, s.values)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = c.AppendRecord(buf[:0], t0, s.values)
			}
		})
	}
}

func BenchmarkAppendRecordGo(b *testing.B) {
	v, _ := servingShape()
	vals := []driver.Value{0.25, -1e9, 3.5, 12.0, int64(7), int64(1 << 40), int64(-3), int64(99_999), "s_4fzyo82mvyr", "amsterdam"}
	c := online.NewCodec(v)
	buf, err := c.AppendRecordGo(nil, t0, vals)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = c.AppendRecordGo(buf[:0], t0, vals)
	}
}

// encoded returns the codec of view and its record of values.
func encoded(b *testing.B, view *online.View, values []*almanacv1.Value) (*online.Codec, string) {
	c := online.NewCodec(view)
	rec, err := c.AppendRecord(nil, t0, values)
	if err != nil {
		b.Fatal(err)
	}
	return c, string(rec)
}

func BenchmarkDecode(b *testing.B) {
	for _, s := range codecShapes() {
		b.Run(s.name, func(b *testing.B) {
			c, rec := encoded(b, s.view, s.values)
			var d online.Decoder
			if _, err := d.Decode(c, rec); err != nil {
				b.Fatal(err)
			}
			const batch = 100
			b.ReportAllocs()
			for b.Loop() {
				d.Reset()
				for range batch {
					_, _ = d.Decode(c, rec)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/record")
		})
	}
}

func BenchmarkTranscode(b *testing.B) {
	for _, s := range codecShapes() {
		b.Run(s.name, func(b *testing.B) {
			c, rec := encoded(b, s.view, s.values)
			ends := make([]int, len(s.values))
			dst, found, _, err := c.Transcode(nil, rec, ends)
			if err != nil || !found {
				b.Fatal(fmt.Sprint("transcode: ", found, err))
			}
			b.ReportAllocs()
			for b.Loop() {
				dst, _, _, _ = c.Transcode(dst[:0], rec, ends)
			}
		})
	}
}
