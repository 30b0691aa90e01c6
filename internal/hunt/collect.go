package hunt

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// hit is one record or file that a check matched. Hits with the same check
// and key are aggregated into one finding (an SSRF campaign from one
// address, the polling of one shell), so a scanner's ten thousand requests
// make one finding with a count, not ten thousand.
type hit struct {
	check  *check
	grade  string
	key    string // aggregation key within the check; "" = one finding per path:line
	time   time.Time
	path   string // as reported (relative to the root)
	line   int64
	source string // coverage source ("httpproxy/Ecp", "iis", "disk")
	client string
	reqID  string
	joins  []string // extra join keys ("canary:…")
	what   string   // capped description of this record
	target string   // short label for the "reached" list of an aggregate
	sha256 string
}

// related is a record that is no finding itself but belongs on the
// timeline when it joins one (by request id, client address or ECP canary):
// the rest of an exploitation sequence.
type related struct {
	time   time.Time
	source string
	path   string
	line   int64
	client string
	reqID  string
	joins  []string
	what   string
}

type agg struct {
	check       *check
	key         string
	grade       string
	best        hit
	first, last time.Time
	count       int64
	clients     []string
	clientSet   map[string]struct{}
	moreClients int64
	targets     []target
	events      []hit
	dropped     int64
	joins       map[string]struct{}
	overflow    bool
	id          string
}

// target is a place an aggregate's records reached, with the first time.
type target struct {
	t time.Time
	s string
}

// betterHit reports whether h should define its finding instead of best:
// a higher grade, else earlier, else the first by path and line, so the
// result does not depend on which worker finished first.
func betterHit(h, best *hit) bool {
	if r, br := GradeRank(h.grade), GradeRank(best.grade); r != br {
		return r > br
	}
	if !h.time.Equal(best.time) {
		return earlier(h.time, best.time)
	}
	if h.path != best.path {
		return h.path < best.path
	}
	return h.line < best.line
}

type srcCov struct {
	files       int
	lines       int64
	records     int64
	malformed   int64
	first, last time.Time
	issues      []string
	nodate      int // files without any dated record
}

// collector is the single writer: it owns every aggregate, so workers need
// no locks.
type collector struct {
	e          *engine
	aggs       map[string]*agg
	order      []*agg
	related    []related
	relDropped int64
	cov        map[string]*srcCov
	warnings   []string
	partial    bool
	skipped    []string
	skippedN   int
	budget     map[string]int // timeline events left per grade
	overflow   bool
}

func newCollector(e *engine) *collector {
	return &collector{
		e:    e,
		aggs: map[string]*agg{},
		cov:  map[string]*srcCov{},
		// Scanner noise (probes) must not use up the room that
		// exploitation events need on the timeline.
		budget: map[string]int{GradeInfo: 2000, GradeProbe: 2000, GradeAttempt: 5000, GradeExploited: 10000, GradeBackdoor: 10000},
	}
}

func (c *collector) add(m message) {
	for i := range m.hits {
		c.addHit(&m.hits[i])
	}
	for _, r := range m.related {
		if len(c.related) >= maxRelated {
			c.relDropped++
			continue
		}
		c.related = append(c.related, r)
	}
	if m.cov != nil {
		c.addCoverage(m.cov)
	}
	if m.warning != "" {
		c.warnings = append(c.warnings, m.warning)
	}
	if m.partial {
		c.partial = true
	}
	if m.skipped != "" {
		c.skippedN++
		if len(c.skipped) < 5 {
			c.skipped = append(c.skipped, m.skipped)
		}
	}
}

