// Package ref loads the reference session every benchmarked way carries.
//
// The reference session is reference-session.json in this directory,
// embedded in the binary: a user id, an e-mail address, a name, four roles,
// a tenant and a locale, 208 bytes as JSON. It is the only copy; change it
// and the token sizes held by the bench module's tests change with it.
package ref

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
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

// Embedded returns the bytes of reference-session.json.
func Embedded() []byte { return bytes.Clone(embedded) }

// Source names where [Load] reads the reference session from.
const Source = "bench/internal/ref/reference-session.json (embedded)"

// Raw returns the reference file's bytes and where they came from.
func Raw() ([]byte, string) { return Embedded(), Source }

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
// trailing data, so a field added to the reference file cannot be silently
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
