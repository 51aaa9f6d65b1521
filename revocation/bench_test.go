package revocation

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sesame-go/sesame/internal/redistest"
)

// loadedReplica returns a current replica holding n session entries named
// "s0".."s<n-1>", loaded straight into its tables.
func loadedReplica(tb testing.TB, n int) *Replica {
	store, _ := newMemory(nil)
	r, err := NewReplica(store, &ReplicaOptions{StalenessBound: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	batch := make([]Entry, 0, 4096)
	for i := range n {
		batch = append(batch, Entry{Kind: KindSession, ID: "s" + strconv.Itoa(i), Expires: exp})
		if len(batch) == cap(batch) {
			r.apply(batch)
			batch = batch[:0]
		}
	}
	r.apply(batch)
	r.confirm(time.Now().UnixMilli())
	return r
}

func BenchmarkReplicaCheck(b *testing.B) {
	r := loadedReplica(b, 1_000_000)
	iat := time.Now()
	for _, bc := range []struct {
		name string
		s    Subject
		want bool
	}{
		{"hit", Subject{SID: "s123456"}, true},
		{"miss", Subject{SID: "not-revoked-session-id-22", JTI: "not-revoked-jti-22char", UserID: "user-1234", IssuedAt: iat}, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if ok, err := r.Check(bc.s); ok != bc.want || err != nil {
					b.Fatalf("Check = %v, %v", ok, err)
				}
			}
		})
		b.Run(bc.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if ok, _ := r.Check(bc.s); ok != bc.want {
						b.Error("wrong answer")
						return
					}
				}
			})
		})
	}
}

// heapPerEntry measures the heap a replica holds per session entry.
func heapPerEntry(tb testing.TB, n int) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := loadedReplica(tb, n)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(r)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

func BenchmarkReplicaBytesPerEntry(b *testing.B) {
	for _, n := range []int{1_000_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var per float64
			for b.Loop() {
				per = heapPerEntry(b, n)
			}
			b.ReportMetric(per, "bytes/entry")
		})
	}
}

// TestReplicaMemoryPerEntry holds the memory target (≤ 120 bytes per entry)
// at 10⁵ entries; BenchmarkReplicaBytesPerEntry reports 10⁶.
func TestReplicaMemoryPerEntry(t *testing.T) {
	if per := heapPerEntry(t, 100_000); per > 120 {
		t.Fatalf("replica holds %.1f bytes per entry, target 120", per)
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// latencies collects per-operation durations from parallel goroutines.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d []time.Duration) { l.mu.Lock(); l.all = append(l.all, d...); l.mu.Unlock() }

func (l *latencies) report(b *testing.B, elapsed time.Duration) {
	b.ReportMetric(float64(len(l.all))/elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(percentile(l.all, 0.50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(l.all, 0.99).Microseconds()), "p99-µs")
}

func benchRedisStore(b *testing.B, opts ...*RedisOptions) *redisStore {
	srv := redistest.Start(b, nil)
	var o *RedisOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	s, err := newRedis(srv.Client(), o)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkRedisRefresh: 8 goroutines per GOMAXPROCS rotate their own
// families, with and without auto-pipelining.
func BenchmarkRedisRefresh(b *testing.B) {
	for _, mode := range []struct {
		name string
		off  bool
	}{{"pipelined", false}, {"one-command-each", true}} {
		b.Run(mode.name, func(b *testing.B) {
			benchmarkRefresh(b, benchRedisStore(b, &RedisOptions{NoAutoPipeline: mode.off}), nil)
		})
	}
}

// benchmarkRefresh rotates refresh tokens on s, 8 goroutines per
// GOMAXPROCS, each on a family of its own created with data.
func benchmarkRefresh(b *testing.B, s Store, data []byte) {
	ctx := context.Background()
	var lat latencies
	b.ReportAllocs()
	b.SetParallelism(8)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		_, tok, err := s.CreateFamily(ctx, NewFamily{SessionID: newSID(), UserID: "bench",
			Data: data, AbsoluteExpiry: time.Now().Add(time.Hour)})
		if err != nil {
			b.Error(err)
			return
		}
		var local []time.Duration
		for pb.Next() {
			t0 := time.Now()
			res, err := s.Refresh(ctx, tok.Reveal())
			local = append(local, time.Since(t0))
			if err != nil {
				b.Error(err)
				return
			}
			tok = res.Token
		}
		lat.add(local)
	})
	lat.report(b, time.Since(start))
}

func BenchmarkRedisCreateFamily(b *testing.B) {
	s := benchRedisStore(b)
	ctx := context.Background()
	var lat latencies
	b.ReportAllocs()
	b.SetParallelism(8)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var local []time.Duration
		i := 0
		for pb.Next() {
			i++
			sid := newSID()
			t0 := time.Now()
			_, _, err := s.CreateFamily(ctx, NewFamily{SessionID: sid, UserID: "u" + strconv.Itoa(i%1000),
				Data: make([]byte, 512), AbsoluteExpiry: time.Now().Add(time.Hour), IdleTimeout: time.Hour,
				UserAgent: "bench", IP: "127.0.0.1"})
			local = append(local, time.Since(t0))
			if err != nil {
				b.Error(err)
				return
			}
		}
		lat.add(local)
	})
	lat.report(b, time.Since(start))
}

