// Package logs reads the logs an Exchange hunt looks at: IIS W3C extended
// logs, the Exchange CSV logs (HttpProxy, ECP Server/Activity,
// OABGeneratorLog, CmdletInfra Rps_Cmdlet) and Windows .evtx files.
//
// Every reader streams: memory stays bounded whatever the input size, and
// every field comes from a possibly hostile source, so lines and records are
// capped (Options.MaxLine) and a malformed line is counted in the file's
// Coverage with its file:line, never fatal.
//
// Text logs are read with a Reader:
//
//	rd, err := logs.Open(path, &logs.Options{Filter: f})
//	defer rd.Close()
//	anchor := logs.NewLookup("AnchorMailbox", "HttpStatus")
//	for rd.Next() {
//		rec := rd.Record()
//		ix := anchor.For(rec.Header)
//		if bytes.HasPrefix(rec.Get(ix[0]), []byte("ServerInfo~")) { … }
//	}
//	cov := rd.Coverage()
//
// Record field values are byte slices into the reader's buffer and are valid
// only until the next call to Next; copy what you keep (Cap, Record.Text,
// Record.Map). A Filter skips, before any field splitting, every record that
// contains none of a set of literals: this is what lets a hunt read gigabytes
// of logs at disk speed, because ProxyLogon indicators are rare literals
// (ServerInfo~, "Download failed and temporary file", Set-OabVirtualDirectory).
package logs

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Type is the format of a log file.
type Type uint8

// The log types the package knows. The CSV types share one parser; the type
// only tells a check which fields to expect.
const (
	TypeUnknown      Type = iota
	TypeW3C               // IIS W3C extended log (u_ex*.log)
	TypeHttpProxy         // Logging/HttpProxy/<Protocol>/HttpProxy_*.LOG
	TypeECPServer         // Logging/ECP/Server/ECPServer*.LOG
	TypeECPActivity       // Logging/ECP/Activity/ECPActivity_*.LOG
	TypeOABGenerator      // Logging/OABGeneratorLog/*.LOG
	TypeCmdlet            // Logging/CmdletInfra/…/Rps_Cmdlet_*.LOG
	TypeExchangeCSV       // another Exchange log in the same CSV layout
	TypeEVTX              // Windows event log (.evtx)
)

var typeNames = [...]string{
	TypeUnknown:      "unknown",
	TypeW3C:          "iis-w3c",
	TypeHttpProxy:    "httpproxy",
	TypeECPServer:    "ecp-server",
	TypeECPActivity:  "ecp-activity",
	TypeOABGenerator: "oab-generator",
	TypeCmdlet:       "cmdlet",
	TypeExchangeCSV:  "exchange-csv",
	TypeEVTX:         "evtx",
}

// String returns the short stable name used in coverage reports.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// IsCSV reports whether files of this type use the Exchange CSV layout.
func (t Type) IsCSV() bool {
	switch t {
	case TypeHttpProxy, TypeECPServer, TypeECPActivity, TypeOABGenerator, TypeCmdlet, TypeExchangeCSV:
		return true
	}
	return false
}

// IsText reports whether a Reader can read files of this type.
func (t Type) IsText() bool { return t == TypeW3C || t.IsCSV() }

// Kind is what Sniff learned about a file.
type Kind struct {
	Type Type
	// Protocol is the HttpProxy protocol folder (Ecp, Owa, Autodiscover, …)
	// taken from the path, or "" when the path does not say.
	Protocol string
	// LogType is the #Log-type directive seen in the head of the file, if any.
	LogType string
}

func (k Kind) String() string {
	if k.Protocol != "" {
		return k.Type.String() + "/" + k.Protocol
	}
	return k.Type.String()
}

// Header is the field list in effect for a run of records: one per #Fields
// directive (or bare CSV header line). It is immutable once a Reader returns
// it, so checks may keep the pointer and compare it to notice a change of
// field set (see Lookup).
type Header struct {
	Fields []string
	// Directives in effect when the #Fields line was read.
	Software, Version, LogType, Date string
	// Line is the line of the #Fields directive (0 when Assumed).
	Line int64
	// Assumed is set when a W3C file had no #Fields line and the reader
	// matched the record to a default IIS field set instead.
	Assumed bool

	index    map[string]int
	raw      []byte // the field list as written, to recognise header repeats
	timeIdx  int    // CSV: DateTime/TimeStamp; W3C: time
	dateIdx  int    // W3C: date
	queryIdx int    // W3C: cs-uri-query, the field that absorbs stray spaces
	plus     []bool // W3C: field uses '+' for space (cs(...) headers)
	date     []byte // W3C: date part of #Date, for files without a date field
}

