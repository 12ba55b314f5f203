package duck

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// spillPrefix begins the name of every spill directory; the id of the
// process that made it follows, then a random suffix.
const spillPrefix = "almanac-duckdb-"

// spillGrace is how old a spill directory must be before another process
// may remove it: a new one is locked by its process only just after it is
// made.
const spillGrace = time.Minute

// removeStale removes the spill directories in dir (os.TempDir() when
// empty) that no database holds any more, such as those of a process killed
// before it could close its databases. Every open database holds a lock on
// its directory, which the kernel drops when the process ends however it
// ends. Failures are ignored: the next Open tries again.
func removeStale(dir string) {
	if dir == "" {
		dir = os.TempDir()
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		// Directories of earlier versions, named without the process
		// id, hold no lock and are left alone.
		rest, ok := strings.CutPrefix(e.Name(), spillPrefix)
		if !e.IsDir() || !ok || !strings.Contains(rest, "-") {
			continue
		}
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < spillGrace {
			continue
		}
		path := filepath.Join(dir, e.Name())
		lock, err := lockDir(path)
		if err != nil || lock == nil {
			continue
		}
		os.RemoveAll(path)
		lock.Close()
	}
}
