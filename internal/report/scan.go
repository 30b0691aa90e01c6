// Package report writes exsweep's results in the formats users ask for.
package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/exsweep/exsweep/internal/scan"
)

// ScanWriter writes scan records one at a time (nothing is held back, so a
// crash loses nothing already written) and a summary at the end.
type ScanWriter interface {
	Write(scan.Record) error
	Close(Summary) error
}

// NewScanWriter gives the writer for format jsonl, csv or table.
func NewScanWriter(w io.Writer, format string) (ScanWriter, error) {
	switch format {
	case "jsonl", "json":
		return &jsonlWriter{enc: json.NewEncoder(w)}, nil
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(csvHeader); err != nil {
			return nil, err
		}
		return &csvWriter{w: cw}, nil
	case "table":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TARGET\tVERDICT\tPRODUCT\tCU\tUPDATE\tBUILD\tEXACT\tVULNERABLE CVES\tNOTE")
		return &tableWriter{w: w, tw: tw}, nil
	}
	return nil, fmt.Errorf("unknown format %q: want jsonl, csv or table", format)
}

type jsonlWriter struct{ enc *json.Encoder }

func (j *jsonlWriter) Write(r scan.Record) error { return j.enc.Encode(r) }
func (j *jsonlWriter) Close(Summary) error       { return nil }

var csvHeader = []string{"target", "ip", "port", "hostname", "exchange", "product", "build", "build_exact", "cu", "update",
	"verdict", "vulnerable_cves", "end_of_life", "webshells", "error", "observed_at"}

type csvWriter struct{ w *csv.Writer }

func (c *csvWriter) Write(r scan.Record) error {
	var shells []string
	for _, w := range r.Webshells {
		shells = append(shells, w.Path)
	}
	err := c.w.Write([]string{r.Target, r.IP, strconv.Itoa(r.Port), csvSafe(r.Hostname), strconv.FormatBool(r.Exchange), r.Product,
		r.Build, strconv.FormatBool(r.BuildExact), r.CU, r.Update, r.Verdict, strings.Join(vulnerableCVEs(r), " "),
		strconv.FormatBool(r.EndOfLife), csvSafe(strings.Join(shells, " ")), csvSafe(r.Error), r.ObservedAt.Format(time.RFC3339)})
	c.w.Flush()
	return err
}

func (c *csvWriter) Close(Summary) error { c.w.Flush(); return c.w.Error() }

// csvSafe defuses spreadsheet formulas in values that came from servers.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

type tableWriter struct {
	w  io.Writer
	tw *tabwriter.Writer
	n  int
}

func (t *tableWriter) Write(r scan.Record) error {
	note := r.Error
	if len(r.Webshells) > 0 {
		note = fmt.Sprintf("WEB SHELL: %d path(s), first %s", len(r.Webshells), r.Webshells[0].Path)
	} else if len(r.Disagreements) > 0 && note == "" {
		note = "techniques disagree: " + r.Disagreements[0]
	} else if r.EndOfLife && note == "" {
		note = "end of life"
	}
	exact := ""
	if r.Exchange && r.Build != "" {
		exact = map[bool]string{true: "yes", false: "CU only"}[r.BuildExact]
	}
	cves := vulnerableCVEs(r)
	cveText := strings.Join(cves, " ")
	if len(cves) > 4 {
		cveText = strings.Join(cves[:4], " ") + fmt.Sprintf(" +%d", len(cves)-4)
	}
	fmt.Fprintf(t.tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Target, r.Verdict, r.Product, r.CU, r.Update, r.Build, exact,
		cveText, TableSafe(note))
	t.n++
	// Flush in blocks so a long scan shows progress without re-aligning every row.
	if t.n%50 == 0 {
		return t.tw.Flush()
	}
	return nil
}

func (t *tableWriter) Close(s Summary) error {
	if err := t.tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(t.w)
	return s.WriteText(t.w)
}

// TableSafe keeps terminal output inert: no escape sequences (C0 and C1
// controls: U+009B is a one-byte CSI for some terminals), no tabs that would
// break the columns, and no bidirectional overrides or isolates that would
// show a hostile string in another order than it is (U+202A-202E,
// U+2066-2069, U+200E/200F, U+061C). Invalid UTF-8 becomes U+FFFD.
func TableSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r < 0x20, r >= 0x7f && r <= 0x9f,
			r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069,
			r == 0x200e, r == 0x200f, r == 0x061c:
			return ' '
		}
		return r
	}, s)
}

