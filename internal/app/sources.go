package app

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/exsweep/exsweep/internal/lab"
	"github.com/exsweep/exsweep/internal/target"
)

// targetSource feeds the scanner: the user's target lists, or the lab.
type targetSource interface {
	Stream(ctx context.Context, yield func(target.Target) bool) error
	Total() int64
	BadLines() int
}

// fileTargets streams the user's inputs through internal/target.
type fileTargets struct {
	e      *env
	input  func() (target.Input, func(), error)
	opts   target.Options
	total  int64
	stream *target.Stream
	logged int
}

func newTargetSource(e *env, o *scanOptions, args []string, ports []uint16) (*fileTargets, error) {
	if len(args) == 0 && len(o.inputs) == 0 {
		return nil, usageErrorf("no targets: give TARGET arguments, -i FILE or -i - (or --lab N)")
	}
	var exclSources []target.Source
	if o.excludeFile != "" {
		src, closeFn, err := target.OpenSource(o.excludeFile, e.stdin)
		if err != nil {
			return nil, usageErrorf("--exclude-file: %v", err)
		}
		defer closeFn()
		exclSources = append(exclSources, src)
	}
	var exclArgs []string
	for _, x := range o.excludes {
		exclArgs = append(exclArgs, strings.Split(x, ",")...)
	}
	excl, err := target.ParseExcludes(exclArgs, exclSources...)
	if err != nil {
		return nil, usageErrorf("exclude list: %v (an opt-out list must be exact: nothing was scanned)", err)
	}
	ft := &fileTargets{e: e}
	ft.opts = target.Options{Ports: ports, Exclude: excl, AllAddresses: o.resolveAll, Strict: o.strict,
		OnLineError: ft.reportLine}
	stdinUsed := false
	for _, in := range o.inputs {
		if in == "-" {
			if stdinUsed {
				return nil, usageErrorf("-i - given twice")
			}
			stdinUsed = true
		} else if _, err := os.Stat(in); err != nil {
			return nil, usageErrorf("-i %s: %v", in, err)
		}
	}
	ft.input = func() (target.Input, func(), error) {
		in := target.Input{Args: args}
		var closers []func() error
		for _, p := range o.inputs {
			src, closeFn, err := target.OpenSource(p, e.stdin)
			if err != nil {
				for _, c := range closers {
					c()
				}
				return in, nil, usageErrorf("-i %s: %v", p, err)
			}
			closers = append(closers, closeFn)
			in.Sources = append(in.Sources, src)
		}
		return in, func() {
			for _, c := range closers {
				c()
			}
		}, nil
	}
	// Count first for the progress bar and the run record, unless stdin is a
	// source (it can be read only once).
	if !stdinUsed {
		in, done, err := ft.input()
		if err != nil {
			return nil, err
		}
		countOpts := ft.opts
		countOpts.OnLineError = nil
		est, err := target.Count(context.Background(), in, countOpts)
		done()
		if err != nil {
			return nil, usageErrorf("%v", err)
		}
		ft.total = int64(min(est.Endpoints, 1<<62))
		e.log.Info("targets counted", "endpoints", est.Endpoints, "exact", est.Exact, "excluded", est.Stats.Excluded,
			"duplicates", est.Stats.Duplicates, "bad_lines", est.Stats.BadLines)
	}
	return ft, nil
}

// maxLoggedLines bounds the warnings for bad target lines: a file of a million
// bad lines must not bury the log; the count is in the summary.
const maxLoggedLines = 20

func (ft *fileTargets) reportLine(le *target.LineError) {
	ft.logged++
	switch {
	case ft.logged <= maxLoggedLines:
		ft.e.log.Warn("bad target line skipped", "at", fmt.Sprintf("%s:%d", le.Source, le.Line), "err", le.Err, "input", le.Input)
	case ft.logged == maxLoggedLines+1:
		ft.e.log.Warn("more bad target lines: not logged one by one; the summary counts them")
	}
}

func (ft *fileTargets) Stream(ctx context.Context, yield func(target.Target) bool) error {
	in, done, err := ft.input()
	if err != nil {
		return err
	}
	defer done()
	s, err := target.NewStream(in, ft.opts)
	if err != nil {
		return usageErrorf("%v", err)
	}
	ft.stream = s
	for t, err := range s.All(ctx) {
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return usageErrorf("%v", err)
		}
		if !yield(t) {
			return ctx.Err()
		}
	}
	return nil
}

func (ft *fileTargets) Total() int64 {
	if ft.total == 0 {
		return -1 // unknown: the progress bar shows a spinner
	}
	return ft.total
}

func (ft *fileTargets) BadLines() int {
	if ft.stream == nil {
		return 0
	}
	return int(ft.stream.Stats().BadLines)
}

// labTargets is an in-process lab (scan --lab N).
type labTargets struct {
	lab *lab.Lab
}

func startLab(ctx context.Context, o *scanOptions) (*labTargets, error) {
	if o.lab < lab.MinServers(o.labMix) {
		return nil, usageErrorf("--lab %d: the %s mix needs at least %d servers", o.lab, o.labMix, lab.MinServers(o.labMix))
	}
	servers, err := lab.Mix(o.lab, o.labSeed, o.labMix)
	if err != nil {
		return nil, usageErrorf("--lab-mix: %v", err)
	}
	l, err := lab.Start(ctx, servers, lab.Options{Network: o.labNet, Port: 443, Seed: o.labSeed})
	if err != nil {
		// Port 443 needs root; fall back to kernel-chosen ports.
		l, err = lab.Start(ctx, servers, lab.Options{Network: o.labNet, Port: 0, Seed: o.labSeed})
		if err != nil {
			return nil, fmt.Errorf("%w: starting the lab: %v", ErrUsage, err)
		}
	}
	return &labTargets{lab: l}, nil
}

func (lt *labTargets) Close() error { return lt.lab.Close() }

func (lt *labTargets) Stream(ctx context.Context, yield func(target.Target) bool) error {
	for _, ap := range lt.lab.Addrs() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !yield(target.Target{IP: ap.Addr(), Port: ap.Port(), Scheme: "https", Origin: "lab"}) {
			return ctx.Err()
		}
	}
	return nil
}

func (lt *labTargets) Total() int64  { return int64(lt.lab.Len()) }
func (lt *labTargets) BadLines() int { return 0 }

func parseAddr(s string) (netip.Addr, error) { return netip.ParseAddr(s) }

// accuracy compares the scan's records with the lab's truth.
type accuracy struct {
	truth  map[string]lab.Expectation
	shells bool
	// judge, if set, gives the verdict the truth's build has under --cves
	// (the lab's truth decides on every CVE).
	judge    func(build string) string
	checked  int
	wrong    int
	examples []string
}

func (lt *labTargets) accuracy(webshells bool) *accuracy {
	a := &accuracy{truth: map[string]lab.Expectation{}, shells: webshells}
	for _, x := range lt.lab.Expectations() {
		a.truth[x.Target] = x
	}
	return a
}

func (a *accuracy) add(r scanRecordView) {
	want, ok := a.truth[r.Target]
	if !ok {
		return
	}
	a.checked++
	if a.judge != nil && want.Exchange && want.Build != "" {
		if v := a.judge(want.Build); v != "" {
			want.Verdict = v
		}
	}
	if d := lab.Compare(want, r.observed(), a.shells); len(d) > 0 {
		a.wrong++
		if len(a.examples) < 5 {
			a.examples = append(a.examples, fmt.Sprintf("%s (%s): %s", r.Target, strings.Join(want.Modes, ","), strings.Join(d, "; ")))
		}
	}
}
