package revocation

import (
	"context"
	"testing"
	"time"
)

// TestJournalRepublishesToMemory runs the journal over the memory store's
// feed and republishes into a fresh store: what the second store then
// answers is exactly the live part of the first.
func TestJournalRepublishesToMemory(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	src, err := newMemory(&MemoryOptions{Now: clk.Now, EntryTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	j := NewJournal(src, clk.Now)
	before := clk.Now().Add(-time.Minute)
	src.RevokeSession(ctx, "s1")
	src.RevokeToken(ctx, "j1")
	src.RevokeUser(ctx, "u1", before)
	src.RevokeUser(ctx, "u1", before.Add(-time.Hour)) // never lowers
	cursor, err := j.Snapshot(ctx, func(Entry) {})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(50 * time.Minute)
	src.RevokeSession(ctx, "s2")
	if _, _, err := j.Read(ctx, cursor, 0); err != nil {
		t.Fatal(err)
	}
	if n := j.Len(); n != 4 {
		t.Fatalf("journal holds %d live entries, want 4", n)
	}
	early, _ := newMemory(&MemoryOptions{Now: clk.Now, EntryTTL: time.Hour})
	if n, err := j.Republish(ctx, early); err != nil || n != 4 {
		t.Fatalf("republished %d (%v), want 4", n, err)
	}
	for _, c := range []struct {
		s    Subject
		want bool
	}{
		{Subject{SID: "s1"}, true},
		{Subject{SID: "s2"}, true},
		{Subject{JTI: "j1"}, true},
		{Subject{UserID: "u1", IssuedAt: before.Add(-time.Second)}, true},
		{Subject{UserID: "u1", IssuedAt: before.Add(time.Second)}, false},
	} {
		if got, err := early.IsRevoked(ctx, c.s); err != nil || got != c.want {
			t.Errorf("early %+v: revoked=%v (%v), want %v", c.s, got, err, c.want)
		}
	}
	clk.Advance(11 * time.Minute) // s1, j1 and u1 (before+1h) have expired
	dst, err := newMemory(&MemoryOptions{Now: clk.Now, EntryTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	n, err := j.Republish(ctx, dst)
	if err != nil || n != 1 {
		t.Fatalf("republished %d (%v), want only s2", n, err)
	}
	for _, c := range []struct {
		s    Subject
		want bool
	}{
		{Subject{SID: "s2"}, true},
		{Subject{SID: "s1"}, false},
		{Subject{JTI: "j1"}, false},
		{Subject{UserID: "u1", IssuedAt: before.Add(-time.Second)}, false},
	} {
		if got, err := dst.IsRevoked(ctx, c.s); err != nil || got != c.want {
			t.Errorf("%+v: revoked=%v (%v), want %v", c.s, got, err, c.want)
		}
	}
}
