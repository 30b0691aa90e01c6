package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/exsweep/exsweep/internal/hunt"
	"github.com/exsweep/exsweep/internal/notify"
	"github.com/exsweep/exsweep/internal/owners"
	"github.com/exsweep/exsweep/internal/report"
	"github.com/exsweep/exsweep/internal/scan"
	"github.com/exsweep/exsweep/internal/store"
)

// ownerFlags are the owner data sources shared by owners, cases and rescan.
type ownerFlags struct {
	constituency  []string
	asnDBs        []string
	rdap          bool
	rdapBootstrap string
	ripestat      bool
	ripestatURL   string
	// cache, when set, keeps RDAP and RIPEstat answers in the store between
	// runs (RIPEstat's under keys of their own, so they do not collide).
	cache owners.Cache
	// lookupErrs counts registry lookups that failed since the last
	// reportLookupErrors (the address then has only local owner data).
	lookupErrs     int
	firstLookupErr error
}

func (f *ownerFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.constituency, "constituency", nil, "constituency file (YAML or CSV): organisations, contacts, CIDRs, ASNs, domains (repeatable)")
	cmd.Flags().StringArrayVar(&f.asnDBs, "asn-db", nil, "IP→ASN data: iptoasn TSV, ip-location-db CSV or MMDB (repeatable)")
	cmd.Flags().BoolVar(&f.rdap, "rdap", false, "ask the registries (RDAP) for the abuse contact of addresses no constituency rule covers (sends those addresses to the RIRs)")
	cmd.Flags().StringVar(&f.rdapBootstrap, "rdap-bootstrap", "", "RDAP bootstrap base URL (default IANA's; for tests and mirrors)")
	cmd.Flags().BoolVar(&f.ripestat, "ripestat", false, "ask RIPEstat's abuse-contact-finder first, before --rdap, for addresses no constituency rule covers (sends those addresses to RIPE NCC)")
	cmd.Flags().StringVar(&f.ripestatURL, "ripestat-url", "", "RIPEstat Data API base URL (default "+owners.DefaultRIPEstatURL+"; for tests and mirrors)")
}

// resolve finds the owner: local data first, then RIPEstat and RDAP when
// asked for.
func (f *ownerFlags) resolve(ctx context.Context, d *owners.Directory, ip netip.Addr, host string) owners.Result {
	if !f.rdap && !f.ripestat {
		return d.Lookup(ip, host)
	}
	r, err := d.Resolve(ctx, ip, host)
	if err != nil {
		f.lookupErrs++
		if f.firstLookupErr == nil {
			f.firstLookupErr = err
		}
		r = d.Lookup(ip, host)
	}
	return r
}

// reportLookupErrors logs, once, how many registry lookups failed since the
// last report: each such address was judged on local owner data only, and
// a CERT must know that some abuse contacts were not asked for.
func (f *ownerFlags) reportLookupErrors(log *slog.Logger) {
	if f.lookupErrs > 0 {
		log.Warn("registry lookups failed; those addresses have only local owner data (constituency, --asn-db)",
			"failures", f.lookupErrs, "first_error", f.firstLookupErr)
	}
	f.lookupErrs, f.firstLookupErr = 0, nil
}

func (f *ownerFlags) directory() (*owners.Directory, error) {
	cfg := owners.Config{}
	if len(f.constituency) > 0 {
		c, err := owners.LoadConstituency(f.constituency...)
		if err != nil {
			return nil, usageErrorf("--constituency: %v", err)
		}
		cfg.Constituency = c
	}
	if len(f.asnDBs) > 0 {
		t, err := owners.LoadASNTable(f.asnDBs...)
		if err != nil {
			return nil, usageErrorf("--asn-db: %v", err)
		}
		cfg.ASNs = t
	}
	if f.rdap {
		c, err := owners.NewRDAPClient(owners.RDAPOptions{BootstrapURL: f.rdapBootstrap, Cache: f.cache})
		if err != nil {
			return nil, usageErrorf("--rdap: %v", err)
		}
		cfg.RDAP = c
	}
	if f.ripestat {
		c, err := owners.NewRIPEstatClient(owners.RIPEstatOptions{BaseURL: f.ripestatURL, Cache: f.cache})
		if err != nil {
			return nil, usageErrorf("--ripestat-url: %v", err)
		}
		cfg.RIPEstat = c
	} else if f.ripestatURL != "" {
		return nil, usageErrorf("--ripestat-url needs --ripestat")
	}
	d, err := owners.New(cfg)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return d, nil
}

func newOwnersCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "owners", Short: "Who owns an address, and why (constituency, IP→ASN data)"}
	f := &ownerFlags{}
	var format string
	lookup := &cobra.Command{
		Use:   "lookup IP...",
		Short: "Show whom each address maps to and which rule decided it",
		Long: `Show whom each address maps to and which rule decided it. Precedence: the most
specific constituency prefix, then a constituency domain (for host names), then a
constituency AS number (needs --asn-db), then, when asked for, RIPEstat's abuse
contact (--ripestat) and the registries' RDAP abuse contact (--rdap), else nobody
(the AS is still shown, for the list of unowned endpoints). --ripestat and --rdap
send the addresses to RIPE NCC and the registries.`,
		Example: `  exsweep owners lookup --constituency constituency.yaml --asn-db ip2asn-v4.tsv 192.0.2.7 2001:db8::1`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := f.directory()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			if format == "table" {
				fmt.Fprintln(tw, "ADDRESS\tOWNER\tTO\tASN\tCOUNTRY\tRULE")
			}
			enc := json.NewEncoder(e.stdout)
			for _, a := range args {
				host := ""
				ip, err := netip.ParseAddr(a)
				if err != nil {
					return usageErrorf("%q is not an IP address", a)
				}
				r := f.resolve(cmd.Context(), d, ip.Unmap(), host)
				if format == "json" {
					enc.Encode(map[string]any{"address": a, "result": r})
					continue
				}
				owner, rule := r.Org.Name, r.Rule
				if !r.Owned() {
					owner, rule = "(nobody)", "no constituency rule matches"
				}
				asn := ""
				if r.ASN > 0 {
					asn = fmt.Sprintf("AS%d %s", r.ASN, r.ASName)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a, owner, strings.Join(r.Org.To, ","), asn, r.Country, rule)
			}
			f.reportLookupErrors(e.log)
			return tw.Flush()
		},
	}
	f.add(lookup)
	lookup.Flags().StringVar(&format, "format", "table", "table or json")
	cmd.AddCommand(lookup)
	return cmd
}

