package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/version"
	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/revocation"
	"github.com/sesame-go/sesame/users"
)

// readyWait bounds how long start-up waits for the keyset and the first
// denylist snapshot.
const readyWait = 10 * time.Second

// offIfZero turns a duration flag's 0 into the library's "none" (a negative
// duration): on the command line every duration is explicit, its default
// shown in --help, so 0 means zero, not "the default".
func offIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// run is sessiond: it parses the configuration, wires the library, serves
// until SIGINT or SIGTERM and shuts down gracefully. stdout receives only
// the one-time demo credentials; logs go to stderr.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.version {
		_, err := fmt.Fprintln(stdout, version.String("sessiond"))
		return err
	}
	logging := newLogs(c, stderr)
	defer logging.Close() // last of all: writes the buffered log lines
	log := logging.log
	slog.SetDefault(log) // library components that log to the default
	redis.SetLogger(redisLogger{log})

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// Catch SIGHUP from the start: its default action would end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	nm := newNodeMetrics(c.redisURL != "" || !strings.HasPrefix(c.keyset, "file:"))
	var client redis.UniversalClient // the store's
	if c.redisURL != "" {
		if client, err = newRedisClient(c.redisURL); err != nil {
			return fmt.Errorf("--redis: %w", err)
		}
		if h := nm.redisHook(); h != nil {
			client.AddHook(h)
		}
		defer client.Close()
	}
	ks, err := openKeyset(c, getenv, client, nm.redisHook(), log)
	if err != nil {
		return err
	}
	defer ks.close()

	authn, err := openUsers(c, stdout, log)
	if err != nil {
		return err
	}

	insecure, auto := c.insecure()
	switch {
	case insecure && auto:
		log.Warn("insecure cookies: Secure and the __Host-/__Secure- prefixes are off so browsers keep the cookies over plain HTTP; " +
			"chosen automatically because there is no TLS and the address is loopback. Development only; --insecure-cookies=false turns it off (do so behind a TLS proxy)")
	case insecure:
		log.Warn("insecure cookies: Secure and the __Host-/__Secure- prefixes are off (--insecure-cookies). Development only")
	case !c.tls() && !isLoopback(c.addr):
		log.Warn("serving plain HTTP on a non-loopback address: terminate TLS in front of sessiond, or give --tls-cert and --tls-key")
	}

	var origins []string
	for _, o := range strings.Split(c.trustedOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	proxies, err := parsePrefixes(c.trustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	var clientIP func(*http.Request) string
	if len(proxies) > 0 {
		clientIP = auth.TrustedProxies(proxies...)
	}
	gw, introClients, err := gatewayConfig(c, proxies, log)
	if err != nil {
		return err
	}
	policy := keys.RotationPolicy{RotateEvery: offIfZero(c.rotateEvery)}
	stalePolicy := revocation.FailClosed
	if c.stalePolicy == "fail-open" {
		stalePolicy = revocation.FailOpen
	}
	cfg := &auth.Config[users.Profile]{
		Issuer:           c.issuer,
		Audience:         c.audience,
		AccessTTL:        c.accessTTL,
		RefreshIdle:      offIfZero(c.refreshIdle),
		SessionLifetime:  c.sessionLifetime,
		RememberLifetime: c.rememberLifetime,
		KeyStore:         ks.store,
		Rotation:         policy,
		Replica:          revocation.ReplicaOptions{StalenessBound: c.stalenessBound, Policy: stalePolicy, Logger: log},
		Redis:            revocation.RedisOptions{WaitReplicas: c.waitReplicas, WaitTimeout: c.waitTimeout, NoAutoPipeline: c.noAutoPipeline},
		Insecure:         insecure,
		TrustedOrigins:   origins,
		ClientIP:         clientIP,
		Gateway:          gw,
		Limits:           auth.Limits{IPv4Prefix: c.ipv4Prefix, IPv6Prefix: c.ipv6Prefix},
		OnEvent:          logEvent(log, &knownUsers{a: authn}, nm.staleTrips),
		Logger:           log,
	}
	// Start-up waits this long for the keyset and the first denylist
	// snapshot; without them there is nothing to serve.
	var m *auth.Manager[users.Profile]
	octx, cancel := context.WithTimeout(ctx, readyWait)
	defer cancel()
	ping, backend := func(context.Context) error { return nil }, "memory"
	switch {
	case c.storeURL != "":
		d, dc, table, err := newDynamoStore(c.storeURL, cfg.EntryTTL(), getenv)
		if err != nil {
			return err
		}
		cfg.Store, cfg.DataKey = d, ks.masterKey.Derive(auth.DataKeyLabel)
		ping, backend = func(ctx context.Context) error { return pingDynamo(ctx, dc, table) }, "dynamodb"
		m, err = auth.Start(octx, authn, cfg)
	case client != nil:
		ping, backend = func(ctx context.Context) error { return pingRedis(ctx, client) }, "redis"
		m, err = auth.Open(octx, client, ks.masterKey, authn, cfg)
	default:
		m, err = auth.NewLocal(authn, cfg)
	}
	cancel()
	if err != nil {
		return err
	}
	defer m.Close()
	n := newNode(m, backend, ping, authn, policy, log, nm)
	n.metricsApart, n.proxies = c.metricsAddr != "", proxies
	n.logs = logging
	if client != nil {
		n.persist = watchPersistence(ctx, client, cfg.Redis.KeyPrefix, n.store, m.Parts().Journal, log)
	}

	// Background work runs until bg ends, after the server has drained.
	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopBG()
	wg.Go(func() { authn.Run(bg) })
	if introClients != nil {
		wg.Go(func() { introClients.Run(bg) })
	}
	wg.Go(func() { reloadOnHUP(bg, hup, n.holder, authn, log) })
	wg.Go(func() { watchKeys(bg, n.holder, log, nm.keyEvents) })
	if n.persist != nil {
		wg.Go(func() { n.persist.Run(bg) })
	}

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	newServer := func(h http.Handler) *http.Server {
		return &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       15 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		}
	}
	srv := newServer(n.routes())
	served := make(chan error, 2)
	var ops *http.Server // --metrics-addr
	if c.metricsAddr != "" {
		oln, err := net.Listen("tcp", c.metricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		ops = newServer(n.opsRoutes())
		go func() { served <- ops.Serve(oln) }()
		log.Info("metrics listening", "addr", oln.Addr().String(), "url", "http://"+oln.Addr().String()+"/metrics")
	}
	scheme := "http"
	if c.tls() {
		scheme = "https"
		go func() { served <- srv.ServeTLS(ln, c.tlsCert, c.tlsKey) }()
	} else {
		go func() { served <- srv.Serve(ln) }()
	}
	log.Info("listening", "addr", ln.Addr().String(), "url", scheme+"://"+ln.Addr().String(),
		"revocation", n.backend, "keyset", redactURL(c.keyset), "insecure_cookies", insecure)

	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	stop() // a second signal kills the process at once
	log.Info("shutting down: draining in-flight requests", "timeout", c.shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if ops != nil {
		err = errors.Join(err, ops.Shutdown(sctx))
	}
	stopBG()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// reloadOnHUP reloads the keyset and the users file on SIGHUP.
func reloadOnHUP(ctx context.Context, hup <-chan os.Signal, holder *keys.Holder, authn *users.Authenticator, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		log.Info("SIGHUP: reloading the keyset and the users file")
		if err := holder.Reload(ctx); err != nil {
			log.Error("keyset reload failed; keeping the keyset in use", "err", err)
		}
		if err := authn.Reload(); err != nil {
			log.Error("users file reload failed; keeping the users in use", "err", err)
		}
	}
}

// demoUser is the user served when there is no users file.
const demoUser = "demo"

// openUsers opens the users file, or makes the demo user and prints its
// password once on stdout.
func openUsers(c *config, stdout io.Writer, log *slog.Logger) (*users.Authenticator, error) {
	if c.usersFile != "" {
		return users.Open(c.usersFile, &users.Options{Logger: log})
	}
	b := make([]byte, 15)
	rand.Read(b)
	pw := base64.RawURLEncoding.EncodeToString(b)
	u, err := users.NewUser(demoUser, pw, users.Params{}, time.Now())
	if err != nil {
		return nil, err
	}
	a, err := users.Static([]users.User{u}, &users.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	log.Warn("no users file (--users): serving one demo user with a generated password, printed once on stdout. Development only")
	fmt.Fprintf(stdout, "sessiond: demo user %q, password %s (shown once; use --users FILE and `sessionctl users add` for real users)\n", u.Name, pw)
	return a, nil
}

// parsePrefixes parses a comma-separated list of IP addresses and CIDR
// prefixes; a bare address is a /32 (or /128).
func parsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR prefix", f)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
