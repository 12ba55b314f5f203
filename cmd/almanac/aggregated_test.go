package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListAndDescribeAggregatedView(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"almanac.yaml": "project: rides\n",
		"defs.yaml": `kind: Entity
name: driver
join_keys: [{name: driver_id, type: int64}]
---
kind: Source
name: trips
format: push
timestamp_field: event_ts
schema:
  - {name: driver_id, type: int64}
  - {name: event_ts, type: timestamp}
  - {name: fare, type: float64}
---
kind: FeatureView
name: trip_windows
entities: [driver]
source: trips
aggregations:
  - {function: count, windows: [1h, 7d]}
  - {column: fare, function: sum, windows: [7d]}
`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := mustRun(t, "--repo", dir, "plan")
	if want := "features.fare_sum_7d.type = float64"; !strings.Contains(out, want) {
		t.Errorf("plan lacks %q:\n%s", want, out)
	}
	mustRun(t, "--repo", dir, "apply")
	out = mustRun(t, "--repo", dir, "list", "views")
	if want := "3 over 1h,7d  windows"; !strings.Contains(out, want) {
		t.Errorf("list views lacks %q:\n%s", want, out)
	}
	out = mustRun(t, "--repo", dir, "describe", "view", "trip_windows")
	for _, want := range []string{"- function: sum", "#   fare_sum_7d  float64  sum(fare) over 7d, hop 1h"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
}
