package revocation

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Key layout (prefix P, "sesame:" by default):
//
//	{Pdl}:sid      zset  session id -> entry expiry (unix ms)
//	{Pdl}:jti      zset  token id -> entry expiry
//	{Pdl}:user     zset  user id -> entry expiry
//	{Pdl}:ubefore  hash  user id -> revoked-before (unix ms)
//	{Pdl}:events   stream of entries, the replicas' feed, trimmed by MINID
//	P{tt}:fam:F    hash  family F; tt = F's first two characters
//	P{tt}:user:U   zset  family ids of user U -> absolute expiry
//
// The denylist and its stream share one hash slot, so one script writes an
// entry and its event atomically and a snapshot pairs with a stream cursor.
// It is small (entries live EntryTTL) and most reads go to replicas, so one
// slot is not a bottleneck. A user's index and families share the slot of the
// user's 12-bit tag (the family id starts with it), which spreads users over
// the cluster while keeping one family — and one user's index — in one slot.
// No script touches two slots; the few operations that cross (theft, ending
// a family) write the denylist first, so a failure half-way is retried
// rather than lost.

//go:embed scripts/*.lua
var scriptFS embed.FS

func loadScript(name string) *redis.Script {
	b, err := scriptFS.ReadFile("scripts/" + name)
	if err != nil {
		panic("revocation: missing script " + name)
	}
	return redis.NewScript(string(b))
}

var (
	refreshScript = loadScript("refresh.lua")
	createScript  = loadScript("create.lua")
	updateScript  = loadScript("update.lua")
	revokeScript  = loadScript("revoke.lua")
)

// keyMargin is added to key TTLs, which are only garbage collection: the
// logic always compares stored times with the store's clock.
const keyMargin = time.Minute

// RedisStore is a [Store] and a [Feed] kept in Redis (standalone, Sentinel or
// Cluster) through a go-redis UniversalClient. All methods may be called
// concurrently. Redis errors and timeouts are returned wrapping
// [ErrUnavailable]; the client's own timeouts and retries apply.
type RedisStore struct {
	rdb    redis.UniversalClient
	c      common
	prefix string
	dl     string     // "{<prefix>dl}:"
	waitN  int        // RedisOptions.WaitReplicas
	waitMs int64      // RedisOptions.WaitTimeout
	batch  *pipeliner // nil: one command per script
}

// NewRedis returns a RedisStore using client. opts may be nil.
func NewRedis(client redis.UniversalClient, opts *RedisOptions) (*RedisStore, error) {
	if client == nil {
		return nil, errors.New("revocation: nil redis client")
	}
	var o RedisOptions
	if opts != nil {
		o = *opts
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = "sesame:"
	}
	if err := validPrefix(o.KeyPrefix); err != nil {
		return nil, err
	}
	c, err := newCommon(o.EntryTTL, o.GraceWindow, o.ReuseLookback, o.Now)
	if err != nil {
		return nil, err
	}
	if o.WaitReplicas < 0 {
		return nil, errors.New("revocation: WaitReplicas is negative")
	}
	// WAIT and auto-pipelining need to know the client: one master
	// (*redis.Client: standalone or Sentinel) or a Cluster.
	var readTimeout time.Duration
	known := true
	switch c := client.(type) {
	case *redis.Client:
		readTimeout = c.Options().ReadTimeout
	case *redis.ClusterClient:
		readTimeout = c.Options().ReadTimeout
	default:
		known = false
	}
	if o.WaitReplicas > 0 {
		if !known {
			return nil, errors.New("revocation: WaitReplicas needs a *redis.Client or *redis.ClusterClient")
		}
		// The script and WAIT are one pipeline, read under ReadTimeout
		// (negative: none). WAIT must answer before it runs out, or a
		// refusal would look like a network failure.
		if o.WaitTimeout == 0 {
			o.WaitTimeout = time.Second
			if readTimeout > 0 && readTimeout <= 2*time.Second {
				o.WaitTimeout = readTimeout / 2
			}
		}
		if o.WaitTimeout < time.Millisecond {
			return nil, errors.New("revocation: WaitTimeout must be at least 1ms")
		}
		if readTimeout > 0 && o.WaitTimeout >= readTimeout {
			return nil, fmt.Errorf("revocation: WaitTimeout %v must be shorter than the client's ReadTimeout %v: the WAIT reply is read under it", o.WaitTimeout, readTimeout)
		}
	}
	r := &RedisStore{rdb: client, c: c, prefix: o.KeyPrefix, dl: "{" + o.KeyPrefix + "dl}:",
		waitN: o.WaitReplicas, waitMs: o.WaitTimeout.Milliseconds()}
	if known && !o.NoAutoPipeline && o.WaitReplicas == 0 { // see pipeliner
		r.batch = newPipeliner(client)
	}
	return r, nil
}

