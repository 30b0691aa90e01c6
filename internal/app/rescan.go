package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"

	"github.com/spf13/cobra"

	"github.com/exsweep/exsweep/internal/owners"
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
			dir, err := of.directory()
			if err != nil {
				return err
			}
			if o.noStore {
				return usageErrorf("rescan needs the store")
			}
			o.timeoutSet = cmd.Flags().Changed("timeout")
			res, err := rescanOpenCases(cmd.Context(), e, o, dir, of, cmd.Flags().Changed("per-net-rate"), nil)
			if res.endpoints == 0 && err == nil {
				fmt.Fprintln(e.stdout, "No open cases: nothing to rescan.")
				return nil
			}
			if res.runID != 0 {
				fmt.Fprintf(e.stderr, "Rescan run %d: %s\n", res.runID, res.summary())
			}
			return err
		},
	}
	cmd.Flags().AddFlagSet(scanCmd.Flags())
	of.add(cmd)
	return cmd
}

// rescanResult is what one re-scan did.
type rescanResult struct {
	endpoints                int
	runID                    int64
	opened, kept, remediated int
}

func (r rescanResult) summary() string {
	return fmt.Sprintf("%d cases remediated (verified), %d still open, %d opened or reopened", r.remediated, r.kept, r.opened)
}

// rescanOpenCases scans the endpoints of every open case again with the
// scan options o and moves the cases (casesFromRun). onEndpoints, if set,
// learns how many endpoints it scans before the scan starts. A scan that
// found vulnerable endpoints returns ErrFindings with the result, like
// `exsweep scan`; no open case is a zero result and no error.
func rescanOpenCases(ctx context.Context, e *env, o *scanOptions, dir *owners.Directory, of *ownerFlags,
	perNetSet bool, onEndpoints func(int)) (rescanResult, error) {
	var res rescanResult
	st, err := openStore(ctx, o.db)
	if err != nil {
		return res, err
	}
	if demo, err := isReplayStore(ctx, st); err != nil || demo {
		st.Close()
		if err == nil {
			err = usageErrorf("this store holds a simulated response (exsweep lab --replay): its endpoints are not real servers, so there is nothing to re-scan")
		}
		return res, err
	}
	eps, err := st.OpenCaseEndpoints(ctx)
	st.Close()
	if err != nil || len(eps) == 0 {
		return res, err
	}
	res.endpoints = len(eps)
	if onEndpoints != nil {
		onEndpoints(len(eps))
	}
	o.preset = endpointList(eps)
	scanErr := runScan(ctx, e, o, nil, perNetSet)
	if scanErr != nil && !errors.Is(scanErr, ErrFindings) {
		return res, scanErr
	}
	res.runID = o.lastRun
	st, err = store.Open(ctx, o.db)
	if err != nil {
		return res, err
	}
	defer st.Close()
	if res.opened, res.kept, res.remediated, err = casesFromRun(ctx, e, st, dir, of, o.lastRun); err != nil {
		return res, err
	}
	return res, scanErr
}

// isReplayStore reports whether the store's first run is a lab replay: its
// endpoints (198.18.0.0/15) were never real servers, and a re-scan would
// send packets to addresses nobody asked to be scanned.
func isReplayStore(ctx context.Context, st *store.Store) (bool, error) {
	run, err := st.GetRun(ctx, 1)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var args []string
	if json.Unmarshal(run.Args, &args) != nil {
		return false, nil // scan runs store their options as an object
	}
	return len(args) >= 2 && args[0] == "lab" && args[1] == "--replay", nil
}
