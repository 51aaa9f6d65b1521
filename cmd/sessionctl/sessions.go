package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/internal/redisurl"
	"github.com/sesame-go/sesame/revocation"
	"github.com/sesame-go/sesame/users"
)

// sessionsOptions are the flags of `sessionctl sessions`.
type sessionsOptions struct {
	redisURL  string
	storeURL  string
	accessTTL time.Duration
	// accessTTLSet tells --access-ttl 0 (refused) from no flag (the
	// environment, else the default).
	accessTTLSet bool
	auditLog     string
	asJSON       bool
}

// eventSessionRevokedByAdmin is the audit event of a revocation from
// sessionctl. Nodes see the revocation (through their denylist replica),
// not who made it, so sessionctl records it itself.
const eventSessionRevokedByAdmin = "session_revoked_by_admin"

func newSessionsCmd() *cobra.Command {
	o := &sessionsOptions{}
	cmd := &cobra.Command{
		Use:   "sessions",
		Short: "List and end users' sessions: list, revoke",
		Long: `List and end users' sessions in the revocation store (Redis, or DynamoDB
with --store) that every sessiond node of the deployment shares.

A revocation takes effect on every running node: the refresh family ends at
once (no more refreshes), and each node's denylist replica learns of the
session within its staleness bound (--staleness-bound of sessiond, 5s by
default; typically milliseconds), after which its access tokens are refused.

--access-ttl must be sessiond's (default 10m, env SESAME_ACCESS_TTL, the
variable sessiond reads too): the denylist entries written here must outlive
every access token they revoke.

Each revocation is recorded as one JSON line (event
session_revoked_by_admin) appended to --audit-log, or written to stderr
without it.`,
	}
	f := cmd.PersistentFlags()
	f.StringVar(&o.redisURL, "redis", "", "the revocation store, as sessiond's --redis: redis://[user:password@]host:port/db, rediss://..., redis-sentinel://[user:password@]h1:26379,h2/mastername, redis-cluster://[user:password@]h1:7000,h2:7001 (default: env SESAME_REDIS_URL, which keeps a password out of argv)")
	f.StringVar(&o.storeURL, "store", "", "the revocation store in DynamoDB, as sessiond's --store: dynamodb://TABLE[?region=…&endpoint=URL] (default: env SESAME_STORE)")
	f.DurationVar(&o.accessTTL, "access-ttl", 0, "sessiond's access-token lifetime (default: env SESAME_ACCESS_TTL, else 10m)")
	f.StringVar(&o.auditLog, "audit-log", "", "file to append the audit record of each revocation to (default: env SESAME_AUDIT_LOG, else stderr)")
	f.BoolVar(&o.asJSON, "json", false, "print JSON")
	cmd.PersistentPreRun = func(cmd *cobra.Command, _ []string) { o.accessTTLSet = cmd.Flags().Changed("access-ttl") }
	cmd.AddCommand(newSessionsListCmd(o), newSessionsRevokeCmd(o))
	return cmd
}

// open returns the revocation store named by --redis or --store and a
// function that releases it.
func (o *sessionsOptions) open() (revocation.Store, func(), error) {
	raw := o.redisURL
	if raw == "" {
		raw = os.Getenv("SESAME_REDIS_URL")
	}
	store := storeURL(o.storeURL)
	switch {
	case raw != "" && store != "":
		return nil, nil, errors.New("--redis and --store both name the revocation store: give one")
	case raw == "" && store == "":
		return nil, nil, errors.New("no revocation store: give --redis redis://HOST:PORT/DB or --store dynamodb://TABLE (or set SESAME_REDIS_URL or SESAME_STORE)")
	}
	ttl := o.accessTTL
	if o.accessTTLSet && ttl <= 0 {
		return nil, nil, errors.New("--access-ttl must be positive")
	}
	if ttl == 0 {
		if v := os.Getenv("SESAME_ACCESS_TTL"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, nil, fmt.Errorf("SESAME_ACCESS_TTL %q: %v", v, err)
			}
			ttl = d
		}
	}
	if ttl == 0 {
		ttl = 10 * time.Minute
	}
	if ttl < time.Second {
		return nil, nil, fmt.Errorf("--access-ttl %v is too short", ttl)
	}
	if store != "" {
		st, err := openDynamo(store, auth.Config[any]{AccessTTL: ttl}.EntryTTL())
		return st, func() {}, err
	}
	client, err := newRedisClient(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("--redis: %w", err)
	}
	st, err := revocation.NewRedis(client, &revocation.RedisOptions{EntryTTL: auth.Config[any]{AccessTTL: ttl}.EntryTTL()})
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	return st, func() { client.Close() }, nil
}

