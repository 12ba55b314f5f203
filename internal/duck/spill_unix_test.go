//go:build linux || darwin

package duck

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestRemoveStale kills a process holding a database, as kill -9 does, and
// checks that the next Open removes the spill directory it left, but not
// one a running database holds nor one of an earlier version.
func TestRemoveStale(t *testing.T) {
	tmp := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), holdEnv+"="+tmp)
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

// holdEnv, set, makes the test binary the process TestRemoveStale kills: it
// opens a database in the directory it names, says so and waits.
const holdEnv = "ALMANAC_TEST_SPILL_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(holdEnv); dir != "" {
		if _, err := Open(Options{TempDir: dir}); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("open\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func spillDirs(t *testing.T, dir string) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(dir, spillPrefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}
