package redistest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelOptions configures [StartSentinel]. A nil or zero SentinelOptions
// means the defaults.
type SentinelOptions struct {
	// MasterName is the name the Sentinels monitor. Zero means "mymaster".
	MasterName string
	// DownAfter is down-after-milliseconds: how long the primary must not
	// answer before a Sentinel deems it down. Zero means 1s.
	DownAfter time.Duration
	// FailoverTimeout is the Sentinels' failover-timeout. Zero means 5s.
	FailoverTimeout time.Duration
	// Replicas is the number of replicas of the primary. Zero means 1; with
	// 2, a failover leaves the new primary a replica to confirm a WAIT 1.
	// There is no way to run without replicas: Sentinel would have nothing
	// to promote.
	Replicas int
	// Args are extra configuration arguments for the data servers.
	Args []string
	// StartTimeout bounds how long StartSentinel waits for the replicas to
	// sync and every Sentinel to see them. Zero means 30s.
	StartTimeout time.Duration
}

// Sentinel is a primary, [SentinelOptions.Replicas] replicas (one by
// default) and three Sentinels (quorum 2), every one a [Server] owned by the
// test. Its methods may be called from any goroutine of the test.
type Sentinel struct {
	t         testing.TB
	opts      SentinelOptions
	data      []*Server // the primary at start, then its replicas
	sentinels []*Server

	clients clients
}

// StartSentinel starts the primary, its replicas and three Sentinels, and
// waits until every replica is in sync and every Sentinel knows the
// replicas and the other Sentinels.
func StartSentinel(t testing.TB, opts *SentinelOptions) *Sentinel {
	t.Helper()
	s := &Sentinel{t: t}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.MasterName == "" {
		s.opts.MasterName = "mymaster"
	}
	if s.opts.DownAfter <= 0 {
		s.opts.DownAfter = time.Second
	}
	if s.opts.FailoverTimeout <= 0 {
		s.opts.FailoverTimeout = 5 * time.Second
	}
	if s.opts.StartTimeout <= 0 {
		s.opts.StartTimeout = 30 * time.Second
	}
	if s.opts.Replicas < 0 {
		t.Fatalf("redistest: SentinelOptions.Replicas is %d", s.opts.Replicas)
	}
	if s.opts.Replicas == 0 {
		s.opts.Replicas = 1
	}
	// Replicas sync at once instead of waiting 5s for more replicas.
	args := append([]string{"--repl-diskless-sync-delay", "0"}, s.opts.Args...)
	primary := Start(t, &Options{Args: args})
	s.data = []*Server{primary}
	for range s.opts.Replicas {
		replicaOf := []string{"--replicaof", "127.0.0.1", strconv.Itoa(primary.Port())}
		s.data = append(s.data, Start(t, &Options{Args: append(replicaOf, args...)}))
	}
	name := s.opts.MasterName
	conf := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\n", name, primary.Port()) +
		fmt.Sprintf("sentinel down-after-milliseconds %s %d\n", name, s.opts.DownAfter.Milliseconds()) +
		fmt.Sprintf("sentinel failover-timeout %s %d\n", name, s.opts.FailoverTimeout.Milliseconds()) +
		fmt.Sprintf("sentinel parallel-syncs %s 1\n", name)
	for range 3 {
		s.sentinels = append(s.sentinels, Start(t, &Options{Config: conf, Args: []string{"--sentinel"}}))
	}
	t.Cleanup(s.clients.closeAll)

	ctx, cancel := context.WithTimeout(context.Background(), s.opts.StartTimeout)
	defer cancel()
	if err := poll(ctx, s.ready); err != nil {
		t.Fatalf("redistest: sentinel topology not ready: %v", err)
	}
	return s
}

