package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sesame-go/sesame/keys"
)

// keysOptions are the flags of `sessionctl keys`: the rotation policy. They
// must match the one sessiond runs with; zero means the library default.
type keysOptions struct {
	*rootOptions
	policy keys.RotationPolicy
}

func newKeysCmd(ro *rootOptions) *cobra.Command {
	o := &keysOptions{rootOptions: ro}
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the signing keyset: init, list, rotate, revoke, prune, jwks",
		Long: `Manage the keyset that signs and seals access tokens.

A key is pending (published, not yet signing), then active (the one key that
signs), then verify-only (until every token it signed has expired), then
pruned. A revoked key stops verifying at once.

The policy flags must match the ones sessiond uses. Every duration is
explicit: 0 means none (no publish delay, no leeway), never "the default".`,
		PersistentPreRunE: func(*cobra.Command, []string) error { return o.resolvePolicy() },
	}
	f := cmd.PersistentFlags()
	f.DurationVar(&o.policy.PublishDelay, "publish-delay", keys.DefaultPublishDelay, "how long a pending key is published before it may sign; 0: none")
	f.DurationVar(&o.policy.MaxTokenLifetime, "max-token-lifetime", keys.DefaultMaxTokenLifetime, "longest access-token lifetime")
	f.DurationVar(&o.policy.Leeway, "leeway", keys.DefaultLeeway, "clock skew allowed on token expiry; 0: none")
	cmd.AddCommand(
		newKeysInitCmd(o),
		newKeysListCmd(o),
		newKeysRotateCmd(o),
		newKeysRevokeCmd(o),
		newKeysPruneCmd(o),
		newKeysJWKSCmd(o),
	)
	return cmd
}

// resolvePolicy turns the flags into a keys.RotationPolicy: on the command
// line 0 means none, which the library spells as a negative duration.
func (o *keysOptions) resolvePolicy() error {
	p := &o.policy
	switch {
	case p.PublishDelay < 0 || p.Leeway < 0:
		return errors.New("--publish-delay and --leeway cannot be negative (0: none)")
	case p.MaxTokenLifetime <= 0:
		return errors.New("--max-token-lifetime must be positive")
	}
	if p.PublishDelay == 0 {
		p.PublishDelay = -1
	}
	if p.Leeway == 0 {
		p.Leeway = -1
	}
	return p.Validate()
}

// update opens the store and applies change with compare-and-swap.
func (o *keysOptions) update(ctx context.Context, change func(*keys.Keyset) (*keys.Keyset, error)) (before, after *keys.Keyset, err error) {
	if err := o.policy.Validate(); err != nil {
		return nil, nil, err
	}
	st, done, err := o.openStore()
	if err != nil {
		return nil, nil, err
	}
	defer done()
	after, err = keys.Update(ctx, st, func(cur *keys.Keyset) (*keys.Keyset, error) {
		before = cur
		return change(cur)
	})
	return before, after, err
}

func (o *keysOptions) load(ctx context.Context) (*keys.Keyset, error) {
	st, done, err := o.openStore()
	if err != nil {
		return nil, err
	}
	defer done()
	return st.Load(ctx)
}

func newKeysInitCmd(o *keysOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Create a new keyset with an active and a pending key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, done, err := o.openStore()
			if err != nil {
				return err
			}
			defer done()
			ks, err := keys.Init(time.Now())
			if err != nil {
				return err
			}
			if err := st.CompareAndSwap(cmd.Context(), 0, ks); err != nil {
				if errors.Is(err, keys.ErrConflict) {
					return fmt.Errorf("a keyset already exists at %s; nothing changed", redactURL(o.keyset))
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "initialized keyset version %d\n", ks.Version())
			return printKeys(cmd.OutOrStdout(), ks, o.policy)
		},
	}
}

// keyView is a key as `keys list --json` prints it.
type keyView struct {
	KID         string     `json:"kid"`
	State       string     `json:"state"`
	Created     time.Time  `json:"created"`
	Activated   *time.Time `json:"activated,omitempty"`
	Deactivated *time.Time `json:"deactivated,omitempty"`
	RetiresAt   *time.Time `json:"retires_at,omitempty"`
}

