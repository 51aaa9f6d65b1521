package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/keys"
)

// scrape fetches /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, p *proc) map[string]*dto.MetricFamily {
	t.Helper()
	r := p.do("GET", "/metrics", "")
	if r.status != 200 {
		t.Fatalf("/metrics: %d", r.status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(r.body)))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// value is the sum of the samples of family name whose labels include
// every name=value pair of labels (counters, gauges; histograms: count).
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
	var sum float64
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// TestMetricsAndEvents runs a scripted sequence against a sessiond on Redis
// and checks that the metrics moved as expected, that no label value holds
// a user id, session id or path segment, that the security events were
// logged, and that no secret reached stdout or stderr.
func TestMetricsAndEvents(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	url := "redis://" + srv.Addr() + "/0"
	dir := t.TempDir()
	usersFile := filepath.Join(dir, "users.json")
	addUser(t, usersFile, "alice", "alice-pw")
	env := []string{"SESAME_MASTER_KEY=" + testMasterKey, "SESAME_REDIS_URL=" + url, "SESAME_KEYSET=" + url, "SESAME_USERS=" + usersFile}
	p := startSessiond(t, "sessiond", dir, env, "--staleness-bound", "1s", "--rotate-every", "24h")

	before := scrape(t, p)
	if v := value(before, "sesame_replica_policy", "policy", "fail-closed"); v != 1 {
		t.Errorf("sesame_replica_policy{policy=fail-closed} = %v, want 1", v)
	}
	for _, name := range []string{"sesame_replica_staleness_trips_total", "sesame_replica_stale_refusals_total"} {
		if v := value(before, name); v != 0 {
			t.Errorf("%s = %v at start, want 0", name, v)
		}
	}

	// Request ids: a well-formed one from the client (a load balancer's) is
	// kept; anything else is replaced.
	if r := p.do("GET", "/healthz", "", "X-Request-Id", "lb-7f3a:1"); r.header.Get("X-Request-Id") != "lb-7f3a:1" {
		t.Errorf("X-Request-Id %q, want the client's lb-7f3a:1", r.header.Get("X-Request-Id"))
	}
	if r := p.do("GET", "/healthz", "", "X-Request-Id", "evil id \"injected\""); strings.Contains(r.header.Get("X-Request-Id"), "evil") || r.header.Get("X-Request-Id") == "" {
		t.Errorf("X-Request-Id %q for a malformed client id, want a fresh one", r.header.Get("X-Request-Id"))
	}

	// The script. secrets collects every token and password.
	secrets := []string{"alice-pw", "wrong-pw-1", "wrong-pw-2", "hunter2-typed-as-name", testMasterKey}
	// Two failed logins; one with a password typed into the name field.
	for _, body := range []string{
		`{"username":"alice","password":"wrong-pw-1"}`,
		`{"username":"hunter2-typed-as-name","password":"wrong-pw-2"}`,
	} {
		if r := p.do("POST", "/auth/login", body, header...); r.status != 401 {
			t.Fatalf("bad login: %d %s", r.status, r.body)
		}
	}
	if r := p.do("POST", "/auth/login", `{"username":`, header...); r.status != 400 {
		t.Errorf("malformed login body: %d", r.status)
	}
	t0 := login(t, p, "alice", "alice-pw")
	sid := whoami(t, p, t0.access).json(t)["sid"].(string)
	// T0 → T1 (rotated); T0 again before T1 is used (grace replay);
	// T1 → T2, T2 → T3 (rotated); T0 again: reuse, the family ends (theft).
	next := func(rt string) tokens {
		r := refresh(t, p, rt)
		if r.status != 200 {
			t.Fatalf("refresh: %d %s", r.status, r.body)
		}
		m := r.json(t)
		return tokens{m["access_token"].(string), m["refresh_token"].(string)}
	}
	t1 := next(t0.refresh)
	if again := next(t0.refresh); again.refresh != t1.refresh {
		t.Error("a repeated refresh did not replay the same pair")
	}
	t2 := next(t1.refresh)
	t3 := next(t2.refresh)
	if r := refresh(t, p, t0.refresh); r.status != 401 || r.json(t)["error"] != "refresh_token_reused" {
		t.Fatalf("reuse of an old refresh token: %d %s", r.status, r.body)
	}
	if r := refresh(t, p, "not-a-token"); r.status != 401 {
		t.Errorf("garbage refresh token: %d", r.status)
	}
	secrets = append(secrets, t0.access, t0.refresh, t1.access, t1.refresh, t2.access, t2.refresh, t3.access, t3.refresh)
	waitFor(t, 5*time.Second, "the stolen session's token to be refused", func() bool { return whoami(t, p, t3.access).status == 401 })

	// A second session: list, end by sid, then logout-all on a third.
	s2 := login(t, p, "alice", "alice-pw")
	s3 := login(t, p, "alice", "alice-pw")
	secrets = append(secrets, s2.access, s2.refresh, s3.access, s3.refresh)
	sid2 := whoami(t, p, s2.access).json(t)["sid"].(string)
	if r := p.do("GET", "/auth/sessions", "", "Authorization", "Bearer "+s3.access); r.status != 200 || !strings.Contains(string(r.body), sid2) {
		t.Fatalf("sessions: %d %s", r.status, r.body)
	}
	if r := p.do("GET", "/auth/session", "", "Authorization", "Bearer "+s3.access); r.status != 200 {
		t.Fatalf("session: %d %s", r.status, r.body)
	}
	if r := p.do("DELETE", "/auth/sessions/"+sid2, "", "Authorization", "Bearer "+s3.access); r.status != 204 {
		t.Fatalf("end session: %d %s", r.status, r.body)
	}
	if r := p.do("DELETE", "/auth/sessions/no-such-sid", "", "Authorization", "Bearer "+s3.access); r.status != 404 {
		t.Errorf("end an unknown session: %d", r.status)
	}
	if r := p.do("POST", "/auth/logout-all", "", "Authorization", "Bearer "+s3.access); r.status != 204 {
		t.Fatalf("logout-all: %d %s", r.status, r.body)
	}
	s4 := login(t, p, "alice", "alice-pw")
	secrets = append(secrets, s4.access, s4.refresh)
	if r := p.do("POST", "/auth/logout", "", "Authorization", "Bearer "+s4.access); r.status != 204 {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	waitFor(t, 5*time.Second, "the logged-out token to be refused", func() bool { return whoami(t, p, s4.access).status == 401 })
	// Failures with tokens and secrets in places they must not be echoed.
	for _, r := range []response{
		whoami(t, p, "garbage."+t3.access[10:]),
		p.do("GET", "/api/whoami?token="+s4.access, ""),
		p.do("GET", "/no/such-path-segment", ""),
		p.do("POST", "/auth/refresh", `{"refresh_token":"`+s4.refresh+`"}`, header...),
		p.do("GET", "/auth/session", "", "Cookie", "sesame="+s4.access),
	} {
		for _, s := range secrets {
			if strings.Contains(string(r.body), s) {
				t.Errorf("an error body (status %d) holds a secret: %s", r.status, r.body)
			}
		}
	}

	after := scrape(t, p)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"sesame_logins_total", []string{"outcome", "success"}, 4},
		{"sesame_logins_total", []string{"outcome", "invalid_credentials"}, 2},
		{"sesame_logins_total", []string{"outcome", "bad_request"}, 1},
		{"sesame_refreshes_total", []string{"outcome", "rotated"}, 3},
		{"sesame_refreshes_total", []string{"outcome", "grace_replay"}, 1},
		{"sesame_refreshes_total", []string{"outcome", "reused"}, 1},
		{"sesame_revocations_total", []string{"kind", "theft"}, 1},
		{"sesame_revocations_total", []string{"kind", "session_ended"}, 1},
		{"sesame_revocations_total", []string{"kind", "logout_all"}, 1},
		{"sesame_revocations_total", []string{"kind", "logout"}, 1},
		{"sesame_security_events_total", []string{"event", "refresh_token_reused"}, 1},
		{"sesame_http_request_duration_seconds", []string{"route", "/auth/sessions/{sid}", "method", "DELETE"}, 2},
		{"sesame_http_request_duration_seconds", []string{"route", "/auth/login", "status", "4xx"}, 3},
		{"sesame_http_request_duration_seconds", []string{"route", "unmatched"}, 1},
	} {
		if got := value(after, c.name, c.labels...) - max(value(before, c.name, c.labels...), 0); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"sesame_token_verifications_total", []string{"result", "valid"}},
		{"sesame_token_verifications_total", []string{"result", "invalid", "reason", "revoked"}},
		{"sesame_token_verifications_total", []string{"result", "invalid", "reason", "malformed"}},
		{"sesame_redis_command_duration_seconds", []string{"command", "evalsha"}},
		{"sesame_redis_command_duration_seconds", []string{"command", "xread"}},
		{"sesame_replica_entries", nil},
	} {
		if got := value(after, c.name, c.labels...); got <= 0 {
			t.Errorf("%s%v = %v, want > 0", c.name, c.labels, got)
		}
	}
	if v := value(after, "sesame_redis_command_errors_total"); v != 0 {
		t.Errorf("Redis command errors %v with Redis up, want 0 (redis.Nil and NOSCRIPT are not errors): %v", v, after["sesame_redis_command_errors_total"])
	}
	age := value(after, "sesame_keys_active_key_age_seconds")
	untilNext := value(after, "sesame_keys_next_rotation_seconds")
	if age < 0 || age > 120 || untilNext+age < 24*3600-2 || untilNext+age > 24*3600+2 {
		t.Errorf("active key age %vs, next rotation in %vs: want age+next = 24h", age, untilNext)
	}
	rd := p.do("GET", "/readyz?verbose", "").json(t)
	if v := value(after, "sesame_keyset_version"); v != rd["keyset"].(map[string]any)["version"].(float64) {
		t.Errorf("sesame_keyset_version %v, readyz says %v", v, rd["keyset"])
	}

	// Key rotation and revocation, made by "another node": this node loads
	// the new keyset and logs key_rotated, then key_revoked.
	raw, _ := base64.StdEncoding.DecodeString(testMasterKey)
	mk, err := keys.NewMasterKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	ksStore := keys.NewRedisStore(srv.Client(), mk, nil)
	var old string
	if _, err := keys.Update(context.Background(), ksStore, func(cur *keys.Keyset) (*keys.Keyset, error) {
		k, _ := cur.Signer()
		old = k.ID()
		return cur.Rotate(keys.RotationPolicy{PublishDelay: -1}, time.Now())
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "key_rotated", func() bool { return strings.Contains(strings.Join(p.events(), ","), "key_rotated") })
	if _, err := keys.Update(context.Background(), ksStore, func(cur *keys.Keyset) (*keys.Keyset, error) {
		return cur.Revoke(old, time.Now())
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "key_revoked", func() bool { return strings.Contains(strings.Join(p.events(), ","), "key_revoked") })
	m := scrape(t, p)
	if value(m, "sesame_keyset_events_total", "event", "key_rotated") != 1 || value(m, "sesame_keyset_events_total", "event", "key_revoked") != 1 {
		t.Errorf("sesame_keyset_events_total: rotated %v, revoked %v; want 1 and 1",
			value(m, "sesame_keyset_events_total", "event", "key_rotated"), value(m, "sesame_keyset_events_total", "event", "key_revoked"))
	}
	if a := value(m, "sesame_keys_active_key_age_seconds"); a > 60 {
		t.Errorf("active key age %vs after a rotation", a)
	}

	// Redis stops answering: the replica goes stale past its 1s bound, the
	// fail-closed policy trips (counted and logged once), requests get 503,
	// and the failed commands are counted; then it recovers.
	live := login(t, p, "alice", "alice-pw")
	secrets = append(secrets, live.access, live.refresh)
	srv.Pause()
	start := time.Now()
	waitFor(t, 10*time.Second, "the staleness trip", func() bool {
		return value(scrape(t, p), "sesame_replica_staleness_trips_total") == 1
	})
	t.Logf("staleness trip counted %v after Redis paused (bound 1s)", time.Since(start).Round(time.Millisecond))
	if r := whoami(t, p, live.access); r.status != 503 {
		t.Errorf("whoami while stale: %d %s, want 503", r.status, r.body)
	}
	waitFor(t, 15*time.Second, "Redis command errors", func() bool {
		return value(scrape(t, p), "sesame_redis_command_errors_total") > 0
	})
	srv.Resume()
	waitFor(t, 15*time.Second, "staleness_recovered", func() bool {
		return strings.Contains(strings.Join(p.events(), ","), "staleness_recovered")
	})
	final := scrape(t, p)
	if v := value(final, "sesame_replica_staleness_trips_total"); v != 1 {
		t.Errorf("staleness trips %v after one outage, want 1", v)
	}
	if v := value(final, "sesame_replica_stale_refusals_total"); v < 1 {
		t.Errorf("stale refusals %v, want >= 1", v)
	}
	if r := whoami(t, p, live.access); r.status != 200 {
		t.Errorf("whoami after recovery: %d %s", r.status, r.body)
	}

	// No label value holds a user id, a session id or a path segment.
	forbidden := []string{"alice", "hunter2", sid, sid2, "no-such-sid", "such-path-segment", "token="}
	for name, f := range final {
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				for _, bad := range forbidden {
					if strings.Contains(lp.GetValue(), bad) {
						t.Errorf("%s has label %s=%q, holding %q", name, lp.GetName(), lp.GetValue(), bad)
					}
				}
				if lp.GetName() == "route" && lp.GetValue() != "unmatched" && !strings.HasPrefix(lp.GetValue(), "/") {
					t.Errorf("%s route label %q", name, lp.GetValue())
				}
			}
		}
	}

	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("SIGTERM: exit %d", code)
	}
	checkLogs(t, p, secrets, "login_success", "login_failure", "refresh_token_reused", "session_ended",
		"logout_all", "logout", "key_rotated", "key_revoked", "staleness_policy_tripped", "staleness_recovered")
	checkRequestLogs(t, p)
	p.mu.Lock()
	stdout := p.stdout.String()
	p.mu.Unlock()
	if stdout != "" {
		t.Errorf("stdout %q, want nothing (there is a users file)", stdout)
	}
	if strings.Contains(p.stderr(), "hunter2-typed-as-name") {
		t.Error("a failed login's unknown user name was logged")
	}
}

