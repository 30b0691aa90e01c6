package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/exsweep/exsweep/internal/exchange"
	"github.com/exsweep/exsweep/internal/report"
	"github.com/exsweep/exsweep/internal/scan"
	"github.com/exsweep/exsweep/internal/store"
	"github.com/exsweep/exsweep/internal/target"
)

type scanOptions struct {
	cves        string
	inputs      []string
	excludes    []string
	excludeFile string
	ports       string
	resolveAll  bool
	strict      bool

	concurrency int
	rate        float64
	perNetRate  float64
	timeout     time.Duration
	deadline    time.Duration
	retries     int
	noConfirm   bool
	webshells   bool
	maxBody     int64
	userAgent   string

	format   string
	output   string
	db       string
	noStore  bool
	resume   int64
	progress string

	timeoutSet bool
	// preset feeds the scan instead of inputs (rescan of open cases);
	// lastRun receives the stored run id.
	preset  targetSource
	lastRun int64

	lab     int
	labMix  string
	labSeed int64
	labNet  string
}

func newScanCmd(e *env) *cobra.Command { return scanCommand(e, &scanOptions{}) }

// scanCommand is the scan command with its flags bound to o (rescan reuses it).
func scanCommand(e *env, o *scanOptions) *cobra.Command {
	d := scan.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "scan [TARGET...]",
		Short: "Fingerprint Exchange endpoints and decide per CVE whether they are patched",
		Long: `Scan targets for Exchange, fingerprint the exact build with plain GET requests
(no exploit, no SSRF, no payloads), and decide per CVE whether the server is patched.

Targets: IPv4/IPv6 addresses, CIDRs, ranges (192.0.2.1-192.0.2.40 or 192.0.2.1-40),
host names, host:port and https:// URLs, as arguments, from a file (-i FILE) or
stdin (-i -); masscan -oL/-oJ and ZMap output files are recognised. Excludes
(--exclude, --exclude-file) always win. Each ip:port is probed once.

Per endpoint exsweep asks (at most ~5 requests in the common case):
  /owa/                      X-OWA-Version, X-FEServer, redirect to the logon page
  /owa/auth/logon.aspx       the 3-part CU (2013+) or 4-part build (2010) in resource paths
  /ecp/Current/exporttool/…  the eDiscovery manifest: a 4-part build
  /EWS/Exchange.asmx         a 401 that often carries X-OWA-Version
  /ecp/<build>/exporttool/   when only the CU is known: which build of that CU is
                             installed (bounded, newest first; --no-confirm turns it off)
--webshells adds GETs of known web-shell names in the known drop folders, after a
baseline request for a random name (opt-in).

Results stream as one JSON object per endpoint (default when stdout is not a
terminal), CSV, or a table with a summary. Every run is stored in the SQLite file
(--db, default ./exsweep.db) unless --no-store; --resume RUN continues an
interrupted run without probing finished endpoints again. The first Ctrl-C stops
feeding targets, finishes and stores what is in flight; the second aborts.

Exit codes: 0 nothing vulnerable, 1 vulnerable endpoints or web shells found,
2 usage error, 3 some target lines were bad, 130 interrupted.`,
		Example: `  exsweep scan --lab 500                       # scan a simulated lab of 500 servers
  exsweep scan 192.0.2.0/24 mail.example.org --format table
  exsweep scan -i masscan.txt --exclude-file optout.txt -o results.jsonl
  zmap -p 443 198.51.100.0/22 | exsweep scan -i - --rate 500
  exsweep scan --resume 3 -i targets.txt`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.timeoutSet = cmd.Flags().Changed("timeout")
			return runScan(cmd.Context(), e, o, args, cmd.Flags().Changed("per-net-rate"))
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.inputs, "input", "i", nil, "read targets from FILE (- for stdin); repeatable")
	f.StringArrayVar(&o.excludes, "exclude", nil, "exclude these addresses/CIDRs/ranges (comma-separated; repeatable)")
	f.StringVar(&o.excludeFile, "exclude-file", "", "exclude the addresses/CIDRs listed in FILE (opt-out list)")
	f.StringVar(&o.ports, "ports", "443", "ports for targets that name none (comma-separated)")
	f.BoolVar(&o.resolveAll, "resolve-all", false, "scan every address a host name resolves to (default: the first)")
	f.BoolVar(&o.strict, "strict", false, "stop at the first bad target line instead of skipping it")
	f.IntVarP(&o.concurrency, "concurrency", "c", d.Concurrency, "endpoints probed at once")
	f.Float64Var(&o.rate, "rate", 0, "requests per second overall (0: no limit)")
	f.Float64Var(&o.perNetRate, "per-net-rate", d.PerNetRate, "requests per second to one /24 (IPv6 /64); 0: no limit (default 0 with --lab)")
	f.DurationVar(&o.timeout, "timeout", d.Timeout, "timeout per request")
	f.DurationVar(&o.deadline, "deadline", d.Deadline, "time limit per endpoint, all requests together")
	f.IntVar(&o.retries, "retries", d.Retries, "extra attempts after a connection error (never after a response)")
	f.BoolVar(&o.noConfirm, "no-confirm", false, "do not confirm the exact build through /ecp/<build>/exporttool/")
	f.StringVar(&o.cves, "cves", "all", "decide the verdict on these CVEs only: ids and groups ("+strings.Join(exchange.CVEGroups(), ", ")+"), comma-separated")
	f.BoolVar(&o.webshells, "webshells", false, "also GET known web-shell paths (opt-in; GET only, no parameters)")
	f.Int64Var(&o.maxBody, "max-body", d.MaxBody, "bytes read of a logon page at most")
	f.StringVar(&o.userAgent, "user-agent", d.UserAgent, "User-Agent header")
	f.StringVar(&o.format, "format", "", "output: jsonl, csv or table (default: table on a terminal, else jsonl)")
	f.StringVarP(&o.output, "output", "o", "", "write results to FILE instead of stdout")
	f.StringVar(&o.db, "db", store.DefaultPath(), "store: SQLite file path")
	f.BoolVar(&o.noStore, "no-store", false, "do not record the run in the store")
	f.Int64Var(&o.resume, "resume", 0, "continue run RUN: endpoints it already stored are not probed again")
	f.StringVar(&o.progress, "progress", "auto", "progress bar on stderr: auto (on a terminal), always or never")
	f.IntVar(&o.lab, "lab", 0, "start a simulated lab of N servers on loopback and scan it")
	f.StringVar(&o.labMix, "lab-mix", "realistic", "lab population: realistic or all-modes")
	f.Int64Var(&o.labSeed, "lab-seed", 1, "lab random seed (same seed, same lab)")
	f.StringVar(&o.labNet, "lab-network", "127.10.0.0/16", "loopback network the lab servers listen on")
	return cmd
}

