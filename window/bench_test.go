package window_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/values"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/window"
)

// BenchmarkEvaluate evaluates one window feature from an entity's tiles,
// in the shapes of DESIGN §12: a 7d window of 1d hops (8 tiles) at 100
// events a day and a 1h window of 5m hops (13 tiles) at one a minute.
func BenchmarkEvaluate(b *testing.B) {
	shapes := []struct {
		span, hop, every time.Duration
		tiles            int
	}{
		{7 * day, day, day / 100, 8},
		{time.Hour, 5 * time.Minute, time.Minute, 13},
	}
	functions := []struct {
		f   registry.AggFunction
		typ registry.Type
		n   int
	}{
		{registry.AggCount, registry.TypeInt64, 0},
		{registry.AggSum, registry.TypeFloat64, 0},
		{registry.AggMean, registry.TypeFloat64, 0},
		{registry.AggStddev, registry.TypeFloat64, 0},
		{registry.AggMax, registry.TypeFloat64, 0},
		{registry.AggLast, registry.TypeFloat64, 0},
		{registry.AggLastN, registry.ListOf(registry.Float64), 5},
	}
	at := base.Add(10 * day).Add(2*time.Hour + 30*time.Minute)
	for _, s := range shapes {
		for _, fn := range functions {
			name := fmt.Sprintf("window=%s/hop=%s/function=%s", registry.FormatDuration(s.span), registry.FormatDuration(s.hop), fn.f)
			b.Run(name, func(b *testing.B) {
				aggs := []window.Agg{{Function: fn.f, N: fn.n, Type: fn.typ}}
				features := []registry.WindowFeature{{Field: registry.Field{Name: "f", Type: fn.typ}, Window: registry.Window{Span: s.span, Hop: s.hop}}}
				r := rand.New(rand.NewPCG(1, 2))
				start, _ := features[0].Window.Start(at)
				var rows []window.Row
				for ms, seq := start.UnixMilli(), int64(0); ms <= at.UnixMilli(); ms += s.every.Milliseconds() {
					rows = append(rows, window.Row{At: window.Order{Time: ms, Created: window.NoCreated, Seq: seq}, Values: []*almanacv1.Value{values.Float64(r.Float64())}})
					seq++
				}
				set := window.Build(aggs, features, rows)
				if got := len(set.Series[0].Tiles); got != s.tiles {
					b.Fatalf("%d tiles, want %d", got, s.tiles)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, found := set.Evaluate(aggs, features, at); !found {
						b.Fatal("not found")
					}
				}
			})
		}
	}
}
