package clients

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sesame-go/sesame/internal/atomicfile"
)

// format names the clients file format.
const format = "sesame-clients/v1"

// maxFileSize bounds a clients file read into memory.
const maxFileSize = 1 << 20

// maxNameLen bounds a client name.
const maxNameLen = 64

// secretBytes is the size of a generated secret: 256 bits, so that a fast
// hash of it is safe to store (see the package documentation).
const secretBytes = 32

// hashPrefix starts every stored hash, naming its algorithm.
const hashPrefix = "sha256:"

// Client is one entry of a clients file.
type Client struct {
	Name    string    `json:"name"`
	Hash    string    `json:"hash"` // "sha256:" + base64url of SHA-256(secret)
	Created time.Time `json:"created"`
}

// File is the content of a clients file.
type File struct {
	Clients []Client
}

type fileJSON struct {
	Format  string   `json:"format"`
	Clients []Client `json:"clients"`
}

// CheckName returns an error unless name is 1 to 64 lower-case ASCII
// letters, digits and . _ -, starting with a letter or digit. Names appear
// in logs and are the user part of HTTP Basic credentials, which ends at
// the first colon.
func CheckName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("clients: name must be 1 to %d characters", maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || i > 0 && (c == '.' || c == '_' || c == '-')) {
			return fmt.Errorf("clients: name %q: only lower-case letters, digits and . _ - are allowed, starting with a letter or digit", name)
		}
	}
	return nil
}

// Generate returns a new client named name and its secret: 256 random bits,
// base64url. The secret is not kept anywhere: show it once.
func Generate(name string, now time.Time) (Client, string, error) {
	if err := CheckName(name); err != nil {
		return Client{}, "", err
	}
	b := make([]byte, secretBytes)
	rand.Read(b) // never fails (crypto/rand)
	secret := base64.RawURLEncoding.EncodeToString(b)
	return Client{Name: name, Hash: hashSecret(secret), Created: now.UTC().Truncate(time.Second)}, secret, nil
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hashPrefix + base64.RawURLEncoding.EncodeToString(h[:])
}

// parseHash returns the digest of a stored hash.
func parseHash(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, hashPrefix)
	if !ok {
		return nil, errors.New("clients: hash is not sha256:...")
	}
	d, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(d) != sha256.Size {
		return nil, errors.New("clients: hash is not a base64url SHA-256 digest")
	}
	return d, nil
}

// verify reports whether secret hashes to digest, in constant time.
func verify(digest []byte, secret string) bool {
	h := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(h[:], digest) == 1
}

// Add adds c; it fails if a client of that name exists.
func (f *File) Add(c Client) error {
	if slices.ContainsFunc(f.Clients, func(x Client) bool { return x.Name == c.Name }) {
		return fmt.Errorf("clients: client %q already exists", c.Name)
	}
	f.Clients = append(f.Clients, c)
	slices.SortFunc(f.Clients, func(a, b Client) int { return strings.Compare(a.Name, b.Name) })
	return nil
}

// Remove removes the client named name and reports whether there was one.
func (f *File) Remove(name string) bool {
	before := len(f.Clients)
	f.Clients = slices.DeleteFunc(f.Clients, func(c Client) bool { return c.Name == name })
	return len(f.Clients) != before
}

// Read reads and checks the clients file at path. A missing file is an
// error wrapping [fs.ErrNotExist].
func Read(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("clients: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("clients: reading %q: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("clients: %q is larger than %d bytes", path, maxFileSize)
	}
	var fj fileJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fj); err != nil {
		return nil, fmt.Errorf("clients: %q is not a clients file: %v", path, err)
	}
	if fj.Format != format {
		return nil, fmt.Errorf("clients: %q has format %q, want %q", path, fj.Format, format)
	}
	seen := map[string]bool{}
	for i, c := range fj.Clients {
		if CheckName(c.Name) != nil {
			return nil, fmt.Errorf("clients: %q: entry %d has an invalid name", path, i)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("clients: %q: client %q appears twice", path, c.Name)
		}
		seen[c.Name] = true
		if _, err := parseHash(c.Hash); err != nil {
			return nil, fmt.Errorf("clients: %q: client %q: %w", path, c.Name, err)
		}
	}
	return &File{Clients: fj.Clients}, nil
}

// Write replaces the clients file at path with f, atomically, mode 0600: a
// crash leaves the old file or the new one, never a mix.
func Write(path string, f *File) error {
	data, err := json.MarshalIndent(fileJSON{Format: format, Clients: f.Clients}, "", "  ")
	if err != nil {
		return fmt.Errorf("clients: %w", err)
	}
	data = append(data, '\n')
	if err := atomicfile.Write(path, 0o600, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		return fmt.Errorf("clients: %w", err)
	}
	return nil
}

// Edit reads the clients file at path (an empty one if it does not exist),
// applies change and writes the result with [Write]. Concurrent Edits on
// one machine are serialized by an exclusive lock on path+".lock". If
// change returns an error nothing is written.
func Edit(path string, change func(*File) error) error {
	return atomicfile.Edit(path, Read, Write, change)
}