// ready reports nil once every replica is in sync with the primary and every
// Sentinel sees them all and two other Sentinels.
func (s *Sentinel) ready(ctx context.Context) error {
	online, err := replicasInSync(ctx, s.data)
	if err != nil {
		return err
	}
	if n := online[s.data[0].Addr()]; len(online) != 1 || n != s.opts.Replicas {
		return fmt.Errorf("primary has %d replicas online, want %d (%d masters)", n, s.opts.Replicas, len(online))
	}
	want := strconv.Itoa(s.opts.Replicas)
	for _, sn := range s.sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr(), MaxRetries: -1})
		m, err := sc.Master(ctx, s.opts.MasterName).Result()
		sc.Close()
		if err != nil {
			return fmt.Errorf("sentinel %s: %w", sn.Addr(), err)
		}
		if m["num-slaves"] != want || m["num-other-sentinels"] != "2" {
			return fmt.Errorf("sentinel %s sees %s replicas and %s other sentinels", sn.Addr(), m["num-slaves"], m["num-other-sentinels"])
		}
	}
	return nil
}

// MasterName returns the monitored name.
func (s *Sentinel) MasterName() string { return s.opts.MasterName }

// SentinelAddrs returns the Sentinels' addresses.
func (s *Sentinel) SentinelAddrs() []string {
	a := make([]string, len(s.sentinels))
	for i, n := range s.sentinels {
		a[i] = n.Addr()
	}
	return a
}

// Servers returns the data servers (the primary at start first, then its
// [SentinelOptions.Replicas] replicas) and the three Sentinels, killed or
// not.
func (s *Sentinel) Servers() (data, sentinels []*Server) {
	return append([]*Server(nil), s.data...), append([]*Server(nil), s.sentinels...)
}

// FailoverClient returns a new Sentinel-backed client for the primary,
// closed at cleanup. opts may be nil; its MasterName and SentinelAddrs are
// always replaced.
func (s *Sentinel) FailoverClient(opts ...*redis.FailoverOptions) *redis.Client {
	c := redis.NewFailoverClient(s.failoverOptions(opts))
	s.clients.add(c)
	return c
}

// FailoverClusterClient is FailoverClient as go-redis' failover cluster
// client, the kind internal/redisurl builds for a Sentinel URL (and so
// sessiond and sessionctl use).
func (s *Sentinel) FailoverClusterClient(opts ...*redis.FailoverOptions) *redis.ClusterClient {
	c := redis.NewFailoverClusterClient(s.failoverOptions(opts))
	s.clients.add(c)
	return c
}

func (s *Sentinel) failoverOptions(opts []*redis.FailoverOptions) *redis.FailoverOptions {
	o := &redis.FailoverOptions{}
	if len(opts) > 0 && opts[0] != nil {
		cp := *opts[0]
		o = &cp
	}
	o.MasterName = s.opts.MasterName
	o.SentinelAddrs = s.SentinelAddrs()
	return o
}

// masterAddr asks the running Sentinels for the primary's address; it
// returns the answer of the first that answers.
func (s *Sentinel) masterAddr(ctx context.Context) (string, error) {
	var last error
	for _, sn := range s.sentinels {
		if sn.Pid() == 0 {
			continue
		}
		sc := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr(), MaxRetries: -1})
		a, err := sc.GetMasterAddrByName(ctx, s.opts.MasterName).Result()
		sc.Close()
		if err == nil && len(a) == 2 {
			return net.JoinHostPort(a[0], a[1]), nil
		}
		last = err
	}
	return "", fmt.Errorf("no sentinel names the primary: %v", last)
}

// Primary returns the data server the Sentinels currently name primary.
func (s *Sentinel) Primary() *Server {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addr, err := s.masterAddr(ctx)
	if err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
	for _, d := range s.data {
		if d.Addr() == addr {
			return d
		}
	}
	s.t.Fatalf("redistest: sentinels name %s, not a server of this topology", addr)
	return nil
}

