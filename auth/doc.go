// Package auth is sesame's HTTP face: login, refresh and logout endpoints,
// chi middleware that authenticates requests from a signed and encrypted
// access token, and accessors for the session in a handler.
//
// A complete chi mount:
//
//	store, _ := revocation.NewRedis(redisClient, nil) // or revocation.NewMemory(nil)
//	replica, _ := revocation.NewReplica(store, nil)
//	go replica.Run(ctx)
//
//	m, err := auth.New(auth.Config[Session]{
//		Keys:          keyHolder, // a *keys.Holder, or auth.StaticKeys(ks)
//		Store:         store,
//		Denylist:      replica,
//		Authenticator: myUsers, // an auth.Authenticator[Session]
//	})
//
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
// bytes in every request. [Config.DataCodec] replaces JSON with a compact
// encoding of T; the README's "Token size" works through the numbers.
//
// # Transports and CSRF
//
// See [TransportHeader] for how a request picks cookies or the
// Authorization header. State-changing requests, on the auth routes and
// through the middleware, are checked with net/http's
// CrossOriginProtection: a cross-site browser POST gets 403.
package auth
