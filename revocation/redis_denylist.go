package revocation

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// EntryTTL returns how long a denylist entry lives, so that a caller can
// check its access tokens do not outlive it (auth.New does).
func (r *redisStore) EntryTTL() time.Duration { return r.c.entryTTL }

// RevokeSession implements [Store].
func (r *redisStore) RevokeSession(ctx context.Context, sid string) error {
	return r.revoke(ctx, "s", r.dl+"sid", sid, 0)
}

// RevokeToken implements [Store].
func (r *redisStore) RevokeToken(ctx context.Context, jti string) error {
	return r.revoke(ctx, "j", r.dl+"jti", jti, 0)
}

// RevokeUser implements [Store].
func (r *redisStore) RevokeUser(ctx context.Context, userID string, before time.Time) error {
	return r.revoke(ctx, "u", r.dl+"user", userID, before.UnixMilli())
}

func (r *redisStore) revoke(ctx context.Context, kind, key, id string, before int64) error {
	ttl := r.c.entryTTL.Milliseconds()
	err := r.run(ctx, revokeScript, []string{key, r.eventsKey(), r.dl + "ubefore"},
		kind, id, ttl, r.nowMs(), ttl, before).Err()
	if err != nil {
		return unavailable("revoke", err)
	}
	return nil
}

// IsRevoked implements [Store].
func (r *redisStore) IsRevoked(ctx context.Context, s Subject) (bool, error) {
	var sid, jti, uexp *redis.FloatCmd
	var ubefore *redis.StringCmd
	cmds, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
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
	if err := pipelineErr(cmds, err); err != nil {
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
