package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sesame-go/sesame/internal/redisurl"
	"github.com/sesame-go/sesame/keys"
)

// rootOptions are the flags every subcommand shares.
type rootOptions struct {
	keyset        string
	masterKeyFile string
}

func newRootCmd() *cobra.Command {
	var o rootOptions
	root := &cobra.Command{
		Use:   "sessionctl",
		Short: "Administer sesame keysets",
		Long: `sessionctl administers a sesame deployment.

The keyset is sealed at rest with a 32-byte master key, read from the
environment variable SESAME_MASTER_KEY (base64) or from --master-key-file.
It is never accepted on the command line, where other users could read it.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// The environment is read when a command runs, not as the flag's default,
	// so that --help never prints a Redis password from SESAME_KEYSET.
	root.PersistentFlags().StringVar(&o.keyset, "keyset", "",
		"where the keyset is stored: file:PATH or a Redis URL as sessiond takes it (redis://, rediss://, redis-sentinel://, redis-cluster://) (default: env SESAME_KEYSET, which keeps a password out of argv)")
	root.PersistentFlags().StringVar(&o.masterKeyFile, "master-key-file", "",
		"file holding the base64 master key (default: env SESAME_MASTER_KEY)")
	root.AddCommand(newKeysCmd(&o))
	root.AddCommand(newUsersCmd())
	root.AddCommand(newClientsCmd())
	root.AddCommand(newSessionsCmd())
	root.AddCommand(newVersionCmd())
	root.AddCommand(newStoreCmd())
	return root
}

// openStore returns the store named by --keyset, sealed with the master key,
// and a function that releases it.
func (o *rootOptions) openStore() (keys.Store, func(), error) {
	spec := o.keyset
	if spec == "" {
		spec = os.Getenv("SESAME_KEYSET")
		o.keyset = spec
	}
	if spec == "" {
		return nil, nil, errors.New("no keyset: give --keyset file:PATH or --keyset redis://HOST:PORT (or set SESAME_KEYSET)")
	}
	mk, err := keys.LoadMasterKey(o.masterKeyFile)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case strings.HasPrefix(spec, "file:"):
		path := strings.TrimPrefix(spec, "file:")
		if path == "" {
			return nil, nil, errors.New("--keyset file: needs a path")
		}
		return keys.NewFileStore(path, mk), func() {}, nil
	case strings.HasPrefix(spec, "redis"):
		// redis://, rediss://, redis-sentinel://, redis-cluster://: the
		// forms sessiond takes.
		c, err := newRedisClient(spec)
		if err != nil {
			return nil, nil, fmt.Errorf("--keyset: %w", err)
		}
		return keys.NewRedisStore(c, mk, nil), func() { c.Close() }, nil
	}
	return nil, nil, fmt.Errorf("--keyset %q: want file:PATH or redis://...", redactURL(spec))
}

// redactURL hides the password of a keyset spec, for messages.
func redactURL(s string) string {
	if strings.HasPrefix(s, "file:") {
		return s
	}
	return redisurl.Redact(s)
}

// quietRedis keeps go-redis's own pool log lines off stderr: sessionctl
// reports each failure once, as one line.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}
