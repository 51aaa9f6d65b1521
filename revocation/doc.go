// Package revocation ends sessions that are otherwise stateless: a denylist
// of revoked session ids, token ids and per-user "revoked-before" times, a
// local in-memory replica of it on every node, and refresh-token families.
//
// Most applications create one [Store] ([NewRedis] for a fleet, [NewDynamo]
// for a fleet on Amazon DynamoDB, [NewMemory] for a single process), one
// [Replica] of it started with [Replica.Run], and then call:
//
//   - [Replica.Check] on every request (memory only: no lock, no allocation);
//   - [Store.IsRevoked] on routes that must see a revocation the instant it is
//     written (payments, password change);
//   - [Store.CreateFamily] at login, [Store.Refresh] on refresh, and
//     [Store.RevokeFamily], [Store.RevokeAllFamilies], [Store.ListFamilies]
//     for logout and the "your devices" page.
//
// This package knows nothing of HTTP or of the access-token format: a
// [Subject] is the few claims it needs, and a family's payload is opaque bytes.
//
// # Errors
//
// A non-nil error from a backend wraps [ErrUnavailable]: nothing is known,
// answer 503 with Retry-After and never log the user out. "Not revoked" and
// "not found" are answers, not errors. [Store.Refresh] adds [ErrInvalidToken]
// (malformed, unknown family, wrong secret: no state changed), [ErrExpired]
// and [ErrReused] (a [*ReuseError], with the family, session and user ids to
// log as a security event). [Replica.Check] adds [ErrStale], which wraps
// ErrUnavailable. Every error text starts with "revocation: ".
//
// # Denylist
//
// An entry lives EntryTTL ([DefaultEntryTTL], 10m30s: the longest
// access-token lifetime plus leeway). After that every token it could match
// has expired anyway, so the denylist grows with the logout rate, not the
// user count. Revoking again extends an entry; a user's revoked-before only
// rises, and its entry lives until revoked-before + EntryTTL. A token is
// revoked if its sid or jti is listed, or if its iat is strictly before its
// user's revoked-before (milliseconds; if access tokens carry iat in whole
// seconds, a token minted in the same second as a "log out everywhere" but
// before it is revoked only if its truncated iat is still earlier, so mint iat
// with millisecond precision or accept that one-second edge).
//
// # Replica
//
// A [Replica] loads a snapshot, then follows the feed (a Redis Stream read
// with XREAD BLOCK from a cursor; for [NewDynamo] store, numbered items polled
// with a Query from a cursor; for [NewMemory] store, an in-process log) and
// merges a full snapshot every ResyncInterval (default 5m) as a safety net.
// After a failure it resumes from its cursor, or resyncs if events after the
// cursor are gone. Resyncs merge: an entry leaves a replica only by expiring,
// so a Redis that lost its data never makes a replica forget a revocation.
//
// The replica knows its lag: the time since it last confirmed it was current
// (a feed read that answered with everything there was). Past the staleness
// bound (default 5s) the policy applies: [FailClosed] (default) answers
// revoked=true with [ErrStale] (a 503, not a 401), [FailOpen] answers from
// memory. [Replica.Status] reports readiness, lag, staleness and policy for
// health checks and metrics.
//
// Ids are kept as 64-bit keyed hashes (random seed per process) in
// open-addressing tables behind atomic pointers: about 34 bytes per entry at
// 10⁶ entries. A hash collision could only revoke a token by mistake, with
// odds of about n/2⁶⁴ per check.
//
// # Refresh families
//
// A family is one login on one device: family id, session id, user id,
// payload, created, last used, absolute expiry, idle timeout, user agent, IP.
// A refresh token is "<family id>.<secret>" (68 characters, base64url); the
// store keeps only SHA-256 hashes of secrets. The family id is a 12-bit tag
// of the user id followed by the session id, so one session has at most one
// family: [DeriveFamilyID] derives it, and [TokenFamilyID] reads it from a refresh
// token, neither with a backend.
//
// Each refresh rotates the token. The successor of a secret is
// HMAC-SHA256(secret, "sesame refresh next"), so the store can give every
// presentation of a token the same successor without storing it, and only the
// holder of the old secret can compute it. The rules:
//
//   - presenting the current token makes the next generation; the idle
//     timeout slides, the absolute expiry never moves;
//   - until that new token has been presented once, the previous token keeps
//     returning the same new token and payload, however late (a lost answer,
//     a suspended app) — [RefreshResult.Replayed] is true and no generation is
//     made, so there are never two live siblings;
//   - after the new token's first use, the token before it still returns it
//     for the grace window (GraceWindow, default 10s: two tabs racing);
//   - after that, that token or any older genuine one is reuse: the family is
//     deleted, its sid denylisted, and [*ReuseError] returned. An older token
//     is told from a forgery by walking the HMAC chain forward from it, at
//     most ReuseLookback (default 4096) generations;
//   - a forged or garbled token changes nothing, so guessing a family id lets
//     nobody end someone else's session.
//
// The rules let a thief who holds the previous token follow the chain as long
// as they always refresh before the legitimate holder uses the new token; the
// first presentation out of that order ends the family.
//
// Idle and absolute expiry end a family ([ErrExpired]). A user's index lists
// their families; entries of ended or expired families are pruned lazily by
// [Store.ListFamilies] and never returned.
//
// # Redis layout and atomicity
//
// Keys start with RedisOptions.KeyPrefix ("sesame:"). The denylist sets and
// the event stream share one hash slot ({sesame:dl}), so one Lua script
// writes an entry and its event atomically, and a snapshot pairs with a
// stream position. Each family, and its user's index, sit in the slot of a
// 12-bit tag of the user id that starts the family id, so creating, rotating
// and listing touch one slot, and no script touches two. Operations that span
// the two (reuse, ending a family) write the denylist first, then delete the
// family: a failure half-way returns ErrUnavailable and a retry completes it.
// Every rotation is one script: fully applied or not at all. Key TTLs follow
// the data as garbage collection; the logic compares stored times with the
// store's clock (RedisOptions.Now). The stream is trimmed with MINID to
// EntryTTL: older events only announce expired entries.
//
// # DynamoDB layout and atomicity
//
// A [NewDynamo] store keeps everything in one table (key pk, sk; TTL attribute
// "ttl"; [CreateDynamoTable] makes it) and uses no transaction, no
// Stream and no TTL guarantee: every step is one conditional write on one
// item, and each operation orders its steps so that a crash between any two
// leaves a state the rules above allow, which a retry completes.
//
//   - Revoke: raise the denylist item (one conditional write: only rises),
//     take a number from a counter item (UpdateItem ADD), put the feed entry
//     at that number if nothing is there. The denylist goes first and the
//     feed entry last: a snapshot reads the counter before the denylist, so
//     every entry numbered at or below its cursor is in it (with the feed
//     entry first, a writer paused between the two would be in neither). A
//     crash before the feed entry leaves the strict check revoking and the
//     replicas not until their next resync, for a call that never returned;
//     its retry completes it.
//   - The feed: a replica's cursor never passes a missing number (a crashed
//     or slow writer); entries behind it are delivered at once. After 1s the
//     reader seals the hole with a conditional put; a writer that loses that
//     race takes a new number above every cursor. So no replica stalls on a
//     hole or skips an entry. Cursors carry the table's epoch: a recreated
//     or restored table makes replicas resync.
//   - CreateFamily: index entry, then the family if absent. Refresh: read,
//     decide, write on the condition that the current hash is unchanged (of
//     racing rotations one wins; the others read again and replay).
//     UpdateData: one write on the condition that the family is live.
//     Reuse, RevokeFamily and RevokeAllFamilies write the denylist and feed
//     first, then delete, as on Redis; RevokeAllFamilies leaves tombstones
//     so that a create caught between its two writes fails rather than
//     survive unlisted.
//   - Expiry: DynamoDB's TTL deletes late (days), so every read compares the
//     item's own expiry with the store's clock; "ttl" only collects garbage.
//
// The comment at the top of dynamodb.go gives the argument step by step.
//
// # Concurrency
//
// Every method of the stores NewRedis, NewDynamo and NewMemory make, and of [Replica],
// may be called concurrently, except that [Replica.Run] runs once at a time.
//
// A NewRedis store auto-pipelines its state-changing scripts (create, refresh,
// update, revoke): a call that finds no pipeline to its master in flight
// sends its script at once; calls made meanwhile go together in the next
// pipeline, one pipeline in flight per master on a Cluster. Each script stays
// atomic and answers its own caller. Under concurrent load this saves most
// of the system calls and wake-ups of one round trip per call on both
// sides (BenchmarkRedisRefresh: about 40 % more rotations per second on a
// 2-core machine). RedisOptions.NoAutoPipeline sends one command per call.
package revocation
