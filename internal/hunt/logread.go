package hunt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/exsweep/exsweep/internal/hunt/logs"
)

// fileCtx is what a log scanner needs about the file it reads.
type fileCtx struct {
	e      *engine
	rel    string
	source string
	out    *sink
}

// sourceName groups files for coverage: "iis", "httpproxy/Ecp",
// "ecp-server", "oab-generator", "cmdlet", "evtx/<channel>".
func sourceName(k logs.Kind) string {
	switch k.Type {
	case logs.TypeW3C:
		return "iis"
	case logs.TypeHttpProxy:
		if k.Protocol != "" {
			return "httpproxy/" + k.Protocol
		}
		return "httpproxy"
	}
	return k.Type.String()
}

// readLog sniffs a log by content and runs the checks for its type in one
// pass: the reader skips, before splitting any field, every record without
// one of the merged literals of those checks.
func (e *engine) readLog(ctx context.Context, j job, s *sink) message {
	rel := e.rel(j.path)
	f, err := e.vol.Open(j.path)
	if err != nil {
		return message{warning: e.openWarning(j.path, err), partial: true}
	}
	defer f.Close()
	head := make([]byte, logs.SniffSize)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return message{warning: fmt.Sprintf("%s: cannot read: %v", rel, err), partial: true}
	}
	kind := logs.Sniff(j.path, head[:n])
	if kind.Type == logs.TypeEVTX {
		return e.readEVTX(ctx, j, f, s)
	}
	flt := e.cs.filters[kind.Type]
	if !kind.Type.IsText() || flt == nil {
		// Not a log, or a log type no check reads (ECP Activity, other
		// Exchange CSV logs): say so for files the user named.
		if j.explicit || kind.Type == logs.TypeUnknown {
			return message{skipped: rel}
		}
		return message{}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return message{warning: fmt.Sprintf("%s: cannot read: %v", rel, err), partial: true}
	}
	src := sourceName(kind)
	rd := logs.NewReader(&countingReader{ctx: ctx, r: f, e: e}, j.path, kind, &logs.Options{Filter: flt})
	fc := &fileCtx{e: e, rel: rel, source: src, out: s}
	switch kind.Type {
	case logs.TypeW3C:
		e.scanIIS(fc, rd)
	case logs.TypeHttpProxy:
		e.scanHttpProxy(fc, rd)
	case logs.TypeECPServer:
		e.scanECP(fc, rd)
	case logs.TypeOABGenerator:
		e.scanOAB(fc, rd)
	case logs.TypeCmdlet:
		e.scanCmdlet(fc, rd)
	}
	if ctx.Err() != nil {
		return message{} // interrupted: partial coverage would mislead
	}
	m := message{cov: &fileCoverage{source: src, cov: *rd.Coverage()}}
	if err := rd.Err(); err != nil {
		m.warning = fmt.Sprintf("%s: read error after line %d: %v; the rest of the file is unread", rel, rd.Coverage().Lines, err)
		m.partial = true
	}
	return m
}

// webReq is one HTTP request from an IIS or HttpProxy line.
type webReq struct {
	method, stem, query string
	client, ua, cookie  string
	user                string
	status              int
	reqID               string
}

func (r *webReq) describe() string {
	var b strings.Builder
	b.WriteString(r.method)
	b.WriteByte(' ')
	b.WriteString(capString(r.stem, 160))
	if q := exchangeQuery(strings.TrimPrefix(r.query, "?")); q != "" {
		b.WriteByte('?')
		b.WriteString(capString(q, 100))
	}
	fmt.Fprintf(&b, " → %d", r.status)
	if r.client != "" {
		b.WriteString(" from " + r.client)
	}
	if r.ua != "" {
		b.WriteString(" UA " + capString(r.ua, 80))
	}
	return b.String()
}

