package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/exsweep/exsweep/internal/exchange"
)

type buildOptions struct {
	format  string
	at      string
	list    bool
	product string
	output  string
	cves    string
}

func newBuildCmd(e *env) *cobra.Command {
	o := &buildOptions{}
	cmd := &cobra.Command{
		Use:   "build VERSION...",
		Short: "Look up Exchange builds: product, CU, update, end of life, and every CVE's state",
		Long: `Look up Exchange build numbers in the knowledge base.

A build may have 3 parts (15.1.2176, the CU as an OWA page shows it) or 4 parts
(15.1.2176.9, the exact build), in short or long form (15.02.0858.005).
For each build exsweep prints the product, CU, update, release date, how the build
was placed (exact, interim, below-cu, cu-only, unknown-cu), end-of-life status at
--at, and per CVE whether the build is patched, vulnerable or undetermined, with
the build that fixes it and the reason.

The verdict is vulnerable if any CVE is, patched if every CVE that a build can
decide is patched, else undetermined. CVE-2024-21410 depends on configuration
(Extended Protection) and never decides the verdict.

Exit code 1 when any looked-up build is vulnerable.`,
		Example: `  exsweep build 15.1.2176.2 15.1.2176.9 15.02.0858.002 15.0.1497
  exsweep build --format json 15.2.1544.11
  exsweep build --list --product 2016
  exsweep build --at 2021-03-01 14.3.513.0
  exsweep build --cves proxylogon 15.1.2176.9   # patched for March 2021, whatever came later`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBuild(e, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.format, "format", "table", "output format: table or json")
	f.StringVar(&o.at, "at", "", "judge end of life at this date (YYYY-MM-DD; default today)")
	f.BoolVar(&o.list, "list", false, "list the build table instead of looking up builds")
	f.StringVar(&o.product, "product", "", "with --list: only this product (2010, 2013, 2016, 2019, SE)")
	f.StringVarP(&o.output, "output", "o", "", "write results to this file instead of stdout")
	f.StringVar(&o.cves, "cves", "all", "decide the verdict on these CVEs only: ids and groups ("+strings.Join(exchange.CVEGroups(), ", ")+"), comma-separated")
	return cmd
}

func runBuild(e *env, o *buildOptions, args []string) error {
	if o.format != "table" && o.format != "json" {
		return usageErrorf("--format %q: want table or json", o.format)
	}
	at := e.now()
	if o.at != "" {
		t, err := time.Parse("2006-01-02", o.at)
		if err != nil {
			return usageErrorf("--at %q: want a date like 2021-03-02", o.at)
		}
		at = t
	}
	if !o.list && len(args) == 0 {
		return usageErrorf("build needs at least one VERSION (or --list)")
	}
	if o.list && len(args) > 0 {
		return usageErrorf("--list takes no VERSION arguments")
	}
	kb, cves, err := e.loadKBFor(o.cves)
	if err != nil {
		return err
	}
	w, closeOut, err := e.openOutput(o.output)
	if err != nil {
		return err
	}
	defer closeOut()
	if o.list {
		return listBuilds(w, kb, o)
	}

	var results []exchange.Result
	var bad []error
	for _, a := range args {
		v, err := exchange.Parse(a)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		r := kb.Lookup(v, at).Only(cves)
		r.Input = a
		results = append(results, r)
	}
	switch o.format {
	case "json":
		type out struct {
			exchange.Result
			Verdict string `json:"verdict"`
		}
		enc := json.NewEncoder(w)
		for _, r := range results {
			if err := enc.Encode(out{r, r.Verdict()}); err != nil {
				return err
			}
		}
	default:
		writeBuildTable(w, results)
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %v", ErrUsage, errors.Join(bad...))
	}
	for _, r := range results {
		if r.Verdict() == exchange.StateVulnerable {
			return ErrFindings
		}
	}
	return nil
}

func writeBuildTable(w io.Writer, results []exchange.Result) {
	for i, r := range results {
		if i > 0 {
			fmt.Fprintln(w)
		}
		name := strings.TrimSpace(r.Product + " " + r.CU + " " + r.Update)
		if name == "" {
			name = "unknown"
		}
		fmt.Fprintf(w, "%s  %s\n", r.Version, name)
		fmt.Fprintf(w, "  verdict:  %s\n", strings.ToUpper(r.Verdict()))
		fmt.Fprintf(w, "  match:    %s: %s\n", r.Match, r.Reason)
		if r.Released != "" {
			fmt.Fprintf(w, "  released: %s\n", r.Released)
		}
		if r.EndOfSupport != "" {
			state := "supported"
			if r.EndOfLife {
				state = "END OF LIFE"
			}
			fmt.Fprintf(w, "  support:  %s (extended support ends %s)\n", state, r.EndOfSupport)
		}
		if len(r.CVEs) == 0 {
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  CVE\tSTATE\tFIXED IN\tREASON")
		for _, c := range r.CVEs {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.ID, c.State, c.FixedIn, c.Reason)
		}
		tw.Flush()
	}
}

func listBuilds(w io.Writer, kb *exchange.KB, o *buildOptions) error {
	builds := kb.Builds(o.product)
	if len(builds) == 0 {
		return usageErrorf("--product %q matches no builds (try 2010, 2013, 2016, 2019 or SE)", o.product)
	}
	if o.format == "json" {
		enc := json.NewEncoder(w)
		for _, b := range builds {
			if err := enc.Encode(b); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BUILD\tPRODUCT\tCU\tUPDATE\tRELEASED\tKIND\tORIGIN")
	for _, b := range builds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.Version, b.Product, b.CU, b.Update, b.Released, b.Kind, b.Origin)
	}
	return tw.Flush()
}
