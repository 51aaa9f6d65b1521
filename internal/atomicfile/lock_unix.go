//go:build unix

package atomicfile

import (
	"fmt"
	"os"
	"syscall"
)

// Lock takes an exclusive flock(2) on path, creating it (mode 0600) if
// needed, and returns the function that releases it. The lock belongs to the
// open file, so it is released even if the process dies holding it. flock
// is advisory and unreliable on NFS.
func Lock(path string) (unlock func(), err error) {
	fh, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	for {
		err = syscall.Flock(int(fh.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("locking %q: %w", path, err)
	}
	return func() {
		syscall.Flock(int(fh.Fd()), syscall.LOCK_UN)
		fh.Close()
	}, nil
}
