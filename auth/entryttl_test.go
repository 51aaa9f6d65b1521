package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/redistest"
	"github.com/sesame-go/sesame/revocation"
)

// TestAccessTTLOutlivingDenylistRefused: an access token that lives longer
// than its denylist entry would be accepted again after the entry expired,
// so auth.New refuses the combination, on both stores.
func TestAccessTTLOutlivingDenylistRefused(t *testing.T) {
	srv := redistest.Start(t, nil)
	for name, newStore := range map[string]func(entryTTL time.Duration) (revocation.Store, error){
		"memory": func(d time.Duration) (revocation.Store, error) {
			return revocation.NewMemory(&revocation.MemoryOptions{EntryTTL: d})
		},
		"redis": func(d time.Duration) (revocation.Store, error) {
			return revocation.NewRedis(srv.Client(), &revocation.RedisOptions{EntryTTL: d})
		},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := func(store revocation.Store, ttl time.Duration) auth.Config[Profile] {
				rep, err := revocation.NewReplica(store.(revocation.Feed), nil)
				if err != nil {
					t.Fatal(err)
				}
				return auth.Config[Profile]{Keys: testKeys(), Store: store, Denylist: rep,
					Authenticator: auth.AuthenticatorFunc[Profile](authenticate), AccessTTL: ttl, DataKey: testDataKey}
			}
			def, err := newStore(0) // DefaultEntryTTL, 10m30s
			if err != nil {
				t.Fatal(err)
			}
			if _, err := auth.New(cfg(def, time.Hour)); err == nil || !strings.Contains(err.Error(), "EntryTTL") {
				t.Errorf("AccessTTL 1h over EntryTTL 10m30s: got %v, want a refusal naming EntryTTL", err)
			}
			if _, err := auth.New(cfg(def, 10*time.Minute)); err != nil {
				t.Errorf("AccessTTL 10m + leeway 30s = EntryTTL: %v", err)
			}
			long, err := newStore(time.Hour + 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := auth.New(cfg(long, time.Hour)); err != nil {
				t.Errorf("AccessTTL 1h with EntryTTL 1h0m30s: %v", err)
			}
		})
	}
}
