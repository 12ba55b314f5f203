package window_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/window"
	"github.com/almanac-fs/almanac/window/windowtest"
)

// TestPushedRowsMatchOracle pushes an entity's rows at a time some of them
// are after, encodes and decodes the set, and evaluates it at that time
// and later ones, before and after settling the pending rows: the values
// are the oracle's over the rows up to each time, so a row pushed ahead
// of its time counts from its time on, not before.
func TestPushedRowsMatchOracle(t *testing.T) {
	for seed := range uint64(500) {
		r := rand.New(rand.NewPCG(seed, 33))
		aggs, features := randomAggregations(r)
		rows := randomRows(r, len(aggs), aggs)[0]
		at := randomTime(r, rows, features)
		set := window.NewSet(features)
		for _, row := range rows {
			set.Push(aggs, row, at)
		}
		c := window.NewCodec(aggs, features)
		rec, err := c.AppendSet(nil, &set)
		if err != nil {
			t.Fatalf("seed %d: AppendSet: %v", seed, err)
		}
		var got window.Set
		if found, err := c.DecodeSet(&got, string(rec)); err != nil || !found {
			t.Fatalf("seed %d: DecodeSet = found %t, %v; want found", seed, found, err)
		}
		if len(got.Pending) != len(set.Pending) {
			t.Fatalf("seed %d: %d pending rows decoded, want %d", seed, len(got.Pending), len(set.Pending))
		}
		times := []time.Time{at, at.Add(time.Millisecond), at.Add(time.Hour), at.Add(3 * day)}
		for _, p := range set.Pending {
			times = append(times, time.UnixMilli(p.At.Time-1), time.UnixMilli(p.At.Time))
		}
		slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
		for _, ts := range times {
			// Settling at each time in turn keeps the tiles up to it.
			for name, s := range map[string]*window.Set{"pending": &got, "settled": &set} {
				if name == "settled" {
					s.Settle(aggs, ts)
				}
				gotValues, gotFound := s.Evaluate(aggs, features, ts)
				wantValues, wantFound := window.Evaluate(rows, aggs, features, ts)
				if gotFound != wantFound {
					t.Fatalf("seed %d, %s, pushed at %s, at %s: found = %t, oracle %t", seed, name, at, ts, gotFound, wantFound)
				}
				if d := windowtest.Diff(features, gotValues, wantValues); d != "" {
					t.Fatalf("seed %d, %s, pushed at %s, at %s: %s (the oracle's is the want)", seed, name, at, ts, d)
				}
				if last, ok := s.Latest(ts); ok != wantFound || ok && last > ts.UnixMilli() {
					t.Fatalf("seed %d, %s at %s: Latest = %d, %t", seed, name, ts, last, ok)
				}
			}
		}
		if len(set.Pending) != 0 {
			t.Fatalf("seed %d: %d rows pending after settling at %s", seed, len(set.Pending), times[len(times)-1])
		}
	}
}

// TestRemember remembers more push ids than a set keeps: the latest
// MaxPushIDs stay, through a round trip of the record, and the others go.
func TestRemember(t *testing.T) {
	aggs, features := codecView()
	set := window.NewSet(features)
	n := window.MaxPushIDs + 5
	for i := range n {
		set.Remember(fmt.Sprintf("push-%d", i))
	}
	set.Remember("push-10") // remembered already: keeps its place
	c := window.NewCodec(aggs, features)
	rec, err := c.AppendSet(nil, &set)
	if err != nil {
		t.Fatal(err)
	}
	var got window.Set
	if found, err := c.DecodeSet(&got, string(rec)); err != nil || !found {
		t.Fatalf("DecodeSet = found %t, %v; want found", found, err)
	}
	for i := range n {
		id := fmt.Sprintf("push-%d", i)
		if got, want := got.Pushed(id), i >= n-window.MaxPushIDs; got != want {
			t.Errorf("Pushed(%q) = %t, want %t", id, got, want)
		}
	}
	if got, want := len(got.Pushes), window.MaxPushIDs; got != want {
		t.Errorf("%d ids remembered, want %d", got, want)
	}
}
