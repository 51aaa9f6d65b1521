package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/revocation"
)

// NewLocal returns a Manager for one process: refresh families and the
// denylist in memory, a keyset in memory (or in cfg.KeyStore, such as a
// keys.NewFileStore), and the key rotator and denylist replica running until
// [Manager.Close]. It returns once the Manager is ready to serve. Sessions
// end with the process. cfg may be nil; its Keys, Store and Denylist must be
// nil (use [New] to give parts).
//
//	m, err := auth.NewLocal(users, nil)
//	defer m.Close()
//	r.Mount("/auth", m.Routes())
func NewLocal[T any](authn Authenticator[T], cfg *Config[T]) (*Manager[T], error) {
	c, err := deploymentConfig(authn, cfg, "NewLocal")
	if err != nil {
		return nil, err
	}
	d := c.withDefaults()
	st, err := revocation.NewMemory(&revocation.MemoryOptions{EntryTTL: d.tokenLife(), Now: c.Now})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	c.Store = st
	if c.KeyStore == nil {
		c.KeyStore = keys.NewMemoryStore(nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return start(ctx, c)
}

// Start returns a Manager over the stores cfg names: the revocation store
// cfg.Store (any backend with a change feed, such as revocation's DynamoDB
// store) and the keyset store cfg.KeyStore, both required. Like [Open], it
// creates the keyset by compare-and-swap if there is none, runs the keyset
// holder, the key rotator and the denylist replica until [Manager.Close],
// and returns once the Manager can serve, or fails when ctx ends first. It
// does not derive cfg.DataKey: give it (masterKey.Derive(DataKeyLabel), as
// Open does) unless the store is in the process. cfg.Keys and cfg.Denylist
// must be nil.
func Start[T any](ctx context.Context, authn Authenticator[T], cfg *Config[T]) (*Manager[T], error) {
	if cfg == nil || cfg.Store == nil || cfg.KeyStore == nil {
		return nil, errors.New("auth: Start needs Config.Store and Config.KeyStore")
	}
	c := *cfg
	store := c.Store
	c.Store = nil
	c, err := deploymentConfig(authn, &c, "Start")
	if err != nil {
		return nil, err
	}
	c.Store = store
	return start(ctx, c)
}

// Open returns a Manager for a fleet sharing one Redis (standalone, Sentinel
// or Cluster, through client): refresh families and the denylist in Redis,
// the keyset in Redis (or in cfg.KeyStore) sealed with mk and created by
// compare-and-swap if there is none, the session data kept with each family
// sealed under a key derived from mk ([DataKeyLabel]), and the keyset
// holder, the key rotator and the denylist replica running until
// [Manager.Close]. Every node opened on the same Redis and master key
// shares the sessions, the keys and the revocations.
//
// Open returns once the keyset is loaded and the replica holds its first
// snapshot, or fails when ctx ends first (Redis unreachable): give ctx a
// deadline. cfg may be nil; its Keys, Store and Denylist must be nil (use
// [New] to give parts); cfg.Redis configures the store.
//
//	mk, err := keys.LoadMasterKey("") // SESAME_MASTER_KEY
//	m, err := auth.Open(ctx, redis.NewClient(opts), mk, users, nil)
//	defer m.Close()
func Open[T any](ctx context.Context, client redis.UniversalClient, mk *keys.MasterKey, authn Authenticator[T], cfg *Config[T]) (*Manager[T], error) {
	if client == nil || mk == nil {
		return nil, errors.New("auth: Open needs a Redis client and a master key")
	}
	c, err := deploymentConfig(authn, cfg, "Open")
	if err != nil {
		return nil, err
	}
	d := c.withDefaults()
	ro := c.Redis
	if ro.EntryTTL == 0 {
		ro.EntryTTL = d.tokenLife()
	}
	if ro.Now == nil {
		ro.Now = c.Now
	}
	st, err := revocation.NewRedis(client, &ro)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	c.Store = st
	if c.DataKey == nil && !c.PlaintextData {
		c.DataKey = mk.Derive(DataKeyLabel)
	}
	if c.KeyStore == nil {
		c.KeyStore = keys.NewRedisStore(client, mk, nil)
	}
	return start(ctx, c)
}

// deploymentConfig copies cfg for NewLocal and Open, which build the parts.
func deploymentConfig[T any](authn Authenticator[T], cfg *Config[T], by string) (Config[T], error) {
	var c Config[T]
	if cfg != nil {
		c = *cfg
	}
	if c.Keys != nil || c.Store != nil || c.Denylist != nil {
		return c, fmt.Errorf("auth: %s builds Config.Keys, Store and Denylist itself: leave them nil, or use New", by)
	}
	if authn == nil {
		return c, fmt.Errorf("auth: %s needs an Authenticator", by)
	}
	c.Authenticator = authn
	return c, nil
}

// start runs the key lifecycle over c.KeyStore and builds the Manager,
// which runs the replica of c.Store; it returns when both are ready.
func start[T any](ctx context.Context, c Config[T]) (*Manager[T], error) {
	d := c.withDefaults()
	policy, err := rotationPolicy(c.Rotation, d.AccessTTL, d.Leeway)
	if err != nil {
		return nil, err
	}
	if err := ensureKeyset(ctx, c.KeyStore, d.Now(), d.Logger); err != nil {
		return nil, err
	}
	holder, err := keys.NewHolder(ctx, c.KeyStore, &keys.HolderOptions{Logger: d.Logger})
	if err != nil {
		return nil, fmt.Errorf("auth: loading the keyset: %w", err)
	}
	var rotator *keys.Rotator
	if policy.RotateEvery >= 0 {
		if rotator, err = keys.NewRotator(c.KeyStore, policy, &keys.RotatorOptions{Logger: d.Logger, Now: c.Now}); err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
	}
	c.Keys = holder
	m, err := New(c)
	if err != nil {
		return nil, err
	}
	m.parts.Keys = holder
	m.run(holder.Run)
	if rotator != nil {
		m.run(rotator.Run)
	}
	select {
	case <-m.parts.Replica.Ready():
	case <-ctx.Done():
		m.Close()
		st := m.parts.Replica.Status()
		return nil, fmt.Errorf("auth: the denylist replica did not load its first snapshot (%s): %w", st.LastError, context.Cause(ctx))
	}
	return m, nil
}

// rotationPolicy derives the key lifecycle from the token lifetimes: a key
// that stopped signing verifies for at least AccessTTL + Leeway, so
// rotation never cuts a token short. A policy that asks for less is
// refused.
func rotationPolicy(p keys.RotationPolicy, accessTTL, leeway time.Duration) (keys.RotationPolicy, error) {
	switch {
	case p.MaxTokenLifetime == 0:
		p.MaxTokenLifetime = accessTTL
	case p.MaxTokenLifetime < accessTTL:
		return p, fmt.Errorf("auth: Config.Rotation.MaxTokenLifetime %v is shorter than Config.AccessTTL %v: keys would stop verifying tokens they signed", p.MaxTokenLifetime, accessTTL)
	}
	switch {
	case p.Leeway == 0 && leeway == 0:
		p.Leeway = -1 // none
	case p.Leeway == 0:
		p.Leeway = leeway
	case p.Leeway < leeway:
		return p, fmt.Errorf("auth: Config.Rotation.Leeway %v is shorter than Config.Leeway %v", max(p.Leeway, 0), leeway)
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("auth: Config.Rotation: %w", err)
	}
	if p.RotateEvery == 0 {
		p.RotateEvery = keys.DefaultRotateEvery
	}
	return p, nil
}

// ensureKeyset creates a keyset in st if there is none. Nodes starting at
// once race safely: compare-and-swap lets one write, and the others use it.
func ensureKeyset(ctx context.Context, st keys.Store, now time.Time, log *slog.Logger) error {
	_, err := st.Load(ctx)
	if !errors.Is(err, keys.ErrNotFound) {
		if err != nil {
			return fmt.Errorf("auth: loading the keyset: %w", err)
		}
		return nil
	}
	ks, err := keys.Init(now)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	switch err := st.CompareAndSwap(ctx, 0, ks); {
	case errors.Is(err, keys.ErrConflict):
		return nil // another node created it first
	case err != nil:
		return fmt.Errorf("auth: creating the keyset: %w", err)
	}
	where := fmt.Sprintf("%T", st)
	if s, ok := st.(fmt.Stringer); ok {
		where = s.String()
	}
	log.Info("auth: no keyset found: created a new one", "store", where, "version", ks.Version())
	return nil
}
