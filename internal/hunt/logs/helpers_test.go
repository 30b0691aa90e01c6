package logs

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// recSum is what the table tests compare for a record: its position, its
// time and the fields a test names.
type recSum struct {
	Line int64
	Time string
	F    map[string]string
}

// covSum is the comparable part of a Coverage.
type covSum struct {
	Lines, Directives                      int64
	Headers                                int
	Records, Filtered, Malformed, Repaired int64
	First, Last                            string
	Issues                                 []string
}

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

func summarize(c *Coverage) covSum {
	s := covSum{
		Lines: c.Lines, Directives: c.Directives, Headers: c.Headers,
		Records: c.Records, Filtered: c.Filtered, Malformed: c.Malformed, Repaired: c.Repaired,
		First: ts(c.First), Last: ts(c.Last),
	}
	for _, is := range c.Issues {
		s.Issues = append(s.Issues, fmt.Sprintf("%d:%s", is.Line, is.Kind))
	}
	return s
}

// drain reads every record, keeping the named fields (absent fields are
// left out, so a test can assert a field is missing from a header).
func drain(t *testing.T, r *Reader, fields ...string) []recSum {
	t.Helper()
	var out []recSum
	for r.Next() {
		rec := r.Record()
		s := recSum{Line: rec.Line, Time: ts(rec.Time), F: map[string]string{}}
		for _, f := range fields {
			if i := rec.Header.Index(f); i >= 0 {
				s.F[f] = string(rec.Get(i))
			}
		}
		out = append(out, s)
	}
	if err := r.Err(); err != nil {
		t.Fatalf("read error: %v", err)
	}
	return out
}

func readString(t *testing.T, input string, kind Kind, opts *Options, fields ...string) ([]recSum, covSum) {
	t.Helper()
	r := NewReader(strings.NewReader(input), "t.log", kind, opts)
	recs := drain(t, r, fields...)
	return recs, summarize(r.Coverage())
}

var (
	w3cKind  = Kind{Type: TypeW3C}
	csvKind  = Kind{Type: TypeExchangeCSV}
	iisHead  = "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n#Date: 2021-03-05 00:00:00\n"
	iisField = "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n"
)
