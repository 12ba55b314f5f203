package window_test

import (
	"testing"
	"time"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/window"
	"github.com/almanac-fs/almanac/window/windowtest"
)

// TestCases runs every case of testdata through the oracle and through
// tiles (built from the rows up to t, as the stores hold them at t).
func TestCases(t *testing.T) {
	cases, err := windowtest.Load("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			aggs := c.Aggs()
			for _, p := range c.At {
				rows := c.EntityRows(p.Key)
				got, found := window.Evaluate(rows, aggs, c.Features, p.T)
				check(t, "oracle", c, p, got, found)

				var upToT []window.Row
				for _, r := range rows {
					if r.At.Time <= p.T.UnixMilli() {
						upToT = append(upToT, r)
					}
				}
				set := window.Build(aggs, c.Features, upToT)
				got, found = set.Evaluate(aggs, c.Features, p.T)
				check(t, "tiles", c, p, got, found)
			}
		})
	}
}

func check(t *testing.T, how string, c *windowtest.Case, p windowtest.Point, got []*almanacv1.Value, found bool) {
	t.Helper()
	at := p.T.Format(time.RFC3339Nano)
	if found != p.Found {
		t.Errorf("%s: key %d at %s: found = %t, want %t", how, p.Key, at, found, p.Found)
		return
	}
	if d := windowtest.Diff(c.Features, got, p.Want); d != "" {
		t.Errorf("%s: key %d at %s: %s", how, p.Key, at, d)
	}
}
