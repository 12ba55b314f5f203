package window_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/almanac-fs/almanac/internal/values"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/window"
	"github.com/almanac-fs/almanac/window/windowtest"
)

// randomSet returns random aggregations, their features, an entity's rows
// and the time after the last of them, and the set of the rows up to that
// time, trimmed there or not.
func randomSet(r *rand.Rand) ([]window.Agg, []registry.WindowFeature, window.Set, time.Time) {
	aggs, features := randomAggregations(r)
	rows := randomRows(r, len(aggs), aggs)[r.IntN(3)]
	now := randomTime(r, rows, features)
	var upToNow []window.Row
	for _, row := range rows {
		if row.At.Time <= now.UnixMilli() {
			upToNow = append(upToNow, row)
		}
	}
	set := window.Build(aggs, features, upToNow)
	if r.IntN(2) == 0 {
		set.Trim(features, now)
	}
	return aggs, features, set, now
}

// TestSetRoundTrip encodes random sets and decodes them: the decoded set
// has the fields of the set and gives the same values.
func TestSetRoundTrip(t *testing.T) {
	for seed := range uint64(500) {
		r := rand.New(rand.NewPCG(seed, 21))
		aggs, features, set, now := randomSet(r)
		c := window.NewCodec(aggs, features)
		rec, err := c.AppendSet(nil, &set)
		if err != nil {
			t.Fatalf("seed %d: AppendSet: %v", seed, err)
		}
		got, found, err := c.DecodeSet(string(rec))
		if err != nil || !found {
			t.Fatalf("seed %d: DecodeSet = found %t, %v; want found", seed, found, err)
		}
		if d := diffSets(&got, &set); d != "" {
			t.Fatalf("seed %d: decoded set differs: %s", seed, d)
		}
		for _, at := range []time.Time{now, now.Add(time.Hour), now.Add(8 * day)} {
			gotValues, gotFound := got.Evaluate(aggs, features, at)
			wantValues, wantFound := set.Evaluate(aggs, features, at)
			if gotFound != wantFound {
				t.Fatalf("seed %d at %s: found = %t, want %t", seed, at, gotFound, wantFound)
			}
			if d := windowtest.Diff(features, gotValues, wantValues); d != "" {
				t.Fatalf("seed %d at %s: %s", seed, at, d)
			}
		}
	}
}

// diffSets says how got differs from want, field by field; "" when they
// are equal. A series with no tiles equals a missing one.
func diffSets(got, want *window.Set) string {
	if got.Rows != want.Rows || (want.Rows > 0 && got.First != want.First) {
		return fmt.Sprintf("rows %d first %d, want rows %d first %d", got.Rows, got.First, want.Rows, want.First)
	}
	tiles := func(s *window.Set, agg int, hop int64) []window.Tile {
		for _, x := range s.Series {
			if x.Aggregation == agg && x.Hop == hop {
				return x.Tiles
			}
		}
		return nil
	}
	for _, x := range append(append([]window.Series(nil), want.Series...), got.Series...) {
		g, w := tiles(got, x.Aggregation, x.Hop), tiles(want, x.Aggregation, x.Hop)
		if len(g) != len(w) {
			return fmt.Sprintf("aggregation %d hop %d: %d tiles, want %d", x.Aggregation, x.Hop, len(g), len(w))
		}
		for i := range g {
			if d := diffPartials(&g[i].Partial, &w[i].Partial); d != "" || g[i].Start != w[i].Start {
				return fmt.Sprintf("aggregation %d hop %d tile %d: start %d, want %d: %s", x.Aggregation, x.Hop, i, g[i].Start, w[i].Start, d)
			}
		}
	}
	return ""
}

func diffPartials(got, want *window.Partial) string {
	g, w := *got, *want
	if !proto.Equal(g.Value, w.Value) {
		return fmt.Sprintf("value %v, want %v", g.Value, w.Value)
	}
	if len(g.Recent) != len(w.Recent) {
		return fmt.Sprintf("%d recent, want %d", len(g.Recent), len(w.Recent))
	}
	for i := range g.Recent {
		if !proto.Equal(g.Recent[i].Value, w.Recent[i].Value) || g.Recent[i].At != w.Recent[i].At {
			return fmt.Sprintf("recent %d: %v at %+v, want %v at %+v", i, g.Recent[i].Value, g.Recent[i].At, w.Recent[i].Value, w.Recent[i].At)
		}
	}
	g.Value, w.Value, g.Recent, w.Recent = nil, nil, nil, nil
	if !reflect.DeepEqual(g, w) {
		return fmt.Sprintf("%+v, want %+v", g, w)
	}
	return ""
}

