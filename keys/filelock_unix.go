//go:build unix

package keys

import (
	"context"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive flock(2) on path, creating it (mode 0600) if
// needed, and returns the function that releases it. The lock is tied to the
// open file, so it is released even if the process dies while holding it.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	fh, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("keys: lock file: %w", err)
	}
	for {
		err = syscall.Flock(int(fh.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("keys: locking %q: %w", path, err)
	}
	return func() {
		syscall.Flock(int(fh.Fd()), syscall.LOCK_UN)
		fh.Close()
	}, nil
}
