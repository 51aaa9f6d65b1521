package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/clients"
	"github.com/sesame-go/sesame/internal/dynalitetest"
	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/internal/sesametest"
	"github.com/sesame-go/sesame/users"
)

// The scripts in testdata/ are terminal sessions: a line runs sessionctl
// (this test binary, running main) or checks what it printed. The language
// is testscript's (the package documentation of
// github.com/rogpeppe/go-internal/testscript lists its commands); the
// commands added for sessionctl are in scriptCmds, each documented below.

func TestMain(m *testing.M) {
	// "sessionctl-bin" is sessionctl itself: the test binary runs main
	// when called by that name. Scripts call it through the sessionctl
	// command below, which also checks the exit status.
	testscript.Main(m, map[string]func(){"sessionctl-bin": main})
}

const (
	masterKey = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
	otherKey  = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
)

// TestScripts runs testdata/*.txtar.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, scriptParams("testdata", nil))
}

// TestKeysLifecycle runs one keys session, testdata/lifecycle/keys.txtar,
// against each form of keyset sessiond takes: a file, a Redis URL, Sentinel
// and Cluster. $KEYSET names the keyset; the condition [file] holds for the
// file.
func TestKeysLifecycle(t *testing.T) {
	t.Parallel()
	for name, keyset := range map[string]func(t testing.TB, work string) string{
		"file": func(_ testing.TB, work string) string { return "file:" + work + "/keyset.json" },
		"redis": func(t testing.TB, _ string) string {
			return "redis://" + redistest.Start(t, nil).Addr() + "/0"
		},
		"sentinel": func(t testing.TB, _ string) string {
			s := redistest.StartSentinel(t, nil)
			return "redis-sentinel://" + strings.Join(s.SentinelAddrs(), ",") + "/" + s.MasterName()
		},
		"cluster": func(t testing.TB, _ string) string {
			return "redis-cluster://" + strings.Join(redistest.StartCluster(t, nil).Addrs()[:2], ",")
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := scriptParams("", func(env *testscript.Env) error {
				env.Setenv("KEYSET", keyset(env.T().(testing.TB), env.WorkDir))
				return nil
			})
			p.Files = []string{"testdata/lifecycle/keys.txtar"}
			p.Condition = func(cond string) (bool, error) {
				if cond == "file" {
					return name == "file", nil
				}
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			testscript.Run(t, p)
		})
	}
}

// scriptParams runs the scripts in dir with a clean environment: HOME in
// the script's directory, SESAME_MASTER_KEY set to $MASTER_KEY, and
// $OTHER_KEY another valid master key. setup, if not nil, runs after.
func scriptParams(dir string, setup func(*testscript.Env) error) testscript.Params {
	return testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Cmds:                scriptCmds,
		Setup: func(env *testscript.Env) error {
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("MASTER_KEY", masterKey)
			env.Setenv("OTHER_KEY", otherKey)
			env.Setenv("SESAME_MASTER_KEY", masterKey)
			env.Values[stateKey{}] = &scriptState{t: env.T().(testing.TB)}
			if setup != nil {
				return setup(env)
			}
			return nil
		},
	}
}

// scriptState is what a script's commands started.
type scriptState struct {
	t        testing.TB // the script's test, which stops what they started
	redis    *redistest.Server
	dynalite *dynalitetest.Server
	node     *node
	lastRun  time.Duration // how long the last sessionctl command ran
	// authn holds an Authenticator per users file: opening one costs a
	// password hash (its dummy), so authenticates reloads it instead.
	authn map[string]*users.Authenticator
}

type stateKey struct{}

func state(ts *testscript.TestScript) *scriptState {
	return ts.Value(stateKey{}).(*scriptState)
}

var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"sessionctl":           cmdSessionctl,
	"json":                 cmdJSON,
	"mode":                 cmdMode,
	"authenticates":        cmdAuthenticates,
	"client-authenticates": cmdClientAuthenticates,
	"write":                cmdWrite,
	"start-redis":          cmdStartRedis,
	"start-node":           cmdStartNode,
	"start-dynalite":       cmdStartDynalite,
	"login":                cmdLogin,
	"accepted":             cmdAccepted,
	"refreshes":            cmdRefreshes,
	"refused":              cmdRefused,
}