// run runs a state-changing script. With WaitReplicas it sends the script
// and WAIT in one pipeline to the node owning keys[0]: WAIT counts the
// replicas that acknowledged this connection's writes, so it must follow
// the script on the same connection, and go-redis' cluster pipeline would
// route the keyless WAIT elsewhere. A MOVED reply (a failover in progress)
// is then an error like any other: nothing was written, the caller retries.
// The pipeline is read under the client's ReadTimeout, which is why NewRedis
// keeps WaitTimeout below it. (A sticky redis.Conn would let WAIT be read
// under its own timeout, but go-redis v9.23 races on the shared options when
// a Conn and its parent client open connections at once.)
func (r *RedisStore) run(ctx context.Context, s *redis.Script, keys []string, args ...any) (ret *redis.Cmd) {
	if r.batch != nil {
		return r.batch.run(ctx, s, keys, args...)
	}
	if r.waitN == 0 {
		return s.Run(ctx, r.rdb, keys, args...)
	}
	failed := func(err error) *redis.Cmd {
		c := redis.NewCmd(ctx)
		c.SetErr(err)
		return c
	}
	// NewRedis allowed only these two kinds of client with WaitReplicas.
	node, _ := r.rdb.(*redis.Client)
	cluster, _ := r.rdb.(*redis.ClusterClient)
	if cluster != nil {
		m, err := cluster.MasterForKey(ctx, keys[0])
		if err != nil {
			return failed(err)
		}
		node = m
	}
	// This pipeline bypasses the cluster client's own routing, which
	// reloads the slot map on MOVED; when the pinned master fails (dead,
	// or no longer the master), ask for a reload here, or the next calls
	// keep going to it until the periodic reload. go-redis makes at most
	// one reload per 200ms however often it is asked.
	defer func() {
		if cluster != nil && ret.Err() != nil && !redis.HasErrorPrefix(ret.Err(), "NOSCRIPT") {
			cluster.ReloadState(ctx)
		}
	}()
	for attempt := 0; ; attempt++ {
		var cmd, wait *redis.Cmd
		_, _ = node.Pipelined(ctx, func(p redis.Pipeliner) error {
			cmd = s.EvalSha(ctx, p, keys, args...)
			wait = p.Do(ctx, "WAIT", r.waitN, r.waitMs)
			return nil
		})
		if err := cmd.Err(); err != nil && attempt == 0 && redis.HasErrorPrefix(err, "NOSCRIPT") {
			if err := s.Load(ctx, node).Err(); err != nil {
				return failed(err)
			}
			continue
		}
		if cmd.Err() != nil {
			return cmd
		}
		n, err := wait.Int64()
		if err == nil && n < int64(r.waitN) {
			err = errors.New("only " + strconv.FormatInt(n, 10) + " of " + strconv.Itoa(r.waitN) +
				" replicas acknowledged within " + strconv.FormatInt(r.waitMs, 10) + "ms")
		}
		if err != nil {
			return failed(err)
		}
		return cmd
	}
}

func (r *RedisStore) famKey(fid string) string {
	return r.prefix + "{" + fid[:tagLen] + "}:fam:" + fid
}

func (r *RedisStore) idxKey(userID string) string {
	return r.prefix + "{" + userTag(userID) + "}:user:" + userID
}

func (r *RedisStore) eventsKey() string { return r.dl + "events" }