// casesFromRun opens, keeps or closes cases from the observations of one
// scan run: a vulnerable endpoint opens (or keeps) a vulnerable case, a web
// shell a compromised case; an endpoint that the run saw patched closes its
// open cases as remediated (verified by this scan); an unreachable endpoint
// changes nothing, because nothing was verified.
func casesFromRun(ctx context.Context, e *env, st *store.Store, dir *owners.Directory, of *ownerFlags, runID int64) (opened, kept, remediated int, err error) {
	obs, err := st.Observations(ctx, runID, store.ObservationFilter{})
	if err != nil {
		return 0, 0, 0, err
	}
	orgs := map[string]store.Organisation{}
	var known map[netip.AddrPort]string // loaded on the first unknown owner
	var inputs []store.CaseInput
	seenBad := map[netip.AddrPort]bool{}
	patched := map[netip.AddrPort]int64{}
	for _, ob := range obs {
		var r scan.Record
		if len(ob.Record) == 0 || json.Unmarshal(ob.Record, &r) != nil || !ob.IP.IsValid() {
			continue
		}
		ap := netip.AddrPortFrom(ob.IP, ob.Port)
		if r.Exchange && r.Verdict == scan.VerdictPatched && len(r.Webshells) == 0 {
			patched[ap] = ob.ID
			continue
		}
		if !r.Exchange || (r.Verdict != scan.VerdictVulnerable && len(r.Webshells) == 0) {
			continue
		}
		own := of.resolve(ctx, dir, ob.IP, r.Hostname)
		orgKey := ""
		if own.Owned() {
			orgKey = own.Org.Key
			orgs[orgKey] = store.Organisation{Key: own.Org.Key, Name: own.Org.Name, To: own.Org.To, CC: own.Org.CC, Language: own.Org.Language}
		} else if len(of.constituency) == 0 {
			// No constituency was given (a re-scan from a dashboard started
			// without one, or `rescan` without the flag): the endpoint keeps
			// the organisation of its existing cases, so no second, unowned
			// case is opened beside the owned one. With a constituency, its
			// answer stands: a prefix taken out of it is no longer that
			// organisation's.
			if known == nil {
				if known, err = caseOwners(ctx, st); err != nil {
					return 0, 0, 0, err
				}
			}
			orgKey = known[ap]
		}
		base := store.CaseInput{OrgKey: orgKey, ASN: own.ASN, ASName: own.ASName, Country: own.Country, Endpoint: ap, Hostname: r.Hostname,
			ObservationID: ob.ID, RunID: runID, ObservedAt: r.ObservedAt, Actor: "scan"}
		var cves []string
		for _, c := range r.CVEs {
			if c.State == scan.VerdictVulnerable {
				cves = append(cves, c.ID)
			}
		}
		if r.Verdict == scan.VerdictVulnerable {
			in := base
			in.Problem, in.CVEs, in.Severity = store.ProblemVulnerable, cves, notify.Severity(notify.ProblemVulnerable, len(cves))
			inputs = append(inputs, in)
		}
		if len(r.Webshells) > 0 {
			in := base
			in.Problem, in.CVEs, in.Severity = store.ProblemCompromised, cves, notify.Severity(notify.ProblemCompromised, len(cves))
			inputs = append(inputs, in)
		}
		seenBad[ap] = true
	}
	of.reportLookupErrors(e.log)
	for _, o := range orgs {
		if _, err := st.UpsertOrganisation(ctx, o); err != nil {
			return 0, 0, 0, err
		}
	}
	res, err := st.UpsertCases(ctx, inputs)
	if err != nil {
		return 0, 0, 0, err
	}
	for _, r := range res {
		if r.Created || r.Reopened {
			opened++
		} else {
			kept++
		}
	}
	// Close what this run verified as fixed.
	open, err := st.ListCases(ctx, store.CaseFilter{States: []string{store.CaseOpen, store.CaseNotified, store.CasePersisting, store.CaseReopened}})
	if err != nil {
		return opened, kept, 0, err
	}
	var ts []store.CaseTransition
	for _, c := range open {
		if obsID, ok := patched[c.Endpoint]; ok && !seenBad[c.Endpoint] {
			ts = append(ts, store.CaseTransition{CaseID: c.ID, To: store.CaseRemediated, Actor: "rescan", RunID: runID, ObservationID: obsID,
				Reason: fmt.Sprintf("scan run %d saw the endpoint patched", runID)})
		} else if seenBad[c.Endpoint] && c.State == store.CaseNotified {
			ts = append(ts, store.CaseTransition{CaseID: c.ID, To: store.CasePersisting, Actor: "rescan", RunID: runID,
				Reason: fmt.Sprintf("scan run %d still sees the problem after notification", runID)})
		}
	}
	if len(ts) > 0 {
		if err := st.TransitionCases(ctx, ts); err != nil {
			return opened, kept, 0, err
		}
	}
	for _, t := range ts {
		if t.To == store.CaseRemediated {
			remediated++
		}
	}
	return opened, kept, remediated, nil
}

