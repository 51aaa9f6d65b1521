package auth

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sesame-go/sesame/revocation"
)

// staleness notices when the denylist stops vouching for tokens (a stale
// replica under fail-closed, or one that never loaded) and when it vouches
// again, so that a node answering 503s always says so: one WARN line with
// the replica's state and an [EventStale] when it starts, one INFO line and
// an [EventStaleRecovered] when it ends.
//
// The first refused request trips it at once. A denylist with a Status
// method (a revocation.Replica) is also polled, every half staleness bound
// and at most every 250ms, until Close: that notices a trip with no traffic
// (and under fail-open, where nothing is refused), and its end. For other
// denylists, a request that passes the check ends a trip. Start-up, before
// the first snapshot, is a trip only once a request is refused: an idle node
// that is still loading says nothing.
type staleness struct {
	status  func() revocation.ReplicaStatus // nil when the denylist has none
	tripped atomic.Bool
	since   atomic.Int64 // unix ns of the current trip
}

func (s *staleness) init(d Denylist) {
	if st, ok := d.(interface {
		Status() revocation.ReplicaStatus
	}); ok {
		s.status = st.Status
	}
}

// refused is called for every request the denylist refused.
func (s *staleness) refused(m interface{ staleEvent(bool, string) }, err error) {
	if !s.tripped.Load() && s.tripped.CompareAndSwap(false, true) {
		s.since.Store(time.Now().UnixNano())
		m.staleEvent(true, err.Error())
	}
}

// vouched is called when the denylist answered; it ends a trip.
func (s *staleness) vouched(m interface{ staleEvent(bool, string) }) {
	if s.tripped.Load() && s.tripped.CompareAndSwap(true, false) {
		m.staleEvent(false, "")
	}
}

// staleEvent logs and emits the start (tripped) or the end of a trip.
func (m *Manager[T]) staleEvent(tripped bool, cause string) {
	ctx := context.Background()
	var attrs []slog.Attr
	var st revocation.ReplicaStatus
	if m.stale.status != nil {
		st = m.stale.status()
		attrs = append(attrs, slog.String("policy", st.Policy.String()), slog.Float64("lag_seconds", st.Lag.Seconds()),
			slog.Float64("bound_seconds", st.StalenessBound.Seconds()))
		if st.LastError != "" {
			attrs = append(attrs, slog.String("feed_error", st.LastError))
		}
	}
	if !tripped {
		d := time.Duration(time.Now().UnixNano() - m.stale.since.Load())
		m.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "auth: the denylist vouches for tokens again",
			append(attrs, slog.Float64("stale_seconds", d.Seconds()))...)
		m.event(ctx, Event{Kind: EventStaleRecovered})
		return
	}
	msg := "auth: the denylist cannot vouch for tokens: protected routes answer 503 until it can"
	reason := "stale"
	switch {
	case m.stale.status != nil && st.Ready && st.Policy == revocation.FailOpen:
		msg = "auth: the denylist replica is past its staleness bound; under fail-open, tokens are accepted without a current denylist"
	case m.stale.status != nil && !st.Ready:
		// The usual cause is a replica whose Run was never called.
		msg = "auth: the denylist replica has not loaded its first snapshot (is its Run method running? NewLocal and Open run it): protected routes answer 503 until it has"
		reason = "not_loaded"
	}
	m.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, msg, append(attrs, slog.String("cause", cause))...)
	m.event(ctx, Event{Kind: EventStale, Reason: reason})
}

// watchStale polls the denylist's status.
func (m *Manager[T]) watchStale(ctx context.Context) error {
	st := m.stale.status()
	t := time.NewTicker(min(max(st.StalenessBound/2, 10*time.Millisecond), 250*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		switch st := m.stale.status(); {
		case st.Ready && st.Stale:
			m.stale.refused(m, revocation.ErrUnavailable)
		case st.Ready && !st.Stale:
			m.stale.vouched(m)
		}
	}
}
