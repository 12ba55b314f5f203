package window_test

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/window"
	"github.com/almanac-fs/almanac/window/windowtest"
)

// TestMergeAssociativeCommutative merges three random partials of every
// function in both groupings and both orders: the states are equal for the
// exact functions, the results within 1e-9 for float sums, mean and
// stddev. It also checks that merging leaves its source unchanged.
func TestMergeAssociativeCommutative(t *testing.T) {
	tests := []struct {
		name  string
		agg   window.Agg
		exact bool
	}{
		{"count of rows", window.Agg{Function: registry.AggCount, Rows: true, Type: registry.TypeInt64}, true},
		{"count", window.Agg{Function: registry.AggCount, Type: registry.TypeInt64}, true},
		{"sum of ints", window.Agg{Function: registry.AggSum, Type: registry.TypeInt64}, true},
		{"sum of floats", window.Agg{Function: registry.AggSum, Type: registry.TypeFloat64}, false},
		{"mean", window.Agg{Function: registry.AggMean, Type: registry.TypeFloat64}, false},
		{"stddev", window.Agg{Function: registry.AggStddev, Type: registry.TypeFloat64}, false},
		{"min", window.Agg{Function: registry.AggMin, Type: registry.TypeFloat64}, true},
		{"max", window.Agg{Function: registry.AggMax, Type: registry.TypeString}, true},
		{"last", window.Agg{Function: registry.AggLast, Type: registry.TypeString}, true},
		{"last_n", window.Agg{Function: registry.AggLastN, N: 4, Type: registry.ListOf(registry.String)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range uint64(200) {
				r := rand.New(rand.NewPCG(seed, 8))
				var parts [3]window.Partial
				seq := int64(0)
				for i := range parts {
					for range r.IntN(6) {
						v := randomValue(r, tt.agg)
						// Few distinct times and created times: most rows tie on both.
						at := window.Order{Time: r.Int64N(3), Created: r.Int64N(2), Seq: seq}
						seq++
						tt.agg.Add(&parts[i], v, at)
					}
				}
				a, b, c := &parts[0], &parts[1], &parts[2]
				before := clone(tt.agg, b)

				left := clone(tt.agg, a) // (a+b)+c
				tt.agg.Merge(&left, b)
				tt.agg.Merge(&left, c)
				bc := clone(tt.agg, b) // a+(b+c)
				tt.agg.Merge(&bc, c)
				right := clone(tt.agg, a)
				tt.agg.Merge(&right, &bc)
				swapped := clone(tt.agg, c) // c+(b+a)
				ba := clone(tt.agg, b)
				tt.agg.Merge(&ba, a)
				tt.agg.Merge(&swapped, &ba)

				if !reflect.DeepEqual(*b, before) {
					t.Fatalf("seed %d: merging changed its source: %+v, was %+v", seed, *b, before)
				}
				for name, got := range map[string]*window.Partial{"a+(b+c)": &right, "c+(b+a)": &swapped} {
					if tt.exact && !reflect.DeepEqual(got, &left) {
						t.Fatalf("seed %d: %s = %+v, (a+b)+c = %+v", seed, name, *got, left)
					}
					if g, w := tt.agg.Result(got), tt.agg.Result(&left); !windowtest.Equal(g, w) {
						t.Fatalf("seed %d: %s gives %v, (a+b)+c gives %v", seed, name, g, w)
					}
				}
			}
		})
	}
}

// clone returns a copy of p that shares none of its memory.
func clone(a window.Agg, p *window.Partial) window.Partial {
	var q window.Partial
	a.Merge(&q, p)
	return q
}
