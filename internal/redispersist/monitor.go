// Package redispersist watches the Redis under a sesame deployment for the
// two ways it can lose revocations: a configuration that keeps nothing on
// disk, and a data set reset under the running fleet. sessiond runs a
// [Monitor] beside its Redis revocation store (start-up warning, /readyz,
// metrics, and writing the live revocations back after a reset).
package redispersist

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/internal/redisslot"
	"github.com/sesame-go/sesame/revocation"
)

// Durability is how much of the revocation state a Redis keeps across its
// own restart: every revoked session it forgets is accepted again by any
// node that asks Redis (strict routes, a node that starts afterwards).
type Durability string

const (
	// DurabilityAOF: the append-only file is on; a restart keeps every
	// acknowledged write, up to appendfsync's last second.
	DurabilityAOF Durability = "aof"
	// DurabilityRDB: only snapshots; a crash loses what was written since
	// the last one (up to the longest "save" interval).
	DurabilityRDB Durability = "rdb"
	// DurabilityNone: nothing is kept on disk; a restart starts empty.
	DurabilityNone Durability = "none"
	// DurabilityUnknown: the configuration could not be read (CONFIG is
	// disabled, as on most managed services, and INFO does not settle it).
	DurabilityUnknown Durability = "unknown"
)

// rank orders durabilities, weakest first, so a cluster reports its weakest
// master.
func (d Durability) rank() int {
	switch d {
	case DurabilityNone:
		return 0
	case DurabilityUnknown:
		return 1
	case DurabilityRDB:
		return 2
	}
	return 3
}

// Status is what a [Monitor] knows about the Redis
// under a revocation store, for sessiond's start-up log, /readyz and metrics.
type Status struct {
	// Durability is the weakest of every master's; see its constants.
	Durability Durability
	// Detail says what each master answered, for logs:
	// "127.0.0.1:6379 save=\"\" appendonly=no".
	Detail string
	// Evicting is true when a master's maxmemory-policy may evict any key
	// (allkeys-lru, allkeys-lfu, allkeys-random): under memory pressure
	// Redis then drops revocations silently. Use noeviction or a volatile-*
	// policy. False when CONFIG is refused (INFO does not tell).
	Evicting bool
	// Resets counts the times the data set was found gone under the
	// running store (a master restarted empty, FLUSHALL, a failover to an
	// empty node) since the monitor started.
	Resets uint64
	// LastReset is when the last reset was detected.
	LastReset time.Time
	// CheckedAt is when the last check succeeded; zero before the first.
	CheckedAt time.Time
	// LastError is the last check's error, or nil.
	LastError error
}

// Options configures a [Monitor]. A nil
// *Options means the defaults.
type Options struct {
	// Interval is how often Run checks. Zero means 5s.
	Interval time.Duration
	// OnReset is called, from the goroutine that checks, after a check
	// detected a reset (and planted the markers again); if it returns an
	// error it is called again at each check until it succeeds. Nil means
	// nothing is called. The usual choice republishes a [revocation.Journal]:
	//
	//	OnReset: func(ctx context.Context, _ redispersist.Status) error {
	//		_, err := journal.Republish(ctx, store)
	//		return err
	//	}
	OnReset func(ctx context.Context, st Status) error
}

// Monitor watches the Redis under a revocation.NewRedis store for the two
// ways it can lose revocations: a configuration that keeps nothing on disk,
// and a data set reset under the running fleet.
//
// Configuration: CONFIG GET save and appendonly on every master; where
// CONFIG is refused (managed Redis), INFO persistence (aof_enabled, and
// whether any RDB snapshot was taken since start).
//
// Reset: the first check writes a marker key with a random value on every
// master (on Cluster, one key per master, in a slot that master serves);
// every later check reads them back. A marker that is gone or has another
// value means that master's data set was replaced: restarted without
// persistence, flushed, or failed over to a node that did not have it.
// (A run_id change alone is no sign: a restart with AOF keeps the data.)
// Only a process that saw the marker before can tell; one started after the
// reset plants a new marker and sees nothing wrong.
//
// All methods may be called concurrently; Run is called once.
type Monitor struct {
	rdb    redis.UniversalClient
	prefix string
	opts   Options

	checkMu sync.Mutex        // serializes checks; guards markers and pending
	markers map[string]string // marker key -> value planted or adopted
	pending bool              // a reset whose OnReset has not succeeded yet

	mu     sync.Mutex
	status Status
}

