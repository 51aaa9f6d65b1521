package revocation

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

const snapshotBatch = 2048

// Snapshot implements [Feed]. It reads the stream position first, then scans
// the denylist in batches (never blocking Redis for long); entries written
// during the scan come again from the stream.
func (r *redisStore) Snapshot(ctx context.Context, add func(Entry)) (string, error) {
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
				users := batch[:0]
				for i, v := range vals {
					// No revoked-before (the data set changed between
					// the two reads): no revocation to report.
					s, _ := v.(string)
					b, err := strconv.ParseInt(s, 10, 64)
					if err != nil {
						continue
					}
					batch[i].Before = time.UnixMilli(b)
					users = append(users, batch[i])
				}
				batch = users
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
func (r *redisStore) Resume(ctx context.Context, cursor string) error {
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
func (r *redisStore) Read(ctx context.Context, cursor string, wait time.Duration) ([]Entry, string, error) {
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
