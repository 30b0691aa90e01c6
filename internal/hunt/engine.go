package hunt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/exsweep/exsweep/internal/hunt/logs"
	"github.com/exsweep/exsweep/internal/rules"
)

// Options say where the evidence is and how to read it.
type Options struct {
	// Root is a triage copy or mounted image laid out like the volume
	// (Root/Program Files/…), or KAPE/Velociraptor style with a folder per
	// drive (Root/C/…, Root/C%3A/…). In Live mode it defaults to the system
	// drive.
	Root string
	// Logs are loose log files or folders, recognised by content (IIS W3C,
	// Exchange CSV logs, EVTX): exported event logs, logs copied by hand.
	Logs []string
	// Overrides of what discovery finds under Root. When set, discovery of
	// that kind of source is skipped.
	ExchangeDirs, IISLogDirs, EventLogDirs, WebRoots []string
	// Since and Until bound record times (zero: no bound); records without
	// a readable time are kept. Disk findings are bounded by the file's
	// modification time, except backdoor-grade files (web shells found by
	// content or hash, LSASS dumps), which are reported whatever their time
	// because attackers set timestamps back. Archives are reported when
	// written between Since (or ExploitStart) and Until. Coverage always
	// describes the whole files.
	Since, Until time.Time
	// ExploitStart is when exploitation began (default 2021-01-01, CISA
	// AA21-062A): a log source whose first record is more than a week
	// later (coverageGrace) gets a warning, since older activity is
	// invisible, and a clean verdict says how far the logs reach.
	ExploitStart time.Time
	// Rules scans file content; nil uses rules.Builtin().
	Rules rules.Engine
	// Workers is how many files are read in parallel (default GOMAXPROCS).
	Workers int
	// Progress, when set, is called from the workers with the running
	// total of bytes read (calls may overlap; totals only grow per caller).
	Progress func(bytesDone int64)
	// Planned, when set, is called once before reading with the number of
	// files and bytes found, for a progress bar's total.
	Planned func(files int, bytes int64)
	// Live runs on the Exchange server itself (Windows only): the install
	// path comes from the registry or ExchangeInstallPath, and files are
	// opened with full sharing so logs in use can be read.
	Live bool
}

// DefaultExploitStart is the start of the ProxyLogon exploitation window
// that CISA AA21-062A tells responders to search back to.
var DefaultExploitStart = time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)

// Caps that keep memory bounded whatever the evidence holds.
const (
	maxEvidence      = 300    // bytes of an excerpt
	maxTimeline      = 10000  // events in a report
	maxAggregates    = 20000  // distinct findings before overflow buckets
	maxEventsPerAgg  = 200    // timeline events kept per finding
	maxRelated       = 20000  // context records kept for joining
	maxClientsPerAgg = 100    // addresses listed per finding
	maxIssuesPerSrc  = 5      // coverage issue examples per source
	batchSize        = 256    // hits per message from a worker
	maxWalkFiles     = 500000 // files listed per discovery area
)

// Run hunts the evidence described by opts:
//
//   - discovery finds the Exchange installs (V15/V14 under Program Files on
//     any drive folder, or the registry when Live), their HttpProxy, ECP
//     Server, OABGeneratorLog and CmdletInfra logs, the IIS logs, the event
//     logs, the web folders, ProgramData and the temp folders; every
//     expected source that is missing is a warning;
//   - each log is read once, by a pool of Workers, through a reader whose
//     pre-filter holds the literals of every check for that log type
//     (data/checks.json), so most lines are skipped unsplit; web files are
//     scanned with the rules, hashed and judged by name and folder;
//   - the hits of one check from one address (or on one path) become one
//     graded finding with a count; findings are sorted by grade then time
//     and numbered F0001…; the timeline holds their records and the records
//     that share a request id, an address or an ECP canary with them;
//   - coverage says how far each log source reaches; the verdict and its
//     one-sentence summary come last.
//
// An unreadable file is a warning (and sets Report.Partial), never an
// error. Run returns an error only for unusable options or invalid built-in
// data; when ctx is cancelled it stops promptly and returns the partial
// report with ctx.Err().
func Run(ctx context.Context, opts Options) (*Report, error) {
	return run(ctx, opts, osVolume{})
}

