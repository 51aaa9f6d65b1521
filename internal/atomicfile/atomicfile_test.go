package atomicfile_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sesame-go/sesame/internal/atomicfile"
)

func TestWriteReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	write := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	if err := atomicfile.Write(path, 0o600, write("one")); err != nil {
		t.Fatal(err)
	}
	// A failing writer (a crash mid-write) leaves the old content and no temp file.
	boom := errors.New("disk full")
	err := atomicfile.Write(path, 0o600, func(w io.Writer) error {
		io.WriteString(w, "half")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the writer's error", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "one" {
		t.Fatalf("content after failed write: %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the file", len(entries))
	}
	if err := atomicfile.Write(path, 0o600, write("two")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "two" || fi.Mode().Perm() != 0o600 {
		t.Fatalf("got %q mode %v", b, fi.Mode().Perm())
	}
}

func TestLockSerializes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.lock")
	var mu sync.Mutex // detects overlap: TryLock fails if two holders overlap
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			unlock, err := atomicfile.Lock(path)
			if err != nil {
				t.Error(err)
				return
			}
			if !mu.TryLock() {
				t.Error("two holders of the file lock at once")
			} else {
				mu.Unlock()
			}
			unlock()
		})
	}
	wg.Wait()
}
