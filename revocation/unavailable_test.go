package revocation

import (
	"context"
	"errors"
	"testing"
	"time"
)

// unavailableOps is every Store and Feed call of s, on family f (whose live
// refresh token is tok) and at feed cursor, for the tests that take a
// backend away: each call must then fail with ErrUnavailable, not hang and
// not half-apply.
func unavailableOps(ctx context.Context, s interface {
	Store
	Feed
}, f Family, tok RefreshToken, cursor string) map[string]func() error {
	return map[string]func() error{
		"RevokeSession": func() error { return s.RevokeSession(ctx, "s") },
		"RevokeToken":   func() error { return s.RevokeToken(ctx, "j") },
		"RevokeUser":    func() error { return s.RevokeUser(ctx, f.UserID, time.Now()) },
		"IsRevoked":     func() error { _, err := s.IsRevoked(ctx, Subject{SID: "s", UserID: f.UserID}); return err },
		"CreateFamily": func() error {
			_, _, err := s.CreateFamily(ctx, NewFamily{SessionID: newSID(), UserID: f.UserID, AbsoluteExpiry: time.Now().Add(time.Hour)})
			return err
		},
		"Refresh":           func() error { _, err := s.Refresh(ctx, tok.Reveal()); return err },
		"UpdateData":        func() error { return s.UpdateData(ctx, f.ID, nil) },
		"GetFamily":         func() error { _, _, err := s.GetFamily(ctx, f.ID); return err },
		"FindSession":       func() error { _, _, err := s.FindSession(ctx, f.SessionID); return err },
		"ListFamilies":      func() error { _, err := s.ListFamilies(ctx, f.UserID); return err },
		"RevokeFamily":      func() error { return s.RevokeFamily(ctx, f.ID) },
		"RevokeAllFamilies": func() error { return s.RevokeAllFamilies(ctx, f.UserID) },
		"Snapshot":          func() error { _, err := s.Snapshot(ctx, func(Entry) {}); return err },
		"Resume":            func() error { return s.Resume(ctx, cursor) },
		"Read":              func() error { _, _, err := s.Read(ctx, cursor, time.Millisecond); return err },
	}
}

// checkUnavailable fails t for each of ops that does not fail with
// ErrUnavailable while the backend is in state.
func checkUnavailable(t *testing.T, ops map[string]func() error, state string) {
	t.Helper()
	for name, op := range ops {
		if err := op(); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s while %s: got %v, want ErrUnavailable", name, state, err)
		}
	}
}
