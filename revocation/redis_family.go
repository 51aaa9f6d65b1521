package revocation

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// CreateFamily implements [Store].
func (r *redisStore) CreateFamily(ctx context.Context, nf NewFamily) (Family, RefreshToken, error) {
	now := r.c.now()
	if err := validNewFamily(nf, now); err != nil {
		return Family{}, RefreshToken{}, err
	}
	nowMs := now.UnixMilli()
	fid, _ := DeriveFamilyID(nf.UserID, nf.SessionID) // validNewFamily checked both
	secret := newSecret()
	h := hashSecret(secret)
	abs := nf.AbsoluteExpiry.UnixMilli()
	idle := nf.IdleTimeout.Milliseconds()
	created, err := r.run(ctx, createScript, []string{r.famKey(fid), r.idxKey(nf.UserID)},
		fid, nf.SessionID, nf.UserID, nf.Data, nowMs, abs, idle, nf.UserAgent, nf.IP,
		h[:], keyMargin.Milliseconds()).Int64()
	if err != nil {
		return Family{}, RefreshToken{}, unavailable("create family", err)
	}
	if created != 1 {
		return Family{}, RefreshToken{}, errFamilyExists
	}
	f := Family{
		ID: fid, SessionID: nf.SessionID, UserID: nf.UserID,
		Data:    append([]byte{}, nf.Data...),
		Created: time.UnixMilli(nowMs), LastUsed: time.UnixMilli(nowMs),
		AbsoluteExpiry: time.UnixMilli(abs), IdleTimeout: time.Duration(idle) * time.Millisecond,
		UserAgent: nf.UserAgent, IP: nf.IP,
	}
	return f, formatToken(fid, secret), nil
}

// Refresh implements [Store].
func (r *redisStore) Refresh(ctx context.Context, token string) (RefreshResult, error) {
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
		limit := lookbackFor(ctx, gen, r.c.lookback)
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
func (r *redisStore) reused(ctx context.Context, fid, sid, uid string) error {
	if err := r.RevokeSession(ctx, sid); err != nil {
		return err
	}
	if err := r.endFamily(ctx, fid, uid); err != nil {
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
		ID: fid, SessionID: m["sid"], UserID: m["uid"], Data: []byte(m["pl"]),
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

// UpdateData implements [Store].
func (r *redisStore) UpdateData(ctx context.Context, familyID string, payload []byte) error {
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
func (r *redisStore) GetFamily(ctx context.Context, familyID string) (Family, bool, error) {
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
func (r *redisStore) live(fid string, m map[string]string) (Family, bool) {
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
func (r *redisStore) ListFamilies(ctx context.Context, userID string) ([]Family, error) {
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
func (r *redisStore) RevokeFamily(ctx context.Context, familyID string) error {
	if !validFamilyID(familyID) {
		return nil
	}
	v, err := r.rdb.HMGet(ctx, r.famKey(familyID), "sid", "uid").Result()
	if err != nil {
		return unavailable("revoke family", err)
	}
	sid, _ := v[0].(string)
	uid, _ := v[1].(string)
	if sid == "" {
		return nil // no such family (ended, expired or never created)
	}
	if err := r.RevokeSession(ctx, sid); err != nil {
		return err
	}
	if err := r.endFamily(ctx, familyID, uid); err != nil {
		return unavailable("revoke family", err)
	}
	return nil
}

// endFamily deletes a family whose session is denylisted already, and its
// entry in its user's index. Both share the user's hash tag (one slot), so
// they go in one transaction: an ended family's id does not stay in the
// index until its absolute expiry. A failure before this point leaves the
// family denylisted and still indexed; a retry, or ListFamilies' pruning,
// finishes the job.
func (r *redisStore) endFamily(ctx context.Context, fid, uid string) error {
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, r.famKey(fid))
		if uid != "" {
			p.ZRem(ctx, r.idxKey(uid), fid)
		}
		return nil
	})
	return err
}

// RevokeAllFamilies implements [Store]. Each family's session id goes on
// the denylist first (so a token minted for it in the same instant as this
// call is refused too, whatever the clocks say), then the families and the
// index go, then the user's revoked-before is written. A failure half-way
// leaves at worst more revoked than deleted, and a retry finishes the job.
func (r *redisStore) RevokeAllFamilies(ctx context.Context, userID string) error {
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
		cmds, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, fid := range valid {
				sids[i] = p.HGet(ctx, r.famKey(fid), "sid")
			}
			return nil
		})
		if err := pipelineErr(cmds, err); err != nil {
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
