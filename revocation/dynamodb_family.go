package revocation

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Families and the user index. See the top of dynamodb.go for the order of
// the writes and why each is safe.

// indexGrace is how long an index entry without its family is left alone:
// its CreateFamily may still be between its two writes.
const indexGrace = time.Minute

func famKey(fid string) map[string]types.AttributeValue { return key("fam#"+fid, dynNoSK) }

func idxKey(userID, fid string) map[string]types.AttributeValue { return key("user#"+userID, fid) }

// famItem is the stored form of a family state.
func famItem(fid string, st *famState) map[string]types.AttributeValue {
	f := &st.f
	fexp := expiresMs(f)
	m := map[string]types.AttributeValue{
		dynPK: avS("fam#" + fid), dynSK: avS(dynNoSK),
		"sid": avS(f.SessionID), "uid": avS(f.UserID),
		"ct": avN(f.Created.UnixMilli()), "lu": avN(f.LastUsed.UnixMilli()),
		"abs": avN(f.AbsoluteExpiry.UnixMilli()), "idle": avN(f.IdleTimeout.Milliseconds()),
		"cur": avB(st.cur[:]), "gen": avN(int64(f.Generation)),
		"fexp": avN(fexp), dynTTL: ttlAt(fexp),
	}
	// Empty strings and binaries are left out: older DynamoDB versions and
	// emulators refuse them.
	if len(f.Data) > 0 {
		m["pl"] = avB(f.Data)
	}
	if f.UserAgent != "" {
		m["ua"] = avS(f.UserAgent)
	}
	if f.IP != "" {
		m["ip"] = avS(f.IP)
	}
	return m
}

// parseFam reads a family item; ok is false for a missing item or a
// tombstone (no cur).
func parseFam(fid string, raw map[string]types.AttributeValue) (st famState, ok bool) {
	it := item(raw)
	cur := it.b("cur")
	if len(cur) != 32 {
		return famState{}, false
	}
	copy(st.cur[:], cur)
	if p := it.b("prev"); len(p) == 32 {
		copy(st.prev[:], p)
		st.hasPrev = true
	}
	if p := it.b("p2"); len(p) == 32 {
		copy(st.p2[:], p)
		st.hasP2 = true
		st.p2Deadline = it.n("p2dl")
	}
	st.f = Family{
		ID: fid, SessionID: it.s("sid"), UserID: it.s("uid"), Data: it.b("pl"),
		Created: time.UnixMilli(it.n("ct")), LastUsed: time.UnixMilli(it.n("lu")),
		AbsoluteExpiry: time.UnixMilli(it.n("abs")),
		IdleTimeout:    time.Duration(it.n("idle")) * time.Millisecond,
		UserAgent:      it.s("ua"), IP: it.s("ip"), Generation: uint64(it.n("gen")),
	}
	if st.f.Data == nil {
		st.f.Data = []byte{}
	}
	return st, true
}

func (d *dynamoStore) getFam(ctx context.Context, fid string) (famState, bool, error) {
	res, err := d.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(d.table), Key: famKey(fid), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return famState{}, false, err
	}
	st, ok := parseFam(fid, res.Item)
	return st, ok, nil
}

// CreateFamily implements [Store].
func (d *dynamoStore) CreateFamily(ctx context.Context, nf NewFamily) (Family, RefreshToken, error) {
	now := d.c.now()
	if err := validNewFamily(nf, now); err != nil {
		return Family{}, RefreshToken{}, err
	}
	nowMs := now.UnixMilli()
	fid, _ := DeriveFamilyID(nf.UserID, nf.SessionID) // validNewFamily checked both
	secret := newSecret()
	st := famState{cur: hashSecret(secret), f: Family{
		ID: fid, SessionID: nf.SessionID, UserID: nf.UserID,
		Data:    append([]byte{}, nf.Data...),
		Created: time.UnixMilli(nowMs), LastUsed: time.UnixMilli(nowMs),
		AbsoluteExpiry: time.UnixMilli(nf.AbsoluteExpiry.UnixMilli()),
		IdleTimeout:    nf.IdleTimeout.Truncate(time.Millisecond),
		UserAgent:      nf.UserAgent, IP: nf.IP,
	}}
	abs := st.f.AbsoluteExpiry.UnixMilli()
	// (1) The index entry, if absent: an existing one is never shortened.
	idx := idxKey(nf.UserID, fid)
	idx["ct"], idx["abs"], idx[dynTTL] = avN(nowMs), avN(abs), ttlAt(abs)
	_, err := d.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(d.table), Item: idx,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if err != nil && !isConditionFailed(err) {
		return Family{}, RefreshToken{}, unavailable("create family", err)
	}
	// (2) The family, never over an existing item.
	_, err = d.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(d.table), Item: famItem(fid, &st),
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if isConditionFailed(err) {
		// The SDK retries a put whose answer was lost: if the stored first
		// secret is this call's own, this call created it.
		got, ok, gerr := d.getFam(ctx, fid)
		if gerr != nil {
			return Family{}, RefreshToken{}, unavailable("create family", gerr)
		}
		if !ok || got.cur != st.cur || got.f.Generation != 0 {
			return Family{}, RefreshToken{}, errFamilyExists
		}
		err = nil
	}
	if err != nil {
		return Family{}, RefreshToken{}, unavailable("create family", err)
	}
	return cloneFamily(st.f), formatToken(fid, secret), nil
}

