package app

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/exsweep/exsweep/internal/hunt"
	"github.com/exsweep/exsweep/internal/report"
	"github.com/exsweep/exsweep/internal/rules"
)

type huntOptions struct {
	root         string
	logs         []string
	exchangeDirs []string
	iisLogDirs   []string
	eventLogDirs []string
	webRoots     []string
	since, until string
	exploitStart string
	format       string
	output       string
	rulesFile    string
	workers      int
	quarantine   string
	yes          bool
	live         bool
}

func newHuntCmd(e *env) *cobra.Command {
	o := &huntOptions{}
	cmd := &cobra.Command{
		Use:   "hunt",
		Short: "Find web shells, exploitation in the logs, credential dumps and staged archives on an Exchange server",
		Long: `Hunt for the backdoor: patching did not remove it.

Runs on the Exchange server itself (the Windows .exe, --live, the default there when
no --root is given) or on Linux over a triage copy or mounted image laid out like the
Windows volume (--root DIR; the volume as DIR, or KAPE-style DIR/C/… or DIR/C%3A/…).
exsweep finds the Exchange install path, its HttpProxy, ECP, OABGenerator and
CmdletInfra logs, the IIS logs, the event logs, the web roots, ProgramData and temp
folders (each can be given instead with a flag), and reads them without changing
anything.

It reports graded findings (info, probe, attempt, exploited, backdoor) with the CVE,
the evidence (file:line and an excerpt), the time and what to do; one timeline; and
how far back each log source reaches. The verdict is one sentence:
COMPROMISED, ATTACKED, or CLEAN (as far as the logs reach).

The Windows .exe is static (no runtime to install). A Linux build with -tags yara
(cgo, Debian's libyara-dev) runs any YARA rule file through libyara.

Exit codes: 0 clean, 1 findings above info, 2 usage error, 3 some files could not
be read (and nothing above info was found), 130 interrupted.`,
		Example: `  exsweep hunt --root /mnt/exchange-c
  exsweep hunt --root ./triage --format html -o report.html
  exsweep hunt --logs ./HttpProxy --logs ./u_ex210303.log --format json
  exsweep hunt --root /mnt/c --quarantine ./quarantine          # dry run: what would move
  exsweep hunt --root /mnt/c --quarantine ./quarantine --yes    # move the web shells`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.live = o.live || cmd.Flags().Changed("live")
			return runHunt(e, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.root, "root", "", "triage copy or mounted image laid out like the Windows volume")
	f.StringArrayVar(&o.logs, "logs", nil, "loose log files or folders to read as well (repeatable; recognised by content)")
	f.StringArrayVar(&o.exchangeDirs, "exchange-dir", nil, "Exchange install folder (instead of discovery; repeatable)")
	f.StringArrayVar(&o.iisLogDirs, "iis-logs", nil, "IIS log folder (instead of discovery; repeatable)")
	f.StringArrayVar(&o.eventLogDirs, "event-logs", nil, "folder with .evtx files (instead of discovery; repeatable)")
	f.StringArrayVar(&o.webRoots, "webroot", nil, "web root to scan for web shells (instead of discovery; repeatable)")
	f.StringVar(&o.since, "since", "", "ignore records before this time (2021-03-01 or RFC 3339)")
	f.StringVar(&o.until, "until", "", "ignore records after this time")
	f.StringVar(&o.exploitStart, "exploit-start", "2021-01-01", "warn when a log source starts after this date")
	f.StringVar(&o.format, "format", "table", "output: "+strings.Join(report.HuntFormats, ", "))
	f.StringVarP(&o.output, "output", "o", "", "write the report to FILE instead of stdout")
	f.StringVar(&o.rulesFile, "rules", "", "YARA rule file used in addition to the built-in rules")
	f.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "files read in parallel")
	f.StringVar(&o.quarantine, "quarantine", "", "move detected web shells into DIR with a manifest (dry run unless --yes)")
	f.BoolVar(&o.yes, "yes", false, "with --quarantine: really move the files")
	f.BoolVar(&o.live, "live", false, "hunt on this machine (Windows): registry, live paths")
	return cmd
}

func parseTimeFlag(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, usageErrorf("--%s %q: want a date (2021-03-01) or RFC 3339 time", name, s)
}

