package duck

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestRemoveStale kills a process holding a database, as kill -9 does, and
// checks that the next Open removes the spill directory it left, but not
// one a running database holds nor one of an earlier version.
func TestRemoveStale(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("spill directories are locked with flock")
	}
	tmp := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldDatabase$")
	cmd.Env = append(os.Environ(), "ALMANAC_TEST_SPILL_DIR="+tmp)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatalf("the process holding a database did not open it: %v", err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed := spillDirs(t, tmp)
	if len(killed) != 1 {
		t.Fatalf("spill directories after the kill: %v, want one", killed)
	}

	live := openTest(t, Options{TempDir: tmp})
	old := filepath.Join(tmp, spillPrefix+"123456")
	if err := os.Mkdir(old, 0o755); err != nil {
		t.Fatal(err)
	}
	// All are older than a new directory's grace period.
	long := time.Now().Add(-2 * spillGrace)
	for _, d := range []string{killed[0], live.tmp, old} {
		if err := os.Chtimes(d, long, long); err != nil {
			t.Fatal(err)
		}
	}
	openTest(t, Options{TempDir: tmp})
	if _, err := os.Stat(killed[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the killed process's spill directory %s was not removed (%v)", killed[0], err)
	}
	for _, d := range []string{live.tmp, old} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed: %v", d, err)
		}
	}
}

// TestHoldDatabase is the process TestRemoveStale kills: it opens a
// database, says so and waits.
func TestHoldDatabase(t *testing.T) {
	dir := os.Getenv("ALMANAC_TEST_SPILL_DIR")
	if dir == "" {
		t.Skip("run by TestRemoveStale")
	}
	if _, err := Open(Options{TempDir: dir}); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("open\n")
	time.Sleep(time.Minute)
}

func spillDirs(t *testing.T, dir string) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(dir, spillPrefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}
