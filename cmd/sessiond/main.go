// Command sessiond is the sesame session server: the auth endpoints, JWKS,
// health and readiness, on an in-memory or Redis revocation backend.
//
// On a fresh machine with only Go:
//
//	go run ./cmd/sessiond
//
// listens on http://127.0.0.1:8080 with everything in memory, creates the
// keyset ./sesame-keys.json (and, for development only, its master key in
// ./sesame-master.key), and prints the password of a demo user once. For a
// fleet, point every node at one Redis and one keyset:
//
//	SESAME_MASTER_KEY=... sessiond --redis redis://10.0.0.5:6379/0 --keyset redis://10.0.0.5:6379/0 --users /etc/sesame/users.json
//
// Every flag has an environment twin (--addr: SESAME_ADDR); see -h.
// --version prints the module version and VCS revision and exits.
// SIGTERM or SIGINT drains in-flight requests and exits 0; SIGHUP reloads
// the keyset and the users file.
//
// # Operating it
//
// Logs are JSON lines on stderr (--log-format text for people); every line
// of a request carries its request_id, and each request ends with one
// "request" line (method, chi route pattern, status, duration; never the
// raw path, query or headers). Security events are lines with msg
// "security event" and a stable event attribute: login_success,
// login_failure, login_throttled, logout, logout_all, session_ended,
// session_evicted, refresh_token_reused (from auth), and key_rotated,
// key_revoked, staleness_policy_tripped, staleness_recovered (detected
// here). A session revoked by an administrator is logged by sessionctl
// itself (session_revoked_by_admin): nodes only see its denylist entry
// arrive through their replica. /metrics serves Prometheus metrics from a
// registry of its own, with label values from fixed sets only.
// README.md in this directory lists the events and metrics.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sessiond:", err)
		os.Exit(1)
	}
}
