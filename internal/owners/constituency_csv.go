package owners

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"net/netip"
	"strings"
)

// csvColumns are the columns of the CSV constituency format, in the order
// the example uses. Only name and to are required.
var csvColumns = []string{"name", "to", "cc", "language", "cidrs", "asns", "domains"}

// parseCSV reads the CSV constituency format: a header row naming the
// columns (any order, case-insensitive), then one row per organisation.
// List cells hold several values separated by spaces, ';' or ','. An
// organisation may continue on later rows with the same name to keep long
// prefix lists readable; those rows leave to, cc and language empty or
// repeat them exactly. Lines starting with '#' are comments.
func parseCSV(file string, data []byte, errs *errorList) []*orgDecl {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = -1 // checked below, with a better message

	var (
		cols   map[string]int
		width  int
		decls  []*orgDecl
		byName = map[string]*orgDecl{}
	)
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				errs.add(file, pe.Line, "CSV: %v", pe.Err)
			} else {
				errs.add(file, 0, "CSV: %v", err)
			}
			// encoding/csv cannot resynchronise reliably after a quoting
			// error; stop rather than report the rest of the file wrongly.
			return nil
		}
		line, _ := r.FieldPos(0)
		if cols == nil {
			cols, width = csvHeader(file, line, rec, errs)
			if cols == nil {
				return nil
			}
			continue
		}
		if allEmpty(rec) {
			continue // spreadsheets export trailing ",,,,,," rows
		}
		if len(rec) != width {
			errs.add(file, line, "row has %d fields, the header has %d", len(rec), width)
			continue
		}
		d := csvRow(file, line, rec, cols, errs)
		if d == nil {
			continue
		}
		key := strings.ToLower(d.name)
		prev, ok := byName[key]
		if !ok {
			if len(d.to) == 0 {
				errs.add(file, line, "organisation %q has no \"to\" address", d.name)
				continue
			}
			byName[key] = d
			decls = append(decls, d)
			continue
		}
		if !continues(prev, d) {
			errs.add(file, line, "organisation %q is already defined at %s:%d with different to/cc/language (leave them empty on continuation rows)", d.name, file, prev.line)
			continue
		}
		prev.cidrs = append(prev.cidrs, d.cidrs...)
		prev.asns = append(prev.asns, d.asns...)
		prev.domains = append(prev.domains, d.domains...)
	}
	if cols == nil {
		errs.add(file, 0, "empty file (want a header row: %s)", strings.Join(csvColumns, ","))
	}
	return decls
}

func csvHeader(file string, line int, rec []string, errs *errorList) (map[string]int, int) {
	cols := make(map[string]int, len(rec))
	ok := true
	for i, h := range rec {
		h = strings.ToLower(strings.TrimSpace(h))
		known := false
		for _, c := range csvColumns {
			known = known || c == h
		}
		switch {
		case !known:
			errs.add(file, line, "unknown column %q (want %s)", preview(h), strings.Join(csvColumns, ","))
			ok = false
		case cols[h] != 0:
			errs.add(file, line, "column %q repeated", h)
			ok = false
		default:
			cols[h] = i + 1 // 0 means absent
		}
	}
	for _, req := range []string{"name", "to"} {
		if cols[req] == 0 {
			errs.add(file, line, "header has no %q column (want %s)", req, strings.Join(csvColumns, ","))
			ok = false
		}
	}
	if !ok {
		return nil, 0
	}
	return cols, len(rec)
}

func csvRow(file string, line int, rec []string, cols map[string]int, errs *errorList) *orgDecl {
	before := len(errs.errs) + errs.extra
	cell := func(name string) string {
		if i := cols[name]; i > 0 {
			return strings.TrimSpace(rec[i-1])
		}
		return ""
	}
	d := &orgDecl{file: file, line: line}
	name, err := checkName(cell("name"))
	if err != nil {
		errs.add(file, line, "%v", err)
	}
	d.name = name
	for _, which := range []string{"to", "cc"} {
		var addrs []string
		for _, s := range splitList(cell(which)) {
			a, err := normalizeEmail(s)
			if err != nil {
				errs.add(file, line, "%s: %v", which, err)
				continue
			}
			addrs = appendUnique(addrs, a)
		}
		if len(addrs) > MaxAddressesPerList {
			errs.add(file, line, "%s: more than %d addresses", which, MaxAddressesPerList)
		}
		if which == "to" {
			d.to = addrs
		} else {
			d.cc = addrs
		}
	}
	if d.language, err = normalizeLanguage(cell("language")); err != nil {
		errs.add(file, line, "%v", err)
	}
	for _, s := range splitList(cell("cidrs")) {
		p, err := parsePrefix(s)
		if err != nil {
			errs.add(file, line, "%v", err)
			continue
		}
		d.cidrs = append(d.cidrs, located[netip.Prefix]{p, line})
	}
	for _, s := range splitList(cell("asns")) {
		a, err := parseASN(s)
		if err != nil {
			errs.add(file, line, "%v", err)
			continue
		}
		d.asns = append(d.asns, located[uint32]{a, line})
	}
	for _, s := range splitList(cell("domains")) {
		dm, err := normalizeDomain(s)
		if err != nil {
			errs.add(file, line, "%v", err)
			continue
		}
		d.domains = append(d.domains, located[string]{dm, line})
	}
	if len(errs.errs)+errs.extra != before {
		return nil
	}
	return d
}

// continues reports whether row d may extend organisation prev: its
// contact fields are empty or the same.
func continues(prev, d *orgDecl) bool {
	same := func(a, b []string) bool {
		if len(b) == 0 {
			return true
		}
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	return same(prev.to, d.to) && same(prev.cc, d.cc) && (d.language == "" || d.language == prev.language)
}

// splitList splits a CSV list cell on spaces, ';' and ','.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ';' || r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
}

func allEmpty(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}
