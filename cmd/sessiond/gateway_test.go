package main

import (
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/clients"
)

func TestGatewayConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clients.json")
	c, secret, err := clients.Generate("kong", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := clients.Edit(path, func(f *clients.File) error { return f.Add(c) }); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg, err := parseConfig([]string{"--trusted-proxies", "10.0.0.0/8", "--allowed-redirect-hosts", "app.example.com, .example.org"},
		env("SESAME_INTROSPECTION_CLIENTS", path), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	proxies, _ := parsePrefixes(cfg.trustedProxies)
	gw, set, err := gatewayConfig(cfg, proxies, log)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gw.TrustedProxies, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}) {
		t.Errorf("TrustedProxies %v", gw.TrustedProxies)
	}
	if !slices.Equal(gw.AllowedRedirectHosts, []string{"app.example.com", ".example.org"}) {
		t.Errorf("AllowedRedirectHosts %q", gw.AllowedRedirectHosts)
	}
	if set == nil || gw.IntrospectionClients == nil || !gw.IntrospectionClients.AuthenticateClient("kong", secret) {
		t.Error("the clients file from SESAME_INTROSPECTION_CLIENTS is not in use")
	}

	// Without the flag: no introspection clients (the endpoint answers 404).
	cfg, _ = parseConfig(nil, env(), io.Discard)
	if gw, set, err := gatewayConfig(cfg, nil, log); err != nil || set != nil || gw.IntrospectionClients != nil {
		t.Errorf("no flag: %v, %v, %v", gw.IntrospectionClients, set, err)
	}
	// A missing file is an error at start-up, naming the flag.
	cfg, _ = parseConfig([]string{"--introspection-clients", filepath.Join(t.TempDir(), "nope.json")}, env(), io.Discard)
	if _, _, err := gatewayConfig(cfg, nil, log); err == nil || !strings.Contains(err.Error(), "--introspection-clients") {
		t.Errorf("missing clients file: %v", err)
	}
}
