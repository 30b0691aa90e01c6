package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Defaults for Options.
const (
	DefaultMaxLine   = 64 << 10
	DefaultMaxIssues = 5

	maxHeaderFields = 1024 // more fields than any Exchange/IIS log has
	maxFieldName    = 256
	maxDirective    = 256 // directive values kept (#Software, #Version, …)
)

// Options tune a Reader. The zero value is usable.
type Options struct {
	// Filter, when non-nil, skips every record without one of its literals.
	Filter *Filter
	// MaxLine caps a physical line and a whole (multi-line) CSV record, in
	// bytes; longer ones are counted as malformed and skipped without being
	// held in memory. Default DefaultMaxLine.
	MaxLine int
	// MaxIssues caps the examples kept in Coverage.Issues. Default
	// DefaultMaxIssues; negative keeps none.
	MaxIssues int
}

// Reader streams the records of one text log (W3C or Exchange CSV). It is
// not safe for concurrent use; run one Reader per file per goroutine.
type Reader struct {
	src    io.Reader
	closer io.Closer

	csv       bool
	maxLine   int
	maxIssues int

	buf  []byte
	r, w int // unread data is buf[r:w]
	eof  bool
	err  error

	line int64 // physical lines consumed
	fs   *filterState

	hdr                        *Header
	software, version, logType string
	date                       string // #Date value, for W3C files without a date field
	assumedNoted               bool
	rescanned                  int64 // CSV bytes re-read after unterminated quotes
	tp                         timeParser
	rec                        Record
	vals                       [][]byte
	scratch                    []byte
	cov                        Coverage
}

// NewReader returns a Reader over src, which holds a log of the given kind
// (see Sniff); path is only used in coverage and issues. A CSV kind starts
// in CSV mode and TypeW3C in W3C mode; each #Fields line then decides
// (commas mean CSV), so a mislabelled file still parses.
func NewReader(src io.Reader, path string, kind Kind, opts *Options) *Reader {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxLine <= 0 {
		o.MaxLine = DefaultMaxLine
	}
	if o.MaxIssues == 0 {
		o.MaxIssues = DefaultMaxIssues
	} else if o.MaxIssues < 0 {
		o.MaxIssues = 0
	}
	// The buffer must hold a maximal record plus its terminator after
	// compaction and leave room to read; 4×MaxLine (256 KiB by default)
	// keeps read calls large. Scaling with MaxLine lets tests and fuzzing
	// reach buffer refills with small inputs.
	size := max(4*o.MaxLine, 1024)
	r := &Reader{
		src:       src,
		csv:       kind.Type.IsCSV(),
		maxLine:   o.MaxLine,
		maxIssues: o.MaxIssues,
		buf:       make([]byte, size),
		fs:        newFilterState(o.Filter, size),
	}
	r.cov.Path = path
	r.cov.Kind = kind
	return r
}

// Open sniffs the file at path and returns a Reader for it. It fails for
// files that are not text logs (EVTX: use OpenEVTX). Close the Reader.
func Open(path string, opts *Options) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	head := make([]byte, SniffSize)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, err
	}
	kind := Sniff(path, head[:n])
	if !kind.Type.IsText() {
		f.Close()
		return nil, fmt.Errorf("%s: not a text log (%s)", path, kind.Type)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	r := NewReader(f, path, kind, opts)
	r.closer = f
	return r, nil
}

// Close closes the file opened by Open; it is a no-op for NewReader.
func (r *Reader) Close() error {
	if r.closer != nil {
		c := r.closer
		r.closer = nil
		return c.Close()
	}
	return nil
}

// Record returns the current record; valid until the next call to Next.
func (r *Reader) Record() *Record { return &r.rec }

// Header returns the field set in effect (nil before the first #Fields).
func (r *Reader) Header() *Header { return r.hdr }

// Err returns the read error that ended the stream early, if any. Parse
// problems are never errors: they are in Coverage.
func (r *Reader) Err() error { return r.err }

// Coverage returns the accounting so far; complete once Next returned false.
func (r *Reader) Coverage() *Coverage { return &r.cov }

type recStatus uint8

const (
	recOK recStatus = iota
	recEOF
	recOverlong
	recUnclosed
)