// Refresh implements [Store]: read, decide, and write on the condition that
// the family's current hash is still the one read.
func (d *dynamoStore) Refresh(ctx context.Context, token string) (RefreshResult, error) {
	fid, secret, ok := parseToken(token)
	if !ok {
		return RefreshResult{}, ErrInvalidToken
	}
	h0 := hashSecret(secret)
	next := nextSecret(secret)
	h1 := hashSecret(next)
	for range dynCASTries {
		st, ok, err := d.getFam(ctx, fid)
		if err != nil {
			return RefreshResult{}, unavailable("refresh", err)
		}
		if !ok {
			return RefreshResult{}, ErrInvalidToken
		}
		now := d.nowMs()
		v := st.decide(h0, now)
		if v == vUnknown {
			limit := lookbackFor(ctx, st.f.Generation, d.c.lookback)
			if !isAncestor(secret, limit, st.known()...) {
				return RefreshResult{}, ErrInvalidToken
			}
			v = vReused
		}
		same := map[string]types.AttributeValue{":cur": avB(st.cur[:])}
		if now >= expiresMs(&st.f) {
			same[":lu"] = avN(st.f.LastUsed.UnixMilli())
			_, err := d.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
				TableName: aws.String(d.table), Key: famKey(fid),
				ConditionExpression:       aws.String("cur = :cur AND lu = :lu"),
				ExpressionAttributeValues: same,
			})
			if isConditionFailed(err) {
				continue // used meanwhile (by a node whose clock is behind)
			}
			if err != nil {
				return RefreshResult{}, unavailable("refresh", err)
			}
			return RefreshResult{}, ErrExpired
		}
		if v == vReused {
			return RefreshResult{}, d.reused(ctx, fid, st.f)
		}
		in := &dynamodb.UpdateItemInput{
			TableName: aws.String(d.table), Key: famKey(fid),
			ConditionExpression:       aws.String("cur = :cur"),
			ExpressionAttributeNames:  map[string]string{"#t": dynTTL},
			ExpressionAttributeValues: same,
			ReturnValues:              types.ReturnValueAllNew,
		}
		nf := st
		if v == vRotate {
			nf.rotate(h1, now, d.c.grace)
			set := "SET cur = :h1, prev = :cur, gen = :gen, lu = :now, fexp = :fexp, #t = :ttl"
			same[":h1"], same[":gen"] = avB(h1[:]), avN(int64(nf.f.Generation))
			if nf.hasP2 {
				set += ", p2 = :p2, p2dl = :p2dl"
				same[":p2"], same[":p2dl"] = avB(nf.p2[:]), avN(nf.p2Deadline)
			}
			in.UpdateExpression = aws.String(set)
		} else {
			nf.f.LastUsed = time.UnixMilli(now)
			in.UpdateExpression = aws.String("SET lu = :now, fexp = :fexp, #t = :ttl")
		}
		fexp := expiresMs(&nf.f)
		same[":now"], same[":fexp"], same[":ttl"] = avN(now), avN(fexp), ttlAt(fexp)
		res, err := d.db.UpdateItem(ctx, in)
		if isConditionFailed(err) {
			continue // rotated, or ended, meanwhile: decide again
		}
		if err != nil {
			return RefreshResult{}, unavailable("refresh", err)
		}
		got, ok := parseFam(fid, res.Attributes)
		if !ok {
			return RefreshResult{}, unavailable("refresh", errors.New("malformed family"))
		}
		return RefreshResult{Token: formatToken(fid, next), Family: got.f, Replayed: v == vReplay}, nil
	}
	return RefreshResult{}, unavailable("refresh", errors.New("family changed on every attempt"))
}

// reused handles theft: the session id goes on the denylist first, then the
// family is deleted. If the first step fails nothing changed, the error is
// ErrUnavailable, and the next presentation of the token detects it again.
func (d *dynamoStore) reused(ctx context.Context, fid string, f Family) error {
	if err := d.RevokeSession(ctx, f.SessionID); err != nil {
		return err
	}
	if _, err := d.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(d.table), Key: famKey(fid)}); err != nil {
		return unavailable("delete family", err)
	}
	return &ReuseError{FamilyID: fid, SessionID: f.SessionID, UserID: f.UserID}
}

// UpdateData implements [Store]: one write, on the condition that the
// family is live.
func (d *dynamoStore) UpdateData(ctx context.Context, familyID string, payload []byte) error {
	if !validFamilyID(familyID) {
		return ErrNotFound
	}
	in := &dynamodb.UpdateItemInput{
		TableName: aws.String(d.table), Key: famKey(familyID),
		ConditionExpression:       aws.String("attribute_exists(cur) AND fexp > :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": avN(d.nowMs())},
	}
	if len(payload) > 0 {
		in.UpdateExpression = aws.String("SET pl = :pl")
		in.ExpressionAttributeValues[":pl"] = avB(payload)
	} else {
		in.UpdateExpression = aws.String("REMOVE pl")
	}
	_, err := d.db.UpdateItem(ctx, in)
	if isConditionFailed(err) {
		return ErrNotFound
	}
	if err != nil {
		return unavailable("update payload", err)
	}
	return nil
}

// GetFamily implements [Store].
func (d *dynamoStore) GetFamily(ctx context.Context, familyID string) (Family, bool, error) {
	if !validFamilyID(familyID) {
		return Family{}, false, nil
	}
	st, ok, err := d.getFam(ctx, familyID)
	if err != nil {
		return Family{}, false, unavailable("get family", err)
	}
	if !ok || d.nowMs() >= expiresMs(&st.f) {
		return Family{}, false, nil
	}
	return st.f, true, nil
}