// exchangeQuery drops what Exchange appends to every IIS query
// ("&CorrelationID=<empty>;&cafeReqId=<guid>;&encoding=;"), which only
// hides the part an attacker sent; the request id is kept separately.
func exchangeQuery(q string) string {
	i := strings.LastIndex(q, "CorrelationID=")
	if i < 0 || (i > 0 && q[i-1] != '&') {
		return q
	}
	return strings.TrimSuffix(q[:i], "&")
}

var iisFields = []string{"cs-method", "cs-uri-stem", "cs-uri-query", "c-ip", "cs(User-Agent)", "sc-status", "cs(Cookie)", "cs-username"}

func (e *engine) scanIIS(fc *fileCtx, rd *logs.Reader) {
	lk := logs.NewLookup(iisFields...)
	for rd.Next() {
		rec := rd.Record()
		if !e.inWindow(rec.Time) {
			continue
		}
		ix := lk.For(rec.Header)
		r := webReq{
			method: capString(string(rec.Get(ix[0])), 16),
			stem:   capString(string(rec.Get(ix[1])), 2048),
			query:  capString(string(rec.Get(ix[2])), 2048),
			client: capString(string(rec.Get(ix[3])), 64),
			ua:     capString(rec.Text(ix[4]), 512),
			status: atoi(rec.Get(ix[5])),
			cookie: capString(string(rec.Get(ix[6])), 1024),
			user:   capString(string(rec.Get(ix[7])), 128),
		}
		h := matchIIS(e.cs, &r)
		if h == nil && !relatedIIS(&r) {
			continue
		}
		// Exchange appends the front end's request id (the HttpProxy
		// RequestId) to cs-uri-query: the join between the two logs.
		r.reqID = queryValue(r.query, "cafereqid")
		if h != nil {
			fc.out.hit(hit{check: h.check, grade: h.grade, key: h.key, time: rec.Time, path: fc.rel, line: rec.Line,
				source: fc.source, client: r.client, reqID: r.reqID, what: capString(h.what, maxEvidence), target: h.target})
			continue
		}
		fc.out.rel(related{time: rec.Time, source: fc.source, path: fc.rel, line: rec.Line, client: r.client,
			reqID: r.reqID, joins: canaryJoin(r.query), what: capString(r.describe(), maxEvidence)})
	}
}

// relatedIIS picks records worth joining to a finding: the back-end view
// of ECP configuration calls (the §2.8 sequence as W3SVC2 logs it).
func relatedIIS(r *webReq) bool {
	ls := strings.ToLower(r.stem)
	return strings.Contains(ls, "/ecp/ddi/ddiservice.svc/") && strings.Contains(strings.ToLower(r.query), "virtualdirectory")
}

var httpProxyFields = []string{"AnchorMailbox", "BackEndCookie", "UrlStem", "UrlQuery", "HttpStatus", "Method",
	"ClientIpAddress", "UserAgent", "RequestId", "AuthenticatedUser", "RoutingHint", "ServerHostName"}

