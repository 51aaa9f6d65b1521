package revocation

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// FindSession returns the live family of session sid; found is false if
// there is none. The store keeps no index from session ids to families (it
// would cost a write in another hash slot at every login), so this scans the
// family hashes — on every master of a Cluster — in time proportional to
// the number of families: it is for administrators' tools (sessionctl), not
// for the request path.
func (r *redisStore) FindSession(ctx context.Context, sid string) (Family, bool, error) {
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
					all, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
						for i, k := range keys {
							cmds[i] = p.HGet(ctx, k, "sid")
						}
						return nil
					})
					if err := pipelineErr(all, err); err != nil {
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