// KillPrimary kills (SIGKILL) the current primary and returns it. The
// Sentinels promote a replica, see [Sentinel.WaitFailover]; with one replica
// (the default) the new primary has none, so a WAIT for one replica cannot
// succeed on it until a replica joins.
func (s *Sentinel) KillPrimary() *Server {
	s.t.Helper()
	p := s.Primary()
	p.Kill()
	return p
}

// WaitPromoted waits until every running Sentinel names the same running
// server as primary and that server says role:master: clients asking any
// Sentinel are now sent to it. The other replicas may not follow it yet;
// [Sentinel.WaitFailover] waits for them too. It returns how long it waited,
// or an error after timeout. Zero means 60s: a Sentinel starved of CPU for
// 2s enters TILT mode and acts on nothing for 30s.
func (s *Sentinel) WaitPromoted(timeout time.Duration) (time.Duration, error) {
	return s.wait(timeout, func(ctx context.Context) error {
		_, err := s.promoted(ctx)
		return err
	})
}

// WaitFailover waits until the failover after [Sentinel.KillPrimary] is
// done: the state [Sentinel.WaitPromoted] waits for, and every other running
// data server is a replica that has loaded its sync from the new primary and
// that the primary counts online. Unlike Cluster replicas, the old primary's
// other replicas do not follow by themselves: the Sentinel leading the
// failover sends them REPLICAOF (parallel-syncs 1: one at a time) once it
// has seen the promoted replica report role:master, which it polls once a
// second during a failover. From then on a write can be confirmed by WAIT
// for as many replicas as are left: one of two with Replicas: 2, none with
// the default. It returns how long it waited since it was called, or an
// error after timeout (zero means 60s, as for WaitPromoted).
func (s *Sentinel) WaitFailover(timeout time.Duration) (time.Duration, error) {
	return s.wait(timeout, func(ctx context.Context) error {
		p, err := s.promoted(ctx)
		if err != nil {
			return err
		}
		online, err := replicasInSync(ctx, running(s.data))
		if err != nil {
			return err
		}
		if len(online) != 1 {
			return fmt.Errorf("%d running data servers say role:master", len(online))
		}
		if _, ok := online[p.Addr()]; !ok {
			return fmt.Errorf("%s is primary but its replicas follow another", p.Addr())
		}
		return nil
	})
}

func (s *Sentinel) wait(timeout time.Duration, cond func(context.Context) error) (time.Duration, error) {
	if timeout <= 0 {
		timeout = time.Minute
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := poll(ctx, cond); err != nil {
		return time.Since(start), fmt.Errorf("redistest: no failover within %v: %w\nsentinel log:\n%s", timeout, err, s.sentinels[0].logTail())
	}
	return time.Since(start), nil
}

// promoted returns the data server every running Sentinel names primary,
// once it runs and says role:master.
func (s *Sentinel) promoted(ctx context.Context) (*Server, error) {
	var want string
	for _, sn := range running(s.sentinels) {
		sc := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr(), MaxRetries: -1})
		a, err := sc.GetMasterAddrByName(ctx, s.opts.MasterName).Result()
		sc.Close()
		if err != nil {
			return nil, err
		}
		addr := net.JoinHostPort(a[0], a[1])
		if want != "" && addr != want {
			return nil, fmt.Errorf("sentinels disagree: %s, %s", want, addr)
		}
		want = addr
	}
	var srv *Server
	for _, d := range running(s.data) {
		if d.Addr() == want {
			srv = d
		}
	}
	if srv == nil {
		return nil, fmt.Errorf("sentinels still name %s", want)
	}
	r, err := replicationOf(ctx, srv)
	if err != nil {
		return nil, err
	}
	if !r.master {
		return nil, fmt.Errorf("%s not yet master", want)
	}
	return srv, nil
}

// Pids returns the process ids of the running servers and Sentinels.
func (s *Sentinel) Pids() []int {
	var p []int
	for _, n := range append(append([]*Server(nil), s.data...), s.sentinels...) {
		if pid := n.Pid(); pid != 0 {
			p = append(p, pid)
		}
	}
	return p
}
