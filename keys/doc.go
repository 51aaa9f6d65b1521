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
//
// # Revocation is permanent
//
// A revoked key must never verify again, whatever writes the store: a
// backup restored over the keyset, a second writer working from an old copy,
// an automatic rotator. Version numbers alone do not ensure it: revoke key K
// (version 11), restore the version-10 file in which K is verify-only, rotate
// twice, and version 12 is newer than anything a node holds, with K usable.
// So the memory of revocations lives in three places, each of which
// survives what the others may not:
//
//   - In the keyset. [Keyset.Revoked] lists every key id ever revoked; every
//     operation carries the list forward and [Keyset.Prune] drops a revoked
//     key but keeps its id (a tombstone). A keyset whose key has a
//     tombstone's id is invalid unless that key is revoked. (Tombstones are
//     stored in format "sesame-keyset/v2", written only once a revoked key
//     has been pruned, so that until then older releases still read the
//     keyset.)
//   - In every running node. A [Holder] remembers the highest version and
//     every revoked id it has seen, and refuses with [ErrRollback] (an ERROR
//     log line, [HolderStatus].LastError) a keyset that is older, that makes
//     one of those keys usable, or that differs from its own at the same
//     version. The node keeps serving with the keyset in use.
//   - Beside the keyset, for writers with no memory of their own (sessionctl,
//     a node starting): the same high-water mark (version and revoked ids),
//     never lowered, in a watermark file next to the keyset file, or in an
//     "hwm" field of the Redis hash. Load and CompareAndSwap refuse a keyset
//     that goes back from it, so `sessionctl keys rotate` on a restored file
//     fails. Restoring the whole Redis hash or an older RDB snapshot brings
//     back an older mark too: that case is caught by the running nodes only
//     (a node started afterwards trusts what it finds).
//
// A keyset made again from scratch with [Init] (storage lost) has new key
// ids and a newer version, so it is accepted everywhere. To adopt an older
// keyset on purpose, revoke the keys again in it, then delete the watermark
// file (or the hwm field); running nodes accept it once it is newer than
// what they hold.
package keys
