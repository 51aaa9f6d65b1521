package revocation

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	// go-redis logs every failed dial; the outage tests cause many on purpose.
	redis.SetLogger(quietLogger{})
	os.Exit(m.Run())
}
