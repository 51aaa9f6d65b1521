package redistest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/internal/redistest"
)

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

// replicasLeft checks what WaitFailover promises: the new master m (of key
// "a", on Cluster) has replicas-1 replicas online, so a write to it is
// confirmed by WAIT for that many; with one replica per master, none is left
// and WAIT 1 times out.
func replicasLeft(t *testing.T, m *redistest.Server, replicas int) {
	t.Helper()
	ctx := context.Background()
	c := m.Client()
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("connected_slaves:%d\r\n", replicas-1); !strings.Contains(info, want) {
		t.Fatalf("new master's INFO replication lacks %q:\n%s", want, info)
	}
	if err := c.Set(ctx, "{a}after", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if replicas == 1 {
		if n, err := c.Wait(ctx, 1, 100*time.Millisecond).Result(); err != nil || n != 0 {
			t.Fatalf("WAIT 1 on a master without replica: %d, %v; want 0", n, err)
		}
		return
	}
	if n, err := c.Wait(ctx, replicas-1, 5*time.Second).Result(); err != nil || n != int64(replicas-1) {
		t.Fatalf("WAIT %d: %d, %v", replicas-1, n, err)
	}
}

func TestClusterFailover(t *testing.T) {
	t.Parallel()
	for _, replicas := range []int{1, 2} {
		t.Run(fmt.Sprintf("replicas=%d", replicas), func(t *testing.T) {
			var pids []int
			t.Run("cluster", func(t *testing.T) {
				ctx := context.Background()
				opts := &redistest.ClusterOptions{Replicas: replicas}
				if replicas == 1 {
					opts = nil // the default
				}
				c := redistest.StartCluster(t, opts)
				pids = c.Pids()
				if want := 3 * (1 + replicas); len(pids) != want || len(c.Nodes()) != want {
					t.Fatalf("got %d processes, %d nodes, want %d", len(pids), len(c.Nodes()), want)
				}
				cl := c.ClusterClient()
				for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
					if err := cl.Set(ctx, k, k, 0).Err(); err != nil {
						t.Fatal(err)
					}
				}
				// Make sure the write reached every replica before the kill.
				m := c.MasterOf("a")
				if n, err := m.Client().Wait(ctx, replicas, 2*time.Second).Result(); err != nil || n != int64(replicas) {
					t.Fatalf("WAIT %d before the kill: %d, %v", replicas, n, err)
				}
				killed := c.KillMasterOf("a")
				if killed != m {
					t.Fatalf("killed %s, want %s", killed.Addr(), m.Addr())
				}
				promoted, err := c.WaitPromoted(0)
				if err != nil {
					t.Fatal(err)
				}
				synced, err := c.WaitFailover(0)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("promoted after %v, replicas in sync %v later (cluster-node-timeout %v)", promoted, synced, c.NodeTimeout())
				nm := c.MasterOf("a")
				if nm == killed {
					t.Fatal("the killed node is still master")
				}
				replicasLeft(t, nm, replicas)
				// go-redis reloads its slot map on MOVED or every
				// ClusterStateReloadInterval (60s by default), not when a master
				// stops answering: ask it to.
				cl.ReloadState(ctx)
				if got, err := cl.Get(ctx, "a").Result(); err != nil || got != "a" {
					t.Fatalf("after failover: %q, %v", got, err)
				}
			})
			waitGone(t, pids)
		})
	}
}

func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	for _, replicas := range []int{1, 2} {
		t.Run(fmt.Sprintf("replicas=%d", replicas), func(t *testing.T) {
			var pids []int
			t.Run("sentinel", func(t *testing.T) {
				ctx := context.Background()
				opts := &redistest.SentinelOptions{Replicas: replicas}
				if replicas == 1 {
					opts = nil // the default
				}
				s := redistest.StartSentinel(t, opts)
				pids = s.Pids()
				data, sentinels := s.Servers()
				if want := 1 + replicas + 3; len(pids) != want || len(data) != 1+replicas || len(sentinels) != 3 {
					t.Fatalf("got %d processes (%d data servers, %d Sentinels), want %d", len(pids), len(data), len(sentinels), want)
				}
				cl := s.FailoverClient(&redis.FailoverOptions{MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
				if err := cl.Set(ctx, "k", "v", 0).Err(); err != nil {
					t.Fatal(err)
				}
				if n, err := cl.Wait(ctx, replicas, 2*time.Second).Result(); err != nil || n != int64(replicas) {
					t.Fatalf("WAIT %d before the kill: %d, %v", replicas, n, err)
				}
				old := s.KillPrimary()
				promoted, err := s.WaitPromoted(0)
				if err != nil {
					t.Fatal(err)
				}
				synced, err := s.WaitFailover(0)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("promoted after %v, replicas in sync %v later", promoted, synced)
				p := s.Primary()
				if p == old {
					t.Fatal("the killed server is still primary")
				}
				replicasLeft(t, p, replicas)
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
		})
	}
}