// Next advances to the next record that passes the filter. It returns false
// at the end of the input or on a read error (see Err).
func (r *Reader) Next() bool {
	for {
		s, e, line, st := r.nextRecord()
		switch st {
		case recEOF:
			return false
		case recOverlong:
			r.cov.issue(r.maxIssues, Issue{Line: line, Offset: -1, Kind: IssueOverlong, Dropped: true,
				Detail: fmt.Sprintf("longer than %d bytes", r.maxLine)})
			continue
		case recUnclosed:
			r.cov.issue(r.maxIssues, Issue{Line: line, Offset: -1, Kind: IssueUnclosed, Dropped: true})
			continue
		}
		if line == 1 && bytes.HasPrefix(r.buf[s:e], utf8BOM) {
			s += 3
		}
		b := r.buf[s:e]
		if len(b) == 0 {
			continue
		}
		if b[0] == '#' {
			r.directive(b, line)
			continue
		}
		if r.hdr == nil && !r.adoptHeader(b, line) {
			r.cov.issue(r.maxIssues, Issue{Line: line, Offset: -1, Kind: IssueNoHeader, Dropped: true})
			continue
		}
		if r.csv && len(b) == len(r.hdr.raw) && bytes.Equal(b, r.hdr.raw) {
			r.cov.Directives++ // a bare CSV header line repeating #Fields
			continue
		}
		if r.fs != nil && !r.fs.match(r.buf, s, e, r.w) {
			r.cov.Filtered++
			r.cov.addTime(r.quickTime(b))
			continue
		}
		var ok bool
		if r.csv {
			ok = r.parseCSV(b, line)
		} else {
			ok = r.parseW3C(b, line)
		}
		if ok {
			r.cov.Records++
			r.cov.addTime(r.rec.Time)
			return true
		}
	}
}

// nextRecord finds the next record in the buffer: one physical line, or for
// CSV several when a quoted field spans line breaks. It returns the
// record's bounds in r.buf (line terminator excluded) and its first line.
func (r *Reader) nextRecord() (s, e int, first int64, st recStatus) {
	start := r.r
	p := start     // start of the physical line being examined
	firstEnd := -1 // start of the record's second line, once known
	lines := int64(0)
	inQ := false
	for {
		i := bytes.IndexByte(r.buf[p:r.w], '\n')
		lineEnd, next := 0, 0
		if i >= 0 {
			lineEnd, next = p+i, p+i+1
		} else {
			switch {
			case r.w-start > r.maxLine:
				// Too long already; the check below drops it.
				lineEnd, next = r.w, r.w
			case !r.eof:
				shift := r.fill()
				start -= shift
				p -= shift
				if firstEnd >= 0 {
					firstEnd -= shift
				}
				continue
			case p == r.w:
				if p == start {
					return 0, 0, 0, recEOF
				}
				return r.unclosed(start, firstEnd, p, lines)
			default:
				lineEnd, next = r.w, r.w // last line without terminator
			}
		}
		if lineEnd-start > r.maxLine {
			if p > start { // a multi-line record grew too long
				return r.unclosed(start, firstEnd, p, lines)
			}
			first = r.line + 1
			r.line++
			r.cov.Lines++
			if i >= 0 {
				r.r = next
			} else {
				r.discardLine()
			}
			return 0, 0, first, recOverlong
		}
		lines++
		ce := lineEnd
		if ce > p && r.buf[ce-1] == '\r' {
			ce--
		}
		if r.csv {
			line := r.buf[p:ce]
			if inQ || bytes.IndexByte(line, '"') >= 0 {
				inQ = csvScanLine(line, inQ)
			}
			if inQ {
				if firstEnd < 0 {
					firstEnd = next
				}
				p = next
				continue
			}
		}
		r.r = next
		first = r.line + 1
		r.line += lines
		r.cov.Lines += lines
		return start, ce, first, recOK
	}
}

