package users

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sesame-go/sesame/auth"
)

// Profile is the session data an [Authenticator] gives a new session.
type Profile struct {
	Name string `json:"name"`
}

// Options configures an [Authenticator]. A nil *Options means the defaults.
type Options struct {
	// PollInterval is how often Run checks the users file for a change (its
	// identity, size and modification time). Zero means 1 second; a negative
	// value disables polling (then only [Authenticator.Reload] reloads).
	PollInterval time.Duration
	// MaxConcurrent bounds the password hashes computed at once. Each takes
	// the hash's memory (64 MiB with [DefaultParams]), so a burst of logins
	// must queue rather than exhaust memory. Zero means 4.
	MaxConcurrent int
	// DummyParams are the costs of the hash verified for unknown users. Zero
	// means [DefaultParams]; keep it equal to the parameters of the stored
	// hashes, or unknown users answer faster or slower than known ones.
	DummyParams Params
	// Logger receives reloads and reload failures. Nil means slog.Default().
	Logger *slog.Logger
}

// Authenticator checks user names and passwords against a users file (or a
// fixed list of users) and implements [auth.Authenticator]. An unknown user
// and a wrong password get the same answer, [auth.ErrInvalidCredentials],
// after the same work: an unknown user's password is verified against a
// dummy hash with the same costs.
//
// A file-backed Authenticator reloads the file when it changes ([Authenticator.Run]
// polls, [Authenticator.Reload] reloads now); a file that fails to load is
// logged and the last good content stays in use.
//
// All methods are safe for concurrent use.
type Authenticator struct {
	path  string // "" for a static list
	opts  Options
	dummy *phc
	sem   chan struct{}
	db    atomic.Pointer[map[string]*phc]

	mu      sync.Mutex // serializes reloads; guards the fields below
	stat    os.FileInfo
	loaded  time.Time
	lastErr error
}

var (
	_ auth.Authenticator[Profile] = (*Authenticator)(nil)
	_ auth.UserChecker            = (*Authenticator)(nil)
)

// Open returns an Authenticator for the users file at path, which must exist
// and be valid. Call [Authenticator.Run] to follow changes.
func Open(path string, opts *Options) (*Authenticator, error) {
	a, err := newAuthenticator(opts)
	if err != nil {
		return nil, err
	}
	a.path = path
	if err := a.Reload(); err != nil {
		return nil, err
	}
	return a, nil
}

// Static returns an Authenticator for a fixed list of users (a demo user, a
// test). Its Run returns at once when ctx ends and Reload does nothing.
func Static(us []User, opts *Options) (*Authenticator, error) {
	a, err := newAuthenticator(opts)
	if err != nil {
		return nil, err
	}
	db, err := index(us)
	if err != nil {
		return nil, err
	}
	a.db.Store(&db)
	a.loaded = time.Now()
	return a, nil
}

func newAuthenticator(opts *Options) (*Authenticator, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.PollInterval == 0 {
		o.PollInterval = time.Second
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 4
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	// The dummy hash is of a random password nobody knows, so it can never
	// match; only its costs matter.
	pw := make([]byte, 32)
	rand.Read(pw)
	dh, err := Hash(base64.RawURLEncoding.EncodeToString(pw), o.DummyParams)
	if err != nil {
		return nil, err
	}
	dummy, err := parseHash(dh)
	if err != nil {
		return nil, err
	}
	return &Authenticator{opts: o, dummy: dummy, sem: make(chan struct{}, o.MaxConcurrent)}, nil
}

func index(us []User) (map[string]*phc, error) {
	db := make(map[string]*phc, len(us))
	for _, u := range us {
		h, err := parseHash(u.Hash)
		if err != nil {
			return nil, fmt.Errorf("users: user %q: %w", u.Name, err)
		}
		db[u.Name] = h
	}
	return db, nil
}

// Authenticate checks username and password. It returns the canonical user
// name as user id, or an error wrapping [auth.ErrInvalidCredentials] for an
// unknown user or a wrong password. Names are matched case-insensitively.
// It waits for a hashing slot (see Options.MaxConcurrent) until ctx ends.
func (a *Authenticator) Authenticate(ctx context.Context, username, password string) (string, Profile, error) {
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return "", Profile{}, fmt.Errorf("users: waiting to check a password: %w", ctx.Err())
	}
	defer func() { <-a.sem }()

	// Unknown, malformed and known names all run exactly one verify; only
	// the hash differs. The comparison inside verify is constant-time.
	h, found := a.dummy, false
	name, err := CanonicalName(username)
	if err == nil {
		if u, ok := (*a.db.Load())[name]; ok {
			h, found = u, true
		}
	}
	if !h.verify(password) || !found {
		return "", Profile{}, auth.ErrInvalidCredentials
	}
	return name, Profile{Name: name}, nil
}

// UserActive implements [auth.UserChecker]: a user id (a canonical name)
// is active while the users in use have it. So once a user is removed from
// the file and the file is reloaded, that user's sessions end at their next
// refresh. A file that fails to load changes nothing (the last good users
// stay in use); one that loads without a user ends that user's sessions.
func (a *Authenticator) UserActive(_ context.Context, userID string) (bool, error) {
	_, ok := (*a.db.Load())[userID]
	return ok, nil
}

// Reload reads the users file if it changed since the last load (another
// file renamed over it, another size or modification time). On error the
// users in use stay and the error is returned, logged and kept for
// [Authenticator.Status].
func (a *Authenticator) Reload() error {
	if a.path == "" {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	err := a.reloadLocked()
	if err != nil && a.db.Load() != nil {
		if a.lastErr == nil || a.lastErr.Error() != err.Error() {
			a.opts.Logger.Warn("users: reloading the users file failed, keeping the users in use", "path", a.path, "err", err)
		}
	}
	a.lastErr = err
	return err
}

func (a *Authenticator) reloadLocked() error {
	fi, err := os.Stat(a.path)
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	if a.stat != nil && os.SameFile(a.stat, fi) && fi.Size() == a.stat.Size() && fi.ModTime().Equal(a.stat.ModTime()) {
		return nil
	}
	f, err := Read(a.path)
	if err != nil {
		return err
	}
	db, err := index(f.Users)
	if err != nil {
		return err
	}
	first := a.db.Load() == nil
	a.db.Store(&db)
	a.stat, a.loaded = fi, time.Now()
	if fi.Mode().Perm()&0o077 != 0 {
		a.opts.Logger.Warn("users: the users file is readable by other users; chmod 600 it", "path", a.path, "mode", fi.Mode().Perm().String())
	}
	if first {
		a.opts.Logger.Info("users: loaded", "path", a.path, "users", len(db))
	} else {
		a.opts.Logger.Info("users: reloaded", "path", a.path, "users", len(db))
	}
	return nil
}

// Run polls the users file every PollInterval until ctx ends, then returns
// nil.
func (a *Authenticator) Run(ctx context.Context) error {
	if a.path == "" || a.opts.PollInterval < 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(a.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			a.Reload() // logged and kept in Status
		}
	}
}

// Status is an [Authenticator]'s health.
type Status struct {
	Path      string    // "" for a static list
	Users     int       // users in use
	LoadedAt  time.Time // when they were loaded
	LastError error     // the last reload's error; nil if it succeeded
}

// Status returns the Authenticator's health.
func (a *Authenticator) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	return Status{Path: a.path, Users: len(*a.db.Load()), LoadedAt: a.loaded, LastError: a.lastErr}
}