func (r *RedisStore) nowMs() int64 { return r.c.now().UnixMilli() }

// Denylist.

// EntryTTL returns how long a denylist entry lives, so that a caller can
// check its access tokens do not outlive it (auth.New does).
func (r *RedisStore) EntryTTL() time.Duration { return r.c.entryTTL }

// RevokeSession implements [Store].
func (r *RedisStore) RevokeSession(ctx context.Context, sid string) error {
	return r.revoke(ctx, "s", r.dl+"sid", sid, 0)
}

// RevokeToken implements [Store].
func (r *RedisStore) RevokeToken(ctx context.Context, jti string) error {
	return r.revoke(ctx, "j", r.dl+"jti", jti, 0)
}

// RevokeUser implements [Store].
func (r *RedisStore) RevokeUser(ctx context.Context, userID string, before time.Time) error {
	return r.revoke(ctx, "u", r.dl+"user", userID, before.UnixMilli())
}

func (r *RedisStore) revoke(ctx context.Context, kind, key, id string, before int64) error {
	ttl := r.c.entryTTL.Milliseconds()
	err := r.run(ctx, revokeScript, []string{key, r.eventsKey(), r.dl + "ubefore"},
		kind, id, ttl, r.nowMs(), ttl, before).Err()
	if err != nil {
		return unavailable("revoke", err)
	}
	return nil
}

// IsRevoked implements [Store].
func (r *RedisStore) IsRevoked(ctx context.Context, s Subject) (bool, error) {
	var sid, jti, uexp *redis.FloatCmd
	var ubefore *redis.StringCmd
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if s.SID != "" {
			sid = p.ZScore(ctx, r.dl+"sid", s.SID)
		}
		if s.JTI != "" {
			jti = p.ZScore(ctx, r.dl+"jti", s.JTI)
		}
		if s.UserID != "" {
			uexp = p.ZScore(ctx, r.dl+"user", s.UserID)
			ubefore = p.HGet(ctx, r.dl+"ubefore", s.UserID)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, unavailable("check denylist", err)
	}
	now := float64(r.nowMs())
	for _, c := range []*redis.FloatCmd{sid, jti} {
		if c != nil && c.Err() == nil && c.Val() > now {
			return true, nil
		}
	}
	if uexp != nil && uexp.Err() == nil && uexp.Val() > now && ubefore.Err() == nil {
		before, err := strconv.ParseInt(ubefore.Val(), 10, 64)
		if err == nil && s.IssuedAt.UnixMilli() < before {
			return true, nil
		}
	}
	return false, nil
}

// Families.

// CreateFamily implements [Store].
func (r *RedisStore) CreateFamily(ctx context.Context, nf NewFamily) (Family, RefreshToken, error) {
	now := r.c.now()
	if err := validNewFamily(nf, now); err != nil {
		return Family{}, RefreshToken{}, err
	}
	nowMs := now.UnixMilli()
	fid, _ := FamilyIDOf(nf.UserID, nf.SessionID) // validNewFamily checked both
	secret := newSecret()
	h := hashSecret(secret)
	abs := nf.AbsoluteExpiry.UnixMilli()
	idle := nf.IdleTimeout.Milliseconds()
	created, err := r.run(ctx, createScript, []string{r.famKey(fid), r.idxKey(nf.UserID)},
		fid, nf.SessionID, nf.UserID, nf.Payload, nowMs, abs, idle, nf.UserAgent, nf.IP,
		h[:], keyMargin.Milliseconds()).Int64()
	if err != nil {
		return Family{}, RefreshToken{}, unavailable("create family", err)
	}
	if created != 1 {
		return Family{}, RefreshToken{}, errFamilyExists
	}
	f := Family{
		ID: fid, SessionID: nf.SessionID, UserID: nf.UserID,
		Payload: append([]byte{}, nf.Payload...),
		Created: time.UnixMilli(nowMs), LastUsed: time.UnixMilli(nowMs),
		AbsoluteExpiry: time.UnixMilli(abs), IdleTimeout: time.Duration(idle) * time.Millisecond,
		UserAgent: nf.UserAgent, IP: nf.IP,
	}
	return f, formatToken(fid, secret), nil
}

