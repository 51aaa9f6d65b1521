package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sesame-go/sesame/internal/dynalitetest"
	"github.com/sesame-go/sesame/revocation"
)

// dynamoEnv is the environment that points sessionctl at table on srv.
func dynamoEnv(srv *dynalitetest.Server, table string) []string {
	return []string{"SESAME_STORE=dynamodb://" + table + "?region=" + dynalitetest.Region + "&endpoint=" + srv.Endpoint(),
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test"}
}

func TestStoreInit(t *testing.T) {
	t.Parallel()
	srv := dynalitetest.Start(t)
	c := newCLI(t, dynamoEnv(srv, "sessions")...)
	out := c.ok("store", "init")
	if !strings.Contains(out, "created table sessions") {
		t.Errorf("first init: %q", out)
	}
	// dynalite lacks UpdateTimeToLive: init says so rather than claim it.
	if !strings.Contains(out, "TTL deletion: DISABLED (this endpoint does not implement UpdateTimeToLive") {
		t.Errorf("first init does not report dynalite's missing TTL: %q", out)
	}
	if out := c.ok("store", "init"); !strings.Contains(out, "table sessions exists; nothing to do") {
		t.Errorf("second init: %q", out)
	}
	d, err := srv.Client().DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String("sessions")})
	if err != nil {
		t.Fatal(err)
	}
	if d.Table.TableStatus != "ACTIVE" || len(d.Table.KeySchema) != 2 || len(d.Table.GlobalSecondaryIndexes) != 0 {
		t.Errorf("table %+v", d.Table)
	}

	none := newCLI(t)
	none.fails("no store", "store", "init")
	none.fails("want dynamodb://TABLE", "store", "init", "--store", "dynamodb://")
	none.fails("credentials never go in the URL", "store", "init", "--store", "dynamodb://k:s3cret@t")
}

// TestSessionsDynamo runs the session commands against a DynamoDB store
// that a running node uses.
func TestSessionsDynamo(t *testing.T) {
	t.Parallel()
	srv := dynalitetest.Start(t)
	audit := filepath.Join(t.TempDir(), "audit.log")
	c := newCLI(t, append(dynamoEnv(srv, "sessions"), "SESAME_AUDIT_LOG="+audit)...)
	c.ok("store", "init")
	store, err := revocation.NewDynamo(srv.Client(), &revocation.DynamoOptions{Table: "sessions",
		EntryTTL: 10*time.Minute + authLeeway, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	n := startNodeOn(t, store, store)
	phone := n.login("alice", "Phone/1.0")
	laptop := n.login("alice", "Laptop/2.0")
	bob := n.login("bob", "Bob/1.0")

	var got []listed
	if err := json.Unmarshal([]byte(c.ok("sessions", "list", "--user", "alice", "--json")), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].SID != phone.sid || got[1].SID != laptop.sid || got[0].UserAgent != "Phone/1.0" {
		t.Fatalf("sessions list --json: %+v", got)
	}
	// By sid alone: found by scanning the table.
	if out := c.ok("sessions", "revoke", "--sid", phone.sid); !strings.Contains(out, "revoked session "+phone.sid) {
		t.Errorf("revoke --sid: %q", out)
	}
	after := waitUntil(t, staleBound, "the node to refuse the session revoked by sessionctl", func() bool { return !n.accepted(phone) })
	t.Logf("sessions revoke --sid on DynamoDB: the node refused the session %v after the CLI returned", after.Round(time.Millisecond))
	if n.refreshes(phone) || !n.accepted(laptop) || !n.accepted(bob) {
		t.Error("revoke --sid ended the wrong sessions")
	}
	if out := c.ok("sessions", "revoke", "--user", "alice"); !strings.Contains(out, "revoked 1 session of user alice") {
		t.Errorf("revoke --user: %q", out)
	}
	waitUntil(t, staleBound, "the node to refuse alice's last session", func() bool { return !n.accepted(laptop) })
	if n.refreshes(laptop) || !n.accepted(bob) || !n.refreshes(bob) {
		t.Error("revoke --user ended the wrong sessions")
	}
	c.fails("give one", "sessions", "list", "--user", "bob", "--redis", "redis://127.0.0.1:1/0")
	if b, err := os.ReadFile(audit); err != nil || strings.Count(string(b), eventSessionRevokedByAdmin) != 2 {
		t.Errorf("audit log: %v\n%s", err, b)
	}
}
