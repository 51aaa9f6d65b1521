//go:build !unix

package atomicfile

import "errors"

// ErrNoLock: file locking needs flock(2), available on unix systems only.
var ErrNoLock = errors.New("atomicfile: file locking needs flock(2), available on unix systems only")

// Lock fails where flock(2) is missing.
func Lock(path string) (unlock func(), err error) { return nil, ErrNoLock }
