// Package atomicfile replaces small files atomically and serializes their
// writers across processes. The keyset file store, the users file and the
// introspection clients file use it.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces the file at path with what write produces, atomically: the
// content goes to a temporary file in the same directory (so the rename
// cannot cross file systems) with mode perm, which is synced, renamed over
// path, and the directory synced. A crash or a failing write leaves either
// the old file or the new one, never a mix, and no temporary file behind.
func Write(path string, perm os.FileMode, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// Chmod makes the mode explicit and independent of the umask.
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if err := write(tmp); err != nil {
		return fmt.Errorf("writing %q: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %q: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing %q: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename is durable only once the directory is synced.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Edit is a read-modify-write of the file at path under an exclusive lock
// on path+".lock" (see [Lock]), so that concurrent edits on one machine,
// in this process or others, are serialized and none is lost: it reads the
// file with read (starting from empty when it does not exist), applies
// change, and writes the result with write. If change returns an error
// nothing is written.
func Edit[F any](path string, read func(string) (*F, error), write func(string, *F) error, change func(*F) error) error {
	unlock, err := Lock(path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	f, err := read(path)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = new(F), nil
	}
	if err != nil {
		return err
	}
	if err := change(f); err != nil {
		return err
	}
	return write(path, f)
}
