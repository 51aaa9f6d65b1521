package revocation

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// A user's index on DynamoDB, and the operations that read it or end
// families: listing, ending one or all, finding a session. See the top of
// dynamodb.go for the order of the writes.

// indexEntry is one entry of a user's index.
type indexEntry struct {
	fid     string
	created int64
	abs     int64
}

func (d *dynamoStore) index(ctx context.Context, userID string) ([]indexEntry, error) {
	p := dynamodb.NewQueryPaginator(d.db, &dynamodb.QueryInput{
		TableName:                 aws.String(d.table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS("user#" + userID)},
		ConsistentRead:            aws.Bool(true),
	})
	var out []indexEntry
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, raw := range page.Items {
			it := item(raw)
			out = append(out, indexEntry{fid: it.s(dynSK), created: it.n("ct"), abs: it.n("abs")})
		}
	}
	return out, nil
}

// ListFamilies implements [Store]: one query of the index, one batch read of
// the families (100 a request), and a delete for each stale index entry.
func (d *dynamoStore) ListFamilies(ctx context.Context, userID string) ([]Family, error) {
	idx, err := d.index(ctx, userID)
	if err != nil {
		return nil, unavailable("list families", err)
	}
	fams := map[string]famState{}
	for start := 0; start < len(idx); start += 100 {
		var keys []map[string]types.AttributeValue
		for _, e := range idx[start:min(start+100, len(idx))] {
			if validFamilyID(e.fid) {
				keys = append(keys, famKey(e.fid))
			}
		}
		if len(keys) == 0 {
			continue
		}
		items, err := d.batchGet(ctx, keys)
		if err != nil {
			return nil, unavailable("list families", err)
		}
		for _, it := range items {
			fid := it.s(dynPK)[len("fam#"):]
			if st, ok := parseFam(fid, it); ok {
				fams[fid] = st
			}
		}
	}
	now := d.nowMs()
	var out []Family
	for _, e := range idx {
		st, ok := fams[e.fid]
		switch {
		case ok && now < expiresMs(&st.f):
			out = append(out, st.f)
			continue
		case !ok && validFamilyID(e.fid) && now-e.created < indexGrace.Milliseconds() && now < e.abs:
			continue // its CreateFamily may still be writing the family
		}
		// A family id is never reused and an ended or expired family never
		// comes back, so pruning needs no condition.
		if _, err := d.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: aws.String(d.table), Key: idxKey(userID, e.fid),
		}); err != nil {
			return nil, unavailable("prune family index", err)
		}
	}
	sortFamilies(out)
	return out, nil
}

// RevokeFamily implements [Store].
func (d *dynamoStore) RevokeFamily(ctx context.Context, familyID string) error {
	if !validFamilyID(familyID) {
		return nil
	}
	st, ok, err := d.getFam(ctx, familyID)
	if err != nil {
		return unavailable("revoke family", err)
	}
	if !ok {
		return nil
	}
	if err := d.RevokeSession(ctx, st.f.SessionID); err != nil {
		return err
	}
	if _, err := d.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(d.table), Key: famKey(familyID),
	}); err != nil {
		return unavailable("revoke family", err)
	}
	// Then its index entry, so that a logged-out family's id does not stay
	// in the user's index until its absolute expiry. A crash before this
	// leaves a stale entry, which ListFamilies prunes (the family is gone).
	if _, err := d.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(d.table), Key: idxKey(st.f.UserID, familyID),
	}); err != nil {
		return unavailable("revoke family", err)
	}
	return nil
}

// RevokeAllFamilies implements [Store]: for each family in the user's
// index, its session id is denylisted and a tombstone replaces the family;
// then the index entries go, then the user's revoked-before is raised.
func (d *dynamoStore) RevokeAllFamilies(ctx context.Context, userID string) error {
	idx, err := d.index(ctx, userID)
	if err != nil {
		return unavailable("revoke all families", err)
	}
	now := d.nowMs()
	for _, e := range idx {
		if !validFamilyID(e.fid) {
			continue
		}
		// The session id is the family id without its tag, so the
		// family's item need not be read (nor exist yet).
		if err := d.RevokeSession(ctx, e.fid[tagLen:]); err != nil {
			return err
		}
		tomb := famKey(e.fid)
		tomb["gone"], tomb[dynTTL] = avN(now), ttlAt(max(e.abs, now))
		if _, err := d.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(d.table), Item: tomb}); err != nil {
			return unavailable("revoke all families", err)
		}
	}
	for _, e := range idx {
		if _, err := d.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: aws.String(d.table), Key: idxKey(userID, e.fid),
		}); err != nil {
			return unavailable("revoke all families", err)
		}
	}
	return d.RevokeUser(ctx, userID, d.c.now())
}

// FindSession implements [Store] with a Scan of the whole table, filtered on
// the session id: for administrators' tools, not the request path (it reads
// every item, and pays for every item it reads).
func (d *dynamoStore) FindSession(ctx context.Context, sid string) (Family, bool, error) {
	if sid == "" {
		return Family{}, false, nil
	}
	p := dynamodb.NewScanPaginator(d.db, &dynamodb.ScanInput{
		TableName:        aws.String(d.table),
		FilterExpression: aws.String("begins_with(pk, :fam) AND sid = :sid"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":fam": avS("fam#"), ":sid": avS(sid),
		},
		ConsistentRead: aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return Family{}, false, unavailable("find session", err)
		}
		for _, it := range page.Items {
			fid := item(it).s(dynPK)[len("fam#"):]
			if st, ok := parseFam(fid, it); ok && d.nowMs() < expiresMs(&st.f) {
				return st.f, true, nil
			}
		}
	}
	return Family{}, false, nil
}