// New returns a monitor of the Redis that client reaches, for a revocation
// store whose keys start with prefix (revocation.RedisOptions.KeyPrefix;
// empty means "sesame:"): the markers are kept under it. Call
// [Monitor.Check] once at start (and log its answer), then run [Monitor.Run].
func New(client redis.UniversalClient, prefix string, opts *Options) *Monitor {
	if prefix == "" {
		prefix = "sesame:"
	}
	m := &Monitor{rdb: client, prefix: prefix, markers: map[string]string{}}
	if opts != nil {
		m.opts = *opts
	}
	if m.opts.Interval <= 0 {
		m.opts.Interval = 5 * time.Second
	}
	return m
}

// Status returns the result of the last check.
func (m *Monitor) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status
}

// Run checks every Interval until ctx ends, then returns nil.
func (m *Monitor) Run(ctx context.Context) error {
	t := time.NewTicker(m.opts.Interval)
	defer t.Stop()
	for {
		m.Check(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Check reads the configuration and the markers now, records the result
// in Status, calls OnReset if a reset was found, and returns the status. A
// non-nil error wraps [revocation.ErrUnavailable].
func (m *Monitor) Check(ctx context.Context) (Status, error) {
	m.checkMu.Lock()
	defer m.checkMu.Unlock()
	cfg, slots, err := m.config(ctx)
	reset := false
	if err == nil {
		reset, err = m.checkMarkers(ctx, slots)
	}
	m.mu.Lock()
	st := &m.status
	if err != nil {
		st.LastError = fmt.Errorf("%w: persistence check: %w", revocation.ErrUnavailable, err)
	} else {
		st.Durability, st.Detail, st.Evicting = cfg.durability, cfg.detail, cfg.evicting
		st.CheckedAt, st.LastError = time.Now(), nil
		if reset {
			st.Resets++
			st.LastReset = st.CheckedAt
		}
	}
	out := *st
	m.mu.Unlock()
	m.pending = m.pending || reset
	if m.pending && err == nil && m.opts.OnReset != nil {
		if err := m.opts.OnReset(ctx, out); err != nil {
			m.mu.Lock()
			m.status.LastError = fmt.Errorf("redispersist: after a reset: %w", err)
			out = m.status
			m.mu.Unlock()
			return out, out.LastError
		}
	}
	if err == nil {
		m.pending = false
	}
	return out, out.LastError
}

// master is one master: on Cluster, the slot ranges it serves; elsewhere nil.
type master struct {
	ranges [][2]int
}

// config asks every master for its persistence settings.
func (m *Monitor) config(ctx context.Context) (persistenceConfig, []master, error) {
	var mu sync.Mutex
	worst := DurabilityAOF
	var details []string
	var masters []master
	evicting := false
	one := func(ctx context.Context, c *redis.Client) error {
		d, detail, err := durabilityOf(ctx, c)
		if err != nil {
			return err
		}
		pol, err := c.ConfigGet(ctx, "maxmemory-policy").Result()
		mu.Lock()
		defer mu.Unlock()
		if p := pol["maxmemory-policy"]; err == nil && strings.HasPrefix(p, "allkeys-") {
			evicting = true
			detail += " maxmemory-policy=" + p
		}
		if d.rank() < worst.rank() {
			worst = d
		}
		details = append(details, c.Options().Addr+" "+detail)
		return nil
	}
	var err error
	switch c := m.rdb.(type) {
	case *redis.ClusterClient:
		var slots []redis.ClusterSlot
		if slots, err = c.ClusterSlots(ctx).Result(); err != nil {
			return persistenceConfig{}, nil, err
		}
		byAddr := map[string]*master{}
		for _, s := range slots {
			if len(s.Nodes) == 0 {
				continue
			}
			a := s.Nodes[0].Addr
			if byAddr[a] == nil {
				byAddr[a] = &master{}
			}
			byAddr[a].ranges = append(byAddr[a].ranges, [2]int{s.Start, s.End})
		}
		for _, ms := range byAddr {
			masters = append(masters, *ms)
		}
		err = c.ForEachMaster(ctx, one)
	case *redis.Client:
		masters = []master{{}}
		err = one(ctx, c)
	default:
		return persistenceConfig{}, nil, fmt.Errorf("redispersist: cannot check persistence through a %T", m.rdb)
	}
	if err != nil {
		return persistenceConfig{}, nil, err
	}
	slices.Sort(details)
	return persistenceConfig{worst, strings.Join(details, "; "), evicting}, masters, nil
}

type persistenceConfig struct {
	durability Durability
	detail     string
	evicting   bool
}

// durabilityOf reads one server's settings: CONFIG GET, else INFO.
func durabilityOf(ctx context.Context, c *redis.Client) (Durability, string, error) {
	cfg, err := c.ConfigGet(ctx, "appendonly").Result()
	if err == nil {
		var save map[string]string
		if save, err = c.ConfigGet(ctx, "save").Result(); err == nil {
			aof, sv := cfg["appendonly"], save["save"]
			detail := fmt.Sprintf("appendonly=%s save=%q", aof, sv)
			switch {
			case aof == "yes":
				return DurabilityAOF, detail, nil
			case strings.TrimSpace(sv) != "":
				return DurabilityRDB, detail, nil
			}
			return DurabilityNone, detail, nil
		}
	}
	if !refused(err) {
		return "", "", err
	}
	info, err := c.Info(ctx, "persistence", "server").Result()
	if err != nil {
		return "", "", err
	}
	f := infoFields(info)
	switch {
	case f["aof_enabled"] == "1":
		return DurabilityAOF, "CONFIG refused; INFO aof_enabled:1", nil
	case f["rdb_saves"] != "" && f["rdb_saves"] != "0":
		return DurabilityRDB, "CONFIG refused; INFO aof_enabled:0 rdb_saves:" + f["rdb_saves"], nil
	}
	return DurabilityUnknown, "CONFIG refused; INFO aof_enabled:0 and no RDB snapshot since start", nil
}

// refused reports whether err is Redis refusing CONFIG (renamed or
// disabled command, ACL), rather than a failure to reach it.
func refused(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

func infoFields(info string) map[string]string {
	f := map[string]string{}
	for line := range strings.SplitSeq(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			f[k] = v
		}
	}
	return f
}

// checkMarkers verifies the markers planted before and plants missing ones.
// It reports whether one was gone or changed.
func (m *Monitor) checkMarkers(ctx context.Context, masters []master) (bool, error) {
	reset := false
	for key, want := range m.markers {
		got, err := m.rdb.Get(ctx, key).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return false, err
		}
		if got != want {
			reset = true
			delete(m.markers, key)
		}
	}
	for _, ms := range masters {
		key := m.markerKey(ms.ranges)
		if _, ok := m.markers[key]; ok {
			continue
		}
		var b [16]byte
		rand.Read(b[:])
		if err := m.rdb.SetNX(ctx, key, hex.EncodeToString(b[:]), 0).Err(); err != nil {
			return false, err
		}
		// Another node may have planted it first: adopt its value.
		v, err := m.rdb.Get(ctx, key).Result()
		if err != nil {
			return false, err
		}
		m.markers[key] = v
	}
	return reset, nil
}

// markerKey is the marker's key; on Cluster, one whose slot is in ranges
// (a few tries: a master serves about a third of the slots).
func (m *Monitor) markerKey(ranges [][2]int) string {
	base := m.prefix + "marker"
	if ranges == nil {
		return base
	}
	for i := 0; ; i++ {
		k := base + ":{" + strconv.Itoa(i) + "}"
		s := redisslot.Of(k)
		for _, r := range ranges {
			if s >= r[0] && s <= r[1] {
				return k
			}
		}
	}
}
