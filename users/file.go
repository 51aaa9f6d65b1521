package users

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sesame-go/sesame/internal/atomicfile"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// format names the users file format, so that a later change can be told
// apart from this one.
const format = "sesame-users/v1"

// maxFileSize bounds a users file read into memory: about 100,000 users.
const maxFileSize = 16 << 20

// maxNameLen bounds a user name.
const maxNameLen = 64

// maxPasswordLen is the longest password accepted; auth refuses longer ones
// at login, so a longer one could never be used.
const maxPasswordLen = 1024

// User is one entry of a users file. The user's name is also its user id in
// sessions (claim sub).
type User struct {
	Name    string    `json:"name"`
	Hash    string    `json:"hash"` // PHC argon2id string; see [Hash]
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// File is the content of a users file:
//
//	{"format": "sesame-users/v1", "users": [{"name": "alice", "hash": "$argon2id$...", ...}]}
type File struct {
	Users []User
}

type fileJSON struct {
	Format string `json:"format"`
	Users  []User `json:"users"`
}

// CanonicalName returns the form of name used in users files and as user id:
// lower case. A name is 1 to 64 ASCII letters, digits and . _ @ - (so that it
// is safe in logs, terminals and Redis keys), starting with a letter or digit.
func CanonicalName(name string) (string, error) {
	if name == "" || len(name) > maxNameLen {
		return "", fmt.Errorf("users: name must be 1 to %d characters", maxNameLen)
	}
	n := strings.ToLower(name)
	for i := 0; i < len(n); i++ {
		c := n[i]
		ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || i > 0 && (c == '.' || c == '_' || c == '@' || c == '-')
		if !ok {
			return "", fmt.Errorf("users: name %q: only letters, digits and . _ @ - are allowed, starting with a letter or digit", name)
		}
	}
	return n, nil
}

// NewUser returns a user named name (canonicalized) with the argon2id hash of
// password under params p (zero: [DefaultParams]).
func NewUser(name, password string, p Params, now time.Time) (User, error) {
	n, err := CanonicalName(name)
	if err != nil {
		return User{}, err
	}
	if err := checkPassword(password); err != nil {
		return User{}, err
	}
	h, err := Hash(password, p)
	if err != nil {
		return User{}, err
	}
	now = now.UTC().Truncate(time.Second)
	return User{Name: n, Hash: h, Created: now, Updated: now}, nil
}

func checkPassword(pw string) error {
	switch {
	case pw == "":
		return errors.New("users: empty password")
	case len(pw) > maxPasswordLen:
		return fmt.Errorf("users: password longer than %d bytes", maxPasswordLen)
	}
	return nil
}

// Lookup returns the user named name (canonicalized).
func (f *File) Lookup(name string) (User, bool) {
	n, err := CanonicalName(name)
	if err != nil {
		return User{}, false
	}
	i := slices.IndexFunc(f.Users, func(u User) bool { return u.Name == n })
	if i < 0 {
		return User{}, false
	}
	return f.Users[i], true
}

// Put adds u, or replaces the user of the same name if replace is true (the
// creation time is kept). It fails if the user exists and replace is false.
func (f *File) Put(u User, replace bool) error {
	i := slices.IndexFunc(f.Users, func(x User) bool { return x.Name == u.Name })
	switch {
	case i < 0:
		f.Users = append(f.Users, u)
		slices.SortFunc(f.Users, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
		return nil
	case !replace:
		return fmt.Errorf("users: user %q already exists", u.Name)
	default:
		u.Created = f.Users[i].Created
		f.Users[i] = u
		return nil
	}
}

// Remove removes the user named name and reports whether there was one.
func (f *File) Remove(name string) bool {
	n, err := CanonicalName(name)
	if err != nil {
		return false
	}
	before := len(f.Users)
	f.Users = slices.DeleteFunc(f.Users, func(u User) bool { return u.Name == n })
	return len(f.Users) != before
}

// Read reads and checks the users file at path. A missing file is an error
// wrapping [fs.ErrNotExist].
func Read(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("users: reading %q: %w", path, err)
	}
	return parse(path, data)
}

func parse(path string, data []byte) (*File, error) {
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("users: %q is larger than %d bytes", path, maxFileSize)
	}
	var fj fileJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fj); err != nil {
		return nil, fmt.Errorf("users: %q is not a users file: %v", path, err)
	}
	if fj.Format != format {
		return nil, fmt.Errorf("users: %q has format %q, want %q", path, fj.Format, format)
	}
	seen := make(map[string]bool, len(fj.Users))
	for i, u := range fj.Users {
		n, err := CanonicalName(u.Name)
		if err != nil || n != u.Name {
			return nil, fmt.Errorf("users: %q: entry %d has an invalid name", path, i)
		}
		if seen[n] {
			return nil, fmt.Errorf("users: %q: user %q appears twice", path, n)
		}
		seen[n] = true
		if _, err := parseHash(u.Hash); err != nil {
			// The hash itself is never printed.
			return nil, fmt.Errorf("users: %q: user %q: %w", path, n, err)
		}
	}
	return &File{Users: fj.Users}, nil
}

// Write replaces the users file at path with f, atomically: the content goes
// to a temporary file in the same directory (mode 0600), which is synced and
// renamed over path, and the directory is synced. A crash leaves either the
// old file or the new one, never a mix. Use [Edit] for read-modify-write.
func Write(path string, f *File) error {
	data, err := json.MarshalIndent(fileJSON{Format: format, Users: f.Users}, "", "  ")
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	return replace(path, append(data, '\n'))
}

func replace(path string, data []byte) error {
	err := atomicfile.Write(path, 0o600, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	return nil
}

// Edit reads the users file at path (an empty one if it does not exist yet),
// applies change and writes the result with [Write]. Concurrent Edits, in
// this process or others on the same machine, are serialized by an exclusive
// flock(2) on path+".lock", so no change is lost. If change returns an error
// nothing is written.
func Edit(path string, change func(*File) error) error {
	return atomicfile.Edit(path, Read, Write, change)
}
