package atomicfile_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
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

// TestEdit: a missing file starts empty, a failed change writes nothing,
// and concurrent edits are all kept.
func TestEdit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "list")
	read := func(p string) (*[]string, error) {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		l := strings.Fields(string(b))
		return &l, nil
	}
	write := func(p string, l *[]string) error {
		return atomicfile.Write(p, 0o600, func(w io.Writer) error {
			for _, s := range *l {
				if _, err := io.WriteString(w, s+"\n"); err != nil {
					return err
				}
			}
			return nil
		})
	}
	add := func(s string) func(*[]string) error {
		return func(l *[]string) error { *l = append(*l, s); return nil }
	}
	if err := atomicfile.Edit(path, read, write, add("first")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := atomicfile.Edit(path, read, write, func(l *[]string) error { *l = nil; return boom }); !errors.Is(err, boom) {
		t.Fatalf("a failed change returned %v, want its error", err)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if err := atomicfile.Edit(path, read, write, add("x")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	l, err := read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(*l) != 21 || (*l)[0] != "first" {
		t.Fatalf("the file holds %d lines starting %q, want 21 starting \"first\"", len(*l), (*l)[0])
	}
}
