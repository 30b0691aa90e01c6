package logs

import (
	"bytes"
	"fmt"
	"time"
)

// The Exchange CSV dialect, shared by record assembly (csvScanLine) and
// field splitting (splitCSV) so both agree on where a record ends:
//
//   - a field that starts with '"' is quoted; inside it "" is a literal
//     quote and line breaks are data;
//   - a quote inside a quoted field closes it only when followed by ',' or
//     the end of the record; otherwise it is kept literally (like
//     encoding/csv LazyQuotes), so a stray quote cannot swallow the file;
//   - a quote inside an unquoted field is literal.
//
// Exchange itself quotes any value with a comma, quote or line break and
// doubles inner quotes (ECP: S:CMD=Set-OabVirtualDirectory.ExternalUrl=''…
// language=""JScript""…).

// csvScanLine reports whether a record is still inside a quoted field at
// the end of line, given whether it was at the start.
func csvScanLine(line []byte, inQ bool) bool {
	i := 0
	for {
		if inQ {
			j := bytes.IndexByte(line[i:], '"')
			if j < 0 {
				return true
			}
			i += j + 1
			switch {
			case i == len(line):
				return false
			case line[i] == '"':
				i++
				continue
			case line[i] != ',':
				continue // literal quote, still quoted
			}
			i++ // past the comma: at a field start
			inQ = false
		}
		if i < len(line) && line[i] == '"' {
			inQ = true
			i++
			continue
		}
		j := bytes.IndexByte(line[i:], ',')
		if j < 0 {
			return false
		}
		i += j + 1
	}
}

// splitCSV appends up to max fields of record b to vals. Quoted fields
// without escapes are sub-slices of b; others are unescaped into scratch,
// whose capacity must be at least len(b) so that it never reallocates
// (earlier values point into it).
func splitCSV(b []byte, max int, vals [][]byte, scratch []byte) ([][]byte, []byte) {
	i := 0
	for len(vals) < max {
		if i >= len(b) || b[i] != '"' {
			j := bytes.IndexByte(b[i:], ',')
			if j < 0 {
				return append(vals, b[i:len(b):len(b)]), scratch
			}
			vals = append(vals, b[i:i+j:i+j])
			i += j + 1
			continue
		}
		i++
		seg, vs := i, -1 // vs: start of the value in scratch once copying
		for {
			j := bytes.IndexByte(b[i:], '"')
			if j < 0 { // unterminated: the rest is the value
				if vs < 0 {
					return append(vals, b[seg:len(b):len(b)]), scratch
				}
				scratch = append(scratch, b[seg:]...)
				return append(vals, scratch[vs:len(scratch):len(scratch)]), scratch
			}
			q := i + j
			if q+1 == len(b) || b[q+1] == ',' {
				var v []byte
				if vs < 0 {
					v = b[seg:q:q]
				} else {
					scratch = append(scratch, b[seg:q]...)
					v = scratch[vs:len(scratch):len(scratch)]
				}
				vals = append(vals, v)
				if q+1 == len(b) {
					return vals, scratch
				}
				i = q + 2
				break
			}
			if vs < 0 {
				vs = len(scratch)
			}
			scratch = append(scratch, b[seg:q+1]...) // keep one quote
			if b[q+1] == '"' {
				i = q + 2 // "" escape
			} else {
				i = q + 1 // stray quote kept literally
			}
			seg = i
		}
	}
	return vals, scratch
}

// csvField returns field idx of record b, for timestamps of filtered
// records. The common case (unquoted leading DateTime) is one IndexByte.
func (r *Reader) csvField(b []byte, idx int) []byte {
	if bytes.IndexByte(b, '"') < 0 {
		for ; idx > 0; idx-- {
			j := bytes.IndexByte(b, ',')
			if j < 0 {
				return nil
			}
			b = b[j+1:]
		}
		if j := bytes.IndexByte(b, ','); j >= 0 {
			return b[:j]
		}
		return b
	}
	r.ensureScratch(len(b))
	vals, _ := splitCSV(b, idx+1, r.vals[:0], r.scratch[:0])
	r.vals = vals
	if idx < len(vals) {
		return vals[idx]
	}
	return nil
}

func (r *Reader) ensureScratch(n int) {
	if cap(r.scratch) < n {
		r.scratch = make([]byte, 0, max(n, r.maxLine))
	}
}

// parseCSV splits an Exchange CSV record into r.vals by the current header.
// A record with a different number of values than the header is returned
// (padded or truncated) when its timestamp parses — real logs differ by
// build and tools write short lines — and dropped as malformed otherwise.
func (r *Reader) parseCSV(b []byte, line int64) bool {
	h := r.hdr
	nf := len(h.Fields)
	r.ensureScratch(len(b))
	vals, scratch := splitCSV(b, nf+1, r.vals[:0], r.scratch[:0])
	r.vals, r.scratch = vals, scratch
	var problem IssueKind
	detail := ""
	if len(vals) != nf {
		problem = IssueFieldCount
		if len(vals) > nf {
			detail = fmt.Sprintf("more than %d fields", nf)
			vals = vals[:nf]
		} else {
			detail = fmt.Sprintf("%d of %d fields", len(vals), nf)
			for len(vals) < nf {
				vals = append(vals, nil)
			}
		}
		r.vals = vals
	}
	var t time.Time
	if h.timeIdx >= 0 {
		var ok bool
		t, ok = r.tp.iso(vals[h.timeIdx])
		if !ok {
			if problem != "" {
				r.cov.issue(r.maxIssues, Issue{Line: line, Offset: -1, Kind: problem, Dropped: true, Detail: detail + ", no valid time"})
				return false
			}
			problem, detail = IssueBadTime, "unparseable "+h.Fields[h.timeIdx]
		}
	}
	if problem != "" {
		r.cov.issue(r.maxIssues, Issue{Line: line, Offset: -1, Kind: problem, Detail: detail})
	}
	r.rec = Record{Line: line, Time: t, Raw: b, Header: h, vals: vals}
	return true
}