func parsePorts(s string) ([]uint16, error) {
	var out []uint16
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, usageErrorf("--ports: %q is not a port number", p)
		}
		out = append(out, uint16(n))
	}
	if len(out) == 0 {
		return nil, usageErrorf("--ports: no port given")
	}
	return out, nil
}

func (e *env) isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

func runScan(ctx context.Context, e *env, o *scanOptions, args []string, perNetSet bool) error {
	e.tuneGC()
	if o.format == "" {
		o.format = "jsonl"
		if o.output == "" && e.isTerminal(e.stdout) {
			o.format = "table"
		}
	}
	if o.format != "jsonl" && o.format != "csv" && o.format != "table" {
		return usageErrorf("--format %q: want jsonl, csv or table", o.format)
	}
	if o.progress != "auto" && o.progress != "always" && o.progress != "never" {
		return usageErrorf("--progress %q: want auto, always or never", o.progress)
	}
	if o.concurrency < 1 || o.concurrency > 100000 {
		return usageErrorf("--concurrency %d: want 1 to 100000", o.concurrency)
	}
	if o.rate < 0 || o.perNetRate < 0 {
		return usageErrorf("--rate and --per-net-rate must not be negative")
	}
	if o.timeout <= 0 || o.deadline <= 0 {
		return usageErrorf("--timeout and --deadline must be positive")
	}
	if o.resume != 0 && o.noStore {
		return usageErrorf("--resume needs the store; drop --no-store")
	}
	if o.lab > 0 && (len(args) > 0 || len(o.inputs) > 0 || o.preset != nil) {
		return usageErrorf("--lab scans the simulated lab only; give no other targets")
	}
	if o.lab > 100000 {
		return usageErrorf("--lab %d: at most 100000 servers", o.lab)
	}
	ports, err := parsePorts(o.ports)
	if err != nil {
		return err
	}
	kb, cves, err := e.loadKBFor(o.cves)
	if err != nil {
		return err
	}

	// Two contexts: feed stops feeding targets at the first Ctrl-C; work aborts
	// in-flight probes at the second.
	workCtx, abort := context.WithCancel(ctx)
	defer abort()
	feedCtx, stopFeeding := context.WithCancel(workCtx)
	defer stopFeeding()
	var interrupted bool
	var interruptMu sync.Mutex
	go func() {
		n := 0
		for {
			select {
			case <-workCtx.Done():
				return
			case <-e.interrupts:
				n++
				interruptMu.Lock()
				interrupted = true
				interruptMu.Unlock()
				if n == 1 {
					e.log.Warn("interrupt: finishing the endpoints in flight and storing them; press Ctrl-C again to abort")
					stopFeeding()
				} else {
					e.log.Warn("second interrupt: aborting")
					abort()
					return
				}
			}
		}
	}()

	// Targets: the lab, or the user's inputs.
	var src targetSource
	var acc *accuracy
	if o.lab > 0 {
		if !perNetSet {
			o.perNetRate = 0 // every lab server shares a few loopback /24s
		}
		lab, err := startLab(workCtx, o)
		if err != nil {
			return err
		}
		defer lab.Close()
		src = lab
		acc = lab.accuracy(o.webshells)
		acc.judge = func(build string) string { // the truth's verdict over --cves
			v, err := exchange.Parse(build)
			if err != nil {
				return ""
			}
			return kb.Lookup(v, e.now()).Only(cves).Verdict()
		}
		if !cmdTimeoutSet(o) {
			// Lab tarpits answer nothing; a short timeout keeps the demo quick.
			o.timeout = 5 * time.Second
		}
		e.log.Info("lab started", "servers", o.lab, "mix", o.labMix, "network", o.labNet)
	} else if o.preset != nil {
		src = o.preset
	} else {
		ts, err := newTargetSource(e, o, args, ports)
		if err != nil {
			return err
		}
		src = ts
	}

	// The store: a run, or the run being resumed.
	var st *store.Store
	var runID int64
	var done *store.EndpointSet
	if !o.noStore {
		st, err = openStore(ctx, o.db)
		if err != nil {
			return err
		}
		defer st.Close()
		if o.resume != 0 {
			run, err := st.GetRun(ctx, o.resume)
			if err != nil {
				return usageErrorf("--resume %d: %v", o.resume, err)
			}
			if run.Status == "done" {
				e.log.Warn("run already finished; probing only endpoints it does not have", "run", run.ID)
			}
			if err := st.ResumeRun(ctx, run.ID); err != nil {
				return err
			}
			done, err = st.DoneEndpoints(ctx, run.ID)
			if err != nil {
				return err
			}
			runID = run.ID
			e.log.Info("resuming", "run", runID, "already_done", done.Len())
		} else {
			argsJSON, _ := json.Marshal(map[string]any{"args": args, "inputs": o.inputs, "ports": o.ports, "lab": o.lab,
				"excludes": o.excludes, "exclude_file": o.excludeFile, "webshells": o.webshells, "confirm": !o.noConfirm})
			runID, err = st.CreateRun(ctx, store.RunInfo{Args: json.RawMessage(argsJSON), KBDate: kb.Date.String(), TargetsTotal: src.Total()})
			if err != nil {
				return err
			}
			e.log.Info("scan run stored", "run", runID, "db", o.db)
		}
		o.lastRun = runID
	}

	out, closeOut, err := e.openOutput(o.output)
	if err != nil {
		return err
	}
	defer closeOut()
	writer, err := report.NewScanWriter(out, o.format)
	if err != nil {
		return usageErrorf("%v", err)
	}

	scanner := scan.New(kb, scan.Options{
		Concurrency: o.concurrency, Rate: o.rate, PerNetRate: o.perNetRate, Timeout: o.timeout, Deadline: o.deadline,
		Retries: o.retries, Confirm: !o.noConfirm, Webshells: o.webshells, UserAgent: o.userAgent, MaxBody: o.maxBody,
		At: e.now(), CVEs: cves,
	})

	// Feed: the source streams targets; resumed endpoints are skipped.
	targets := make(chan target.Target, o.concurrency)
	skipped := 0
	feedErr := make(chan error, 1)
	go func() {
		defer close(targets)
		feedErr <- src.Stream(feedCtx, func(t target.Target) bool {
			if done != nil && done.Has(t.IP, t.Port) {
				skipped++
				return true
			}
			select {
			case targets <- t:
				return true
			case <-feedCtx.Done():
				return false
			}
		})
	}()

	var bar *progressbar.ProgressBar
	if o.progress == "always" || o.progress == "auto" && e.isTerminal(e.stderr) {
		bar = progressbar.NewOptions64(src.Total(), progressbar.OptionSetWriter(e.stderr), progressbar.OptionSetDescription("scan"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("endpoints"),
			progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish())
	}

	var ow *store.ObservationWriter
	if st != nil {
		ow = st.NewObservationWriter(runID, store.BatchOptions{})
	}
	summary := report.NewSummary()
	start := time.Now()
	findings := false
	runErr := scanner.Run(workCtx, targets, func(r scan.Record) error {
		summary.Add(r)
		if acc != nil {
			acc.add(scanRecordView{r})
		}
		if r.Verdict == scan.VerdictVulnerable || len(r.Webshells) > 0 {
			findings = true
		}
		if err := writer.Write(r); err != nil {
			return fmt.Errorf("writing results: %w", err)
		}
		if ow != nil {
			if err := ow.Add(workCtx, observation(r)); err != nil {
				return fmt.Errorf("storing results: %w", err)
			}
		}
		if bar != nil {
			bar.Add(1)
		}
		return nil
	})
	fErr := <-feedErr
	if bar != nil {
		bar.Finish()
	}
	summary.Seconds = time.Since(start).Seconds()
	summary.Requests = scanner.Requests()
	summary.Skipped = skipped
	summary.BadTargets = src.BadLines()

	status := "done"
	interruptMu.Lock()
	wasInterrupted := interrupted
	interruptMu.Unlock()
	if wasInterrupted || ctx.Err() != nil {
		// Ctrl-C, or the caller stopped the scan (a dashboard re-scan when
		// the dashboard shuts down): not every target was probed.
		status = "interrupted"
	}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		status = "failed"
	}
	if fErr != nil && !errors.Is(fErr, context.Canceled) {
		status = "failed"
	}
	// Store with a fresh context: an abort must still commit what was probed.
	storeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if ow != nil {
		if err := ow.Close(storeCtx); err != nil {
			e.log.Error("storing the last results failed", "err", err)
			status = "failed"
		}
		counts, _ := json.Marshal(summary)
		if err := st.FinishRun(storeCtx, runID, status, counts); err != nil {
			e.log.Error("finishing the run failed", "err", err)
		}
	}
	if err := writer.Close(summary); err != nil {
		return err
	}
	if o.format != "table" {
		var sb strings.Builder
		summary.WriteText(&sb)
		for _, line := range strings.Split(strings.TrimSpace(sb.String()), "\n") {
			fmt.Fprintln(e.stderr, line)
		}
	}
	if acc != nil {
		fmt.Fprintf(e.stderr, "Lab check: %d of %d endpoints match the lab's truth (build, exact, verdict, Exchange, reachable)\n", acc.checked-acc.wrong, acc.checked)
		for _, x := range acc.examples {
			fmt.Fprintf(e.stderr, "  mismatch: %s\n", x)
		}
	}
	if runID != 0 {
		fmt.Fprintf(e.stderr, "Stored as run %d in %s", runID, o.db)
		if status == "interrupted" {
			fmt.Fprintf(e.stderr, " (interrupted: continue with --resume %d and the same targets)", runID)
		}
		fmt.Fprintln(e.stderr)
	}

	switch {
	case fErr != nil && !errors.Is(fErr, context.Canceled):
		return fErr
	case runErr != nil && !errors.Is(runErr, context.Canceled):
		return runErr
	case wasInterrupted:
		return ErrInterrupted
	case findings:
		return ErrFindings
	case summary.BadTargets > 0:
		return fmt.Errorf("%w: %d bad target lines skipped", ErrPartial, summary.BadTargets)
	}
	return nil
}

func cmdTimeoutSet(o *scanOptions) bool { return o.timeoutSet }

// observation turns a record into a store row; the full record goes along as JSON.
func observation(r scan.Record) store.Observation {
	raw, _ := json.Marshal(r)
	o := store.Observation{Target: r.Target, Port: uint16(r.Port), Hostname: r.Hostname, Exchange: r.Exchange,
		Product: r.Product, Build: r.Build, BuildExact: r.BuildExact, CU: r.CU, Update: r.Update, Verdict: r.Verdict,
		Error: r.Error, Record: raw, ObservedAt: r.ObservedAt}
	if ip, err := parseAddr(r.IP); err == nil {
		o.IP = ip
	}
	return o
}
