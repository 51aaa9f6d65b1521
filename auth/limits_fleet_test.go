package auth_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
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

// clientHeader names the header from which the fleet tests' ClientIP reads
// the client address, so one test can speak from many addresses.
const clientHeader = "X-Test-Client"

// gate is an Authenticator that holds every password check of a burst until
// each request of the burst has either reached it or been refused, so that
// all the guesses a limiter lets through are in flight at once: the shape of
// BUG-2, where checks that read "under the limit" were counted only after.
type gate struct {
	mu       sync.Mutex
	total    int // requests in the burst; 0: no burst, nothing held
	arrived  int
	refused  int
	released chan struct{}
	checks   atomic.Int64 // password checks of wrong passwords
}

func (g *gate) burst(n int) {
	g.mu.Lock()
	g.total, g.arrived, g.refused, g.released = n, 0, 0, make(chan struct{})
	g.mu.Unlock()
}

func (g *gate) step(arrived, refused int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.arrived += arrived
	g.refused += refused
	if g.total > 0 && g.arrived+g.refused == g.total {
		close(g.released)
		g.total = 0
	}
}

func (g *gate) Authenticate(ctx context.Context, u, p string) (string, Profile, error) {
	if want, ok := testUsers[u]; ok && want == p {
		return "uid-" + u, Profile{Name: u}, nil
	}
	g.checks.Add(1)
	g.mu.Lock()
	held := g.total > 0
	rel := g.released
	g.mu.Unlock()
	if held {
		g.step(1, 0)
		select {
		case <-rel:
		case <-ctx.Done():
		case <-time.After(20 * time.Second): // a deadline, not a wait: a broken gate fails the test instead of hanging
		}
	}
	return "", Profile{}, auth.ErrInvalidCredentials
}

// fleet is three Managers made by auth.Open over one Redis deployment,
// each behind its own server: three nodes of one fleet.
type fleet struct {
	t     *testing.T
	nodes []*httptest.Server
	ms    []*auth.Manager[Profile]
	authn *gate
}

func newFleet(t *testing.T, client func() redis.UniversalClient, tweak func(*auth.Config[Profile])) *fleet {
	t.Helper()
	mkb := make([]byte, 32)
	rand.Read(mkb)
	mk, err := keys.NewMasterKey(mkb)
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{t: t, authn: &gate{}}
	prefix := fmt.Sprintf("fleet%d:", time.Now().UnixNano())
	ks := keys.NewMemoryStore(nil) // one keyset for the fleet, apart from other tests on the same Redis
	for range 3 {
		cfg := &auth.Config[Profile]{
			KeyStore: ks,
			Redis:    revocation.RedisOptions{KeyPrefix: prefix},
			Replica:  revocation.ReplicaOptions{StalenessBound: 5 * time.Second},
			Logger:   slog.New(slog.DiscardHandler),
			ClientIP: func(r *http.Request) string { return r.Header.Get(clientHeader) },
			// The machine running the tests may be loaded: a slow answer
			// must not look like an outage.
			Limits: auth.Limits{Timeout: 10 * time.Second},
		}
		if tweak != nil {
			tweak(cfg)
		}
		n := sesametest.OpenNode(t, client(), mk, auth.Authenticator[Profile](f.authn), cfg, &sesametest.NodeOptions{Timeout: 20 * time.Second, TLS: true})
		f.nodes, f.ms = append(f.nodes, n.Srv), append(f.ms, n.M)
	}
	return f
}

// post sends a JSON POST to node i (mod 3) from client address ip; hdr adds
// header pairs.
func (f *fleet) post(i int, ip, path, body string, hdr ...string) sesametest.Response {
	f.t.Helper()
	srv := f.nodes[i%len(f.nodes)]
	return sesametest.Send(f.t, srv.Client(), "POST", srv.URL+path, body, append([]string{clientHeader, ip}, hdr...)...)
}

func (f *fleet) loginH(i int, ip, user, pw string, extra ...string) sesametest.Response {
	f.t.Helper()
	return f.post(i, ip, "/auth/login", sesametest.LoginBody(user, pw, extra...), "X-Session-Transport", "header")
}

func want429(t *testing.T, r sesametest.Response, what string) {
	t.Helper()
	if r.Status != 429 || r.ErrorCode(t) != auth.CodeRateLimited || r.Header.Get("Retry-After") == "" {
		t.Fatalf("%s: got %d %s (Retry-After %q), want 429 rate_limited with Retry-After", what, r.Status, r.Body, r.Header.Get("Retry-After"))
	}
}

// TestFleetLimits: every limit is one budget for the fleet, on one Redis
// and on a Redis Cluster: whichever node a request reaches, and however
// many requests run at once.
func TestFleetLimits(t *testing.T) {
	t.Parallel()
	single := redistest.Start(t, nil)
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		fleetLimits(t, func() redis.UniversalClient { return single.Client() })
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		c := redistest.StartCluster(t, nil)
		fleetLimits(t, func() redis.UniversalClient {
			return c.ClusterClient(&redis.ClusterOptions{ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second})
		})
	})
}

