package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/alert"
	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/offline"
)

// almanac runs the CLI in-process and returns its exit code and output.
func almanac(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := almanac(t, args...)
	if code != exitOK {
		t.Fatalf("almanac %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func initDemo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rides")
	mustRun(t, "init", dir, "--demo")
	return dir
}

func TestDemoPlanApplyCycle(t *testing.T) {
	dir := initDemo(t)
	out := mustRun(t, "--repo", dir, "plan")
	if !strings.Contains(out, "+ feature view driver_stats") || !strings.Contains(out, "0 to change, 0 to remove.") {
		t.Fatalf("first plan does not add the demo's objects:\n%s", out)
	}
	out = mustRun(t, "--repo", dir, "apply")
	if !strings.Contains(out, "Applied: registry version 1") {
		t.Fatalf("apply output:\n%s", out)
	}
	out = mustRun(t, "--repo", dir, "plan")
	if !strings.HasPrefix(out, "No changes") {
		t.Fatalf("plan after apply:\n%s", out)
	}

	// Change one feature's type: plan shows exactly that, apply refuses it.
	file := filepath.Join(dir, "driver_features.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), "type: float32", "type: float64", 1)
	if edited == string(data) {
		t.Fatal("demo driver_features.yaml has no float32 feature to edit")
	}
	if err := os.WriteFile(file, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := almanac(t, "--repo", dir, "plan", "-o", "json")
	if code != exitOK {
		t.Fatalf("plan -o json: exit %d", code)
	}
	var plan struct {
		Changes []struct {
			Name        string `json:"name"`
			Op          string `json:"op"`
			Destructive bool   `json:"destructive"`
			Fields      []struct{ Field, Old, New string }
		} `json:"changes"`
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("plan -o json is not JSON: %v\n%s", err, out)
	}
	if len(plan.Changes) != 1 || len(plan.Changes[0].Fields) != 1 || !plan.Changes[0].Destructive ||
		plan.Changes[0].Fields[0].Old != "float32" || plan.Changes[0].Fields[0].New != "float64" {
		t.Fatalf("plan after a type change = %+v, want one destructive float32 -> float64 change", plan.Changes)
	}
	code, _, errOut := almanac(t, "--repo", dir, "apply")
	if code != exitError || !strings.Contains(errOut, "--yes") {
		t.Fatalf("apply of a destructive change: exit %d, stderr %q; want exit 1 asking for --yes", code, errOut)
	}
	out = mustRun(t, "--repo", dir, "apply", "--yes")
	if !strings.Contains(out, "registry version 2") {
		t.Fatalf("apply --yes:\n%s", out)
	}
	out = mustRun(t, "--repo", dir, "registry", "history", "-o", "json")
	var hist []struct {
		Version int64 `json:"version"`
	}
	if err := json.Unmarshal([]byte(out), &hist); err != nil || len(hist) != 2 {
		t.Fatalf("registry history -o json: %v\n%s", err, out)
	}
}

func TestInvalidRepositoryWritesNothing(t *testing.T) {
	dir := initDemo(t)
	mustRun(t, "--repo", dir, "apply")
	regDir := filepath.Join(dir, ".almanac", "registry")
	before := snapshot(t, regDir)
	bad := "kind: FeatureView\nname: broken\nentities: [nobody]\nsource: trips\nfeatures: [{name: x, type: float}]\n"
	if err := os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := almanac(t, "--repo", dir, "apply", "--yes")
	if code != exitError {
		t.Fatalf("apply of an invalid repository: exit %d, want %d", code, exitError)
	}
	for _, want := range []string{`broken.yaml:3: feature view "broken": entity "nobody" not found`, `broken.yaml:5: feature view "broken": feature "x": unknown type "float"`, "nothing was written"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if after := snapshot(t, regDir); after != before {
		t.Fatal("an invalid repository changed the stored registry")
	}
}

func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(e.Name() + "\n" + string(data) + "\n")
	}
	return b.String()
}

func TestListAndDescribe(t *testing.T) {
	dir := initDemo(t)
	code, _, errOut := almanac(t, "--repo", dir, "list", "views")
	if code != exitError || !strings.Contains(errOut, "almanac apply") {
		t.Fatalf("list before apply: exit %d, %q; want an error pointing at apply", code, errOut)
	}
	mustRun(t, "--repo", dir, "apply")
	out := mustRun(t, "--repo", dir, "list", "views")
	if !strings.HasPrefix(out, "NAME") || !strings.Contains(out, "driver_stats") {
		t.Fatalf("list views:\n%s", out)
	}
	out = mustRun(t, "--repo", dir, "list", "entities", "-o", "json")
	var entities []struct {
		Name     string                        `json:"name"`
		JoinKeys []struct{ Name, Type string } `json:"join_keys"`
	}
	if err := json.Unmarshal([]byte(out), &entities); err != nil {
		t.Fatalf("list entities -o json: %v\n%s", err, out)
	}
	if len(entities) != 2 || entities[0].JoinKeys[0].Type != "int64" {
		t.Fatalf("entities = %+v", entities)
	}
	out = mustRun(t, "--repo", dir, "describe", "view", "driver_stats")
	if !strings.Contains(out, "kind: FeatureView") || !strings.Contains(out, "name: conv_rate") {
		t.Fatalf("describe view:\n%s", out)
	}
	code, _, errOut = almanac(t, "--repo", dir, "describe", "view", "nope")
	if code != exitError || !strings.Contains(errOut, `"nope"`) {
		t.Fatalf("describe of a missing view: exit %d, %q", code, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"unknown command", []string{"frobnicate"}},
		{"unknown flag", []string{"plan", "--frob"}},
		{"missing argument", []string{"init"}},
		{"extra argument", []string{"plan", "x"}},
		{"bad output format", []string{"plan", "-o", "xml"}},
		{"bad kind", []string{"list", "widgets"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--repo", t.TempDir()}, tc.args...)
			if code, _, errOut := almanac(t, args...); code != exitUsage {
				t.Errorf("exit %d, want %d (stderr %q)", code, exitUsage, errOut)
			}
		})
	}
}

func TestRepoFromEnvironment(t *testing.T) {
	dir := initDemo(t)
	t.Setenv("ALMANAC_REPO", dir)
	if out := mustRun(t, "plan"); !strings.Contains(out, "+ entity driver") {
		t.Fatalf("plan with ALMANAC_REPO:\n%s", out)
	}
}

func TestMaterializeAndExport(t *testing.T) {
	dir := initDemo(t)
	mustRun(t, "--repo", dir, "apply")
	out := mustRun(t, "--repo", dir, "materialize-incremental", "now", "-o", "json")
	var results []struct {
		View        string `json:"view"`
		RowsWritten int64  `json:"rows_written"`
		Skipped     string `json:"skipped"`
	}
	if err := json.Unmarshal([]byte(out), &results); err != nil {
		t.Fatalf("materialize -o json: %v\n%s", err, out)
	}
	written := map[string]int64{}
	for _, r := range results {
		written[r.View] = r.RowsWritten
	}
	if written["driver_stats"] == 0 || written["driver_trip_activity"] == 0 {
		t.Fatalf("materialize wrote nothing for the demo's views: %+v", results)
	}
	out = mustRun(t, "--repo", dir, "materialize-incremental", "now", "-o", "json")
	if err := json.Unmarshal([]byte(out), &results); err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.RowsWritten != 0 {
			t.Errorf("second incremental run wrote %d rows to %s, want 0", r.RowsWritten, r.View)
		}
	}

	labels := filepath.Join(dir, "data", "labels", "trip_outcomes.parquet")
	train := filepath.Join(t.TempDir(), "train.parquet")
	out = mustRun(t, "--repo", dir, "export", "--service", "trip_pricing_v1", "--entities", labels, "--out", train, "--dataset", "pricing", "-o", "json")
	var res struct {
		Rows    int64    `json:"rows"`
		Columns []string `json:"columns"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("export -o json: %v\n%s", err, out)
	}
	if res.Rows == 0 || !slices.Contains(res.Columns, "conv_rate") || !slices.Contains(res.Columns, "tipped") {
		t.Fatalf("export result = %+v", res)
	}
	out = mustRun(t, "--repo", dir, "list", "datasets", "-o", "json")
	var datasets []struct {
		Name     string `json:"name"`
		RowCount int64  `json:"row_count"`
	}
	if err := json.Unmarshal([]byte(out), &datasets); err != nil || len(datasets) != 1 || datasets[0].RowCount != res.Rows {
		t.Fatalf("list datasets after export: %v\n%s", err, out)
	}
	code, _, errOut := almanac(t, "--repo", dir, "export", "--service", "trip_pricing_v1", "--entities", labels, "--out", train, "--dataset", "pricing")
	if code != exitError || !strings.Contains(errOut, "--force") {
		t.Fatalf("export to an existing dataset name: exit %d, %q", code, errOut)
	}
	code, _, _ = almanac(t, "--repo", dir, "export", "--entities", labels, "--out", train)
	if code != exitUsage {
		t.Fatalf("export without features: exit %d, want %d", code, exitUsage)
	}
}

func TestGetAndPushLocal(t *testing.T) {
	dir := initDemo(t)
	mustRun(t, "--repo", dir, "apply")
	mustRun(t, "--repo", dir, "materialize-incremental", "now")
	type cell struct {
		Value  any    `json:"value"`
		Status string `json:"status"`
	}
	get := func(args ...string) []map[string]cell {
		t.Helper()
		out := mustRun(t, append([]string{"--repo", dir, "get", "--local", "-o", "json"}, args...)...)
		var res struct {
			Rows []map[string]cell `json:"rows"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("get -o json: %v\n%s", err, out)
		}
		return res.Rows
	}
	rows := get("--service", "driver_ranking_v1", "--entity", "driver_id=1001", "--entity", "driver_id=424242")
	if len(rows) != 2 || rows[0]["conv_rate"].Status != "PRESENT" || rows[1]["conv_rate"].Status != "NOT_FOUND" {
		t.Fatalf("get: %+v; want conv_rate PRESENT for 1001 and NOT_FOUND for 424242", rows)
	}

	now := time.Now().UTC().Format(time.RFC3339)
	file := filepath.Join(t.TempDir(), "loc.jsonl")
	line := fmt.Sprintf(`{"driver_id": 1001, "event_ts": %q, "lat": 41.15, "lon": -8.61, "status": "available"}`+"\n", now)
	if err := os.WriteFile(file, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, "--repo", dir, "push", "--local", "--source", "driver_location", "--file", file); !strings.Contains(out, "Pushed 1 of 1 rows") {
		t.Fatalf("push: %s", out)
	}
	rows = get("--features", "driver_location:status,driver_location:lat", "--entity", "driver_id=1001")
	if rows[0]["status"].Status != "PRESENT" || rows[0]["status"].Value != "available" || rows[0]["lat"].Value != 41.15 {
		t.Fatalf("pushed row not served: %+v", rows)
	}
	code, _, errOut := almanac(t, "--repo", dir, "push", "--local", "--source", "trips", "--file", file)
	if code != exitError || !strings.Contains(errOut, "not a push source") {
		t.Fatalf("push to a file source: exit %d, %q", code, errOut)
	}

	// A file of 20 rows goes in batches of 7; pushing it again stores
	// nothing twice.
	var many strings.Builder
	for i := range 20 {
		fmt.Fprintf(&many, `{"driver_id": %d, "event_ts": %q, "lat": %d, "lon": 0, "status": "available"}`+"\n", 2000+i, now, i)
	}
	if err := os.WriteFile(file, []byte(many.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	history := func() int64 {
		t.Helper()
		snap, err := offline.Open(filepath.Join(dir, ".almanac", "offline"), offline.Options{}).Snapshot("driver_location")
		if err != nil {
			t.Fatal(err)
		}
		return snap.Rows()
	}
	before := history()
	for range 2 {
		var res struct{ Rows, Written, Batches int }
		out := mustRun(t, "--repo", dir, "push", "--local", "--source", "driver_location", "--file", file, "--batch-rows", "7", "-o", "json")
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.Rows != 20 || res.Written != 20 || res.Batches != 3 {
			t.Fatalf("push -o json: %+v, %v, want 20 rows written in 3 batches\n%s", res, err, out)
		}
		if got := history() - before; got != 20 {
			t.Errorf("offline history gained %d rows, want 20", got)
		}
	}
	rows = get("--features", "driver_location:lat", "--entity", "driver_id=2019")
	if rows[0]["lat"].Value != 19.0 {
		t.Errorf("lat of driver 2019 after the batched push: %+v, want 19", rows[0])
	}
}

func TestMaterializeStrictAlerts(t *testing.T) {
	dir := initDemo(t)
	file := filepath.Join(dir, "driver_features.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), "conv_rate: {min: 0, max: 1}", "conv_rate: {min: 0, max: 0.5}", 1)
	if edited == string(data) {
		t.Fatal("the demo has no conv_rate expectation to tighten")
	}
	if err := os.WriteFile(file, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "--repo", dir, "apply")
	got := make(chan alert.Alert, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a alert.Alert
		json.NewDecoder(r.Body).Decode(&a)
		got <- a
	}))
	defer hook.Close()
	code, _, errOut := almanac(t, "--repo", dir, "materialize-incremental", "now", "driver_stats", "--strict", "--alert-webhook", hook.URL)
	if code != exitError || !strings.Contains(errOut, "expectation broken: driver_stats:conv_rate max:") {
		t.Fatalf("strict materialize: exit %d\n%s", code, errOut)
	}
	select {
	case a := <-got:
		if a.Kind != "data_quality" || !strings.Contains(a.Summary, "1 feature view") {
			t.Errorf("webhook got %+v", a)
		}
	default:
		t.Fatal("no alert reached the webhook")
	}
	if _, err := os.Stat(filepath.Join(dir, ".almanac", "offline", "views", "driver_stats", "_snapshots")); err == nil {
		entries, _ := os.ReadDir(filepath.Join(dir, ".almanac", "offline", "views", "driver_stats", "_snapshots"))
		if len(entries) > 0 {
			t.Fatal("a strict run with broken expectations committed history")
		}
	}
}

func TestDriftCommand(t *testing.T) {
	dir := initDemo(t)
	mustRun(t, "--repo", dir, "apply")
	mustRun(t, "--repo", dir, "materialize-incremental", "now")
	train := filepath.Join(t.TempDir(), "train.parquet")
	mustRun(t, "--repo", dir, "export", "--service", "trip_pricing_v1", "--entities", filepath.Join(dir, "data", "labels", "trip_outcomes.parquet"),
		"--out", train, "--dataset", "pricing")

	// The training set against itself: nothing drifts.
	out := mustRun(t, "--repo", dir, "drift", "--dataset", "pricing", "--current", train, "--fail-on-drift")
	if !strings.Contains(out, "0 of 8 features drifted") {
		t.Fatalf("drift of the training set against itself:\n%s", out)
	}

	// conv_rate shifted: exactly it drifts, and --fail-on-drift exits 3.
	db, err := duck.Open(duck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	shifted := filepath.Join(t.TempDir(), "shifted.parquet")
	if _, err := db.Exec(fmt.Sprintf("COPY (SELECT * REPLACE (conv_rate - 0.35 AS conv_rate) FROM read_parquet(%s)) TO %s (FORMAT parquet)", duck.Quote(train), duck.Quote(shifted))); err != nil {
		t.Fatal(err)
	}
	code, out, _ := almanac(t, "--repo", dir, "drift", "--dataset", "pricing", "--current", shifted, "--fail-on-drift", "-o", "json")
	if code != exitDrift {
		t.Fatalf("drift --fail-on-drift with a shifted feature: exit %d, want %d", code, exitDrift)
	}
	var report struct {
		Features []struct {
			Feature string `json:"feature"`
			Status  string `json:"status"`
		} `json:"features"`
		Drifted int `json:"drifted"`
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("drift -o json: %v\n%s", err, out)
	}
	for _, f := range report.Features {
		if (f.Status == "drift") != (f.Feature == "driver_stats:conv_rate") {
			t.Errorf("%s: %s", f.Feature, f.Status)
		}
	}
	if report.Drifted != 1 {
		t.Errorf("drifted = %d, want 1", report.Drifted)
	}
	html := filepath.Join(t.TempDir(), "report.html")
	mustRun(t, "--repo", dir, "drift", "--dataset", "pricing", "--current", shifted, "-o", "html", "--out", html)
	if data, err := os.ReadFile(html); err != nil || !strings.Contains(string(data), "driver_stats:conv_rate") {
		t.Fatalf("html report: %v", err)
	}
	code, _, errOut := almanac(t, "--repo", dir, "drift", "--dataset", "nope", "--current", shifted)
	if code != exitError || !strings.Contains(errOut, `dataset "nope" not found`) {
		t.Fatalf("drift of an unknown dataset: exit %d, %q", code, errOut)
	}
}
