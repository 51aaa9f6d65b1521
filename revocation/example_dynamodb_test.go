package revocation_test

import (
	"context"
	"log"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sesame-go/sesame/revocation"
)

// A fleet on Amazon DynamoDB: the store takes a client built by the
// application, CreateTable makes the table once (idempotent), and each node
// runs a replica of the store's feed. (Not run: it needs AWS.)
func ExampleNewDynamo() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("eu-west-1"))
	if err != nil {
		log.Fatal(err)
	}
	client := dynamodb.NewFromConfig(cfg)
	if _, err := revocation.CreateDynamoTable(ctx, client, "sesame"); err != nil { // usually done once, by sessionctl store init
		log.Fatal(err)
	}
	store, err := revocation.NewDynamo(client, &revocation.DynamoOptions{Table: "sesame"})
	if err != nil {
		log.Fatal(err)
	}
	replica, err := revocation.NewReplica(store, nil)
	if err != nil {
		log.Fatal(err)
	}
	go replica.Run(ctx)
	<-replica.Ready()
	revoked, err := replica.Check(revocation.Subject{SID: "c2Vzc2lvbi1leGFtcGxlMQ"})
	log.Println(revoked, err)
}
