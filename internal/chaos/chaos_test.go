// Package chaos_test runs bounded load on two sesame nodes sharing one
// redis-server while the harness kills it, restarts it, and freezes it, and
// counts what users would have seen. Loopback only; about 30 s.
package chaos_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/revocation"
)

const bound = 2 * time.Second // replica staleness bound

type node struct {
	*sesametest.Node[string]
	name  string
	store revocation.Backend
	rep   *revocation.Replica
}

func newNode(t *testing.T, name string, rs *redistest.Server, ks *keys.Keyset) *node {
	sesametest.QuietRedis()
	// Fast failure: a deployment that prefers a quick 503 to a hanging request.
	rc := rs.Client(&redis.Options{DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond,
		WriteTimeout: 200 * time.Millisecond, MaxRetries: -1})
	store, err := revocation.NewRedis(rc, nil)
	if err != nil {
		t.Fatal(err)
	}
	authn := auth.AuthenticatorFunc[string](func(_ context.Context, u, p string) (string, string, error) {
		if p != "pw" {
			return "", "", auth.ErrInvalidCredentials
		}
		return "uid-" + u, u, nil
	})
	// Every node's keyset store holds the same fixed keyset: the chaos is
	// in Redis, not in keys.
	n := sesametest.StartNode[string](t, authn, &auth.Config[string]{
		Store: store, DataKey: []byte("chaos-test-data-key-32-bytes!!!!"),
		Replica: revocation.ReplicaOptions{StalenessBound: bound},
		Limits:  auth.Limits{LoginsPerAddress: -1, FailuresPerUser: -1, RefreshFailuresPerAddress: -1},
		Logger:  slog.New(slog.DiscardHandler),
	}, &sesametest.NodeOptions{Keys: ks})
	n.Srv.Client().Timeout = 5 * time.Second
	return &node{Node: n, name: name, store: store, rep: n.M.Parts().Replica}
}

// do sends a request in the header transport; an error is the transport's.
func (n *node) do(method, path, body string, hdr ...string) (sesametest.Response, error) {
	return n.Try(nil, method, path, body, append(sesametest.HeaderTransport(), hdr...)...)
}

func (n *node) login(user string) (sesametest.Tokens, bool) {
	a, err := n.do("POST", "/auth/login", sesametest.LoginBody(user, "pw"))
	if err != nil || a.Status != 200 {
		return sesametest.Tokens{}, false
	}
	var p sesametest.Tokens
	json.Unmarshal([]byte(a.Body), &p)
	return p, true
}

// counts are what the run observed.
type counts struct {
	requests, ok, unavailable      atomic.Int64
	refreshOK, refresh503          atomic.Int64
	refreshNoRetryAfter            atomic.Int64
	spurious401                    atomic.Int64 // a live session refused: a logout caused by the outage
	revocations                    atomic.Int64
	revokedProbes, revokedAccepted atomic.Int64 // after the bound
	transportErrors, otherStatuses atomic.Int64
}

