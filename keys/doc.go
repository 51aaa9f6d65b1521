// Package keys holds sesame's key material and its lifecycle: the keyset
// that signs and seals access tokens, how it rotates across a fleet, where it
// is stored, and the public JWKS.
//
// Most programs need four calls:
//
//	mk, err := keys.LoadMasterKey(*masterKeyFile)        // or env SESAME_MASTER_KEY
//	store := keys.NewRedisStore(client, mk, nil)         // or keys.NewFileStore(path, mk)
//	holder, err := keys.NewHolder(ctx, store, nil)       // go holder.Run(ctx); Reload on SIGHUP
//	mux.Handle("/.well-known/jwks.json", keys.JWKSHandler(holder, policy))
//
// and hand holder.Current() to the token package on each request; optionally
// every node also runs a [Rotator] for scheduled rotation. The keyset is
// created once with `sessionctl keys init`.
//
// # Lifecycle
//
// A key generation is pending (published, not signing), then active (the
// one key that signs), then verify-only (until every token it signed has
// expired), then pruned. Revoked keys stop verifying at once. The operations
// [Init], [Keyset.Rotate], [Keyset.Revoke], [Keyset.ForceRevoke] and
// [Keyset.Prune] are pure functions of a keyset and a time: each returns the
// next keyset (version+1) and leaves its receiver alone. They enforce the
// invariants: exactly one active key; a pending key signs only after it has
// been published for [RotationPolicy.PublishDelay] (an early rotation is
// refused with [ErrTooEarly], never delayed silently); a verify-only key is
// kept until MaxTokenLifetime+Leeway after it stopped signing. So a rotation
// never logs anyone out.
//
// # Storage and the fleet
//
// A [Store] changes only by compare-and-swap on the version, so concurrent
// rotations from any number of nodes or sessionctl runs end in one
// consistent keyset; [Update] retries a lost race. Secrets are sealed at rest
// with a 32-byte [MasterKey] (XChaCha20-Poly1305). The Redis store announces
// each change on pub/sub ([Watcher]); a [Holder] reloads on notices and also
// polls, every second by default, so a node that missed a notice catches up.
// A keyset that fails to load leaves the node on the last good one, reported
// in [Holder.Status].
package keys
