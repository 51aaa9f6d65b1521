package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// sampled are the series a soak samples on every node, from its /metrics:
// the Go heap in use and its object count, goroutines, open file
// descriptors, and the denylist replica's entries.
var sampled = []string{"go_memstats_heap_inuse_bytes", "go_memstats_heap_objects", "go_goroutines", "process_open_fds", "sesame_replica_entries"}

// redisMemory is the series name of Redis's INFO memory used_memory.
const redisMemory = "redis_used_memory"

// sample is one reading of every series.
type sample struct {
	at     time.Duration // since the load started
	values map[string]float64
}

// series names a node's metric: "sessiond-1 go_goroutines".
func series(node, metric string) string { return node + " " + metric }

// sampler reads the series every interval until ctx ends.
func sampler(ctx context.Context, c *cluster, rdb *redis.Client, start time.Time, interval time.Duration, out chan<- sample) {
	defer close(out)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s := sample{at: time.Since(start).Round(time.Second), values: map[string]float64{}}
		for _, n := range c.nodes {
			m, err := scrape(ctx, n.url+"/metrics")
			if err != nil {
				continue // a missing reading shows as a gap, and fails the check
			}
			for _, name := range sampled {
				if v, ok := m[name]; ok {
					s.values[series(n.name, name)] = v
				}
			}
		}
		if info, err := rdb.Info(ctx, "memory").Result(); err == nil {
			for l := range strings.Lines(info) {
				if v, ok := strings.CutPrefix(strings.TrimSpace(l), "used_memory:"); ok {
					f, _ := strconv.ParseFloat(v, 64)
					s.values[redisMemory] = f
				}
			}
		}
		if ctx.Err() != nil {
			return // the run ended during the reading: incomplete
		}
		out <- s
	}
}

// scrape reads the unlabelled samples of a Prometheus text page.
func scrape(ctx context.Context, url string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 8<<20))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			m[name] = f
		}
	}
	return m, sc.Err()
}

// load is what the tolerances depend on.
type load struct {
	clients    int
	logoutRate float64 // logouts per second, all nodes together
}

// replicaSweep is how often sessiond's denylist replica drops expired
// entries (revocation.ReplicaOptions.SweepInterval, which sessiond leaves
// at its default).
const replicaSweep = time.Minute

// tolerance is how far the second half's median may be from the first
// half's, relatively and absolutely (the larger wins), for a series to be
// flat. For the heap, the halves' lowest readings are compared instead,
// and only growth counts. Why each:
//
//   - open fds: the client connections, the Redis pool and the files and
//     sockets of the process; constant under a constant load. 10 %, at
//     least 5 (a Redis connection of the pool may come or go).
//   - goroutines: one per client connection, one more for each request in
//     flight (a background read while a handler runs), plus the fixed
//     background ones; how many requests are in flight at the moment of a
//     sample varies from none to every client's. 10 %, at least half the
//     clients. A leak of one goroutine per login would add thousands.
//   - heap objects and heap in use: both count garbage not yet collected,
//     and how much of it there is at a sample is set by the collector's
//     pacing, which argon2id sets: each login's hash holds 64 MiB (up to
//     4 at once per node, users.Options.MaxConcurrent), and a collection
//     that runs while hashes are live sets the next heap goal hundreds of
//     MiB higher, letting small garbage pile up. Medians track that, not
//     leaks (a 10-minute run's medians of heap objects rose 16 % and 33 %
//     while forced-GC heap profiles of another run showed no growth of
//     live objects). The lowest reading of a half is the nearest to the
//     live heap, and leaks raise it. Objects: 25 % (one leaked object per
//     request would add hundreds of thousands over the run). Bytes: 25 %
//     plus four hashes (256 MiB), as the lowest reading may still hold
//     hashes in flight.
//   - replica entries: one per logout, kept for the entry TTL
//     (--access-ttl + 30 s) and then until the next sweep (every minute), so
//     the count is a sawtooth whose teeth are one minute of logouts; 10 %
//     plus one minute of logouts at the measured rate. Without expiry it
//     would grow by that much every minute.
//   - Redis memory: the sessions (one per client) and the denylist entries
//     (Redis expires them itself). 10 %.
func tolerance(name string, l load) (rel, abs float64) {
	switch {
	case strings.HasSuffix(name, "process_open_fds"):
		return 0.10, 5
	case strings.HasSuffix(name, "go_goroutines"):
		return 0.10, float64(l.clients) / 2
	case strings.HasSuffix(name, "go_memstats_heap_objects"):
		return 0.25, 0
	case strings.HasSuffix(name, "go_memstats_heap_inuse_bytes"):
		return 0.25, 4 * 64 << 20
	case strings.HasSuffix(name, "sesame_replica_entries"):
		return 0.10, l.logoutRate * replicaSweep.Seconds()
	}
	return 0.10, 0
}

// verdict is one series' flatness after the warm-up.
type verdict struct {
	name                string
	first, second       float64 // medians of the two halves (lowest readings for the heap: byMin)
	byMin               bool
	min, max            float64
	samples             int
	flat                bool
	firstN, secondN     int
	allowedRel, allowed float64
}

// flatness splits the samples taken at or after warmup into two halves
// and compares each series' medians.
func flatness(samples []sample, warmup time.Duration, l load) []verdict {
	var after []sample
	for _, s := range samples {
		if s.at >= warmup {
			after = append(after, s)
		}
	}
	names := map[string]bool{}
	for _, s := range after {
		for k := range s.values {
			names[k] = true
		}
	}
	var out []verdict
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range names {
			if !yield(k) {
				return
			}
		}
	}) {
		var a, b []float64
		half := len(after) / 2
		for i, s := range after {
			v, ok := s.values[name]
			if !ok {
				continue
			}
			if i < half {
				a = append(a, v)
			} else if i >= len(after)-half { // an odd middle sample is in neither
				b = append(b, v)
			}
		}
		rel, abs := tolerance(name, l)
		v := verdict{name: name, firstN: len(a), secondN: len(b), min: math.Inf(1), max: math.Inf(-1)}
		for _, x := range append(slices.Clone(a), b...) {
			v.min, v.max = min(v.min, x), max(v.max, x)
		}
		v.samples = len(a) + len(b)
		v.first, v.second = median(a), median(b)
		change := math.Abs(v.second - v.first)
		if strings.Contains(name, "heap") && len(a) > 0 && len(b) > 0 {
			v.first, v.second = slices.Min(a), slices.Min(b)
			v.byMin = true
			change = v.second - v.first
		}
		v.allowedRel = rel
		v.allowed = max(rel*v.first, abs)
		// At least 3 readings a half, and a reading missing from at most
		// one sample per half (a scrape that failed).
		v.flat = len(a) >= 3 && len(b) >= 3 && len(a) >= half-1 && len(b) >= half-1 && change <= v.allowed
		out = append(out, v)
	}
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// human prints a value: bytes in MiB, others as integers.
func human(name string, v float64) string {
	if strings.HasSuffix(name, "_bytes") || name == redisMemory {
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	}
	return fmt.Sprintf("%.0f", v)
}