func viewOf(k *keys.Key, p keys.RotationPolicy) keyView {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	return keyView{
		KID:         k.ID(),
		State:       k.State().String(),
		Created:     k.Created(),
		Activated:   opt(k.Activated()),
		Deactivated: opt(k.Deactivated()),
		RetiresAt:   opt(k.RetirementTime(p)),
	}
}

func printKeys(w io.Writer, ks *keys.Keyset, p keys.RotationPolicy) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tSTATE\tCREATED\tACTIVATED\tRETIRES-AT")
	ts := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Format(time.RFC3339)
	}
	for _, k := range ks.Keys() {
		v := viewOf(k, p)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.KID, v.State, ts(&v.Created), ts(v.Activated), ts(v.RetiresAt))
	}
	return tw.Flush()
}

func newKeysListCmd(o *keysOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the keys: kid, state, created, activated, retires-at",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.policy.Validate(); err != nil {
				return err
			}
			ks, err := o.load(cmd.Context())
			if err != nil {
				return err
			}
			if !asJSON {
				fmt.Fprintf(cmd.OutOrStdout(), "keyset version %d\n", ks.Version())
				return printKeys(cmd.OutOrStdout(), ks, o.policy)
			}
			out := struct {
				Version uint64    `json:"version"`
				Keys    []keyView `json:"keys"`
			}{Version: ks.Version(), Keys: []keyView{}}
			for _, k := range ks.Keys() {
				out.Keys = append(out.Keys, viewOf(k, o.policy))
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newKeysRotateCmd(o *keysOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate",
		Short: "Activate the pending key, demote the active one to verify-only, add a pending key",
		Long: `Rotate activates the pending key, moves the active key to verify-only and
generates a new pending key. Nobody is logged out. It is refused while the
pending key has been published for less than --publish-delay; the error says
when to retry. Safe to run concurrently with other rotations and with
sessiond's automatic rotation: exactly one of them wins.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			before, after, err := o.update(cmd.Context(), func(cur *keys.Keyset) (*keys.Keyset, error) {
				return cur.Rotate(o.policy, time.Now())
			})
			if err != nil {
				return err
			}
			was, _ := before.Signer()
			now, _ := after.Signer()
			fmt.Fprintf(cmd.OutOrStdout(), "rotated: %s is active (was %s), keyset version %d\n", now.ID(), was.ID(), after.Version())
			return nil
		},
	}
}

func newKeysRevokeCmd(o *keysOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "revoke KID",
		Short: "Revoke a key: tokens it signed stop verifying at once",
		Long: `Revoke a key: every token it signed stops verifying as soon as the nodes
reload the keyset (within seconds). Revoking the active key (key compromise)
needs --force: the pending key then signs at once and every session must
refresh its access token.

Generated key ids never start with '-'; an id that does (made by an older
release) must follow "--": sessionctl keys revoke -- -KID`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kid := args[0]
			_, after, err := o.update(cmd.Context(), func(cur *keys.Keyset) (*keys.Keyset, error) {
				if !force {
					next, err := cur.Revoke(kid, time.Now())
					if errors.Is(err, keys.ErrActiveKey) {
						return nil, fmt.Errorf("key %q is the active key: revoking it makes every session refresh; use --force", kid)
					}
					return next, err
				}
				return cur.ForceRevoke(kid, time.Now())
			})
			if err != nil {
				return err
			}
			now, _ := after.Signer()
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s; %s is active, keyset version %d\n", kid, now.ID(), after.Version())
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "allow revoking the active key")
	return cmd
}

func newKeysPruneCmd(o *keysOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "prune",
		Short: "Remove keys whose tokens have all expired",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			before, after, err := o.update(cmd.Context(), func(cur *keys.Keyset) (*keys.Keyset, error) {
				return cur.Prune(o.policy, time.Now())
			})
			if err != nil {
				return err
			}
			n := len(before.Keys()) - len(after.Keys())
			if after == before {
				n = 0
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pruned %d keys, keyset version %d\n", n, after.Version())
			return nil
		},
	}
}

func newKeysJWKSCmd(o *keysOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "jwks",
		Short: "Print the public JWKS (pending, active and verify-only keys)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ks, err := o.load(cmd.Context())
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(ks.JWKS())
		},
	}
}
