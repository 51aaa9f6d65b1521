// Package redisurl turns one URL into a go-redis client for a standalone
// server, a Sentinel-managed primary or a Cluster, so that a program's
// whole Redis configuration is one string (a flag or an environment
// variable). Parsing is go-redis' own wherever it exists; this package only
// adds the two multi-host forms and a few defaults.
//
// The forms:
//
//	redis://[user:pass@]host:port[/db][?opts]            one server
//	rediss://[user:pass@]host:port[/db][?opts]           one server, TLS
//	redis-sentinel://[user:pass@]h1:26379,h2:26379[,…]/mastername[/db][?opts]
//	redis-cluster://[user:pass@]h1:7000,h2:7001[,…][?opts]
//
// user and pass are the ACL credentials of the data nodes (the primary and
// its replicas, or every Cluster node). Sentinels that require a password of
// their own take sentinel_username and sentinel_password query parameters.
// tls=true turns on TLS on any form (rediss:// is the same as redis:// with
// tls=true); skip_verify=true turns off certificate checking, for tests only.
// Every other query parameter is go-redis' (dial_timeout=2s, pool_size=20,
// db=1 …); an unknown one is an error.
//
// go-redis' own query forms work as well, for compatibility:
// redis://host?master_name=m&addr=h2:26379 (Sentinel) and
// redis://host?addr=h2:7001 (Cluster).
//
// Errors never contain the password.
package redisurl

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Kind is a Redis topology.
type Kind int

const (
	Standalone Kind = iota + 1
	Sentinel
	Cluster
)

func (k Kind) String() string {
	switch k {
	case Standalone:
		return "standalone"
	case Sentinel:
		return "sentinel"
	case Cluster:
		return "cluster"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// ClusterStateReloadInterval is how often a Cluster client built here
// refreshes its slot map while in use. go-redis reloads it on a MOVED reply
// or every ClusterOptions.ClusterStateReloadInterval (60s by default), but
// not when a master stops answering: after a master dies and its replica
// takes over, the next MOVED never comes, because every command for that
// slot still goes to the dead address. A quarter second bounds that blind
// spot to well under Redis' own failover time; a reload is one CLUSTER
// SLOTS to one node, made lazily (only by a client that is sending
// commands), so a busy client adds at most four per second.
const ClusterStateReloadInterval = 250 * time.Millisecond

// Options is a parsed URL: exactly one of the three option sets is set,
// the one of its Kind.
type Options struct {
	Kind       Kind
	Standalone *redis.Options
	Failover   *redis.FailoverOptions
	Cluster    *redis.ClusterOptions
}

// NewClient parses rawURL and returns a client for it. The caller closes it.
func NewClient(rawURL string) (redis.UniversalClient, error) {
	o, err := Parse(rawURL)
	if err != nil {
		return nil, err
	}
	return o.NewClient(), nil
}

// NewClient returns a client built from o. The caller closes it.
//
// A Sentinel URL gives go-redis' failover *cluster* client
// (redis.NewFailoverClusterClient: one slot range whose master is the one
// the Sentinels name), not redis.NewFailoverClient. Both follow a
// +switch-master at once, but the plain failover client keeps one
// connection pool across masters: once the dead primary has refused as many
// dials as the pool has connections, the pool stops dialling and probes
// once a second, so after the switch it could take up to a second more to
// reach the new primary (measured: refresh resumed 0.9–1.0 s after the
// Sentinels had failed over, against 0.1 s with the cluster client, whose
// pools are per address). The cluster client keeps db (by SELECT on each
// connection) and every other option; routing stays on the primary unless
// the URL asks for replica_only, route_by_latency or route_randomly.
func (o *Options) NewClient() redis.UniversalClient {
	switch o.Kind {
	case Sentinel:
		return redis.NewFailoverClusterClient(o.Failover)
	case Cluster:
		return redis.NewClusterClient(o.Cluster)
	}
	return redis.NewClient(o.Standalone)
}

// Parse parses rawURL in one of the forms of the package documentation.
func Parse(rawURL string) (*Options, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, errors.New("redisurl: not a URL (want redis://, rediss://, redis-sentinel:// or redis-cluster://)")
	}
	switch scheme {
	case "redis", "rediss":
		return parseGoRedis(rawURL)
	case "redis-sentinel", "rediss-sentinel":
		return parseMulti(rawURL, Sentinel, scheme == "rediss-sentinel", rest)
	case "redis-cluster", "rediss-cluster":
		return parseMulti(rawURL, Cluster, scheme == "rediss-cluster", rest)
	}
	return nil, fmt.Errorf("redisurl: unknown scheme %q (want redis, rediss, redis-sentinel or redis-cluster)", scheme)
}

// parseGoRedis handles redis:// and rediss://, including go-redis' own
// Sentinel and Cluster query forms.
func parseGoRedis(raw string) (*Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("redisurl: malformed URL") // url.Error quotes the whole URL, password included
	}
	q := u.Query()
	if useTLS, err := takeTLS(q); err != nil {
		return nil, err
	} else if useTLS {
		u.Scheme = "rediss"
	}
	skip, err := takeBool(q, "skip_verify")
	if err != nil {
		return nil, err
	}
	// go-redis' one-server parser has no dialer_retries (its Sentinel and
	// Cluster parsers do): take it here.
	dialerRetries := 0
	if standalone := !q.Has("master_name") && !q.Has("addr"); standalone && q.Has("dialer_retries") {
		v := q.Get("dialer_retries")
		q.Del("dialer_retries")
		if dialerRetries, err = strconv.Atoi(v); err != nil || dialerRetries < 1 {
			return nil, fmt.Errorf("redisurl: dialer_retries=%q is not a positive number", v)
		}
	}
	u.RawQuery = q.Encode()
	s := u.String()
	o := &Options{}
	switch {
	case q.Has("master_name"):
		o.Kind = Sentinel
		o.Failover, err = redis.ParseFailoverURL(s)
	case q.Has("addr"):
		o.Kind = Cluster
		o.Cluster, err = redis.ParseClusterURL(s)
	default:
		o.Kind = Standalone
		if o.Standalone, err = redis.ParseURL(s); err == nil {
			o.Standalone.DialerRetries = dialerRetries
		}
	}
	if err != nil {
		return nil, redactErr(err, u)
	}
	o.finish(skip)
	return o, nil
}