func (e *engine) scanHttpProxy(fc *fileCtx, rd *logs.Reader) {
	lk := logs.NewLookup(httpProxyFields...)
	ssrf := e.cs.get(chkSSRF)
	reset := e.cs.get(chkResetVDir)
	ps := e.cs.get(chkProxyShell)
	for rd.Next() {
		rec := rd.Record()
		if !e.inWindow(rec.Time) {
			continue
		}
		ix := lk.For(rec.Header)
		anchor, cookie := rec.Get(ix[0]), rec.Get(ix[1])
		r := webReq{
			stem:   capString(string(rec.Get(ix[2])), 2048),
			query:  capString(string(rec.Get(ix[3])), 2048),
			status: atoi(rec.Get(ix[4])),
			method: capString(string(rec.Get(ix[5])), 16),
			client: capString(string(rec.Get(ix[6])), 64),
			ua:     capString(string(rec.Get(ix[7])), 512),
			reqID:  capString(string(rec.Get(ix[8])), 64),
			user:   capString(string(rec.Get(ix[9])), 128),
		}
		base := hit{time: rec.Time, path: fc.rel, line: rec.Line, source: fc.source, client: r.client, reqID: r.reqID}
		t, cls := classifyAnchor(ssrf, anchor)
		field, value := "AnchorMailbox", anchor
		if cls == ssrfNone {
			t, cls = classifyCookie(ssrf, cookie)
			field, value = "BackEndCookie", cookie
		}
		if cls != ssrfNone {
			h := base
			h.check, h.key = ssrf, "ip:"+r.client
			h.grade = ssrfGrade(cls, r.status)
			h.target = fmt.Sprintf("%s (%d)", capString(t.Path, 80), r.status)
			h.what = capString(fmt.Sprintf("%s %s %s=%s → %d%s from %s UA %s", r.method, capString(r.stem, 80), field,
				logs.Cap(value, 160), r.status, unauth(r.user), r.client, capString(r.ua, 80)), maxEvidence)
			h.joins = canaryJoin(string(value))
			fc.out.hit(h)
			e.noteHost(string(rec.Get(ix[11])))
			// The file-write step of CVE-2021-27065 through the same SSRF.
			lv := strings.ToLower(string(value))
			if containsAll(lv, reset.lind("reset_markers")) {
				h2 := h
				h2.check, h2.key, h2.target = reset, "ip:"+r.client, ""
				h2.grade = GradeAttempt
				if r.status == 200 {
					h2.grade = GradeExploited
				}
				fc.out.hit(h2)
			}
		}
		if containsAny(strings.ToLower(r.stem+"?"+r.query), ps.lind("endpoints")) {
			lower := strings.ToLower(percentDecode(r.stem + "?" + r.query))
			if target, ok := proxyShellTarget(ps, lower); ok {
				h := base
				h.check, h.key = ps, "ip:"+r.client
				h.grade = proxyShellGrade(ps, target, r.status)
				h.target = target
				h.what = capString("HttpProxy "+r.describe(), maxEvidence)
				fc.out.hit(h)
			}
		}
	}
}

func unauth(user string) string {
	if user == "" {
		return " unauthenticated"
	}
	return ""
}

// ssrfGrade grades one forged request: an ECP/EWS/OAB action that was
// answered (proxyLogon.ecp answers 241 on success) is exploitation.
func ssrfGrade(cls, status int) string {
	switch cls {
	case ssrfProbe:
		return GradeProbe
	case ssrfAction:
		if status >= 200 && status < 300 {
			return GradeExploited
		}
	}
	return GradeAttempt
}

// proxyShellGrade: answered requests show the server was vulnerable; the
// PowerShell endpoint answered means cmdlets could be run.
func proxyShellGrade(ps *check, target string, status int) string {
	if status < 200 || status >= 300 {
		return GradeProbe
	}
	if hasAnyPrefix(target, ps.lind("exploit_paths")) {
		return GradeExploited
	}
	return GradeAttempt
}

func containsAll(s string, subs []string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return len(subs) > 0
}

// canaryJoin returns the join key of an msExchEcpCanary value in s: ECP
// Server, HttpProxy ECP and IIS records of one exploitation share it.
func canaryJoin(s string) []string {
	v := queryValue(s, "msexchecpcanary")
	if v == "" {
		return nil
	}
	return []string{"canary:" + v}
}

// queryValue returns the value of key (lower-case) in a query-like string
// ("…&cafeReqId=<guid>;…", "…?msExchEcpCanary=x&schema=…"), case kept.
func queryValue(s, key string) string {
	ls := strings.ToLower(s)
	for off := 0; off < len(ls); {
		i := strings.Index(ls[off:], key+"=")
		if i < 0 {
			return ""
		}
		at := off + i
		if at == 0 || strings.IndexByte("?&;/ ", ls[at-1]) >= 0 {
			v := s[at+len(key)+1:]
			if j := strings.IndexAny(v, "&;# "); j >= 0 {
				v = v[:j]
			}
			return capString(v, 100)
		}
		off = at + 1
	}
	return ""
}