// caseOwners maps every endpoint with an owned case to its organisation
// (the newest case's, if two organisations had one).
func caseOwners(ctx context.Context, st *store.Store) (map[netip.AddrPort]string, error) {
	cs, err := st.ListCases(ctx, store.CaseFilter{})
	if err != nil {
		return nil, err
	}
	out := map[netip.AddrPort]string{}
	newest := map[netip.AddrPort]int64{}
	for _, c := range cs {
		if c.OrgKey != "" && c.ID > newest[c.Endpoint] {
			out[c.Endpoint], newest[c.Endpoint] = c.OrgKey, c.ID
		}
	}
	return out, nil
}

type casesOptions struct {
	db     string
	run    int64
	states []string
	org    string
	format string
	reason string
	ep     string
	owners ownerFlags
}

func newCasesCmd(e *env) *cobra.Command {
	o := &casesOptions{}
	cmd := &cobra.Command{
		Use:   "cases",
		Short: "Track every vulnerable or compromised endpoint until a re-scan verifies it fixed",
		Long: `One case per (organisation, endpoint, problem). Problems: vulnerable (with its CVEs)
and compromised (a web shell seen by the scan, or an imported hunt report).
States: open → notified → remediated (verified by a re-scan) | persisting | reopened,
and accepted (closed by hand with a reason). Every change is kept in the history.`,
	}
	cmd.PersistentFlags().StringVar(&o.db, "db", store.DefaultPath(), "store: SQLite file or postgres:// URL")
	open := func(ctx context.Context) (*store.Store, error) { return openStore(ctx, o.db) }

	sync := &cobra.Command{
		Use:   "sync",
		Short: "Open, keep or close cases from a stored scan run",
		Example: `  exsweep cases sync --constituency constituency.yaml --asn-db ip2asn-v4.tsv
  exsweep cases sync --run 4 --constituency constituency.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := open(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			o.owners.cache = storeRDAPCache{st}
			dir, err := o.owners.directory()
			if err != nil {
				return err
			}
			run, err := pickRun(ctx, st, o.run)
			if err != nil {
				return err
			}
			opened, kept, fixed, err := casesFromRun(ctx, e, st, dir, &o.owners, run)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "run %d: %d cases opened or reopened, %d still open, %d remediated (verified)\n", run, opened, kept, fixed)
			return nil
		},
	}
	o.owners.add(sync)
	sync.Flags().Int64Var(&o.run, "run", 0, "scan run (default: the newest)")

	list := &cobra.Command{
		Use:     "list",
		Short:   "List cases, most severe first",
		Example: `  exsweep cases list --state open --state persisting`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			cs, err := st.ListCases(cmd.Context(), store.CaseFilter{States: o.states, OrgKey: o.org})
			if err != nil {
				return usageErrorf("%v", err)
			}
			if o.format == "json" {
				return json.NewEncoder(e.stdout).Encode(cs)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tPROBLEM\tENDPOINT\tORGANISATION\tCVES\tOPENED\tTICKET")
			for _, c := range cs {
				org := c.OrgKey
				if org == "" {
					org = fmt.Sprintf("(nobody; AS%d %s)", c.ASN, c.ASName)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", c.ID, c.State, c.Problem, c.Endpoint, report.TableSafe(org), len(c.CVEs),
					c.OpenedAt.UTC().Format("2006-01-02"), c.Ticket)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringArrayVar(&o.states, "state", nil, "only cases in this state (repeatable)")
	list.Flags().StringVar(&o.org, "org", "", "only this organisation (its key)")
	list.Flags().StringVar(&o.format, "format", "table", "table or json")

	history := &cobra.Command{
		Use: "history ID", Short: "Show every state change of a case", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usageErrorf("case id %q is not a number", args[0])
			}
			st, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			evs, err := st.CaseHistory(cmd.Context(), id)
			if err != nil {
				return usageErrorf("case %d: %v", id, err)
			}
			for _, ev := range evs {
				fmt.Fprintf(e.stdout, "%s  %-10s → %-10s  %s (%s)\n", ev.At.UTC().Format(time.RFC3339), ev.From, ev.To, ev.Reason, ev.Actor)
			}
			return nil
		},
	}

	closeCmd := &cobra.Command{
		Use: "close ID --reason TEXT", Short: "Close a case as accepted risk, with a reason", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return transition(cmd.Context(), e, open, args[0], store.CaseAccepted, o.reason)
		},
	}
	closeCmd.Flags().StringVar(&o.reason, "reason", "", "why the risk is accepted (required)")
	reopen := &cobra.Command{
		Use: "reopen ID", Short: "Reopen a closed case", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return transition(cmd.Context(), e, open, args[0], store.CaseReopened, o.reason)
		},
	}
	reopen.Flags().StringVar(&o.reason, "reason", "reopened by hand", "why")

	importHunt := &cobra.Command{
		Use:   "import-hunt REPORT.json --endpoint IP:PORT",
		Short: "Attach an exsweep hunt JSON report to its endpoint's case",
		Long: `Attach an exsweep hunt JSON report (exsweep hunt --format json) to the endpoint it
was run on: a COMPROMISED verdict opens (or reopens) a compromised case for that
endpoint's owner; the report's summary becomes the case history entry.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return importHuntReport(cmd.Context(), e, o, open, args[0])
		},
	}
	importHunt.Flags().StringVar(&o.ep, "endpoint", "", "the server's ip:port as the scan saw it (required)")
	o.owners.add(importHunt)

	stats := &cobra.Command{
		Use:   "stats",
		Short: "Time to fix per organisation: cases, still open, remediations, median time to a verified fix",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			rows, err := st.TimeToFix(cmd.Context())
			if err != nil {
				return err
			}
			if o.format == "json" {
				return json.NewEncoder(e.stdout).Encode(rows)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ORGANISATION	CASES	OPEN	REMEDIATED	MEDIAN TIME TO FIX")
			for _, r := range rows {
				org, med := r.OrgKey, "-"
				if org == "" {
					org = "(nobody)"
				}
				if r.Remediations > 0 {
					med = r.Median.Round(time.Minute).String()
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", report.TableSafe(org), r.Cases, r.Open, r.Remediations, med)
			}
			return tw.Flush()
		},
	}
	stats.Flags().StringVar(&o.format, "format", "table", "table or json")
	cmd.AddCommand(sync, list, history, closeCmd, reopen, importHunt, stats)
	return cmd
}

