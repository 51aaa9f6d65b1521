package revocation

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// newSID returns a fresh session id as token.NewSessionID makes them: 128
// random bits, base64url (revocation does not import token).
func newSID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// unknownFamilyID returns a well-formed id of a family that does not exist.
func unknownFamilyID(userID string) string {
	fid, _ := DeriveFamilyID(userID, newSID())
	return fid
}

// backendConfig is what a contract test asks of a backend; zero fields mean
// the store's defaults.
type backendConfig struct {
	clock    *fakeClock
	grace    time.Duration
	lookback int
	entryTTL time.Duration
}

type backend struct {
	store Store
	// indexLen returns how many index entries (stale ones included) the
	// backend keeps for a user.
	indexLen func(userID string) int
}

// runContract runs every rule of the Store contract against a backend.
func runContract(t *testing.T, newBackend func(t *testing.T, cfg backendConfig) backend) {
	ctx := context.Background()
	setup := func(t *testing.T, cfg backendConfig) (backend, *fakeClock) {
		if cfg.clock == nil {
			cfg.clock = newFakeClock()
		}
		return newBackend(t, cfg), cfg.clock
	}
	mustRevoked := func(t *testing.T, s Store, sub Subject, want bool) {
		t.Helper()
		got, err := s.IsRevoked(ctx, sub)
		if err != nil {
			t.Fatalf("IsRevoked(%+v): %v", sub, err)
		}
		if got != want {
			t.Fatalf("IsRevoked(%+v) = %v, want %v", sub, got, want)
		}
	}
	newFam := func(t *testing.T, s Store, clk *fakeClock, user string) (Family, RefreshToken) {
		t.Helper()
		f, tok, err := s.CreateFamily(ctx, NewFamily{
			SessionID: newSID(), UserID: user,
			Data:           []byte("payload-0"),
			AbsoluteExpiry: clk.Now().Add(30 * 24 * time.Hour), IdleTimeout: 24 * time.Hour,
			UserAgent: "test-agent", IP: "192.0.2.1",
		})
		if err != nil {
			t.Fatalf("CreateFamily: %v", err)
		}
		return f, tok
	}
	refresh := func(t *testing.T, s Store, tok RefreshToken, wantReplayed bool) RefreshResult {
		t.Helper()
		res, err := s.Refresh(ctx, tok.Reveal())
		if err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		if res.Replayed != wantReplayed {
			t.Fatalf("Refresh: got Replayed %v, want %v", res.Replayed, wantReplayed)
		}
		return res
	}
	refreshErr := func(t *testing.T, s Store, tok string, want error) error {
		t.Helper()
		_, err := s.Refresh(ctx, tok)
		if !errors.Is(err, want) {
			t.Fatalf("Refresh: got error %v, want %v", err, want)
		}
		if err == nil || !strings.HasPrefix(err.Error(), "revocation: ") {
			t.Fatalf("error %q lacks the package prefix", err)
		}
		return err
	}
	generation := func(t *testing.T, s Store, fid string) uint64 {
		t.Helper()
		f, ok, err := s.GetFamily(ctx, fid)
		if err != nil || !ok {
			t.Fatalf("GetFamily: found %v, err %v", ok, err)
		}
		return f.Generation
	}

	t.Run("denylist session and token", func(t *testing.T) {
		b, clk := setup(t, backendConfig{entryTTL: time.Minute})
		s := b.store
		mustRevoked(t, s, Subject{SID: "s1", JTI: "j1"}, false)
		if err := s.RevokeSession(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeToken(ctx, "j2"); err != nil {
			t.Fatal(err)
		}
		mustRevoked(t, s, Subject{SID: "s1"}, true)
		mustRevoked(t, s, Subject{SID: "s2", JTI: "j2"}, true)
		mustRevoked(t, s, Subject{SID: "s2", JTI: "j1"}, false)
		mustRevoked(t, s, Subject{SID: "j2", JTI: "s1"}, false) // kinds do not mix
		mustRevoked(t, s, Subject{}, false)
		clk.Advance(59 * time.Second)
		mustRevoked(t, s, Subject{SID: "s1"}, true)
		clk.Advance(time.Second)
		mustRevoked(t, s, Subject{SID: "s1"}, false)
		mustRevoked(t, s, Subject{JTI: "j2"}, false)
	})

	t.Run("revoking again extends the entry", func(t *testing.T) {
		b, clk := setup(t, backendConfig{entryTTL: time.Minute})
		s := b.store
		_ = s.RevokeSession(ctx, "s1")
		clk.Advance(40 * time.Second)
		_ = s.RevokeSession(ctx, "s1")
		clk.Advance(40 * time.Second)
		mustRevoked(t, s, Subject{SID: "s1"}, true)
		clk.Advance(20 * time.Second)
		mustRevoked(t, s, Subject{SID: "s1"}, false)
	})

	t.Run("revoke user before", func(t *testing.T) {
		b, clk := setup(t, backendConfig{entryTTL: 10 * time.Minute})
		s := b.store
		t0 := clk.Now()
		if err := s.RevokeUser(ctx, "u1", t0); err != nil {
			t.Fatal(err)
		}
		mustRevoked(t, s, Subject{UserID: "u1", IssuedAt: t0.Add(-time.Millisecond)}, true)
		mustRevoked(t, s, Subject{UserID: "u1", IssuedAt: t0}, false)
		mustRevoked(t, s, Subject{UserID: "u2", IssuedAt: t0.Add(-time.Hour)}, false)
		// An earlier time never lowers the bar.
		if err := s.RevokeUser(ctx, "u1", t0.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		mustRevoked(t, s, Subject{UserID: "u1", IssuedAt: t0.Add(-time.Second)}, true)
		// A time long past revokes nothing that is still alive.
		if err := s.RevokeUser(ctx, "u3", t0.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		mustRevoked(t, s, Subject{UserID: "u3", IssuedAt: t0.Add(-2 * time.Hour)}, false)
		clk.Advance(10*time.Minute - time.Millisecond)
		mustRevoked(t, s, Subject{UserID: "u1", IssuedAt: t0.Add(-time.Millisecond)}, true)
		clk.Advance(time.Millisecond)
		mustRevoked(t, s, Subject{UserID: "u1", IssuedAt: t0.Add(-time.Millisecond)}, false)
	})

	t.Run("create family validates", func(t *testing.T) {
		b, clk := setup(t, backendConfig{})
		good := NewFamily{SessionID: newSID(), UserID: "u", AbsoluteExpiry: clk.Now().Add(time.Hour)}
		sid := good.SessionID
		for _, tc := range []struct {
			name string
			edit func(*NewFamily)
		}{
			{"no session", func(nf *NewFamily) { nf.SessionID = "" }},
			{"short session id", func(nf *NewFamily) { nf.SessionID = sid[:21] }},
			{"long session id", func(nf *NewFamily) { nf.SessionID = sid + "A" }},
			{"arbitrary session id", func(nf *NewFamily) { nf.SessionID = "sid.of.twenty.two.char" }},
			{"session id in std base64", func(nf *NewFamily) { nf.SessionID = "++++++++++++++++++++++" }},
			{"session id with spare bits", func(nf *NewFamily) { nf.SessionID = sid[:21] + "B" }},
			{"padded session id", func(nf *NewFamily) { nf.SessionID = sid[:20] + "==" }},
			{"no user", func(nf *NewFamily) { nf.UserID = "" }},
			{"past expiry", func(nf *NewFamily) { nf.AbsoluteExpiry = clk.Now() }},
			{"negative idle", func(nf *NewFamily) { nf.IdleTimeout = -1 }},
		} {
			nf := good
			tc.edit(&nf)
			_, _, err := b.store.CreateFamily(ctx, nf)
			switch {
			case err == nil:
				t.Errorf("%s: CreateFamily accepted it", tc.name)
			case errors.Is(err, ErrUnavailable) || !strings.HasPrefix(err.Error(), "revocation: "):
				t.Errorf("%s: got %v, want a validation error", tc.name, err)
			}
		}
		f, tok, err := b.store.CreateFamily(ctx, good)
		if err != nil {
			t.Fatal(err)
		}
		if want, ok := DeriveFamilyID("u", sid); !ok || f.ID != want || f.ID != userTag("u")+sid {
			t.Fatalf("family id %q, want DeriveFamilyID = %q (%v)", f.ID, want, ok)
		}
		if fid, ok := TokenFamilyID(tok.Reveal()); !ok || fid != f.ID {
			t.Fatalf("TokenFamilyID(token) = %q, %v; want %q", fid, ok, f.ID)
		}
		if got := fmt.Sprintf("%v %s %+v %#v", tok, tok, tok, tok); strings.Contains(got, tok.Reveal()) {
			t.Fatalf("formatting leaks the token: %s", got)
		}
	})

	t.Run("an existing family is never overwritten", func(t *testing.T) {
		b, clk := setup(t, backendConfig{})
		s := b.store
		nf := NewFamily{SessionID: newSID(), UserID: "uma", Data: []byte("payload-0"),
			AbsoluteExpiry: clk.Now().Add(24 * time.Hour), IdleTimeout: time.Hour, UserAgent: "test-agent", IP: "192.0.2.1"}
		// Racing creations of one session: exactly one wins.
		const n = 20
		var wg sync.WaitGroup
		fams, toks, errs := make([]Family, n), make([]RefreshToken, n), make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				fams[i], toks[i], errs[i] = s.CreateFamily(ctx, nf)
			})
		}
		close(start)
		wg.Wait()
		var f Family
		var tok RefreshToken
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
				f, tok = fams[i], toks[i]
			case !errors.Is(err, errFamilyExists) || errors.Is(err, ErrUnavailable):
				t.Fatalf("creation %d: got %v, want errFamilyExists", i, err)
			}
		}
		if won != 1 {
			t.Fatalf("%d creations of one session succeeded, want 1", won)
		}
		r1 := refresh(t, s, tok, false)
		if err := s.UpdateData(ctx, f.ID, []byte("payload-1")); err != nil {
			t.Fatal(err)
		}
		// Later attempts, with other data, change nothing either.
		clk.Advance(time.Minute)
		again := NewFamily{SessionID: nf.SessionID, UserID: "uma", Data: []byte("intruder"),
			AbsoluteExpiry: clk.Now().Add(48 * time.Hour), UserAgent: "other-agent", IP: "198.51.100.9"}
		for range 2 {
			if _, _, err := s.CreateFamily(ctx, again); !errors.Is(err, errFamilyExists) {
				t.Fatalf("CreateFamily over a live family: got %v, want errFamilyExists", err)
			}
		}
		got, ok, err := s.GetFamily(ctx, f.ID)
		if err != nil || !ok {
			t.Fatalf("GetFamily: found %v, err %v", ok, err)
		}
		if got.Generation != 1 || string(got.Data) != "payload-1" || !got.Created.Equal(f.Created) ||
			!got.AbsoluteExpiry.Equal(f.AbsoluteExpiry) || got.UserAgent != "test-agent" || got.IP != "192.0.2.1" {
			t.Fatalf("family changed by a refused creation: %+v", got)
		}
		if list, _ := s.ListFamilies(ctx, "uma"); len(list) != 1 || list[0].ID != f.ID {
			t.Fatalf("user index holds %d families, want the one", len(list))
		}
		mustRevoked(t, s, Subject{SID: f.SessionID}, false)
		// The chain is intact: the previous token replays, the current rotates.
		if r := refresh(t, s, tok, true); r.Token != r1.Token {
			t.Fatal("replay after refused creations gave another token")
		}
		if r := refresh(t, s, r1.Token, false); r.Family.Generation != 2 || string(r.Family.Data) != "payload-1" {
			t.Fatalf("rotation after refused creations: generation %d, payload %q", r.Family.Generation, r.Family.Data)
		}
	})

	t.Run("rotate and replay", func(t *testing.T) {
		b, clk := setup(t, backendConfig{})
		s := b.store
		f, t0 := newFam(t, s, clk, "alice")
		if f.Generation != 0 || f.UserAgent != "test-agent" || f.IP != "192.0.2.1" {
			t.Fatalf("created family %+v", f)
		}
		clk.Advance(time.Minute)
		r1 := refresh(t, s, t0, false)
		if r1.Token.Reveal() == t0.Reveal() || r1.Family.Generation != 1 || r1.Family.ID != f.ID {
			t.Fatalf("rotation gave generation %d, same token %v", r1.Family.Generation, r1.Token == t0)
		}
		if !bytes.Equal(r1.Family.Data, []byte("payload-0")) || r1.Family.SessionID != f.SessionID {
			t.Fatalf("rotation returned family %+v", r1.Family)
		}
		if !r1.Family.LastUsed.Equal(clk.Now().Truncate(time.Millisecond)) || !r1.Family.AbsoluteExpiry.Equal(f.AbsoluteExpiry) {
			t.Fatalf("times after rotation: last %v abs %v (was %v)", r1.Family.LastUsed, r1.Family.AbsoluteExpiry, f.AbsoluteExpiry)
		}
		r1b := refresh(t, s, t0, true)
		if r1b.Token != r1.Token || r1b.Family.Generation != 1 {
			t.Fatalf("replay gave a different token or generation %d", r1b.Family.Generation)
		}
		r2 := refresh(t, s, r1.Token, false)
		if r2.Family.Generation != 2 {
			t.Fatalf("got generation %d, want 2", r2.Family.Generation)
		}
	})

	t.Run("100 goroutines refresh one token", func(t *testing.T) {
		b, clk := setup(t, backendConfig{})
		s := b.store
		f, t0 := newFam(t, s, clk, "bob")
		const n = 100
		var wg sync.WaitGroup
		results := make([]RefreshResult, n)
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				results[i], errs[i] = s.Refresh(ctx, t0.Reveal())
			})
		}
		close(start)
		wg.Wait()
		fresh := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("caller %d: %v", i, errs[i])
			}
			if results[i].Token != results[0].Token {
				t.Fatalf("caller %d got a different token", i)
			}
			if !results[i].Replayed {
				fresh++
			}
		}
		if fresh != 1 {
			t.Fatalf("%d callers made a generation, want exactly 1", fresh)
		}
		if g := generation(t, s, f.ID); g != 1 {
			t.Fatalf("got generation %d, want 1", g)
		}
		mustRevoked(t, s, Subject{SID: f.SessionID}, false)
	})

	t.Run("lost answer then theft after grace", func(t *testing.T) {
		b, clk := setup(t, backendConfig{grace: 10 * time.Second})
		s := b.store
		f, t0 := newFam(t, s, clk, "carol")
		r1 := refresh(t, s, t0, false) // the answer is lost on the way
		clk.Advance(time.Hour)
		again := refresh(t, s, t0, true)
		if again.Token != r1.Token || again.Family.Generation != 1 {
			t.Fatal("an hour later the previous token did not return the same new token")
		}
		r2 := refresh(t, s, r1.Token, false) // the new token's first use
		clk.Advance(10*time.Second + time.Millisecond)
		err := refreshErr(t, s, t0.Reveal(), ErrReused)
		var re *ReuseError
		if !errors.As(err, &re) || re.FamilyID != f.ID || re.SessionID != f.SessionID || re.UserID != "carol" {
			t.Fatalf("got %#v, want a ReuseError naming the family", err)
		}
		mustRevoked(t, s, Subject{SID: f.SessionID}, true)
		refreshErr(t, s, r2.Token.Reveal(), ErrInvalidToken)
		if _, ok, _ := s.GetFamily(ctx, f.ID); ok {
			t.Fatal("family survived reuse")
		}
	})

	t.Run("grace window", func(t *testing.T) {
		b, clk := setup(t, backendConfig{grace: 10 * time.Second})
		s := b.store
		f, t0 := newFam(t, s, clk, "dave")
		r1 := refresh(t, s, t0, false)
		r2 := refresh(t, s, r1.Token, false)
		clk.Advance(10 * time.Second)
		// A second tab still holding t0 follows the chain within the window.
		a := refresh(t, s, t0, true)
		if a.Token != r1.Token {
			t.Fatal("t0 within grace did not return t1")
		}
		b2 := refresh(t, s, a.Token, true)
		if b2.Token != r2.Token || b2.Family.Generation != 2 {
			t.Fatal("t1 did not return t2")
		}
		clk.Advance(time.Millisecond)
		refreshErr(t, s, t0.Reveal(), ErrReused)
		mustRevoked(t, s, Subject{SID: f.SessionID}, true)
	})

	t.Run("older token is theft", func(t *testing.T) {
		b, clk := setup(t, backendConfig{})
		s := b.store
		f, t0 := newFam(t, s, clk, "erin")
		tok := t0
		for range 5 {
			tok = refresh(t, s, tok, false).Token
		}
		refreshErr(t, s, t0.Reveal(), ErrReused)
		mustRevoked(t, s, Subject{SID: f.SessionID}, true)
		refreshErr(t, s, tok.Reveal(), ErrInvalidToken)
	})

	t.Run("reuse lookback bounds the walk", func(t *testing.T) {
		b, clk := setup(t, backendConfig{lookback: 2})
		s := b.store
		f, t0 := newFam(t, s, clk, "frank")
		tok := t0
		for range 5 {
			tok = refresh(t, s, tok, false).Token
		}
		refreshErr(t, s, t0.Reveal(), ErrInvalidToken) // too old to recognise
		if g := generation(t, s, f.ID); g != 5 {
			t.Fatalf("got generation %d, want 5", g)
		}
		mustRevoked(t, s, Subject{SID: f.SessionID}, false)
		refresh(t, s, tok, false)
	})

	t.Run("without the reuse walk an old token is only invalid", func(t *testing.T) {
		b, clk := setup(t, backendConfig{})
		s := b.store
		f, t0 := newFam(t, s, clk, "frank")
		tok := t0
		for range 5 {
			tok = refresh(t, s, tok, false).Token
		}
		if _, err := s.Refresh(WithoutReuseWalk(context.Background()), t0.Reveal()); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("old token without the walk: got %v, want ErrInvalidToken", err)
		}
		mustRevoked(t, s, Subject{SID: f.SessionID}, false)
		// The current token still rotates under the same context.
		if _, err := s.Refresh(WithoutReuseWalk(context.Background()), tok.Reveal()); err != nil {
			t.Fatalf("current token without the walk: %v", err)
		}
		refreshErr(t, s, t0.Reveal(), ErrReused) // with the walk: theft, as before
	})

	t.Run("forged tokens change nothing", func(t *testing.T) {
		b, clk := setup(t, backendConfig{})
		s := b.store
		f, t0 := newFam(t, s, clk, "grace")
		r1 := refresh(t, s, t0, false)
		other, _ := newFam(t, s, clk, "mallory")
		tokText := r1.Token.Reveal()
		flip := []byte(tokText)
		flip[len(flip)-2] ^= 1
		forged := []string{
			"", "x", strings.Repeat("a", tokenLen), tokText + "A", tokText[:tokenLen-1],
			string(flip),
			f.ID + "." + strings.Repeat("A", secretB64),      // right family, wrong secret
			other.ID + tokText[familyIDLen:],                 // another family, this secret
			unknownFamilyID("grace") + tokText[familyIDLen:], // unknown family
			strings.Replace(tokText, ".", "-", 1),            // bad format
			tokText[:familyIDLen] + "." + tokText[familyIDLen+1:tokenLen-1] + "!",
		}
		for _, tok := range forged {
			refreshErr(t, s, tok, ErrInvalidToken)
		}
		if g := generation(t, s, f.ID); g != 1 {
			t.Fatalf("got generation %d after forgeries, want 1", g)
		}
		mustRevoked(t, s, Subject{SID: f.SessionID}, false)
		refresh(t, s, r1.Token, false)
		refresh(t, s, t0, true) // still within grace: the chain is intact
	})

	t.Run("idle expiry slides", func(t *testing.T) {
		b, clk := setup(t, backendConfig{})
		s := b.store
		f, tok, err := s.CreateFamily(ctx, NewFamily{SessionID: newSID(), UserID: "henry",
			AbsoluteExpiry: clk.Now().Add(24 * time.Hour), IdleTimeout: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			clk.Advance(9 * time.Minute)
			tok = refresh(t, s, tok, false).Token
		}
		clk.Advance(10 * time.Minute)
		refreshErr(t, s, tok.Reveal(), ErrExpired)
		if _, ok, _ := s.GetFamily(ctx, f.ID); ok {
			t.Fatal("expired family still found")
		}
	})

	t.Run("absolute expiry never moves", func(t *testing.T) {
		b, clk := setup(t, backendConfig{})
		s := b.store
		abs := clk.Now().Add(time.Hour)
		_, tok, err := s.CreateFamily(ctx, NewFamily{SessionID: newSID(), UserID: "ivy",
			AbsoluteExpiry: abs, IdleTimeout: 30 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			clk.Advance(25 * time.Minute)
			r := refresh(t, s, tok, false)
			if !r.Family.AbsoluteExpiry.Equal(abs) {
				t.Fatalf("absolute expiry moved to %v", r.Family.AbsoluteExpiry)
			}
			if want := abs; !r.Family.Expires().Equal(want) && !r.Family.Expires().Before(want) {
				t.Fatalf("Expires %v after absolute %v", r.Family.Expires(), abs)
			}
			tok = r.Token
		}
		clk.Advance(10 * time.Minute) // 60m: at the absolute expiry
		refreshErr(t, s, tok.Reveal(), ErrExpired)
	})

	t.Run("expired family answers expired to its holder only", func(t *testing.T) {
		b, clk := setup(t, backendConfig{})
		s := b.store
		f, tok := newFam(t, s, clk, "jack")
		clk.Advance(25 * time.Hour)
		refreshErr(t, s, f.ID+"."+strings.Repeat("A", secretB64), ErrInvalidToken)
		refreshErr(t, s, tok.Reveal(), ErrExpired)
		refreshErr(t, s, tok.Reveal(), ErrInvalidToken) // gone now
	})

	t.Run("update payload", func(t *testing.T) {
		b, clk := setup(t, backendConfig{})
		s := b.store
		f, tok := newFam(t, s, clk, "kate")
		if err := s.UpdateData(ctx, f.ID, []byte("payload-1")); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := s.GetFamily(ctx, f.ID); string(got.Data) != "payload-1" {
			t.Fatalf("GetFamily payload %q", got.Data)
		}
		r := refresh(t, s, tok, false)
		if string(r.Family.Data) != "payload-1" {
			t.Fatalf("refresh payload %q", r.Family.Data)
		}
		if err := s.RevokeFamily(ctx, f.ID); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{f.ID, "nonsense", unknownFamilyID("kate")} {
			if err := s.UpdateData(ctx, id, nil); !errors.Is(err, ErrNotFound) {
				t.Fatalf("UpdateData(%q): got %v, want ErrNotFound", id, err)
			}
		}
	})

	t.Run("list families prunes lazily", func(t *testing.T) {
		b, clk := setup(t, backendConfig{})
		s := b.store
		f1, _ := newFam(t, s, clk, "liam")
		clk.Advance(time.Millisecond)
		f2, _ := newFam(t, s, clk, "liam")
		clk.Advance(time.Millisecond)
		f3, _, err := s.CreateFamily(ctx, NewFamily{SessionID: newSID(), UserID: "liam",
			AbsoluteExpiry: clk.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		newFam(t, s, clk, "mia")
		got, err := s.ListFamilies(ctx, "liam")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || got[0].ID != f1.ID || got[1].ID != f2.ID || got[2].ID != f3.ID {
			t.Fatalf("got %d families, want f1 f2 f3 in creation order", len(got))
		}
		if got[0].UserAgent != "test-agent" || got[0].SessionID != f1.SessionID {
			t.Fatalf("listed family lacks metadata: %+v", got[0])
		}
		if err := s.RevokeFamily(ctx, f2.ID); err != nil {
			t.Fatal(err)
		}
		// An ended family leaves the index at once (a user who logs in and
		// out all day must not grow it until the absolute expiry) ...
		if n := b.indexLen("liam"); n != 2 {
			t.Fatalf("index holds %d entries after RevokeFamily, want 2 (f1 f3)", n)
		}
		clk.Advance(2 * time.Hour) // f3 is past its absolute expiry
		// ... an expired one when it is next listed.
		if n := b.indexLen("liam"); n != 2 {
			t.Fatalf("index holds %d entries before listing, want 2 (expired families are pruned lazily)", n)
		}
		got, err = s.ListFamilies(ctx, "liam")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != f1.ID {
			t.Fatalf("got %v, want only f1", got)
		}
		if n := b.indexLen("liam"); n != 1 {
			t.Fatalf("index holds %d entries after listing, want 1", n)
		}
		if got, _ := s.ListFamilies(ctx, "nobody"); len(got) != 0 {
			t.Fatalf("unknown user has %d families", len(got))
		}
	})

	t.Run("revoke family", func(t *testing.T) {
		b, clk := setup(t, backendConfig{})
		s := b.store
		f, tok := newFam(t, s, clk, "noah")
		if err := s.RevokeFamily(ctx, f.ID); err != nil {
			t.Fatal(err)
		}
		mustRevoked(t, s, Subject{SID: f.SessionID}, true)
		refreshErr(t, s, tok.Reveal(), ErrInvalidToken)
		for _, id := range []string{f.ID, "", "bad"} {
			if err := s.RevokeFamily(ctx, id); err != nil {
				t.Fatalf("RevokeFamily(%q) again: %v", id, err)
			}
		}
	})

	t.Run("revoke all families", func(t *testing.T) {
		b, clk := setup(t, backendConfig{})
		s := b.store
		f1, t1 := newFam(t, s, clk, "olga")
		clk.Advance(time.Millisecond)
		f2, t2 := newFam(t, s, clk, "olga")
		olgas := []Family{f1, f2}
		keep, t3 := newFam(t, s, clk, "pete")
		issued := clk.Now()
		clk.Advance(time.Second)
		if err := s.RevokeAllFamilies(ctx, "olga"); err != nil {
			t.Fatal(err)
		}
		refreshErr(t, s, t1.Reveal(), ErrInvalidToken)
		refreshErr(t, s, t2.Reveal(), ErrInvalidToken)
		mustRevoked(t, s, Subject{UserID: "olga", IssuedAt: issued}, true)
		// Each ended family's session id is denylisted too, so its tokens are
		// refused even when their issue time does not precede revoked-before
		// (same instant, frozen or skewed clocks).
		for _, f := range olgas {
			mustRevoked(t, s, Subject{SID: f.SessionID, UserID: "olga", IssuedAt: clk.Now().Add(time.Hour)}, true)
		}
		mustRevoked(t, s, Subject{UserID: "pete", IssuedAt: issued}, false)
		if got, _ := s.ListFamilies(ctx, "olga"); len(got) != 0 {
			t.Fatalf("%d families survive", len(got))
		}
		refresh(t, s, t3, false)
		if _, ok, _ := s.GetFamily(ctx, keep.ID); !ok {
			t.Fatal("another user's family ended")
		}
		clk.Advance(time.Millisecond)
		f, tok := newFam(t, s, clk, "olga") // logging in again works
		refresh(t, s, tok, false)
		mustRevoked(t, s, Subject{UserID: "olga", SID: f.SessionID, IssuedAt: clk.Now()}, false)
	})

	t.Run("find session", func(t *testing.T) {
		b, clk := setup(t, backendConfig{})
		s := b.store
		var fams []Family
		for _, u := range []string{"quin", "rosa", "quin", "sami"} {
			f, _ := newFam(t, s, clk, u)
			fams = append(fams, f)
			clk.Advance(time.Millisecond)
		}
		for _, want := range fams {
			got, ok, err := s.FindSession(ctx, want.SessionID)
			if err != nil || !ok || got.ID != want.ID || got.UserID != want.UserID {
				t.Fatalf("FindSession(%q) = %+v, %v, %v; want family %s", want.SessionID, got, ok, err, want.ID)
			}
		}
		for _, sid := range []string{"", "no-such-session", "*"} {
			if _, ok, err := s.FindSession(ctx, sid); ok || err != nil {
				t.Fatalf("FindSession(%q) found %v, err %v", sid, ok, err)
			}
		}
		if err := s.RevokeFamily(ctx, fams[0].ID); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := s.FindSession(ctx, fams[0].SessionID); ok || err != nil {
			t.Fatalf("an ended session was found (err %v)", err)
		}
		clk.Advance(31 * 24 * time.Hour)
		if _, ok, err := s.FindSession(ctx, fams[1].SessionID); ok || err != nil {
			t.Fatalf("an expired session was found (err %v)", err)
		}
	})
}