// run is Run with the volume that opens files (tests inject failures).
func run(ctx context.Context, opts Options, vol volume) (*Report, error) {
	cs, err := loadChecks()
	if err != nil {
		return nil, err
	}
	e := &engine{cs: cs, opts: opts, vol: vol, bigScans: make(chan struct{}, 2)}
	if e.opts.ExploitStart.IsZero() {
		e.opts.ExploitStart = DefaultExploitStart
	}
	if e.opts.Workers <= 0 {
		e.opts.Workers = runtime.GOMAXPROCS(0)
	}
	if !e.opts.Since.IsZero() && !e.opts.Until.IsZero() && e.opts.Until.Before(e.opts.Since) {
		return nil, fmt.Errorf("hunt: --until %s is before --since %s", e.opts.Until.Format(time.RFC3339), e.opts.Since.Format(time.RFC3339))
	}
	rep := &Report{Started: time.Now().UTC(), Root: opts.Root}
	if opts.Live {
		lv, err := openLive()
		if err != nil {
			return nil, err
		}
		e.vol = lv.vol
		e.live = lv
		rep.Host = lv.host
		if e.opts.Root == "" {
			e.opts.Root = lv.systemRoot
			rep.Root = lv.systemRoot
		}
	}
	if e.opts.Root == "" && len(e.opts.Logs)+len(e.opts.ExchangeDirs)+len(e.opts.IISLogDirs)+len(e.opts.EventLogDirs)+len(e.opts.WebRoots) == 0 {
		return nil, errors.New("hunt: nothing to read: give a root (a triage copy or mounted image), log files or folders to read")
	}
	if e.opts.Root != "" {
		st, err := os.Stat(e.opts.Root)
		if err != nil {
			return nil, fmt.Errorf("hunt: root: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("hunt: root %s is not a folder", e.opts.Root)
		}
		if abs, err := filepath.Abs(e.opts.Root); err == nil {
			e.root = abs
		}
	}
	if e.opts.Rules == nil {
		rs, err := rules.Builtin()
		if err != nil {
			return nil, fmt.Errorf("hunt: built-in rules: %w", err)
		}
		e.opts.Rules = rs
	}
	col := newCollector(e)
	p := e.discover(ctx)
	col.warnings = append(col.warnings, p.warnings...)
	col.partial = p.partial
	for i := range p.hits {
		col.addHit(&p.hits[i])
	}
	var total int64
	for _, j := range p.jobs {
		if j.kind == jobDump {
			total += min(j.size, 4<<10) // only the header and module list are read
		} else {
			total += j.size
		}
	}
	if e.opts.Planned != nil {
		e.opts.Planned(len(p.jobs), total)
	}
	e.process(ctx, p.jobs, col)
	rep.Bytes = e.bytes.Load()
	col.finish(rep)
	rep.Finished = time.Now().UTC()
	if err := ctx.Err(); err != nil {
		rep.Partial = true
		rep.Warnings = append(rep.Warnings, "interrupted: the report covers only what was read before the hunt was stopped")
		return rep, err
	}
	return rep, nil
}

// engine is the state shared by discovery, the workers and the collector.
type engine struct {
	cs    *checkSet
	opts  Options
	vol   volume
	live  *liveEnv
	root  string // absolute Root, "" without one
	bytes atomic.Int64
	// bigScans bounds how many large files the rules engine holds in
	// memory at once (it reads up to 16 MiB per file), whatever Workers is.
	bigScans chan struct{}
	hosts    sync.Map // host name -> *atomic.Int64 (records naming it)
}

// rel gives a path as reports show it: relative to the root when under it.
func (e *engine) rel(p string) string {
	if e.root != "" {
		if abs, err := filepath.Abs(p); err == nil {
			if r, err := filepath.Rel(e.root, abs); err == nil && r != "." && !strings.HasPrefix(r, "..") {
				return r
			}
		}
	}
	return p
}

func (e *engine) inWindow(t time.Time) bool {
	if t.IsZero() {
		return true // records without a usable time are kept: they cannot be excluded
	}
	if !e.opts.Since.IsZero() && t.Before(e.opts.Since) {
		return false
	}
	if !e.opts.Until.IsZero() && t.After(e.opts.Until) {
		return false
	}
	return true
}

// windowStart is the start of the period a log must reach back to.
func (e *engine) windowStart() time.Time {
	if !e.opts.Since.IsZero() && e.opts.Since.After(e.opts.ExploitStart) {
		return e.opts.Since
	}
	return e.opts.ExploitStart
}

// coverageGrace is how late after the window start a log may begin and
// still count as reaching back: daily and hourly log files begin with their
// first request, and the first ProxyLogon exploitation on record is of
// 2021-01-06 (Volexity), so logs from 2021-01-04 cover the period that the
// 2021-01-01 default asks for.
const coverageGrace = 7 * 24 * time.Hour

// startsLate reports whether a source's first record leaves the start of
// the window unseen.
func (e *engine) startsLate(first time.Time) bool {
	return !first.IsZero() && first.After(e.windowStart().Add(coverageGrace))
}

func (e *engine) noteHost(h string) {
	h = strings.TrimSpace(h)
	if h == "" || len(h) > 255 {
		return
	}
	v, _ := e.hosts.LoadOrStore(strings.ToUpper(h), new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// jobKind says how a file is read.
type jobKind uint8

const (
	jobLog      jobKind = iota // text log or EVTX, sniffed by content
	jobScript                  // web file: rules, hash, name, location
	jobDump                    // possible memory dump: MDMP header, module list
	jobWER                     // Windows Error Report: rules
	jobCompiled                // Temporary ASP.NET Files App_Web_*.dll: rules
)

type job struct {
	kind     jobKind
	path     string
	size     int64
	mtime    time.Time
	explicit bool   // named with --logs: say so when not recognised
	evtxHint string // expected channel for a discovered .evtx, for warnings
	area     string // disk area ("wwwroot", "frontend", "programdata", …)
}

// message is what a worker sends the collector.
type message struct {
	hits    []hit
	related []related
	cov     *fileCoverage
	warning string
	partial bool
	skipped string // a --logs file that is not a known log
}

// fileCoverage is one file's accounting, labelled with its source.
type fileCoverage struct {
	source string
	cov    logs.Coverage
}

// process runs the jobs on the worker pool; the collector (this goroutine)
// is the single writer of the results.
func (e *engine) process(ctx context.Context, jobs []job, col *collector) {
	ch := make(chan job)
	out := make(chan message, 4*e.opts.Workers)
	var wg sync.WaitGroup
	for w := 0; w < e.opts.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				e.runJob(ctx, j, out)
			}
		}()
	}
	go func() {
		defer close(ch)
		for _, j := range jobs {
			select {
			case ch <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(out)
	}()
	for m := range out {
		col.add(m)
	}
}

// sink batches one job's results.
type sink struct {
	out     chan<- message
	hits    []hit
	related []related
}

func (s *sink) hit(h hit) {
	s.hits = append(s.hits, h)
	if len(s.hits) >= batchSize {
		s.flush()
	}
}

func (s *sink) rel(r related) {
	s.related = append(s.related, r)
	if len(s.related) >= batchSize {
		s.flush()
	}
}

func (s *sink) flush() {
	if len(s.hits) == 0 && len(s.related) == 0 {
		return
	}
	s.out <- message{hits: s.hits, related: s.related}
	s.hits, s.related = nil, nil
}

// runJob reads one file; every failure becomes a warning.
func (e *engine) runJob(ctx context.Context, j job, out chan<- message) {
	if ctx.Err() != nil {
		return
	}
	s := &sink{out: out}
	defer func() {
		if p := recover(); p != nil {
			// Evidence is hostile: a bug triggered by one file must cost
			// that file, not the hunt.
			s.flush()
			out <- message{warning: fmt.Sprintf("%s: internal error while reading (%v); file skipped", e.rel(j.path), p), partial: true}
		}
	}()
	var m message
	switch j.kind {
	case jobLog:
		m = e.readLog(ctx, j, s)
	case jobScript, jobCompiled:
		m = e.scanScript(ctx, j, s)
	case jobDump:
		m = e.scanDump(ctx, j, s)
	case jobWER:
		m = e.scanWER(ctx, j, s)
	}
	s.flush()
	if m.cov != nil || m.warning != "" || m.skipped != "" || m.partial {
		out <- m
	}
}

// countingReader counts bytes for Progress and Report.Bytes and stops
// reading once ctx is cancelled.
type countingReader struct {
	ctx context.Context
	r   io.Reader
	e   *engine
}

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.e.count(n)
	return n, err
}

type countingReaderAt struct {
	ctx context.Context
	r   io.ReaderAt
	e   *engine
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.ReadAt(p, off)
	c.e.count(n)
	return n, err
}

func (e *engine) count(n int) {
	if n <= 0 {
		return
	}
	t := e.bytes.Add(int64(n))
	if e.opts.Progress != nil {
		e.opts.Progress(t)
	}
}

// openWarning words an open failure; on a live server a sharing violation
// means the file is held exclusively (the EventLog service and .evtx).
func (e *engine) openWarning(p string, err error) string {
	if isSharingViolation(err) {
		w := fmt.Sprintf("%s: locked by another process and could not be read", e.rel(p))
		if strings.EqualFold(filepath.Ext(p), ".evtx") {
			name := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
			w += fmt.Sprintf("; export it (wevtutil epl \"%s\" C:\\triage\\%s.evtx) and pass the copy with --logs",
				strings.ReplaceAll(name, "%4", "/"), name)
		}
		return w
	}
	return fmt.Sprintf("%s: cannot read: %v", e.rel(p), unwrapPathError(err))
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// sortJobs puts the biggest files first so that one huge log does not start
// last and leave the other workers idle.
func sortJobs(jobs []job) {
	sort.SliceStable(jobs, func(a, b int) bool {
		if (jobs[a].kind == jobLog) != (jobs[b].kind == jobLog) {
			return jobs[a].kind == jobLog
		}
		return jobs[a].size > jobs[b].size
	})
}

func capString(s string, n int) string { return logs.CapString(s, n) }
