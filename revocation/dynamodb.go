package revocation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// DynamoDB layout: one table, partition key "pk" and sort key "sk" (both
// strings), on-demand capacity, the TTL attribute "ttl" (unix seconds).
//
//	pk              sk           item
//	dl#NN           k#ID         denylist entry; NN = 00..15 from a hash of
//	                             k#ID, k = s (sid), j (jti), u (user):
//	                             exp (unix ms), b (revoked-before, users)
//	feed#seq        -            the feed counter n, and the table's epoch ep
//	feed            SEQ          feed entry SEQ (20 digits): ep, k, id, exp,
//	                             b, wt (written, unix ms); k = "-" seals a hole
//	fam#FID         -            family FID: sid uid pl ct lu abs idle ua
//	                             ip cur prev p2 p2dl gen, and fexp (when it
//	                             ends unless used: Family.Expires, unix ms)
//	user#UID        FID          index entry: ct, abs
//
// DynamoDB has no multi-item atomic write that dynalite (the emulator the
// tests run against) implements, so every step below is one conditional
// write on one item, and each operation orders its steps so that a crash
// between any two leaves a state the contract allows, which a retry (the
// caller got ErrUnavailable) completes. TTL deletes late (AWS: within days),
// so every read compares the item's own expiry (exp, fexp, wt) with the
// store's clock; "ttl" is garbage collection only, set an hour past the
// item's end (wt, "written", and lu, "last used", avoid DynamoDB's reserved
// words).
//
// Revoke (session, token, user): (1) raise the denylist item (SET exp, and b
// for a user, on the condition that the stored value is lower or absent: the
// only-rises rule as one conditional write); (2) take a sequence number:
// UpdateItem ADD n 1 on the counter, returning the new value; (3) put the
// feed entry at that number, on the condition that no item is there. The
// call returns after (3). A crash after (1) leaves the strict check
// (IsRevoked) revoking and the replicas not yet (until their next resync,
// ResyncInterval) — but the call never succeeded, and a retry writes the
// feed entry. The feed entry comes last, not first, because of snapshots: a
// snapshot reads the counter C, then the denylist, and resumes the feed
// after C. An entry numbered at most C took its number after its denylist
// write, so before the snapshot read the denylist: the snapshot holds it.
// An entry numbered after C is read from the feed. With the feed first, a
// writer paused between its feed entry (numbered before C) and its denylist
// write would be in neither, unless every snapshot also read back the whole
// retained feed.
//
// A crash after (2) leaves a hole: a number no entry will ever take. Entries
// are also put in a different order than they are numbered (concurrent
// writers). A replica's cursor is the last number up to which it has read
// every entry, so it never moves past a hole; entries after a hole are
// delivered at once (and again on the next reads: applying one twice is
// harmless). A hole still open after holeWait (1s) is sealed: the reader
// puts a "-" entry at its number, on the condition that nothing is there.
// Exactly one of the sealing put and the writer's own put (3) succeeds. If
// the writer lost, it takes a new number (step 2 again), which is above
// every cursor, so its entry is still delivered; if the writer crashed, the
// seal lets the cursor move on. So a replica never stalls on a hole, and
// never skips an entry that will still appear. A hole opened by a writer
// that has not returned yet is an unacknowledged revocation: a replica
// that has read everything else counts as current.
//
// The counter also holds a random epoch, set by the first write, which
// every feed entry and every cursor ("EPOCH:SEQ") carries: a replica whose
// table was deleted and created again, or restored from a backup, meets
// another epoch and resyncs, even where the new numbers have caught up
// with its cursor.
//
// Feed entries are kept EntryTTL plus an hour after they are written. A
// replica that resumes from a cursor whose entry is gone (or was written
// more than EntryTTL ago), or that finds a hole right after such an old
// entry, reports ErrCursorLost and resyncs rather than seal a gap that TTL
// made.
//
// CreateFamily: (1) put the index entry if absent; (2) put the family on the
// condition that no item has its id. A crash after (1) leaves an index entry
// without a family: ListFamilies skips it and prunes it once it is a minute
// old (younger, it may belong to a create still in flight). A failed
// condition in (2) is the SDK retrying our own put after a lost answer when
// the stored first secret is ours (as create.lua checks), and otherwise an
// existing family, never overwritten.
//
// Refresh: read the family (strongly consistent), decide as memoryStore
// does, then write with the condition that cur is still the hash that was
// read: a rotation (cur moves on, so of racing rotations one wins, the
// others read again and replay) or a replay (only lu changes). Expiry
// deletes the family on the condition that cur and lu are unchanged.
// Reuse writes the denylist and feed for the session first, then deletes
// the family, like redisStore: a crash between leaves the session revoked
// and the family alive, and the next presentation of the stolen token finds
// the reuse again.
//
// RevokeFamily: revoke the session (as above), then delete the family, then
// its index entry (a crash before that leaves a stale entry, which
// ListFamilies prunes).
// RevokeAllFamilies: query the user's index; for each family id revoke its
// session (the session id is the family id without its 2-character tag),
// then put a tombstone in the family's place (a create still in flight
// between its steps (1) and (2) then fails instead of making a family that
// the index no longer lists), then delete the index entries, then raise the
// user's revoked-before. A crash leaves more revoked than deleted, and a
// retry finishes the job.
//
// TTL enforcement, Streams and TransactWriteItems are not used: dynalite
// lacks them, and none is needed.

