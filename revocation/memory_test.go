package revocation

import "testing"

func TestMemoryContract(t *testing.T) {
	t.Parallel()
	runContract(t, func(t *testing.T, cfg backendConfig) backend {
		s, err := newMemory(&MemoryOptions{EntryTTL: cfg.entryTTL, GraceWindow: cfg.grace,
			ReuseLookback: cfg.lookback, Now: cfg.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		return backend{store: s, indexLen: s.indexLen}
	})
}
