package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/cobra"

	"github.com/sesame-go/sesame/internal/dynamourl"
	"github.com/sesame-go/sesame/revocation"
)

// storeURL is --store, or SESAME_STORE (the variable sessiond reads too).
func storeURL(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv("SESAME_STORE")
}

// openDynamo opens the DynamoDB store a dynamodb:// URL names.
func openDynamo(raw string, entryTTL time.Duration) (revocation.Backend, error) {
	client, table, err := dynamoClient(raw)
	if err != nil {
		return nil, err
	}
	return revocation.NewDynamo(client, &revocation.DynamoOptions{Table: table, EntryTTL: entryTTL})
}

// dynamoClient returns a client for the endpoint a dynamodb:// URL names,
// and its table.
func dynamoClient(raw string) (*dynamodb.Client, string, error) {
	u, err := dynamourl.Parse(raw)
	if err != nil {
		return nil, "", fmt.Errorf("--store: %w", err)
	}
	client, err := u.Client(context.Background(), os.Getenv)
	if err != nil {
		return nil, "", fmt.Errorf("--store: %w", err)
	}
	return client, u.Table, nil
}

func newStoreCmd() *cobra.Command {
	var raw string
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Prepare the revocation store: init",
	}
	cmd.PersistentFlags().StringVar(&raw, "store", "", "the revocation store, as sessiond's --store: dynamodb://TABLE[?region=…&endpoint=URL] (default: env SESAME_STORE)")
	cmd.AddCommand(&cobra.Command{
		Use:   "init",
		Short: "Create the DynamoDB table of --store (idempotent)",
		Long: `Create the DynamoDB table that sessiond's --store names, if it does not
exist: on-demand capacity, partition key pk and sort key sk (strings), no
secondary index, and TTL deletion on the attribute "ttl". It waits until the
table is active. Running it again changes nothing and says so.

The credentials need dynamodb:CreateTable, DescribeTable, DescribeTimeToLive
and UpdateTimeToLive on the table; sessiond itself needs only the item
operations (GetItem, PutItem, UpdateItem, DeleteItem, Query, BatchGetItem;
Scan for sessionctl sessions revoke --sid without --user) and DescribeTable.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw := storeURL(raw)
			if raw == "" {
				return errors.New("no store: give --store dynamodb://TABLE (or set SESAME_STORE)")
			}
			client, table, err := dynamoClient(raw)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Minute)
			defer cancel()
			created, err := revocation.CreateDynamoTable(ctx, client, table)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if created {
				fmt.Fprintf(w, "created table %s: keys pk, sk (strings); on-demand capacity\n", table)
			} else {
				fmt.Fprintf(w, "table %s exists; nothing to do\n", table)
			}
			// Say what the endpoint reports, not what was asked for: an
			// emulator may lack TTL (reads never rely on it).
			ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
			status := "unknown"
			if err == nil && ttl.TimeToLiveDescription != nil {
				status = string(ttl.TimeToLiveDescription.TimeToLiveStatus)
			}
			if status == "ENABLED" || status == "ENABLING" {
				fmt.Fprintf(w, "TTL deletion on attribute ttl: %s\n", status)
			} else {
				fmt.Fprintf(w, "TTL deletion: %s (this endpoint does not implement UpdateTimeToLive; expired items stay, and are ignored by every read)\n", status)
			}
			return nil
		},
	})
	return cmd
}
