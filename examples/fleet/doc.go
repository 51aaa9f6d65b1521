// Package fleet is a runnable example: three sessiond nodes behind nginx
// (plain round robin, upstream keep-alive) sharing one Redis. Start it with
// ./run.sh; its end-to-end test runs with `go test -tags fleet
// ./examples/fleet`.
//
// nginx appends the address each client connected from to
// X-Forwarded-For, and every node runs with --trusted-proxies 127.0.0.1,
// nginx's address: a node then takes the right-most address in
// X-Forwarded-For that is not a trusted proxy as the client, for its
// per-address login limit and the session list. What a client writes in
// X-Forwarded-For itself stays to the left of nginx's entry and is never
// believed.
//
// The test plays distinct clients by connecting to nginx from loopback
// addresses 127.0.0.2 to 127.0.0.254 (never 127.0.0.1, the trusted proxy).
// It checks that each session is recorded with its client's own address,
// forged X-Forwarded-For or not, that one address forging a new
// X-Forwarded-For on every login is still throttled while other clients
// are not, that requests reach every node, that a token refreshed on one
// node works on the others, and that a logout is refused on every node,
// with the propagation time over 200 logouts.
package fleet
