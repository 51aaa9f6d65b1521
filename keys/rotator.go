package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// RotatorOptions configures a [Rotator]. A nil *RotatorOptions means the defaults.
type RotatorOptions struct {
	// CheckInterval is how often the rotator checks whether a rotation is
	// due. Zero means a tenth of RotateEvery, at most 1 minute.
	CheckInterval time.Duration
	// Logger receives a line per rotation and per failed check. Nil means
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Rotator rotates a shared keyset every RotateEvery of its policy. Every node
// of a fleet may run one: a rotation is due when the active key has signed
// for RotateEvery, every node sees the same stored activation time, and the
// store's compare-and-swap lets exactly one node's rotation through; the
// others find the new keyset no longer due. Nodes pick the result up through
// their [Holder]. The rotator also prunes keys whose retention has passed.
//
// A Rotator is safe for concurrent use.
type Rotator struct {
	store    Store
	policy   RotationPolicy
	interval time.Duration
	logger   *slog.Logger
	now      func() time.Time
}

// NewRotator returns a Rotator for store under policy p. It fails if the
// policy is invalid or disables automatic rotation.
func NewRotator(store Store, p RotationPolicy, opts *RotatorOptions) (*Rotator, error) {
	p, err := p.resolve()
	if err != nil {
		return nil, err
	}
	if p.RotateEvery <= 0 {
		return nil, errors.New("keys: automatic rotation is disabled by the policy")
	}
	var o RotatorOptions
	if opts != nil {
		o = *opts
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = min(p.RotateEvery/10, time.Minute)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Rotator{store: store, policy: p, interval: o.CheckInterval, logger: o.Logger, now: o.Now}, nil
}

// rotateIfDue rotates the keyset if its active key has signed for
// RotateEvery, and prunes keys past retention. It reports whether this call
// rotated; false with a nil error means nothing was due or another node
// rotated first.
func (r *Rotator) rotateIfDue(ctx context.Context) (rotated bool, err error) {
	now := r.now()
	var before *Key
	after, err := Update(ctx, r.store, func(cur *Keyset) (*Keyset, error) {
		before, _ = cur.Signer()
		next := cur
		if r.due(cur, now) {
			n, err := cur.Rotate(r.policy, now)
			switch {
			case errors.Is(err, ErrTooEarly):
				// The pending key was replaced recently (revoked); the next
				// check after the publish delay rotates.
				r.logger.Info("keys: rotation due but postponed", "err", err)
			case err != nil:
				return nil, err
			default:
				next = n
			}
		}
		return next.Prune(r.policy, now)
	})
	if err != nil {
		return false, fmt.Errorf("keys: automatic rotation: %w", err)
	}
	signer, _ := after.Signer()
	if signer != before {
		r.logger.Info("keys: rotated", "version", after.Version(), "active", signer.ID(), "previous", before.ID())
		return true, nil
	}
	return false, nil
}

func (r *Rotator) due(ks *Keyset, now time.Time) bool {
	k, err := ks.Signer()
	if err != nil {
		return false
	}
	since := k.Activated()
	if since.IsZero() {
		since = k.Created()
	}
	return !now.Before(since.Add(r.policy.RotateEvery))
}

// Run checks every CheckInterval until ctx ends, then returns nil. Failed
// checks are logged and retried at the next interval.
func (r *Rotator) Run(ctx context.Context) error {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		if _, err := r.rotateIfDue(ctx); err != nil && ctx.Err() == nil {
			r.logger.Warn("keys: rotation check failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
