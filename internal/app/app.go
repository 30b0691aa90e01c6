// Package app wires exsweep's commands: one newXCmd constructor and one runX
// function per subcommand, flags turned into option structs, exit codes decided in
// one switch (exit.go). Nothing here is global; every command gets its streams and
// environment through env.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/exsweep/exsweep/internal/exchange"
	"github.com/exsweep/exsweep/internal/store"
)

// Build metadata, set with -ldflags "-X github.com/exsweep/exsweep/internal/app.version=…".
var (
	version   = "dev"
	commit    = "unknown"
	buildDate = "unknown"
)

// env is what every command receives: its streams, a logger, the environment
// lookup and the global options.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	log            *slog.Logger
	global         *globalOptions
	// interrupts counts Ctrl-C presses: the first drains, the second aborts.
	interrupts <-chan os.Signal
	now        func() time.Time
}

type globalOptions struct {
	logLevel  string
	logFormat string
	kbPath    string
}

// Run runs exsweep with the given arguments (args[0] is the program name) and
// returns the process exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, global: &globalOptions{},
		interrupts: sigs, now: time.Now}
	root := newRootCmd(e)
	if len(args) > 0 {
		args = args[1:]
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err != nil && !errors.Is(err, ErrUsage) && isCobraUsage(err.Error()) {
		err = fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if err != nil && !errors.Is(err, ErrFindings) {
		fmt.Fprintf(stderr, "exsweep: %v\n", err)
		if errors.Is(err, ErrUsage) {
			fmt.Fprintln(stderr, "Run 'exsweep --help' or 'exsweep COMMAND --help' for usage.")
		}
	}
	return exitCode(err)
}

func isCobraUsage(msg string) bool {
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "invalid argument", "flag needs an argument", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "exsweep",
		Short: "Find, fingerprint and track vulnerable and compromised Microsoft Exchange servers",
		Long: `exsweep is the toolkit for responding to mass exploitation of self-hosted
Microsoft Exchange (ProxyLogon, ProxyShell and the waves after them).

  exsweep build 15.1.2176.2        what a build is and which CVEs it is patched against
  exsweep scan 192.0.2.0/24        fingerprint Exchange endpoints without exploiting anything
  exsweep scan --lab 500           scan a built-in simulated lab (no network needed)
  exsweep lab --servers 1000       run the simulated lab in the foreground

Results go to stdout (or -o FILE); logs go to stderr.
Exit codes: 0 nothing found, 1 findings (vulnerable or compromised), 2 usage or
configuration error, 3 partial result (some inputs unreadable), 130 interrupted.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			l, err := newLogger(e.stderr, e.global.logLevel, e.global.logFormat)
			if err != nil {
				return err
			}
			e.log = l
			return nil
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	})
	pf := root.PersistentFlags()
	pf.StringVar(&e.global.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	pf.StringVar(&e.global.logFormat, "log-format", "text", "log format on stderr: text or json")
	pf.StringVar(&e.global.kbPath, "kb", "", "knowledge-base folder or file replacing the embedded one (env EXSWEEP_KB)")

	root.AddCommand(newVersionCmd(e), newBuildCmd(e), newScanCmd(e), newLabCmd(e), newHuntCmd(e), newExportCmd(e),
		newOwnersCmd(e), newCasesCmd(e), newNotifyCmd(e), newRescanCmd(e), newServeCmd(e))
	return root
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErrorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, usageErrorf("--log-format %q: want text or json", format)
	}
}

// loadKB gives the knowledge base: the embedded one, or --kb / EXSWEEP_KB.
func (e *env) loadKB() (*exchange.KB, error) {
	p := e.global.kbPath
	if p == "" {
		p = e.getenv("EXSWEEP_KB")
	}
	if p == "" {
		return exchange.Default(), nil
	}
	kb, err := exchange.LoadPath(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	e.log.Debug("knowledge base loaded", "from", p, "date", kb.Date.String())
	return kb, nil
}

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build date and knowledge-base date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kb, err := e.loadKB()
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "exsweep %s\ncommit: %s\nbuilt: %s\nknowledge base: %s (%s, %d builds, %d CVEs)\n",
				version, commit, buildDate, kb.Date, kb.Origin, len(kb.Builds("")), len(kb.CVEs()))
			return nil
		},
	}
}

// interruptContext is cancelled at the first Ctrl-C, for commands with nothing
// to drain.
func (e *env) interruptContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-e.interrupts:
			e.log.Warn("interrupt: stopping")
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// openOutput gives stdout or the file named by -o; the returned close function
// must be called.
func (e *env) openOutput(path string) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		return e.stdout, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: -o: %v", ErrUsage, err)
	}
	return f, f.Close, nil
}

// probeGCPercent is the garbage collector's target (GOGC) for the commands
// that hold thousands of TLS connections at once, scan and lab. Their live
// heap is small (about 50 MB at 256 connections) and mostly short-lived
// buffers, so collecting at 200% instead of 100% costs ~15 MB and gave
// ~15% more endpoints/s in bench/scan (median 685-719 → 800 on 10,000
// servers). An explicit GOGC in the environment wins.
const probeGCPercent = 200

func (e *env) tuneGC() {
	if e.getenv("GOGC") == "" {
		debug.SetGCPercent(probeGCPercent)
	}
}

// openStore opens the store named by --db; an error is a usage error that
// names the flag (a wrong path or URL is the commonest cause).
func openStore(ctx context.Context, db string) (*store.Store, error) {
	st, err := store.Open(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("%w: --db %s: %v", ErrUsage, db, err)
	}
	return st, nil
}

// loadKBFor loads the knowledge base and the CVE selection of a --cves flag
// (nil: every CVE), for the commands that decide verdicts.
func (e *env) loadKBFor(cvesFlag string) (*exchange.KB, []string, error) {
	kb, err := e.loadKB()
	if err != nil {
		return nil, nil, err
	}
	cves, err := kb.SelectCVEs(cvesFlag)
	if err != nil {
		return nil, nil, usageErrorf("--cves: %v", err)
	}
	return kb, cves, nil
}