func atoi(b []byte) int {
	n, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil || n < 0 || n > 999 {
		return 0
	}
	return n
}

func (e *engine) scanECP(fc *fileCtx, rd *logs.Reader) {
	lk := logs.NewLookup("EventData", "ServerName")
	for rd.Next() {
		rec := rd.Record()
		if !e.inWindow(rec.Time) {
			continue
		}
		ix := lk.For(rec.Header)
		data := rec.Get(ix[0])
		if data == nil {
			data = rec.Raw
		}
		cmd := logs.ECPItem(data, "CMD")
		if len(cmd) == 0 {
			continue
		}
		call := parseECPCmd(string(cmd))
		ex := bytes.TrimSpace(logs.ECPItem(data, "EX"))
		call.Failed = len(ex) > 0
		url := string(logs.ECPItem(data, "URL"))
		joins := canaryJoin(url)
		e.noteHost(string(rec.Get(ix[1])))
		if h := matchCmdlet(e.cs, &call); h != nil {
			what := "ECP " + h.what
			if call.Failed {
				what += " (failed: " + logs.Cap(ex, 80) + ")"
			}
			fc.out.hit(hit{check: h.check, grade: h.grade, time: rec.Time, path: fc.rel, line: rec.Line, source: fc.source,
				joins: joins, what: capString(what, maxEvidence)})
			continue
		}
		fc.out.rel(related{time: rec.Time, source: fc.source, path: fc.rel, line: rec.Line, joins: joins,
			what: capString("ECP "+logs.Cap(cmd, 200), maxEvidence)})
	}
}

func (e *engine) scanCmdlet(fc *fileCtx, rd *logs.Reader) {
	lk := logs.NewLookup("Cmdlet", "Parameters", "ExecutionResult", "AuthenticatedUser", "RequestId", "ServerHostName")
	for rd.Next() {
		rec := rd.Record()
		if !e.inWindow(rec.Time) {
			continue
		}
		ix := lk.For(rec.Header)
		name := capString(string(rec.Get(ix[0])), 128)
		if name == "" {
			continue
		}
		params := capString(string(rec.Get(ix[1])), maxCmdText)
		result := strings.TrimSpace(string(rec.Get(ix[2])))
		call := cmdletCall{Name: name, Raw: params, Params: parsePSParams(params),
			Failed: result != "" && !strings.EqualFold(result, "Success"), User: capString(string(rec.Get(ix[3])), 128)}
		reqID := capString(string(rec.Get(ix[4])), 64)
		e.noteHost(string(rec.Get(ix[5])))
		if h := matchCmdlet(e.cs, &call); h != nil {
			what := "cmdlet " + h.what
			if call.User != "" {
				what += " by " + call.User
			}
			if call.Failed {
				what += " (" + capString(result, 20) + ")"
			}
			fc.out.hit(hit{check: h.check, grade: h.grade, time: rec.Time, path: fc.rel, line: rec.Line, source: fc.source,
				reqID: reqID, what: capString(what, maxEvidence)})
			continue
		}
		fc.out.rel(related{time: rec.Time, source: fc.source, path: fc.rel, line: rec.Line, reqID: reqID,
			what: capString("cmdlet "+name+" "+params, maxEvidence)})
	}
}

func (e *engine) scanOAB(fc *fileCtx, rd *logs.Reader) {
	ch := e.cs.get(chkOAB)
	lk := logs.NewLookup("Message")
	for rd.Next() {
		rec := rd.Record()
		if !e.inWindow(rec.Time) {
			continue
		}
		msg := rec.Get(lk.For(rec.Header)[0])
		if msg == nil {
			msg = rec.Raw // the layout is undocumented (host.md §3.4): fall back to the line
		}
		path, grade, ok := matchOAB(ch, string(msg))
		if !ok {
			continue
		}
		fc.out.hit(hit{check: ch, grade: grade, time: rec.Time, path: fc.rel, line: rec.Line, source: fc.source,
			what: capString("OAB generator wrote "+path, maxEvidence), target: path})
	}
}

