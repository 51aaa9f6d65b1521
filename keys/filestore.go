package keys

import (
	"context"
	"errors"
	"fmt"
	"github.com/sesame-go/sesame/internal/atomicfile"
	"io"
	"io/fs"
	"os"
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
	ks, err := f.load()
	if err != nil {
		return nil, err
	}
	if ks == nil {
		return nil, fmt.Errorf("%w in %q", ErrNotFound, f.path)
	}
	return ks, nil
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
	return f.replace(data)
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