// newRedisClient builds a client from a URL in any of the forms sessiond
// takes (internal/redisurl: redis://, rediss://, redis-sentinel://,
// redis-cluster:// and go-redis' query forms), so one URL works for both.
// An administrator wants one prompt answer, so it does not retry.
func newRedisClient(raw string) (redis.UniversalClient, error) {
	o, err := redisurl.Parse(raw)
	if err != nil {
		return nil, err // redisurl's errors never hold the password
	}
	redis.SetLogger(quietRedis{})
	const dial = 3 * time.Second
	switch o.Kind {
	case redisurl.Sentinel:
		o.Failover.MaxRetries, o.Failover.DialTimeout = -1, dial
	case redisurl.Cluster:
		// Redirects stay: a MOVED answer is routing, not a retry.
		o.Cluster.MaxRetries, o.Cluster.DialTimeout = -1, dial
	default:
		o.Standalone.MaxRetries, o.Standalone.DialTimeout, o.Standalone.DialerRetries = -1, dial, 1
	}
	return o.NewClient(), nil
}

// userID is the user id of --user: sessiond's user ids are canonical user
// names (lower case); an id that is not a valid name (another application's)
// is used as given.
func userID(name string) string {
	if n, err := users.CanonicalName(name); err == nil {
		return n
	}
	return name
}

// sessionView is a session as `sessions list --json` prints it. The refresh
// family id is not shown: it names a refresh token's family and is of no
// use to an administrator.
type sessionView struct {
	SID       string    `json:"sid"`
	User      string    `json:"user"`
	Created   time.Time `json:"created"`
	LastUsed  time.Time `json:"last_used"`
	Expires   time.Time `json:"expires"`
	UserAgent string    `json:"user_agent"`
	IP        string    `json:"ip"`
}

func viewSession(f revocation.Family) sessionView {
	return sessionView{
		SID: f.SessionID, User: f.UserID,
		Created: f.Created.UTC(), LastUsed: f.LastUsed.UTC(), Expires: f.Expires().UTC(),
		UserAgent: f.UserAgent, IP: f.IP,
	}
}

func newSessionsListCmd(o *sessionsOptions) *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:   "list --user NAME",
		Short: "List a user's live sessions: sid, created, last used, user agent, IP",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if user == "" {
				return errors.New("sessions list needs --user NAME")
			}
			st, done, err := o.open()
			if err != nil {
				return err
			}
			defer done()
			fams, err := st.ListFamilies(cmd.Context(), userID(user))
			if err != nil {
				return err
			}
			out := make([]sessionView, 0, len(fams))
			for _, f := range fams {
				out = append(out, viewSession(f))
			}
			if o.asJSON {
				return printJSON(cmd.OutOrStdout(), out)
			}
			return printSessions(cmd.OutOrStdout(), out)
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "the user name (user id)")
	return cmd
}

func printSessions(w io.Writer, ss []sessionView) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SID\tCREATED\tLAST-USED\tUSER-AGENT\tIP")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.SID, s.Created.Format(time.RFC3339), s.LastUsed.Format(time.RFC3339),
			dash(printable(s.UserAgent, 60)), dash(printable(s.IP, 45)))
	}
	return tw.Flush()
}