func vulnerableCVEs(r scan.Record) []string {
	var out []string
	for _, c := range r.CVEs {
		if c.State == "vulnerable" {
			out = append(out, c.ID)
		}
	}
	return out
}

// Summary counts a scan's results.
type Summary struct {
	Endpoints   int            `json:"endpoints"`
	Exchange    int            `json:"exchange"`
	ByVerdict   map[string]int `json:"by_verdict"`
	ByProductCU map[string]int `json:"by_product_cu"`
	Webshells   int            `json:"endpoints_with_webshells"`
	ExactBuilds int            `json:"exact_builds"`
	Requests    int64          `json:"requests"`
	Seconds     float64        `json:"seconds"`
	BadTargets  int            `json:"bad_target_lines,omitempty"`
	Skipped     int            `json:"resumed_skipped,omitempty"`
}

// NewSummary starts an empty summary.
func NewSummary() Summary {
	return Summary{ByVerdict: map[string]int{}, ByProductCU: map[string]int{}}
}

// Add counts one record.
func (s *Summary) Add(r scan.Record) {
	s.Endpoints++
	s.ByVerdict[r.Verdict]++
	if r.Exchange {
		s.Exchange++
		key := strings.TrimSpace(r.Product + " " + r.CU)
		if key == "" {
			key = "unknown"
		}
		s.ByProductCU[key]++
		if r.BuildExact {
			s.ExactBuilds++
		}
	}
	if len(r.Webshells) > 0 {
		s.Webshells++
	}
}

// PercentPatched is patched / (patched + vulnerable) among Exchange endpoints
// whose state is known; ok is false when none is known.
func (s Summary) PercentPatched() (float64, bool) {
	p, v := s.ByVerdict["patched"], s.ByVerdict["vulnerable"]
	if p+v == 0 {
		return 0, false
	}
	return 100 * float64(p) / float64(p+v), true
}

// WriteText prints the summary for people.
func (s Summary) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "Endpoints: %d   Exchange: %d (exact build on %d)   Web shells: %d\n", s.Endpoints, s.Exchange, s.ExactBuilds, s.Webshells)
	var parts []string
	for _, v := range []string{"vulnerable", "patched", "undetermined", "not-exchange", "unreachable"} {
		parts = append(parts, fmt.Sprintf("%s %d", v, s.ByVerdict[v]))
	}
	fmt.Fprintf(w, "By verdict: %s\n", strings.Join(parts, ", "))
	if pct, ok := s.PercentPatched(); ok {
		fmt.Fprintf(w, "Patched: %.1f%% of the Exchange endpoints whose state is known (%d of %d; %d undetermined)\n",
			pct, s.ByVerdict["patched"], s.ByVerdict["patched"]+s.ByVerdict["vulnerable"], s.ByVerdict["undetermined"])
	}
	if len(s.ByProductCU) > 0 {
		keys := make([]string, 0, len(s.ByProductCU))
		for k := range s.ByProductCU {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if s.ByProductCU[keys[i]] != s.ByProductCU[keys[j]] {
				return s.ByProductCU[keys[i]] > s.ByProductCU[keys[j]]
			}
			return keys[i] < keys[j]
		})
		fmt.Fprintln(w, "By product and CU:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for i, k := range keys {
			if i == 20 {
				fmt.Fprintf(tw, "  (%d more)\t\n", len(keys)-20)
				break
			}
			fmt.Fprintf(tw, "  %s\t%d\n", k, s.ByProductCU[k])
		}
		tw.Flush()
	}
	if s.Seconds > 0 {
		fmt.Fprintf(w, "Time: %.1fs, %.0f endpoints/s, %d requests (%.0f/s)\n", s.Seconds, float64(s.Endpoints)/s.Seconds, s.Requests, float64(s.Requests)/s.Seconds)
	}
	if s.BadTargets > 0 {
		fmt.Fprintf(w, "Bad target lines skipped: %d\n", s.BadTargets)
	}
	return nil
}
