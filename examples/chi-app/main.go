// Command chi-app is a small shop on a chi router that uses sesame's auth
// package directly: a login page, a cart kept in the session payload
// (auth.Manager.Update), a checkout under Strict, and logout.
//
//	go run ./examples/chi-app
//
// Everything is in memory; see README.md.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sesame-go/sesame/users"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "chi-app:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		addr            = flag.String("addr", "127.0.0.1:8081", "address to listen on")
		tlsCert         = flag.String("tls-cert", "", "TLS certificate file (PEM); serve HTTPS with --tls-key")
		tlsKey          = flag.String("tls-key", "", "TLS private key file (PEM)")
		insecureCookies = flag.String("insecure-cookies", "auto", "cookies without Secure and the __Host-/__Secure- prefixes, for plain-HTTP localhost: true, false, or auto (on only without TLS on a loopback address)")
		user            = flag.String("user", "alice", "the demo user's name")
		accessTTL       = flag.Duration("access-ttl", 0, "access-token lifetime (default 10m); try 5s with --leeway=-1s to watch the page refresh silently")
		leeway          = flag.Duration("leeway", 0, "clock skew allowed on a token's exp (default 30s; negative: none)")
	)
	flag.Parse()
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	// Browsers drop Secure cookies over plain HTTP, so without TLS on a
	// loopback address the demo turns insecure cookies on by itself.
	insecure, err := strconv.ParseBool(*insecureCookies)
	if *insecureCookies == "auto" {
		ap, perr := netip.ParseAddrPort(*addr)
		loopback := perr == nil && ap.Addr().IsLoopback() || strings.HasPrefix(*addr, "localhost:")
		insecure, err = *tlsCert == "" && loopback, nil
	}
	if err != nil {
		return fmt.Errorf("--insecure-cookies %q: want true, false or auto", *insecureCookies)
	}
	if insecure {
		log.Warn("insecure cookies: no Secure flag, no __Host-/__Secure- prefixes; development on localhost only")
	}

	// The demo password comes from SHOP_PASSWORD, or is made up and printed.
	pw := os.Getenv("SHOP_PASSWORD")
	if pw == "" {
		b := make([]byte, 12)
		rand.Read(b)
		pw = base64.RawURLEncoding.EncodeToString(b)
		fmt.Printf("chi-app: log in as %q with password %s\n", *user, pw)
	}
	u, err := users.NewUser(*user, pw, users.Params{}, time.Now())
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	h, closeShop, err := newShop(shopOptions{users: []users.User{u}, insecure: insecure, log: log, accessTTL: *accessTTL, leeway: *leeway})
	if err != nil {
		return err
	}
	defer closeShop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	scheme := "http"
	served := make(chan error, 1)
	if *tlsCert != "" {
		scheme = "https"
		go func() { served <- srv.ServeTLS(ln, *tlsCert, *tlsKey) }()
	} else {
		go func() { served <- srv.Serve(ln) }()
	}
	log.Info("shop open", "url", scheme+"://"+ln.Addr().String())
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
