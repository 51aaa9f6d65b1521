package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterOptions configures [StartCluster]. A nil or zero ClusterOptions
// means the defaults.
type ClusterOptions struct {
	// NodeTimeout is cluster-node-timeout: how long a master must be
	// unreachable before its replica takes over. Zero means 2s.
	NodeTimeout time.Duration
	// Args are extra configuration arguments for every node.
	Args []string
	// StartTimeout bounds how long StartCluster waits for the cluster to be
	// ready (every node cluster_state:ok, every replica in sync). Zero means
	// 30s.
	StartTimeout time.Duration
}

// Cluster is a Redis Cluster of 3 masters and 3 replicas (one each), every
// node a [Server] owned by the test. Its methods may be called from any
// goroutine of the test.
type Cluster struct {
	t     testing.TB
	opts  ClusterOptions
	nodes []*Server

	clients clients
}

// CLIBinary returns the redis-cli path, or fails/skips t like [Binary].
func CLIBinary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-cli")
	if err == nil {
		return bin
	}
	msg := "redistest: redis-cli not found on PATH; install it (Debian/Ubuntu: apt-get install redis-tools; macOS: brew install redis)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// StartCluster starts six cluster-enabled servers, joins them with
// redis-cli --cluster create (three masters, one replica each), and waits
// until every node reports cluster_state:ok and every replica is in sync.
func StartCluster(t testing.TB, opts *ClusterOptions) *Cluster {
	t.Helper()
	Binary(t)
	cli := CLIBinary(t)
	c := &Cluster{t: t}
	if opts != nil {
		c.opts = *opts
	}
	if c.opts.NodeTimeout <= 0 {
		c.opts.NodeTimeout = 2 * time.Second
	}
	if c.opts.StartTimeout <= 0 {
		c.opts.StartTimeout = 30 * time.Second
	}
	args := append([]string{
		"--cluster-enabled", "yes",
		"--cluster-node-timeout", strconv.FormatInt(c.opts.NodeTimeout.Milliseconds(), 10),
		"--cluster-config-file", "nodes.conf",
		// A replica always may take over, however long its link was down:
		// tests kill masters on purpose and want the failover.
		"--cluster-replica-validity-factor", "0",
		// Replicas sync at once instead of waiting 5s for more replicas.
		"--repl-diskless-sync-delay", "0",
	}, c.opts.Args...)
	for range 6 {
		c.nodes = append(c.nodes, Start(t, &Options{Args: args}))
	}
	t.Cleanup(c.clients.closeAll) // runs before the servers' own cleanups

	create := []string{"--cluster", "create"}
	for _, n := range c.nodes {
		create = append(create, n.Addr())
	}
	create = append(create, "--cluster-replicas", "1", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.StartTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, cli, create...).CombinedOutput()
	if err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitReady(ctx, nil); err != nil {
		t.Fatalf("redistest: cluster not ready: %v", err)
	}
	return c
}

// Nodes returns the six servers, masters and replicas alike; roles change
// with failovers, see [Cluster.MasterOf].
func (c *Cluster) Nodes() []*Server { return slices.Clone(c.nodes) }

// Addrs returns the address of every node, for a client's seed list.
func (c *Cluster) Addrs() []string {
	a := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		a[i] = n.Addr()
	}
	return a
}

// NodeTimeout returns the cluster-node-timeout in use.
func (c *Cluster) NodeTimeout() time.Duration { return c.opts.NodeTimeout }

// ClusterClient returns a new cluster client seeded with every node, closed
// at cleanup. opts may be nil; its Addrs are always replaced.
func (c *Cluster) ClusterClient(opts ...*redis.ClusterOptions) *redis.ClusterClient {
	o := &redis.ClusterOptions{}
	if len(opts) > 0 && opts[0] != nil {
		cp := *opts[0]
		o = &cp
	}
	o.Addrs = c.Addrs()
	cl := redis.NewClusterClient(o)
	c.clients.add(cl)
	return cl
}

// running returns the nodes whose process runs.
func (c *Cluster) running() []*Server {
	var out []*Server
	for _, n := range c.nodes {
		if n.Pid() != 0 {
			out = append(out, n)
		}
	}
	return out
}

func (c *Cluster) byAddr(addr string) *Server {
	for _, n := range c.nodes {
		if n.Addr() == addr {
			return n
		}
	}
	return nil
}

