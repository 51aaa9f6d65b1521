package redistest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/sesame-go/sesame/internal/freeport"
)

// ErrNoServer is StartMain's error when redis-server is not on PATH.
var ErrNoServer = errors.New("redistest: redis-server not found on PATH; install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)")

// StartMain starts a standalone redis-server for a TestMain, which has no
// testing.TB (so Examples can talk to a Redis of their own): the same
// process as [Start] makes, without persistence, stopped by stop, which also
// removes its directory. Methods that report through a test (Restart,
// Signal) must not be called on it. A missing redis-server is an error
// wrapping [ErrNoServer]: under CI=true the caller must fail, elsewhere it
// may skip.
func StartMain() (s *Server, stop func(), err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, nil, ErrNoServer
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, nil, fmt.Errorf("redistest: %w", err)
	}
	s = &Server{bin: bin, dir: dir, opts: Options{StartTimeout: 10 * time.Second}, logPath: filepath.Join(dir, "redis.log")}
	stop = func() { s.cleanup(); os.RemoveAll(dir) }
	if _, err = freeport.Start(func(port int) error { s.port = port; return s.start() }); err == nil {
		return s, stop, nil
	}
	tail := s.logTail()
	stop()
	return nil, nil, fmt.Errorf("redistest: start redis-server: %w\n%s", err, tail)
}