// Index returns the position of the named field, or -1. Names compare
// ASCII-case-insensitively, as PowerShell's Import-Csv does (logs and
// Microsoft's scripts disagree on ClientIpAddress vs ClientIPAddress).
func (h *Header) Index(name string) int {
	if h == nil {
		return -1
	}
	if i, ok := h.index[name]; ok {
		return i
	}
	if i, ok := h.index[lowerASCIIString(name)]; ok {
		return i
	}
	return -1
}

// Has reports whether the header contains the named field.
func (h *Header) Has(name string) bool { return h.Index(name) >= 0 }

func newHeader(fields []string, raw []byte) *Header {
	h := &Header{
		Fields:   fields,
		index:    make(map[string]int, len(fields)*2),
		raw:      append([]byte(nil), raw...),
		timeIdx:  -1,
		dateIdx:  -1,
		queryIdx: -1,
	}
	for i, f := range fields {
		if _, dup := h.index[f]; !dup {
			h.index[f] = i
		}
		if l := lowerASCIIString(f); l != f {
			if _, dup := h.index[l]; !dup {
				h.index[l] = i
			}
		}
	}
	return h
}

// Lookup resolves a fixed list of field names against whatever header a
// record carries, caching the positions per header so the per-record cost is
// one pointer comparison. A Lookup is not safe for concurrent use; give each
// goroutine its own.
type Lookup struct {
	names []string
	hdr   *Header
	idx   []int
}

// NewLookup returns a Lookup for the names.
func NewLookup(names ...string) *Lookup {
	idx := make([]int, len(names))
	for i := range idx {
		idx[i] = -1
	}
	return &Lookup{names: names, idx: idx}
}

// For returns the position of each name in h, -1 where missing. The slice
// is owned by the Lookup and reused.
func (l *Lookup) For(h *Header) []int {
	if h != l.hdr {
		for i, n := range l.names {
			l.idx[i] = h.Index(n)
		}
		l.hdr = h
	}
	return l.idx
}

// Record is one log record. Its byte slices point into the Reader's buffer
// and are valid only until the next call to Next.
type Record struct {
	// Line is the 1-based line of the record's first physical line.
	Line int64
	// Time is the record's timestamp in UTC; zero when unparseable.
	Time time.Time
	// Raw is the record as it appears in the file, without the line
	// terminator (a multi-line CSV record keeps its inner line breaks).
	Raw    []byte
	Header *Header

	vals [][]byte
	w3c  bool
}

// Get returns field i, or nil when i is out of range (so a -1 from
// Header.Index is safe). W3C "-" and empty CSV fields both come back empty.
func (r *Record) Get(i int) []byte {
	if i < 0 || i >= len(r.vals) {
		return nil
	}
	return r.vals[i]
}

// Lookup returns the named field (a map lookup per call; prefer Lookup.For
// in hot loops).
func (r *Record) Lookup(name string) []byte { return r.Get(r.Header.Index(name)) }

// NumFields returns the number of field values (the header's length).
func (r *Record) NumFields() int { return len(r.vals) }

// Text returns a copy of field i as a string. For W3C fields that IIS
// writes with '+' for space (cs(User-Agent), cs(Referer), cs(Cookie)) the
// plus signs are turned back into spaces. IIS does not escape a literal '+',
// so this is a best effort; match IOC user agents against Get instead.
func (r *Record) Text(i int) string {
	v := r.Get(i)
	if r.w3c && r.Header != nil && i < len(r.Header.plus) && r.Header.plus[i] {
		return strings.ReplaceAll(string(v), "+", " ")
	}
	return string(v)
}

// Map copies the record's non-empty fields into a map, each capped to
// maxValue bytes (see Cap); meant for evidence attached to a finding.
func (r *Record) Map(maxValue int) map[string]string {
	m := make(map[string]string, len(r.vals))
	if r.Header == nil {
		return m
	}
	for i, v := range r.vals {
		if len(v) == 0 || i >= len(r.Header.Fields) {
			continue
		}
		m[r.Header.Fields[i]] = Cap(v, maxValue)
	}
	return m
}

