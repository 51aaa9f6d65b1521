package failover_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/revocation"
	"github.com/sesame-go/sesame/token"
)

// TestRedisMemoryPerKey measures, for docs/capacity.md, Redis memory per refresh
// family (with its user index entry) and per denylist entry (with its
// stream event). SESAME_FAILOVER=1 runs it.
func TestRedisMemoryPerKey(t *testing.T) {
	gate(t)
	srv := redistest.Start(t, nil)
	c := srv.Client()
	ctx := context.Background()
	used := func() int64 {
		info, err := c.Info(ctx, "memory").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(l, "used_memory:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		t.Fatal("no used_memory")
		return 0
	}
	s, err := revocation.NewRedis(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000
	m0 := used()
	var fid string
	sids := make([]string, n)
	for i := range n {
		sids[i] = token.NewSessionID()
		f, _, err := s.CreateFamily(ctx, revocation.NewFamily{SessionID: sids[i], UserID: fmt.Sprintf("user-%07d", i),
			Data: []byte(`{"name":"Alice Example","roles":["user"]}`), AbsoluteExpiry: time.Now().Add(24 * time.Hour), IdleTimeout: time.Hour,
			UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", IP: "203.0.113.7"})
		if err != nil {
			t.Fatal(err)
		}
		fid = f.ID
	}
	m1 := used()
	for i := range n {
		if err := s.RevokeSession(ctx, sids[i]); err != nil {
			t.Fatal(err)
		}
	}
	m2 := used()
	fk, _ := c.MemoryUsage(ctx, "sesame:{"+fid[:2]+"}:fam:"+fid).Result()
	t.Logf("per family (hash + user index): %.0f B (MEMORY USAGE of one family hash %d B); per denylist entry (zset member + stream event): %.0f B",
		float64(m1-m0)/n, fk, float64(m2-m1)/n)
}
