package logs

import (
	"bytes"
	"fmt"
)

// parseW3C splits an IIS W3C line into r.vals by the current header.
//
// Values are separated by single spaces and "-" means empty. Exchange EWS
// lines (and attackers) put raw spaces into cs-uri-query, which gives more
// tokens than fields (plaso issue 3529); the surplus is folded back into
// cs-uri-query by aligning the fields before it from the left and the
// fields after it from the right, and the record is counted as repaired.
func (r *Reader) parseW3C(b []byte, line int64) bool {
	h := r.hdr
	nf := len(h.Fields)
	vals := r.vals[:0]
	i, qStart := 0, -1
	done := false
	for len(vals) < nf {
		if len(vals) == h.queryIdx {
			qStart = i
		}
		j := bytes.IndexByte(b[i:], ' ')
		if j < 0 {
			vals = append(vals, b[i:])
			done = true
			break
		}
		vals = append(vals, b[i:i+j])
		i += j + 1
	}
	var problem IssueKind
	detail := ""
	switch {
	case done && len(vals) == nf:
	case done:
		problem, detail = IssueFieldCount, fmt.Sprintf("%d of %d fields", len(vals), nf)
		for len(vals) < nf {
			vals = append(vals, nil)
		}
	case h.queryIdx < 0:
		// Too many tokens and no field that may hold spaces.
		r.vals = vals
		r.cov.issue(r.maxIssues, Issue{Line: line, Offset: -1, Kind: IssueFieldCount, Dropped: true,
			Detail: fmt.Sprintf("more than %d fields", nf)})
		return false
	default:
		// Right-align the fields after cs-uri-query.
		end := len(b)
		for k := nf - 1; k > h.queryIdx; k-- {
			j := bytes.LastIndexByte(b[:end], ' ')
			vals[k] = b[j+1 : end]
			end = j
		}
		vals[h.queryIdx] = b[qStart:end]
		problem, detail = IssueFieldCount, "spaces folded into cs-uri-query"
	}
	for k, v := range vals {
		if len(v) == 1 && v[0] == '-' {
			vals[k] = nil
		}
	}
	r.vals = vals

	date := h.date
	if h.dateIdx >= 0 {
		date = vals[h.dateIdx]
	}
	var tm []byte
	if h.timeIdx >= 0 {
		tm = vals[h.timeIdx]
	}
	t, ok := r.tp.w3c(date, tm)
	if !ok {
		if problem != "" {
			r.cov.issue(r.maxIssues, Issue{Line: line, Offset: -1, Kind: problem, Dropped: true, Detail: detail + ", no valid time"})
			return false
		}
		problem, detail = IssueBadTime, "unparseable date/time"
	}
	if problem != "" {
		r.cov.issue(r.maxIssues, Issue{Line: line, Offset: -1, Kind: problem, Detail: detail})
	}
	r.rec = Record{Line: line, Time: t, Raw: b, Header: h, vals: vals, w3c: true}
	return true
}

// w3cToken returns the idx'th space-separated token of b ("-" stays "-":
// callers only want dates and times from it).
func w3cToken(b []byte, idx int) []byte {
	for ; idx > 0; idx-- {
		j := bytes.IndexByte(b, ' ')
		if j < 0 {
			return nil
		}
		b = b[j+1:]
	}
	if j := bytes.IndexByte(b, ' '); j >= 0 {
		return b[:j]
	}
	return b
}
