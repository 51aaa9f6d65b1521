package keys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"

	"github.com/sesame-go/sesame/internal/atomicfile"
)

// NewFileStore returns a Store that keeps the keyset sealed under mk in the
// JSON file at path (mode 0600).
//
// Writes are atomic: the new keyset goes to a temporary file in the same
// directory, which is synced and renamed over the old one, and the directory
// is synced; a crash at any point leaves either the old or the new file, never
// a mix. Concurrent writers, in this process or others, are serialized by an
// exclusive flock(2) on path+".lock" held while the stored version is checked
// and the file replaced, so compare-and-swap holds across processes on one
// machine. (flock is not reliable on NFS: keep the file on a local disk, or
// use Redis for a fleet.)
//
// Beside the keyset the store keeps path+".watermark" (JSON, mode 0600):
// the highest version it has written and every key id ever revoked. It is
// written after each change and never lowered, and both Load and
// CompareAndSwap refuse with [ErrRollback] a keyset file that goes back from
// it: one restored from an older backup, copied from another host, or
// written by an older tool. So `sessionctl keys rotate` on a restored file
// fails instead of quietly making a revoked key verify again. Deleting the
// watermark file lifts the check here (running nodes still refuse).
//
// The file store has no push notices: a [Holder] polls it, and programs
// reload on SIGHUP.
func NewFileStore(path string, mk *MasterKey) Store {
	return &fileStore{path: path, mk: mk, write: func(w io.Writer, b []byte) (int, error) { return w.Write(b) }}
}

type fileStore struct {
	path string
	mk   *MasterKey
	// write writes the new file's contents; tests replace it with one that
	// fails half-way, as a crash would.
	write func(w io.Writer, b []byte) (int, error)
}

var _ Store = (*fileStore)(nil)

func (f *fileStore) String() string { return "file:" + f.path }

func (f *fileStore) Load(ctx context.Context) (*Keyset, error) {
	// The watermark first: writers replace the keyset before raising the
	// watermark, so a keyset read after it is at least as new, even while
	// a write runs (Load takes no lock).
	w, err := f.loadMark()
	if err != nil {
		return nil, err
	}
	ks, err := f.load()
	if err != nil {
		return nil, err
	}
	if ks == nil {
		return nil, fmt.Errorf("%w in %q", ErrNotFound, f.path)
	}
	if err := f.checkMark(w, ks); err != nil {
		return nil, err
	}
	return ks, nil
}

func (f *fileStore) markPath() string { return f.path + ".watermark" }

// loadMark reads the watermark; a missing file is the zero watermark.
func (f *fileStore) loadMark() (watermark, error) {
	var w watermark
	b, err := os.ReadFile(f.markPath())
	if errors.Is(err, fs.ErrNotExist) {
		return w, nil
	}
	if err != nil {
		return w, fmt.Errorf("keys: %w", err)
	}
	if err := json.Unmarshal(b, &w); err != nil || !slices.IsSorted(w.Revoked) {
		return w, fmt.Errorf("keys: %q is corrupted; restore it or delete it", f.markPath())
	}
	return w, nil
}

// checkMark refuses ks if it goes back from the watermark w.
func (f *fileStore) checkMark(w watermark, ks *Keyset) error {
	if err := w.check(ks); err != nil {
		return fmt.Errorf("%w (%q remembers version %d and %d revoked keys): %q was restored from an older copy; put the newest keyset back, or revoke the keys again in it and delete the watermark file",
			err, f.markPath(), w.Version, len(w.Revoked), f.path)
	}
	return nil
}

// load returns nil, nil if the file does not exist.
func (f *fileStore) load() (*Keyset, error) {
	fh, err := os.Open(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxSealedSize+1))
	if err != nil {
		return nil, fmt.Errorf("keys: reading %q: %w", f.path, err)
	}
	return open(f.mk, data)
}

func (f *fileStore) CompareAndSwap(ctx context.Context, old uint64, next *Keyset) error {
	if err := checkNext(old, next); err != nil {
		return err
	}
	data, err := seal(f.mk, next)
	if err != nil {
		return err
	}
	unlock, err := atomicfile.Lock(f.path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()

	// Under the lock: the stored version cannot change until we are done.
	// Opening the stored keyset also proves the master key is the right one
	// before anything is written.
	cur, err := f.load()
	if err != nil {
		return err
	}
	var v uint64
	if cur != nil {
		v = cur.version
	}
	if v != old {
		return fmt.Errorf("%w: %q is at version %d, expected %d", ErrConflict, f.path, v, old)
	}
	w, err := f.loadMark()
	if err != nil {
		return err
	}
	for _, ks := range []*Keyset{cur, next} {
		if ks == nil {
			continue
		}
		if err := f.checkMark(w, ks); err != nil {
			return err
		}
	}
	if err := f.replace(data); err != nil {
		return err
	}
	// After the keyset: a crash in between leaves a watermark below the
	// keyset, which refuses nothing it should not.
	if cur != nil {
		w.raise(cur)
	}
	if !w.raise(next) {
		return nil
	}
	mark, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	if err := atomicfile.Write(f.markPath(), 0o600, func(wr io.Writer) error {
		_, err := wr.Write(mark)
		return err
	}); err != nil {
		return fmt.Errorf("keys: the keyset was written, but not its watermark: %w", err)
	}
	return nil
}

// replace atomically replaces the file with data.
func (f *fileStore) replace(data []byte) error {
	err := atomicfile.Write(f.path, 0o600, func(w io.Writer) error {
		_, err := f.write(w, data)
		return err
	})
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	return nil
}