func BenchmarkRedisIsRevoked(b *testing.B) {
	s := benchRedisStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.IsRevoked(ctx, Subject{SID: "s", JTI: "j", UserID: "u", IssuedAt: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedisPropagation writes revocations through one node's store and
// measures how long until another node's replica sees each one (write call
// included). One iteration is 1000 revocations, one at a time.
func BenchmarkRedisPropagation(b *testing.B) {
	srv := redistest.Start(b, nil)
	a, _ := newRedis(srv.Client(), nil)
	other, _ := newRedis(srv.Client(), nil)
	ra, _ := NewReplica(a, nil)
	rb, _ := NewReplica(other, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, r := range []*Replica{ra, rb} {
		wg.Go(func() { _ = r.Run(ctx) })
	}
	defer func() { cancel(); wg.Wait() }()
	for !ra.Status().Ready || !rb.Status().Ready {
		runtime.Gosched()
	}
	const perIter = 1000
	var all []time.Duration
	n := 0
	for b.Loop() {
		for range perIter {
			n++
			sid := fmt.Sprintf("prop-%d", n)
			t0 := time.Now()
			if err := a.RevokeSession(ctx, sid); err != nil {
				b.Fatal(err)
			}
			for {
				if holds(rb, Subject{SID: sid}) {
					break
				}
				if time.Since(t0) > 10*time.Second {
					b.Fatalf("revocation %d not seen in 10s", n)
				}
				runtime.Gosched()
			}
			all = append(all, time.Since(t0))
		}
	}
	b.ReportMetric(float64(percentile(all, 0.50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(all, 0.99).Microseconds()), "p99-µs")
	b.ReportMetric(float64(len(all)), "revocations")
}

func BenchmarkMemoryRefresh(b *testing.B) {
	s, _ := newMemory(nil)
	ctx := context.Background()
	_, tok, _ := s.CreateFamily(ctx, NewFamily{SessionID: newSID(), UserID: "u", AbsoluteExpiry: time.Now().Add(time.Hour)})
	b.ReportAllocs()
	for b.Loop() {
		res, err := s.Refresh(ctx, tok.Reveal())
		if err != nil {
			b.Fatal(err)
		}
		tok = res.Token
	}
}

// BenchmarkForgeryWalk is what telling a forged refresh token from an old
// genuine one costs at the default ReuseLookback (SECURITY.md): a walk of
// 4096 generations that meets no stored hash.
func BenchmarkForgeryWalk(b *testing.B) {
	var s [secretLen]byte
	stored := hashSecret(nextSecret(nextSecret(s)))
	s[0] = 1 // not an ancestor
	b.ReportAllocs()
	for b.Loop() {
		if isAncestor(s, DefaultReuseLookback, stored[:]) {
			b.Fatal("a forged secret walked into the chain")
		}
	}
}