// Refresh implements [Store].
func (r *RedisStore) Refresh(ctx context.Context, token string) (RefreshResult, error) {
	fid, secret, ok := parseToken(token)
	if !ok {
		return RefreshResult{}, ErrInvalidToken
	}
	h0 := hashSecret(secret)
	next := nextSecret(secret)
	h1 := hashSecret(next)
	key := r.famKey(fid)
	res, err := r.run(ctx, refreshScript, []string{key},
		h0[:], h1[:], r.nowMs(), r.c.grace.Milliseconds(), keyMargin.Milliseconds()).StringSlice()
	if err != nil {
		return RefreshResult{}, unavailable("refresh", err)
	}
	switch res[0] {
	case "invalid":
		return RefreshResult{}, ErrInvalidToken
	case "expired":
		return RefreshResult{}, ErrExpired
	case "reused":
		return RefreshResult{}, r.reused(ctx, fid, res[1], res[2])
	case "unknown":
		if len(res) != 10 {
			return RefreshResult{}, unavailable("refresh", errors.New("malformed script reply"))
		}
		gen, _ := strconv.ParseUint(res[1], 10, 64)
		limit := int(min(gen, uint64(r.c.lookback)))
		if !isAncestor(secret, limit, []byte(res[2]), []byte(res[3]), []byte(res[4])) {
			return RefreshResult{}, ErrInvalidToken
		}
		abs, _ := strconv.ParseInt(res[7], 10, 64)
		idle, _ := strconv.ParseInt(res[8], 10, 64)
		last, _ := strconv.ParseInt(res[9], 10, 64)
		f := Family{AbsoluteExpiry: time.UnixMilli(abs), IdleTimeout: time.Duration(idle) * time.Millisecond, LastUsed: time.UnixMilli(last)}
		if r.nowMs() >= expiresMs(&f) {
			if err := r.rdb.Del(ctx, key).Err(); err != nil {
				return RefreshResult{}, unavailable("refresh", err)
			}
			return RefreshResult{}, ErrExpired
		}
		return RefreshResult{}, r.reused(ctx, fid, res[5], res[6])
	case "rotate", "replay":
		f, err := parseFamily(fid, pairs(res[1:]))
		if err != nil {
			return RefreshResult{}, unavailable("refresh", err)
		}
		return RefreshResult{Token: formatToken(fid, next), Family: f, Replayed: res[0] == "replay"}, nil
	}
	return RefreshResult{}, unavailable("refresh", errors.New("unexpected script reply "+strconv.Quote(res[0])))
}

// reused handles theft: the session id goes on the denylist first, then the
// family is deleted. If the first step fails nothing changed, the error is
// ErrUnavailable, and the next presentation of the token detects it again.
func (r *RedisStore) reused(ctx context.Context, fid, sid, uid string) error {
	if err := r.RevokeSession(ctx, sid); err != nil {
		return err
	}
	if err := r.rdb.Del(ctx, r.famKey(fid)).Err(); err != nil {
		return unavailable("delete family", err)
	}
	return &ReuseError{FamilyID: fid, SessionID: sid, UserID: uid}
}

