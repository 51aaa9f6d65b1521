// Package sesametest is scaffolding shared by sesame's tests (auth,
// internal/attack, internal/chaos, internal/failover, the commands and the
// examples): nodes (an auth.Manager served by an httptest server until the
// test ends: Serve, StartNode, OpenNode, with a fixed keyset from
// NewKeyset), requests to them (Do, Send, Login, Refresh and their
// Response; Bearer, BasicAuth, Browser, Cookie), a denylist replica that
// runs until the test ends, a poll for conditions that propagate, quiet
// go-redis logs, and what the tests of real processes need (Need,
// StartProcess, FreeAddr, DialFrom). Its packages browsertest (a headless
// Chromium) and sessiondtest (sessiond's binary and users file) are apart
// for their imports.
package sesametest

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/revocation"
)

// StartReplica returns a replica of feed (revocation.NewReplica with opts)
// whose Run goes on its own goroutine until t ends: the cleanup cancels it
// and waits for Run to return. It does not wait for the first snapshot.
func StartReplica(t testing.TB, feed revocation.Feed, opts *revocation.ReplicaOptions) *revocation.Replica {
	t.Helper()
	rep, err := revocation.NewReplica(feed, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rep.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return rep
}

// WaitFor calls cond every interval until it holds and returns how long
// that took; if it does not hold within d, WaitFor fails t, naming what
// it waited for (what may be empty). It waits for propagation and asserts
// nothing about timing.
func WaitFor(t testing.TB, interval, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for !cond() {
		if time.Since(start) > d {
			if what == "" {
				t.Fatalf("condition not met within %v", d)
			}
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		<-tick.C
	}
	return time.Since(start)
}

// QuietRedis keeps go-redis's own log lines (a failed dial, a pool
// problem) off the test output, for tests that stop Redis on purpose.
func QuietRedis() { redis.SetLogger(quiet{}) }

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// LogBuffer collects what a logger (or several goroutines) writes, for a
// test to read while it is being written. Its zero value is ready.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