// sessionctl ARGS... runs sessionctl and checks it exits with status 0.
// ! sessionctl ARGS... checks the failure contract of main: exit status 1
// and exactly one line on stderr.
func cmdSessionctl(ts *testscript.TestScript, neg bool, args []string) {
	start := time.Now()
	err := ts.Exec("sessionctl-bin", args...)
	state(ts).lastRun = time.Since(start)
	code := 0
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		code = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("sessionctl: %v", err)
	}
	if !neg {
		if code != 0 {
			ts.Fatalf("sessionctl %s: exit %d, want 0", strings.Join(args, " "), code)
		}
		return
	}
	if code != 1 {
		ts.Fatalf("sessionctl %s: exit %d, want 1", strings.Join(args, " "), code)
	}
	if stderr := ts.ReadFile("stderr"); strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		ts.Fatalf("sessionctl %s: stderr is not one line: %q", strings.Join(args, " "), stderr)
	}
}

// json [-stderr | -file FILE] [-lines] [-set VAR] PATH [== VALUE | >= VALUE]
// checks the JSON document on the last command's stdout (or its stderr, or
// in FILE), which must parse; with -lines, each line is a document and
// PATH starts at the array of them. PATH
// is dot-separated: an object key, an array index, or [KEY=VALUE] to keep
// the array elements whose KEY is VALUE; "." is the whole document, and
// len(PATH) the length of an array. Without a comparison, json checks that
// the value is there and not null; with -set, it sets $VAR to the value. A
// VALUE of the form A+B, two integers, is their sum; >= compares numbers,
// or times in RFC 3339.
func cmdJSON(ts *testscript.TestScript, neg bool, args []string) {
	src, set, lines := "stdout", "", false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch {
		case args[0] == "-stderr":
			src = "stderr"
		case args[0] == "-file" && len(args) > 1:
			src, args = args[1], args[1:]
		case args[0] == "-lines":
			lines = true
		case args[0] == "-set" && len(args) > 1:
			set, args = args[1], args[1:]
		default:
			ts.Fatalf("json: unknown flag %s", args[0])
		}
		args = args[1:]
	}
	if len(args) != 1 && len(args) != 3 || len(args) == 3 && args[1] != "==" && args[1] != ">=" {
		ts.Fatalf("usage: json [-stderr | -file FILE] [-lines] [-set VAR] PATH [== VALUE | >= VALUE]")
	}
	var doc any
	if lines {
		var docs []any
		for line := range strings.Lines(strings.TrimSpace(ts.ReadFile(src))) {
			var d any
			if err := json.Unmarshal([]byte(line), &d); err != nil {
				ts.Fatalf("%s: a line is not JSON: %v", src, err)
			}
			docs = append(docs, d)
		}
		doc = docs
	} else if err := json.Unmarshal([]byte(ts.ReadFile(src)), &doc); err != nil {
		ts.Fatalf("%s is not JSON: %v", src, err)
	}
	var v any
	if p, ok := strings.CutPrefix(args[0], "len("); ok && strings.HasSuffix(p, ")") {
		if a, ok := jsonPath(doc, strings.TrimSuffix(p, ")")).([]any); ok {
			v = float64(len(a))
		}
	} else {
		v = jsonPath(doc, args[0])
	}
	got := jsonString(v)
	if set != "" {
		if v == nil {
			ts.Fatalf("json: %s is absent", args[0])
		}
		ts.Setenv(set, got)
		return
	}
	var ok bool
	switch {
	case len(args) == 1:
		ok = v != nil
	case args[1] == "==":
		want := args[2]
		if a, b, found := strings.Cut(want, "+"); found {
			x, err1 := strconv.ParseInt(a, 10, 64)
			y, err2 := strconv.ParseInt(b, 10, 64)
			if err1 == nil && err2 == nil {
				want = strconv.FormatInt(x+y, 10)
			}
		}
		ok = got == want
	default:
		g, err1 := strconv.ParseFloat(got, 64)
		w, err2 := strconv.ParseFloat(args[2], 64)
		ok = err1 == nil && err2 == nil && g >= w
		if gt, err := time.Parse(time.RFC3339Nano, got); err == nil {
			wt, err := time.Parse(time.RFC3339Nano, args[2])
			ok = err == nil && !gt.Before(wt)
		}
	}
	if ok == neg {
		ts.Fatalf("json %s: got %s", strings.Join(args, " "), got)
	}
}