func pairs(kv []string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func parseFamily(fid string, m map[string]string) (Family, error) {
	var bad bool
	num := func(k string) int64 {
		n, err := strconv.ParseInt(m[k], 10, 64)
		bad = bad || err != nil
		return n
	}
	f := Family{
		ID: fid, SessionID: m["sid"], UserID: m["uid"], Payload: []byte(m["pl"]),
		Created: time.UnixMilli(num("ct")), LastUsed: time.UnixMilli(num("last")),
		AbsoluteExpiry: time.UnixMilli(num("abs")),
		IdleTimeout:    time.Duration(num("idle")) * time.Millisecond,
		UserAgent:      m["ua"], IP: m["ip"], Generation: uint64(num("gen")),
	}
	if bad {
		return Family{}, errors.New("malformed family " + strconv.Quote(fid))
	}
	return f, nil
}

// UpdatePayload implements [Store].
func (r *RedisStore) UpdatePayload(ctx context.Context, familyID string, payload []byte) error {
	if !validFamilyID(familyID) {
		return ErrNotFound
	}
	n, err := r.run(ctx, updateScript, []string{r.famKey(familyID)}, payload, r.nowMs()).Int()
	if err != nil {
		return unavailable("update payload", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// GetFamily implements [Store].
func (r *RedisStore) GetFamily(ctx context.Context, familyID string) (Family, bool, error) {
	if !validFamilyID(familyID) {
		return Family{}, false, nil
	}
	m, err := r.rdb.HGetAll(ctx, r.famKey(familyID)).Result()
	if err != nil {
		return Family{}, false, unavailable("get family", err)
	}
	f, ok := r.live(familyID, m)
	return f, ok, nil
}

// live parses a family hash and reports whether it is live now.
func (r *RedisStore) live(fid string, m map[string]string) (Family, bool) {
	if len(m) == 0 {
		return Family{}, false
	}
	f, err := parseFamily(fid, m)
	if err != nil || r.nowMs() >= expiresMs(&f) {
		return Family{}, false
	}
	return f, true
}

// ListFamilies implements [Store].
func (r *RedisStore) ListFamilies(ctx context.Context, userID string) ([]Family, error) {
	idx := r.idxKey(userID)
	fids, err := r.rdb.ZRange(ctx, idx, 0, -1).Result()
	if err != nil {
		return nil, unavailable("list families", err)
	}
	if len(fids) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(fids))
	if _, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, fid := range fids {
			cmds[i] = p.HGetAll(ctx, r.famKey(fid))
		}
		return nil
	}); err != nil {
		return nil, unavailable("list families", err)
	}
	var out []Family
	var stale []string
	for i, fid := range fids {
		f, ok := r.live(fid, cmds[i].Val())
		if !ok || !validFamilyID(fid) {
			stale = append(stale, fid)
			continue
		}
		out = append(out, f)
	}
	if len(stale) > 0 {
		// A family id is never reused and an expired family never comes
		// back, so pruning without a transaction is safe.
		_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.ZRem(ctx, idx, toAny(stale)...)
			for _, fid := range stale {
				if validFamilyID(fid) {
					p.Del(ctx, r.famKey(fid))
				}
			}
			return nil
		})
		if err != nil {
			return nil, unavailable("prune family index", err)
		}
	}
	sortFamilies(out)
	return out, nil
}

func toAny(s []string) []any {
	a := make([]any, len(s))
	for i, v := range s {
		a[i] = v
	}
	return a
}

// RevokeFamily implements [Store].
func (r *RedisStore) RevokeFamily(ctx context.Context, familyID string) error {
	if !validFamilyID(familyID) {
		return nil
	}
	sid, err := r.rdb.HGet(ctx, r.famKey(familyID), "sid").Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return unavailable("revoke family", err)
	}
	if err := r.RevokeSession(ctx, sid); err != nil {
		return err
	}
	if err := r.rdb.Del(ctx, r.famKey(familyID)).Err(); err != nil {
		return unavailable("revoke family", err)
	}
	return nil
}

// RevokeAllFamilies implements [Store]. Each family's session id goes on
// the denylist first (so a token minted for it in the same instant as this
// call is refused too, whatever the clocks say), then the families and the
// index go, then the user's revoked-before is written. A failure half-way
// leaves at worst more revoked than deleted, and a retry finishes the job.
func (r *RedisStore) RevokeAllFamilies(ctx context.Context, userID string) error {
	idx := r.idxKey(userID)
	fids, err := r.rdb.ZRange(ctx, idx, 0, -1).Result()
	if err != nil {
		return unavailable("revoke all families", err)
	}
	var valid []string
	for _, fid := range fids {
		if validFamilyID(fid) {
			valid = append(valid, fid)
		}
	}
	if len(valid) > 0 {
		sids := make([]*redis.StringCmd, len(valid))
		_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, fid := range valid {
				sids[i] = p.HGet(ctx, r.famKey(fid), "sid")
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return unavailable("revoke all families", err)
		}
		for _, c := range sids {
			if sid := c.Val(); sid != "" {
				if err := r.RevokeSession(ctx, sid); err != nil {
					return err
				}
			}
		}
	}
	if len(fids) > 0 {
		_, err = r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, fid := range valid {
				p.Del(ctx, r.famKey(fid))
			}
			p.ZRem(ctx, idx, toAny(fids)...)
			return nil
		})
		if err != nil {
			return unavailable("revoke all families", err)
		}
	}
	return r.RevokeUser(ctx, userID, r.c.now())
}

