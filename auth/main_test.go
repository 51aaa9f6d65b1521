package auth_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/internal/redistest"
)

// exampleRedis is the address of a redis-server of this test binary's own,
// for ExampleOpen (Examples get no *testing.T to start one).
var exampleRedis string

type silentRedis struct{}

func (silentRedis) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	// go-redis logs every failed dial; the outage tests cause many on purpose.
	redis.SetLogger(silentRedis{})
	srv, stop, err := redistest.StartMain()
	switch {
	case errors.Is(err, redistest.ErrNoServer) && os.Getenv("CI") != "true":
		// ExampleOpen cannot skip itself: without redis-server, the
		// package's tests (most of which need it) are skipped whole.
		fmt.Fprintln(os.Stderr, "auth tests skipped:", err)
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	exampleRedis = srv.Addr()
	code := m.Run()
	stop()
	os.Exit(code)
}