// slotsSeenBy returns node n's view of the slot map.
func slotsSeenBy(ctx context.Context, n *Server) ([]redis.ClusterSlot, error) {
	cl := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1, DialTimeout: 500 * time.Millisecond,
		ReadTimeout: 500 * time.Millisecond})
	defer cl.Close()
	return cl.ClusterSlots(ctx).Result()
}

// MasterOf returns the server that a running node currently names as the
// master of key's slot.
func (c *Cluster) MasterOf(key string) *Server {
	c.t.Helper()
	slot := Slot(key)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var lastErr error
	for _, n := range c.running() {
		slots, err := slotsSeenBy(ctx, n)
		if err != nil {
			lastErr = err
			continue
		}
		for _, s := range slots {
			if int(s.Start) <= slot && slot <= int(s.End) && len(s.Nodes) > 0 {
				if m := c.byAddr(s.Nodes[0].Addr); m != nil {
					return m
				}
			}
		}
	}
	c.t.Fatalf("redistest: no node knows the master of slot %d: %v", slot, lastErr)
	return nil
}

// KillMasterOf kills (SIGKILL) the master of key's slot and returns it.
func (c *Cluster) KillMasterOf(key string) *Server {
	c.t.Helper()
	m := c.MasterOf(key)
	m.Kill()
	return m
}

// WaitFailover waits until every running node reports cluster_state:ok and
// names a running master for every slot, which after [Cluster.KillMasterOf]
// means a replica has taken over and the news has spread. It returns how
// long it waited, or an error after timeout (zero means 15 node timeouts,
// 30s by default: a starved machine slows the cluster bus down).
func (c *Cluster) WaitFailover(timeout time.Duration) (time.Duration, error) {
	if timeout <= 0 {
		timeout = 15 * c.opts.NodeTimeout
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	dead := map[string]bool{}
	for _, n := range c.nodes {
		if n.Pid() == 0 {
			dead[n.Addr()] = true
		}
	}
	if err := c.waitReady(ctx, dead); err != nil {
		return time.Since(start), fmt.Errorf("redistest: no failover within %v: %w", timeout, err)
	}
	return time.Since(start), nil
}

// waitReady polls until every running node says cluster_state:ok and names
// a master outside dead for all 16384 slots, and (at start, dead == nil)
// every master has a replica in sync.
func (c *Cluster) waitReady(ctx context.Context, dead map[string]bool) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = c.ready(ctx, dead); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return last
		case <-tick.C:
		}
	}
}

func (c *Cluster) ready(ctx context.Context, dead map[string]bool) error {
	for _, n := range c.running() {
		cl := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1, DialTimeout: 500 * time.Millisecond,
			ReadTimeout: 500 * time.Millisecond})
		info, err := cl.ClusterInfo(ctx).Result()
		cl.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", n.Addr(), err)
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("%s: cluster_state not ok", n.Addr())
		}
		slots, err := slotsSeenBy(ctx, n)
		if err != nil {
			return fmt.Errorf("%s: %w", n.Addr(), err)
		}
		covered := 0
		for _, s := range slots {
			if len(s.Nodes) == 0 || dead[s.Nodes[0].Addr] {
				return fmt.Errorf("%s: slots %d-%d have no live master", n.Addr(), s.Start, s.End)
			}
			covered += int(s.End-s.Start) + 1
		}
		if covered != 16384 {
			return fmt.Errorf("%s: %d slots covered", n.Addr(), covered)
		}
	}
	if dead != nil {
		return nil
	}
	// Every replica has finished its first sync, so a failover has data.
	for _, n := range c.running() {
		cl := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1})
		info, err := cl.Info(ctx, "replication").Result()
		cl.Close()
		if err != nil {
			return err
		}
		if strings.Contains(info, "role:slave") && !strings.Contains(info, "master_link_status:up") {
			return fmt.Errorf("%s: replica not in sync", n.Addr())
		}
		if strings.Contains(info, "role:master") && !strings.Contains(info, "connected_slaves:1") {
			return fmt.Errorf("%s: master without a replica", n.Addr())
		}
	}
	return nil
}

// Pids returns the process ids of the running nodes.
func (c *Cluster) Pids() []int {
	var p []int
	for _, n := range c.nodes {
		if pid := n.Pid(); pid != 0 {
			p = append(p, pid)
		}
	}
	return p
}