func jsonPath(v any, path string) any {
	if path == "." {
		return v
	}
	for seg := range strings.SplitSeq(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[seg]
		case []any:
			if k, val, ok := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(seg, "["), "]"), "="); ok && seg[0] == '[' {
				var keep []any
				for _, e := range x {
					if m, ok := e.(map[string]any); ok && jsonString(m[k]) == val {
						keep = append(keep, e)
					}
				}
				v = keep
			} else if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(x) {
				v = x[i]
			} else {
				return nil
			}
		default:
			return nil
		}
	}
	return v
}

// jsonString is a JSON value as a script writes it: a string without
// quotes, a number in decimal, anything else as JSON.
func jsonString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// mode FILE PERM checks a file's permission bits, in octal.
func cmdMode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: mode FILE PERM")
	}
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	if (uint64(fi.Mode().Perm()) == want) == neg {
		ts.Fatalf("%s has mode %#o", args[0], fi.Mode().Perm())
	}
}

// write FILE "TEXT" writes TEXT, unquoted as in Go, to FILE: for bytes a
// txtar file cannot hold, such as a missing final newline.
func cmdWrite(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: write FILE \"TEXT\"")
	}
	text, err := strconv.Unquote(args[1])
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(text), 0o600))
}

// goUnquote unquotes s as a Go string if it is in double quotes, for bytes
// a script cannot write (a control character, a trailing newline).
func goUnquote(ts *testscript.TestScript, s string) string {
	if !strings.HasPrefix(s, `"`) {
		return s
	}
	u, err := strconv.Unquote(s)
	ts.Check(err)
	return u
}

// authenticates FILE USER PASSWORD checks that the users file lets USER
// log in with PASSWORD; with !, that the login is refused as invalid
// credentials. A PASSWORD in double quotes is unquoted as in Go ("a\r").
func cmdAuthenticates(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: authenticates FILE USER PASSWORD")
	}
	pw := goUnquote(ts, args[2])
	st, path := state(ts), ts.MkAbs(args[0])
	a, ok := st.authn[path]
	if ok {
		ts.Check(a.Reload())
	} else {
		var err error
		a, err = users.Open(path, nil)
		ts.Check(err)
		if st.authn == nil {
			st.authn = map[string]*users.Authenticator{}
		}
		st.authn[path] = a
	}
	_, _, err := a.Authenticate(context.Background(), args[1], pw)
	if err != nil && err != auth.ErrInvalidCredentials || (err == nil) == neg {
		ts.Fatalf("login %s/%q: got %v", args[1], pw, err)
	}
}

// client-authenticates FILE NAME SECRET checks that the introspection
// clients file FILE accepts NAME with SECRET (with !, that it refuses it);
// a SECRET of @PATH is the first line of the file PATH.
func cmdClientAuthenticates(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: client-authenticates FILE NAME SECRET")
	}
	secret := args[2]
	if path, ok := strings.CutPrefix(secret, "@"); ok {
		secret = strings.TrimSpace(ts.ReadFile(path))
	}
	s, err := clients.Open(ts.MkAbs(args[0]), &clients.Options{PollInterval: -1})
	ts.Check(err)
	if ok := s.AuthenticateClient(args[1], secret); ok == neg {
		ts.Fatalf("client %s: authenticated %v", args[1], ok)
	}
}

