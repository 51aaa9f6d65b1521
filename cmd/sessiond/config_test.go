package main

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestConfigDefaults(t *testing.T) {
	c, err := parseConfig(nil, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.addr != "127.0.0.1:8080" || c.keyset != "file:./sesame-keys.json" || c.redisURL != "" || c.usersFile != "" ||
		c.accessTTL != 10*time.Minute || c.rotateEvery != 24*time.Hour || c.logFormat != "json" ||
		c.logBuffer != 256<<10 || c.logFlushInterval != time.Second || c.logSlow != time.Second {
		t.Errorf("defaults: %+v", c)
	}
	if on, auto := c.insecure(); !on || !auto {
		t.Errorf("default insecure = %v (auto %v): want on, chosen automatically", on, auto)
	}
}

func TestConfigEnvTwins(t *testing.T) {
	e := env(
		"SESAME_ADDR", "127.0.0.1:9000",
		"SESAME_REDIS_URL", "redis://r:6379/0",
		"SESAME_KEYSET", "redis://r:6379/0",
		"SESAME_USERS", "/etc/users.json",
		"SESAME_MASTER_KEY_FILE", "/run/secrets/mk",
		"SESAME_INSECURE_COOKIES", "false",
		"SESAME_ROTATE_EVERY", "1h",
		"SESAME_ACCESS_TTL", "5m",
		"SESAME_LOG_FORMAT", "text",
		"SESAME_LOG_BUFFER", "65536",
		"SESAME_LOG_FLUSH_INTERVAL", "250ms",
		"SESAME_LOG_SLOW", "2s",
		"SESAME_LIMIT_IPV6_PREFIX", "56",
	)
	c, err := parseConfig(nil, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.addr != "127.0.0.1:9000" || c.redisURL != "redis://r:6379/0" || c.keyset != "redis://r:6379/0" ||
		c.usersFile != "/etc/users.json" || c.masterKeyFile != "/run/secrets/mk" || c.rotateEvery != time.Hour ||
		c.accessTTL != 5*time.Minute || c.logFormat != "text" || c.ipv6Prefix != 56 || c.ipv4Prefix != 32 ||
		c.logBuffer != 65536 || c.logFlushInterval != 250*time.Millisecond || c.logSlow != 2*time.Second {
		t.Errorf("from env: %+v", c)
	}
	if on, auto := c.insecure(); on || auto {
		t.Errorf("SESAME_INSECURE_COOKIES=false: insecure = %v (auto %v)", on, auto)
	}

	// A flag wins over its variable.
	c, err = parseConfig([]string{"--addr", "127.0.0.1:7000", "--insecure-cookies"}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.addr != "127.0.0.1:7000" {
		t.Errorf("flag vs env: addr %q", c.addr)
	}
	if on, auto := c.insecure(); !on || auto {
		t.Errorf("--insecure-cookies: insecure = %v (auto %v)", on, auto)
	}
}

func TestConfigInsecureAuto(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"--addr", "127.0.0.1:8080"}, true},
		{[]string{"--addr", "localhost:8080"}, true},
		{[]string{"--addr", "[::1]:8080"}, true},
		{[]string{"--addr", ":8080"}, false},
		{[]string{"--addr", "0.0.0.0:8080"}, false},
		{[]string{"--addr", "10.1.2.3:8080"}, false},
		{[]string{"--addr", "127.0.0.1:8443", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, false},
	} {
		c, err := parseConfig(tc.args, env(), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if on, auto := c.insecure(); on != tc.want || !auto {
			t.Errorf("%v: insecure = %v (auto %v), want %v", tc.args, on, auto, tc.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  func(string) string
		want string
	}{
		{[]string{"--tls-cert", "c.pem"}, env(), "go together"},
		{[]string{"--log-format", "xml"}, env(), "--log-format"},
		{[]string{"--log-level", "loud"}, env(), "--log-level"},
		{[]string{"--stale-policy", "maybe"}, env(), "--stale-policy"},
		{[]string{"--log-buffer", "-1"}, env(), "--log-buffer"},
		{[]string{"--log-buffer", "100"}, env(), "--log-buffer"},
		{[]string{"--log-flush-interval", "0s"}, env(), "--log-flush-interval"},
		{[]string{"--log-slow", "0s"}, env(), "--log-slow"},
		{[]string{"--access-ttl", "1ms"}, env(), "too short"},
		{[]string{"--limit-ipv6-prefix", "129"}, env(), "out of range"},
		{[]string{"--limit-ipv4-prefix", "0"}, env(), "out of range"},
		{[]string{"--addr", "nope"}, env(), "--addr"},
		{[]string{"extra"}, env(), "unexpected argument"},
		{[]string{"--redis-wait-replicas", "1"}, env(), "needs --redis"},
		{[]string{"--redis-no-auto-pipeline"}, env(), "needs --redis"},
		{[]string{"--redis", "redis://r/0", "--redis-wait-replicas", "-1"}, env(), "cannot be negative"},
		{[]string{"--store", "redis://r/0"}, env(), "want dynamodb://TABLE"},
		{[]string{"--store", "dynamodb://t1"}, env("SESAME_REDIS_URL", "redis://r/0"), "give one"},
		{nil, env("SESAME_STORE", "memory"), "want dynamodb://TABLE"},
		{nil, env("SESAME_ACCESS_TTL", "soon"), "SESAME_ACCESS_TTL"},
		{nil, env("SESAME_INSECURE_COOKIES", "maybe"), "SESAME_INSECURE_COOKIES"},
		// The master key has no flag: a value in argv would be visible to all.
		{[]string{"--master-key", "AAAA"}, env(), "not defined"},
	} {
		_, err := parseConfig(tc.args, tc.env, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://user:s3cret@host:6379/0": "redis://user:xxxxx@host:6379/0",
		"redis://host:6379/0":             "redis://host:6379/0",
		"file:./sesame-keys.json":         "file:./sesame-keys.json",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
	_, err := newRedisClient("redis://user:s3cret@host:6379/0?bogus=1")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad URL error %v: want an error without the password", err)
	}
}

func TestDecodeMasterKey(t *testing.T) {
	if _, err := decodeMasterKey([]byte(" " + testMasterKey + "\n")); err != nil {
		t.Errorf("padded standard base64 with spaces: %v", err)
	}
	for _, bad := range []string{"", "not base64!", "AAAA"} {
		_, err := decodeMasterKey([]byte(bad))
		if err == nil || bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("decodeMasterKey(%q) = %v: want an error without the input", bad, err)
		}
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := parsePrefixes(" 10.0.0.0/8, 192.168.1.7 ,::1,")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.168.1.7/32", "::1/128"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("prefix %d: got %v, want %s", i, got[i], want[i])
		}
	}
	if _, err := parsePrefixes("10.0.0.0/8,nope"); err == nil {
		t.Error("a bad entry was accepted")
	}
}

// TestDurationFlagsZero: on the command line every duration is explicit (its
// default is shown in --help), so 0 never silently means "the default":
// each duration flag either turns its feature off at 0 or refuses 0. The
// table must name every duration flag sessiond has.
func TestDurationFlagsZero(t *testing.T) {
	cases := map[string]struct {
		off   func(*config) bool // nil: 0 is refused
		error string
	}{
		"access-ttl":         {error: "--access-ttl"},
		"refresh-idle":       {off: func(c *config) bool { return offIfZero(c.refreshIdle) < 0 }},
		"session-lifetime":   {error: "must be positive"},
		"remember-lifetime":  {error: "must be positive"},
		"rotate-every":       {off: func(c *config) bool { return offIfZero(c.rotateEvery) < 0 }},
		"staleness-bound":    {error: "--staleness-bound"},
		"shutdown-timeout":   {error: "--shutdown-timeout"},
		"redis-wait-timeout": {error: "--redis-wait-timeout"},
		"log-flush-interval": {error: "--log-flush-interval"},
		"log-slow":           {error: "--log-slow"},
	}
	seen := map[string]bool{}
	newFlagSet(&config{}, io.Discard).VisitAll(func(f *flag.Flag) {
		if g, ok := f.Value.(flag.Getter); ok && isDuration(g.Get()) {
			seen[f.Name] = true
			if _, ok := cases[f.Name]; !ok {
				t.Errorf("duration flag --%s is not in the table: decide what 0 means for it", f.Name)
			}
		}
	})
	for name, tc := range cases {
		if !seen[name] {
			t.Errorf("--%s is in the table but is no duration flag", name)
			continue
		}
		c, err := parseConfig([]string{"--" + name + "=0"}, env(), io.Discard)
		switch {
		case tc.off == nil && err == nil:
			t.Errorf("--%s=0 accepted; want it refused", name)
		case tc.off == nil && !strings.Contains(err.Error(), tc.error):
			t.Errorf("--%s=0: %v; want an error naming %q", name, err, tc.error)
		case tc.off != nil && err != nil:
			t.Errorf("--%s=0: %v; want it accepted as off", name, err)
		case tc.off != nil && !tc.off(c):
			t.Errorf("--%s=0 does not turn the feature off", name)
		}
	}
}

func isDuration(v any) bool { _, ok := v.(time.Duration); return ok }
