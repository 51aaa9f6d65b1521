package attack_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/internal/sesametest"
)

// TestRevocationsSurviveAnEmptyRedisRestart is the probe's W6: log out
// token T, restart Redis without persistence, start a new node. Before, T
// answered 200 on that node until it expired: the revocation was gone and
// only the nodes that had seen it still refused T. Now a running node
// notices the reset and writes back the revocations its replica holds, so
// the new node refuses T too.
func TestRevocationsSurviveAnEmptyRedisRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil) // no persistence: a restart empties it
	dir, bin, usersFile := sessiondFixture(t)
	// The keyset is a file both nodes share: it survives the restart, as a
	// real deployment's keyset must.
	env := []string{"SESAME_MASTER_KEY=AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", "SESAME_USERS=" + usersFile,
		"SESAME_REDIS_URL=redis://" + srv.Addr() + "/0", "SESAME_KEYSET=file:" + filepath.Join(dir, "keyset.json")}
	a := startSessiond(t, bin, dir, env, "--addr", "127.0.0.1:0")

	call := func(base, method, path, body, access string) (int, string) {
		hdr := sesametest.HeaderTransport()
		if access != "" {
			hdr = append(hdr, sesametest.Bearer(access)...)
		}
		r := sesametest.Send(t, nil, method, base+path, body, hdr...)
		return r.Status, r.Body
	}
	tk := sesametest.Login(t, nil, a, "alice", "alice-pw")
	if code, _ := call(a, "POST", "/auth/logout", "", tk.AccessToken); code != 204 {
		t.Fatalf("logout: %d", code)
	}

	srv.Restart() // empty
	sesametest.WaitFor(t, 50*time.Millisecond, 30*time.Second, "node A to notice the reset", func() bool {
		_, m := call(a, "GET", "/metrics", "", "")
		return strings.Contains(m, "\nsesame_redis_resets_total 1\n")
	})
	b := startSessiond(t, bin, dir, env, "--addr", "127.0.0.1:0")
	sesametest.WaitFor(t, 50*time.Millisecond, 10*time.Second, "node B to refuse the logged-out token", func() bool {
		code, _ := call(b, "GET", "/api/whoami", "", tk.AccessToken)
		return code == 401
	})
	if code, _ := call(a, "GET", "/api/whoami", "", tk.AccessToken); code != 401 {
		t.Errorf("node A after the reset: %d, want 401", code)
	}
}
