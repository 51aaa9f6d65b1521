package attack_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/internal/sesametest"
	sesameusers "github.com/sesame-go/sesame/users"
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
	dir := t.TempDir()
	bin := filepath.Join(dir, "sessiond")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/sesame-go/sesame/cmd/sessiond").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	usersFile := filepath.Join(dir, "users.json")
	u, err := sesameusers.NewUser("alice", "alice-pw", sesameusers.Params{Time: 1, MemoryKiB: 1024, Threads: 1}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := sesameusers.Edit(usersFile, func(f *sesameusers.File) error { return f.Put(u, false) }); err != nil {
		t.Fatal(err)
	}
	// The keyset is a file both nodes share: it survives the restart, as a
	// real deployment's keyset must.
	env := []string{"SESAME_MASTER_KEY=AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", "SESAME_USERS=" + usersFile,
		"SESAME_REDIS_URL=redis://" + srv.Addr() + "/0", "SESAME_KEYSET=file:" + filepath.Join(dir, "keyset.json")}
	a := startSessiond(t, bin, dir, env, "--addr", "127.0.0.1:0")

	call := func(base, method, path, body, access string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("X-Session-Transport", "header")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if access != "" {
			req.Header.Set("Authorization", "Bearer "+access)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	code, body := call(a, "POST", "/auth/login", `{"username":"alice","password":"alice-pw"}`, "")
	var tk struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(body), &tk); code != 200 || err != nil {
		t.Fatalf("login: %d %s", code, body)
	}
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
