// Package bench puts sesame side by side with other Go session libraries:
// each "way" is one chi router with one protected route, GET /app, that
// authenticates the request and hands the handler the reference session
// (bench/internal/ref/reference-session.json) decoded into [ref.Session].
//
// This is a separate module so that the peers (scs, gorilla/sessions,
// jwtauth, redigo) never become dependencies of the library. Run everything
// with ./run.sh; see BENCHMARKS.md at the repository root for results.
//
// From outside, against server processes: ./wrk-session.sh compares the
// sessiond binary's GET /auth/session with a bare server doing the same
// job and with the peers (cmd/peers) under wrk, and cmd/mixload runs the
// mixed load (reads, refreshes, argon2id logins, logouts) against two
// sessiond or scs processes on one Redis, and the soak (TestSoak, run
// with SESAME_SOAK).
package bench
