package redisurl_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/internal/redisurl"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		url                     string
		kind                    redisurl.Kind
		addrs                   []string
		user, pass              string
		sentUser, sentPass      string
		master                  string
		db                      int
		tls                     bool
		dialTimeout, reloadTime time.Duration
	}{
		{url: "redis://localhost:6380/2", kind: redisurl.Standalone, addrs: []string{"localhost:6380"}, db: 2},
		{url: "rediss://u:p@h:6380", kind: redisurl.Standalone, addrs: []string{"h:6380"}, user: "u", pass: "p", tls: true},
		{url: "redis://:p@h?tls=true&dial_timeout=2s", kind: redisurl.Standalone, addrs: []string{"h:6379"}, pass: "p", tls: true, dialTimeout: 2 * time.Second},
		{url: "redis-sentinel://u:p@s1:26379,s2:26380,s3/mymaster/1", kind: redisurl.Sentinel,
			addrs: []string{"s1:26379", "s2:26380", "s3:26379"}, user: "u", pass: "p", master: "mymaster", db: 1},
		{url: "redis-sentinel://s1/m?tls=true&sentinel_username=su&sentinel_password=sp&db=3", kind: redisurl.Sentinel,
			addrs: []string{"s1:26379"}, sentUser: "su", sentPass: "sp", master: "m", db: 3, tls: true},
		{url: "rediss-sentinel://[::1]:26379,[::2]/m", kind: redisurl.Sentinel, addrs: []string{"[::1]:26379", "[::2]:26379"}, master: "m", tls: true},
		{url: "redis-cluster://u:p@c1:7000,c2:7001", kind: redisurl.Cluster, addrs: []string{"c1:7000", "c2:7001"},
			user: "u", pass: "p", reloadTime: redisurl.ClusterStateReloadInterval},
		{url: "redis-cluster://c1:7000/?tls=true&read_only=true", kind: redisurl.Cluster,
			addrs: []string{"c1:7000"}, tls: true, reloadTime: redisurl.ClusterStateReloadInterval},
		{url: "redis://s1:26379?master_name=m&addr=s2:26379", kind: redisurl.Sentinel, addrs: []string{"s1:26379", "s2:26379"}, master: "m"},
		{url: "redis://u:p@c1:7000?addr=c2:7001", kind: redisurl.Cluster, addrs: []string{"c1:7000", "c2:7001"}, user: "u", pass: "p", reloadTime: redisurl.ClusterStateReloadInterval},
	} {
		t.Run(tc.url, func(t *testing.T) {
			o, err := redisurl.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if o.Kind != tc.kind {
				t.Fatalf("got kind %v, want %v", o.Kind, tc.kind)
			}
			var addrs []string
			var user, pass string
			var db int
			var tlsOn bool
			var dial time.Duration
			switch o.Kind {
			case redisurl.Standalone:
				s := o.Standalone
				addrs, user, pass, db, tlsOn, dial = []string{s.Addr}, s.Username, s.Password, s.DB, s.TLSConfig != nil, s.DialTimeout
			case redisurl.Sentinel:
				f := o.Failover
				addrs, user, pass, db, tlsOn, dial = f.SentinelAddrs, f.Username, f.Password, f.DB, f.TLSConfig != nil, f.DialTimeout
				if f.MasterName != tc.master || f.SentinelUsername != tc.sentUser || f.SentinelPassword != tc.sentPass {
					t.Errorf("master %q sentinel creds %q/%q", f.MasterName, f.SentinelUsername, f.SentinelPassword)
				}
			case redisurl.Cluster:
				c := o.Cluster
				addrs, user, pass, tlsOn = c.Addrs, c.Username, c.Password, c.TLSConfig != nil
				if tc.reloadTime != 0 && c.ClusterStateReloadInterval != tc.reloadTime {
					t.Errorf("reload interval %v, want %v", c.ClusterStateReloadInterval, tc.reloadTime)
				}
			}
			if !slices.Equal(addrs, tc.addrs) {
				t.Errorf("got addrs %v, want %v", addrs, tc.addrs)
			}
			if user != tc.user || pass != tc.pass {
				t.Errorf("got user %q pass %q, want %q %q", user, pass, tc.user, tc.pass)
			}
			if db != tc.db || tlsOn != tc.tls {
				t.Errorf("got db %d tls %v, want %d %v", db, tlsOn, tc.db, tc.tls)
			}
			if tc.dialTimeout != 0 && dial != tc.dialTimeout {
				t.Errorf("dial timeout %v, want %v", dial, tc.dialTimeout)
			}
		})
	}
}

