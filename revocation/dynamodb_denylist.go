package revocation

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The denylist on DynamoDB: one item per entry, in 16 partitions. See the
// top of dynamodb.go for the order of the writes.

func dlKey(kind byte, id string) map[string]types.AttributeValue {
	sk := string(kind) + "#" + id
	h := fnv.New32a()
	h.Write([]byte(sk))
	return key(fmt.Sprintf("dl#%02d", h.Sum32()%dynShards), sk)
}

// RevokeSession implements [Store].
func (d *dynamoStore) RevokeSession(ctx context.Context, sid string) error {
	return d.revoke(ctx, 's', sid, 0)
}

// RevokeToken implements [Store].
func (d *dynamoStore) RevokeToken(ctx context.Context, jti string) error {
	return d.revoke(ctx, 'j', jti, 0)
}

// RevokeUser implements [Store].
func (d *dynamoStore) RevokeUser(ctx context.Context, userID string, before time.Time) error {
	return d.revoke(ctx, 'u', userID, before.UnixMilli())
}

// revoke raises the denylist entry, then appends its feed entry (see the
// top of this file for why in this order).
func (d *dynamoStore) revoke(ctx context.Context, kind byte, id string, before int64) error {
	now := d.nowMs()
	exp := now + d.c.entryTTL.Milliseconds()
	in := &dynamodb.UpdateItemInput{
		TableName:                aws.String(d.table),
		Key:                      dlKey(kind, id),
		ExpressionAttributeNames: map[string]string{"#t": dynTTL},
	}
	if kind == 'u' {
		exp = before + d.c.entryTTL.Milliseconds()
		if exp <= now {
			return nil // every token issued before it has expired already
		}
		in.UpdateExpression = aws.String("SET b = :b, exp = :exp, #t = :ttl")
		in.ConditionExpression = aws.String("attribute_not_exists(b) OR b < :b")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{
			":b": avN(before), ":exp": avN(exp), ":ttl": ttlAt(exp)}
	} else {
		in.UpdateExpression = aws.String("SET exp = :exp, #t = :ttl")
		in.ConditionExpression = aws.String("attribute_not_exists(exp) OR exp < :exp")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":exp": avN(exp), ":ttl": ttlAt(exp)}
	}
	// A failed condition means the stored entry is already as high; the
	// feed entry is written all the same (it may be the retry of a call
	// that crashed before its feed entry).
	if _, err := d.db.UpdateItem(ctx, in); err != nil && !isConditionFailed(err) {
		return unavailable("revoke", err)
	}
	return d.appendFeed(ctx, kind, id, exp, before)
}

// IsRevoked implements [Store] with one strongly consistent BatchGetItem.
func (d *dynamoStore) IsRevoked(ctx context.Context, s Subject) (bool, error) {
	var keys []map[string]types.AttributeValue
	if s.SID != "" {
		keys = append(keys, dlKey('s', s.SID))
	}
	if s.JTI != "" {
		keys = append(keys, dlKey('j', s.JTI))
	}
	if s.UserID != "" {
		keys = append(keys, dlKey('u', s.UserID))
	}
	if len(keys) == 0 {
		return false, nil
	}
	items, err := d.batchGet(ctx, keys)
	if err != nil {
		return false, unavailable("check denylist", err)
	}
	now := d.nowMs()
	for _, it := range items {
		if it.n("exp") <= now {
			continue
		}
		switch sk := it.s(dynSK); {
		case s.SID != "" && sk == "s#"+s.SID, s.JTI != "" && sk == "j#"+s.JTI:
			return true, nil
		case s.UserID != "" && sk == "u#"+s.UserID && s.IssuedAt.UnixMilli() < it.n("b"):
			return true, nil
		}
	}
	return false, nil
}

// batchGet reads up to 100 items, strongly consistent, retrying the keys
// DynamoDB leaves unprocessed (throttling).
func (d *dynamoStore) batchGet(ctx context.Context, keys []map[string]types.AttributeValue) ([]item, error) {
	var out []item
	for attempt := 0; len(keys) > 0; attempt++ {
		if attempt == 10 {
			return nil, errors.New("unprocessed keys after 10 attempts")
		}
		res, err := d.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
			RequestItems: map[string]types.KeysAndAttributes{
				d.table: {Keys: keys, ConsistentRead: aws.Bool(true)},
			},
		})
		if err != nil {
			return nil, err
		}
		for _, it := range res.Responses[d.table] {
			out = append(out, it)
		}
		keys = res.UnprocessedKeys[d.table].Keys
		if len(keys) > 0 {
			if err := sleepCtx(ctx, time.Duration(10<<attempt)*time.Millisecond); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
