//go:build linux || darwin

package duck

import (
	"os"
	"syscall"
)

// lockDir takes an exclusive lock on the directory at path, held until the
// returned file is closed or the process ends. It fails when another open
// file holds the lock.
func lockDir(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
