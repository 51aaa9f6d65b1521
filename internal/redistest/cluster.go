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

	"github.com/sesame-go/sesame/internal/redisslot"
)

// ClusterOptions configures [StartCluster]. A nil or zero ClusterOptions
// means the defaults.
type ClusterOptions struct {
	// NodeTimeout is cluster-node-timeout: how long a master must be
	// unreachable before its replica takes over. Zero means 2s.
	NodeTimeout time.Duration
	// Replicas is the number of replicas of each master. Zero means 1 (six
	// nodes); 2 makes nine, so that after a master's failover its shard
	// still has a replica to confirm a WAIT 1. There is no way to run
	// without replicas: such a cluster cannot fail over.
	Replicas int
	// Args are extra configuration arguments for every node.
	Args []string
	// StartTimeout bounds how long StartCluster waits for the cluster to be
	// ready (every node cluster_state:ok, every replica in sync). Zero means
	// 30s.
	StartTimeout time.Duration
}

// Cluster is a Redis Cluster of 3 masters with [ClusterOptions.Replicas]
// replicas each (one by default), every node a [Server] owned by the test.
// Its methods may be called from any goroutine of the test.
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

// masters is the number of masters of a [Cluster].
const masters = 3

// StartCluster starts 3 × (1 + [ClusterOptions.Replicas]) cluster-enabled
// servers (six by default), joins them with redis-cli --cluster create
// (three masters, each with its replicas), and waits until every node
// reports cluster_state:ok and every master has all its replicas in sync.
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
	if c.opts.Replicas < 0 {
		t.Fatalf("redistest: ClusterOptions.Replicas is %d", c.opts.Replicas)
	}
	if c.opts.Replicas == 0 {
		c.opts.Replicas = 1
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
	for range masters * (1 + c.opts.Replicas) {
		c.nodes = append(c.nodes, Start(t, &Options{Args: args}))
	}
	t.Cleanup(c.clients.closeAll) // runs before the servers' own cleanups

	create := []string{"--cluster", "create"}
	for _, n := range c.nodes {
		create = append(create, n.Addr())
	}
	create = append(create, "--cluster-replicas", strconv.Itoa(c.opts.Replicas), "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.StartTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, cli, create...).CombinedOutput()
	if err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := poll(ctx, c.started); err != nil {
		t.Fatalf("redistest: cluster not ready: %v", err)
	}
	return c
}

// Nodes returns every server, 3 × (1 + [ClusterOptions.Replicas]) (six by
// default), masters and replicas alike, killed or not; roles change with
// failovers, see [Cluster.MasterOf].
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
	slot := redisslot.Of(key)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var lastErr error
	for _, n := range running(c.nodes) {
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

// KillMasterOf kills (SIGKILL) the master of key's slot and returns it. One
// of its replicas takes over, see [Cluster.WaitFailover]; with one replica
// per master (the default) the shard then has none left, so a WAIT for one
// replica cannot succeed on it until a replica joins.
func (c *Cluster) KillMasterOf(key string) *Server {
	c.t.Helper()
	m := c.MasterOf(key)
	m.Kill()
	return m
}

// WaitPromoted waits until every running node reports cluster_state:ok and
// names a running master for every slot: after [Cluster.KillMasterOf], a
// replica has taken over and the news has spread, so clients can write
// again. The shard's other replicas may still be syncing from the new
// master; [Cluster.WaitFailover] waits for them too. It returns how long it
// waited, or an error after timeout (zero means 15 node timeouts, 30s by
// default: a starved machine slows the cluster bus down).
func (c *Cluster) WaitPromoted(timeout time.Duration) (time.Duration, error) {
	return c.wait(timeout, c.promoted)
}

// WaitFailover waits until the failover after [Cluster.KillMasterOf] is
// done: the state [Cluster.WaitPromoted] waits for, and every running
// replica has loaded its sync from a running master that counts it online.
// The killed master's other replicas follow the promoted one by themselves
// (they learn its claim on the slots from the cluster bus) and resync from
// it, partially when their offset allows. From then on a write to any
// shard can be confirmed by WAIT for as many replicas as the shard has
// left: one of two with Replicas: 2, none with the default. It returns how
// long it waited since it was called, or an error after timeout (zero means
// 15 node timeouts, as for WaitPromoted).
func (c *Cluster) WaitFailover(timeout time.Duration) (time.Duration, error) {
	return c.wait(timeout, func(ctx context.Context, dead map[string]bool) error {
		if err := c.promoted(ctx, dead); err != nil {
			return err
		}
		_, err := replicasInSync(ctx, running(c.nodes))
		return err
	})
}

// wait polls cond with the nodes killed by now as dead.
func (c *Cluster) wait(timeout time.Duration, cond func(context.Context, map[string]bool) error) (time.Duration, error) {
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
	if err := poll(ctx, func(ctx context.Context) error { return cond(ctx, dead) }); err != nil {
		return time.Since(start), fmt.Errorf("redistest: no failover within %v: %w", timeout, err)
	}
	return time.Since(start), nil
}

// started reports nil once every node serves the slot map and every master
// has all its replicas in sync, so that a failover has data.
func (c *Cluster) started(ctx context.Context) error {
	if err := c.promoted(ctx, nil); err != nil {
		return err
	}
	online, err := replicasInSync(ctx, running(c.nodes))
	if err != nil {
		return err
	}
	if len(online) != masters {
		return fmt.Errorf("%d masters, want %d", len(online), masters)
	}
	for addr, n := range online {
		if n != c.opts.Replicas {
			return fmt.Errorf("%s: master with %d replicas online, want %d", addr, n, c.opts.Replicas)
		}
	}
	return nil
}

// promoted reports nil once every running node says cluster_state:ok and
// names a master outside dead for all 16384 slots.
func (c *Cluster) promoted(ctx context.Context, dead map[string]bool) error {
	for _, n := range running(c.nodes) {
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
