package target

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"strconv"
	"sync/atomic"

	"go4.org/netipx"
)

// Stream turns an Input into targets. Make one with NewStream, iterate it
// once with All, and read Stats at any time from any goroutine (for a
// progress bar).
type Stream struct {
	in    Input
	opts  Options
	excl  exclusions
	stats counters
	used  atomic.Bool
}

// NewStream checks opts and prepares a stream over in. Nothing is read yet.
func NewStream(in Input, opts Options) (*Stream, error) {
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	return &Stream{in: in, opts: opts, excl: newExclusions(opts.Exclude)}, nil
}

// All returns an iterator over the targets, produced lazily in input order
// while the loop body runs (no goroutine, no buffering):
//
//	for t, err := range s.All(ctx) {
//		if err != nil { … } // fatal: read error, Strict bad line, ctx; always the last pair
//		…
//	}
//
// Bad lines are skipped, counted and passed to Options.OnLineError, unless
// Strict. Cancelling ctx ends the loop within one line or 1024 targets with
// ctx.Err(); a Read blocked on a source (a terminal on stdin) cannot be
// interrupted from here. A Stream can be iterated only once.
func (s *Stream) All(ctx context.Context) iter.Seq2[Target, error] {
	return func(yield func(Target, error) bool) {
		if !s.used.CompareAndSwap(false, true) {
			yield(Target{}, errors.New("target: a Stream can be iterated only once"))
			return
		}
		e := newExpander(ctx, &s.opts, &s.excl, &s.stats)
		e.report = s.opts.OnLineError
		e.emit = func(t Target) bool { return yield(t, nil) }
		if err := e.run(s.in); err != nil && !errors.Is(err, errConsumerStopped) {
			yield(Target{}, err)
		}
	}
}

// Stats returns the counts so far; safe to call while All runs.
func (s *Stream) Stats() Stats { return s.stats.snapshot() }

// Count reads in and says how many targets a Stream over the same input
// would emit, for a progress bar, without expanding ranges or resolving
// hostnames. It applies excludes, dedup and MaxAddresses exactly as the
// stream does, so Endpoints is exact unless hostnames are present (see
// Estimate). It consumes the readers: open files again for the Stream (stdin
// cannot be counted and streamed both). Its memory is the stream's dedup
// memory. With Strict it returns the first bad line as the error;
// OnLineError is not called.
func Count(ctx context.Context, in Input, opts Options) (Estimate, error) {
	opts, err := opts.normalize()
	if err != nil {
		return Estimate{}, err
	}
	excl := newExclusions(opts.Exclude)
	var c counters
	e := newExpander(ctx, &opts, &excl, &c)
	err = e.run(in)
	return Estimate{
		Endpoints: e.total,
		HostLines: e.hostLines,
		Exact:     e.hostLines == 0,
		Stats:     c.snapshot(),
	}, err
}

// counters back Stats; atomic so a progress bar can read them meanwhile.
type counters struct {
	lines, bad, unresolved, ignored, excluded, duplicates, emitted atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Lines:      c.lines.Load(),
		BadLines:   c.bad.Load(),
		Unresolved: c.unresolved.Load(),
		Ignored:    c.ignored.Load(),
		Excluded:   c.excluded.Load(),
		Duplicates: c.duplicates.Load(),
		Emitted:    c.emitted.Load(),
	}
}

// exclusions are the exclude set as interval sets per family.
type exclusions struct {
	v4 intervalSet[v4]
	v6 intervalSet[v6]
}

var (
	mappedFirst = netip.MustParseAddr("::ffff:0.0.0.0")
	mappedLast  = netip.MustParseAddr("::ffff:255.255.255.255")
)

func newExclusions(set *netipx.IPSet) exclusions {
	if set == nil {
		return exclusions{}
	}
	var r4 []interval[v4]
	var r6 []interval[v6]
	for _, r := range set.Ranges() {
		from, to := r.From(), r.To()
		if from.Is4() {
			r4 = append(r4, interval[v4]{v4Of(from), v4Of(to)})
			continue
		}
		r6 = append(r6, interval[v6]{v6Of(from), v6Of(to)})
		// Inputs are unmapped to IPv4, so IPv4-mapped addresses in a
		// caller-built set must exclude their IPv4 form too.
		lo, hi := from, to
		if lo.Less(mappedFirst) {
			lo = mappedFirst
		}
		if mappedLast.Less(hi) {
			hi = mappedLast
		}
		if !hi.Less(lo) {
			r4 = append(r4, interval[v4]{v4Of(lo.Unmap()), v4Of(hi.Unmap())})
		}
	}
	// The mapped ones may interleave with the native ones.
	return exclusions{v4: newSortedSet(coalesce(r4)), v6: newSortedSet(r6)}
}