func (c *collector) addHit(h *hit) {
	key := h.check.ID + "\x00" + h.key
	if h.key == "" {
		key = fmt.Sprintf("%s\x00%s:%d", h.check.ID, h.path, h.line)
	}
	a := c.aggs[key]
	if a == nil && len(c.aggs) >= maxAggregates {
		// Past the cap, new keys share one bucket per check and grade:
		// counts stay right, per-address detail is lost (and said so).
		c.overflow = true
		key = h.check.ID + "\x00overflow\x00" + h.grade
		a = c.aggs[key]
		if a == nil {
			a = &agg{check: h.check, key: key, overflow: true}
		}
	}
	if a == nil {
		a = &agg{check: h.check, key: key}
	}
	if a.count == 0 {
		c.aggs[key] = a
		c.order = append(c.order, a)
		a.best = *h
		a.grade = h.grade
	}
	a.count++
	if !h.time.IsZero() {
		if a.first.IsZero() || h.time.Before(a.first) {
			a.first = h.time
		}
		if a.last.IsZero() || h.time.After(a.last) {
			a.last = h.time
		}
	}
	if betterHit(h, &a.best) {
		a.best = *h
	}
	if GradeRank(h.grade) > GradeRank(a.grade) {
		a.grade = h.grade
	}
	if h.client != "" {
		if a.clientSet == nil {
			a.clientSet = map[string]struct{}{}
		}
		if _, ok := a.clientSet[h.client]; !ok {
			if len(a.clients) < maxClientsPerAgg {
				a.clientSet[h.client] = struct{}{}
				a.clients = append(a.clients, h.client)
			} else {
				a.moreClients++
			}
		}
	}
	if h.target != "" {
		i := slices.IndexFunc(a.targets, func(x target) bool { return x.s == h.target })
		switch {
		case i >= 0:
			if earlier(h.time, a.targets[i].t) {
				a.targets[i].t = h.time
			}
		case len(a.targets) < 16:
			a.targets = append(a.targets, target{h.time, h.target})
		}
	}
	c.addJoins(a, h)
	// Keep the earliest events of each finding, within the grade budget.
	switch {
	case len(a.events) < maxEventsPerAgg && c.budget[h.grade] > 0:
		c.budget[h.grade]--
		a.events = append(a.events, *h)
	case len(a.events) > 0:
		a.dropped++
		li := 0
		for i := range a.events {
			if a.events[i].time.After(a.events[li].time) {
				li = i
			}
		}
		if earlier(h.time, a.events[li].time) {
			a.events[li] = *h
		}
	default:
		a.dropped++
	}
}

// earlier orders times with zero (unknown) last.
func earlier(a, b time.Time) bool {
	if a.IsZero() {
		return false
	}
	return b.IsZero() || a.Before(b)
}

func (c *collector) addJoins(a *agg, h *hit) {
	if a.joins == nil {
		a.joins = map[string]struct{}{}
	}
	add := func(k string) {
		if len(a.joins) < 256 {
			a.joins[k] = struct{}{}
		}
	}
	for _, j := range h.joins {
		add(j)
	}
	if h.reqID != "" {
		add("req:" + strings.ToLower(h.reqID))
	}
	// Scanners probe from thousands of addresses; only addresses that did
	// more than probe pull their other records onto the timeline.
	if h.client != "" && GradeRank(h.grade) >= GradeRank(GradeAttempt) {
		add("ip:" + h.client)
	}
}

func (c *collector) addCoverage(fc *fileCoverage) {
	s := c.cov[fc.source]
	if s == nil {
		s = &srcCov{}
		c.cov[fc.source] = s
	}
	cv := &fc.cov
	s.files++
	s.lines += cv.Lines
	s.records += cv.Records + cv.Filtered
	s.malformed += cv.Malformed
	if !cv.First.IsZero() && (s.first.IsZero() || cv.First.Before(s.first)) {
		s.first = cv.First
	}
	if !cv.Last.IsZero() && (s.last.IsZero() || cv.Last.After(s.last)) {
		s.last = cv.Last
	}
	if cv.First.IsZero() && cv.Records+cv.Filtered > 0 {
		s.nodate++
	}
	for _, is := range cv.Issues {
		if len(s.issues) >= maxIssuesPerSrc {
			break
		}
		loc := c.e.rel(is.Path)
		switch {
		case is.Line > 0:
			loc = fmt.Sprintf("%s:%d", loc, is.Line)
		case is.Offset >= 0:
			loc = fmt.Sprintf("%s@0x%x", loc, is.Offset)
		}
		txt := fmt.Sprintf("%s: %s", loc, is.Kind)
		if is.Detail != "" {
			txt += ": " + is.Detail
		}
		s.issues = append(s.issues, capString(txt, 300))
	}
}