// parseMulti handles the redis-sentinel:// and redis-cluster:// forms by
// rewriting them into go-redis' query forms.
func parseMulti(raw string, kind Kind, useTLS bool, rest string) (*Options, error) {
	// Split by hand: a comma-separated host list is not a URL host.
	var userinfo string
	hostEnd := strings.IndexAny(rest, "/?#")
	if hostEnd < 0 {
		hostEnd = len(rest)
	}
	if at := strings.LastIndex(rest[:hostEnd], "@"); at >= 0 {
		userinfo, rest = rest[:at], rest[at+1:]
		hostEnd -= at + 1
	}
	hostList, tail := rest[:hostEnd], rest[hostEnd:]
	u, err := url.Parse("redis://h" + tail)
	if err != nil || u.Fragment != "" {
		return nil, errors.New("redisurl: malformed URL")
	}
	var user *url.Userinfo
	if userinfo != "" {
		pu, err := url.Parse("redis://" + userinfo + "@h")
		if err != nil {
			return nil, errors.New("redisurl: malformed user information")
		}
		user = pu.User
	}
	var hosts []string
	for _, h := range strings.Split(hostList, ",") {
		if h == "" {
			continue
		}
		if !strings.Contains(strings.TrimPrefix(h[strings.LastIndex(h, "]")+1:], "["), ":") {
			if kind == Sentinel {
				h += ":26379"
			} else {
				h += ":6379"
			}
		}
		hosts = append(hosts, h)
	}
	if len(hosts) == 0 {
		return nil, errors.New("redisurl: no host")
	}
	q := u.Query()
	if t, err := takeTLS(q); err != nil {
		return nil, err
	} else if t {
		useTLS = true
	}
	skip, err := takeBool(q, "skip_verify")
	if err != nil {
		return nil, err
	}
	for _, h := range hosts[1:] {
		q.Add("addr", h)
	}
	path := strings.Trim(u.Path, "/")
	g := &url.URL{Scheme: "redis", Host: hosts[0]}
	if useTLS {
		g.Scheme = "rediss"
	}
	o := &Options{Kind: kind}
	switch kind {
	case Sentinel:
		name, db, _ := strings.Cut(path, "/")
		if name == "" {
			return nil, errors.New("redisurl: Sentinel URL without a master name (redis-sentinel://hosts/mastername)")
		}
		if q.Has("master_name") {
			return nil, errors.New("redisurl: master name given twice")
		}
		q.Set("master_name", name)
		if db != "" {
			g.Path = "/" + db
		}
		// In go-redis' form the user information is the Sentinels' and the
		// data nodes' credentials are query parameters; here it is the
		// other way round, as the data nodes are what the program uses.
		if user != nil {
			q.Set("username", user.Username())
			if p, ok := user.Password(); ok {
				q.Set("password", p)
			}
		}
		su, sp := q.Get("sentinel_username"), q.Get("sentinel_password")
		q.Del("sentinel_username")
		q.Del("sentinel_password")
		if sp != "" {
			g.User = url.UserPassword(su, sp)
		} else if su != "" {
			g.User = url.User(su)
		}
		g.RawQuery = q.Encode()
		o.Failover, err = redis.ParseFailoverURL(g.String())
	case Cluster:
		if path != "" && path != "0" {
			return nil, errors.New("redisurl: Redis Cluster has only database 0")
		}
		g.User = user
		g.RawQuery = q.Encode()
		o.Cluster, err = redis.ParseClusterURL(g.String())
	}
	if err != nil {
		return nil, redactErr(err, g)
	}
	o.finish(skip)
	return o, nil
}

