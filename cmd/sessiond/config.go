package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/sesame-go/sesame/internal/dynamourl"
)

// config is sessiond's configuration: every flag has an environment twin
// named SESAME_ plus the flag name in upper case with - as _ (--access-ttl:
// SESAME_ACCESS_TTL), except --redis: SESAME_REDIS_URL, and --version, which
// has none. A flag on the command line wins over its variable.
//
// The master key has no flag: a value in argv is visible to every user of
// the machine (ps, /proc) and lands in shell history. It comes from
// SESAME_MASTER_KEY or from --master-key-file.
type config struct {
	addr            string
	metricsAddr     string
	tlsCert, tlsKey string
	insecureCookies optionalBool
	redisURL        string
	storeURL        string
	waitReplicas    int
	waitTimeout     time.Duration
	noAutoPipeline  bool
	keyset          string
	masterKeyFile   string
	usersFile       string

	accessTTL        time.Duration
	refreshIdle      time.Duration
	sessionLifetime  time.Duration
	rememberLifetime time.Duration
	issuer, audience string
	trustedOrigins   string
	trustedProxies   string
	ipv4Prefix       int
	ipv6Prefix       int

	introspectionClients string // --introspection-clients FILE
	allowedRedirectHosts string

	rotateEvery    time.Duration
	stalenessBound time.Duration
	stalePolicy    string

	logFormat        string
	logLevel         string
	logBuffer        int
	logFlushInterval time.Duration
	logSlow          time.Duration
	shutdownTimeout  time.Duration

	version bool // --version: print the version and exit
}

// envPrefix starts every environment twin.
const envPrefix = "SESAME_"

// envNames are the environment twins that do not follow the rule.
var envNames = map[string]string{"redis": "SESAME_REDIS_URL"}