// errConsumerStopped ends a run when the loop body breaks.
var errConsumerStopped = errors.New("target: consumer stopped")

// expander is one pass over an Input: for a Stream (emit set) or for Count
// (emit nil: ranges are counted as intervals, hostnames not resolved).
type expander struct {
	ctx       context.Context
	opts      *Options
	excl      *exclusions
	stats     *counters
	report    func(*LineError)
	emit      func(Target) bool
	seen4     map[uint16]*intervalSet[v4]
	seen6     map[uint16]*intervalSet[v6]
	total     uint64 // endpoints new to the dedup sets
	hostLines uint64
	ticks     uint  // targets emitted, for spacing cancellation checks
	stop      error // why emission stopped
	cur       entry // the line being expanded
}

func newExpander(ctx context.Context, opts *Options, excl *exclusions, stats *counters) *expander {
	return &expander{
		ctx:   ctx,
		opts:  opts,
		excl:  excl,
		stats: stats,
		seen4: map[uint16]*intervalSet[v4]{},
		seen6: map[uint16]*intervalSet[v6]{},
	}
}

func (e *expander) cancelled() bool {
	select {
	case <-e.ctx.Done():
		return true
	default:
		return false
	}
}

func (e *expander) run(in Input) error {
	var p lineParser
	for i, arg := range in.Args {
		if e.cancelled() {
			return e.ctx.Err()
		}
		var err error
		if len(arg) > e.opts.MaxLineBytes {
			err = e.tooLong("args", i+1, arg[:min(len(arg), previewBytes)])
		} else {
			sp, kind, subject, perr := p.parse(arg)
			err = e.handle("args", i+1, sp, kind, subject, perr)
		}
		if err != nil {
			return err
		}
	}
	for _, src := range in.Sources {
		if err := e.runSource(src); err != nil {
			return err
		}
	}
	return nil
}

func (e *expander) runSource(src Source) error {
	if src.Reader == nil {
		return fmt.Errorf("target: source %q has no reader", src.Name)
	}
	lr := newLineReader(src.Reader, e.opts.MaxLineBytes)
	var p lineParser // per source: a ZMap header applies to its own file only
	for {
		if e.cancelled() {
			return e.ctx.Err()
		}
		text, tooLong, ok := lr.next()
		if !ok {
			break
		}
		var err error
		if tooLong {
			err = e.tooLong(src.Name, lr.line, text)
		} else {
			sp, kind, subject, perr := p.parse(text)
			err = e.handle(src.Name, lr.line, sp, kind, subject, perr)
		}
		if err != nil {
			return err
		}
	}
	if lr.err != nil {
		return fmt.Errorf("%s:%d: %w", src.Name, lr.line+1, lr.err)
	}
	return nil
}

func (e *expander) tooLong(source string, line int, preview string) error {
	e.stats.lines.Add(1)
	return e.bad(&LineError{
		Source: source, Line: line, Input: preview + "…",
		Err: fmt.Errorf("%w: more than %d bytes", ErrLineTooLong, e.opts.MaxLineBytes),
	})
}

// handle acts on one parsed line. A non-nil result ends the run.
func (e *expander) handle(source string, line int, sp spec, kind lineKind, subject string, err error) error {
	e.stats.lines.Add(1)
	if err != nil {
		return e.bad(&LineError{Source: source, Line: line, Input: capText(subject), Err: err})
	}
	switch kind {
	case lineEmpty:
		return nil
	case lineIgnored:
		e.stats.ignored.Add(1)
		return nil
	}
	// One entry reused for every line: it would otherwise escape to the heap.
	e.cur = entry{source: source, line: line, scheme: sp.scheme}
	en := &e.cur
	ports := sp.ports
	if len(ports) == 0 {
		ports = e.opts.Ports
	}
	if sp.host != "" {
		return e.expandHost(sp.host, ports, en, subject)
	}
	if n := rangeSize(sp.first, sp.last); n > e.opts.MaxAddresses {
		return e.bad(&LineError{Source: source, Line: line, Input: capText(subject), Err: fmt.Errorf(
			"%w: %d addresses, more than the limit of %s; split it into smaller ranges or raise the limit",
			ErrTooLarge, n, describeLimit(e.opts.MaxAddresses))})
	}
	return e.expandAddrs(sp.first, sp.last, ports, en)
}

func (e *expander) bad(le *LineError) error {
	e.stats.bad.Add(1)
	if e.opts.Strict {
		return le
	}
	if e.report != nil {
		e.report(le)
	}
	return nil
}

func rangeSize(first, last netip.Addr) uint64 {
	if first.Is4() {
		return size(v4Of(first), v4Of(last))
	}
	return size(v6Of(first), v6Of(last))
}