// DialerRetries is how many times a client built here redials an address
// that refused or timed out, unless the URL says (dialer_retries=N).
// go-redis' default is 5, 100ms apart: half a second before a request to a
// dead master fails, which under a failover holds every caller that long
// and keeps it on the dead address after the new master is known. sesame
// answers such a request 503 and its client retries, so one redial is
// enough; refresh resumed 0.1–0.9 s sooner after a failover with WAIT.
const DialerRetries = 1

// finish applies the defaults this package adds to go-redis'.
func (o *Options) finish(skipVerify bool) {
	var tc *tls.Config
	var retries *int
	switch o.Kind {
	case Standalone:
		tc, retries = o.Standalone.TLSConfig, &o.Standalone.DialerRetries
	case Sentinel:
		tc, retries = o.Failover.TLSConfig, &o.Failover.DialerRetries
	case Cluster:
		tc, retries = o.Cluster.TLSConfig, &o.Cluster.DialerRetries
		if o.Cluster.ClusterStateReloadInterval == 0 {
			o.Cluster.ClusterStateReloadInterval = ClusterStateReloadInterval
		}
	}
	if retries != nil && *retries == 0 {
		*retries = DialerRetries
	}
	if tc != nil {
		tc.MinVersion = tls.VersionTLS12
		tc.InsecureSkipVerify = skipVerify
	}
}

func takeTLS(q url.Values) (bool, error) { return takeBool(q, "tls") }

// takeBool removes a boolean query parameter this package handles itself.
func takeBool(q url.Values, name string) (bool, error) {
	if !q.Has(name) {
		return false, nil
	}
	v := q.Get(name)
	q.Del(name)
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("redisurl: %s=%q is not a boolean", name, v)
	}
	return b, nil
}

// redactErr returns go-redis' error with every password of u removed.
func redactErr(err error, u *url.URL) error {
	msg := err.Error()
	var secrets []string
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p)
		}
	}
	for _, k := range []string{"password", "sentinel_password"} {
		if p := u.Query().Get(k); p != "" {
			secrets = append(secrets, p)
		}
	}
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	return errors.New("redisurl: " + strings.TrimPrefix(msg, "redis: "))
}

// Redact returns rawURL with its passwords replaced by "xxxxx", for logs.
func Redact(rawURL string) string {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return "(not a URL)"
	}
	hostEnd := strings.IndexAny(rest, "/?#")
	if hostEnd < 0 {
		hostEnd = len(rest)
	}
	if at := strings.LastIndex(rest[:hostEnd], "@"); at >= 0 {
		user, _, hasPass := strings.Cut(rest[:at], ":")
		if hasPass {
			user += ":xxxxx"
		}
		rest = user + rest[at:]
	}
	path, query, hasQuery := strings.Cut(rest, "?")
	if hasQuery {
		q, err := url.ParseQuery(query)
		if err != nil {
			return scheme + "://" + path + "?(malformed)"
		}
		for _, k := range []string{"password", "sentinel_password"} {
			if q.Has(k) {
				q.Set(k, "xxxxx")
			}
		}
		return scheme + "://" + path + "?" + q.Encode()
	}
	return scheme + "://" + rest
}
