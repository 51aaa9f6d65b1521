package main

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sesame-go/sesame/internal/redistest"
)

// TestRedisPersistence: a Redis that keeps nothing on disk is named at
// start (WARN), in /readyz?verbose and in metrics, and a data set emptied
// under the running node (a restart without persistence) is a store_reset
// security event and counted. Before, nothing said so (probe finding W6).
func TestRedisPersistence(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		persist    bool
		durability string
	}{
		{"none", false, "none"},
		{"aof", true, "aof"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t, &redistest.Options{Persistence: tc.persist})
			url := "redis://" + srv.Addr() + "/0"
			dir := t.TempDir()
			usersFile := filepath.Join(dir, "users.json")
			addUser(t, usersFile, "alice", "alice-pw")
			p := startSessiond(t, "sessiond", dir, []string{"SESAME_MASTER_KEY=" + testMasterKey, "SESAME_REDIS_URL=" + url,
				"SESAME_KEYSET=" + url, "SESAME_USERS=" + usersFile})

			warned := p.logLine("Redis keeps revocations on no disk: a restart empties it, and nodes started afterwards accept logged-out tokens until they expire; "+
				"turn on appendonly yes (see the README's Redis section)") != nil
			if warned != !tc.persist {
				t.Errorf("start-up warning logged: %v, want %v", warned, !tc.persist)
			}
			m := scrape(t, p)
			if v := value(m, "sesame_redis_durability", "durability", tc.durability); v != 1 {
				t.Errorf("sesame_redis_durability{durability=%q} = %v, want 1", tc.durability, v)
			}
			st, _ := p.do("GET", "/readyz?verbose", "").json(t)["store"].(map[string]any)
			pc, _ := st["persistence"].(map[string]any)
			if pc["durability"] != tc.durability {
				t.Errorf("readyz store.persistence = %v, want durability %s", pc, tc.durability)
			}
			if tc.persist {
				return
			}
			// Redis restarts empty under the running node.
			srv.Restart()
			waitFor(t, 20*time.Second, "the reset to be counted", func() bool {
				return value(scrape(t, p), "sesame_redis_resets_total") == 1
			})
			waitFor(t, 5*time.Second, "the store_reset security event", func() bool {
				return slices.Contains(p.events(), eventStoreReset)
			})
			p.mu.Lock()
			for _, l := range p.logs {
				if l["event"] == eventStoreReset && l["level"] != "ERROR" {
					t.Errorf("store_reset logged at %v, want ERROR", l["level"])
				}
			}
			p.mu.Unlock()
			st, _ = p.do("GET", "/readyz?verbose", "").json(t)["store"].(map[string]any)
			if pc, _ := st["persistence"].(map[string]any); pc["resets"] != float64(1) {
				t.Errorf("readyz after the reset: %v", st)
			}
		})
	}
}