// Cap copies b into a string of at most max bytes, cut on a UTF-8 boundary
// and ending in "…" when cut. Use it whenever a log value outlives the
// record (evidence, timeline entries): values are hostile and unbounded
// until capped.
func Cap(b []byte, max int) string {
	if len(b) <= max {
		return string(b)
	}
	if max <= 0 {
		return ""
	}
	cut := max
	for cut > 0 && cut > max-utf8.UTFMax && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return string(b[:cut]) + "…"
}

// CapString is Cap for a string.
func CapString(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return Cap([]byte(s), max)
}

// IssueKind names why a line or record was counted as malformed or repaired.
type IssueKind string

// Issue kinds.
const (
	IssueOverlong   IssueKind = "overlong-line"      // line longer than MaxLine: skipped unread
	IssueUnclosed   IssueKind = "unterminated-quote" // CSV quote not closed within MaxLine or before EOF
	IssueNoHeader   IssueKind = "no-header"          // data before any #Fields line
	IssueFieldCount IssueKind = "field-count"        // value count differs from the header
	IssueBadTime    IssueKind = "bad-time"           // time fields missing or unparseable
	IssueBadHeader  IssueKind = "bad-header"         // #Fields line unusable
	IssueAssumed    IssueKind = "assumed-header"     // W3C data without #Fields read with a default IIS field set
	IssueEVTXHeader IssueKind = "evtx-header"        // EVTX file header oddity (version, dirty flag): noted, not counted
	IssueChunk      IssueKind = "bad-chunk"          // EVTX chunk unreadable
	IssueEVTXRecord IssueKind = "bad-record"         // EVTX record unreadable
	IssueIO         IssueKind = "io-error"           // read error: the rest of the file is unread
)

// Issue locates one malformed or repaired line/record.
type Issue struct {
	Path string
	// Line is the 1-based line for text logs, 0 for EVTX.
	Line int64
	// Offset is the byte offset for EVTX chunks/records, -1 for text logs.
	Offset int64
	Kind   IssueKind
	// Dropped is true when the line/record was not returned to the caller,
	// false when it was returned after a repair (see Kind).
	Dropped bool
	Detail  string
}

func (i Issue) String() string {
	loc := i.Path
	if i.Line > 0 {
		loc = fmt.Sprintf("%s:%d", i.Path, i.Line)
	} else if i.Offset >= 0 {
		loc = fmt.Sprintf("%s@0x%x", i.Path, i.Offset)
	}
	if i.Detail != "" {
		return fmt.Sprintf("%s: %s: %s", loc, i.Kind, i.Detail)
	}
	return fmt.Sprintf("%s: %s", loc, i.Kind)
}

// Coverage is the per-file accounting a hunt reports, so a clean result can
// be told apart from a log that was not there, rotated away or unreadable.
type Coverage struct {
	Path string
	Kind Kind
	// Bytes read and physical lines seen (text logs).
	Bytes int64
	Lines int64
	// Directives counts # lines and bare CSV header lines.
	Directives int64
	// Headers counts distinct field sets (#Fields) seen.
	Headers int
	// Records were returned to the caller; Filtered were skipped by the
	// pre-filter; Malformed were dropped. Records+Filtered+Malformed is the
	// number of data records (EVTX: event records) in the file.
	Records, Filtered, Malformed int64
	// Repaired records were returned despite a problem (field count, time).
	Repaired int64
	// Chunks is the number of EVTX chunks read.
	Chunks int64
	// Issues holds the first few malformed/repaired examples (MaxIssues).
	Issues []Issue
	// First and Last are the earliest and latest record time seen
	// (including filtered records), zero when none parsed. They are min and
	// max, not the first and last line: EVTX files wrap around.
	First, Last time.Time
	// Software, Version and LogType are the last values of those directives.
	Software, Version, LogType string
}

func (c *Coverage) addTime(t time.Time) {
	if t.IsZero() {
		return
	}
	if c.First.IsZero() || t.Before(c.First) {
		c.First = t
	}
	if c.Last.IsZero() || t.After(c.Last) {
		c.Last = t
	}
}

// issue counts a malformed (Dropped) or repaired record and keeps the first
// examples.
func (c *Coverage) issue(max int, is Issue) {
	if is.Dropped {
		c.Malformed++
	} else {
		c.Repaired++
	}
	c.note(max, is)
}

// note keeps an example without counting a record (I/O errors, assumed
// headers).
func (c *Coverage) note(max int, is Issue) {
	if len(c.Issues) < max {
		is.Path = c.Path
		is.Detail = CapString(is.Detail, 200)
		c.Issues = append(c.Issues, is)
	}
}
