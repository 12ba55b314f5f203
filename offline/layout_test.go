package offline

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestLayout checks where the store keeps what it holds besides feature
// history: the places existing stores already use, so that they keep
// working.
func TestLayout(t *testing.T) {
	dir := t.TempDir()
	store := Open(dir, Options{})
	for _, tc := range []struct {
		name string
		got  string
		want string // relative to the store's directory
	}{
		{"profile of a dataset", store.ProfilePath("ranking_train"), "datasets/ranking_train/profile.json"},
		{"drift report of a dataset", store.DriftReportPath("ranking_train"), "drift/ranking_train.json"},
		{"logged lookups of a service", store.LogDir("driver_ranking_v1"), "logs/driver_ranking_v1"},
		{"dead letters of a source", store.DeadLetterDir("trip_events"), "dead_letters/trip_events"},
		{"history of a view", store.viewDir("driver_stats"), "views/driver_stats"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if want := filepath.Join(dir, filepath.FromSlash(tc.want)); tc.got != want {
				t.Errorf("got %s, want %s", tc.got, want)
			}
		})
	}
}

// TestDriftReportPaths checks that the reports listed are those kept, and
// only those.
func TestDriftReportPaths(t *testing.T) {
	dir := t.TempDir()
	store := Open(dir, Options{})
	if got, err := store.DriftReportPaths(); err != nil || len(got) != 0 {
		t.Fatalf("before any report: got %v, %v, want none", got, err)
	}
	for _, name := range []string{"drift/b.json", "drift/a.json", "drift/notes.txt", "datasets/c/profile.json"} {
		writeFile(t, filepath.Join(dir, name))
	}
	got, err := store.DriftReportPaths()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{store.DriftReportPath("a"), store.DriftReportPath("b")}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestLogFiles checks which files of a service's logged lookups a window
// selects: the complete files of the dates it overlaps, oldest first.
func TestLogFiles(t *testing.T) {
	dir := t.TempDir()
	store := Open(dir, Options{})
	for _, name := range []string{
		"ranking/date=2026-05-01/part-1777593600000-1.parquet",
		"ranking/date=2026-05-01/part-1777593600000-2.parquet",
		"ranking/date=2026-05-01/.part-1777593600000-3.parquet.tmp", // being written
		"ranking/date=2026-05-01/notes.txt",
		"ranking/date=2026-05-02/part-1777680000000-1.parquet",
		"ranking/date=2026-05-03/part-1777766400000-1.parquet",
		"ranking/date=latest/part-1777766400000-2.parquet",
		"dispatch/date=2026-05-02/part-1777680000000-1.parquet",
	} {
		writeFile(t, filepath.Join(store.logsDir(), name))
	}
	day := func(d int) time.Time { return time.Date(2026, 5, d, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name       string
		service    string
		start, end time.Time
		want       []string // relative to the logs directory
	}{
		{"every day", "ranking", time.Time{}, time.Time{}, []string{
			"ranking/date=2026-05-01/part-1777593600000-1.parquet",
			"ranking/date=2026-05-01/part-1777593600000-2.parquet",
			"ranking/date=2026-05-02/part-1777680000000-1.parquet",
			"ranking/date=2026-05-03/part-1777766400000-1.parquet",
		}},
		{"one whole day", "ranking", day(2), day(3), []string{"ranking/date=2026-05-02/part-1777680000000-1.parquet"}},
		{"hours across midnight", "ranking", day(1).Add(20 * time.Hour), day(2).Add(time.Hour), []string{
			"ranking/date=2026-05-01/part-1777593600000-1.parquet",
			"ranking/date=2026-05-01/part-1777593600000-2.parquet",
			"ranking/date=2026-05-02/part-1777680000000-1.parquet",
		}},
		{"from a day on", "ranking", day(3), time.Time{}, []string{"ranking/date=2026-05-03/part-1777766400000-1.parquet"}},
		{"dates are UTC", "ranking", time.Date(2026, 5, 2, 8, 0, 0, 0, time.FixedZone("UTC+10", 10*3600)), day(2), []string{
			"ranking/date=2026-05-01/part-1777593600000-1.parquet",
			"ranking/date=2026-05-01/part-1777593600000-2.parquet",
		}},
		{"days without files", "ranking", day(10), day(12), nil},
		{"another service", "dispatch", time.Time{}, time.Time{}, []string{"dispatch/date=2026-05-02/part-1777680000000-1.parquet"}},
		{"service that logged nothing", "pricing", time.Time{}, time.Time{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, err := store.LogFiles(tc.service, tc.start, tc.end)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range files {
				rel, err := filepath.Rel(store.logsDir(), f.Path)
				if err != nil {
					t.Fatal(err)
				}
				if want := "date=" + f.Date; filepath.Base(filepath.Dir(f.Path)) != want {
					t.Errorf("%s: got date %s, want the partition's, %s", rel, f.Date, want)
				}
				got = append(got, filepath.ToSlash(rel))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// writeFile creates an empty file at path, with its directories.
func writeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}
