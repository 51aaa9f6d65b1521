package dynalitetest_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sesame-go/sesame/internal/dynalitetest"
)

func TestStartAnswersAndKillStops(t *testing.T) {
	srv := dynalitetest.Start(t)
	c := srv.Client(func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	ctx := context.Background()
	if _, err := c.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables: %v", err)
	}
	srv.Kill()
	if _, err := c.ListTables(ctx, &dynamodb.ListTablesInput{}); err == nil {
		t.Fatal("ListTables answered after Kill")
	}
}
