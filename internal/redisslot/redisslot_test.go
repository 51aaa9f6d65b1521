package redisslot_test

import (
	"context"
	"testing"

	"github.com/sesame-go/sesame/internal/redisslot"
	"github.com/sesame-go/sesame/internal/redistest"
)

// TestOf compares Of with the server's own answer.
func TestOf(t *testing.T) {
	// A cluster-enabled server answers CLUSTER KEYSLOT even with no slots.
	srv := redistest.Start(t, &redistest.Options{Args: []string{"--cluster-enabled", "yes"}})
	c := srv.Client()
	for _, key := range []string{
		"", "a", "foo", "{user1000}.following", "{}x", "{}", "a{b}c", "a{b", "{a", "{{a}}", "foo{}{bar}",
		"x{user1}y", "sesame:marker", "marker:{17}", "sesame:{dl}:events", "用户",
	} {
		want, err := c.ClusterKeySlot(context.Background(), key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := redisslot.Of(key); got != int(want) {
			t.Errorf("Of(%q) = %d, want %d", key, got, want)
		}
	}
}
