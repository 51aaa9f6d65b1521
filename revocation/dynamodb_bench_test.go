package revocation

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/sesame-go/sesame/internal/dynalitetest"
)

// The DynamoDB benchmarks run against dynalite, a Node.js emulator on this
// machine: they measure this package's round trips and dynalite's speed,
// and say nothing about DynamoDB's latency or throughput on AWS.

func benchDynamoStore(b *testing.B, opts DynamoOptions) *dynamoStore {
	srv := dynalitetest.Start(b)
	return newDynamoTable(b, srv.Client(), opts)
}

// BenchmarkDynamoRefresh: 8 goroutines per GOMAXPROCS rotate their own
// families (a GetItem and a conditional UpdateItem each).
func BenchmarkDynamoRefresh(b *testing.B) {
	benchmarkRefresh(b, benchDynamoStore(b, DynamoOptions{}), make([]byte, 512))
}

// BenchmarkDynamoLogout ends families (RevokeFamily: read the family,
// raise the denylist entry, number and write the feed entry, delete the
// family), 8 goroutines per GOMAXPROCS. The b.N families are created first,
// outside the timer.
func BenchmarkDynamoLogout(b *testing.B) {
	s := benchDynamoStore(b, DynamoOptions{})
	ctx := context.Background()
	fams := make(chan string, b.N)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for len(fams) < cap(fams) {
				f, _, err := s.CreateFamily(ctx, NewFamily{SessionID: newSID(), UserID: "bench",
					AbsoluteExpiry: time.Now().Add(time.Hour)})
				if err != nil {
					b.Error(err)
					return
				}
				select {
				case fams <- f.ID:
				default: // full: another goroutine made the last one
				}
			}
		})
	}
	wg.Wait()
	var lat latencies
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var local []time.Duration
		for pb.Next() {
			fid := <-fams
			t0 := time.Now()
			err := s.RevokeFamily(ctx, fid)
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

func BenchmarkDynamoIsRevoked(b *testing.B) {
	s := benchDynamoStore(b, DynamoOptions{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.IsRevoked(ctx, Subject{SID: "s", JTI: "j", UserID: "u", IssuedAt: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDynamoPropagation writes revocations through one node's store
// and measures how long until another node's replica sees each one (write
// call included), at two poll intervals. One iteration is 100 revocations,
// one at a time.
func BenchmarkDynamoPropagation(b *testing.B) {
	for _, poll := range []time.Duration{100 * time.Millisecond, 20 * time.Millisecond} {
		b.Run("poll="+poll.String(), func(b *testing.B) {
			srv := dynalitetest.Start(b)
			a := newDynamoTable(b, srv.Client(), DynamoOptions{PollInterval: poll})
			other, _ := newDynamo(srv.Client(), &DynamoOptions{Table: a.table, PollInterval: poll})
			rb, _ := NewReplica(other, nil)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { _ = rb.Run(ctx) })
			defer func() { cancel(); wg.Wait() }()
			for !rb.Status().Ready {
				runtime.Gosched()
			}
			const perIter = 100
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
						time.Sleep(100 * time.Microsecond) // let dynalite and the replica run on 2 cores
					}
					all = append(all, time.Since(t0))
				}
			}
			b.ReportMetric(float64(percentile(all, 0.50).Microseconds()), "p50-µs")
			b.ReportMetric(float64(percentile(all, 0.99).Microseconds()), "p99-µs")
			b.ReportMetric(float64(len(all)), "revocations")
		})
	}
}
