package revocation

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/internal/redistest"
)

var prefixSeq atomic.Int64

// uniquePrefix isolates tests that share one redis-server.
func uniquePrefix() string { return fmt.Sprintf("t%d:", prefixSeq.Add(1)) }

func TestRedisContract(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	client := srv.Client()
	for _, noPipe := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoAutoPipeline=%v", noPipe), func(t *testing.T) {
			runContract(t, func(t *testing.T, cfg backendConfig) backend {
				s, err := newRedis(client, &RedisOptions{KeyPrefix: uniquePrefix(), EntryTTL: cfg.entryTTL,
					GraceWindow: cfg.grace, ReuseLookback: cfg.lookback, Now: cfg.clock.Now, NoAutoPipeline: noPipe})
				if err != nil {
					t.Fatal(err)
				}
				if (s.batch == nil) != noPipe {
					t.Fatalf("NoAutoPipeline %v, batcher %v", noPipe, s.batch)
				}
				return backend{store: s, indexLen: func(userID string) int {
					n, err := client.ZCard(context.Background(), s.idxKey(userID)).Result()
					if err != nil {
						t.Fatal(err)
					}
					return int(n)
				}}
			})
		})
	}
}

func TestRedisOptions(t *testing.T) {
	srv := redistest.Start(t, nil)
	if _, err := newRedis(srv.Client(), &RedisOptions{KeyPrefix: "a{b}:"}); err == nil {
		t.Error("a prefix with braces was accepted")
	}
	if _, err := newRedis(nil, nil); err == nil {
		t.Error("a nil client was accepted")
	}
	s, err := newRedis(srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.c.entryTTL != DefaultEntryTTL || s.c.grace != DefaultGraceWindow || s.prefix != "sesame:" {
		t.Errorf("defaults: %+v prefix %q", s.c, s.prefix)
	}
}

// TestRedisKeysShareSlots checks the cluster layout: a family and its user's
// index hash to one slot; the denylist and its stream to another.
func TestRedisKeysShareSlots(t *testing.T) {
	// A cluster-enabled server answers CLUSTER KEYSLOT even with no slots.
	srv := redistest.Start(t, &redistest.Options{Args: []string{"--cluster-enabled", "yes"}})
	s, err := newRedis(srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := srv.Client()
	slot := func(key string) int64 {
		n, err := c.ClusterKeySlot(context.Background(), key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, user := range []string{"alice", "bob", "用户", "{weird}"} {
		fid, _ := DeriveFamilyID(user, newSID())
		if a, b := slot(s.famKey(fid)), slot(s.idxKey(user)); a != b {
			t.Errorf("user %q: family slot %d, index slot %d", user, a, b)
		}
	}
	dl := slot(s.eventsKey())
	for _, k := range []string{"sid", "jti", "user", "ubefore"} {
		if got := slot(s.dl + k); got != dl {
			t.Errorf("%s in slot %d, stream in %d", k, got, dl)
		}
	}
}

func TestRedisUnavailable(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := srv.Client(&redis.Options{MaxRetries: -1, DialerRetries: 1, DialTimeout: 100 * time.Millisecond,
		ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond})
	s, err := newRedis(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f, tok, err := s.CreateFamily(ctx, NewFamily{SessionID: newSID(), UserID: "u", AbsoluteExpiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	ops := unavailableOps(ctx, s, f, tok, "0-0")
	srv.Pause()
	checkUnavailable(t, ops, "paused")
	srv.Resume()
	srv.Kill()
	checkUnavailable(t, ops, "down")
	srv.Restart()
	// Nothing was lost or half-applied: the server had no persistence, so the
	// family is simply gone, and the store works again.
	if _, err := s.Refresh(ctx, tok.Reveal()); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("after restart: %v", err)
	}
}

func TestRedisEntriesExpireInRedis(t *testing.T) {
	srv := redistest.Start(t, nil)
	ctx := context.Background()
	// The store's clock is injected, so expiry does not depend on how fast
	// this (possibly loaded) machine runs the next command.
	clk := newFakeClock()
	s, err := newRedis(srv.Client(), &RedisOptions{EntryTTL: time.Minute, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(59 * time.Second)
	if ok, err := s.IsRevoked(ctx, Subject{SID: "s1"}); err != nil || !ok {
		t.Fatalf("revoked within its TTL: got %v, %v", ok, err)
	}
	clk.Advance(2 * time.Second)
	if ok, err := s.IsRevoked(ctx, Subject{SID: "s1"}); err != nil || ok {
		t.Fatalf("past its TTL: got revoked=%v, %v", ok, err)
	}
	// The next write prunes the expired member from Redis itself.
	if err := s.RevokeSession(ctx, "s2"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Client().ZScore(ctx, s.dl+"sid", "s1").Err(); err != redis.Nil {
		t.Fatalf("expired entry still stored after a later write (%v)", err)
	}
}

// startRedisStore starts a redis-server for t and a store on it, and
// returns a client that writes under the store's feet.
func startRedisStore(t *testing.T) (*redisStore, *redis.Client) {
	t.Helper()
	srv := redistest.Start(t, nil)
	s, err := newRedis(srv.Client(), &RedisOptions{KeyPrefix: uniquePrefix()})
	if err != nil {
		t.Fatal(err)
	}
	return s, srv.Client()
}

// TestRedisIsRevokedReportsEveryCommandError: IsRevoked asks Redis several
// things in one pipeline; a pipeline reports only its first failed command,
// which may be a harmless "not found". An error on any other command must
// still fail the check (ErrUnavailable), never read as "not revoked".
func TestRedisIsRevokedReportsEveryCommandError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c := startRedisStore(t)
	// The token denylist key holds a string: ZSCORE on it answers WRONGTYPE,
	// while the session lookup before it answers "not found".
	if err := c.Set(ctx, s.dl+"jti", "not a zset", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []Subject{
		{SID: "sid-x", JTI: "jti-x"},
		{SID: "sid-x", JTI: "jti-x", UserID: "u"},
		{JTI: "jti-x"},
	} {
		revoked, err := s.IsRevoked(ctx, sub)
		if !errors.Is(err, ErrUnavailable) || revoked {
			t.Errorf("IsRevoked(%+v) = %v, %v; want ErrUnavailable", sub, revoked, err)
		}
	}

	// "Log out everywhere" reads each family's session id in one pipeline:
	// the first family is gone ("not found"), the second's session id
	// cannot be read. Deleting the families now would leave that session's
	// access tokens valid, so the call must fail and delete nothing.
	gone, _ := DeriveFamilyID("u", newSID())
	broken, _ := DeriveFamilyID("u", newSID())
	if err := c.ZAdd(ctx, s.idxKey("u"), redis.Z{Score: 1, Member: gone}, redis.Z{Score: 2, Member: broken}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, s.famKey(broken), "not a hash", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAllFamilies(ctx, "u"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("RevokeAllFamilies = %v; want ErrUnavailable", err)
	}
	if n, err := c.ZCard(ctx, s.idxKey("u")).Result(); err != nil || n != 2 {
		t.Fatalf("after the failed RevokeAllFamilies the index holds %d families (%v), want both", n, err)
	}
}

// TestRedisSnapshotSkipsUserWithoutBefore: Snapshot reads the user
// denylist and the revoked-before hash in two steps; a user found in the
// first but gone from the second (the data set was flushed or replaced in
// between) is not reported as a revocation of everything before 1970.
func TestRedisSnapshotSkipsUserWithoutBefore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c := startRedisStore(t)
	before := time.Now().Add(-time.Second).Truncate(time.Millisecond)
	if err := s.RevokeUser(ctx, "kept", before); err != nil {
		t.Fatal(err)
	}
	exp := float64(time.Now().Add(time.Hour).UnixMilli())
	if err := c.ZAdd(ctx, s.dl+"user", redis.Z{Score: exp, Member: "orphan"}).Err(); err != nil {
		t.Fatal(err)
	}
	got := map[string]Entry{}
	if _, err := s.Snapshot(ctx, func(e Entry) { got[e.ID] = e }); err != nil {
		t.Fatal(err)
	}
	if e, ok := got["kept"]; !ok || e.Kind != KindUser || !e.Before.Equal(before) {
		t.Errorf("kept: %+v (present %v), want a user entry revoking before %v", e, ok, before)
	}
	if e, ok := got["orphan"]; ok {
		t.Errorf("a user with no revoked-before was reported: %+v", e)
	}
}
