package keys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// RedisStoreOptions configures a Redis store. A nil *RedisStoreOptions means
// the defaults.
type RedisStoreOptions struct {
	// Key is the Redis key holding the keyset: a hash with the fields
	// "version" and "blob" (the sealed keyset). Zero means "sesame:keyset".
	Key string
	// Channel is the pub/sub channel on which every change is announced (the
	// message is the new version). Zero means Key + ":changed".
	Channel string
}

// NewRedisStore returns a Store keeping the keyset sealed under mk in Redis,
// in one hash (so one Redis Cluster slot) changed only by a compare-and-swap
// script, which also publishes a change notice. The store implements
// [Watcher] with a pub/sub subscription; a [Holder] also polls, so a node
// that missed a notice (disconnected at the time) still catches up.
//
// client may be a single node, Sentinel or Cluster client.
func NewRedisStore(client redis.UniversalClient, mk *MasterKey, opts *RedisStoreOptions) Store {
	s := &redisStore{client: client, mk: mk, key: "sesame:keyset"}
	if opts != nil && opts.Key != "" {
		s.key = opts.Key
	}
	s.channel = s.key + ":changed"
	if opts != nil && opts.Channel != "" {
		s.channel = opts.Channel
	}
	return s
}

type redisStore struct {
	client  redis.UniversalClient
	mk      *MasterKey
	key     string
	channel string
}

var (
	_ Store   = (*redisStore)(nil)
	_ Watcher = (*redisStore)(nil)
)

func (r *redisStore) String() string { return "redis key " + strconv.Quote(r.key) }

func (r *redisStore) Load(ctx context.Context) (*Keyset, error) {
	ks, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	if ks == nil {
		return nil, fmt.Errorf("%w at %s", ErrNotFound, r)
	}
	return ks, nil
}

// load returns nil, nil when nothing is stored. It refuses, with
// [ErrRollback], a keyset that goes back from the watermark kept in the same
// hash (see casScript).
func (r *redisStore) load(ctx context.Context) (*Keyset, error) {
	ks, w, err := r.loadMarked(ctx)
	if err == nil && ks != nil {
		if err = w.check(ks); err != nil {
			err = fmt.Errorf("%w (the hash %s remembers version %d and %d revoked keys): the keyset fields were restored from an older copy; write the newest keyset back, or revoke the keys again in it and HDEL the hwm field", err, r, w.Version, len(w.Revoked))
		}
	}
	if err != nil {
		return nil, err
	}
	return ks, nil
}

// loadMarked reads the keyset and the watermark fields, unchecked.
func (r *redisStore) loadMarked(ctx context.Context) (*Keyset, watermark, error) {
	var w watermark
	vals, err := r.client.HMGet(ctx, r.key, "version", "blob", "hwm").Result()
	if err != nil {
		return nil, w, fmt.Errorf("keys: reading keyset from redis: %w", err)
	}
	if hwm, ok := vals[2].(string); ok {
		if json.Unmarshal([]byte(hwm), &w) != nil || !slices.IsSorted(w.Revoked) {
			return nil, w, fmt.Errorf("keys: the hwm field of %s is corrupted; HDEL it", r)
		}
	}
	ks, err := r.decode(vals)
	return ks, w, err
}

// decode opens the version and blob fields; nil, nil when both are absent.
func (r *redisStore) decode(vals []any) (*Keyset, error) {
	if vals[0] == nil && vals[1] == nil {
		return nil, nil
	}
	vs, ok1 := vals[0].(string)
	blob, ok2 := vals[1].(string)
	if !ok1 || !ok2 {
		return nil, ErrCannotOpen
	}
	ks, err := open(r.mk, []byte(blob))
	if err != nil {
		return nil, err
	}
	// The blob's version is authenticated; the field only serves the CAS
	// script. They must agree.
	if strconv.FormatUint(ks.version, 10) != vs {
		return nil, ErrCannotOpen
	}
	return ks, nil
}

// casScript replaces the keyset and its watermark (ARGV[5]) if the stored
// version is ARGV[1] ("0" for none), then announces the new version. It
// returns "ok", or the stored version on conflict. One key, so it is safe on
// Redis Cluster.
//
// The watermark ("hwm": the highest version written and every key id ever
// revoked, as JSON) lives in the same hash, so that writing only the version
// and blob fields back from a backup is refused by every later Load. It
// cannot help against restoring the whole hash (RESTORE, an RDB snapshot):
// then the running nodes' own memory refuses the older keyset; see the
// package documentation.
var casScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'version') or '0'
if v ~= ARGV[1] then return v end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'blob', ARGV[3], 'hwm', ARGV[5])
redis.call('PUBLISH', ARGV[4], ARGV[2])
return 'ok'
`)

func (r *redisStore) CompareAndSwap(ctx context.Context, old uint64, next *Keyset) error {
	if err := checkNext(old, next); err != nil {
		return err
	}
	// Open the stored keyset first: a wrong master key must fail before
	// anything is written (the script cannot check it). The script's
	// version check makes the watermark read here the one it replaces.
	cur, w, err := r.loadMarked(ctx)
	if err != nil {
		return err
	}
	if cur != nil && cur.version != old || cur == nil && old != 0 {
		return fmt.Errorf("%w: stored version is not %d", ErrConflict, old)
	}
	for _, ks := range []*Keyset{cur, next} {
		if ks == nil {
			continue
		}
		if err := w.check(ks); err != nil {
			return fmt.Errorf("%w (the hash %s remembers version %d and %d revoked keys)", err, r, w.Version, len(w.Revoked))
		}
	}
	if cur != nil {
		w.raise(cur)
	}
	w.raise(next)
	hwm, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	blob, err := seal(r.mk, next)
	if err != nil {
		return err
	}
	res, err := casScript.Run(ctx, r.client, []string{r.key},
		strconv.FormatUint(old, 10), strconv.FormatUint(next.version, 10), blob, r.channel, hwm).Text()
	if err != nil {
		return fmt.Errorf("keys: writing keyset to redis: %w", err)
	}
	if res != "ok" {
		return fmt.Errorf("%w: stored version %s, expected %d", ErrConflict, res, old)
	}
	return nil
}

func (r *redisStore) Watch(ctx context.Context, notify func()) error {
	ps := r.client.Subscribe(ctx, r.channel)
	defer ps.Close()
	// go-redis does not interrupt a blocked read when ctx ends; closing the
	// subscription does.
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer stop()
	if _, err := ps.Receive(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("keys: subscribing to %q: %w", r.channel, err)
	}
	// A change between the caller's last load and the subscription would
	// otherwise go unnoticed until the next poll.
	notify()
	for {
		_, err := ps.ReceiveMessage(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if errors.Is(err, redis.ErrClosed) {
				return nil
			}
			return fmt.Errorf("keys: keyset notices: %w", err)
		}
		notify()
	}
}
