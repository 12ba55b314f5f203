package offline

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestFeatureLogRemovesStaleTempFiles checks that a log starting on a
// directory removes the hidden files that logs killed while writing them
// left, and nothing else: not the hidden file a live log holds locked,
// nor files of other names or outside the logs directory.
func TestFeatureLogRemovesStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	day := filepath.Join("logs", "ranking", "date=2026-11-02")
	for _, tc := range []struct {
		name     string
		path     string
		data     string
		locked   bool // held by a live log
		wantKept bool
	}{
		{"empty hidden file", filepath.Join(day, ".part-1793577600000-1.parquet.tmp"), "", false, false},
		{"hidden file with rows", filepath.Join(day, ".part-1793577600000-2.parquet.tmp"), "PAR1 half a file", false, false},
		{"hidden file of another service and day", filepath.Join("logs", "dispatch", "date=2026-11-01", ".part-1793491200000-7.parquet.tmp"), "", false, false},
		{"hidden file of a live log", filepath.Join(day, ".part-1793577600000-3.parquet.tmp"), "PAR1", true, true},
		{"complete file", filepath.Join(day, "part-1793577600000-1.parquet"), "PAR1 whole PAR1", false, true},
		{"hidden file without .tmp", filepath.Join(day, ".part-1793577600000-4.parquet"), "", false, true},
		{"other temporary file", filepath.Join(day, "notes.tmp"), "", false, true},
		{"other name", filepath.Join(day, ".part-latest-1.parquet.tmp"), "", false, true},
		{"outside the logs", filepath.Join("views", "driver_stats", ".part-1793577600000-1.parquet.tmp"), "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.path)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(tc.data), 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.locked {
				f, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
					t.Fatal(err)
				}
			}
			if err := Open(dir, Options{}).NewFeatureLog(LogOptions{}).Close(); err != nil {
				t.Fatal(err)
			}
			_, err := os.Stat(path)
			switch {
			case tc.wantKept && err != nil:
				t.Errorf("%s was removed: %v", tc.path, err)
			case !tc.wantKept && !errors.Is(err, fs.ErrNotExist):
				t.Errorf("%s was kept: %v", tc.path, err)
			}
		})
	}
}