// matchOAB extracts the path of "Download failed and temporary file <path>
// needs to be removed" and grades it. Normal downloads stay under
// <install>\ClientAccess\OAB\Temp; Test-ProxyLogon's test is "does not
// start with <install>ClientAccess\OAB" (host.md §1.2). The install path on
// the original server is unknown in a triage copy, so the test here is: a
// local path through \ClientAccess\OAB\ without "..", and not a script.
func matchOAB(ch *check, msg string) (path, grade string, ok bool) {
	marker := ch.ind("message")[0]
	i := strings.Index(msg, marker)
	if i < 0 {
		return "", "", false
	}
	rest := msg[i+len(marker):]
	for _, end := range ch.ind("message_end") {
		if j := strings.Index(rest, end); j >= 0 {
			rest = rest[:j]
			break
		}
	}
	path = strings.Trim(strings.TrimSpace(capString(rest, 1024)), `'"`)
	if path == "" {
		return "", "", false
	}
	np := strings.ToLower(strings.ReplaceAll(path, `\`, "/"))
	local := len(np) > 3 && isLetter(np[0]) && np[1] == ':' && np[2] == '/'
	_, inOAB := containsAnyFold(np, ch.lind("allowed_dirs"))
	script := hasAnySuffixFold(np, ch.lind("script_ext"))
	_, web := containsAnyFold(np, ch.lind("web_folders"))
	switch {
	case script || web:
		return path, GradeExploited, true
	case !local || !inOAB || strings.Contains(np, ".."):
		return path, GradeAttempt, true
	}
	return "", "", false
}

// readEVTX streams an event log: events are selected on their System
// fields before their data is flattened, and only then matched.
func (e *engine) readEVTX(ctx context.Context, j job, f *os.File, s *sink) message {
	rel := e.rel(j.path)
	st, err := f.Stat()
	if err != nil {
		return message{warning: fmt.Sprintf("%s: cannot read: %v", rel, err), partial: true}
	}
	channel, computer := "", ""
	keep := func(ev *logs.Event) bool {
		if channel == "" && ev.Channel != "" {
			channel = ev.Channel
		}
		if computer == "" && ev.Computer != "" {
			computer = ev.Computer
		}
		return e.inWindow(ev.TimeCreated) && e.cs.keepEvent(ev)
	}
	rd, err := logs.NewEVTXReader(&countingReaderAt{ctx: ctx, r: f, e: e}, st.Size(), j.path, &logs.EVTXOptions{Keep: keep})
	if err != nil {
		if ctx.Err() != nil {
			return message{}
		}
		return message{warning: fmt.Sprintf("%s: not a readable event log: %s", rel, strings.TrimPrefix(err.Error(), j.path+": ")), partial: true}
	}
	fc := &fileCtx{e: e, rel: rel, out: s}
	for rd.Next() {
		ev := rd.Event()
		if fc.source == "" {
			fc.source = "evtx/" + ev.Channel
		}
		e.matchEvent(fc, ev)
	}
	if ctx.Err() != nil {
		return message{}
	}
	e.noteHost(computer)
	if channel == "" {
		// An empty log: name the source after the file (Microsoft-Windows-Sysmon%4Operational → …/Operational).
		channel = strings.ReplaceAll(strings.TrimSuffix(filepath.Base(j.path), filepath.Ext(j.path)), "%4", "/")
	}
	m := message{cov: &fileCoverage{source: "evtx/" + channel, cov: *rd.Coverage()}}
	if err := rd.Err(); err != nil {
		m.warning = fmt.Sprintf("%s: read error: %v; the rest of the file is unread", rel, err)
		m.partial = true
	}
	return m
}