// printable makes client-supplied text (a user agent) safe for a terminal
// table: control characters become '?', and it is cut to n runes.
func printable(s string, n int) string {
	var b strings.Builder
	i := 0
	for _, r := range s {
		if i == n {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\t' {
			r = '?'
		}
		b.WriteRune(r)
		i++
	}
	return b.String()
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// revokeResult is what `sessions revoke --json` prints.
type revokeResult struct {
	User    string   `json:"user"`
	Revoked []string `json:"revoked"` // session ids
	All     bool     `json:"all"`     // every session of the user, and every access token issued so far
}

func newSessionsRevokeCmd(o *sessionsOptions) *cobra.Command {
	var user, sid string
	cmd := &cobra.Command{
		Use:   "revoke (--sid SID | --user NAME [--sid SID])",
		Short: "End one session (--sid) or all of a user's sessions (--user)",
		Long: `End sessions on every node.

  sessionctl sessions revoke --sid SID                 # one session
  sessionctl sessions revoke --user alice              # every session of alice
  sessionctl sessions revoke --user alice --sid SID    # one session, checked to be alice's

With --user alone, each of the user's refresh families is ended (its session
id denylisted), then the user's "revoked before" time is set to now, which
also refuses every access token issued so far, whatever its session.

With --sid, the session's refresh family is ended and its id denylisted.
Without --user the family is found by scanning the store's families (there
is no index from session ids to families): fine for an administrator, slow
on a store with hundreds of millions of sessions — give --user there. A
session id that does not exist (or is not the user's) is an error, and
nothing is changed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if user == "" && sid == "" {
				return errors.New("sessions revoke needs --sid SID or --user NAME")
			}
			st, done, err := o.open()
			if err != nil {
				return err
			}
			defer done()
			uid := ""
			if user != "" {
				uid = userID(user)
			} else {
				f, found, err := st.FindSession(cmd.Context(), sid)
				if err != nil {
					return err
				}
				if !found {
					return fmt.Errorf("no live session %q; nothing changed", sid)
				}
				uid = f.UserID
			}
			res, err := revokeSessions(cmd.Context(), st, uid, sid)
			if err != nil {
				return err
			}
			if err := o.audit(cmd.ErrOrStderr(), res); err != nil {
				return fmt.Errorf("sessions revoked, but the audit record failed: %w", err)
			}
			if o.asJSON {
				return printJSON(cmd.OutOrStdout(), res)
			}
			w := cmd.OutOrStdout()
			switch {
			case !res.All:
				fmt.Fprintf(w, "revoked session %s of user %s\n", sid, uid)
			case len(res.Revoked) == 1:
				fmt.Fprintf(w, "revoked 1 session of user %s, and every access token issued to them so far\n", uid)
			default:
				fmt.Fprintf(w, "revoked %d sessions of user %s, and every access token issued to them so far\n", len(res.Revoked), uid)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "the user name (user id)")
	cmd.Flags().StringVar(&sid, "sid", "", "one session id (from sessions list)")
	return cmd
}

// revokeSessions ends session sid of user uid, or every session of uid when
// sid is empty, as auth's logout-all does: each family is ended (which
// denylists its session id), then the user's revoked-before is set, which
// also catches tokens of sessions that had no family left.
func revokeSessions(ctx context.Context, st revocation.Store, uid, sid string) (revokeResult, error) {
	res := revokeResult{User: uid, Revoked: []string{}, All: sid == ""}
	fams, err := st.ListFamilies(ctx, uid)
	if err != nil {
		return res, err
	}
	for _, f := range fams {
		if sid != "" && f.SessionID != sid {
			continue
		}
		if err := st.RevokeFamily(ctx, f.ID); err != nil {
			return res, fmt.Errorf("revoked %d of %d sessions, then: %w", len(res.Revoked), len(fams), err)
		}
		res.Revoked = append(res.Revoked, f.SessionID)
	}
	if sid != "" {
		if len(res.Revoked) == 0 {
			return res, fmt.Errorf("user %q has no live session %q; nothing changed", uid, sid)
		}
		return res, nil
	}
	if err := st.RevokeAllFamilies(ctx, uid); err != nil {
		return res, fmt.Errorf("revoked %d sessions, but not the user's older access tokens: %w", len(res.Revoked), err)
	}
	return res, nil
}

// audit records a revocation as one JSON line with a stable event name:
// appended to --audit-log (or SESAME_AUDIT_LOG), else written to stderr.
func (o *sessionsOptions) audit(stderr io.Writer, res revokeResult) error {
	path := o.auditLog
	if path == "" {
		path = os.Getenv("SESAME_AUDIT_LOG")
	}
	w := stderr
	if path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	attrs := []slog.Attr{
		slog.String("event", eventSessionRevokedByAdmin),
		slog.String("user_id", res.User),
		slog.Any("sids", res.Revoked),
		slog.Bool("all", res.All),
	}
	if u := osUser(); u != "" {
		attrs = append(attrs, slog.String("admin", u))
	}
	slog.New(slog.NewJSONHandler(w, nil)).LogAttrs(context.Background(), slog.LevelWarn, "security event", attrs...)
	return nil
}

// osUser is the operating-system account running sessionctl, for the audit
// record.
func osUser() string {
	for _, v := range []string{"SUDO_USER", "USER", "LOGNAME"} {
		if u := os.Getenv(v); u != "" {
			return u
		}
	}
	return ""
}