func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos run takes ~30s")
	}
	rs := redistest.Start(t, &redistest.Options{Persistence: true})
	ks := sesametest.NewKeyset(t)
	a, b := newNode(t, "a", rs, ks), newNode(t, "b", rs, ks)
	nodes := []*node{a, b}
	waitUntil(t, 10*time.Second, func() bool { return !a.rep.Status().Stale && !b.rep.Status().Stale })

	var c counts
	// Families acknowledged (login or refresh answered 200) and never ended
	// on purpose: workers' and keepers'.
	var famMu sync.Mutex
	acked := map[string]bool{}
	ack := func(rt string) {
		if fid, ok := revocation.TokenFamilyID(rt); ok {
			famMu.Lock()
			acked[fid] = true
			famMu.Unlock()
		}
	}

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	const workers = 6
	for w := range workers {
		sess, ok := nodes[w%2].login("worker" + string(rune('a'+w)))
		if !ok {
			t.Fatal("initial login failed")
		}
		ack(sess.RefreshToken)
		paced(ctx, &wg, 20*time.Millisecond, func(i int) {
			n := nodes[(w+i)%2]
			if i%25 == 0 { // a refresh about every half second
				ans, err := n.do("POST", "/auth/refresh", sesametest.RefreshBody(sess.RefreshToken))
				switch {
				case err != nil:
					c.transportErrors.Add(1)
				case ans.Status == 200:
					c.refreshOK.Add(1)
					var p sesametest.Tokens
					json.Unmarshal([]byte(ans.Body), &p)
					sess = p
					ack(p.RefreshToken)
				case ans.Status == 503:
					c.refresh503.Add(1)
					if ans.Header.Get("Retry-After") == "" {
						c.refreshNoRetryAfter.Add(1)
					}
				case ans.Status == 401:
					c.spurious401.Add(1)
					t.Errorf("worker %d: refresh refused during chaos: %s", w, ans.Body)
				default:
					c.otherStatuses.Add(1)
				}
				return
			}
			c.requests.Add(1)
			ans, err := n.do("GET", "/app", "", sesametest.Bearer(sess.AccessToken)...)
			switch {
			case err != nil:
				c.transportErrors.Add(1)
			case ans.Status == 200:
				c.ok.Add(1)
			case ans.Status == 503:
				c.unavailable.Add(1)
			case ans.Status == 401:
				c.spurious401.Add(1)
				t.Errorf("worker %d: live session refused: %s", w, ans.Body)
			default:
				c.otherStatuses.Add(1)
			}
		})
	}

	// The revoker logs in on A and out on A; the prober replays the revoked
	// tokens on B. Past logout + bound, B must never accept one.
	type revoked struct {
		tok string
		at  time.Time
	}
	var revMu sync.Mutex
	var revokedList []revoked
	paced(ctx, &wg, 150*time.Millisecond, func(i int) {
		// A keeper session on B: one more family that must survive.
		if k, ok := b.login("keeper" + string(rune('a'+i%26))); ok {
			ack(k.RefreshToken)
		}
		p, ok := a.login("victim" + string(rune('a'+i%26)))
		if !ok {
			return
		}
		ans, err := a.do("POST", "/auth/logout", "", sesametest.Bearer(p.AccessToken)...)
		if err == nil && ans.Status == 204 {
			c.revocations.Add(1)
			revMu.Lock()
			revokedList = append(revokedList, revoked{p.AccessToken, time.Now()})
			revMu.Unlock()
		}
	})
	paced(ctx, &wg, 25*time.Millisecond, func(int) {
		revMu.Lock()
		list := revokedList[max(0, len(revokedList)-10):]
		revMu.Unlock()
		for _, r := range list {
			sent := time.Now()
			ans, err := b.do("GET", "/app", "", sesametest.Bearer(r.tok)...)
			if err != nil || sent.Before(r.at.Add(bound)) {
				continue
			}
			c.revokedProbes.Add(1)
			if ans.Status == 200 {
				c.revokedAccepted.Add(1)
				t.Errorf("revoked token accepted %v after its logout", sent.Sub(r.at))
			}
		}
	})

	catchUp := map[string]time.Duration{}
	lost := map[string]int{}
	recovered := func(fault string) {
		up := time.Now()
		waitUntil(t, 10*time.Second, func() bool {
			return rs.Client().Ping(context.Background()).Err() == nil
		})
		ready := time.Now()
		waitUntil(t, 10*time.Second, func() bool {
			return !a.rep.Status().Stale && a.rep.Status().Lag < bound && !b.rep.Status().Stale && b.rep.Status().Lag < bound
		})
		catchUp[fault] = time.Since(ready)
		if d := time.Since(ready); d > 2*time.Second {
			t.Errorf("%s: replicas caught up %v after Redis answered (restart took %v)", fault, d, ready.Sub(up))
		}
	}
	countLost := func(fault string) {
		famMu.Lock()
		ids := make([]string, 0, len(acked))
		for id := range acked {
			ids = append(ids, id)
		}
		famMu.Unlock()
		lost[fault] += 0
		for _, id := range ids {
			// Victims' families are ended on purpose; workers' must be there.
			if _, found, err := a.store.GetFamily(context.Background(), id); err == nil && !found {
				lost[fault]++
			}
		}
	}
	run := func(d time.Duration) { <-time.After(d) }

	run(2 * time.Second)
	countLost("before")

	rs.Kill()
	run(3 * time.Second)
	rs.Restart()
	recovered("kill+restart")
	countLost("kill+restart")
	run(3 * time.Second)

	rs.Pause()
	run(5 * time.Second)
	rs.Resume()
	recovered("pause 5s")
	countLost("pause 5s")
	run(3 * time.Second)

	rs.Kill()
	rs.Restart() // AOF appendfsync always: nothing acknowledged is lost
	recovered("kill+restart (AOF always)")
	countLost("kill+restart (AOF always)")
	run(3 * time.Second)

	stop()
	wg.Wait()

	t.Logf("requests %d: ok %d, 503 %d, other %d, transport errors %d",
		c.requests.Load(), c.ok.Load(), c.unavailable.Load(), c.otherStatuses.Load(), c.transportErrors.Load())
	t.Logf("refreshes: ok %d, 503 %d (without Retry-After %d)", c.refreshOK.Load(), c.refresh503.Load(), c.refreshNoRetryAfter.Load())
	t.Logf("logouts caused by the outage (401 to a live session): %d", c.spurious401.Load())
	t.Logf("revocations %d; replays past the bound %d, accepted %d", c.revocations.Load(), c.revokedProbes.Load(), c.revokedAccepted.Load())
	famMu.Lock()
	t.Logf("acknowledged families %d; lost: %v", len(acked), lost)
	famMu.Unlock()
	t.Logf("replica catch-up after Redis answered: %v", catchUp)

	if c.revokedAccepted.Load() != 0 || c.spurious401.Load() != 0 || c.refreshNoRetryAfter.Load() != 0 {
		t.Fatal("chaos invariants broken")
	}
	for fault, n := range lost {
		if n != 0 {
			t.Errorf("%s: %d acknowledged families lost", fault, n)
		}
	}
	if c.refresh503.Load() == 0 || c.unavailable.Load() == 0 || c.revokedProbes.Load() == 0 || c.ok.Load() == 0 {
		t.Fatal("the faults were not observed: the run proves nothing")
	}
}

func waitUntil(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	sesametest.WaitFor(t, 10*time.Millisecond, d, "", cond)
}

// paced runs step(0), step(1), … once per tick of every on a goroutine
// counted by wg, until ctx ends: a fixed offered load.
func paced(ctx context.Context, wg *sync.WaitGroup, every time.Duration, step func(i int)) {
	wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			step(i)
		}
	})
}
