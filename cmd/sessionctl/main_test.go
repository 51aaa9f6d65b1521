package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sesame-go/sesame/internal/redistest"
)

// binary is the real sessionctl, built once for all tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sessionctl-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "sessionctl")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building sessionctl:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	masterKey = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
	otherKey  = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
)

type result struct {
	stdout, stderr string
	code           int
}

// cli runs the binary with a clean environment plus env.
type cli struct {
	t   *testing.T
	env []string
	dir string
}

func newCLI(t *testing.T, env ...string) *cli {
	return &cli{t: t, dir: t.TempDir(), env: append([]string{"SESAME_MASTER_KEY=" + masterKey}, env...)}
}

func (c *cli) run(args ...string) result {
	c.t.Helper()
	return c.runEnv(nil, args...)
}

func (c *cli) runEnv(extra []string, args ...string) result {
	c.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = c.dir
	cmd.Env = append(append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.dir}, c.env...), extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func (c *cli) ok(args ...string) string {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 || r.stderr != "" {
		c.t.Fatalf("sessionctl %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// fails checks exit status 1, one line on stderr containing want, nothing on stdout.
func (c *cli) fails(want string, args ...string) {
	c.t.Helper()
	c.failsEnv(nil, want, args...)
}

func (c *cli) failsEnv(env []string, want string, args ...string) {
	c.t.Helper()
	r := c.runEnv(env, args...)
	if r.code != 1 {
		c.t.Errorf("sessionctl %s: exit %d, want 1 (stderr %q)", strings.Join(args, " "), r.code, r.stderr)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
		c.t.Errorf("sessionctl %s: stderr is not one line: %q", strings.Join(args, " "), r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		c.t.Errorf("sessionctl %s: stderr %q, want it to contain %q", strings.Join(args, " "), r.stderr, want)
	}
	if r.stdout != "" {
		c.t.Errorf("sessionctl %s: stdout %q, want none", strings.Join(args, " "), r.stdout)
	}
}

type listing struct {
	Version uint64 `json:"version"`
	Keys    []struct {
		KID       string  `json:"kid"`
		State     string  `json:"state"`
		RetiresAt *string `json:"retires_at"`
	} `json:"keys"`
}

func (c *cli) list(ks string) listing {
	c.t.Helper()
	var l listing
	out := c.ok("keys", "list", "--json", "--keyset", ks)
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		c.t.Fatalf("list --json: %v\n%s", err, out)
	}
	return l
}

func (l listing) byState(st string) []string {
	var ids []string
	for _, k := range l.Keys {
		if k.State == st {
			ids = append(ids, k.KID)
		}
	}
	return ids
}

func fileBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lifecycle runs the whole keys command set against one keyset spec.
func lifecycle(t *testing.T, c *cli, ks string) {
	out := c.ok("keys", "init", "--keyset", ks)
	if !strings.Contains(out, "initialized keyset version ") {
		t.Errorf("init printed %q", out)
	}
	c.fails("already exists", "keys", "init", "--keyset", ks)

	l := c.list(ks)
	if l.Version < 1e9 || len(l.byState("active")) != 1 || len(l.byState("pending")) != 1 || len(l.Keys) != 2 {
		t.Fatalf("after init: %+v", l)
	}
	text := c.ok("keys", "list", "--keyset", ks)
	for _, col := range []string{"KID", "STATE", "CREATED", "ACTIVATED", "RETIRES-AT", l.Keys[0].KID} {
		if !strings.Contains(text, col) {
			t.Errorf("list output lacks %q:\n%s", col, text)
		}
	}

	c.fails("not published long enough", "keys", "rotate", "--keyset", ks)
	first := l.byState("active")[0]
	pending := l.byState("pending")[0]
	out = c.ok("keys", "rotate", "--keyset", ks, "--publish-delay=0", "--max-token-lifetime=1ns", "--leeway=0")
	if !strings.Contains(out, pending+" is active") {
		t.Errorf("rotate printed %q", out)
	}
	l = c.list(ks)
	if vo := l.byState("verify-only"); len(vo) != 1 || vo[0] != first || l.Keys[0].RetiresAt == nil {
		t.Fatalf("after rotate: %+v", l)
	}

	jwks := c.ok("keys", "jwks", "--keyset", ks)
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal([]byte(jwks), &set); err != nil || len(set.Keys) != 3 {
		t.Fatalf("jwks: %v %s", err, jwks)
	}
	for _, k := range set.Keys {
		if k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["alg"] != "EdDSA" || k["use"] != "sig" || k["d"] != "" {
			t.Errorf("jwk %v", k)
		}
	}

	c.fails(`unknown key "nope"`, "keys", "revoke", "nope", "--keyset", ks)
	c.fails("use --force", "keys", "revoke", pending, "--keyset", ks)
	c.fails("accepts 1 arg", "keys", "revoke", "--keyset", ks)
	if l2 := c.list(ks); l2.Version != l.Version {
		t.Fatalf("a failed revoke changed the keyset: version %d → %d", l.Version, l2.Version)
	}
	c.ok("keys", "revoke", pending, "--force", "--keyset", ks)
	l = c.list(ks)
	if len(l.byState("revoked")) != 1 || len(l.byState("active")) != 1 || l.byState("active")[0] == pending {
		t.Fatalf("after forced revoke: %+v", l)
	}

	// The first key stopped signing with a 1ns lifetime recorded: prunable.
	out = c.ok("keys", "prune", "--keyset", ks, "--max-token-lifetime=1ns", "--leeway=0")
	if !strings.Contains(out, "pruned 2 keys") {
		t.Errorf("prune printed %q", out)
	}
	if l := c.list(ks); len(l.Keys) != 2 {
		t.Errorf("after prune: %+v", l)
	}
	out = c.ok("keys", "prune", "--keyset", ks)
	if !strings.Contains(out, "pruned 0 keys") {
		t.Errorf("second prune printed %q", out)
	}

	c.failsEnv([]string{"SESAME_MASTER_KEY=" + otherKey}, "cannot open keyset: wrong master key or corrupted data",
		"keys", "list", "--keyset", ks)
}

func TestKeysFile(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	path := filepath.Join(c.dir, "keyset.json")
	ks := "file:" + path
	lifecycle(t, c, ks)

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("keyset mode %v, want 0600", fi.Mode().Perm())
	}

	t.Run("wrong master key writes nothing", func(t *testing.T) {
		before := fileBytes(t, path)
		wrong := []string{"SESAME_MASTER_KEY=" + otherKey}
		const msg = "cannot open keyset: wrong master key or corrupted data\n"
		for _, args := range [][]string{{"rotate", "--publish-delay=0"}, {"prune"}, {"revoke", "x"}, {"jwks"}} {
			r := c.runEnv(wrong, append(append([]string{"keys"}, args...), "--keyset", ks)...)
			if r.code != 1 || r.stderr != msg {
				t.Errorf("%v: exit %d stderr %q, want exit 1 and exactly %q", args, r.code, r.stderr, msg)
			}
		}
		if !bytes.Equal(fileBytes(t, path), before) {
			t.Fatal("the keyset file changed")
		}
	})

	t.Run("master key file", func(t *testing.T) {
		mkf := filepath.Join(c.dir, "mk")
		os.WriteFile(mkf, []byte(masterKey+"\n"), 0o600)
		r := c.runEnv([]string{"SESAME_MASTER_KEY="}, "keys", "list", "--keyset", ks, "--master-key-file", mkf)
		if r.code != 0 {
			t.Fatalf("with --master-key-file: %+v", r)
		}
		c.failsEnv([]string{"SESAME_MASTER_KEY="}, "SESAME_MASTER_KEY", "keys", "list", "--keyset", ks)
		c.failsEnv([]string{"SESAME_MASTER_KEY=short"}, "master key", "keys", "list", "--keyset", ks)
		c.fails("unknown flag: --master-key", "keys", "list", "--keyset", ks, "--master-key", masterKey)
	})

	t.Run("env SESAME_KEYSET", func(t *testing.T) {
		r := c.runEnv([]string{"SESAME_KEYSET=" + ks}, "keys", "list", "--json")
		if r.code != 0 || !strings.Contains(r.stdout, `"version"`) {
			t.Fatalf("%+v", r)
		}
		r = c.runEnv([]string{"SESAME_KEYSET=redis://:hunter2@127.0.0.1:1/0"}, "keys", "--help")
		if r.code != 0 || strings.Contains(r.stdout+r.stderr, "hunter2") {
			t.Fatalf("help shows the keyset URL from the environment: %+v", r)
		}
	})

	t.Run("corrupt file", func(t *testing.T) {
		bad := filepath.Join(c.dir, "bad.json")
		os.WriteFile(bad, []byte(`{"format":"sesame-keyset/v1","version":1,"nonce":"AAAA","sealed":"AAAA"}`), 0o600)
		c.fails("cannot open keyset", "keys", "list", "--keyset", "file:"+bad)
		os.WriteFile(bad, []byte("garbage"), 0o600)
		c.fails("cannot open keyset", "keys", "rotate", "--keyset", "file:"+bad)
		if string(fileBytes(t, bad)) != "garbage" {
			t.Error("a corrupt file was overwritten")
		}
	})
}

func TestKeysUsageErrors(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.fails("no keyset", "keys", "list")
	c.fails("no keyset stored", "keys", "list", "--keyset", "file:"+filepath.Join(c.dir, "missing.json"))
	c.fails("want file:PATH or redis://", "keys", "list", "--keyset", "ftp://x")
	c.fails("--max-token-lifetime must be positive", "keys", "rotate", "--keyset", "file:x", "--publish-delay=1h", "--max-token-lifetime=-1s")
	c.fails("--max-token-lifetime must be positive", "keys", "rotate", "--keyset", "file:x", "--max-token-lifetime=0")
	c.fails("cannot be negative (0: none)", "keys", "rotate", "--keyset", "file:x", "--publish-delay=-1s")
	c.fails("cannot be negative (0: none)", "keys", "prune", "--keyset", "file:x", "--leeway=-1m")
	c.fails("reading keyset from redis", "keys", "list", "--keyset", "redis://127.0.0.1:1/0")
	if _, err := os.Stat(filepath.Join(c.dir, "missing.json")); err == nil {
		t.Error("list created a keyset file")
	}
}

func TestKeysRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	c := newCLI(t)
	lifecycle(t, c, "redis://"+srv.Addr()+"/0")
}

// TestKeysSentinelAndCluster: the keyset URL takes the forms sessiond takes.
func TestKeysSentinelAndCluster(t *testing.T) {
	t.Parallel()
	t.Run("sentinel", func(t *testing.T) {
		t.Parallel()
		s := redistest.StartSentinel(t, nil)
		lifecycle(t, newCLI(t), "redis-sentinel://"+strings.Join(s.SentinelAddrs(), ",")+"/"+s.MasterName())
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		c := redistest.StartCluster(t, nil)
		lifecycle(t, newCLI(t), "redis-cluster://"+strings.Join(c.Addrs()[:2], ","))
	})
}

// TestConcurrentRotateProcesses runs several sessionctl processes rotating
// the same keyset at once: every rotation must land, one after another.
func TestConcurrentRotateProcesses(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	for name, ks := range map[string]string{"file": "", "redis": "redis://" + srv.Addr() + "/1"} {
		t.Run(name, func(t *testing.T) {
			c := newCLI(t)
			if ks == "" {
				ks = "file:" + filepath.Join(c.dir, "keyset.json")
			}
			c.ok("keys", "init", "--keyset", ks)
			v0 := c.list(ks).Version
			const procs = 6
			var wg sync.WaitGroup
			res := make([]result, procs)
			for i := range procs {
				wg.Go(func() { res[i] = c.run("keys", "rotate", "--publish-delay=0", "--keyset", ks) })
			}
			wg.Wait()
			for i, r := range res {
				if r.code != 0 {
					t.Errorf("process %d: %+v", i, r)
				}
			}
			l := c.list(ks)
			if l.Version != v0+procs || len(l.byState("verify-only")) != procs || len(l.byState("active")) != 1 || len(l.byState("pending")) != 1 {
				t.Fatalf("after %d concurrent rotations: %+v", procs, l)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://:hunter2@h:6379/0":  "redis://:xxxxx@h:6379/0",
		"redis://u:hunter2@h:6379/0": "redis://u:xxxxx@h:6379/0",
		"redis://h:6379/0":           "redis://h:6379/0",
		"file:/etc/keyset.json":      "file:/etc/keyset.json",
		"x://a:hunter2@b%zz":         "x://a:xxxxx@b%zz",
		"redis-sentinel://u:hunter2@s1,s2:26380/mymaster?sentinel_password=hunter2": "redis-sentinel://u:xxxxx@s1,s2:26380/mymaster?sentinel_password=xxxxx",
		"redis-cluster://:hunter2@h1:7000,h2:7001":                                  "redis-cluster://:xxxxx@h1:7000,h2:7001",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPublishDelayZeroRotatesAtOnce: on the command line 0 means none.
// "--publish-delay 0" once meant the 10-minute default, so a rotation right
// after init was refused as too early.
func TestPublishDelayZeroRotatesAtOnce(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	ks := "file:" + filepath.Join(c.dir, "keyset.json")
	c.ok("keys", "init", "--keyset", ks)
	before := c.ok("keys", "list", "--keyset", ks, "--json")
	c.ok("keys", "rotate", "--keyset", ks, "--publish-delay", "0")
	after := c.ok("keys", "list", "--keyset", ks, "--json")
	if before == after {
		t.Fatalf("rotate --publish-delay 0 changed nothing: %s", after)
	}
	// A second rotation at once, too: the key the first one published
	// signs without waiting.
	c.ok("keys", "rotate", "--keyset", ks, "--publish-delay", "0")
	// The default (10m) still holds back a key published a moment ago.
	c.fails("pending key not published long enough", "keys", "rotate", "--keyset", ks)
}
