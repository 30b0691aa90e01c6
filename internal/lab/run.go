package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// WriteTargets writes one "ip:port" per line, in config order: the input for
// `exsweep scan -i`.
func (l *Lab) WriteTargets(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, t := range l.Targets() {
		bw.WriteString(t)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// WriteTruth writes one Expectation per line as JSON (JSONL), in config order.
func (l *Lab) WriteTruth(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, e := range l.Expectations() {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// RunOptions configures Run (the `exsweep lab` command).
type RunOptions struct {
	Servers int    // number of servers (default 100)
	Mix     string // "realistic" (default), "uniform" or "all-modes"
	Seed    int64  // mix and per-server randomness (default 1)
	Network string // Options.Network (default "127.0.0.1")
	Port    int    // Options.Port
	// TargetsFile and TruthFile receive WriteTargets and WriteTruth output when
	// not empty ("-" is stdout).
	TargetsFile string
	TruthFile   string
}

// Run starts a lab, writes the targets and truth files, prints a summary to
// stdout and serves until ctx is cancelled. It returns nil after a clean stop.
func Run(ctx context.Context, opts RunOptions, stdout io.Writer) error {
	if opts.Servers == 0 {
		opts.Servers = 100
	}
	if opts.Mix == "" {
		opts.Mix = MixRealistic
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	servers, err := Mix(opts.Servers, opts.Seed, opts.Mix)
	if err != nil {
		return err
	}
	start := time.Now()
	l, err := Start(ctx, servers, Options{Network: opts.Network, Port: opts.Port, Seed: opts.Seed})
	if err != nil {
		return err
	}
	defer l.Close()
	for _, f := range []struct {
		path  string
		write func(io.Writer) error
	}{{opts.TargetsFile, l.WriteTargets}, {opts.TruthFile, l.WriteTruth}} {
		if err := writeFile(f.path, stdout, f.write); err != nil {
			return err
		}
	}
	summary(stdout, l, opts, time.Since(start))
	<-ctx.Done()
	l.Close()
	t := l.Total()
	fmt.Fprintf(stdout, "lab stopped: %d connections, %d requests, %d non-GET/HEAD requests\n", t.Conns, t.Requests, t.Violations)
	if errors.Is(ctx.Err(), context.Canceled) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil
	}
	return ctx.Err()
}

func writeFile(path string, stdout io.Writer, write func(io.Writer) error) error {
	switch path {
	case "":
		return nil
	case "-":
		return write(stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// summary prints what is running: counts by kind, product and verdict.
func summary(w io.Writer, l *Lab, opts RunOptions, took time.Duration) {
	exp := l.Expectations()
	count := func(key func(Expectation) string) string {
		m := map[string]int{}
		for _, e := range exp {
			if k := key(e); k != "" {
				m[k]++
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s %d", k, m[k])
		}
		return strings.Join(parts, ", ")
	}
	t := l.Targets()
	fmt.Fprintf(w, "lab: %d servers (%s mix, seed %d) on %s … %s, started in %s\n",
		len(t), opts.Mix, opts.Seed, t[0], t[len(t)-1], took.Round(time.Millisecond))
	fmt.Fprintf(w, "  kinds:    %s\n", count(func(e Expectation) string { return string(e.Kind) }))
	fmt.Fprintf(w, "  products: %s\n", count(func(e Expectation) string {
		if !e.Exchange {
			return ""
		}
		if e.Product == "" {
			return "Exchange (no build visible)"
		}
		return e.Product
	}))
	fmt.Fprintf(w, "  verdicts: %s\n", count(func(e Expectation) string { return e.Verdict }))
	modes := map[string]int{}
	for _, e := range exp {
		for _, m := range e.Modes {
			modes[m]++
		}
	}
	var parts []string
	for _, m := range AllModes {
		if modes[m] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", m, modes[m]))
		}
	}
	fmt.Fprintf(w, "  modes:    %s\n", strings.Join(parts, ", "))
	for _, f := range []struct{ name, path string }{{"targets", opts.TargetsFile}, {"truth", opts.TruthFile}} {
		if f.path != "" && f.path != "-" {
			fmt.Fprintf(w, "  %s: %s\n", f.name, f.path)
		}
	}
	fmt.Fprintln(w, "serving until interrupted")
}
