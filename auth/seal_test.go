package auth_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/revocation"
)

// TestPayloadSealedAtRest: with a DataKey, nothing of the session data
// reaches Redis in clear, and refresh still restores it.
func TestPayloadSealedAtRest(t *testing.T) {
	srv := redistest.Start(t, nil)
	client := srv.Client()
	store, err := revocation.NewRedis(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	e := newEnv(t, store, func(c *auth.Config[Profile]) { c.DataKey = key })
	b := e.browser()
	if r := e.Do(b, "POST", "/auth/login", `{"username":"alice","password":"alice-pw"}`); r.Status != 200 {
		t.Fatalf("login: %d", r.Status)
	}
	if r := e.Do(b, "POST", "/cart?item=secret-item-42", ""); r.Status != 200 {
		t.Fatalf("cart: %d %s", r.Status, r.Body)
	}
	if r := e.Do(b, "POST", "/auth/refresh", ""); r.Status != 200 {
		t.Fatalf("refresh: %d", r.Status)
	}
	if r := e.Do(b, "POST", "/cart?item=x", ""); r.Body != "secret-item-42,x" {
		t.Fatalf("data lost across refresh: %q", r.Body)
	}
	dump := redisText(t, client)
	for _, clear := range []string{"secret-item-42", "Alice"} {
		if strings.Contains(dump, clear) {
			t.Errorf("Redis holds %q in clear", clear)
		}
	}
	if !strings.Contains(dump, "uid-alice") {
		t.Error("the dump does not even hold the user id: it read nothing")
	}

	// A manager with another key cannot open the data: refresh fails with
	// 500, never silently with empty data.
	other := make([]byte, 32)
	rand.Read(other)
	e2 := newEnv(t, store, func(c *auth.Config[Profile]) { c.DataKey = other })
	tk := e2.LoginAs("bob")
	e3 := newEnv(t, store, func(c *auth.Config[Profile]) { c.DataKey = key })
	if r, _ := e3.Refresh(tk.RefreshToken); r.Status != 500 {
		t.Fatalf("refresh with the wrong DataKey: %d %s", r.Status, r.Body)
	}
}

// redisText returns every value of every key, as text, read by type.
func redisText(t *testing.T, c *redis.Client) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	iter := c.Scan(ctx, 0, "*", 100).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		fmt.Fprintf(&b, "%s ", k)
		var v any
		var err error
		switch typ := c.Type(ctx, k).Val(); typ {
		case "string":
			v, err = c.Get(ctx, k).Result()
		case "hash":
			v, err = c.HGetAll(ctx, k).Result()
		case "set":
			v, err = c.SMembers(ctx, k).Result()
		case "zset":
			v, err = c.ZRangeWithScores(ctx, k, 0, -1).Result()
		case "list":
			v, err = c.LRange(ctx, k, 0, -1).Result()
		case "stream":
			v, err = c.XRange(ctx, k, "-", "+").Result()
		default:
			t.Fatalf("key %q has unexpected type %q", k, typ)
		}
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%v\n", v)
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