// finish turns the aggregates into the report.
func (c *collector) finish(rep *Report) {
	e := c.e
	c.upgradeRoleAssignments()
	c.coverageFinding(rep)
	c.dropWeakDuplicates()

	// Findings, sorted by grade then time, numbered after sorting.
	aggs := slices.Clone(c.order)
	sort.SliceStable(aggs, func(i, j int) bool {
		a, b := aggs[i], aggs[j]
		if ra, rb := GradeRank(a.grade), GradeRank(b.grade); ra != rb {
			return ra > rb
		}
		if !a.first.Equal(b.first) {
			return earlier(a.first, b.first)
		}
		if a.check.ID != b.check.ID {
			return a.check.ID < b.check.ID
		}
		if a.best.path != b.best.path {
			return a.best.path < b.best.path
		}
		return a.best.line < b.best.line
	})
	rep.Findings = make([]Finding, 0, len(aggs))
	for i, a := range aggs {
		a.id = fmt.Sprintf("F%04d", i+1)
		rep.Findings = append(rep.Findings, c.finding(a))
	}

	// Timeline: the events of each finding, then the related records that
	// join one.
	var tl []Event
	for _, a := range aggs {
		if a.check.ID == chkCoverage {
			continue // a statement about the logs, not an event
		}
		for _, h := range a.events {
			tl = append(tl, Event{Time: h.time, Source: h.source, Path: h.path, Line: h.line, Grade: h.grade,
				Finding: a.id, Client: h.client, RequestID: h.reqID, What: capString(h.what, maxEvidence)})
		}
	}
	joinIx := map[string]string{}
	for _, a := range aggs {
		if a.grade == GradeInfo {
			continue
		}
		for k := range a.joins {
			if prev, ok := joinIx[k]; !ok || prev > a.id {
				joinIx[k] = a.id
			}
		}
	}
	for _, r := range c.related {
		id := ""
		keys := slices.Clone(r.joins)
		if r.reqID != "" {
			keys = append(keys, "req:"+strings.ToLower(r.reqID))
		}
		if r.client != "" {
			keys = append(keys, "ip:"+r.client)
		}
		for _, k := range keys {
			if f, ok := joinIx[k]; ok && (id == "" || f < id) {
				id = f
			}
		}
		what := r.what
		if id == "" {
			// ECP Server lines carry no address and not always a canary
			// (Set-OabVirtualDirectory.ExternalUrl=$null, host.md §2.8):
			// join them to an exploitation under way at the same time.
			id = nearExploitation(aggs, r.time)
			if id == "" {
				continue
			}
			what += " (joined by time)"
		}
		tl = append(tl, Event{Time: r.time, Source: r.source, Path: r.path, Line: r.line, Finding: id,
			Client: r.client, RequestID: r.reqID, What: capString(what, maxEvidence)})
	}
	if len(tl) > maxTimeline {
		// Keep the strongest events; findings themselves are complete.
		sort.SliceStable(tl, func(i, j int) bool {
			if ri, rj := GradeRank(tl[i].Grade), GradeRank(tl[j].Grade); ri != rj {
				return ri > rj
			}
			return earlier(tl[i].Time, tl[j].Time)
		})
		c.warnings = append(c.warnings, fmt.Sprintf("timeline capped at %d of %d events (lowest grades dropped); every finding is still listed", maxTimeline, len(tl)))
		tl = tl[:maxTimeline]
	}
	sort.SliceStable(tl, func(i, j int) bool {
		a, b := tl[i], tl[j]
		if !a.Time.Equal(b.Time) {
			return earlier(a.Time, b.Time)
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Finding < b.Finding
	})
	rep.Timeline = tl
	if rep.Timeline == nil {
		rep.Timeline = []Event{}
	}

	// Coverage per source.
	srcs := make([]string, 0, len(c.cov))
	for s := range c.cov {
		srcs = append(srcs, s)
	}
	slices.Sort(srcs)
	rep.Coverage = make([]Coverage, 0, len(srcs))
	ws := e.windowStart()
	for _, name := range srcs {
		s := c.cov[name]
		rep.Coverage = append(rep.Coverage, Coverage{Source: name, Files: s.files, Lines: s.lines, Records: s.records,
			Malformed: s.malformed, First: s.first, Last: s.last, Issues: s.issues})
		switch {
		case e.startsLate(s.first):
			c.warnings = append(c.warnings, fmt.Sprintf("%s: logs start %s, after %s: anything before is not visible; nothing found does not mean nothing happened",
				name, s.first.Format("2006-01-02 15:04 MST"), ws.Format("2006-01-02")))
		case s.first.IsZero() && s.records > 0:
			c.warnings = append(c.warnings, fmt.Sprintf("%s: %d records but none with a readable time: the period covered is unknown", name, s.records))
		}
	}
	if len(rep.Coverage) == 0 {
		c.warnings = append(c.warnings, "no logs found: only files on disk were checked; nothing found in logs does not mean nothing happened")
	}
	if c.skippedN > 0 {
		c.warnings = append(c.warnings, fmt.Sprintf("%d files given as logs were not recognised (IIS W3C, Exchange CSV or EVTX) or have no checks, e.g. %s",
			c.skippedN, strings.Join(c.skipped, ", ")))
	}
	if c.overflow {
		c.warnings = append(c.warnings, fmt.Sprintf("more than %d distinct findings: the rest are counted in one finding per check and grade", maxAggregates))
	}
	if c.relDropped > 0 {
		c.warnings = append(c.warnings, fmt.Sprintf("%d related records not kept for the timeline (cap %d)", c.relDropped, maxRelated))
	}
	rep.Warnings = append(rep.Warnings, c.warnings...)
	rep.Partial = rep.Partial || c.partial
	if rep.Host == "" {
		rep.Host = e.mostSeenHost()
	}
	rep.Verdict, rep.Summary = verdict(e, rep)
}

// joinWindow is how close in time a record without join keys must be to an
// exploitation finding to be shown with it.
const joinWindow = 10 * time.Minute

// nearExploitation returns the first exploited-or-worse log finding whose
// time span, widened by joinWindow, holds t; findings of a CVE first (the
// exploitation the record belongs to), then any.
func nearExploitation(aggs []*agg, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	for pass := 0; pass < 2; pass++ {
		for _, a := range aggs {
			if GradeRank(a.grade) < GradeRank(GradeExploited) || a.best.source == "disk" || a.first.IsZero() ||
				(pass == 0 && len(a.check.CVE) == 0) {
				continue
			}
			last := a.last
			if last.IsZero() {
				last = a.first
			}
			if !t.Before(a.first.Add(-joinWindow)) && !t.After(last.Add(joinWindow)) {
				return a.id
			}
		}
	}
	return ""
}

// finding renders an aggregate.
func (c *collector) finding(a *agg) Finding {
	ch := a.check
	b := a.best
	f := Finding{
		ID: a.id, Check: ch.ID, Title: ch.Title, Severity: ch.severity(a.grade), Grade: a.grade,
		Time: a.first, Path: b.path, Line: b.line, CVE: slices.Clone(ch.CVE), Guidance: ch.guidance(a.grade),
		Client: b.client, RequestID: b.reqID, SHA256: b.sha256, Count: a.count,
	}
	if f.Time.IsZero() {
		f.Time = b.time
	}
	if a.count > 1 && !a.last.Equal(a.first) {
		f.Last = a.last
	}
	ev := b.what
	if a.count > 1 || a.overflow {
		var parts []string
		parts = append(parts, fmt.Sprintf("%d records", a.count))
		if n := len(a.clients); n > 0 {
			cl := slices.Clone(a.clients)
			slices.Sort(cl)
			if n > 3 {
				cl = cl[:3]
			}
			s := "from " + strings.Join(cl, ", ")
			if more := int64(n-len(cl)) + a.moreClients; more > 0 {
				s += fmt.Sprintf(" and %d more addresses", more)
			}
			parts = append(parts, s)
		}
		if len(a.targets) > 1 {
			ts := slices.Clone(a.targets)
			sort.SliceStable(ts, func(i, j int) bool {
				if !ts[i].t.Equal(ts[j].t) {
					return earlier(ts[i].t, ts[j].t)
				}
				return ts[i].s < ts[j].s
			})
			var names []string
			for _, x := range ts[:min(len(ts), 8)] {
				names = append(names, x.s)
			}
			parts = append(parts, "reached "+strings.Join(names, ", "))
		}
		if a.overflow {
			parts = append(parts, "aggregated past the finding cap")
		}
		// The record itself matters most: the summary gets what is left
		// after 180 bytes of it.
		sum := capString(strings.Join(parts, "; "), maxEvidence-180-3)
		ev = capString(ev, maxEvidence-len(sum)-3) + " | " + sum
	}
	f.Evidence = capString(ev, maxEvidence)
	return f
}

// dropWeakDuplicates removes timestamp-outlier findings for files that
// have a stronger finding: the shell itself says more than its time.
func (c *collector) dropWeakDuplicates() {
	strong := map[string]bool{}
	for _, a := range c.order {
		if a.check.ID != chkTimeOutlier && a.best.source == "disk" {
			strong[a.best.path] = true
		}
	}
	c.order = slices.DeleteFunc(c.order, func(a *agg) bool {
		return a.check.ID == chkTimeOutlier && strong[a.best.path]
	})
}

// upgradeRoleAssignments grades a Mailbox Import Export assignment as an
// attempt when a suspicious export follows it (the ProxyShell sequence);
// alone it is ordinary administration.
func (c *collector) upgradeRoleAssignments() {
	var exports []time.Time
	for _, a := range c.order {
		if a.check.ID == chkExport && GradeRank(a.grade) >= GradeRank(GradeAttempt) {
			exports = append(exports, a.first)
		}
	}
	if len(exports) == 0 {
		return
	}
	for _, a := range c.order {
		if a.check.ID != chkRole || a.grade != GradeInfo {
			continue
		}
		for _, t := range exports {
			if a.first.IsZero() || t.IsZero() || !t.Before(a.first) {
				a.grade = GradeAttempt
				a.best.grade = GradeAttempt
				a.best.what += " | followed by a mailbox export into a web folder"
				break
			}
		}
	}
}

// keySource reports whether a coverage source is one the verdict leans on:
// the logs that show ProxyLogon/ProxyShell exploitation.
func keySource(name string) bool {
	return name == "iis" || strings.HasPrefix(name, "httpproxy") || name == "ecp-server"
}

// coverageFinding adds one info finding naming the key log sources that
// start after the exploitation window, so the gap is in every output format
// (SARIF and CSV do not carry warnings).
func (c *collector) coverageFinding(rep *Report) {
	ws := c.e.windowStart()
	var late []string
	var first time.Time
	names := make([]string, 0, len(c.cov))
	for n := range c.cov {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		s := c.cov[n]
		if keySource(n) && c.e.startsLate(s.first) {
			late = append(late, n+" from "+s.first.Format("2006-01-02"))
			if first.IsZero() || s.first.Before(first) {
				first = s.first
			}
		}
	}
	if len(late) == 0 {
		return
	}
	ch := c.e.cs.get(chkCoverage)
	what := fmt.Sprintf("logs start after %s: %s", ws.Format("2006-01-02"), strings.Join(late, ", "))
	c.addHit(&hit{check: ch, grade: GradeInfo, key: "coverage", time: first, path: "", source: "coverage", what: capString(what, maxEvidence)})
}

func (e *engine) mostSeenHost() string {
	best, n := "", int64(0)
	e.hosts.Range(func(k, v any) bool {
		c := v.(*atomic.Int64).Load()
		if c > n || (c == n && cmp.Less(k.(string), best)) {
			best, n = k.(string), c
		}
		return true
	})
	return best
}
