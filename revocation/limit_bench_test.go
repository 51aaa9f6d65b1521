package revocation

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/sesame-go/sesame/internal/redistest"
)

// distinctKeys is how many different keys the benchmarks send: an attacker
// inventing a key per request.
const distinctKeys = 1_000_000

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkLocalLimiterDistinctKeys sends Reserve for 10⁶ distinct keys
// (cycled) and reports the table's size and how much the heap grew while
// they went through: the table is fixed, so it should not grow at all.
func BenchmarkLocalLimiterDistinctKeys(b *testing.B) {
	keys := make([]string, distinctKeys)
	for i := range keys {
		keys[i] = "198.51.100." + strconv.Itoa(i)
	}
	ctx := context.Background()
	before := heapInUse()
	l, err := NewLocalLimiter(Rate{Limit: 20, Period: 5 * time.Minute}, nil)
	if err != nil {
		b.Fatal(err)
	}
	table := heapInUse() - before
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		l.Reserve(ctx, keys[i%distinctKeys])
	}
	b.StopTimer()
	grown := int64(heapInUse()) - int64(before) - int64(table)
	b.ReportMetric(float64(table), "table-bytes")
	b.ReportMetric(float64(max(grown, 0)), "heap-growth-bytes")
	runtime.KeepAlive(l)
}

// BenchmarkLocalLimiterParallel is the same under contention from every P.
func BenchmarkLocalLimiterParallel(b *testing.B) {
	keys := make([]string, distinctKeys)
	for i := range keys {
		keys[i] = "198.51.100." + strconv.Itoa(i)
	}
	l, _ := NewLocalLimiter(Rate{Limit: 20, Period: 5 * time.Minute}, nil)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Reserve(ctx, keys[i%distinctKeys])
			i += 7919
		}
	})
}

// BenchmarkRedisLimiter is one Reserve against a real redis-server on
// loopback: one EVALSHA round trip.
func BenchmarkRedisLimiter(b *testing.B) {
	srv := redistest.Start(b, nil)
	l, err := newRedisLimiter(srv.Client(), uniquePrefix(), "bench", Rate{Limit: 20, Period: 5 * time.Minute}, &LimiterOptions{Timeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if d := l.Reserve(ctx, strconv.Itoa(i%distinctKeys)); d.Local {
			b.Fatal("answered locally:", l.Status().LastError)
		}
	}
}
