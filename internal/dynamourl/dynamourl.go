// Package dynamourl turns one URL into a DynamoDB client and table name, so
// that a program's whole DynamoDB configuration is one string (a flag or an
// environment variable):
//
//	dynamodb://TABLE[?region=REGION][&endpoint=URL][&poll=DURATION][&timeout=DURATION]
//
// region defaults to the SDK's (AWS_REGION, then the shared config file);
// endpoint replaces the regional one (DynamoDB Local, dynalite, a VPC
// endpoint); poll is how often a replica asks for new feed entries
// (revocation.DynamoOptions.PollInterval; default 100ms); timeout bounds
// each HTTP request, retries aside (default 3s: the SDK's own HTTP client
// has none, so a request into a network partition would wait for TCP to
// give up). An unknown query parameter is an error.
//
// Credentials never go in the URL. They come from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN in the program's environment
// when set, else from the SDK's default chain (shared files, SSO, web
// identity, the instance or task role).
package dynamourl

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Scheme starts every URL this package reads.
const Scheme = "dynamodb://"

// URL is a parsed dynamodb:// URL.
type URL struct {
	Table    string
	Region   string        // "": the SDK's default
	Endpoint string        // "": the regional endpoint
	Poll     time.Duration // 0: the store's default
	Timeout  time.Duration // per HTTP request; Parse sets 3s by default
}

// DefaultTimeout bounds each HTTP request when the URL gives no timeout.
const DefaultTimeout = 3 * time.Second

// Is reports whether raw is a dynamodb:// URL.
func Is(raw string) bool { return strings.HasPrefix(raw, Scheme) }

// Parse reads a dynamodb:// URL.
func Parse(raw string) (URL, error) {
	if !Is(raw) {
		return URL{}, fmt.Errorf("%q is not a %sTABLE URL", raw, Scheme)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return URL{}, errors.New("malformed dynamodb:// URL")
	}
	if u.User != nil {
		return URL{}, errors.New("dynamodb:// URL: credentials never go in the URL; use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or the SDK's default chain")
	}
	out := URL{Table: u.Host, Timeout: DefaultTimeout}
	if out.Table == "" || (u.Path != "" && u.Path != "/") {
		return URL{}, fmt.Errorf("dynamodb:// URL %q: want dynamodb://TABLE[?region=…&endpoint=…]", raw)
	}
	for k, v := range u.Query() {
		val := v[len(v)-1]
		switch k {
		case "region":
			out.Region = val
		case "endpoint":
			e, err := url.Parse(val)
			if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
				return URL{}, fmt.Errorf("dynamodb:// URL: endpoint %q is not an http(s) URL", val)
			}
			out.Endpoint = val
		case "poll":
			d, err := time.ParseDuration(val)
			if err != nil || d < time.Millisecond {
				return URL{}, fmt.Errorf("dynamodb:// URL: poll %q is not a duration of at least 1ms", val)
			}
			out.Poll = d
		case "timeout":
			d, err := time.ParseDuration(val)
			if err != nil || d < time.Millisecond {
				return URL{}, fmt.Errorf("dynamodb:// URL: timeout %q is not a duration of at least 1ms", val)
			}
			out.Timeout = d
		default:
			return URL{}, fmt.Errorf("dynamodb:// URL: unknown parameter %q (want region, endpoint, poll, timeout)", k)
		}
	}
	return out, nil
}

// Client builds a DynamoDB client for u. getenv is the program's
// environment (os.Getenv, or a test's).
func (u URL) Client(ctx context.Context, getenv func(string) string) (*dynamodb.Client, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(cmpOr(u.Timeout, DefaultTimeout))),
	}
	if u.Region != "" {
		opts = append(opts, config.WithRegion(u.Region))
	}
	if id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN"))))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("dynamodb: loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("dynamodb: no region: add ?region=… to the URL or set AWS_REGION")
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if u.Endpoint != "" {
			o.BaseEndpoint = aws.String(u.Endpoint)
		}
	}), nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// CheckTable returns nil if the table exists and answers, and an error
// saying how to create it if it does not.
func CheckTable(ctx context.Context, client *dynamodb.Client, table string) error {
	_, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return fmt.Errorf("dynamodb: table %q does not exist; create it with `sessionctl store init --store %s%s`", table, Scheme, table)
	}
	if err != nil {
		return fmt.Errorf("dynamodb: describe table %q: %w", table, err)
	}
	return nil
}