// Item key prefixes and the table's attribute names.
const (
	dynPK, dynSK, dynTTL = "pk", "sk", "ttl"
	dynFeedPK            = "feed"
	dynSeqPK             = "feed#seq"
	dynNoSK              = "-"
	dynShards            = 16
	// dynMargin is how long past its end an item lives before AWS may
	// delete it: clock skew between nodes must stay well below it.
	dynMargin = time.Hour
	// holeWait is how long a reader leaves a hole in the feed open before
	// it seals it.
	holeWait = time.Second
	// dynCASTries bounds the read-decide-write loop of a refresh.
	dynCASTries = 16
)

// DynamoOptions configures a [NewDynamo] store. A nil or zero DynamoOptions means
// the defaults.
type DynamoOptions struct {
	// Table is the table's name. Zero means "sesame". [CreateDynamoTable]
	// creates it.
	Table string
	// EntryTTL, GraceWindow, ReuseLookback and Now mean what they mean in
	// [RedisOptions]; zero means the same defaults.
	EntryTTL      time.Duration
	GraceWindow   time.Duration
	ReuseLookback int
	Now           func() time.Time
	// PollInterval is how often the store's Read asks for new feed
	// entries while it waits (DynamoDB cannot block on a read): each poll
	// is one strongly consistent Query, 1 read unit while the feed is
	// quiet, per replica. Zero means 100ms.
	PollInterval time.Duration
}

// dynamoStore is a [Store] and a [Feed] kept in one Amazon DynamoDB table
// (see [CreateDynamoTable] for its definition), through a client from
// github.com/aws/aws-sdk-go-v2/service/dynamodb. All methods may be called
// concurrently. DynamoDB errors and timeouts are returned wrapping
// [ErrUnavailable]; the client's own timeouts and retries apply (give it an
// HTTP timeout: the SDK's default client has none, and only the feed's
// calls are bounded here, at 10s). The
// package documentation and the comment at the top of dynamodb.go say why
// each operation is safe without transactions.
type dynamoStore struct {
	db    *dynamodb.Client
	c     common
	table string
	poll  time.Duration

	mu    sync.Mutex
	holes map[uint64]time.Time // feed holes seen by Read, and since when
}

var (
	_ Store = (*dynamoStore)(nil)
	_ Feed  = (*dynamoStore)(nil)
)

