package revocation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The feed: a counter item and one item per sequence number in the
// partition "feed", sorted by the number written as 20 digits. See the top
// of dynamodb.go for how holes are handled.
//
// The counter also holds the table's epoch, a random value set by the first
// write, and every feed entry carries it. A cursor is "EPOCH:SEQ", so a
// replica whose table was deleted and created again (or restored from a
// backup) finds entries of another epoch and resyncs, even where the new
// numbers have caught up with its cursor.

// The replica's calls are bounded even when the client has no HTTP timeout
// (the SDK's default client has none), so that a request lost in a network
// partition cannot hold the replica forever: it fails, and the replica
// retries.
const (
	feedCallTimeout = 10 * time.Second
	snapshotTimeout = 5 * time.Minute
)

func seqSK(n uint64) string { return fmt.Sprintf("%020d", n) }

type feedCursor struct {
	ep  string // "" when the feed was empty at the snapshot
	seq uint64
}

func (c feedCursor) String() string { return c.ep + ":" + strconv.FormatUint(c.seq, 10) }

func parseCursor(s string) (feedCursor, bool) {
	ep, seq, ok := strings.Cut(s, ":")
	n, err := strconv.ParseUint(seq, 10, 64)
	if !ok || err != nil || (ep == "" && n != 0) {
		return feedCursor{}, false
	}
	return feedCursor{ep, n}, true
}

func newEpoch() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// appendFeed numbers an entry and writes it. If a reader sealed the number
// before the put arrived, it takes another.
func (d *dynamoStore) appendFeed(ctx context.Context, kind byte, id string, exp, before int64) error {
	for range dynCASTries {
		c, err := d.nextSeq(ctx)
		if err != nil {
			return unavailable("append feed", err)
		}
		sealed, err := d.putFeed(ctx, c, kind, id, exp, before)
		if err != nil {
			return unavailable("append feed", err)
		}
		if !sealed {
			return nil
		}
	}
	return unavailable("append feed", errors.New("every sequence number taken was sealed"))
}

// putFeed writes feed entry seq unless something (a seal) is there already.
func (d *dynamoStore) putFeed(ctx context.Context, c feedCursor, kind byte, id string, exp, before int64) (sealed bool, err error) {
	now := d.nowMs()
	_, err = d.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(d.table),
		Item: map[string]types.AttributeValue{
			dynPK: avS(dynFeedPK), dynSK: avS(seqSK(c.seq)), "ep": avS(c.ep),
			"k": avS(string(kind)), "id": avS(id), "exp": avN(exp), "b": avN(before),
			"wt": avN(now), dynTTL: ttlAt(now + d.c.entryTTL.Milliseconds()),
		},
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if isConditionFailed(err) {
		return true, nil
	}
	return false, err
}

// nextSeq takes the next number, setting the epoch on the first call.
func (d *dynamoStore) nextSeq(ctx context.Context) (feedCursor, error) {
	res, err := d.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(d.table),
		Key:                       key(dynSeqPK, dynNoSK),
		UpdateExpression:          aws.String("ADD n :one SET ep = if_not_exists(ep, :ep)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": avN(1), ":ep": avS(newEpoch())},
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err != nil {
		return feedCursor{}, err
	}
	it := item(res.Attributes)
	if it.n("n") <= 0 || it.s("ep") == "" {
		return feedCursor{}, errors.New("malformed feed counter")
	}
	return feedCursor{it.s("ep"), uint64(it.n("n"))}, nil
}

// lastSeq returns the counter: the epoch and the highest number handed out
// so far (0 and no epoch before the first).
func (d *dynamoStore) lastSeq(ctx context.Context) (feedCursor, error) {
	res, err := d.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(d.table), Key: key(dynSeqPK, dynNoSK), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return feedCursor{}, err
	}
	it := item(res.Item)
	return feedCursor{it.s("ep"), uint64(max(it.n("n"), 0))}, nil
}

