package users

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/sesametest"
)

// cheap are fast parameters for tests that do not measure cost.
var cheap = Params{Time: 1, MemoryKiB: 1024, Threads: 1}

func TestHashRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Params
		want string
	}{
		{"default", Params{}, `^\$argon2id\$v=19\$m=65536,t=1,p=2\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`},
		{"cheap", cheap, `^\$argon2id\$v=19\$m=1024,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := Hash("correct horse", tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(tc.want).MatchString(h) {
				t.Errorf("got hash %q, want match for %s", h, tc.want)
			}
			if ok, err := Verify(h, "correct horse"); !ok || err != nil {
				t.Errorf("Verify(right password) = %v, %v; want true, nil", ok, err)
			}
			if ok, err := Verify(h, "correct horsE"); ok || err != nil {
				t.Errorf("Verify(wrong password) = %v, %v; want false, nil", ok, err)
			}
			h2, _ := Hash("correct horse", tc.p)
			if h2 == h {
				t.Error("two hashes of one password are equal: the salt is not random")
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	good, _ := Hash("pw", cheap)
	parts := strings.Split(good, "$")
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	for _, tc := range []struct{ name, hash string }{
		{"empty", ""},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuu5v6cjb8q5C3Kq7S0k0f6ZsQ3p8xXm9C"},
		{"argon2i", with(1, "argon2i")},
		{"old version", with(2, "v=16")},
		{"huge memory", with(3, "m=4194304,t=1,p=1")},
		{"huge time", with(3, "m=1024,t=1000,p=1")},
		{"zero threads", with(3, "m=1024,t=1,p=0")},
		{"threads overflow", with(3, "m=1024,t=1,p=257")},
		{"unknown param", with(3, "m=1024,t=1,p=1,x=2")},
		{"missing param value", with(3, "m=1024,t,p=1")},
		{"bad salt", with(4, "!!!")},
		{"short salt", with(4, "AAAA")},
		{"bad key", with(5, "@@")},
		{"long key", with(5, strings.Repeat("A", 200))},
		{"extra field", good + "$x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := Verify(tc.hash, "pw")
			if ok || !errors.Is(err, errBadHash) {
				t.Errorf("got %v, %v; want false, %v", ok, err, errBadHash)
			}
		})
	}
}

func TestCanonicalName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"alice", "alice", true},
		{"Alice", "alice", true},
		{"bob.smith@example.com", "bob.smith@example.com", true},
		{"a_b-c", "a_b-c", true},
		{"", "", false},
		{".alice", "", false},
		{"al ice", "", false},
		{"ålice", "", false},
		{"a\nb", "", false},
		{strings.Repeat("a", 64), strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), "", false},
	} {
		got, err := CanonicalName(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("CanonicalName(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func newUser(t *testing.T, name, pw string) User {
	t.Helper()
	u, err := NewUser(name, pw, cheap, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestAuthenticate(t *testing.T) {
	a, err := Static([]User{newUser(t, "alice", "alice-pw")}, &Options{DummyParams: cheap})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name, user, pw string
		ok             bool
	}{
		{"right", "alice", "alice-pw", true},
		{"case-insensitive name", "ALICE", "alice-pw", true},
		{"wrong password", "alice", "alice-PW", false},
		{"unknown user", "mallory", "alice-pw", false},
		{"invalid name", "al ice", "alice-pw", false},
		{"empty password", "alice", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uid, prof, err := a.Authenticate(ctx, tc.user, tc.pw)
			if tc.ok {
				if err != nil || uid != "alice" || prof.Name != "alice" {
					t.Errorf("got %q, %+v, %v; want alice", uid, prof, err)
				}
				return
			}
			if err != auth.ErrInvalidCredentials || uid != "" {
				t.Errorf("got %q, %v; want \"\", auth.ErrInvalidCredentials itself", uid, err)
			}
		})
	}
}

// TestUnknownUserSameWork checks that an unknown user costs a full hash, as
// a wrong password does. Timing is noisy on shared machines, so it compares
// the fastest of a few runs of each, with a wide margin: a missing dummy
// hash would make the unknown user hundreds of times faster.
func TestUnknownUserSameWork(t *testing.T) {
	a, err := Static([]User{newUserParams(t, "alice", "alice-pw", DefaultParams)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fastest := func(user string) time.Duration {
		best := time.Hour
		for range 3 {
			start := time.Now()
			_, _, err := a.Authenticate(context.Background(), user, "guess")
			best = min(best, time.Since(start))
			if err != auth.ErrInvalidCredentials {
				t.Fatalf("%s: got %v, want auth.ErrInvalidCredentials", user, err)
			}
		}
		return best
	}
	wrong, unknown := fastest("alice"), fastest("mallory")
	if unknown < wrong/3 || unknown > wrong*3 {
		t.Errorf("unknown user took %v, wrong password %v: want about the same", unknown, wrong)
	}
}

func newUserParams(t *testing.T, name, pw string, p Params) User {
	t.Helper()
	u, err := NewUser(name, pw, p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestAuthenticateWaitsForSlot(t *testing.T) {
	a, err := Static(nil, &Options{MaxConcurrent: 1, DummyParams: cheap})
	if err != nil {
		t.Fatal(err)
	}
	a.sem <- struct{}{} // the only slot is busy
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err = a.Authenticate(ctx, "alice", "pw")
	if !errors.Is(err, context.Canceled) || errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("got %v, want context.Canceled (a 503, not a refused login)", err)
	}
}

func TestEditAndFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	// A file that exists with loose permissions is replaced by a 0600 one.
	if err := os.WriteFile(path, []byte(`{"format":"sesame-users/v1","users":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Edit(path, func(f *File) error { return f.Put(newUser(t, "Alice", "pw"), false) }); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("got mode %v, want 0600", got)
	}
	err = Edit(path, func(f *File) error { return f.Put(newUser(t, "alice", "pw2"), false) })
	if err == nil || !strings.Contains(err.Error(), `"alice" already exists`) {
		t.Errorf("adding an existing user: got %v, want already exists", err)
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	u, ok := f.Lookup("ALICE")
	if !ok || u.Name != "alice" {
		t.Fatalf("Lookup: got %+v, %v", u, ok)
	}
	if ok, _ := Verify(u.Hash, "pw"); !ok {
		t.Error("a failed Edit changed the stored password")
	}
	if err := Edit(path, func(f *File) error { return f.Put(newUser(t, "alice", "pw2"), true) }); err != nil {
		t.Fatal(err)
	}
	f, _ = Read(path)
	u2, _ := f.Lookup("alice")
	if ok, _ := Verify(u2.Hash, "pw2"); !ok || !u2.Created.Equal(u.Created) {
		t.Errorf("replace: got %+v; want new hash, same creation time %v", u2, u.Created)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %q left behind", e.Name())
		}
	}
}

func TestEditConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	proto := newUser(t, "x", "pw")
	var wg sync.WaitGroup
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for _, n := range names {
		wg.Go(func() {
			u := proto
			u.Name = n
			if err := Edit(path, func(f *File) error { return f.Put(u, false) }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Users) != len(names) {
		t.Errorf("got %d users, want %d: an edit was lost", len(f.Users), len(names))
	}
}

func TestReadRejects(t *testing.T) {
	h, _ := Hash("pw", cheap)
	for _, tc := range []struct{ name, body, want string }{
		{"not json", "nope", "not a users file"},
		{"wrong format", `{"format":"x","users":[]}`, "has format"},
		{"unknown field", `{"format":"sesame-users/v1","users":[],"admin":true}`, "not a users file"},
		{"uncanonical name", `{"format":"sesame-users/v1","users":[{"name":"Alice","hash":"` + h + `"}]}`, "invalid name"},
		{"duplicate", `{"format":"sesame-users/v1","users":[{"name":"a","hash":"` + h + `"},{"name":"a","hash":"` + h + `"}]}`, "appears twice"},
		{"bad hash", `{"format":"sesame-users/v1","users":[{"name":"a","hash":"$argon2id$secret"}]}`, "malformed password hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "users.json")
			os.WriteFile(path, []byte(tc.body), 0o600)
			_, err := Read(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q repeats the stored hash", err)
			}
		})
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	sesametest.WaitFor(t, 10*time.Millisecond, d, what, cond)
}

func TestReloadOnChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	if err := Edit(path, func(f *File) error { return f.Put(newUser(t, "alice", "alice-pw"), false) }); err != nil {
		t.Fatal(err)
	}
	a, err := Open(path, &Options{PollInterval: 10 * time.Millisecond, DummyParams: cheap})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	login := func(u, pw string) bool {
		_, _, err := a.Authenticate(context.Background(), u, pw)
		return err == nil
	}
	if !login("alice", "alice-pw") {
		t.Fatal("alice cannot log in")
	}

	// Adding bob and removing alice is seen without a restart.
	err = Edit(path, func(f *File) error {
		f.Remove("alice")
		return f.Put(newUser(t, "bob", "bob-pw"), false)
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "bob's login", func() bool { return login("bob", "bob-pw") })
	if login("alice", "alice-pw") {
		t.Error("removed user alice can still log in")
	}

	// A broken file keeps the last good users and is reported.
	if err := os.WriteFile(path, []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the reload error", func() bool { return a.Status().LastError != nil })
	if !login("bob", "bob-pw") {
		t.Error("a broken users file dropped the users in use")
	}
	if st := a.Status(); st.Users != 1 || st.Path != path {
		t.Errorf("status %+v: want 1 user from %s", st, path)
	}
}

func TestOpenMissing(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "nope.json"), &Options{DummyParams: cheap})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want not exist", err)
	}
}
