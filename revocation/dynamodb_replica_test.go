package revocation

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sesame-go/sesame/internal/dynalitetest"
)

// fastDynamo fails fast while the server is paused or down.
func fastDynamo(srv *dynalitetest.Server) *dynamodb.Client {
	return srv.Client(func(o *dynamodb.Options) {
		o.RetryMaxAttempts = 1
		o.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond}
	})
}

func TestDynamoTwoReplicas(t *testing.T) {
	t.Parallel()
	srv := dynalitetest.Start(t)
	a := newDynamoTable(t, srv.Client(), DynamoOptions{PollInterval: 20 * time.Millisecond})
	b, _ := newDynamo(srv.Client(), &DynamoOptions{Table: a.table, PollInterval: 20 * time.Millisecond})
	testTwoReplicas(t, a, b)
}

// TestDynamoReplicaPaused freezes dynalite (a hung server): reads time out,
// the replica goes stale and answers per its policy, then recovers.
func TestDynamoReplicaPaused(t *testing.T) {
	t.Parallel()
	srv := dynalitetest.Start(t)
	setup := newDynamoTable(t, srv.Client(), DynamoOptions{})
	store, _ := newDynamo(fastDynamo(srv), &DynamoOptions{Table: setup.table, PollInterval: 20 * time.Millisecond})
	const bound = 500 * time.Millisecond
	closed, _ := NewReplica(store, &ReplicaOptions{StalenessBound: bound, ReadWait: 50 * time.Millisecond})
	open, _ := NewReplica(store, &ReplicaOptions{StalenessBound: bound, ReadWait: 50 * time.Millisecond, Policy: FailOpen})
	startReplica(t, closed)
	startReplica(t, open)
	_ = setup.RevokeSession(context.Background(), "before")
	for _, r := range []*Replica{closed, open} {
		waitFor(t, 10*time.Second, func() bool { ok, err := r.Check(Subject{SID: "before"}); return ok && err == nil })
	}
	srv.Pause()
	waitFor(t, 10*time.Second, func() bool { return closed.Status().Stale && open.Status().Stale })
	if ok, err := closed.Check(Subject{SID: "nobody"}); !ok || !errors.Is(err, ErrStale) {
		t.Fatalf("fail-closed while paused: got %v, %v", ok, err)
	}
	if ok, err := open.Check(Subject{SID: "nobody"}); ok || err != nil {
		t.Fatalf("fail-open while paused: got %v, %v", ok, err)
	}
	if ok, err := open.Check(Subject{SID: "before"}); !ok || err != nil {
		t.Fatalf("fail-open keeps what it knows: got %v, %v", ok, err)
	}
	if st := closed.Status(); st.Lag <= bound || st.LastError == "" {
		t.Fatalf("status while paused: %+v", st)
	}
	srv.Resume()
	if err := setup.RevokeSession(context.Background(), "after"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Replica{closed, open} {
		waitFor(t, 10*time.Second, func() bool { ok, err := r.Check(Subject{SID: "after"}); return ok && err == nil })
	}
	waitFor(t, 10*time.Second, func() bool { st := closed.Status(); return !st.Stale && st.LastError == "" })
}

func TestDynamoReplicaEntriesExpire(t *testing.T) {
	t.Parallel()
	srv := dynalitetest.Start(t)
	clk := newFakeClock()
	store := newDynamoTable(t, srv.Client(), DynamoOptions{EntryTTL: time.Minute, Now: clk.Now, PollInterval: 10 * time.Millisecond})
	checkReplicaEntriesExpire(t, store, clk, " (DynamoDB's TTL deletes late: reads must compare)")
}

// TestDynamoFeedHoles plays the crash between taking a sequence number and
// writing the entry, and the slow writer.
func TestDynamoFeedHoles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := dynalitetest.Start(t)
	clk := newFakeClock()
	s := newDynamoTable(t, srv.Client(), DynamoOptions{Now: clk.Now, PollInterval: time.Millisecond})
	read := func(cursor string) ([]string, string) {
		t.Helper()
		entries, next, err := s.Read(ctx, cursor, 5*time.Millisecond)
		if err != nil {
			t.Fatalf("Read(%s): %v", cursor, err)
		}
		var ids []string
		for _, e := range entries {
			ids = append(ids, e.ID)
		}
		return ids, next
	}
	cursor, err := s.Snapshot(ctx, func(Entry) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(ctx, "first"); err != nil {
		t.Fatal(err)
	}
	ids, cursor := read(cursor)
	if len(ids) != 1 || ids[0] != "first" || seqOf(cursor) != "1" {
		t.Fatalf("got %v up to %s, want [first] up to 1", ids, cursor)
	}

	// A writer takes 2 and crashes; 3 is written.
	crashed, err := s.nextSeq(ctx)
	if err != nil || crashed.seq != 2 {
		t.Fatalf("nextSeq = %v, %v", crashed, err)
	}
	_ = s.RevokeSession(ctx, "after-crash")
	ids, next := read(cursor)
	if len(ids) != 1 || ids[0] != "after-crash" || next != cursor {
		t.Fatalf("behind a hole: got %v up to %s, want [after-crash] and the cursor kept at %s", ids, next, cursor)
	}
	ids, next = read(cursor) // not yet sealed: the cursor stays
	if next != cursor {
		t.Fatalf("the cursor moved past an open hole to %s", next)
	}
	clk.Advance(holeWait)
	ids, next = read(cursor) // sealed now
	if seqOf(next) != "3" || len(ids) != 1 || ids[0] != "after-crash" {
		t.Fatalf("after sealing: got %v up to %s, want [after-crash] up to 3", ids, next)
	}
	// Had the writer only been slow, its put now fails and it takes a new
	// number, which every cursor is behind.
	if sealed, err := s.putFeed(ctx, crashed, 's', "too-late", clk.Now().Add(time.Minute).UnixMilli(), 0); err != nil || !sealed {
		t.Fatalf("put into a sealed hole: sealed %v, %v", sealed, err)
	}
	cursor = next

	// A slow writer fills its hole before the seal: its entry is read, once.
	slow, _ := s.nextSeq(ctx)
	_ = s.RevokeSession(ctx, "fast")
	ids, next = read(cursor)
	if next != cursor || len(ids) != 1 || ids[0] != "fast" {
		t.Fatalf("got %v up to %s", ids, next)
	}
	if sealed, err := s.putFeed(ctx, slow, 's', "slow", clk.Now().Add(time.Minute).UnixMilli(), 0); err != nil || sealed {
		t.Fatalf("slow put: sealed %v, %v", sealed, err)
	}
	ids, next = read(cursor)
	if seqOf(next) != "5" || len(ids) != 2 || ids[0] != "slow" || ids[1] != "fast" {
		t.Fatalf("after the slow put: got %v up to %s, want [slow fast] up to 5", ids, next)
	}
	cursor = next

	// A hole right after an entry older than EntryTTL may be TTL's doing:
	// the reader resyncs instead of sealing it.
	clk.Advance(DefaultEntryTTL + time.Second)
	_, _ = s.nextSeq(ctx)
	_ = s.RevokeSession(ctx, "much-later")
	read(cursor)
	clk.Advance(holeWait)
	if _, _, err := s.Read(ctx, cursor, time.Millisecond); !errors.Is(err, ErrCursorLost) {
		t.Fatalf("hole after an old entry: got %v, want ErrCursorLost", err)
	}
}

func TestDynamoResumeDetectsLostEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := dynalitetest.Start(t)
	clk := newFakeClock()
	store := newDynamoTable(t, srv.Client(), DynamoOptions{Now: clk.Now})
	empty, err := store.Snapshot(ctx, func(Entry) {})
	if err != nil || empty != ":0" {
		t.Fatalf("snapshot of an empty feed: cursor %q, %v", empty, err)
	}
	if err := store.Resume(ctx, empty); err != nil {
		t.Fatalf("empty feed, zero cursor: %v", err)
	}
	_ = store.RevokeSession(ctx, "a")
	cursor, err := store.Snapshot(ctx, func(Entry) {})
	if err != nil || seqOf(cursor) != "1" {
		t.Fatalf("snapshot cursor %q, %v", cursor, err)
	}
	ep, _, _ := strings.Cut(cursor, ":")
	if err := store.Resume(ctx, ep+":5"); !errors.Is(err, ErrCursorLost) {
		t.Fatalf("cursor ahead of the counter: got %v", err)
	}
	if err := store.Resume(ctx, empty); err != nil {
		t.Fatalf("the zero cursor after the first entry: %v", err)
	}
	if entries, next, err := store.Read(ctx, empty, time.Millisecond); err != nil || len(entries) != 1 || next != cursor {
		t.Fatalf("Read from the zero cursor: %v up to %q, %v; want [a] up to %q", entries, next, err, cursor)
	}
	if err := store.Resume(ctx, cursor); err != nil {
		t.Fatalf("current cursor: %v", err)
	}
	_ = store.RevokeSession(ctx, "b")
	if err := store.Resume(ctx, cursor); err != nil {
		t.Fatalf("cursor one entry behind: %v", err)
	}
	// As TTL would: the cursor's own entry is deleted.
	if _, err := store.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(store.table), Key: key(dynFeedPK, seqSK(1)),
	}); err != nil {
		t.Fatal(err)
	}
	if err := store.Resume(ctx, cursor); !errors.Is(err, ErrCursorLost) {
		t.Fatalf("cursor entry deleted: got %v", err)
	}
	if _, _, err := store.Read(ctx, cursor, time.Millisecond); !errors.Is(err, ErrCursorLost) {
		t.Fatalf("Read from a deleted cursor entry: got %v", err)
	}
	if err := store.Resume(ctx, ep+":2"); err != nil {
		t.Fatalf("cursor 2: %v", err)
	}
	clk.Advance(DefaultEntryTTL)
	if err := store.Resume(ctx, ep+":2"); !errors.Is(err, ErrCursorLost) {
		t.Fatalf("cursor entry older than EntryTTL: got %v", err)
	}
	for _, junk := range []string{"junk", "2", ":2", ep + ":x"} {
		if err := store.Resume(ctx, junk); !errors.Is(err, ErrCursorLost) {
			t.Fatalf("cursor %q: got %v", junk, err)
		}
	}
}

