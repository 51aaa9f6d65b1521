// Package clients keeps the introspection clients of a sesame deployment:
// the callers (API gateways, services) allowed to ask POST /auth/introspect
// about a token, each with a name and a generated secret.
//
// The clients file holds the SHA-256 of each secret, never the secret:
//
//	{"format": "sesame-clients/v1", "clients": [{"name": "kong", "hash": "sha256:...", "created": "..."}]}
//
// sessionctl clients add|remove|list edits it ([Edit], [Generate]); sessiond
// reads it with [Open], which implements auth.ClientAuthenticator:
//
//	cs, err := clients.Open("clients.json", nil)
//	go cs.Run(ctx) // picks up changes to the file
//	cfg.Gateway.IntrospectionClients = cs
//
// # Why SHA-256 and not a password hash
//
// A password hash (argon2id, as package users uses) is slow on purpose,
// because people choose guessable passwords: it makes each guess at a
// stolen hash cost tens of milliseconds. A client secret is not chosen: it
// is 256 bits from crypto/rand ([Generate]), so there is nothing to guess,
// and a stolen SHA-256 of it is as good as no hash at all to an attacker
// (2²⁵⁶ preimages to try). A fast hash keeps each introspection call at
// microseconds instead of adding tens of milliseconds and 64 MiB of memory
// to every API request a gateway checks.
package clients
