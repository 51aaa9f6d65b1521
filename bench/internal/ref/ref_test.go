package ref

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"testing"
)

// TestCopyMatchesShared: the checked-in copy equals the shared file, byte
// for byte, whenever the shared file exists.
func TestCopyMatchesShared(t *testing.T) {
	p, err := SharedPath()
	if err != nil {
		t.Fatal(err)
	}
	shared, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("no shared file at %s; the embedded copy is used", p)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(shared, Embedded()) {
		t.Fatalf("bench/internal/ref/reference-session.json differs from %s: copy the shared file over it", p)
	}
}

func TestLoad(t *testing.T) {
	s, src, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reference session from %s", src)
	if s.UID == "" || s.Email == "" || s.Name == "" || len(s.Roles) != 4 || s.TID == "" || s.Loc == "" {
		t.Fatalf("incomplete reference session: %+v", s)
	}
	if _, err := Decode(append(Embedded()[:len(Embedded())-2], `,"x":1}`...)); err == nil {
		t.Fatal("an unknown field was accepted")
	}
}