func TestParseErrorsHidePassword(t *testing.T) {
	for _, u := range []string{
		"redis://u:hunter2@h:6379/x",
		"redis://u:hunter2@h:6379?nonsense=1",
		"redis-sentinel://u:hunter2@s1",
		"redis-sentinel://s1/m?sentinel_password=hunter2&bogus=1",
		"redis-cluster://u:hunter2@c1/3",
		"redis-cluster://u:hunter2@c1?tls=maybe",
		"redis-cluster://u:hunter2@c1?bogus=1",
		"redis://u:hunter2@h:6379:7/%zz",
		"http://u:hunter2@h",
		"u:hunter2@h",
	} {
		_, err := redisurl.Parse(u)
		if err == nil {
			t.Errorf("%s: accepted", u)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error shows the password: %v", u, err)
		}
		if !strings.HasPrefix(err.Error(), "redisurl: ") {
			t.Errorf("%s: error lacks the package prefix: %v", u, err)
		}
		if r := redisurl.Redact(u); strings.Contains(r, "hunter2") {
			t.Errorf("Redact(%s) = %s", u, r)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"redis://u:pw@h:1/0": "redis://u:xxxxx@h:1/0",
		"redis://h:1":        "redis://h:1",
		"redis-sentinel://u:pw@a,b/m?sentinel_password=x": "redis-sentinel://u:xxxxx@a,b/m?sentinel_password=xxxxx",
		"redis-cluster://u@a,b":                           "redis-cluster://u@a,b",
	} {
		if got := redisurl.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// aclArgs add a user alice (password s3cret) beside the default user.
var aclArgs = []string{"--user", "alice", "on", ">s3cret", "~*", "&*", "+@all"}

// live checks that a client from good works and one from bad is refused.
func live(t *testing.T, good, bad string) {
	t.Helper()
	ctx := context.Background()
	c, err := redisurl.NewClient(good)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("%s: %v", redisurl.Redact(good), err)
	}
	if who, err := c.Do(ctx, "ACL", "WHOAMI").Text(); err != nil || who != "alice" {
		t.Fatalf("ACL WHOAMI = %q, %v", who, err)
	}
	b, err := redisurl.NewClient(bad)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Get(ctx, "k").Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("wrong password: got %v, want WRONGPASS", err)
	}
}

func TestLiveStandalone(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, &redistest.Options{Args: aclArgs})
	live(t, "redis://alice:s3cret@"+s.Addr()+"/0", "redis://alice:wrong@"+s.Addr()+"/0?max_retries=-1")
}

func TestLiveSentinel(t *testing.T) {
	t.Parallel()
	s := redistest.StartSentinel(t, &redistest.SentinelOptions{Args: aclArgs})
	hosts := strings.Join(s.SentinelAddrs(), ",")
	live(t, "redis-sentinel://alice:s3cret@"+hosts+"/"+s.MasterName(),
		"redis-sentinel://alice:wrong@"+hosts+"/"+s.MasterName()+"?max_retries=-1")
}

func TestLiveCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, &redistest.ClusterOptions{Args: aclArgs})
	hosts := strings.Join(c.Addrs()[:2], ",")
	live(t, "redis-cluster://alice:s3cret@"+hosts, "redis-cluster://alice:wrong@"+hosts+"?max_retries=-1&max_redirects=-1")
	o, err := redisurl.Parse("redis-cluster://alice:s3cret@" + hosts)
	if err != nil {
		t.Fatal(err)
	}
	cc := o.NewClient().(*redis.ClusterClient)
	defer cc.Close()
	if err := cc.ForEachShard(context.Background(), func(ctx context.Context, n *redis.Client) error {
		return n.Ping(ctx).Err()
	}); err != nil {
		t.Fatalf("every node with alice's credentials: %v", err)
	}
}

// TestDialerRetries: one redial by default on every form, unless the URL
// asks for more.
func TestDialerRetries(t *testing.T) {
	for url, want := range map[string]int{
		"redis://h:6379/0":                       redisurl.DialerRetries,
		"redis://h:6379/0?dialer_retries=4":      4,
		"redis-sentinel://s1,s2/m":               redisurl.DialerRetries,
		"redis-sentinel://s1/m?dialer_retries=3": 3,
		"redis-cluster://n1:7000,n2:7001":        redisurl.DialerRetries,
		"redis-cluster://n1?dialer_retries=2":    2,
	} {
		o, err := redisurl.Parse(url)
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		var got int
		switch o.Kind {
		case redisurl.Standalone:
			got = o.Standalone.DialerRetries
		case redisurl.Sentinel:
			got = o.Failover.DialerRetries
		case redisurl.Cluster:
			got = o.Cluster.DialerRetries
		}
		if got != want {
			t.Errorf("%s: DialerRetries %d, want %d", url, got, want)
		}
	}
}