// TestDecodeSetRefuses decodes records that are not a set of the codec's
// view: written for another definition (none, no error), or malformed (an
// error wrapping ErrCorrupt).
func TestDecodeSetRefuses(t *testing.T) {
	aggs, features, rec := codecRecord(t)
	tests := []struct {
		name    string
		aggs    []window.Agg
		rec     string
		corrupt string // "" for none found without an error
	}{
		{"another function", replaceAgg(aggs, 1, window.Agg{Function: registry.AggMean, Type: registry.TypeFloat64}), rec, ""},
		{"another column type", replaceAgg(aggs, 1, window.Agg{Function: registry.AggSum, Type: registry.TypeInt64}), rec, ""},
		{"another n", replaceAgg(aggs, 3, window.Agg{Function: registry.AggLastN, N: 2, Type: registry.ListOf(registry.String)}), rec, ""},
		{"a plain record", aggs, "\x01" + rec[1:], "version 1"},
		{"short", aggs, rec[:10], "shorter than"},
		{"truncated", aggs, rec[:len(rec)-1], "at byte"},
		{"trailing bytes", aggs, rec + "\x00", "1 bytes left over"},
		{"rows below a count", aggs, rec[:13] + "\x00" + rec[14:], "above the set's 0 rows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found, err := window.NewCodec(tt.aggs, features).DecodeSet(tt.rec)
			if tt.corrupt == "" {
				if err != nil || found {
					t.Fatalf("got found %t, %v; want none, no error", found, err)
				}
				return
			}
			if !errors.Is(err, window.ErrCorrupt) || !strings.Contains(err.Error(), tt.corrupt) {
				t.Fatalf("got %+v, found %t, %v; want ErrCorrupt saying %q", got, found, err, tt.corrupt)
			}
		})
	}
	t.Run("another hop", func(t *testing.T) {
		other := append([]registry.WindowFeature(nil), features...)
		other[0].Window.Hop = 10 * time.Minute
		if _, found, err := window.NewCodec(aggs, other).DecodeSet(rec); err != nil || found {
			t.Fatalf("got found %t, %v; want none, no error", found, err)
		}
	})
}

func replaceAgg(aggs []window.Agg, i int, a window.Agg) []window.Agg {
	out := append([]window.Agg(nil), aggs...)
	out[i] = a
	return out
}

// codecView returns the aggregations of a view with count, sum and mean of
// a float64, last_n (n 3) and last of a string, over 1h, 1d and 7d windows,
// and its features.
func codecView() ([]window.Agg, []registry.WindowFeature) {
	defs := []struct {
		a   registry.Aggregation
		col registry.Type
	}{
		{registry.Aggregation{Function: registry.AggCount}, registry.Type{}},
		{registry.Aggregation{Function: registry.AggSum, Column: "fare"}, registry.TypeFloat64},
		{registry.Aggregation{Function: registry.AggMean, Column: "fare"}, registry.TypeFloat64},
		{registry.Aggregation{Function: registry.AggLastN, Column: "zone", N: 3}, registry.TypeString},
		{registry.Aggregation{Function: registry.AggLast, Column: "zone"}, registry.TypeString},
	}
	var aggs []registry.Aggregation
	var features []registry.WindowFeature
	for i, d := range defs {
		d.a.Windows = []time.Duration{time.Hour, day, 7 * day}
		fs, err := d.a.Features(i, d.col, 0)
		if err != nil {
			panic(err)
		}
		aggs = append(aggs, d.a)
		features = append(features, fs...)
	}
	return window.Aggs(aggs, features), features
}

// codecRecord returns codecView's view and the record of one row of it.
func codecRecord(t testing.TB) ([]window.Agg, []registry.WindowFeature, string) {
	t.Helper()
	aggs, features := codecView()
	row := window.Row{At: window.Order{Time: base.UnixMilli(), Created: window.NoCreated}, Values: []*almanacv1.Value{nil, values.Float64(2.5), values.Float64(2.5), values.String("a"), values.String("a")}}
	set := window.Build(aggs, features, []window.Row{row})
	rec, err := window.NewCodec(aggs, features).AppendSet(nil, &set)
	if err != nil {
		t.Fatal(err)
	}
	return aggs, features, string(rec)
}
