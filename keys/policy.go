package keys

import (
	"errors"
	"fmt"
	"time"
)

// RotationPolicy holds the timings of the key lifecycle. The zero value means
// the defaults; every field says its default and how to turn it off.
//
// Every node and every sessionctl invocation that changes a keyset should use
// the same policy. The lifecycle is safe even when they disagree: the
// retention a key gets when it stops signing is stored with it, and pruning
// waits for the longer of that and the pruner's own retention.
type RotationPolicy struct {
	// PublishDelay is how long a pending key is published (in the JWKS and in
	// every node's keyset) before a rotation may make it sign, so that every
	// verifier knows it before the first token it signs arrives. Zero means
	// 10 minutes; a negative value means no delay (tests, single node).
	PublishDelay time.Duration

	// MaxTokenLifetime is the longest lifetime of an access token signed by a
	// key of this keyset. A key that stopped signing keeps verifying for this
	// long plus Leeway, so rotation never cuts a token short. Zero means 1 hour.
	// It must not be shorter than the lifetime the token minter uses.
	MaxTokenLifetime time.Duration

	// Leeway is the clock skew added to MaxTokenLifetime before a verify-only
	// key may be pruned. Zero means 1 minute; a negative value means none.
	Leeway time.Duration

	// RotateEvery is the period of automatic rotation ([Rotator]). Zero means
	// 24 hours; a negative value disables automatic rotation. It must be at
	// least PublishDelay: each rotation activates the key published by the
	// previous one.
	RotateEvery time.Duration

	// JWKSMaxAge is the Cache-Control max-age of the JWKS handler. Zero means
	// half of PublishDelay, at most 1 hour. It must be shorter than
	// PublishDelay: a verifier that cached the JWKS just before a key was
	// published must refresh it before that key signs.
	JWKSMaxAge time.Duration
}

// Defaults of [RotationPolicy].
const (
	DefaultPublishDelay     = 10 * time.Minute
	DefaultMaxTokenLifetime = time.Hour
	DefaultLeeway           = time.Minute
	DefaultRotateEvery      = 24 * time.Hour
)

// withDefaults fills the zero fields in and normalizes "off" to zero.
func (p RotationPolicy) withDefaults() RotationPolicy {
	switch {
	case p.PublishDelay == 0:
		p.PublishDelay = DefaultPublishDelay
	case p.PublishDelay < 0:
		p.PublishDelay = 0
	}
	if p.MaxTokenLifetime == 0 {
		p.MaxTokenLifetime = DefaultMaxTokenLifetime
	}
	switch {
	case p.Leeway == 0:
		p.Leeway = DefaultLeeway
	case p.Leeway < 0:
		p.Leeway = 0
	}
	switch {
	case p.RotateEvery == 0:
		p.RotateEvery = DefaultRotateEvery
	case p.RotateEvery < 0:
		p.RotateEvery = -1
	}
	if p.JWKSMaxAge == 0 {
		p.JWKSMaxAge = min(p.PublishDelay/2, time.Hour).Truncate(time.Second)
	}
	return p
}

// validate rejects a policy (with defaults filled in) that cannot keep the
// lifecycle's promises.
func (p RotationPolicy) validate() error {
	var errs []error
	if p.MaxTokenLifetime < 0 {
		errs = append(errs, fmt.Errorf("MaxTokenLifetime %v is negative", p.MaxTokenLifetime))
	}
	if p.RotateEvery > 0 && p.RotateEvery < p.PublishDelay {
		errs = append(errs, fmt.Errorf("RotateEvery %v is shorter than PublishDelay %v", p.RotateEvery, p.PublishDelay))
	}
	if p.JWKSMaxAge < 0 {
		errs = append(errs, fmt.Errorf("JWKSMaxAge %v is negative", p.JWKSMaxAge))
	}
	if p.PublishDelay > 0 && p.JWKSMaxAge >= p.PublishDelay {
		errs = append(errs, fmt.Errorf("JWKSMaxAge %v is not shorter than PublishDelay %v", p.JWKSMaxAge, p.PublishDelay))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("keys: invalid rotation policy: %w", err)
	}
	return nil
}

// resolve returns the policy with defaults, or an error if it is invalid.
func (p RotationPolicy) resolve() (RotationPolicy, error) {
	p = p.withDefaults()
	return p, p.validate()
}

// retention is how long a key keeps verifying after it stopped signing.
func (p RotationPolicy) retention() time.Duration { return p.MaxTokenLifetime + p.Leeway }

// Validate reports whether the policy, with its defaults filled in, is usable.
func (p RotationPolicy) Validate() error {
	_, err := p.resolve()
	return err
}
