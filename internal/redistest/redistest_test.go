package redistest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/internal/redistest"
)

func TestRestartKeepsDataWithPersistence(t *testing.T) {
	for _, tc := range []struct {
		name    string
		persist bool
		want    string
	}{
		{"persistence", true, "v"},
		{"no persistence", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			srv := redistest.Start(t, &redistest.Options{Persistence: tc.persist})
			c := srv.Client(&redis.Options{MaxRetries: -1})
			if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			addr := srv.Addr()
			srv.Kill()
			if err := c.Ping(ctx).Err(); err == nil {
				t.Fatal("PING answered after Kill")
			}
			srv.Restart()
			if srv.Addr() != addr {
				t.Fatalf("got addr %s after restart, want %s", srv.Addr(), addr)
			}
			got, err := c.Get(ctx, "k").Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %q after restart, want %q", got, tc.want)
			}
		})
	}
}

func TestPauseResume(t *testing.T) {
	srv := redistest.Start(t, nil)
	c := srv.Client(&redis.Options{ReadTimeout: 100 * time.Millisecond, MaxRetries: -1})
	srv.Pause()
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered while paused")
	}
	srv.Resume()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after resume: %v", err)
	}
}

func TestTwoServersAreIndependent(t *testing.T) {
	a, b := redistest.Start(t, nil), redistest.Start(t, nil)
	if a.Addr() == b.Addr() {
		t.Fatalf("both servers on %s", a.Addr())
	}
	ctx := context.Background()
	if err := a.Client().Set(ctx, "k", "a", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.Client().Exists(ctx, "k").Result(); n != 0 {
		t.Fatal("key written to a is visible in b")
	}
}