// NewDynamo returns a dynamoStore using client. opts may be nil. It does not
// touch the table; [CreateDynamoTable] creates it.
func NewDynamo(client *dynamodb.Client, opts *DynamoOptions) (Backend, error) {
	s, err := newDynamo(client, opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func newDynamo(client *dynamodb.Client, opts *DynamoOptions) (*dynamoStore, error) {
	if client == nil {
		return nil, errors.New("revocation: nil dynamodb client")
	}
	var o DynamoOptions
	if opts != nil {
		o = *opts
	}
	if o.Table == "" {
		o.Table = "sesame"
	}
	if len(o.Table) < 3 || len(o.Table) > 255 {
		return nil, fmt.Errorf("revocation: DynamoDB table name %q is not 3 to 255 characters", o.Table)
	}
	switch {
	case o.PollInterval == 0:
		o.PollInterval = 100 * time.Millisecond
	case o.PollInterval < time.Millisecond:
		return nil, errors.New("revocation: PollInterval must be at least 1ms")
	}
	c, err := newCommon(o.EntryTTL, o.GraceWindow, o.ReuseLookback, o.Now)
	if err != nil {
		return nil, err
	}
	return &dynamoStore{db: client, c: c, table: o.Table, poll: o.PollInterval, holes: map[uint64]time.Time{}}, nil
}

// EntryTTL returns how long a denylist entry lives, so that a caller can
// check its access tokens do not outlive it (auth.New does).
func (d *dynamoStore) EntryTTL() time.Duration { return d.c.entryTTL }

// CreateTable creates the table of a NewDynamo store; see CreateDynamoTable.
func (d *dynamoStore) CreateTable(ctx context.Context) (bool, error) {
	return CreateDynamoTable(ctx, d.db, d.table)
}

// CreateDynamoTable creates table, for NewDynamo, if it does not exist (on-demand
// capacity; key pk, sk, both strings; no index), waits until it is active,
// and turns on TTL deletion on the attribute "ttl". It reports whether it
// created the table; running it again is harmless. A table of that name
// still being deleted is waited out and created anew. An emulator that does
// not implement UpdateTimeToLive (dynalite answers
// UnknownOperationException) is tolerated: it never deletes by TTL anyway,
// and no read depends on it.
func CreateDynamoTable(ctx context.Context, db *dynamodb.Client, table string) (created bool, err error) {
	for {
		_, err = db.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName: aws.String(table),
			AttributeDefinitions: []types.AttributeDefinition{
				{AttributeName: aws.String(dynPK), AttributeType: types.ScalarAttributeTypeS},
				{AttributeName: aws.String(dynSK), AttributeType: types.ScalarAttributeTypeS},
			},
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(dynPK), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(dynSK), KeyType: types.KeyTypeRange},
			},
			BillingMode: types.BillingModePayPerRequest,
		})
		var inUse *types.ResourceInUseException
		if err == nil {
			created = true
			break
		}
		if !errors.As(err, &inUse) {
			return false, unavailable("create table", err)
		}
		// The name is taken. A table still being deleted would never turn
		// ACTIVE: wait until it is gone and create it anew.
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		var notFound *types.ResourceNotFoundException
		switch {
		case errors.As(err, &notFound):
			continue // deleted in between
		case err != nil:
			return false, unavailable("describe table", err)
		case out.Table == nil || out.Table.TableStatus != types.TableStatusDeleting:
		default:
			gone := dynamodb.NewTableNotExistsWaiter(db, func(o *dynamodb.TableNotExistsWaiterOptions) {
				o.MinDelay, o.MaxDelay = 100*time.Millisecond, 2*time.Second
			})
			if err := gone.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 5*time.Minute); err != nil {
				return false, unavailable("wait for the deletion of table", err)
			}
			continue
		}
		break
	}
	w := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 2*time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 5*time.Minute); err != nil {
		return created, unavailable("wait for table", err)
	}
	ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err == nil && ttl.TimeToLiveDescription != nil {
		switch ttl.TimeToLiveDescription.TimeToLiveStatus {
		case types.TimeToLiveStatusEnabled, types.TimeToLiveStatusEnabling:
			return created, nil
		}
	}
	_, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(dynTTL), Enabled: aws.Bool(true),
		},
	})
	if err != nil && !isUnknownOperation(err) {
		return created, unavailable("enable TTL", err)
	}
	return created, nil
}

// isUnknownOperation reports dynalite's answer to an operation it lacks.
func isUnknownOperation(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "UnknownOperationException"
}

func isConditionFailed(err error) bool {
	var c *types.ConditionalCheckFailedException
	return errors.As(err, &c)
}

func (d *dynamoStore) nowMs() int64 { return d.c.now().UnixMilli() }

// ttlAt is the TTL attribute for an item that ends at ms (unix ms).
func ttlAt(ms int64) types.AttributeValue {
	return avN((ms + dynMargin.Milliseconds()) / 1000)
}

func avS(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func avN(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
func avB(b []byte) types.AttributeValue { return &types.AttributeValueMemberB{Value: b} }

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{dynPK: avS(pk), dynSK: avS(sk)}
}

// item reads attributes of a DynamoDB item; a missing or mistyped one reads
// as zero.
type item map[string]types.AttributeValue

func (it item) s(name string) string {
	v, _ := it[name].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

func (it item) n(name string) int64 {
	v, _ := it[name].(*types.AttributeValueMemberN)
	if v == nil {
		return 0
	}
	n, _ := strconv.ParseInt(v.Value, 10, 64)
	return n
}

func (it item) b(name string) []byte {
	v, _ := it[name].(*types.AttributeValueMemberB)
	if v == nil {
		return nil
	}
	return v.Value
}
