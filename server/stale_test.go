package server_test

import (
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/servertest"
	"github.com/almanac-fs/almanac/sdk"
)

// TestStaleValuesStayObservable checks, on both backends, that a value
// older than its view's TTL but within its stale retention (the TTL, by
// default) reads OUTSIDE_MAX_AGE with a null value and its event time,
// whether it was materialized already stale or pushed so, and that only a
// value past both reads NOT_FOUND.
func TestStaleValuesStayObservable(t *testing.T) {
	for _, backend := range backends {
		t.Run(string(backend), func(t *testing.T) {
			env := servertest.Start(t, servertest.Options{Backend: backend})
			c := dial(t, env.Addr)
			T := env.Now
			// driver_location: ttl 1h, so stale retention 1h.
			n, err := c.Push(t.Context(), servertest.PushSource, map[string][]any{
				"driver_id": {1001, 1002},
				"event_ts":  {T.Add(-90 * time.Minute), T.Add(-2*time.Hour - time.Second)},
				"lat":       {48.85, 45.76},
				"lon":       {2.35, 4.83},
				"status":    {"available", "on_trip"},
			})
			if err != nil || n != 2 {
				t.Fatalf("push: %d rows, %v; want 2", n, err)
			}
			pushed, err := c.GetOnlineFeatures(t.Context(), sdk.Query{Features: []string{"driver_location:lat"}, Entities: drivers(1001, 1002)})
			if err != nil {
				t.Fatal(err)
			}
			// customer_stats: ttl 24h; customer 502's row, at T-30h, was
			// materialized stale.
			materialized, err := c.GetOnlineFeatures(t.Context(), sdk.Query{Features: []string{"customer_stats:tier"},
				Entities: sdk.Entities{"customer_id": {501, 502, 504}}})
			if err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				name    string
				res     *sdk.Result
				row     int
				feature string
				status  sdk.Status
				at      time.Time
			}{
				{"pushed within the retention", pushed, 0, "lat", sdk.OutsideMaxAge, T.Add(-90 * time.Minute)},
				{"pushed past the retention", pushed, 1, "lat", sdk.NotFound, time.Time{}},
				{"materialized fresh", materialized, 0, "tier", sdk.Present, T.Add(-2 * time.Hour)},
				{"materialized within the retention", materialized, 1, "tier", sdk.OutsideMaxAge, T.Add(-30 * time.Hour)},
				{"never written", materialized, 2, "tier", sdk.NotFound, time.Time{}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					c, err := tt.res.Cell(tt.row, tt.feature)
					if err != nil {
						t.Fatal(err)
					}
					if c.Status != tt.status {
						t.Errorf("status %v, want %v", c.Status, tt.status)
					}
					if (c.Value == nil) != (tt.status != sdk.Present) {
						t.Errorf("value %#v with status %v", c.Value, c.Status)
					}
					if !c.EventTime.Equal(tt.at) {
						t.Errorf("event time %v, want %v", c.EventTime, tt.at)
					}
				})
			}
		})
	}
}
