package keys

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

var testPolicy = RotationPolicy{PublishDelay: 10 * time.Minute, MaxTokenLifetime: time.Hour, Leeway: time.Minute}

func mustInit(t *testing.T) *Keyset {
	t.Helper()
	ks, err := Init(t0)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func countStates(ks *Keyset) map[State]int {
	n := map[State]int{}
	for _, k := range ks.Keys() {
		n[k.State()]++
	}
	return n
}

func TestInit(t *testing.T) {
	ks := mustInit(t)
	if ks.Version() != uint64(t0.Unix()) {
		t.Errorf("version = %d, want %d (the creation time)", ks.Version(), t0.Unix())
	}
	if got := countStates(ks); got[Active] != 1 || got[Pending] != 1 || len(ks.Keys()) != 2 {
		t.Errorf("states = %v, want one active and one pending", got)
	}
}

func TestRotate(t *testing.T) {
	ks := mustInit(t)
	active, _ := ks.Signer()
	pend := ks.pending()

	t.Run("before the publish delay", func(t *testing.T) {
		_, err := ks.Rotate(testPolicy, t0.Add(9*time.Minute))
		if !errors.Is(err, ErrTooEarly) {
			t.Fatalf("got %v, want ErrTooEarly", err)
		}
	})

	now := t0.Add(10 * time.Minute)
	next, err := ks.Rotate(testPolicy, now)
	if err != nil {
		t.Fatal(err)
	}
	if next.Version() != ks.Version()+1 {
		t.Errorf("version = %d, want %d", next.Version(), ks.Version()+1)
	}
	signer, _ := next.Signer()
	if signer.ID() != pend.ID() || !signer.Activated().Equal(now) {
		t.Errorf("signer = %v activated %v, want the pending key %s activated at %v", signer, signer.Activated(), pend.ID(), now)
	}
	old, _ := next.Key(active.ID())
	if old.State() != VerifyOnly || !old.Deactivated().Equal(now) {
		t.Errorf("old active is %v deactivated %v", old.State(), old.Deactivated())
	}
	if want := now.Add(time.Hour + time.Minute); !old.RetiresAt().Equal(want) {
		t.Errorf("retires at %v, want %v", old.RetiresAt(), want)
	}
	if _, err := next.Verifier(active.ID()); err != nil {
		t.Errorf("old active key must still verify: %v", err)
	}
	if got := countStates(next); got[Pending] != 1 || got[Active] != 1 || got[VerifyOnly] != 1 {
		t.Errorf("states = %v", got)
	}
	if k, _ := ks.Key(active.ID()); k.State() != Active {
		t.Error("Rotate modified its receiver")
	}
	// Rotating again at once is refused: the new pending key is brand new.
	if _, err := next.Rotate(testPolicy, now); !errors.Is(err, ErrTooEarly) {
		t.Errorf("second rotation: got %v, want ErrTooEarly", err)
	}
}

func TestRotateWithoutPending(t *testing.T) {
	a := mustGen(t).withState(Active, t0)
	ks, _ := NewKeyset(4, a)
	next, err := ks.Rotate(testPolicy, t0)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := next.Signer(); s != a || next.pending() == nil || next.Version() != 5 {
		t.Fatalf("got %v signer %v; want a pending key added and %v still active", next, s, a)
	}
}

func TestRevoke(t *testing.T) {
	ks := mustInit(t)
	ks, _ = ks.Rotate(testPolicy, t0.Add(time.Hour))
	var vo, act, pend *Key
	for _, k := range ks.Keys() {
		switch k.State() {
		case VerifyOnly:
			vo = k
		case Active:
			act = k
		case Pending:
			pend = k
		}
	}
	now := t0.Add(2 * time.Hour)

	t.Run("verify-only", func(t *testing.T) {
		next, err := ks.Revoke(vo.ID(), now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := next.Verifier(vo.ID()); !errors.Is(err, ErrKeyRevoked) {
			t.Errorf("Verifier = %v, want ErrKeyRevoked", err)
		}
		again, err := next.Revoke(vo.ID(), now)
		if err != nil || again != next {
			t.Errorf("revoking twice: %v, %v; want the same keyset", again, err)
		}
	})
	t.Run("pending is replaced", func(t *testing.T) {
		next, err := ks.Revoke(pend.ID(), now)
		if err != nil {
			t.Fatal(err)
		}
		if p := next.pending(); p == nil || p.ID() == pend.ID() {
			t.Errorf("pending = %v, want a new pending key", p)
		}
		if _, err := next.Rotate(testPolicy, now); !errors.Is(err, ErrTooEarly) {
			t.Errorf("rotation right after replacing the pending key: %v, want ErrTooEarly", err)
		}
	})
	t.Run("active needs force", func(t *testing.T) {
		if _, err := ks.Revoke(act.ID(), now); !errors.Is(err, ErrActiveKey) {
			t.Fatalf("got %v, want ErrActiveKey", err)
		}
		next, err := ks.ForceRevoke(act.ID(), now)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := next.Signer()
		if s.ID() != pend.ID() {
			t.Errorf("signer = %v, want the pending key %s promoted", s, pend.ID())
		}
		if _, err := next.Verifier(act.ID()); !errors.Is(err, ErrKeyRevoked) {
			t.Errorf("Verifier(revoked active) = %v", err)
		}
		if next.pending() == nil {
			t.Error("no pending key after forced revocation")
		}
	})
	t.Run("active without pending", func(t *testing.T) {
		lone, _ := NewKeyset(1, act)
		next, err := lone.ForceRevoke(act.ID(), now)
		if err != nil {
			t.Fatal(err)
		}
		if s, _ := next.Signer(); s == nil || s.ID() == act.ID() {
			t.Errorf("signer = %v", s)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		if _, err := ks.Revoke("nope", now); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("got %v, want ErrUnknownKey", err)
		}
	})
}

func TestPrune(t *testing.T) {
	ks := mustInit(t)
	rot := t0.Add(time.Hour)
	ks, _ = ks.Rotate(testPolicy, rot)
	retention := testPolicy.MaxTokenLifetime + testPolicy.Leeway

	same, err := ks.Prune(testPolicy, rot.Add(retention-time.Second))
	if err != nil || same != ks {
		t.Fatalf("prune before retention: %v, %v; want the same keyset", same, err)
	}
	// A pruner with a shorter policy still waits for the recorded retention.
	short := RotationPolicy{PublishDelay: time.Minute, MaxTokenLifetime: time.Minute}
	if same, _ := ks.Prune(short, rot.Add(10*time.Minute)); same != ks {
		t.Fatal("a shorter policy pruned a key before its recorded retention")
	}
	next, err := ks.Prune(testPolicy, rot.Add(retention))
	if err != nil {
		t.Fatal(err)
	}
	if got := countStates(next); got[VerifyOnly] != 0 || len(next.Keys()) != 2 || next.Version() != ks.Version()+1 {
		t.Fatalf("after prune: %v %v", next, got)
	}

	// Revoked keys stay until their tokens have expired, so they are
	// reported as revoked rather than unknown.
	p := next.pending()
	rev, _ := next.Revoke(p.ID(), rot)
	if same, _ := rev.Prune(testPolicy, rot.Add(time.Minute)); same != rev {
		t.Error("revoked key pruned early")
	}
	if after, _ := rev.Prune(testPolicy, rot.Add(retention)); after.Version() == rev.Version() {
		t.Error("revoked key past retention not pruned")
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name string
		p    RotationPolicy
		ok   bool
	}{
		{"zero", RotationPolicy{}, true},
		{"no delay", RotationPolicy{PublishDelay: -1}, true},
		{"rotate faster than publish", RotationPolicy{PublishDelay: time.Hour, RotateEvery: time.Minute}, false},
		{"max-age too long", RotationPolicy{PublishDelay: time.Minute, JWKSMaxAge: time.Minute}, false},
		{"negative lifetime", RotationPolicy{MaxTokenLifetime: -time.Second}, false},
		{"auto rotation off", RotationPolicy{RotateEvery: -1}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.p.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	d := RotationPolicy{}.withDefaults()
	if d.JWKSMaxAge != 5*time.Minute || d.PublishDelay != 10*time.Minute {
		t.Errorf("defaults: %+v", d)
	}
}

// testToken is a minimal signed token made with the keys alone: the message
// binds the kid and the expiry, as a JWS header and claims would.
type testToken struct {
	kid string
	exp time.Time
	msg []byte
	sig []byte

	checkedPub ed25519.PublicKey // the key sigOK was computed with
	sigOK      bool
}

func mint(t *testing.T, ks *Keyset, now time.Time, life time.Duration, n uint64) testToken {
	t.Helper()
	k, err := ks.Signer()
	if err != nil {
		t.Fatal(err)
	}
	exp := now.Add(life)
	msg := fmt.Appendf(nil, "%s|%d|", k.ID(), exp.Unix())
	msg = binary.BigEndian.AppendUint64(msg, n)
	return testToken{kid: k.ID(), exp: exp, msg: msg, sig: ed25519.Sign(k.SigningKey(), msg)}
}

// verify is what a verifier does with a keyset: find the key by kid, check
// the signature with its public key, check the expiry.
func verify(ks *Keyset, tok *testToken, now time.Time) bool {
	k, err := ks.Verifier(tok.kid)
	if err != nil {
		return false
	}
	// Key material never changes, so the signature check is done once per
	// token and public key (it dominates the run time under -race).
	if tok.checkedPub == nil || !tok.checkedPub.Equal(k.PublicKey()) {
		tok.sigOK = ed25519.Verify(k.PublicKey(), tok.msg, tok.sig)
		tok.checkedPub = k.PublicKey()
	}
	return tok.sigOK && now.Before(tok.exp)
}

// TestLifecycleProperty runs random sequences of rotate, revoke, forced
// revoke, prune and clock advances, minting a token after each step, and
// checks after each step that every token ever minted verifies exactly when
// its key was not revoked and it has not expired — that is, no rotation or
// prune ever cuts a token short, and revocation takes effect at once — plus
// the keyset invariants.
func TestLifecycleProperty(t *testing.T) {
	t.Parallel()
	seeds := 60
	if testing.Short() {
		seeds = 10
	}
	steps := []time.Duration{0, time.Second, time.Minute, 9 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour, 61 * time.Minute, 3 * time.Hour}
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 0x5e5a))
		now := t0
		ks := mustInit(t)
		revoked := map[string]bool{}
		var toks []testToken
		var trace []string
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("seed %d after %v: %s", seed, trace, fmt.Sprintf(format, args...))
		}
		for step := range 60 {
			prev := ks
			var op string
			switch r := rng.IntN(20); {
			case r < 6:
				op = "rotate"
				pend := ks.pending()
				next, err := ks.Rotate(testPolicy, now)
				switch {
				case errors.Is(err, ErrTooEarly):
					if now.Sub(pend.Created()) >= testPolicy.PublishDelay {
						fail("rotation refused though the pending key is %v old", now.Sub(pend.Created()))
					}
				case err != nil:
					fail("rotate: %v", err)
				default:
					s, _ := next.Signer()
					if pend != nil && (s.ID() != pend.ID() || now.Sub(s.Created()) < testPolicy.PublishDelay) {
						fail("activated %v created %v at %v: before the publish delay", s, s.Created(), now)
					}
					ks = next
				}
			case r < 8:
				keys := ks.Keys()
				k := keys[rng.IntN(len(keys))]
				op = "revoke " + k.State().String()
				next, err := ks.Revoke(k.ID(), now)
				if k.State() == Active {
					if !errors.Is(err, ErrActiveKey) {
						fail("revoking the active key without force: %v", err)
					}
					break
				}
				if err != nil {
					fail("revoke: %v", err)
				}
				revoked[k.ID()] = true
				ks = next
			case r < 9:
				op = "force-revoke active"
				s, _ := ks.Signer()
				next, err := ks.ForceRevoke(s.ID(), now)
				if err != nil {
					fail("force revoke: %v", err)
				}
				revoked[s.ID()] = true
				ks = next
			case r < 13:
				op = "prune"
				next, err := ks.Prune(testPolicy, now)
				if err != nil {
					fail("prune: %v", err)
				}
				ks = next
			default:
				d := steps[rng.IntN(len(steps))]
				op = "advance " + d.String()
				now = now.Add(d)
			}
			trace = append(trace, op)

			// Invariants of every keyset the lifecycle produces.
			if ks != prev && ks.Version() <= prev.Version() {
				fail("version went from %d to %d", prev.Version(), ks.Version())
			}
			if n := countStates(ks); n[Active] != 1 || n[Pending] != 1 {
				fail("states %v: want exactly one active and one pending", n)
			}
			published := map[string]bool{}
			for _, j := range ks.JWKS().Keys {
				published[j.KID] = true
			}
			for _, k := range ks.Keys() {
				if published[k.ID()] != k.State().Published() {
					fail("key %v published=%v", k, published[k.ID()])
				}
			}

			life := time.Duration(1+rng.IntN(int(testPolicy.MaxTokenLifetime/time.Second))) * time.Second
			toks = append(toks, mint(t, ks, now, life, uint64(step)))
			for i := range toks {
				tok := &toks[i]
				want := !revoked[tok.kid] && now.Before(tok.exp)
				if got := verify(ks, tok, now); got != want {
					k, ok := ks.Key(tok.kid)
					fail("token by %s (key %v, present %v) exp %v at %v: verifies=%v, want %v", tok.kid, k, ok, tok.exp, now, got, want)
				}
				if want {
					if k, _ := ks.Key(tok.kid); !k.State().CanVerify() {
						fail("live token's key is %v", k.State())
					}
				}
			}
		}
	}
}
