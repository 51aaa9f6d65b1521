// Package auth is sesame's HTTP face: login, refresh and logout endpoints,
// chi middleware that authenticates requests from a signed and encrypted
// access token, and accessors for the session in a handler.
//
// One process (sessions in memory), in the whole of its wiring:
//
//	m, err := auth.NewLocal(people, nil) // people: an auth.Authenticator[T], e.g. users.Open("users.json", nil)
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer m.Close()
//	r := chi.NewRouter()
//	r.Mount("/auth", m.Routes())
//	r.With(m.Require()).Get("/account", account)
//	r.With(m.Strict()).Post("/checkout", checkout)
//
//	func account(w http.ResponseWriter, r *http.Request) {
//		s, _ := auth.FromContext[Session](r.Context())
//		fmt.Fprintf(w, "hello %s", s.Data.Name)
//	}
//
// A fleet on one Redis swaps the constructor for [Open], which takes a
// go-redis client (standalone, Sentinel or Cluster) and the master key:
//
//	mk, err := keys.LoadMasterKey("") // SESAME_MASTER_KEY
//	m, err := auth.Open(ctx, redisClient, mk, people, nil)
//
// [NewLocal] and [Open] build and run every part (the keyset and its
// rotation, the revocation store, the denylist replica), wait until the
// Manager can serve, and stop it all on [Manager.Close]. [New] takes the
// parts instead, for programs that build them their own way.
//
// # Configuration
//
// [Config] is optional: its zero value is the defaults. Every duration in
// it, and in every options struct of sesame, follows one rule: zero means
// the default, a negative value means none (the feature is off). Every
// lifetime follows from the Config's own fields (see "Lifetimes" in
// [Config]), so a combination either works or is refused by the
// constructor with an error that names the fields.
//
// # Sessions started by the application
//
// An application that authenticates users its own way (an OAuth callback,
// a magic link, WebAuthn) starts a session with [Manager.StartSession],
// ends one with [Manager.EndSession] or all of a user's with
// [Manager.EndAllSessions], and answers errors as the middleware does with
// [Manager.WriteError].
//
// # Applications behind a proxy
//
// [Manager.Routes] also serves what lets an app in any language behind
// nginx, Traefik, Caddy or Envoy use these sessions: forward auth at
// /verify ([Manager.ForwardAuth]: the session's identity in X-Sesame-*
// headers for the proxy to pass on), a browser sign-in page at GET /login
// ([Manager.SignInPage]) and RFC 7662 token introspection at POST
// /introspect ([Manager.Introspection]). [Config.Gateway] configures them;
// docs/gateway.md has a configuration for each proxy.
//
// # Metrics
//
// [Manager.Stats] gives the counters; package authprom exports them to
// Prometheus, so that programs without Prometheus do not link it.
//
// # The request path
//
// [Manager.Require] verifies the access token locally (Ed25519 signature,
// claims, then the sealed payload) and checks the denylist replica in
// memory: no network on the request path. [Manager.Strict] adds one store
// read for routes where a revocation must count the instant it is written.
//
// # Failure behaviour
//
// A store outage never logs anyone out: login, refresh and logout answer 503
// with Retry-After. Protected routes keep working from the replica until its
// staleness bound, then follow its policy (fail closed: 503).
//
// # Token size
//
// The access token seals a version byte, the user id and the session data,
// which is base64 twice in the token: each byte of data costs about 1.8
// bytes in every request. [Config.DataEncoding] replaces JSON with a compact
// encoding of T; the README's "Token size" works through the numbers.
//
// # Transports and CSRF
//
// See [TransportHeader] for how a request picks cookies or the
// Authorization header. State-changing requests, on the auth routes and
// through the middleware, are checked with net/http's
// CrossOriginProtection: a cross-site browser POST gets 403.
package auth
