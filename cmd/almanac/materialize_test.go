package main

import (
	"strings"
	"testing"
)

// TestMaterializeToAFutureEndLeavesIncrementalWorking runs the demo's old
// habit, materialize 2000-01-01 2100-01-01: it says where the watermark
// stops, and materialize-incremental now then runs instead of skipping the
// view as up to date until 2100.
func TestMaterializeToAFutureEndLeavesIncrementalWorking(t *testing.T) {
	dir := initDemo(t)
	mustRun(t, "--repo", dir, "apply", "--yes")
	code, _, errOut := almanac(t, "--repo", dir, "materialize", "2000-01-01", "2100-01-01", "driver_stats", "--offline-only")
	if code != exitOK {
		t.Fatalf("materialize: exit %d\n%s", code, errOut)
	}
	if want := "note: END 2100-01-01 is in the future: the watermarks stop at the time of the run"; !strings.Contains(errOut, want) {
		t.Errorf("materialize: stderr %q, want it to say %q", errOut, want)
	}
	out := mustRun(t, "--repo", dir, "materialize-incremental", "now", "driver_stats", "--offline-only")
	if strings.Contains(out, "skipped") {
		t.Errorf("materialize-incremental now after materializing to 2100 skipped the view:\n%s", out)
	}
}