// Snapshot implements [Feed]: it reads the counter, then every denylist
// partition. An entry numbered at or below the counter wrote its denylist
// item before it took its number, so the scan sees it; the ones after come
// from the feed.
func (d *dynamoStore) Snapshot(ctx context.Context, add func(Entry)) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, snapshotTimeout)
	defer cancel()
	c, err := d.lastSeq(ctx)
	if err != nil {
		return "", unavailable("snapshot", err)
	}
	now := d.nowMs()
	for shard := range dynShards {
		p := dynamodb.NewQueryPaginator(d.db, &dynamodb.QueryInput{
			TableName:                 aws.String(d.table),
			KeyConditionExpression:    aws.String("pk = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(fmt.Sprintf("dl#%02d", shard))},
			ConsistentRead:            aws.Bool(true),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return "", unavailable("snapshot", err)
			}
			for _, raw := range page.Items {
				it := item(raw)
				exp := it.n("exp")
				if exp <= now {
					continue
				}
				sk := it.s(dynSK)
				if len(sk) < 2 {
					continue
				}
				e := Entry{ID: sk[2:], Expires: time.UnixMilli(exp)}
				switch sk[0] {
				case 's':
					e.Kind = KindSession
				case 'j':
					e.Kind = KindToken
				case 'u':
					e.Kind, e.Before = KindUser, time.UnixMilli(it.n("b"))
				default:
					continue
				}
				add(e)
			}
		}
	}
	return c.String(), nil
}

// Resume implements [Feed]. The cursor is lost when the counter is of
// another epoch or behind it (the table was recreated or restored), or when
// its own entry is gone or was written more than EntryTTL ago (later ones
// may have been deleted by TTL).
func (d *dynamoStore) Resume(ctx context.Context, cursor string) error {
	ctx, cancel := context.WithTimeout(ctx, feedCallTimeout)
	defer cancel()
	cur, ok := parseCursor(cursor)
	if !ok {
		return ErrCursorLost
	}
	last, err := d.lastSeq(ctx)
	if err != nil {
		return unavailable("resume feed", err)
	}
	if last.seq < cur.seq || (cur.ep != "" && last.ep != cur.ep) {
		return ErrCursorLost
	}
	if cur.seq == 0 {
		return nil
	}
	res, err := d.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(d.table), Key: key(dynFeedPK, seqSK(cur.seq)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return unavailable("resume feed", err)
	}
	it := item(res.Item)
	if res.Item == nil || it.s("ep") != cur.ep || it.n("wt") <= d.nowMs()-d.c.entryTTL.Milliseconds() {
		return ErrCursorLost
	}
	return nil
}

// Read implements [Feed] by polling every PollInterval until entries come
// or wait has passed.
func (d *dynamoStore) Read(ctx context.Context, cursor string, wait time.Duration) ([]Entry, string, error) {
	cur, ok := parseCursor(cursor)
	if !ok {
		return nil, cursor, ErrCursorLost
	}
	ctx, cancel := context.WithTimeout(ctx, wait+feedCallTimeout)
	defer cancel()
	deadline := time.Now().Add(wait)
	for {
		entries, next, news, err := d.readOnce(ctx, cur)
		if err != nil {
			return nil, cursor, err
		}
		// Entries behind a hole that was already open come again on every
		// read: deliver them at once only the first time, then wait.
		left := time.Until(deadline)
		if next != cur || news || left <= 0 {
			return entries, next.String(), nil
		}
		if err := sleepCtx(ctx, min(left, d.poll)); err != nil {
			return nil, cursor, unavailable("read feed", err)
		}
	}
}

// readOnce reads the entries after cur. next is the highest number up to
// which every entry has been read; entries after a hole are returned too.
// news is false when nothing was returned, or only entries behind a hole
// that an earlier read saw already.
func (d *dynamoStore) readOnce(ctx context.Context, cur feedCursor) (entries []Entry, next feedCursor, news bool, err error) {
	for {
		entries, next, news, retry, err := d.readFeed(ctx, cur)
		if !retry {
			return entries, next, news, err
		}
		// A hole was sealed (or found filled meanwhile): read again.
	}
}

