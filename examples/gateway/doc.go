// Package gateway is a runnable example: sesame as the session gateway of
// an app that is not written in Go and knows nothing of sesame. nginx
// checks every request to the app with an auth_request subrequest to
// sessiond's /auth/verify (two sessiond nodes on one Redis, round robin),
// copies the identity headers it answers with onto the request, and sends
// browsers without a session to sessiond's sign-in page, which brings them
// back to the page they asked for. The app (upstream.js, a few lines of
// Node.js) echoes what it receives.
//
// Start it with ./run.sh. Its end-to-end test runs with
//
//	go test -tags gateway ./examples/gateway
//
// and needs nginx, node, redis-server and chromium (under CI=true a
// missing one fails the test). It checks, through nginx only: an API call
// without a session gets 401 and a browser navigation the sign-in page with
// rd; signing in through the page in Chromium lands back on the original
// URL with the right identity at the app; a client's own X-Sesame-User
// never reaches the app; a cross-site POST is refused and a same-origin one
// passes; a logout on one node is refused by the other within the
// staleness bound; and introspection of a live, an expired and a revoked
// token, and a wrong client secret. It writes screenshots of the sign-in
// page at 375 and 1280 pixels wide to $SESAME_ARTIFACTS (a new temporary
// directory when unset) and logs where.
package gateway