// unclosed handles a CSV record whose quote does not close within MaxLine
// or before EOF. Normally only its first line is dropped and reading
// resumes on the second line, so a single truncated line (a crash mid-write)
// costs one record, not the 64 KiB after it. Re-reading is bounded: once the
// bytes re-read exceed the bytes read, everything scanned is dropped
// instead, which keeps hostile input linear.
func (r *Reader) unclosed(start, firstEnd, scanned int, lines int64) (int, int, int64, recStatus) {
	first := r.line + 1
	if firstEnd < 0 || r.rescanned > r.cov.Bytes {
		r.r = scanned
		r.line += lines
		r.cov.Lines += lines
		if lines == 0 {
			r.line++
			r.cov.Lines++
		}
		return 0, 0, first, recUnclosed
	}
	r.rescanned += int64(scanned - firstEnd)
	r.r = firstEnd
	r.line++
	r.cov.Lines++
	return 0, 0, first, recUnclosed
}

// discardLine drops the rest of an overlong line without keeping it.
func (r *Reader) discardLine() {
	for {
		if i := bytes.IndexByte(r.buf[r.r:r.w], '\n'); i >= 0 {
			r.r += i + 1
			return
		}
		r.r = r.w
		if r.eof {
			return
		}
		r.fill()
	}
}

// fill moves unread data to the front of the buffer and reads more. It
// returns how far the data moved.
func (r *Reader) fill() int {
	shift := r.r
	if shift > 0 {
		oldW := r.w
		copy(r.buf, r.buf[r.r:r.w])
		r.w -= shift
		r.r = 0
		if r.fs != nil {
			r.fs.shifted(shift, oldW)
		}
	}
	oldW := r.w
	for tries := 0; r.w < len(r.buf); tries++ {
		n, err := r.src.Read(r.buf[r.w:])
		r.w += n
		if err != nil {
			if !errors.Is(err, io.EOF) {
				r.err = err
				r.cov.note(r.maxIssues, Issue{Line: r.line + 1, Offset: -1, Kind: IssueIO, Detail: err.Error()})
			}
			r.eof = true
			break
		}
		if n > 0 {
			break
		}
		if tries > 100 {
			r.err = io.ErrNoProgress
			r.eof = true
			break
		}
	}
	r.cov.Bytes += int64(r.w - oldW)
	if r.fs != nil {
		r.fs.filled(r.buf, oldW, r.w)
	}
	return shift
}

// directive handles a '#' line: #Fields changes the header, the others are
// recorded; comments and garbage such as "#####" are just counted.
func (r *Reader) directive(b []byte, line int64) {
	r.cov.Directives++
	colon := bytes.IndexByte(b, ':')
	if colon < 0 {
		return
	}
	name := b[1:colon]
	val := bytes.TrimSpace(b[colon+1:])
	switch {
	case bytes.EqualFold(name, []byte("Fields")):
		r.setFields(val, line)
	case bytes.EqualFold(name, []byte("Software")):
		r.software = Cap(val, maxDirective)
		r.cov.Software = r.software
	case bytes.EqualFold(name, []byte("Version")):
		r.version = Cap(val, maxDirective)
		r.cov.Version = r.version
	case bytes.EqualFold(name, []byte("Log-type")):
		r.logType = Cap(val, maxDirective)
		r.cov.LogType = r.logType
	case bytes.EqualFold(name, []byte("Date")):
		r.date = Cap(val, maxDirective)
	}
}

// setFields installs a new header from a #Fields value (or a bare CSV
// header line). The separator decides the format: commas for Exchange CSV,
// spaces for W3C.
func (r *Reader) setFields(val []byte, line int64) {
	csv := bytes.IndexByte(val, ',') >= 0
	var fields []string
	if csv {
		for _, f := range bytes.Split(val, []byte(",")) {
			fields = append(fields, string(bytes.TrimSpace(f)))
			if len(fields) > maxHeaderFields {
				break
			}
		}
	} else {
		for _, f := range bytes.Fields(val) {
			fields = append(fields, string(f))
			if len(fields) > maxHeaderFields {
				break
			}
		}
	}
	bad := len(fields) == 0 || len(fields) > maxHeaderFields
	for _, f := range fields {
		if len(f) > maxFieldName {
			bad = true
		}
	}
	if bad {
		r.hdr = nil
		r.cov.issue(r.maxIssues, Issue{Line: line, Offset: -1, Kind: IssueBadHeader, Dropped: true,
			Detail: fmt.Sprintf("%d fields", len(fields))})
		return
	}
	if h := r.hdr; h != nil && h.Software == r.software && h.Version == r.version &&
		h.LogType == r.logType && h.Date == r.date && bytes.Equal(h.raw, val) {
		return // IIS repeats the same header block after every restart
	}
	if r.hdr == nil || !bytes.Equal(r.hdr.raw, val) {
		r.cov.Headers++ // a new field set, not a repeated header block
	}
	h := newHeader(fields, val)
	h.Software, h.Version, h.LogType, h.Date = r.software, r.version, r.logType, r.date
	h.Line = line
	r.csv = csv
	r.initHeader(h)
	r.hdr = h
}

