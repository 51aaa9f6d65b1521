package redistest_test

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/internal/redistest"
)

func TestSlot(t *testing.T) {
	// A cluster-enabled server answers CLUSTER KEYSLOT even with no slots.
	srv := redistest.Start(t, &redistest.Options{Args: []string{"--cluster-enabled", "yes"}})
	c := srv.Client()
	for _, key := range []string{"", "foo", "{user1000}.following", "{}x", "a{b}c", "a{b", "{{a}}", "sesame:{dl}:events", "用户"} {
		want, err := c.ClusterKeySlot(context.Background(), key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := redistest.Slot(key); got != int(want) {
			t.Errorf("Slot(%q) = %d, want %d", key, got, want)
		}
	}
}

// waitGone polls until no process in pids exists.
func waitGone(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("process %d still exists after cleanup", pid)
			}
			<-tick.C
		}
	}
}

func TestClusterFailover(t *testing.T) {
	t.Parallel()
	var pids []int
	t.Run("cluster", func(t *testing.T) {
		ctx := context.Background()
		c := redistest.StartCluster(t, nil)
		pids = c.Pids()
		if len(pids) != 6 {
			t.Fatalf("got %d processes, want 6", len(pids))
		}
		cl := c.ClusterClient()
		for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
			if err := cl.Set(ctx, k, k, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		// Make sure the write reached the replica before the kill.
		m := c.MasterOf("a")
		if err := m.Client().Wait(ctx, 1, 2000).Err(); err != nil {
			t.Fatal(err)
		}
		killed := c.KillMasterOf("a")
		if killed != m {
			t.Fatalf("killed %s, want %s", killed.Addr(), m.Addr())
		}
		d, err := c.WaitFailover(0)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("failover after %v (cluster-node-timeout %v)", d, c.NodeTimeout())
		if nm := c.MasterOf("a"); nm == killed {
			t.Fatal("the killed node is still master")
		}
		// go-redis reloads its slot map on MOVED or every
		// ClusterStateReloadInterval (60s by default), not when a master
		// stops answering: ask it to.
		cl.ReloadState(ctx)
		if got, err := cl.Get(ctx, "a").Result(); err != nil || got != "a" {
			t.Fatalf("after failover: %q, %v", got, err)
		}
	})
	waitGone(t, pids)
}

func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	var pids []int
	t.Run("sentinel", func(t *testing.T) {
		ctx := context.Background()
		s := redistest.StartSentinel(t, nil)
		pids = s.Pids()
		if len(pids) != 5 {
			t.Fatalf("got %d processes, want 5", len(pids))
		}
		cl := s.FailoverClient(&redis.FailoverOptions{MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		if err := cl.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := cl.Wait(ctx, 1, 2000).Err(); err != nil {
			t.Fatal(err)
		}
		old := s.KillPrimary()
		d, err := s.WaitFailover(0)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("failover after %v", d)
		if s.Primary() == old {
			t.Fatal("the killed server is still primary")
		}
		var got string
		deadline := time.Now().Add(10 * time.Second)
		for {
			var err error
			got, err = cl.Get(ctx, "k").Result()
			if err == nil || errors.Is(err, redis.Nil) || time.Now().After(deadline) {
				break
			}
		}
		if got != "v" {
			t.Fatalf("after failover: got %q", got)
		}
	})
	waitGone(t, pids)
}