// Feed.

const snapshotBatch = 2048

// Snapshot implements [Feed]. It reads the stream position first, then scans
// the denylist in batches (never blocking Redis for long); entries written
// during the scan come again from the stream.
func (r *RedisStore) Snapshot(ctx context.Context, add func(Entry)) (string, error) {
	cursor := "0-0"
	info, err := r.rdb.XInfoStream(ctx, r.eventsKey()).Result()
	switch {
	case err == nil:
		cursor = info.LastGeneratedID
	case isNoSuchKey(err):
	default:
		return "", unavailable("snapshot", err)
	}
	now := float64(r.nowMs())
	for _, k := range []struct {
		kind Kind
		key  string
	}{{KindSession, "sid"}, {KindToken, "jti"}, {KindUser, "user"}} {
		var sc uint64
		for {
			kv, next, err := r.rdb.ZScan(ctx, r.dl+k.key, sc, "", snapshotBatch).Result()
			if err != nil {
				return "", unavailable("snapshot", err)
			}
			var batch []Entry
			for i := 0; i+1 < len(kv); i += 2 {
				exp, err := strconv.ParseFloat(kv[i+1], 64)
				if err != nil || exp <= now {
					continue
				}
				batch = append(batch, Entry{Kind: k.kind, ID: kv[i], Expires: time.UnixMilli(int64(exp))})
			}
			if k.kind == KindUser && len(batch) > 0 {
				ids := make([]string, len(batch))
				for i, e := range batch {
					ids[i] = e.ID
				}
				vals, err := r.rdb.HMGet(ctx, r.dl+"ubefore", ids...).Result()
				if err != nil {
					return "", unavailable("snapshot", err)
				}
				for i, v := range vals {
					s, _ := v.(string)
					b, _ := strconv.ParseInt(s, 10, 64)
					batch[i].Before = time.UnixMilli(b)
				}
			}
			for _, e := range batch {
				add(e)
			}
			if sc = next; sc == 0 {
				break
			}
		}
	}
	return cursor, nil
}

func isNoSuchKey(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such key")
}

// Resume implements [Feed]. The cursor is lost when the stream restarted
// behind it (Redis lost its data) or events after it may have been removed.
func (r *RedisStore) Resume(ctx context.Context, cursor string) error {
	cur, ok := parseStreamID(cursor)
	if !ok {
		return ErrCursorLost
	}
	info, err := r.rdb.XInfoStream(ctx, r.eventsKey()).Result()
	if isNoSuchKey(err) {
		if cursor == "0-0" {
			return nil
		}
		return ErrCursorLost
	}
	if err != nil {
		return unavailable("resume feed", err)
	}
	last, ok := parseStreamID(info.LastGeneratedID)
	if !ok || last.less(cur) {
		return ErrCursorLost // the stream restarted behind the cursor
	}
	if del, ok := parseStreamID(info.MaxDeletedEntryID); ok && cur.less(del) {
		return ErrCursorLost // XDEL removed events after the cursor (Redis 7+)
	}
	if info.Length == 0 {
		if cur.less(last) {
			return ErrCursorLost // events after the cursor were trimmed
		}
		return nil
	}
	// Trimming does not move max-deleted-entry-id. If the oldest event left
	// is past the cursor, events in between may be gone: resync to be sure.
	// (Events trimmed by this package's MINID are older than EntryTTL, so
	// this only costs a snapshot, after an error, after a long quiet spell.)
	if first, ok := parseStreamID(info.FirstEntry.ID); !ok || cur.less(first) {
		return ErrCursorLost
	}
	return nil
}

