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
// SIGTERM or SIGINT drains in-flight requests and exits 0; SIGHUP reloads
// the keyset and the users file.
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
