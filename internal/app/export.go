package app

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/spf13/cobra"

	"github.com/exsweep/exsweep/internal/report"
	"github.com/exsweep/exsweep/internal/scan"
	"github.com/exsweep/exsweep/internal/store"
)

type exportOptions struct {
	db     string
	run    int64
	format string
	output string
}

func newExportCmd(e *env) *cobra.Command {
	o := &exportOptions{}
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export a stored scan run as IntelMQ events, Shadowserver CSV, a MISP event or a STIX 2.1 bundle",
		Long: `Export the vulnerable and compromised Exchange endpoints of a stored scan run in
the formats CERTs and ISPs ingest:

  intelmq       one IntelMQ event per line (harmonization field names)
  shadowserver  CSV with Shadowserver's scan_exchange columns
  misp          one MISP event (core format) with ip-dst, url, sha256, vulnerability attributes
  stix          a STIX 2.1 bundle (addresses, vulnerabilities, web-shell indicators)

The newest run is exported unless --run is given.`,
		Example: `  exsweep export --format shadowserver -o 2021-03-12-scan_exchange-exsweep.csv
  exsweep export --run 3 --format stix -o run3.stix.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runExport(cmd.Context(), e, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.db, "db", store.DefaultPath(), "store: SQLite file or postgres:// URL")
	f.Int64Var(&o.run, "run", 0, "scan run to export (default: the newest)")
	f.StringVar(&o.format, "format", "intelmq", "one of "+strings.Join(report.ExportFormats, ", "))
	f.StringVarP(&o.output, "output", "o", "", "write to FILE instead of stdout")
	return cmd
}

func runExport(ctx context.Context, e *env, o *exportOptions) error {
	valid := false
	for _, f := range report.ExportFormats {
		valid = valid || f == o.format
	}
	if !valid {
		return usageErrorf("--format %q: want %s", o.format, strings.Join(report.ExportFormats, ", "))
	}
	st, err := openStore(ctx, o.db)
	if err != nil {
		return err
	}
	defer st.Close()
	if o.run == 0 {
		runs, err := st.ListRuns(ctx, 1)
		if err != nil {
			return err
		}
		if len(runs) == 0 {
			return usageErrorf("%s holds no scan run; run exsweep scan first", o.db)
		}
		o.run = runs[0].ID
	} else if _, err := st.GetRun(ctx, o.run); err != nil {
		return usageErrorf("--run %d: %v", o.run, err)
	}
	obs, err := st.Observations(ctx, o.run, store.ObservationFilter{})
	if err != nil {
		return usageErrorf("--run %d: %v", o.run, err)
	}
	var eps []report.Endpoint
	for _, ob := range obs {
		var r scan.Record
		if len(ob.Record) == 0 || json.Unmarshal(ob.Record, &r) != nil {
			continue
		}
		eps = append(eps, report.Endpoint{Record: r})
	}
	w, closeOut, err := e.openOutput(o.output)
	if err != nil {
		return err
	}
	defer closeOut()
	if err := report.WriteExport(w, eps, o.format, e.now()); err != nil {
		return err
	}
	e.log.Info("exported", "run", o.run, "endpoints", len(eps), "format", o.format)
	return nil
}