// start-redis starts a redis-server for this script and sets $REDIS_URL to
// its database 0.
func cmdStartRedis(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: start-redis")
	}
	st := state(ts)
	st.redis = redistest.Start(st.t, nil)
	ts.Setenv("REDIS_URL", "redis://"+st.redis.Addr()+"/0")
}

// start-dynalite starts a DynamoDB emulator for this script and sets
// $DYNAMO_ENDPOINT and the AWS credentials it takes (any will do).
func cmdStartDynalite(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: start-dynalite")
	}
	st := state(ts)
	st.dynalite = dynalitetest.Start(st.t)
	ts.Setenv("DYNAMO_ENDPOINT", st.dynalite.Endpoint())
	ts.Setenv("DYNAMO_REGION", dynalitetest.Region)
	ts.Setenv("AWS_ACCESS_KEY_ID", "test")
	ts.Setenv("AWS_SECRET_ACCESS_KEY", "test")
}

// start-node starts a sesame node (see startNode) on the script's Redis;
// start-node dynamo TABLE starts one on a table of the script's dynalite
// (see startDynamoNode).
func cmdStartNode(ts *testscript.TestScript, neg bool, args []string) {
	st := state(ts)
	switch {
	case !neg && len(args) == 0 && st.redis != nil:
		st.node = startNode(st.t, st.redis)
	case !neg && len(args) == 2 && args[0] == "dynamo" && st.dynalite != nil:
		st.node = startDynamoNode(st.t, st.dynalite, args[1])
	default:
		ts.Fatalf("usage: start-node (after start-redis) or start-node dynamo TABLE (after start-dynalite)")
	}
}

func scriptNode(ts *testscript.TestScript) *node {
	n := state(ts).node
	if n == nil {
		ts.Fatalf("no node: start-node first")
	}
	return n
}

// login USER USER-AGENT NAME logs USER in on the node and sets $NAME_SID,
// $NAME_ACCESS and $NAME_REFRESH to the session's id and tokens. A
// USER-AGENT in double quotes is unquoted as in Go.
func cmdLogin(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: login USER USER-AGENT NAME")
	}
	s := scriptNode(ts).login(args[0], goUnquote(ts, args[1]))
	ts.Setenv(args[2]+"_SID", s.sid)
	ts.Setenv(args[2]+"_ACCESS", s.access)
	ts.Setenv(args[2]+"_REFRESH", s.refresh)
}

// accepted NAME checks that the node accepts the access token of the
// session login named NAME.
func cmdAccepted(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: accepted NAME")
	}
	s := session{access: ts.Getenv(args[0] + "_ACCESS")}
	if scriptNode(ts).accepted(s) == neg {
		ts.Fatalf("accepted %s: got %v", args[0], !neg)
	}
}

// refreshes NAME checks that the node renews the session login named NAME
// with its refresh token (the token is not updated: one use).
func cmdRefreshes(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: refreshes NAME")
	}
	s := session{refresh: ts.Getenv(args[0] + "_REFRESH")}
	if scriptNode(ts).refreshes(s) == neg {
		ts.Fatalf("refreshes %s: got %v", args[0], !neg)
	}
}

// refused NAME WITHIN waits until the node refuses the access token of the
// session login named NAME, and fails if that takes longer than WITHIN. It
// logs how long the last sessionctl command ran and how long after it
// returned the node refused the token.
func cmdRefused(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: refused NAME WITHIN")
	}
	within, err := time.ParseDuration(args[1])
	ts.Check(err)
	st, n := state(ts), scriptNode(ts)
	s := session{access: ts.Getenv(args[0] + "_ACCESS")}
	after := sesametest.WaitFor(st.t, 5*time.Millisecond, within, "the node to refuse "+args[0],
		func() bool { return !n.accepted(s) })
	ts.Logf("sessionctl ran %v; the node refused %s %v after it returned",
		st.lastRun.Round(time.Millisecond), args[0], after.Round(time.Millisecond))
}
