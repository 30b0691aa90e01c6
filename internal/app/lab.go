package app

import (
	"fmt"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/exsweep/exsweep/internal/lab"
	"github.com/exsweep/exsweep/internal/store"
)

func newLabCmd(e *env) *cobra.Command {
	o := lab.RunOptions{}
	var replay, replayDB string
	var replayScale float64
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Run simulated Exchange servers on loopback (for tests, benchmarks and demos)",
		Long: `Run a lab of simulated Exchange and non-Exchange HTTPS servers on loopback
addresses, in the foreground until Ctrl-C. Each server is parameterised by build
and by the failure modes real networks have (headers stripped, /ecp unpublished,
WAF, TLS 1.0 only, expired certificates, tarpits, resets, garbage, huge bodies,
redirect loops, plain IIS, catch-all 200 sites, planted web shells).

The target list (one ip:port per line) and the truth (one JSON object per server:
what a correct non-intrusive scanner should report) are written to files, so a
scanner in another process, exsweep or any other, can be measured against it.
The lab binds loopback only (127.0.0.0/8 or ::1).`,
		Example: `  exsweep lab --servers 1000 --targets lab.txt --truth truth.jsonl &
  exsweep scan -i lab.txt --per-net-rate 0 --no-store`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			e.tuneGC()
			if replay != "" {
				st, err := openStore(ctx, replayDB)
				if err != nil {
					return err
				}
				defer st.Close()
				if err := lab.Replay(ctx, st, replay, lab.ReplayOptions{Seed: uint64(o.Seed), Scale: replayScale}); err != nil {
					return usageErrorf("--replay: %v", err)
				}
				fmt.Fprintf(e.stdout, "Replayed %s into %s; start the dashboard with: exsweep serve --db %s\n", replay, replayDB, replayDB)
				return nil
			}
			if err := lab.Run(ctx, o, e.stdout); err != nil {
				return usageErrorf("%v", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Servers, "servers", 100, "number of servers")
	f.StringVar(&o.Mix, "mix", lab.MixRealistic, "population: realistic, uniform or all-modes")
	f.Int64Var(&o.Seed, "seed", 1, "random seed (same seed, same lab)")
	f.StringVar(&o.Network, "network", "127.10.0.0/16", "loopback prefix (one address per server) or one address (one port per server)")
	f.IntVar(&o.Port, "port", 443, "TCP port (0: kernel-chosen)")
	f.StringVar(&o.TargetsFile, "targets", "lab-targets.txt", "write the target list here")
	f.StringVar(&o.TruthFile, "truth", "lab-truth.jsonl", "write the expected results here")
	f.StringVar(&replay, "replay", "", "instead of serving: fill the store with a simulated response (march-2021: the real March 2021 curve, scaled down)")
	f.StringVar(&replayDB, "db", store.DefaultPath(), "with --replay: the store to fill (must hold no scan run yet)")
	f.Float64Var(&replayScale, "scale", 0, "with --replay: scale of the published counts (default 1/400, about 1,000 endpoints)")
	return cmd
}