func (d *dynamoStore) readFeed(ctx context.Context, cur feedCursor) (entries []Entry, next feedCursor, news, retry bool, err error) {
	// The cursor's own entry is read too, to know it is still there.
	p := dynamodb.NewQueryPaginator(d.db, &dynamodb.QueryInput{
		TableName:              aws.String(d.table),
		KeyConditionExpression: aws.String("pk = :pk AND sk >= :from"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(dynFeedPK), ":from": avS(seqSK(cur.seq)),
		},
		ConsistentRead: aws.Bool(true),
		Limit:          aws.Int32(maxReadBatch + 1),
	})
	next = cur
	contiguous := true
	first := true
	prevWritten := int64(-1) // cursor 0 has no entry before it
	now := d.nowMs()
	// Read until the end of the feed or a full batch: a batch shorter than
	// MaxReadBatch tells the replica it is current.
	for p.HasMorePages() && len(entries) < maxReadBatch {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, cur, false, false, unavailable("read feed", err)
		}
		items := page.Items
		if first && cur.seq > 0 {
			if len(items) == 0 || item(items[0]).s(dynSK) != seqSK(cur.seq) || item(items[0]).s("ep") != cur.ep {
				return nil, cur, false, false, ErrCursorLost // deleted by TTL, or the table was recreated
			}
			prevWritten = item(items[0]).n("wt")
			items = items[1:]
		}
		first = false
		for _, raw := range items {
			if len(entries) == maxReadBatch {
				break
			}
			it := item(raw)
			seq, perr := strconv.ParseUint(it.s(dynSK), 10, 64)
			if perr != nil {
				continue
			}
			switch ep := it.s("ep"); {
			case next.ep == "":
				next.ep = ep // the first entry of a feed that was empty at the snapshot
			case ep != next.ep:
				return nil, cur, false, false, ErrCursorLost // the table was recreated
			}
			if contiguous && seq == next.seq+1 {
				next.seq = seq
				prevWritten = it.n("wt")
			} else {
				contiguous = false
			}
			if e, ok := feedEntry(it); ok && e.Expires.UnixMilli() > now {
				entries = append(entries, e)
			}
		}
	}
	if first && cur.seq > 0 {
		return nil, cur, false, false, ErrCursorLost
	}
	if contiguous {
		d.forgetHoles(next.seq)
		return entries, next, len(entries) > 0, false, nil
	}
	// A hole at next+1, with entries after it.
	hole := next.seq + 1
	d.mu.Lock()
	since, seen := d.holes[hole]
	if !seen {
		d.holes[hole] = d.c.now()
	}
	d.mu.Unlock()
	if !seen || d.c.now().Sub(since) < holeWait {
		return entries, next, !seen && len(entries) > 0, false, nil
	}
	if prevWritten >= 0 && prevWritten <= now-d.c.entryTTL.Milliseconds() {
		// The entry before the hole is old enough that the hole may be an
		// entry TTL deleted, not a crashed writer: resync rather than seal.
		return nil, cur, false, false, ErrCursorLost
	}
	_, err = d.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(d.table),
		Item: map[string]types.AttributeValue{
			dynPK: avS(dynFeedPK), dynSK: avS(seqSK(hole)), "ep": avS(next.ep), "k": avS("-"),
			"wt": avN(now), dynTTL: ttlAt(now + d.c.entryTTL.Milliseconds()),
		},
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if err != nil && !isConditionFailed(err) {
		return nil, cur, false, false, unavailable("seal feed hole", err)
	}
	return nil, cur, false, true, nil
}

func (d *dynamoStore) forgetHoles(upTo uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for seq := range d.holes {
		if seq <= upTo {
			delete(d.holes, seq)
		}
	}
}

func feedEntry(it item) (Entry, bool) {
	e := Entry{ID: it.s("id"), Expires: time.UnixMilli(it.n("exp"))}
	switch it.s("k") {
	case "s":
		e.Kind = KindSession
	case "j":
		e.Kind = KindToken
	case "u":
		e.Kind, e.Before = KindUser, time.UnixMilli(it.n("b"))
	default: // "-": a sealed hole
		return Entry{}, false
	}
	return e, true
}
