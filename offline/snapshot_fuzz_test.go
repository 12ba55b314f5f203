package offline

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzReadSnapshot checks that reading a snapshot file never panics
// whatever its bytes, that an unusable one gives ErrCorrupt naming the
// file, in a message of bounded length, and that what reads writes and
// reads again the same, names only files inside the view's directory and
// answers every question readers ask of it.
func FuzzReadSnapshot(f *testing.F) {
	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	good := &Snapshot{
		Version: 1, CreatedAt: t0, TimestampColumn: "event_ts", CreatedColumn: "created_ts",
		Files: []File{
			{Path: "date=2026-11-01/part-0000000001.parquet", Date: "2026-11-01", Rows: 120, Newest: t0.Add(-10 * time.Hour), Columns: "a1b2"},
			{Path: "date=2026-11-02/part-0000000001-1.parquet", Date: "2026-11-02", Rows: 3, Newest: t0},
		},
		Materialized: []Interval{{t0.Add(-48 * time.Hour), t0}, {t0.Add(-72 * time.Hour), t0.Add(-47 * time.Hour)}},
		LastRun:      &Run{Start: t0.Add(-time.Hour), End: t0, RowsWritten: 3, Violations: []Violation{{Feature: "fare", Rule: "min", Rows: 1, Detail: "below 0"}}},
		Appended:     []string{"abc", "def"},
	}
	data, err := json.MarshalIndent(good, "", "  ")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add([]byte(`{"version": 1}`))
	f.Add([]byte(`{"version": 2}`))
	f.Add([]byte(`{"version": 1, "files": [{"path": "../../../etc/passwd", "date": "2026-11-01", "rows": 1}]}`))
	f.Add([]byte(`{"version": 1, "files": [{"path": "date=2026-11-01/p.parquet", "date": "yesterday", "rows": -1}]}`))
	f.Add([]byte(`{"version": 1, "created_at": "9999-12-31T23:59:59.999999999-23:59", "materialized": [{"start": "0000-01-01T00:00:00Z", "end": "0001-01-01T00:00:00+14:00"}]}`))
	f.Add([]byte(`{"version": 1, "created_at": "` + strings.Repeat("2026", 300) + `"}`))
	f.Add([]byte(`{"version": 1, "files": [{"rows": 1` + strings.Repeat("0", 600) + `}]}`))
	f.Add([]byte(`null`))
	f.Add([]byte{})
	viewDir := filepath.Join("store", "views", "driver_stats")
	path := filepath.Join(viewDir, snapshotDir, snapshotName(1))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeSnapshot(path, data, 1)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Fatalf("got error %v, want ErrCorrupt naming %s", err, path)
			}
			if max := len(path) + 500; len(err.Error()) > max {
				t.Fatalf("got an error of %d bytes, want at most %d: %.200s...", len(err.Error()), max, err)
			}
			return
		}
		s.dir = viewDir
		for _, p := range s.Paths() {
			if rel, err := filepath.Rel(viewDir, p); err != nil || !filepath.IsLocal(rel) {
				t.Errorf("snapshot names %s, outside the view's directory %s", p, viewDir)
			}
		}
		s.Rows()
		s.Newest()
		s.Watermark()
		merged := mergeIntervals(s.Materialized)
		for i := 1; i < len(merged); i++ {
			if !merged[i-1].End.Before(merged[i].Start) {
				t.Errorf("merged intervals %v overlap or touch", merged)
			}
		}
		again, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("encode what was read: %v", err)
		}
		s2, err := decodeSnapshot(path, again, 1)
		if err != nil {
			t.Fatalf("read what was written again: %v", err)
		}
		if twice, err := json.Marshal(s2); err != nil || string(twice) != string(again) {
			t.Errorf("read back %s (%v), want %s", twice, err, again)
		}
	})
}

// TestSnapshotRejectsCorruptFiles checks that a view whose current
// snapshot is unusable answers ErrCorrupt naming the snapshot's file
// and what is wrong, instead of naming files outside the view.
func TestSnapshotRejectsCorruptFiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		want string
	}{
		{"not JSON", `{"version": 1, "files": [`, "unexpected end of JSON input"},
		{"other version", `{"version": 7}`, "holds version 7"},
		{"file outside the view", `{"version": 1, "files": [{"path": "../../../../etc/passwd", "date": "2026-11-01", "rows": 1}]}`, `path "../../../../etc/passwd" is not inside the view's directory`},
		{"absolute file", `{"version": 1, "files": [{"path": "/etc/passwd", "date": "2026-11-01", "rows": 1}]}`, "is not inside the view's directory"},
		{"bad date", `{"version": 1, "files": [{"path": "date=2026-11-01/part-1.parquet", "date": "yesterday", "rows": 1}]}`, `date "yesterday" is not YYYY-MM-DD`},
		{"negative rows", `{"version": 1, "files": [{"path": "date=2026-11-01/part-1.parquet", "date": "2026-11-01", "rows": -4}]}`, "-4 rows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := Open(t.TempDir(), Options{})
			path := filepath.Join(store.viewDir("driver_stats"), snapshotDir, snapshotName(1))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(tc.data), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := store.Snapshot("driver_stats")
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %v, want ErrCorrupt naming %s and saying %q", err, path, tc.want)
			}
		})
	}
}
