package revocation_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/revocation"
)

// FuzzRefreshToken feeds arbitrary refresh tokens to [revocation.TokenFamilyID]
// and to a memory store's Refresh, as they arrive from a client. Properties:
//
//   - FamilyID never panics, and accepts only the documented shape
//     ("<24 base64url>.<43 base64url>", 68 bytes), returning its prefix;
//   - Refresh with anything but a genuine token answers ErrInvalidToken and
//     changes nothing: not even a garbled secret spliced onto the seedToken family
//     id (the forged-logout attack) ends the session or moves its generation;
//   - the genuine chain still works afterwards.
//
// The seed corpus is below and in testdata/fuzz/FuzzRefreshToken.
func FuzzRefreshToken(f *testing.F) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	ctx := context.Background()

	// A seedToken token shape for the seeds (the fuzz body makes its own store).
	seedStore, err := revocation.NewMemory(&revocation.MemoryOptions{Now: clock})
	if err != nil {
		f.Fatal(err)
	}
	_, rt, err := seedStore.CreateFamily(ctx, revocation.NewFamily{SessionID: "c2Vzc2lvbi1zZWVkLTAwMQ", UserID: "u", AbsoluteExpiry: now.Add(time.Hour)})
	if err != nil {
		f.Fatal(err)
	}
	seedToken := rt.Reveal()
	for _, s := range []string{
		seedToken,
		"",
		".",
		seedToken[:24],
		seedToken[:25],
		seedToken + "=",
		seedToken[:67],
		seedToken + "A",
		strings.ToUpper(seedToken),
		strings.Replace(seedToken, ".", "~", 1),
		strings.Replace(seedToken, "-", "+", -1),
		seedToken[:24] + "." + strings.Repeat("A", 43),
		seedToken[:24] + "." + strings.Repeat("_", 43),
		seedToken[:24] + "." + strings.Repeat("A", 42) + "B", // spare bits set
		strings.Repeat(".", 68),
		strings.Repeat("\x00", 68),
		"eyJhbGciOiJFZERTQSJ9.e30.sig",
	} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, s string) {
		if id, ok := revocation.TokenFamilyID(s); ok {
			if len(s) != 68 || s[24] != '.' || id != s[:24] || !b64url(s[:24]) || !b64url(s[25:]) {
				t.Fatalf("FamilyID accepted %q as %q", s, id)
			}
		}

		store, err := revocation.NewMemory(&revocation.MemoryOptions{Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		fam, rt0, err := store.CreateFamily(ctx, revocation.NewFamily{SessionID: fuzzSID, UserID: "uid", AbsoluteExpiry: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		// Two rotations, so that prev and p2 exist and the ancestor walk runs.
		r1, err := store.Refresh(ctx, rt0.Reveal())
		if err != nil {
			t.Fatal(err)
		}
		r2, err := store.Refresh(ctx, r1.Token.Reveal())
		if err != nil {
			t.Fatal(err)
		}
		genuine := map[string]bool{rt0.Reveal(): true, r1.Token.Reveal(): true, r2.Token.Reveal(): true}

		tries := []string{s}
		if len(s) >= 24 {
			tries = append(tries, fam.ID+s[24:]) // the victim's family id, the attacker's secret
		}
		for _, try := range tries {
			if genuine[try] {
				continue // 2¹²⁸ odds; nothing to check
			}
			if _, err := store.Refresh(ctx, try); !errors.Is(err, revocation.ErrInvalidToken) {
				t.Fatalf("Refresh(%q): %v, want ErrInvalidToken", try, err)
			}
		}
		got, found, err := store.GetFamily(ctx, fam.ID)
		if err != nil || !found || got.Generation != 2 {
			t.Fatalf("family changed by garbage: found=%v gen=%d err=%v", found, got.Generation, err)
		}
		if revoked, _ := store.IsRevoked(ctx, revocation.Subject{SID: fuzzSID}); revoked {
			t.Fatal("garbage denylisted the session")
		}
		if res, err := store.Refresh(ctx, r2.Token.Reveal()); err != nil || res.Replayed {
			t.Fatalf("genuine token after garbage: %v (replayed %v)", err, res.Replayed)
		}
	})
}

// fuzzSID is the victim's session id: base64url("session-fuzz-001"). Fixed,
// so every fuzz worker builds the same store.
const fuzzSID = "c2Vzc2lvbi1mdXp6LTAwMQ"

func b64url(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
