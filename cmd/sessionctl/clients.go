package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sesame-go/sesame/clients"
)

// clientsOptions are the flags of `sessionctl clients`.
type clientsOptions struct {
	file string
}

func newClientsCmd() *cobra.Command {
	o := &clientsOptions{}
	cmd := &cobra.Command{
		Use:   "clients",
		Short: "Manage introspection clients: add, remove, list",
		Long: `Manage the clients allowed to call POST /auth/introspect (sessiond
--introspection-clients FILE): API gateways and services that check bearer
tokens. Each authenticates with HTTP Basic, its name and a secret that
sessionctl generates and prints once.

The file holds the SHA-256 of each secret (secrets are 256 random bits, so
a fast hash is safe to store; see package clients) and is written
atomically with mode 0600. A running sessiond picks up changes within a
second, without a restart.`,
	}
	cmd.PersistentFlags().StringVar(&o.file, "clients", os.Getenv("SESAME_INTROSPECTION_CLIENTS"),
		"the clients file (env SESAME_INTROSPECTION_CLIENTS)")
	cmd.AddCommand(newClientsAddCmd(o), newClientsRemoveCmd(o), newClientsListCmd(o))
	return cmd
}

func (o *clientsOptions) path() (string, error) {
	if o.file == "" {
		return "", errors.New("no clients file: give --clients FILE (or set SESAME_INTROSPECTION_CLIENTS)")
	}
	return o.file, nil
}

func newClientsAddCmd(o *clientsOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "add NAME",
		Short: "Add a client and print its generated secret, once",
		Long: `Add a client to the clients file, creating the file if needed, and print
its secret on standard output. The secret is not kept anywhere: store it in
the gateway's configuration now. To replace a secret, remove the client and
add it again.

Names are 1 to 64 lower-case letters, digits and . _ -.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := o.path()
			if err != nil {
				return err
			}
			c, secret, err := clients.Generate(args[0], time.Now())
			if err != nil {
				return err
			}
			if err := clients.Edit(path, func(f *clients.File) error { return f.Add(c) }); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "added client %q to %s; its secret, shown once:\n", c.Name, path)
			fmt.Fprintln(cmd.OutOrStdout(), secret)
			return nil
		},
	}
}

func newClientsRemoveCmd(o *clientsOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a client",
		Long:  `Remove a client. Once sessiond has reloaded the file (within a second), its calls are refused (401).`,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := o.path()
			if err != nil {
				return err
			}
			if _, err := clients.Read(path); err != nil {
				return err // a missing file is not created by a remove
			}
			err = clients.Edit(path, func(f *clients.File) error {
				if !f.Remove(args[0]) {
					return fmt.Errorf("no client %q in %s", args[0], path)
				}
				return nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed client %q from %s\n", args[0], path)
			return nil
		},
	}
}

// clientJSON is what `clients list --json` prints: never the hash.
type clientJSON struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

func newClientsListCmd(o *clientsOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the clients (names and dates, never hashes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := o.path()
			if err != nil {
				return err
			}
			f, err := clients.Read(path)
			if err != nil {
				return err
			}
			out := make([]clientJSON, 0, len(f.Clients))
			for _, c := range f.Clients {
				out = append(out, clientJSON{c.Name, c.Created})
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tCREATED")
			for _, c := range out {
				fmt.Fprintf(tw, "%s\t%s\n", c.Name, c.Created.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}
