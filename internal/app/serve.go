package app

import (
	"context"
	"errors"
	"fmt"
	"os/signal"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/exsweep/exsweep/internal/report"
	"github.com/exsweep/exsweep/internal/store"
	"github.com/exsweep/exsweep/internal/web"
)

type serveOptions struct {
	db       string
	addr     string
	readOnly bool
	newToken string
	tokenRO  bool
	noRescan bool
	owners   ownerFlags // for the re-scans started from the dashboard
}

func newServeCmd(e *env) *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "The dashboard of the response: remediation curve, cases, organisations, endpoints, scans",
		Long: `Serve the dashboard and its JSON API from the store, on 127.0.0.1:8080 unless told
otherwise. The first start creates a login token and prints it once (only its hash
is stored); --new-token NAME prints another (--read-only for a token that cannot
change anything). "exsweep serve tokens list" shows the tokens, "exsweep serve
tokens revoke ID" revokes one at once, also in a running dashboard; when every
token is revoked, serve refuses to start until a new one is made. Every change
needs a CSRF token; the pages run no inline script (Content-Security-Policy
script-src 'self'); everything that came from a scanned server or a log is
escaped. Assets are embedded: it works offline.

The Scans page can start a re-scan of the endpoints of all open cases (read-write
users only, one at a time): the same as "exsweep rescan" with the scan's default
flags and rate limits, in the background, results to the store. It uses the owner
flags given here (--constituency, --asn-db, --rdap, --ripestat); without --constituency an
endpoint keeps the organisation of its existing cases. --no-rescan (or --read-only) removes
the button: the dashboard then never sends a packet.

For a demo without a network: exsweep lab --replay march-2021, then exsweep serve.`,
		Example: `  exsweep lab --replay march-2021 --db demo.db && exsweep serve --db demo.db
  exsweep serve --db postgres://exsweep@db.example/exsweep --addr 127.0.0.1:9090
  exsweep serve --new-token analyst --read-only
  exsweep serve --db cert.db --constituency constituency.yaml --asn-db ip2asn-v4.tsv
  exsweep serve tokens list && exsweep serve tokens revoke 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			st, err := openStore(ctx, o.db)
			if err != nil {
				return err
			}
			defer st.Close()
			if o.newToken != "" {
				tok, err := web.CreateToken(ctx, st, o.newToken, o.tokenRO)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "New token %q (shown once): %s\n", o.newToken, tok)
				return nil
			}
			if _, err := web.EnsureToken(ctx, st, e.stdout); err != nil {
				if errors.Is(err, web.ErrAllTokensRevoked) {
					return usageErrorf("%v: nobody could log in, so the dashboard does not start. Make a token with: exsweep serve --db %s --new-token NAME", err, o.db)
				}
				return err
			}
			opts := web.Options{Addr: o.addr, ReadOnly: o.readOnly, Logger: e.log}
			if !o.noRescan && !o.readOnly {
				dir, err := o.owners.directory()
				if err != nil {
					return err
				}
				job := newRescanJob(ctx, e, o.db, dir, &o.owners)
				defer job.wait() // before the store closes: a running scan stops with ctx
				opts.Rescan = job
			}
			srv, err := web.New(st, opts)
			if err != nil {
				return usageErrorf("%v", err)
			}
			fmt.Fprintf(e.stdout, "Dashboard on http://%s/ (Ctrl-C stops)\n", srv.Addr())
			if err := srv.ListenAndServe(ctx); err != nil && ctx.Err() == nil {
				return usageErrorf("%v", err)
			}
			return nil
		},
	}
	cmd.PersistentFlags().StringVar(&o.db, "db", store.DefaultPath(), "store: SQLite file or postgres:// URL")
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", web.DefaultAddr, "listen address (127.0.0.1 by default: put a TLS proxy in front to share it)")
	f.BoolVar(&o.readOnly, "read-only", false, "the whole dashboard refuses changes; with --new-token: a read-only token")
	f.StringVar(&o.newToken, "new-token", "", "print a new login token with this name and exit")
	f.BoolVar(&o.noRescan, "no-rescan", false, "no re-scan button: the dashboard never starts a scan")
	o.owners.add(cmd)
	cmd.PreRun = func(*cobra.Command, []string) { o.tokenRO = o.readOnly }
	cmd.AddCommand(newServeTokensCmd(e, o))
	return cmd
}

// newServeTokensCmd is `exsweep serve tokens`: list and revoke login tokens.
// They work on the store, not on a running dashboard: the dashboard checks
// on every request that the token behind it is still active, so a
// revocation takes effect there at once, sessions included.
func newServeTokensCmd(e *env, o *serveOptions) *cobra.Command {
	open := func(ctx context.Context) (*store.Store, error) { return openStore(ctx, o.db) }
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "List and revoke the dashboard's login tokens",
		Long: `List the dashboard's login tokens, or revoke one. A revoked token stops working at
once, also in a running dashboard: its API requests get 401 and the browser
sessions it opened are logged out at their next request. Revoked tokens stay in
the list. Make a new token with exsweep serve --new-token NAME [--read-only].`,
		Args: cobra.NoArgs, // "tokens typo" is an unknown command, not help
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	list := &cobra.Command{
		Use:     "list",
		Short:   "List login tokens (never the tokens themselves: only their hashes are stored)",
		Example: `  exsweep serve tokens list --db demo.db`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			toks, err := st.ListWebTokens(cmd.Context())
			if err != nil {
				return err
			}
			if len(toks) == 0 {
				fmt.Fprintln(e.stdout, "No tokens yet: the first start of exsweep serve makes one.")
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tACCESS\tCREATED\tLAST-USED\tREVOKED")
			for _, t := range toks {
				access := "read-write"
				if t.ReadOnly {
					access = "read-only"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, tokenName(t.Name), access,
					tokenTime(t.CreatedAt), tokenTime(t.LastUsedAt), tokenTime(t.RevokedAt))
			}
			return tw.Flush()
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a login token: it stops working at once, its sessions end",
		Example: `  exsweep serve tokens list
  exsweep serve tokens revoke 3`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return usageErrorf("token id %q is not a number (exsweep serve tokens list shows them)", args[0])
			}
			st, err := open(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.RevokeWebToken(ctx, id); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return usageErrorf("no token %d in %s (exsweep serve tokens list shows them)", id, o.db)
				}
				return err
			}
			toks, err := st.ListWebTokens(ctx)
			if err != nil {
				return err
			}
			active := 0
			for _, t := range toks {
				if t.ID == id {
					fmt.Fprintf(e.stdout, "Token %d (%s) revoked at %s; it no longer logs in, and its sessions end at their next request.\n",
						id, tokenName(t.Name), tokenTime(t.RevokedAt))
				}
				if !t.Revoked() {
					active++
				}
			}
			if active == 0 {
				fmt.Fprintf(e.stdout, "No active token is left: exsweep serve will not start until you make one with exsweep serve --db %s --new-token NAME.\n", o.db)
			}
			return nil
		},
	}
	cmd.AddCommand(list, revoke)
	return cmd
}

// tokenName: token names are typed by whoever made the token, and read
// from a database that may be shared: keep them inert on a terminal.
func tokenName(name string) string {
	if name == "" {
		return "-"
	}
	return report.TableSafe(name)
}

func tokenTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
