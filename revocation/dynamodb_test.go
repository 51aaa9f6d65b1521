package revocation

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sesame-go/sesame/internal/dynalitetest"
)

var tableSeq atomic.Int64

// newDynamoTable creates a fresh table on srv and returns a store using it.
func newDynamoTable(t testing.TB, client *dynamodb.Client, opts DynamoOptions) *dynamoStore {
	t.Helper()
	opts.Table = fmt.Sprintf("test%d", tableSeq.Add(1))
	s, err := newDynamo(client, &opts)
	if err != nil {
		t.Fatal(err)
	}
	created, err := s.CreateTable(context.Background())
	if err != nil || !created {
		t.Fatalf("CreateTable: created %v, %v", created, err)
	}
	return s
}

func TestDynamoContract(t *testing.T) {
	t.Parallel()
	srv := dynalitetest.Start(t)
	client := srv.Client()
	runContract(t, func(t *testing.T, cfg backendConfig) backend {
		s := newDynamoTable(t, client, DynamoOptions{EntryTTL: cfg.entryTTL,
			GraceWindow: cfg.grace, ReuseLookback: cfg.lookback, Now: cfg.clock.Now})
		return backend{store: s, indexLen: func(userID string) int {
			out, err := client.Query(context.Background(), &dynamodb.QueryInput{
				TableName:                 aws.String(s.table),
				KeyConditionExpression:    aws.String("pk = :pk"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS("user#" + userID)},
				ConsistentRead:            aws.Bool(true),
			})
			if err != nil {
				t.Fatal(err)
			}
			return int(out.Count)
		}}
	})
}
