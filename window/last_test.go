package window_test

import (
	"math/rand/v2"
	"testing"

	"github.com/almanac-fs/almanac/window"
)

// TestSetLast checks that a set keeps the latest event time of its rows,
// built at once or merged from two halves in either order, and that a set
// whose latest time is before its earliest does not encode.
func TestSetLast(t *testing.T) {
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 22))
		aggs, features, rows, _ := randomSet(r)
		if len(rows) == 0 {
			continue
		}
		want := rows[0].At.Time
		for _, row := range rows {
			want = max(want, row.At.Time)
		}
		whole := window.Build(aggs, features, rows)
		half := r.IntN(len(rows) + 1)
		a, b := window.Build(aggs, features, rows[:half]), window.Build(aggs, features, rows[half:])
		b.Merge(aggs, &a)
		for _, tt := range []struct {
			name string
			set  window.Set
		}{{"built", whole}, {"merged", b}} {
			if got := tt.set.Last; got != want {
				t.Fatalf("seed %d: %s: Last = %d, want %d", seed, tt.name, got, want)
			}
		}
	}
	aggs, features, rec := codecRecord(t)
	var set window.Set
	c := window.NewCodec(aggs, features)
	if found, err := c.DecodeSet(&set, rec); !found || err != nil {
		t.Fatalf("DecodeSet = %t, %v", found, err)
	}
	set.Last = set.First - 1
	if _, err := c.AppendSet(nil, &set); err == nil {
		t.Fatal("AppendSet of a set whose latest time is before its earliest: no error")
	}
}
