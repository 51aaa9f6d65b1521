package redistest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
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
	// Args are extra configuration arguments for the two data servers.
	Args []string
	// StartTimeout bounds how long StartSentinel waits for the replica to
	// sync and every Sentinel to see it. Zero means 30s.
	StartTimeout time.Duration
}

// Sentinel is a primary, one replica and three Sentinels (quorum 2), every
// one a [Server] owned by the test. Its methods may be called from any
// goroutine of the test.
type Sentinel struct {
	t         testing.TB
	opts      SentinelOptions
	data      []*Server // the primary at start, then the replica
	sentinels []*Server

	clients clients
}

// StartSentinel starts the primary, its replica and three Sentinels, and
// waits until the replica is in sync and every Sentinel knows the replica
// and the other Sentinels.
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
	// Replicas sync at once instead of waiting 5s for more replicas.
	args := append([]string{"--repl-diskless-sync-delay", "0"}, s.opts.Args...)
	primary := Start(t, &Options{Args: args})
	replica := Start(t, &Options{Args: append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(primary.Port())}, args...)})
	s.data = []*Server{primary, replica}
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

// ready reports nil once the replica is in sync and every Sentinel sees one
// replica and two other Sentinels.
func (s *Sentinel) ready(ctx context.Context) error {
	cl := redis.NewClient(&redis.Options{Addr: s.data[1].Addr(), MaxRetries: -1})
	info, err := cl.Info(ctx, "replication").Result()
	cl.Close()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "master_link_status:up") {
		return fmt.Errorf("replica not in sync")
	}
	for _, sn := range s.sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr(), MaxRetries: -1})
		m, err := sc.Master(ctx, s.opts.MasterName).Result()
		sc.Close()
		if err != nil {
			return fmt.Errorf("sentinel %s: %w", sn.Addr(), err)
		}
		if m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
			return fmt.Errorf("sentinel %s sees %s replicas and %s other sentinels", sn.Addr(), m["num-slaves"], m["num-other-sentinels"])
		}
	}
	return nil
}

// poll calls cond until it returns nil or ctx ends; then it returns the
// last error from a call that had time to finish.
func poll(ctx context.Context, cond func(context.Context) error) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		err := cond(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return last
		case <-tick.C:
		}
	}
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

// Servers returns the two data servers (the primary at start first) and
// the three Sentinels.
func (s *Sentinel) Servers() (data, sentinels []*Server) {
	return append([]*Server(nil), s.data...), append([]*Server(nil), s.sentinels...)
}

// FailoverClient returns a new Sentinel-backed client for the primary,
// closed at cleanup. opts may be nil; its MasterName and SentinelAddrs are
// always replaced.
func (s *Sentinel) FailoverClient(opts ...*redis.FailoverOptions) *redis.Client {
	o := &redis.FailoverOptions{}
	if len(opts) > 0 && opts[0] != nil {
		cp := *opts[0]
		o = &cp
	}
	o.MasterName = s.opts.MasterName
	o.SentinelAddrs = s.SentinelAddrs()
	c := redis.NewFailoverClient(o)
	s.clients.add(c)
	return c
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

// KillPrimary kills (SIGKILL) the current primary and returns it.
func (s *Sentinel) KillPrimary() *Server {
	s.t.Helper()
	p := s.Primary()
	p.Kill()
	return p
}

// WaitFailover waits until every Sentinel names a running server as
// primary and that server says role:master. It returns how long it waited,
// or an error after timeout. Zero means 60s: a Sentinel starved of CPU for
// 2s enters TILT mode and acts on nothing for 30s.
func (s *Sentinel) WaitFailover(timeout time.Duration) (time.Duration, error) {
	if timeout <= 0 {
		timeout = time.Minute
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := poll(ctx, func(ctx context.Context) error {
		var want string
		for _, sn := range s.sentinels {
			sc := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr(), MaxRetries: -1})
			a, err := sc.GetMasterAddrByName(ctx, s.opts.MasterName).Result()
			sc.Close()
			if err != nil {
				return err
			}
			addr := net.JoinHostPort(a[0], a[1])
			if want != "" && addr != want {
				return fmt.Errorf("sentinels disagree: %s, %s", want, addr)
			}
			want = addr
		}
		var srv *Server
		for _, d := range s.data {
			if d.Addr() == want && d.Pid() != 0 {
				srv = d
			}
		}
		if srv == nil {
			return fmt.Errorf("sentinels still name %s", want)
		}
		cl := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1})
		info, err := cl.Info(ctx, "replication").Result()
		cl.Close()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "role:master") {
			return fmt.Errorf("%s not yet master", want)
		}
		return nil
	})
	if err != nil {
		return time.Since(start), fmt.Errorf("redistest: no failover within %v: %w\nsentinel log:\n%s", timeout, err, s.sentinels[0].logTail())
	}
	return time.Since(start), nil
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