// checkRequestLogs checks the access log: one "request" line per request
// with method, route, status, duration and request id, never a raw path or
// query; and every security event of a request carries its request id.
func checkRequestLogs(t *testing.T, p *proc) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := map[string]bool{}
	n := 0
	for _, l := range p.logs {
		if l["msg"] != "request" {
			continue
		}
		n++
		id, _ := l["request_id"].(string)
		for _, k := range []string{"method", "route", "status", "duration_ms"} {
			if _, ok := l[k]; !ok || id == "" {
				t.Errorf("access log line without %s or request_id: %v", k, l)
			}
		}
		if ids[id] {
			t.Errorf("request id %q on two requests", id)
		}
		ids[id] = true
		if r, _ := l["route"].(string); strings.Contains(r, "such-path") || strings.Contains(r, "?") {
			t.Errorf("access log route %q holds a raw path", r)
		}
	}
	if n < 20 {
		t.Errorf("%d access log lines, want one per request", n)
	}
	for _, l := range p.logs {
		ev, _ := l["event"].(string)
		switch ev {
		case "login_success", "login_failure", "logout", "logout_all", "session_ended", "refresh_token_reused":
			if id, _ := l["request_id"].(string); !ids[id] {
				t.Errorf("security event %s without the request id of its request: %v", ev, l)
			}
		}
	}
}

func TestRequestID(t *testing.T) {
	for _, c := range []struct {
		in   string
		safe bool
	}{
		{"abc-123", true},
		{"host/AbC-000001", true},
		{"", true},
		{strings.Repeat("a", maxRequestIDLen), true},
		{strings.Repeat("a", maxRequestIDLen+1), false},
		{"a b", false},
		{"a\"b", false},
		{"a\nb", false},
		{fmt.Sprintf("%c", 0xe9), false},
	} {
		if got := safeRequestID(c.in); got != c.safe {
			t.Errorf("safeRequestID(%q) = %v, want %v", c.in, got, c.safe)
		}
	}
}