func runHunt(e *env, o *huntOptions) error {
	valid := false
	for _, f := range report.HuntFormats {
		valid = valid || f == o.format
	}
	if !valid {
		return usageErrorf("--format %q: want %s", o.format, strings.Join(report.HuntFormats, ", "))
	}
	if o.root == "" && len(o.logs) == 0 && len(o.exchangeDirs)+len(o.iisLogDirs)+len(o.eventLogDirs)+len(o.webRoots) == 0 {
		if runtime.GOOS != "windows" {
			return usageErrorf("nothing to hunt in: give --root DIR (a triage copy or mounted image) or --logs PATH")
		}
		o.live = true
	}
	if o.root != "" {
		if st, err := os.Stat(o.root); err != nil || !st.IsDir() {
			return usageErrorf("--root %s: not a readable folder", o.root)
		}
	}
	for _, p := range append(append([]string{}, o.logs...), append(append(o.exchangeDirs, o.iisLogDirs...), append(o.eventLogDirs, o.webRoots...)...)...) {
		if _, err := os.Stat(p); err != nil {
			return usageErrorf("%v", err)
		}
	}
	if o.yes && o.quarantine == "" {
		return usageErrorf("--yes goes with --quarantine DIR")
	}
	if o.workers < 1 || o.workers > 256 {
		return usageErrorf("--workers %d: want 1 to 256", o.workers)
	}
	since, err := parseTimeFlag("since", o.since)
	if err != nil {
		return err
	}
	until, err := parseTimeFlag("until", o.until)
	if err != nil {
		return err
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		return usageErrorf("--until is before --since")
	}
	exploitStart, err := parseTimeFlag("exploit-start", o.exploitStart)
	if err != nil {
		return err
	}
	opts := hunt.Options{Root: o.root, Logs: o.logs, ExchangeDirs: o.exchangeDirs, IISLogDirs: o.iisLogDirs,
		EventLogDirs: o.eventLogDirs, WebRoots: o.webRoots, Since: since, Until: until, ExploitStart: exploitStart,
		Workers: o.workers, Live: o.live}
	if o.rulesFile != "" {
		text, err := os.ReadFile(o.rulesFile)
		if err != nil {
			return usageErrorf("--rules: %v", err)
		}
		srcs := append(rules.BuiltinSources(), rules.Source{Name: o.rulesFile, Text: string(text)})
		eng, err := rules.NewEngine(rules.Options{}, srcs...)
		if err != nil {
			return usageErrorf("--rules: %v", err)
		}
		opts.Rules = eng
	}
	w, closeOut, err := e.openOutput(o.output)
	if err != nil {
		return err
	}
	defer closeOut()

	if e.isTerminal(e.stderr) {
		// Bytes read against bytes planned; workers report running totals,
		// so the bar takes the highest total seen.
		var bar *progressbar.ProgressBar
		var mu sync.Mutex
		var done int64
		opts.Planned = func(files int, bytes int64) {
			mu.Lock()
			bar = progressbar.DefaultBytes(bytes, fmt.Sprintf("hunt: %d files", files))
			mu.Unlock()
		}
		opts.Progress = func(n int64) {
			mu.Lock()
			if bar != nil && n > done {
				bar.Add64(n - done)
				done = n
			}
			mu.Unlock()
		}
		defer func() {
			if bar != nil {
				bar.Finish()
			}
		}()
	}
	ctx, stop := e.interruptContext()
	defer stop()
	rep, err := hunt.Run(ctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			return ErrInterrupted
		}
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if err := report.WriteHunt(w, rep, o.format); err != nil {
		return err
	}
	if o.output != "" {
		fmt.Fprintln(e.stderr, rep.Summary)
	}
	if o.quarantine != "" {
		entries, err := hunt.Quarantine(rep, o.root, o.quarantine, !o.yes, e.now())
		if err != nil {
			return err
		}
		writeQuarantine(e, entries, o)
	}
	switch {
	case rep.Verdict == hunt.VerdictCompromised || rep.Verdict == hunt.VerdictAttacked:
		return ErrFindings
	case rep.Partial:
		return fmt.Errorf("%w: some files could not be read (see the warnings)", ErrPartial)
	}
	return nil
}

func writeQuarantine(e *env, entries []hunt.QuarantineEntry, o *huntOptions) {
	if len(entries) == 0 {
		fmt.Fprintln(e.stderr, "Quarantine: no web shell on disk to move.")
		return
	}
	verb := "would move"
	if o.yes {
		verb = "moved"
	}
	for _, q := range entries {
		if q.Error != "" {
			fmt.Fprintf(e.stderr, "Quarantine: %s NOT moved: %s\n", q.Original, q.Error)
			continue
		}
		fmt.Fprintf(e.stderr, "Quarantine: %s %s (%d bytes, sha256 %s) to %s\n", verb, q.Original, q.Size, q.SHA256, q.Stored)
	}
	if !o.yes {
		b, _ := json.MarshalIndent(entries, "", "  ")
		e.log.Debug("quarantine plan", "manifest", string(b))
		fmt.Fprintln(e.stderr, "Quarantine: dry run; add --yes to move the files (nothing is ever deleted; see manifest.json in the folder)")
	}
}
