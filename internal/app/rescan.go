package app

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/spf13/cobra"

	"github.com/exsweep/exsweep/internal/store"
	"github.com/exsweep/exsweep/internal/target"
)

// endpointList feeds a scan from a fixed list (the open cases).
type endpointList []netip.AddrPort

func (l endpointList) Stream(ctx context.Context, yield func(target.Target) bool) error {
	for _, ap := range l {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !yield(target.Target{IP: ap.Addr(), Port: ap.Port(), Scheme: "https", Origin: "case"}) {
			return ctx.Err()
		}
	}
	return nil
}
func (l endpointList) Total() int64  { return int64(len(l)) }
func (l endpointList) BadLines() int { return 0 }

func newRescanCmd(e *env) *cobra.Command {
	o := &scanOptions{}
	scanCmd := scanCommand(e, o) // reuse every scan flag
	of := &ownerFlags{}
	cmd := &cobra.Command{
		Use:   "rescan",
		Short: "Scan the endpoints of open cases again and move the cases: remediated, persisting, reopened",
		Long: `Scan every endpoint with an open, notified, persisting or reopened case again (all
scan flags apply), store the run, then move the cases: an endpoint now seen
patched is remediated (verified by this scan); one still vulnerable after a
message is persisting; an unreachable endpoint changes nothing.`,
		Example: `  exsweep rescan --constituency constituency.yaml --asn-db ip2asn-v4.tsv`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			dir, err := of.directory()
			if err != nil {
				return err
			}
			if o.noStore {
				return usageErrorf("rescan needs the store")
			}
			st, err := store.Open(ctx, o.db)
			if err != nil {
				return fmt.Errorf("%w: --db %s: %v", ErrUsage, o.db, err)
			}
			eps, err := st.OpenCaseEndpoints(ctx)
			st.Close()
			if err != nil {
				return err
			}
			if len(eps) == 0 {
				fmt.Fprintln(e.stdout, "No open cases: nothing to rescan.")
				return nil
			}
			o.preset = endpointList(eps)
			o.timeoutSet = cmd.Flags().Changed("timeout")
			scanErr := runScan(ctx, e, o, nil, cmd.Flags().Changed("per-net-rate"))
			if scanErr != nil && !errors.Is(scanErr, ErrFindings) {
				return scanErr
			}
			st, err = store.Open(ctx, o.db)
			if err != nil {
				return err
			}
			defer st.Close()
			opened, kept, fixed, err := casesFromRun(ctx, e, st, dir, of, o.lastRun)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "Rescan run %d: %d cases remediated (verified), %d still open, %d opened or reopened\n", o.lastRun, fixed, kept, opened)
			return scanErr
		},
	}
	cmd.Flags().AddFlagSet(scanCmd.Flags())
	of.add(cmd)
	return cmd
}