func envName(flagName string) string {
	if n, ok := envNames[flagName]; ok {
		return n
	}
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// defaultKeyset is where a fresh machine keeps its keyset.
const defaultKeyset = "file:./sesame-keys.json"

func newFlagSet(c *config, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("sessiond", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "serve /metrics and the full /readyz?verbose on this address (plain HTTP; keep it private) instead of the main one (default: /metrics on --addr, /readyz?verbose only from this machine)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "TLS certificate file (PEM); serve HTTPS with --tls-key")
	fs.StringVar(&c.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	fs.Var(&c.insecureCookies, "insecure-cookies", "drop Secure and the __Host-/__Secure- cookie prefixes, for plain-HTTP development (default: on only without TLS on a loopback address)")
	fs.StringVar(&c.redisURL, "redis", "", "Redis URL for revocation state: redis://[user:pass@]host:port/db, rediss://..., redis-sentinel://[user:pass@]h1:26379,h2/mastername, redis-cluster://[user:pass@]h1:7000,h2 (default: in memory, one process)")
	fs.StringVar(&c.storeURL, "store", "", "revocation state in Amazon DynamoDB instead of Redis: dynamodb://TABLE[?region=…&endpoint=URL&poll=100ms&timeout=3s]; credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the AWS SDK's default chain; create the table with sessionctl store init")
	fs.IntVar(&c.waitReplicas, "redis-wait-replicas", 0, "acknowledge a login, refresh or revocation only once this many replicas have it (Redis WAIT); 0: as soon as the master has it (a failover may lose the last writes)")
	fs.DurationVar(&c.waitTimeout, "redis-wait-timeout", time.Second, "how long --redis-wait-replicas waits before answering 503; must be shorter than the Redis read timeout")
	fs.BoolVar(&c.noAutoPipeline, "redis-no-auto-pipeline", false, "send each login's, refresh's and revocation's script to Redis as its own command; by default scripts made while one is in flight to the same master go together as one pipeline (fewer system calls and round trips under load)")
	fs.StringVar(&c.keyset, "keyset", defaultKeyset, "where the keyset is kept: file:PATH or redis://... (the same URL as --redis shares its client)")
	fs.StringVar(&c.masterKeyFile, "master-key-file", "", "file holding the base64 master key that seals the keyset (default: env SESAME_MASTER_KEY; for a file keyset, a development key file beside it)")
	fs.StringVar(&c.usersFile, "users", "", "users file (see sessionctl users); default: one demo user with a generated password")

	fs.DurationVar(&c.accessTTL, "access-ttl", 10*time.Minute, "access-token lifetime")
	fs.DurationVar(&c.refreshIdle, "refresh-idle", 7*24*time.Hour, "a session not refreshed for this long ends; 0: no idle timeout")
	fs.DurationVar(&c.sessionLifetime, "session-lifetime", 12*time.Hour, "absolute lifetime of a session without \"remember\"")
	fs.DurationVar(&c.rememberLifetime, "remember-lifetime", 30*24*time.Hour, "absolute lifetime of a remembered session")
	fs.StringVar(&c.issuer, "issuer", "sesame", "iss of minted tokens, required on verified ones")
	fs.StringVar(&c.audience, "audience", "sesame", "aud of minted tokens, required on verified ones")
	fs.StringVar(&c.trustedOrigins, "trusted-origins", "", "comma-separated origins (scheme://host[:port]) besides this server's own allowed to send state-changing requests")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "comma-separated addresses or CIDR prefixes of the proxies in front of sessiond (e.g. 10.0.0.0/8); the client address for throttling and the session list is then read from X-Forwarded-For, and /auth/verify believes their X-Forwarded-Method, X-Original-Method, X-Forwarded-Host, X-Forwarded-Uri and X-Original-URI. Default: none, the peer address is the client")
	fs.StringVar(&c.introspectionClients, "introspection-clients", "", "clients file (see sessionctl clients) of the callers allowed to use POST /auth/introspect; default: none, and the endpoint answers 404")
	fs.StringVar(&c.allowedRedirectHosts, "allowed-redirect-hosts", "", "comma-separated hosts the sign-in page may send a browser back to after login (rd), besides paths on this host: app.example.com, app.example.com:8443, or .example.com for every subdomain. Default: none")

	fs.IntVar(&c.ipv4Prefix, "limit-ipv4-prefix", 32, "login and refresh limits count IPv4 clients by this prefix length (24: a whole /24 shares one budget)")
	fs.IntVar(&c.ipv6Prefix, "limit-ipv6-prefix", 64, "login and refresh limits count IPv6 clients by this prefix length (one subscriber usually holds a /64, sometimes a /56 or /48)")

	fs.DurationVar(&c.rotateEvery, "rotate-every", 24*time.Hour, "rotate the signing key this often, coordinated across the fleet; 0 disables")
	fs.DurationVar(&c.stalenessBound, "staleness-bound", 5*time.Second, "how long the local denylist replica may go unconfirmed before --stale-policy applies")
	fs.StringVar(&c.stalePolicy, "stale-policy", "fail-closed", "what a stale replica does: fail-closed (503) or fail-open (serve from the old copy)")

	fs.StringVar(&c.logFormat, "log-format", "json", "log format: json or text")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.IntVar(&c.logBuffer, "log-buffer", 256<<10, "bytes of log lines buffered in memory (twice this at most: one buffer fills while the other is written); 0 writes every line at once, unbuffered")
	fs.DurationVar(&c.logFlushInterval, "log-flush-interval", time.Second, "longest time a buffered access log line waits before it is written; other lines are written at once, and everything on shutdown")
	fs.DurationVar(&c.logSlow, "log-slow", time.Second, "access log lines of requests this slow or slower, like those of errors (status 400 and up), are never dropped; only successful, faster requests' lines may be, when the log output cannot keep up (counted in sesame_log_lines_dropped_total)")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 15*time.Second, "how long SIGTERM waits for in-flight requests")
	fs.BoolVar(&c.version, "version", false, "print the module version and VCS revision, and exit")

	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: sessiond [flags]

sessiond serves sesame sessions: /auth/* (login, refresh, logout, sessions;
forward auth at /auth/verify, the sign-in page at /auth/login, token
introspection at /auth/introspect), /.well-known/jwks.json, /healthz,
/readyz, /metrics and the demo route /api/whoami. /readyz says ready or
not, and why in one word; its details (/readyz?verbose) are answered only
on --metrics-addr, or without it only to requests from this machine that
no proxy forwarded.

Every flag but --version can also be set by its environment variable, shown
in brackets.
The master key that seals the keyset is read from SESAME_MASTER_KEY (base64
of 32 bytes) or --master-key-file, never from a flag value.

Flags:
`)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "false" {
				def = " (default " + f.DefValue + ")"
			}
			if f.Name == "version" {
				fmt.Fprintf(fs.Output(), "  --%s\n    \t%s\n", f.Name, f.Usage)
				return
			}
			fmt.Fprintf(fs.Output(), "  --%s  [%s]\n    \t%s%s\n", f.Name, envName(f.Name), f.Usage, def)
		})
	}
	return fs
}

// parseConfig reads flags from args and, for flags not given there, from
// the environment through getenv.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (*config, error) {
	c := &config{}
	fs := newFlagSet(c, out)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.version {
		return c, nil // nothing else is read or checked: --version always answers
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || f.Name == "version" { // --version has no environment twin
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %v", envName(f.Name), err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, c.validate()
}

func (c *config) validate() error {
	switch {
	case (c.tlsCert == "") != (c.tlsKey == ""):
		return errors.New("--tls-cert and --tls-key go together")
	case c.accessTTL < time.Second:
		return fmt.Errorf("--access-ttl %v is too short", c.accessTTL)
	case c.stalenessBound < 10*time.Millisecond:
		return fmt.Errorf("--staleness-bound %v is too short", c.stalenessBound)
	case c.stalePolicy != "fail-closed" && c.stalePolicy != "fail-open":
		return fmt.Errorf("--stale-policy %q: want fail-closed or fail-open", c.stalePolicy)
	case c.logFormat != "json" && c.logFormat != "text":
		return fmt.Errorf("--log-format %q: want json or text", c.logFormat)
	case c.logBuffer < 0 || c.logBuffer > 0 && c.logBuffer < 4<<10:
		return fmt.Errorf("--log-buffer %d: want 0 (unbuffered) or at least 4096 bytes", c.logBuffer)
	case c.logBuffer > 0 && c.logFlushInterval <= 0:
		return errors.New("--log-flush-interval must be positive")
	case c.logSlow <= 0:
		return errors.New("--log-slow must be positive")
	case c.shutdownTimeout <= 0:
		return errors.New("--shutdown-timeout must be positive")
	case c.refreshIdle < 0:
		return errors.New("--refresh-idle cannot be negative (0: no idle timeout)")
	case c.sessionLifetime <= 0 || c.rememberLifetime <= 0:
		return errors.New("--session-lifetime and --remember-lifetime must be positive: a session needs an absolute lifetime")
	case c.rotateEvery < 0:
		return errors.New("--rotate-every cannot be negative (0: no automatic rotation)")
	case c.ipv4Prefix < 1 || c.ipv4Prefix > 32 || c.ipv6Prefix < 1 || c.ipv6Prefix > 128:
		return fmt.Errorf("--limit-ipv4-prefix %d or --limit-ipv6-prefix %d out of range (1-32, 1-128)", c.ipv4Prefix, c.ipv6Prefix)
	case c.waitReplicas < 0:
		return errors.New("--redis-wait-replicas cannot be negative")
	case c.waitTimeout <= 0:
		return errors.New("--redis-wait-timeout must be positive")
	case c.waitReplicas > 0 && c.redisURL == "":
		return errors.New("--redis-wait-replicas needs --redis: the in-memory store has no replicas")
	case c.noAutoPipeline && c.redisURL == "":
		return errors.New("--redis-no-auto-pipeline needs --redis: the in-memory store has no pipelines")
	case c.storeURL != "" && c.redisURL != "":
		return errors.New("--store and --redis both name the revocation store: give one")
	case c.storeURL != "" && !dynamourl.Is(c.storeURL):
		return fmt.Errorf("--store %q: want dynamodb://TABLE (for Redis, use --redis)", c.storeURL)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		return fmt.Errorf("--addr %q: %v", c.addr, err)
	}
	if c.metricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.metricsAddr); err != nil {
			return fmt.Errorf("--metrics-addr %q: %v", c.metricsAddr, err)
		}
	}
	return nil
}

// tls reports whether sessiond serves HTTPS itself.
func (c *config) tls() bool { return c.tlsCert != "" }

// insecure decides whether cookies drop Secure and their prefixes, and
// whether that was chosen automatically.
//
// Browsers refuse Secure and __Host- cookies over plain HTTP, so the default
// `go run ./cmd/sessiond` (plain HTTP on 127.0.0.1) would set cookies no
// browser keeps. The automatic choice turns insecure cookies on only when
// both hold: no TLS here, and a loopback address, which only this machine
// can reach. Behind a TLS-terminating proxy on the same machine, set
// --insecure-cookies=false so production cookies keep Secure.
func (c *config) insecure() (on, auto bool) {
	if c.insecureCookies.set {
		return c.insecureCookies.v, false
	}
	return !c.tls() && isLoopback(c.addr), true
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// optionalBool is a boolean flag that remembers whether it was given.
type optionalBool struct{ set, v bool }

func (b *optionalBool) String() string {
	if b == nil || !b.set {
		return ""
	}
	return strconv.FormatBool(b.v)
}

func (b *optionalBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	b.set, b.v = true, v
	return nil
}

func (b *optionalBool) IsBoolFlag() bool { return true }