func (r *Reader) initHeader(h *Header) {
	if r.csv {
		for _, n := range []string{"DateTime", "TimeStamp", "date-time"} {
			if i := h.Index(n); i >= 0 {
				h.timeIdx = i
				break
			}
		}
		return
	}
	h.dateIdx = h.Index("date")
	h.timeIdx = h.Index("time")
	h.queryIdx = h.Index("cs-uri-query")
	h.plus = make([]bool, len(h.Fields))
	for i, f := range h.Fields {
		l := lowerASCIIString(f)
		h.plus[i] = strings.HasPrefix(l, "cs(") || strings.HasPrefix(l, "sc(")
	}
	if len(h.Date) >= 10 {
		h.date = []byte(h.Date[:10]) // "#Date: 2019-09-03 10:04:35"
	}
}

// The IIS default field sets, used for W3C data that arrives without a
// #Fields line (a triage copy cut mid-file): 15 fields on IIS 8.5+ with
// cs(Referer), 14 without. See host.md §3.1.
var (
	iisDefault15 = "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken"
	iisDefault14 = "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status sc-substatus sc-win32-status time-taken"
)

// adoptHeader is called for data before any header. A CSV line that looks
// like a list of column names becomes the header (some Exchange files start
// with a bare CSV header line, which is what Import-Csv relies on); a W3C
// line with the token count of an IIS default and a date up front is read
// with that default.
func (r *Reader) adoptHeader(b []byte, line int64) bool {
	if bytes.IndexByte(b, ',') >= 0 {
		if !looksLikeColumnNames(b) {
			return false
		}
		r.setFields(b, line)
		return r.hdr != nil
	}
	if r.csv {
		return false
	}
	var def string
	switch bytes.Count(b, []byte(" ")) + 1 {
	case 15:
		def = iisDefault15
	case 14:
		def = iisDefault14
	default:
		return false
	}
	if _, ok := r.tp.day(b[:min(10, len(b))]); !ok {
		return false
	}
	h := newHeader(strings.Fields(def), []byte(def))
	h.Assumed = true
	h.Software, h.Version, h.LogType, h.Date = r.software, r.version, r.logType, r.date
	r.csv = false
	r.initHeader(h)
	r.hdr = h
	r.cov.Headers++
	if !r.assumedNoted {
		r.assumedNoted = true
		r.cov.note(r.maxIssues, Issue{Line: line, Offset: -1, Kind: IssueAssumed,
			Detail: fmt.Sprintf("no #Fields; read with the %d-field IIS default", len(h.Fields))})
	}
	return true
}

func looksLikeColumnNames(b []byte) bool {
	n := 1
	for _, c := range b {
		switch {
		case c == ',':
			n++
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '(', c == ')', c == ' ':
		default:
			return false
		}
	}
	c := b[0]
	return n >= 2 && ('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z')
}

// quickTime extracts the timestamp of a record the filter skipped, without
// splitting the whole record, so coverage stays exact under a filter.
func (r *Reader) quickTime(b []byte) time.Time {
	h := r.hdr
	if h.timeIdx < 0 {
		return time.Time{}
	}
	if r.csv {
		t, _ := r.tp.iso(r.csvField(b, h.timeIdx))
		return t
	}
	date := h.date
	if h.dateIdx >= 0 {
		date = w3cToken(b, h.dateIdx)
	}
	t, _ := r.tp.w3c(date, w3cToken(b, h.timeIdx))
	return t
}