// Read implements [Feed] with XREAD BLOCK.
func (r *RedisStore) Read(ctx context.Context, cursor string, wait time.Duration) ([]Entry, string, error) {
	if wait < time.Millisecond {
		wait = time.Millisecond // XREAD BLOCK 0 would wait forever
	}
	streams, err := r.rdb.XRead(ctx, &redis.XReadArgs{
		Streams: []string{r.eventsKey(), cursor},
		Count:   1024,
		Block:   wait,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, cursor, nil
	}
	if err != nil {
		return nil, cursor, unavailable("read feed", err)
	}
	var out []Entry
	next := cursor
	for _, s := range streams {
		for _, m := range s.Messages {
			next = m.ID
			if e, ok := parseEvent(m.Values); ok {
				out = append(out, e)
			}
		}
	}
	return out, next, nil
}

func parseEvent(v map[string]any) (Entry, bool) {
	str := func(k string) string { s, _ := v[k].(string); return s }
	exp, err1 := strconv.ParseInt(str("exp"), 10, 64)
	before, err2 := strconv.ParseInt(str("b"), 10, 64)
	if err1 != nil || err2 != nil {
		return Entry{}, false
	}
	e := Entry{ID: str("id"), Expires: time.UnixMilli(exp)}
	switch str("k") {
	case "s":
		e.Kind = KindSession
	case "j":
		e.Kind = KindToken
	case "u":
		e.Kind, e.Before = KindUser, time.UnixMilli(before)
	default:
		return Entry{}, false
	}
	return e, true
}

type streamID struct{ ms, seq uint64 }

func (a streamID) less(b streamID) bool { return a.ms < b.ms || a.ms == b.ms && a.seq < b.seq }

func parseStreamID(s string) (streamID, bool) {
	ms, seq, ok := strings.Cut(s, "-")
	if !ok {
		return streamID{}, false
	}
	a, err1 := strconv.ParseUint(ms, 10, 64)
	b, err2 := strconv.ParseUint(seq, 10, 64)
	return streamID{a, b}, err1 == nil && err2 == nil
}

// FindSession returns the live family of session sid; found is false if
// there is none. The store keeps no index from session ids to families (it
// would cost a write in another hash slot at every login), so this scans the
// family hashes — on every master of a Cluster — in time proportional to
// the number of families: it is for administrators' tools (sessionctl), not
// for the request path.
func (r *RedisStore) FindSession(ctx context.Context, sid string) (Family, bool, error) {
	if sid == "" {
		return Family{}, false, nil
	}
	pattern := globEscape(r.prefix) + "{*}:fam:*"
	var (
		mu    sync.Mutex
		hits  []string
		match = func(ctx context.Context, c *redis.Client) error {
			var cursor uint64
			for {
				keys, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
				if err != nil {
					return err
				}
				if len(keys) > 0 {
					cmds := make([]*redis.StringCmd, len(keys))
					_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
						for i, k := range keys {
							cmds[i] = p.HGet(ctx, k, "sid")
						}
						return nil
					})
					if err != nil && !errors.Is(err, redis.Nil) {
						return err
					}
					for i, cmd := range cmds {
						if cmd.Val() == sid {
							mu.Lock()
							hits = append(hits, keys[i])
							mu.Unlock()
						}
					}
				}
				if cursor = next; cursor == 0 {
					return nil
				}
			}
		}
		err error
	)
	switch c := r.rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, match)
	case *redis.Client:
		err = match(ctx, c)
	default:
		return Family{}, false, errors.New("revocation: FindSession needs a *redis.Client or *redis.ClusterClient")
	}
	if err != nil {
		return Family{}, false, unavailable("find session", err)
	}
	for _, k := range hits {
		fid := k[strings.LastIndex(k, ":fam:")+len(":fam:"):]
		f, ok, err := r.GetFamily(ctx, fid)
		if err != nil || ok {
			return f, ok, err
		}
	}
	return Family{}, false, nil
}

// globEscape escapes the characters that are special in a Redis MATCH glob.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}
