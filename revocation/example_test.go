package revocation_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sesame-go/sesame/revocation"
)

// The memory store is a whole revocation backend for a single process.
func ExampleNewMemory() {
	ctx := context.Background()
	store, err := revocation.NewMemory(nil)
	if err != nil {
		panic(err)
	}
	// The session id is the access tokens' sid: 128 random bits, base64url,
	// from token.NewSessionID (fixed here so the output is stable).
	const sid = "c2Vzc2lvbi1leGFtcGxlMQ"
	fam, token, err := store.CreateFamily(ctx, revocation.NewFamily{
		SessionID:      sid,
		UserID:         "alice",
		Data:           []byte(`sealed payload`),
		AbsoluteExpiry: time.Now().Add(30 * 24 * time.Hour),
		IdleTimeout:    7 * 24 * time.Hour,
		UserAgent:      "Firefox",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("token prints as", token)

	first, _ := store.Refresh(ctx, token.Reveal())
	fmt.Println("generation", first.Family.Generation, "replayed", first.Replayed)

	// The answer was lost: the client retries with the same token and gets
	// the same new token, with no new generation.
	retry, _ := store.Refresh(ctx, token.Reveal())
	fmt.Println("same token", retry.Token == first.Token, "replayed", retry.Replayed)

	// Logging out ends the family and puts its session on the denylist.
	_ = store.RevokeFamily(ctx, fam.ID)
	revoked, _ := store.IsRevoked(ctx, revocation.Subject{SID: sid})
	fmt.Println("session revoked", revoked)
	_, err = store.Refresh(ctx, first.Token.Reveal())
	fmt.Println(err)
	// Output:
	// token prints as REDACTED_REFRESH_TOKEN
	// generation 1 replayed false
	// same token true replayed true
	// session revoked true
	// revocation: invalid refresh token
}

// Reusing a rotated token after the grace window is treated as theft.
func ExampleReuseError() {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	store, _ := revocation.NewMemory(&revocation.MemoryOptions{Now: func() time.Time { return now }})
	const sid = "c2Vzc2lvbi1leGFtcGxlMg" // from token.NewSessionID
	_, t0, _ := store.CreateFamily(ctx, revocation.NewFamily{
		SessionID: sid, UserID: "bob", AbsoluteExpiry: now.Add(time.Hour),
	})
	r1, _ := store.Refresh(ctx, t0.Reveal())
	_, _ = store.Refresh(ctx, r1.Token.Reveal()) // the new token's first use
	now = now.Add(revocation.DefaultGraceWindow + time.Second)

	_, err := store.Refresh(ctx, t0.Reveal())
	var reuse *revocation.ReuseError
	if errors.As(err, &reuse) {
		fmt.Println("theft: session", reuse.SessionID, "of user", reuse.UserID)
	}
	revoked, _ := store.IsRevoked(ctx, revocation.Subject{SID: sid})
	fmt.Println("session revoked", revoked)
	// Output:
	// theft: session c2Vzc2lvbi1leGFtcGxlMg of user bob
	// session revoked true
}

// A replica answers the per-request check from memory. A memoryStore is a
// feed, so a single process uses the same path as a fleet on Redis.
func ExampleReplica() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, _ := revocation.NewMemory(nil)
	replica, _ := revocation.NewReplica(store, nil) // fail closed after 5s of staleness
	_ = store.RevokeUser(ctx, "carol", time.Now())

	go replica.Run(ctx)
	<-replica.Ready() // the first snapshot holds the revocation written before it
	revoked, err := replica.Check(revocation.Subject{UserID: "carol", IssuedAt: time.Now().Add(time.Minute)})
	fmt.Println(revoked, err, replica.Status().Policy)
	// Output: false <nil> fail-closed
}
