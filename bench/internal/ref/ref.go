// Package ref loads the reference session every benchmarked way carries.
//
// The source of truth is shared/bench/reference-session.json, beside the
// repository (../../shared/bench/ from bench/). When that file is not there
// (a checkout without shared/), the copy embedded from this directory is
// used; TestCopyMatchesShared keeps the copy byte-for-byte equal to the
// shared file whenever the shared file exists, so the two cannot drift.
package ref

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Session is the reference session data: the fields of
// reference-session.json, no more, no fewer (decoding refuses unknown fields).
type Session struct {
	UID   string   `json:"uid"`
	Email string   `json:"email"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	TID   string   `json:"tid"`
	Loc   string   `json:"loc"`
}

//go:embed reference-session.json
var embedded []byte

// Embedded is the checked-in copy of the reference session file.
func Embedded() []byte { return bytes.Clone(embedded) }

const modulePath = "github.com/sesame-go/sesame/bench"

// SharedPath returns where the shared reference file should be: two levels
// above the bench module's root. It finds the module root from this source
// file's location, or else by walking up from the working directory to the
// go.mod of the bench module.
func SharedPath() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "..", "..", "shared", "bench", "reference-session.json"), nil
}

func moduleRoot() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		root := filepath.Join(filepath.Dir(file), "..", "..")
		if isBenchModule(root) {
			return root, nil
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isBenchModule(dir) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("ref: bench module root not found")
		}
		dir = parent
	}
}

func isBenchModule(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(first) == "module "+modulePath
}

// Raw returns the reference file's bytes and where they came from: the
// shared file's path, or "embedded copy".
func Raw() ([]byte, string) {
	if p, err := SharedPath(); err == nil {
		if b, err := os.ReadFile(p); err == nil {
			return b, p
		}
	}
	return Embedded(), "embedded copy"
}

// Load decodes the reference session strictly.
func Load() (Session, string, error) {
	b, src := Raw()
	s, err := Decode(b)
	if err != nil {
		return Session{}, src, fmt.Errorf("ref: %s: %w", src, err)
	}
	return s, src, nil
}

// Decode decodes one reference session, refusing unknown fields and
// trailing data, so a field added to the shared file cannot be silently
// dropped by the benchmarks.
func Decode(b []byte) (Session, error) {
	var s Session
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, err
	}
	if dec.More() {
		return s, errors.New("trailing data")
	}
	return s, nil
}

// Must is Load for programs and tests: it panics on error.
func Must() Session {
	s, _, err := Load()
	if err != nil {
		panic(err)
	}
	return s
}

// Equal reports whether two sessions carry the same data.
func Equal(a, b Session) bool {
	if a.UID != b.UID || a.Email != b.Email || a.Name != b.Name || a.TID != b.TID || a.Loc != b.Loc || len(a.Roles) != len(b.Roles) {
		return false
	}
	for i := range a.Roles {
		if a.Roles[i] != b.Roles[i] {
			return false
		}
	}
	return true
}
