package clients

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sesame-go/sesame/auth"
)

// Options configures a [Set]. A nil *Options means the defaults.
type Options struct {
	// PollInterval is how often Run checks the file for a change. Zero
	// means 1 second; a negative value disables polling (then only
	// [Set.Reload] reloads).
	PollInterval time.Duration
	// Logger receives reload failures. Nil means slog.Default().
	Logger *slog.Logger
}

// Set is the clients of a clients file, in memory, for checking callers.
// A file that fails to reload is logged and the last good content stays in
// use. All methods are safe for concurrent use.
type Set struct {
	path string
	opts Options
	db   atomic.Pointer[map[string][]byte] // name → SHA-256 of the secret

	mu      sync.Mutex // serializes reloads; guards stat and lastErr
	stat    os.FileInfo
	lastErr error
}

var _ auth.ClientAuthenticator = (*Set)(nil)

// Open loads the clients file at path.
func Open(path string, o *Options) (*Set, error) {
	s := &Set{path: path}
	if o != nil {
		s.opts = *o
	}
	if s.opts.PollInterval == 0 {
		s.opts.PollInterval = time.Second
	}
	if s.opts.Logger == nil {
		s.opts.Logger = slog.Default()
	}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// dummy is compared against for an unknown client name, so that an unknown
// name costs what a wrong secret does.
var dummy = func() []byte { h := sha256.Sum256([]byte("sesame: no such client")); return h[:] }()

// AuthenticateClient reports whether secret is the secret of the client
// named id. It does the same work for an unknown name as for a wrong
// secret, and compares digests in constant time.
func (s *Set) AuthenticateClient(id, secret string) bool {
	digest, ok := (*s.db.Load())[id]
	if !ok {
		digest = dummy
	}
	return verify(digest, secret) && ok
}

// Names returns the names of the clients in use.
func (s *Set) Names() []string {
	db := *s.db.Load()
	out := make([]string, 0, len(db))
	for n := range db {
		out = append(out, n)
	}
	return out
}

// Reload reads the file again if it changed (identity, size or
// modification time).
func (s *Set) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.reloadLocked()
	if err != nil && s.db.Load() != nil && (s.lastErr == nil || s.lastErr.Error() != err.Error()) {
		s.opts.Logger.Warn("clients: reloading the clients file failed, keeping the clients in use", "path", s.path, "err", err)
	}
	s.lastErr = err
	return err
}

func (s *Set) reloadLocked() error {
	fi, err := os.Stat(s.path)
	if err != nil {
		return err
	}
	if s.stat != nil && os.SameFile(s.stat, fi) && fi.Size() == s.stat.Size() && fi.ModTime().Equal(s.stat.ModTime()) {
		return nil
	}
	f, err := Read(s.path)
	if err != nil {
		return err
	}
	db := make(map[string][]byte, len(f.Clients))
	for _, c := range f.Clients {
		db[c.Name], _ = parseHash(c.Hash) // Read checked it
	}
	s.db.Store(&db)
	s.stat = fi
	return nil
}

// Run polls the file for changes until ctx ends.
func (s *Set) Run(ctx context.Context) error {
	if s.opts.PollInterval < 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.Reload()
		}
	}
}
