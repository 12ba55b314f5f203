package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/duck"
)

// TestDemoServesWindowsAtNow materializes the demo and looks up every
// driver's trip counts, then counts each driver's trips in the raw trip
// files with DESIGN §8's bounds at the lookup's time: [floor(now - w, hop),
// now]. The demo once served these counts as of each driver's last trip,
// wrong for 55 of its 100 drivers.
func TestDemoServesWindowsAtNow(t *testing.T) {
	dir := initDemo(t)
	mustRun(t, "--repo", dir, "apply")
	mustRun(t, "--repo", dir, "materialize-incremental", "now")

	db, err := duck.Open(duck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	trips := duck.Quote(filepath.Join(dir, "data", "trips", "*.parquet"))
	var drivers []int64
	rows, err := db.QueryContext(t.Context(), "SELECT DISTINCT driver_id FROM read_parquet("+trips+") ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var d int64
		if err := rows.Scan(&d); err != nil {
			t.Fatal(err)
		}
		drivers = append(drivers, d)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if len(drivers) < 100 {
		t.Fatalf("%d drivers in the demo's trips, want at least 100", len(drivers))
	}

	windows := []struct {
		feature   string
		span, hop time.Duration
	}{
		{"count_1h", time.Hour, 5 * time.Minute},
		{"count_1d", 24 * time.Hour, time.Hour},
		{"trips_7d", 7 * 24 * time.Hour, time.Hour},
	}
	floor := func(t time.Time, d time.Duration) time.Time { return t.Truncate(d) } // hops divide the epoch evenly
	args := []string{"--repo", dir, "get", "--local", "-o", "json", "--features",
		"driver_trip_activity:count_1h,driver_trip_activity:count_1d,driver_trip_activity:trips_7d"}
	for _, d := range drivers {
		args = append(args, "--entity", fmt.Sprintf("driver_id=%d", d))
	}
	// The lookup's now lies between before and after: retry in the rare
	// case that a window's start moves between them.
	var before, after time.Time
	var out string
	for range 3 {
		before = time.Now().UTC().Truncate(time.Millisecond)
		out = mustRun(t, args...)
		after = time.Now().UTC()
		same := true
		for _, w := range windows {
			same = same && floor(before.Add(-w.span), w.hop).Equal(floor(after.Add(-w.span), w.hop))
		}
		if same {
			break
		}
	}
	var got struct {
		Rows []map[string]struct {
			Value  json.Number `json:"value"`
			Status string      `json:"status"`
		} `json:"rows"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("get -o json: %v\n%s", err, out)
	}
	if len(got.Rows) != len(drivers) {
		t.Fatalf("%d rows from get, want %d", len(got.Rows), len(drivers))
	}

	var later int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM read_parquet("+trips+") WHERE event_ts > ?", before).Scan(&later); err != nil {
		t.Fatal(err)
	}
	if later > 0 {
		t.Fatalf("%d trips end after the lookup; the demo's trips should all lie in the past", later)
	}
	for _, w := range windows {
		start := floor(before.Add(-w.span), w.hop)
		want := map[int64]int64{}
		rows, err := db.QueryContext(t.Context(), "SELECT driver_id, count(*) FROM read_parquet("+trips+") WHERE event_ts >= ? AND event_ts <= ? GROUP BY 1", start, before)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var d, n int64
			if err := rows.Scan(&d, &n); err != nil {
				t.Fatal(err)
			}
			want[d] = n
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		wrong, nonzero := 0, 0
		for i, d := range drivers {
			cell := got.Rows[i][w.feature]
			n, err := cell.Value.Int64()
			if cell.Status != "PRESENT" || err != nil || n != want[d] {
				wrong++
				if wrong <= 5 {
					t.Errorf("driver %d: %s = %s (%s), want %d from the raw trips in [%s, %s]", d, w.feature, cell.Value, cell.Status, want[d], start.Format(time.RFC3339), before.Format(time.RFC3339Nano))
				}
			}
			if want[d] > 0 {
				nonzero++
			}
		}
		t.Logf("%s: %d of %d drivers wrong; %d with trips in the window", w.feature, wrong, len(drivers), nonzero)
		if w.feature == "trips_7d" && nonzero == 0 {
			t.Errorf("no driver has a trip in the last 7 days: the comparison shows nothing")
		}
	}
}