// TestDynamoTableRecreated: a table deleted and created again starts a new
// epoch; a cursor of the old one is lost even once the new numbers have
// caught up with it. Tables stay DELETING for a while, as on AWS:
// CreateTable waits the deletion out (it used to take the DELETING table
// for an existing one and wait for it to turn ACTIVE, which never happens).
func TestDynamoTableRecreated(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := dynalitetest.StartSlowTables(t, 300*time.Millisecond)
	store := newDynamoTable(t, srv.Client(), DynamoOptions{})
	for _, sid := range []string{"a", "b"} {
		_ = store.RevokeSession(ctx, sid)
	}
	cursor, err := store.Snapshot(ctx, func(Entry) {})
	if err != nil || seqOf(cursor) != "2" {
		t.Fatalf("snapshot cursor %q, %v", cursor, err)
	}
	if _, err := store.db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(store.table)}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	for _, sid := range []string{"c", "d", "e"} {
		_ = store.RevokeSession(ctx, sid)
	}
	if err := store.Resume(ctx, cursor); !errors.Is(err, ErrCursorLost) {
		t.Fatalf("Resume of the old epoch's cursor: got %v", err)
	}
	if _, _, err := store.Read(ctx, cursor, time.Millisecond); !errors.Is(err, ErrCursorLost) {
		t.Fatalf("Read of the old epoch's cursor: got %v", err)
	}
	got := map[string]bool{}
	if _, err := store.Snapshot(ctx, func(e Entry) { got[e.ID] = true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !got["c"] || !got["e"] {
		t.Fatalf("snapshot of the new table: %v", got)
	}
}

// seqOf is the sequence number of a DynamoDB feed cursor.
func seqOf(cursor string) string {
	_, seq, _ := strings.Cut(cursor, ":")
	return seq
}

func TestDynamoUnavailable(t *testing.T) {
	t.Parallel()
	srv := dynalitetest.Start(t)
	setup := newDynamoTable(t, srv.Client(), DynamoOptions{})
	s, err := newDynamo(fastDynamo(srv), &DynamoOptions{Table: setup.table})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f, tok, err := s.CreateFamily(ctx, NewFamily{SessionID: newSID(), UserID: "u", AbsoluteExpiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	ops := unavailableOps(ctx, s, f, tok, ":0")
	srv.Pause()
	checkUnavailable(t, ops, "paused")
	srv.Resume()
	// Nothing was half-applied by the failed calls: the family still
	// rotates from its first token. (Asked through a client with the
	// default timeouts: dynalite has the paused requests to answer first.)
	if res, err := setup.Refresh(ctx, tok.Reveal()); err != nil || res.Replayed || res.Family.Generation != 1 {
		t.Fatalf("after resume: %+v, %v", res, err)
	}
	srv.Kill()
	checkUnavailable(t, ops, "down")
}

func TestDynamoCreateTable(t *testing.T) {
	t.Parallel()
	srv := dynalitetest.Start(t)
	s, err := newDynamo(srv.Client(), &DynamoOptions{Table: "sessions"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// dynalite lacks UpdateTimeToLive: the first run tolerates exactly its
	// UnknownOperationException, and the second finds the table.
	for i, want := range []bool{true, false} {
		created, err := s.CreateTable(ctx)
		if err != nil || created != want {
			t.Fatalf("run %d: created %v, %v; want %v", i+1, created, err, want)
		}
	}
	d, err := srv.Client().DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("sessions")})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Table.KeySchema) != 2 || *d.Table.KeySchema[0].AttributeName != "pk" || *d.Table.KeySchema[1].AttributeName != "sk" {
		t.Fatalf("key schema %+v", d.Table.KeySchema)
	}
	if d.Table.BillingModeSummary == nil || d.Table.BillingModeSummary.BillingMode != "PAY_PER_REQUEST" {
		t.Fatalf("billing mode %+v, want on-demand", d.Table.BillingModeSummary)
	}
	if _, err := newDynamo(nil, nil); err == nil {
		t.Error("a nil client was accepted")
	}
	for _, o := range []DynamoOptions{{Table: "ab"}, {PollInterval: -1}, {EntryTTL: -1}} {
		if _, err := newDynamo(srv.Client(), &o); err == nil {
			t.Errorf("NewDynamo accepted %+v", o)
		}
	}
	if !isUnknownOperation(errUnknownOp(t, srv)) {
		t.Fatal("dynalite's answer to UpdateTimeToLive is not recognised")
	}
}

// errUnknownOp returns dynalite's own answer to UpdateTimeToLive, so that
// the test notices if a dynalite release starts implementing it.
func errUnknownOp(t *testing.T, srv *dynalitetest.Server) error {
	_, err := srv.Client().UpdateTimeToLive(context.Background(), &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String("sessions"),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String("ttl"), Enabled: aws.Bool(true),
		},
	})
	if err == nil {
		t.Fatal("dynalite implements UpdateTimeToLive now: CreateTable no longer needs to tolerate its absence")
	}
	return err
}

