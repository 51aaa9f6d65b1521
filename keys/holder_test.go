package keys

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// flakyStore fails Load while fail is set, and hides any Watcher.
type flakyStore struct {
	Store
	fail atomic.Bool
}

func (f *flakyStore) Load(ctx context.Context) (*Keyset, error) {
	if f.fail.Load() {
		return nil, errors.New("backend down")
	}
	return f.Store.Load(ctx)
}

func rotateIn(t *testing.T, st Store) *Keyset {
	t.Helper()
	ks, err := Update(t.Context(), st, func(cur *Keyset) (*Keyset, error) { return cur.Rotate(noDelay, t0) })
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// Inside a synctest bubble time is fake: time.Sleep only advances the clock
// to the next event, it never waits.

func TestHolderFollowsNotices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := NewMemoryStore(mustInit(t))
		h, err := NewHolder(t.Context(), st, &HolderOptions{PollInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- h.Run(ctx) }()
		synctest.Wait()
		want := rotateIn(t, st)
		synctest.Wait() // no clock advance: the notice alone brings the change
		if got := h.Current(); got != want {
			t.Fatalf("Current = %v, want %v", got, want)
		}
		cancel()
		synctest.Wait()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run returned %v", err)
			}
		default:
			t.Fatal("Run did not return when its context ended")
		}
	})
}

func TestHolderPollsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyset.json")
	mk := testMasterKey(t, 1)
	st := NewFileStore(path, mk)
	if err := st.CompareAndSwap(t.Context(), 0, mustInit(t)); err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		h, err := NewHolder(t.Context(), NewFileStore(path, mk), nil)
		if err != nil {
			t.Fatal(err)
		}
		go h.Run(t.Context())
		synctest.Wait()
		want := rotateIn(t, st)
		time.Sleep(time.Second) // the default poll interval
		synctest.Wait()
		if got := h.Current().Version(); got != want.Version() {
			t.Fatalf("after 1s: version %d, want %d", got, want.Version())
		}
	})
}

func TestHolderKeepsLastGood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := NewMemoryStore(mustInit(t))
		st := &flakyStore{Store: mem}
		h, err := NewHolder(t.Context(), st, &HolderOptions{PollInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		go h.Run(t.Context())
		good := h.Current()

		st.fail.Store(true)
		rotateIn(t, mem)
		time.Sleep(3 * time.Second)
		if h.Current() != good {
			t.Fatal("keyset changed while loads fail")
		}
		s := h.Status()
		if s.LastError == nil || s.Version != good.Version() {
			t.Fatalf("status %+v: want the load error and version %d", s, good.Version())
		}
		if err := h.Reload(t.Context()); err == nil {
			t.Fatal("Reload succeeded while the store fails")
		}

		st.fail.Store(false)
		time.Sleep(time.Second)
		synctest.Wait() // let the poll that fired at this instant finish
		if s := h.Status(); s.LastError != nil || h.Current().Version() != good.Version()+1 {
			t.Fatalf("after recovery: status %+v, version %d", s, h.Current().Version())
		}
	})
}

func TestHolderRefusesRollback(t *testing.T) {
	ctx := t.Context()
	v1 := mustInit(t)
	v2, _ := v1.Revoke(v1.pending().ID(), t0)
	h, err := NewHolder(ctx, NewMemoryStore(v2), nil)
	if err != nil {
		t.Fatal(err)
	}
	h.store = NewMemoryStore(v1) // someone replays an older keyset
	if err := h.Reload(ctx); err == nil {
		t.Fatal("an older keyset was accepted")
	}
	if h.Current() != v2 {
		t.Fatal("holder rolled back")
	}

	// A keyset created from scratch later (storage lost) is newer than any
	// version of the old one, so the node moves to it.
	fresh, err := Init(t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	h.store = NewMemoryStore(fresh)
	if err := h.Reload(ctx); err != nil || h.Current() != fresh {
		t.Fatalf("re-created keyset: %v", err)
	}
}

func TestNewHolderNeedsKeyset(t *testing.T) {
	if _, err := NewHolder(t.Context(), NewMemoryStore(nil), nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
}

// TestRotatorOnePerPeriod runs three nodes' rotators against one store for
// five and a half periods: exactly five rotations must happen.
func TestRotatorOnePerPeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := RotationPolicy{PublishDelay: 10 * time.Minute, MaxTokenLifetime: 24 * time.Hour, RotateEvery: time.Hour}
		ks, err := Init(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		st := NewMemoryStore(ks)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var holders []*Holder
		for range 3 {
			r, err := NewRotator(st, p, &RotatorOptions{CheckInterval: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			go r.Run(ctx)
			h, err := NewHolder(ctx, st, nil)
			if err != nil {
				t.Fatal(err)
			}
			go h.Run(ctx)
			holders = append(holders, h)
		}
		time.Sleep(5*time.Hour + 30*time.Minute)
		synctest.Wait()
		final, _ := st.Load(ctx)
		n := countStates(final)
		if n[VerifyOnly] != 5 || n[Active] != 1 || n[Pending] != 1 {
			t.Fatalf("after 5.5 periods: states %v, want 5 verify-only", n)
		}
		for i, h := range holders {
			if h.Current() != final {
				t.Errorf("node %d is at version %d, want %d", i, h.Current().Version(), final.Version())
			}
		}
	})
}

func TestRotatorRotateIfDue(t *testing.T) {
	now := t0
	p := RotationPolicy{PublishDelay: 10 * time.Minute, RotateEvery: time.Hour}
	st := NewMemoryStore(mustInit(t))
	r, err := NewRotator(st, p, &RotatorOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{{0, false}, {59 * time.Minute, false}, {time.Hour, true}, {time.Hour + time.Second, false}, {2 * time.Hour, true}} {
		now = t0.Add(tc.at)
		got, err := r.rotateIfDue(t.Context())
		if err != nil || got != tc.want {
			t.Errorf("at +%v: rotated=%v err=%v, want %v", tc.at, got, err, tc.want)
		}
	}
	if _, err := NewRotator(st, RotationPolicy{RotateEvery: -1}, nil); err == nil {
		t.Error("NewRotator accepted a policy without automatic rotation")
	}
}

// hangingStore's Load blocks until its context ends, like a Redis that
// accepts connections and never answers.
type hangingStore struct {
	Store
	hang atomic.Bool
}

func (h *hangingStore) Load(ctx context.Context) (*Keyset, error) {
	if h.hang.Load() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return h.Store.Load(ctx)
}

func TestHolderStatusWhileLoadHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &hangingStore{Store: NewMemoryStore(mustInit(t))}
		h, err := NewHolder(t.Context(), st, nil)
		if err != nil {
			t.Fatal(err)
		}
		st.hang.Store(true)
		done := make(chan error)
		go func() { done <- h.Reload(context.Background()) }()
		synctest.Wait()
		v := h.Current().Version()
		if s := h.Status(); s.Version != v || s.LastError != nil { // must not block
			t.Fatalf("status %+v", s)
		}
		if h.Current().Version() != v {
			t.Fatal("no keyset while a load hangs")
		}
		time.Sleep(loadTimeout)
		if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("hung load returned %v, want the %v timeout", err, loadTimeout)
		}
		if h.Status().LastError == nil {
			t.Fatal("timeout not reported")
		}
	})
}
