package server_test

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/almanac-fs/almanac/internal/servertest"
	"github.com/almanac-fs/almanac/internal/values"
	"github.com/almanac-fs/almanac/sdk"
)

// TestLookupColumns checks that each column of a lookup whose features
// interleave views, repeat features and expand whole views holds, in every
// entity row, what a lookup of that feature alone holds: each column reads
// the right field of the right record.
func TestLookupColumns(t *testing.T) {
	env := servertest.Start(t, servertest.Options{})
	c := dial(t, env.Addr)
	ents := sdk.Entities{
		"driver_id":   {int64(1001), int64(1002), int64(1003), int64(1005), int64(1001)},
		"customer_id": {int64(503), int64(501), int64(502), int64(501), int64(504)},
	}
	refs := []string{
		"customer_stats:tier", "driver_stats:trips", "driver_embedding:embedding", "driver_stats:conv_rate",
		"customer_stats", "driver_stats:trips", "driver_profile:tags", "driver_stats:city",
	}
	res, err := c.GetOnlineFeatures(t.Context(), sdk.Query{Features: refs, Entities: ents, FullNames: true})
	if err != nil {
		t.Fatal(err)
	}
	alone := map[string]string{
		"customer_stats__tier":        "customer_stats:tier",
		"driver_stats__trips":         "driver_stats:trips",
		"driver_embedding__embedding": "driver_embedding:embedding",
		"driver_stats__conv_rate":     "driver_stats:conv_rate",
		"customer_stats__conv_rate":   "customer_stats:conv_rate",
		"driver_profile__tags":        "driver_profile:tags",
		"driver_stats__city":          "driver_stats:city",
	}
	want := []string{"customer_id", "driver_id", "customer_stats__tier", "driver_stats__trips", "driver_embedding__embedding", "driver_stats__conv_rate", "customer_stats__conv_rate", "driver_profile__tags", "driver_stats__city"}
	if got := res.Names(); !slices.Equal(got, want) {
		t.Fatalf("names %q, want %q", got, want)
	}
	present := 0
	for _, name := range want[2:] {
		one, err := c.GetOnlineFeatures(t.Context(), sdk.Query{Features: []string{alone[name]}, Entities: ents, FullNames: true})
		if err != nil {
			t.Fatal(err)
		}
		for row := range res.Len() {
			got, gotSt, gotAt := wire(t, res, row, name)
			exp, wantSt, wantAt := wire(t, one, row, name)
			if !proto.Equal(got, exp) || gotSt != wantSt || !gotAt.Equal(wantAt) {
				t.Errorf("row %d %s: %v %v at %v, want %v %v at %v as looked up alone", row, name, values.Describe(got), gotSt, gotAt, values.Describe(exp), wantSt, wantAt)
			}
			if gotSt == sdk.Present {
				present++
			}
		}
	}
	// The fixture's values differ from row to row and view to view, so a
	// column reading the wrong record or field differs from its lookup
	// alone, provided the cells compared are mostly found.
	if cells := len(want[2:]) * res.Len(); 2*present < cells {
		t.Errorf("%d of %d cells PRESENT, want at least half", present, cells)
	}
}
