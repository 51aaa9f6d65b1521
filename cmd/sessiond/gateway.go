package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/clients"
)

// gatewayConfig is the auth.Gateway of the flags: forward auth believes
// the original-request headers of --trusted-proxies, the sign-in page may
// return to --allowed-redirect-hosts, and introspection answers the
// clients of --introspection-clients (whose file the returned Set polls
// once run; nil without the flag).
func gatewayConfig(c *config, proxies []netip.Prefix, log *slog.Logger) (auth.Gateway, *clients.Set, error) {
	gw := auth.Gateway{TrustedProxies: proxies}
	for _, h := range strings.Split(c.allowedRedirectHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			gw.AllowedRedirectHosts = append(gw.AllowedRedirectHosts, h)
		}
	}
	if c.introspectionClients == "" {
		return gw, nil, nil
	}
	cs, err := clients.Open(c.introspectionClients, &clients.Options{Logger: log})
	if err != nil {
		return gw, nil, fmt.Errorf("--introspection-clients: %w", err)
	}
	gw.IntrospectionClients = cs
	return gw, cs, nil
}
