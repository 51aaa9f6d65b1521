package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sesame-go/sesame/users"
)

// usersOptions are the flags of `sessionctl users`.
type usersOptions struct {
	file string
}

func newUsersCmd() *cobra.Command {
	o := &usersOptions{}
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Manage sessiond's users file: add, remove, list",
		Long: `Manage the users file that sessiond checks logins against.

The file holds argon2id password hashes (no plaintext) and is written
atomically with mode 0600. A running sessiond picks up changes within a
second, without a restart. Removing a user refuses their next login, and
the first refresh of any of their sessions then ends all of them; access
tokens already issued last until they expire unless you also run
sessionctl sessions revoke --user NAME.`,
	}
	cmd.PersistentFlags().StringVar(&o.file, "users", os.Getenv("SESAME_USERS"), "the users file (env SESAME_USERS)")
	cmd.AddCommand(newUsersAddCmd(o), newUsersRemoveCmd(o), newUsersListCmd(o))
	return cmd
}

func (o *usersOptions) path() (string, error) {
	if o.file == "" {
		return "", errors.New("no users file: give --users FILE (or set SESAME_USERS)")
	}
	return o.file, nil
}

func newUsersAddCmd(o *usersOptions) *cobra.Command {
	var replace bool
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a user, reading the password from stdin",
		Long: `Add a user to the users file, creating the file if needed.

The password is one line read from standard input. On a terminal it is asked
twice, without echo; otherwise (a pipe, a file) one line is read and there is
no second prompt:

  printf '%s\n' "$PASSWORD" | sessionctl users add alice --users users.json

Names are case-insensitive and stored in lower case: 1 to 64 letters, digits
and . _ @ -. The name is also the user id in sessions.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := o.path()
			if err != nil {
				return err
			}
			name, err := users.CanonicalName(args[0])
			if err != nil {
				return err
			}
			// Fail before asking for a password if the add cannot succeed.
			if !replace {
				if f, err := users.Read(path); err == nil {
					if _, ok := f.Lookup(name); ok {
						return fmt.Errorf("user %q already exists (use --replace to set a new password)", name)
					}
				}
			}
			pw, err := readPassword(cmd)
			if err != nil {
				return err
			}
			u, err := users.NewUser(name, pw, users.Params{}, time.Now())
			if err != nil {
				return err
			}
			if err := users.Edit(path, func(f *users.File) error { return f.Put(u, replace) }); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added user %q to %s\n", u.Name, path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&replace, "replace", false, "set a new password if the user exists")
	return cmd
}

// maxPasswordInput bounds the line read from stdin; longer passwords are
// refused by users.NewUser with a clear message.
const maxPasswordInput = 4096

// readPassword reads the new password: twice without echo from a terminal,
// or one line from anything else.
func readPassword(cmd *cobra.Command) (string, error) {
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		ask := func(prompt string) (string, error) {
			fmt.Fprint(cmd.ErrOrStderr(), prompt)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(cmd.ErrOrStderr())
			if err != nil {
				return "", fmt.Errorf("reading the password: %w", err)
			}
			return string(b), nil
		}
		p1, err := ask("Password: ")
		if err != nil {
			return "", err
		}
		p2, err := ask("Repeat password: ")
		if err != nil {
			return "", err
		}
		if p1 != p2 {
			return "", errors.New("the passwords do not match")
		}
		if p1 == "" {
			return "", errors.New("empty password")
		}
		return p1, nil
	}
	line, err := bufio.NewReader(io.LimitReader(in, maxPasswordInput)).ReadBytes('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	if err == io.EOF && len(line) == maxPasswordInput {
		return "", fmt.Errorf("password line longer than %d bytes", maxPasswordInput)
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		return "", errors.New("empty password: write one line with the password to stdin")
	}
	return string(line), nil
}

func newUsersRemoveCmd(o *usersOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a user",
		Long: `Remove a user from the users file. Once sessiond has reloaded the file
(it checks every second), their logins are refused and the next refresh of
any of their sessions ends them all, access tokens included (401 revoked,
event user_inactive): within the access-token lifetime (--access-ttl, 10m by
default). To end them at once, also run: sessionctl sessions revoke --user NAME`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := o.path()
			if err != nil {
				return err
			}
			name, err := users.CanonicalName(args[0])
			if err != nil {
				return err
			}
			if _, err := users.Read(path); err != nil {
				return err // a missing file is not created by a remove
			}
			err = users.Edit(path, func(f *users.File) error {
				if !f.Remove(name) {
					return fmt.Errorf("no user %q in %s", name, path)
				}
				return nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed user %q from %s\n", name, path)
			return nil
		},
	}
}

// userJSON is what `users list --json` prints: never the hash.
type userJSON struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

func newUsersListCmd(o *usersOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the users (names and dates, never hashes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := o.path()
			if err != nil {
				return err
			}
			f, err := users.Read(path)
			if err != nil {
				return err
			}
			out := make([]userJSON, 0, len(f.Users))
			for _, u := range f.Users {
				out = append(out, userJSON{u.Name, u.Created, u.Updated})
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tCREATED\tUPDATED")
			for _, u := range out {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, u.Created.Format(time.RFC3339), u.Updated.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}