func pickRun(ctx context.Context, st *store.Store, run int64) (int64, error) {
	if run != 0 {
		if _, err := st.GetRun(ctx, run); err != nil {
			return 0, usageErrorf("--run %d: %v", run, err)
		}
		return run, nil
	}
	runs, err := st.ListRuns(ctx, 1)
	if err != nil {
		return 0, err
	}
	if len(runs) == 0 {
		return 0, usageErrorf("the store holds no scan run; run exsweep scan first")
	}
	return runs[0].ID, nil
}

func transition(ctx context.Context, e *env, open func(context.Context) (*store.Store, error), idText, to, reason string) error {
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		return usageErrorf("case id %q is not a number", idText)
	}
	if to == store.CaseAccepted && strings.TrimSpace(reason) == "" {
		return usageErrorf("close needs --reason: say why the risk is accepted")
	}
	st, err := open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := st.TransitionCase(ctx, store.CaseTransition{CaseID: id, To: to, Reason: reason, Actor: "cli"})
	if err != nil {
		return usageErrorf("case %d: %v", id, err)
	}
	fmt.Fprintf(e.stdout, "case %d is now %s\n", c.ID, c.State)
	return nil
}

func importHuntReport(ctx context.Context, e *env, o *casesOptions, open func(context.Context) (*store.Store, error), path string) error {
	ap, err := netip.ParseAddrPort(o.ep)
	if err != nil {
		return usageErrorf("--endpoint %q: want ip:port", o.ep)
	}
	// Read at most one byte over the store's cap: a wrong file (a disk
	// image, a log archive) is refused without being loaded whole.
	f, err := os.Open(path)
	if err != nil {
		return usageErrorf("%v", err)
	}
	b, err := io.ReadAll(io.LimitReader(f, store.MaxHuntReportBytes+1))
	f.Close()
	if err != nil {
		return usageErrorf("%s: %v", path, err)
	}
	if len(b) > store.MaxHuntReportBytes {
		return usageErrorf("%s is larger than %d MiB: not an exsweep hunt JSON report", path, store.MaxHuntReportBytes>>20)
	}
	var rep hunt.Report
	if err := json.Unmarshal(b, &rep); err != nil || rep.Verdict == "" {
		return usageErrorf("%s is not an exsweep hunt JSON report", path)
	}
	dir, err := o.owners.directory()
	if err != nil {
		return err
	}
	st, err := open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	// Every report is kept for the endpoint (the dashboard shows its
	// findings and timeline), whatever the verdict: "clean" is evidence too.
	id, err := st.AddHuntReport(ctx, store.HuntReport{Endpoint: ap, Verdict: rep.Verdict, Summary: rep.Summary,
		Source: filepath.Base(path), Report: b})
	if err != nil {
		return usageErrorf("%s: %v", path, err)
	}
	if rep.Verdict != hunt.VerdictCompromised {
		fmt.Fprintf(e.stdout, "%s: stored as hunt report %d for %s; verdict %s: no compromised case opened\n", path, id, ap, rep.Verdict)
		return nil
	}
	own := o.owners.resolve(ctx, dir, ap.Addr(), "")
	o.owners.reportLookupErrors(e.log)
	in := store.CaseInput{Endpoint: ap, Problem: store.ProblemCompromised, Severity: notify.Severity(notify.ProblemCompromised, 0),
		ASN: own.ASN, ASName: own.ASName, Actor: "hunt: " + truncate(rep.Summary, 200)}
	if own.Owned() {
		in.OrgKey = own.Org.Key
		if _, err := st.UpsertOrganisation(ctx, store.Organisation{Key: own.Org.Key, Name: own.Org.Name, To: own.Org.To, CC: own.Org.CC, Language: own.Org.Language}); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, f := range rep.Findings {
		for _, c := range f.CVE {
			if !seen[c] {
				seen[c] = true
				in.CVEs = append(in.CVEs, c)
			}
		}
	}
	c, created, err := st.UpsertCase(ctx, in)
	if err != nil {
		return usageErrorf("%v", err)
	}
	fmt.Fprintf(e.stdout, "case %d (%s) for %s: %s; created %v; stored as hunt report %d\n", c.ID, c.State, ap, rep.Summary, created, id)
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// storeRDAPCache keeps RDAP contacts in the store between runs (the
// owners.Cache interface), with the owners package's TTLs.
type storeRDAPCache struct{ st *store.Store }

func (c storeRDAPCache) Get(ctx context.Context, p netip.Prefix) (owners.Contact, bool, error) {
	_, data, ok, err := c.st.RDAPCacheGet(ctx, p.Addr(), time.Now())
	if err != nil || !ok {
		return owners.Contact{}, false, err
	}
	var ct owners.Contact
	if err := json.Unmarshal(data, &ct); err != nil {
		return owners.Contact{}, false, nil // a damaged entry is a miss
	}
	return ct, true, nil
}

func (c storeRDAPCache) Put(ctx context.Context, ct owners.Contact) error {
	data, err := json.Marshal(ct)
	if err != nil {
		return err
	}
	ttl := owners.DefaultCacheTTL
	if len(ct.Emails) == 0 {
		ttl = owners.DefaultNegativeTTL
	}
	return c.st.RDAPCachePut(ctx, ct.Prefix, data, ct.Fetched, time.Now().Add(ttl))
}