func fleetLimits(t *testing.T, client func() redis.UniversalClient) {
	f := newFleet(t, client, nil)
	n := 0 // spreads requests over the nodes
	next := func() int { n++; return n }
	// Two sessions made before any lockout, for the refresh cases.
	session := func(user string) sesametest.Tokens {
		r := f.loginH(next(), "192.0.2.250", user, testUsers[user])
		if r.Status != 200 {
			t.Fatalf("login %s: %d %s", user, r.Status, r.Body)
		}
		var tk sesametest.Tokens
		r.JSON(t, &tk)
		return tk
	}
	natTk, outTk := session("alice"), session("bob")

	t.Run("one address across nodes", func(t *testing.T) {
		ip := "192.0.2.1"
		for i := range 20 { // 20 attempts per address, for as many usernames
			if r := f.loginH(next(), ip, fmt.Sprintf("nobody%d", i), "x"); r.Status != 401 {
				t.Fatalf("attempt %d: %d %s", i+1, r.Status, r.Body)
			}
		}
		for i := range 3 {
			want429(t, f.loginH(next(), ip, "someone-else", "x"), fmt.Sprintf("attempt 21 on node %d", i))
		}
	})

	t.Run("one username across addresses and nodes", func(t *testing.T) {
		for i := range 10 {
			if r := f.loginH(next(), fmt.Sprintf("198.51.100.%d", i+1), "carol", "wrong"); r.Status != 401 {
				t.Fatalf("failure %d: %d %s", i+1, r.Status, r.Body)
			}
		}
		want429(t, f.loginH(next(), "198.51.100.200", "carol", "wrong"), "11th failure from a new address")
		want429(t, f.loginH(next(), "198.51.100.201", "CAROL", "wrong"), "11th failure in other case")
	})

	t.Run("concurrent burst (BUG-2)", func(t *testing.T) {
		// Five addresses, 20 wrong passwords each for one username, all at
		// once over the three nodes: exactly 10 password checks.
		const addrs, each = 5, 20
		before := f.authn.checks.Load()
		f.authn.burst(addrs * each)
		var wg sync.WaitGroup
		var ok401, ok429 atomic.Int64
		for a := range addrs {
			for j := range each {
				wg.Go(func() {
					r := f.loginH(a*each+j, fmt.Sprintf("203.0.113.%d", a+1), "dave", "guess")
					switch r.Status {
					case 401:
						ok401.Add(1)
					case 429:
						ok429.Add(1)
						f.authn.step(0, 1)
					default:
						t.Errorf("got %d %s", r.Status, r.Body)
						f.authn.step(0, 1)
					}
				})
			}
		}
		wg.Wait()
		if got := f.authn.checks.Load() - before; got != 10 || ok401.Load() != 10 || ok429.Load() != addrs*each-10 {
			t.Fatalf("%d password checks, %d 401, %d 429; want 10, 10, %d", got, ok401.Load(), ok429.Load(), addrs*each-10)
		}
	})

	t.Run("IPv6 per /64", func(t *testing.T) {
		for i := range 20 {
			ip := fmt.Sprintf("2001:db8:1:2:%x::%x", i+1, i+7) // a new /128 of one /64 each time
			if r := f.loginH(next(), ip, fmt.Sprintf("v6user%d", i), "x"); r.Status != 401 {
				t.Fatalf("attempt %d: %d %s", i+1, r.Status, r.Body)
			}
		}
		want429(t, f.loginH(next(), "2001:db8:1:2:ffff:ffff:ffff:ffff", "v6-other", "x"), "21st attempt from the /64")
		if r := f.loginH(next(), "2001:db8:1:3::1", "v6-other", "x"); r.Status != 401 {
			t.Fatalf("the next /64 is another network: %d %s", r.Status, r.Body)
		}
	})

	t.Run("device token during a lockout (W7)", func(t *testing.T) {
		// Alice logs in on her phone (header transport) and her laptop
		// (cookie transport), each getting a device token.
		r := f.loginH(next(), "192.0.2.50", "alice", "alice-pw")
		if r.Status != 200 {
			t.Fatalf("login: %d %s", r.Status, r.Body)
		}
		var tk struct {
			DeviceToken string `json:"device_token"`
		}
		r.JSON(t, &tk)
		if tk.DeviceToken == "" {
			t.Fatalf("no device_token in %s", r.Body)
		}
		r = f.post(next(), "192.0.2.51", "/auth/login", sesametest.LoginBody("alice", "alice-pw"))
		var cookie string
		for _, c := range r.Header.Values("Set-Cookie") {
			if v, ok := strings.CutPrefix(c, "__Host-sesame-device="); ok {
				cookie, _, _ = strings.Cut(v, ";")
			}
		}
		if r.Status != 200 || cookie == "" {
			t.Fatalf("cookie login: %d, device cookie %q", r.Status, cookie)
		}
		// An attacker spends alice's budget from ten addresses.
		for i := range 10 {
			if r := f.loginH(next(), fmt.Sprintf("198.18.0.%d", i+1), "alice", "guess"); r.Status != 401 {
				t.Fatalf("guess %d: %d", i+1, r.Status)
			}
		}
		// A client without a device token is slowed down, even with the
		// right password.
		want429(t, f.loginH(next(), "192.0.2.60", "alice", "alice-pw"), "right password, no device token, during the lockout")
		// Alice's devices, from new addresses and other nodes, get in.
		if r := f.loginH(next(), "192.0.2.61", "alice", "alice-pw", "device_token", tk.DeviceToken); r.Status != 200 {
			t.Fatalf("header device token during the lockout: %d %s", r.Status, r.Body)
		}
		if r := f.post(next(), "192.0.2.62", "/auth/login", sesametest.LoginBody("alice", "alice-pw"), "Cookie", "__Host-sesame-device="+cookie); r.Status != 200 {
			t.Fatalf("device cookie during the lockout: %d %s", r.Status, r.Body)
		}
		// The token is alice's: it does nothing for another username.
		for i := range 10 {
			f.loginH(next(), fmt.Sprintf("198.18.1.%d", i+1), "bob", "guess")
		}
		want429(t, f.loginH(next(), "192.0.2.63", "bob", "bob-pw", "device_token", tk.DeviceToken), "alice's device token for bob")
		// A stolen device token has a budget of its own: 10 guesses.
		for i := range 10 {
			if r := f.loginH(next(), fmt.Sprintf("198.18.2.%d", i+1), "alice", "guess", "device_token", tk.DeviceToken); r.Status != 401 {
				t.Fatalf("guess %d with the device token: %d %s", i+1, r.Status, r.Body)
			}
		}
		want429(t, f.loginH(next(), "198.18.2.99", "alice", "guess", "device_token", tk.DeviceToken), "11th guess with a device token")
		// A forged token is no device: the username's lockout applies.
		bad := tk.DeviceToken[:len(tk.DeviceToken)-2] + "AA"
		want429(t, f.loginH(next(), "192.0.2.64", "alice", "alice-pw", "device_token", bad), "forged device token")
	})

	t.Run("NAT'ed valid refresh (W10)", func(t *testing.T) {
		ip := "100.64.0.1" // a carrier-grade NAT: the victim and the attacker share it
		tk := natTk
		for i := range 60 {
			if r := f.post(next(), ip, "/auth/refresh", `{"refresh_token":"garbage`+fmt.Sprint(i)+`"}`, "X-Session-Transport", "header"); r.Status != 401 {
				t.Fatalf("garbage %d: %d %s", i+1, r.Status, r.Body)
			}
		}
		want429(t, f.post(next(), ip, "/auth/refresh", `{"refresh_token":"garbage"}`, "X-Session-Transport", "header"), "61st garbage refresh")
		for i := range 3 { // on every node, twice in a row
			r := f.post(next(), ip, "/auth/refresh", `{"refresh_token":"`+tk.RefreshToken+`"}`, "X-Session-Transport", "header")
			if r.Status != 200 {
				t.Fatalf("valid refresh %d from the blocked address: %d %s", i+1, r.Status, r.Body)
			}
			r.JSON(t, &tk)
		}
	})

	t.Run("logout by refresh token is throttled (W3)", func(t *testing.T) {
		ip := "192.0.2.80"
		// Refresh and logout share one budget: 30 of each, then both 429.
		for i := range 60 {
			path := "/auth/logout"
			if i%2 == 1 {
				path = "/auth/refresh"
			}
			if r := f.post(next(), ip, path, `{"refresh_token":"forged`+fmt.Sprint(i)+`"}`, "X-Session-Transport", "header"); r.Status != 401 {
				t.Fatalf("%s %d: %d %s", path, i+1, r.Status, r.Body)
			}
		}
		want429(t, f.post(next(), ip, "/auth/logout", `{"refresh_token":"forged"}`, "X-Session-Transport", "header"), "61st forged logout")
		want429(t, f.post(next(), ip, "/auth/refresh", `{"refresh_token":"forged"}`, "X-Session-Transport", "header"), "61st forged refresh")
		// A genuine logout from the blocked address still works.
		if r := f.post(next(), ip, "/auth/logout", `{"refresh_token":"`+outTk.RefreshToken+`"}`, "X-Session-Transport", "header"); r.Status != 204 {
			t.Fatalf("genuine logout by refresh token from the blocked address: %d %s", r.Status, r.Body)
		}
	})

	for i, m := range f.ms {
		for name, fb := range m.Stats().LimiterFallback {
			if fb {
				t.Errorf("node %d: limiter %s in fallback with Redis up", i, name)
			}
		}
	}
}
