package app

import (
	"fmt"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/exsweep/exsweep/internal/store"
	"github.com/exsweep/exsweep/internal/web"
)

type serveOptions struct {
	db       string
	addr     string
	readOnly bool
	newToken string
	tokenRO  bool
}

func newServeCmd(e *env) *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "The dashboard of the response: remediation curve, cases, organisations, endpoints, scans",
		Long: `Serve the dashboard and its JSON API from the store, on 127.0.0.1:8080 unless told
otherwise. The first start creates a login token and prints it once (only its hash
is stored); --new-token NAME prints another (--read-only for a token that cannot
change anything). Every change needs a CSRF token; the pages run no inline script
(Content-Security-Policy script-src 'self'); everything that came from a scanned
server or a log is escaped. Assets are embedded: it works offline.

For a demo without a network: exsweep lab --replay march-2021, then exsweep serve.`,
		Example: `  exsweep lab --replay march-2021 --db demo.db && exsweep serve --db demo.db
  exsweep serve --db postgres://exsweep@db.example/exsweep --addr 127.0.0.1:9090
  exsweep serve --new-token analyst --read-only`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			st, err := store.Open(ctx, o.db)
			if err != nil {
				return fmt.Errorf("%w: --db %s: %v", ErrUsage, o.db, err)
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
				return err
			}
			srv, err := web.New(st, web.Options{Addr: o.addr, ReadOnly: o.readOnly, Logger: e.log})
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
	f := cmd.Flags()
	f.StringVar(&o.db, "db", store.DefaultPath(), "store: SQLite file or postgres:// URL")
	f.StringVar(&o.addr, "addr", web.DefaultAddr, "listen address (127.0.0.1 by default: put a TLS proxy in front to share it)")
	f.BoolVar(&o.readOnly, "read-only", false, "the whole dashboard refuses changes; with --new-token: a read-only token")
	f.StringVar(&o.newToken, "new-token", "", "print a new login token with this name and exit")
	cmd.PreRun = func(*cobra.Command, []string) { o.tokenRO = o.readOnly }
	return cmd
}