// entry is what one input line gives each of its targets.
type entry struct {
	source       string
	line         int
	host, scheme string
	origin       string // built on first use: most lines of big files are duplicates or excluded
}

func (en *entry) originString() string {
	if en.origin == "" {
		// One allocation: Itoa plus concatenation would take two per line.
		var buf [80]byte
		b := append(buf[:0], en.source...)
		b = append(b, ':')
		en.origin = string(strconv.AppendInt(b, int64(en.line), 10))
	}
	return en.origin
}

func (e *expander) expandHost(host string, ports []uint16, en *entry, subject string) error {
	if e.emit == nil {
		// Counting: lookups would make a progress bar wait for DNS.
		e.hostLines++
		e.total = addSat(e.total, uint64(len(ports)))
		return nil
	}
	addrs, err := e.resolve(host)
	if err != nil {
		if e.ctx.Err() != nil {
			return e.ctx.Err()
		}
		e.stats.unresolved.Add(1)
		if e.report != nil {
			e.report(&LineError{Source: en.source, Line: en.line, Input: capText(subject), Err: err})
		}
		return nil
	}
	if !e.opts.AllAddresses {
		addrs = addrs[:1]
	}
	en.host = host
	for _, a := range addrs {
		if err := e.expandAddrs(a, a, ports, en); err != nil {
			return err
		}
	}
	return nil
}

// resolve looks host up and cleans the answer: IPv4 unmapped, zones
// dropped, duplicates removed, order kept.
func (e *expander) resolve(host string) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(e.ctx, e.opts.ResolveTimeout)
	defer cancel()
	addrs, err := e.opts.Resolver.LookupNetIP(ctx, e.opts.ResolveNetwork, host)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnresolved, err)
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		a = a.Unmap().WithZone("")
		ok := a.IsValid() && !slices.Contains(out, a)
		switch e.opts.ResolveNetwork {
		case "ip4":
			ok = ok && a.Is4()
		case "ip6":
			ok = ok && a.Is6()
		}
		if ok {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no usable address", ErrUnresolved)
	}
	return out, nil
}

// expandAddrs emits first..last on each port.
func (e *expander) expandAddrs(first, last netip.Addr, ports []uint16, en *entry) error {
	for _, port := range ports {
		var ok bool
		if first.Is4() {
			ok = expandRange(e, v4Of(first), v4Of(last), &e.excl.v4, seenSet(e.seen4, port), port, en)
		} else {
			ok = expandRange(e, v6Of(first), v6Of(last), &e.excl.v6, seenSet(e.seen6, port), port, en)
		}
		if !ok {
			return e.stop
		}
	}
	return nil
}

func seenSet[K ordinal[K]](m map[uint16]*intervalSet[K], port uint16) *intervalSet[K] {
	s := m[port]
	if s == nil {
		s = &intervalSet[K]{}
		m[port] = s
	}
	return s
}

// expandRange emits the addresses of [lo, hi] on port that are neither
// excluded nor already emitted. Both checks work on whole sub-ranges, so an
// emitted address costs no lookup. It returns false when emission stopped.
func expandRange[K ordinal[K]](e *expander, lo, hi K, excl, seen *intervalSet[K], port uint16, en *entry) bool {
	var kept, fresh uint64
	ok := excl.gaps(lo, hi, func(a, b K) bool {
		kept = addSat(kept, size(a, b))
		return seen.gaps(a, b, func(c, d K) bool {
			fresh = addSat(fresh, size(c, d))
			if e.emit == nil {
				return true
			}
			for x := c; ; x = x.succ() {
				if !e.emitOne(x.addr(), port, en) {
					return false
				}
				if x == d {
					return true
				}
			}
		})
	})
	if !ok {
		return false
	}
	e.stats.excluded.Add(size(lo, hi) - kept)
	e.stats.duplicates.Add(kept - fresh)
	e.total = addSat(e.total, fresh)
	if fresh > 0 {
		// Excluded parts are recorded too: they never reach dedup, and one
		// whole interval merges better than its pieces.
		seen.add(lo, hi)
	}
	return true
}

func (e *expander) emitOne(ip netip.Addr, port uint16, en *entry) bool {
	e.ticks++
	if e.ticks%1024 == 0 && e.cancelled() {
		e.stop = e.ctx.Err()
		return false
	}
	scheme := en.scheme
	if scheme == "" {
		scheme = "https"
		if port == 80 {
			scheme = "http"
		}
	}
	e.stats.emitted.Add(1)
	if !e.emit(Target{IP: ip, Port: port, Host: en.host, Scheme: scheme, Origin: en.originString()}) {
		e.stop = errConsumerStopped
		return false
	}
	return true
}