// TestDynamoReplicaPassesHoles: a running replica delivers entries behind a
// crashed writer's hole at once, and moves its cursor past the hole once it
// is sealed.
func TestDynamoReplicaPassesHoles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := dynalitetest.Start(t)
	clk := newFakeClock() // the store's: it times the seal
	s := newDynamoTable(t, srv.Client(), DynamoOptions{Now: clk.Now, PollInterval: 10 * time.Millisecond})
	r, _ := NewReplica(s, &ReplicaOptions{ReadWait: 50 * time.Millisecond})
	startReplica(t, r)
	waitFor(t, 10*time.Second, func() bool { return r.Status().Ready })
	if _, err := s.nextSeq(ctx); err != nil { // a writer that crashed after taking its number
		t.Fatal(err)
	}
	_ = s.RevokeSession(ctx, "behind-the-hole")
	waitFor(t, 10*time.Second, func() bool { ok, err := r.Check(Subject{SID: "behind-the-hole"}); return ok && err == nil })
	open := func() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.holes) }
	if open() != 1 {
		t.Fatalf("%d holes seen, want 1", open())
	}
	clk.Advance(holeWait)
	waitFor(t, 10*time.Second, func() bool { return open() == 0 }) // sealed, and the cursor past it
	_ = s.RevokeSession(ctx, "later")
	waitFor(t, 10*time.Second, func() bool { ok, err := r.Check(Subject{SID: "later"}); return ok && err == nil })
	if st := r.Status(); st.Stale || st.LastError != "" || st.Resyncs != 1 {
		t.Fatalf("status %+v: want current, no error, no resync", st)
	}
}
