package offline

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/duck"
)

// TestMain lets TestFeatureLogFilesSurviveKill run a logging process that
// it kills: the test binary with ALMANAC_TEST_LOG_DIR set logs until killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("ALMANAC_TEST_LOG_DIR"); dir != "" {
		logUntilKilled(dir)
		return
	}
	os.Exit(m.Run())
}

// logUntilKilled logs lookups as fast as it can, rotating files every 50ms.
func logUntilKilled(dir string) {
	log := Open(dir, Options{}).NewFeatureLog(LogOptions{MaxAge: 50 * time.Millisecond, MaxRows: 500})
	fmt.Println("logging")
	for i := 0; ; i++ {
		log.Log(entry(time.Now(), i*10, 10, i%7 == 0))
		time.Sleep(100 * time.Microsecond)
	}
}

// TestFeatureLogFilesSurviveKill kills a process while it writes the log and
// checks that every file it left is complete Parquet that DuckDB reads, and
// that the next log to start removes the hidden files it was writing.
func TestFeatureLogFilesSurviveKill(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ALMANAC_TEST_LOG_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if _, err := out.Read(buf); err != nil {
		t.Fatalf("the logging process did not start: %v", err)
	}
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Kill()
	cmd.Wait()

	files, err := filepath.Glob(filepath.Join(dir, "logs", "ranking", "date=*", "*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("the killed process left no log files")
	}
	db, err := duck.Open(duck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, f := range files {
		var n int64
		if err := db.QueryRow(fmt.Sprintf("SELECT count(*) FROM read_parquet(%s)", duck.Quote(f))).Scan(&n); err != nil {
			t.Errorf("%s is not complete Parquet: %v", filepath.Base(f), err)
		} else if n == 0 {
			t.Errorf("%s is empty", filepath.Base(f))
		}
	}

	hidden := filepath.Join(dir, "logs", "ranking", "date=*", ".part-*.parquet.tmp")
	left, err := filepath.Glob(hidden)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the killed process left %d hidden files", len(left))
	if err := Open(dir, Options{}).NewFeatureLog(LogOptions{}).Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(hidden); len(left) > 0 {
		t.Errorf("hidden files left after the next log started: %q", left)
	}
	if kept, _ := filepath.Glob(filepath.Join(dir, "logs", "ranking", "date=*", "*.parquet")); len(kept) != len(files) {
		t.Errorf("%d complete files after the next log started, want the %d there were", len(kept), len(files))
	}
}
