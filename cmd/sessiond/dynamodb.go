package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sesame-go/sesame/internal/dynamourl"
	"github.com/sesame-go/sesame/revocation"
)

// newDynamoStore opens the DynamoDB store that --store names and checks
// that its table exists (sessionctl store init creates it), so that a
// missing table stops the start with a clear message instead of a replica
// that never loads.
func newDynamoStore(raw string, entryTTL time.Duration, getenv func(string) string) (revocation.Backend, *dynamodb.Client, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, err := dynamourl.Parse(raw)
	if err != nil {
		return nil, nil, "", fmt.Errorf("--store: %w", err)
	}
	client, err := u.Client(ctx, getenv)
	if err != nil {
		return nil, nil, "", fmt.Errorf("--store: %w", err)
	}
	s, err := revocation.NewDynamo(client, &revocation.DynamoOptions{Table: u.Table, EntryTTL: entryTTL, PollInterval: u.Poll})
	if err != nil {
		return nil, nil, "", err
	}
	if err := dynamourl.CheckTable(ctx, client, u.Table); err != nil {
		return nil, nil, "", fmt.Errorf("--store: %w", err)
	}
	return s, client, u.Table, nil
}

// pingDynamo checks that the table answers, for readiness.
func pingDynamo(ctx context.Context, client *dynamodb.Client, table string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	err := dynamourl.CheckTable(ctx, client, table)
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.New("dynamodb: no answer within 1s")
	}
	return err
}
