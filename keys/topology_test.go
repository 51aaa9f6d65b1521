package keys

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/internal/redistest"
)

// The Redis storage tests on Redis Cluster and Sentinel. The keyset is one
// hash (one slot) and its change notice is a PUBLISH, which Cluster
// broadcasts to every node, so a subscriber connected anywhere hears it.

func TestClusterStorage(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, nil)
	runStorage(t, redisBackend{
		client: func() redis.UniversalClient { return c.ClusterClient() },
		fastClient: func() redis.UniversalClient {
			return c.ClusterClient(&redis.ClusterOptions{MaxRetries: -1, DialerRetries: 1, MaxRedirects: -1,
				DialTimeout: 200 * time.Millisecond})
		},
		kill: func() {
			for _, n := range c.Nodes() {
				n.Kill()
			}
		},
	})
}

func TestSentinelStorage(t *testing.T) {
	t.Parallel()
	sentinelStorage(t, func(s *redistest.Sentinel, o *redis.FailoverOptions) redis.UniversalClient {
		return s.FailoverClient(o)
	})
}

// TestSentinelStorageClusterClient runs the storage tests through go-redis'
// failover cluster client, which internal/redisurl builds for a Sentinel URL.
func TestSentinelStorageClusterClient(t *testing.T) {
	t.Parallel()
	sentinelStorage(t, func(s *redistest.Sentinel, o *redis.FailoverOptions) redis.UniversalClient {
		return s.FailoverClusterClient(o)
	})
}

func sentinelStorage(t *testing.T, newClient func(*redistest.Sentinel, *redis.FailoverOptions) redis.UniversalClient) {
	s := redistest.StartSentinel(t, nil)
	runStorage(t, redisBackend{
		client: func() redis.UniversalClient { return newClient(s, nil) },
		fastClient: func() redis.UniversalClient {
			return newClient(s, &redis.FailoverOptions{MaxRetries: -1, DialerRetries: 1, DialTimeout: 200 * time.Millisecond})
		},
		kill: func() {
			data, _ := s.Servers()
			for _, n := range data {
				n.Kill()
			}
		},
	})
}

// runStorage runs the storage tests in order; the outage test, which stops
// Redis, is last.
// Each starts from an empty Redis, as it would on its own server.
func runStorage(t *testing.T, rb redisBackend) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, redisBackend)
	}{
		{"two node propagation", testTwoNodePropagation},
		{"missed notice caught by poll", testMissedNoticeCaughtByPoll},
		{"rotators race", testRotatorsRace},
		{"outage keeps last good", testOutageKeepsLastGood},
	} {
		flushAll(t, rb.client())
		t.Run(tc.name, func(t *testing.T) { tc.run(t, rb) })
	}
}

func flushAll(t *testing.T, c redis.UniversalClient) {
	t.Helper()
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(t.Context(), func(ctx context.Context, m *redis.Client) error {
			return m.FlushAll(ctx).Err()
		})
	} else {
		err = c.FlushAll(t.Context()).Err()
	}
	if err != nil {
		t.Fatal(err)
	}
}
