package bench

import (
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/sesame-go/sesame/bench/internal/redisproc"
	"github.com/sesame-go/sesame/bench/internal/ref"
)

// deps are shared by the tests and benchmarks of this package. Redis is the
// one named by BENCH_REDIS_ADDR (run.sh starts one for all rounds), or else
// a redis-server this process starts on a free loopback port and stops.
var deps Deps

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	s, src, err := ref.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "reference session from %s\n", src)
	}
	deps.Ref = s
	deps.RedisAddr = os.Getenv("BENCH_REDIS_ADDR")
	if deps.RedisAddr == "" {
		srv, err := redisproc.Start(10 * time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer srv.Stop()
		deps.RedisAddr = srv.Addr
	}
	return m.Run()
}
