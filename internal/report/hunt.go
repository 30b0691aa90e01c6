package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/owenrumney/go-sarif/v3/pkg/report"
	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/exsweep/exsweep/internal/hunt"
)

// HuntFormats are the formats WriteHunt knows.
var HuntFormats = []string{"table", "json", "csv", "sarif", "html", "timeline-csv"}

// WriteHunt writes a hunt report in one of HuntFormats. Text formats get a copy
// with control characters escaped (a log line can carry terminal escapes);
// JSON and SARIF escape them by encoding.
func WriteHunt(w io.Writer, r *hunt.Report, format string) error {
	if format != "json" && format != "sarif" {
		r = printableReport(r)
	}
	switch format {
	case "table":
		return huntTable(w, r)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "csv":
		return huntCSV(w, r)
	case "timeline-csv":
		return timelineCSV(w, r)
	case "sarif":
		return huntSARIF(w, r)
	case "html":
		return huntHTML(w, r)
	}
	return fmt.Errorf("unknown format %q: want %s", format, strings.Join(HuntFormats, ", "))
}

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// huntTable starts with the verdict sentence, then findings, then coverage, as
// an admin reads it: what happened, the evidence, how far the logs reach.
func huntTable(w io.Writer, r *hunt.Report) error {
	fmt.Fprintln(w, TableSafe(r.Summary))
	fmt.Fprintln(w)
	if len(r.Findings) == 0 {
		fmt.Fprintln(w, "No findings.")
	} else {
		fmt.Fprintf(w, "Findings (%d):\n", len(r.Findings))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID\tGRADE\tTIME (UTC)\tCHECK\tCVE\tWHERE\tEVIDENCE")
		for _, f := range r.Findings {
			where := f.Path
			if f.Line > 0 {
				where += ":" + strconv.FormatInt(f.Line, 10)
			}
			ev := TableSafe(f.Evidence)
			if len(ev) > 120 {
				ev = ev[:120] + "…"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.ID, strings.ToUpper(f.Grade), ts(f.Time), f.Check,
				strings.Join(f.CVE, ","), TableSafe(where), ev)
		}
		tw.Flush()
		fmt.Fprintln(w)
		fmt.Fprintln(w, "What to do:")
		seen := map[string]bool{}
		for _, f := range r.Findings {
			if f.Guidance == "" || seen[f.Check] {
				continue
			}
			seen[f.Check] = true
			fmt.Fprintf(w, "  - %s: %s\n", f.Check, TableSafe(f.Guidance))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Coverage (how far each log source reaches):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  SOURCE\tFILES\tLINES\tMALFORMED\tFIRST\tLAST")
	for _, c := range r.Coverage {
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%s\t%s\n", TableSafe(c.Source), c.Files, c.Lines, c.Malformed, ts(c.First), ts(c.Last))
	}
	tw.Flush()
	if len(r.Warnings) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Warnings:")
		for _, x := range r.Warnings {
			fmt.Fprintf(w, "  - %s\n", TableSafe(x))
		}
	}
	return nil
}

func huntCSV(w io.Writer, r *hunt.Report) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "grade", "severity", "time", "check", "title", "cve", "path", "line", "client", "request_id", "sha256", "evidence", "guidance"})
	for _, f := range r.Findings {
		cw.Write([]string{f.ID, f.Grade, f.Severity, ts(f.Time), f.Check, f.Title, strings.Join(f.CVE, " "), csvSafe(f.Path),
			strconv.FormatInt(f.Line, 10), csvSafe(f.Client), csvSafe(f.RequestID), f.SHA256, csvSafe(f.Evidence), f.Guidance})
	}
	cw.Flush()
	return cw.Error()
}

func timelineCSV(w io.Writer, r *hunt.Report) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"time", "grade", "finding", "source", "path", "line", "client", "request_id", "what"})
	for _, e := range r.Timeline {
		cw.Write([]string{ts(e.Time), e.Grade, e.Finding, e.Source, csvSafe(e.Path), strconv.FormatInt(e.Line, 10),
			csvSafe(e.Client), csvSafe(e.RequestID), csvSafe(e.What)})
	}
	cw.Flush()
	return cw.Error()
}

func sarifLevel(grade string) string {
	switch grade {
	case hunt.GradeBackdoor, hunt.GradeExploited:
		return "error"
	case hunt.GradeAttempt:
		return "warning"
	}
	return "note"
}

func huntSARIF(w io.Writer, r *hunt.Report) error {
	rep := report.NewV210Report()
	run := sarif.NewRunWithInformationURI("exsweep", "https://github.com/exsweep/exsweep")
	rules := map[string]bool{}
	for _, f := range r.Findings {
		if !rules[f.Check] {
			rules[f.Check] = true
			pb := sarif.NewPropertyBag()
			pb.Add("cve", strings.Join(f.CVE, ","))
			run.AddRule(f.Check).WithDescription(f.Title).WithHelp(sarif.NewMultiformatMessageString().WithText(f.Guidance)).WithProperties(pb)
		}
		pb := sarif.NewPropertyBag()
		pb.Add("grade", f.Grade)
		if !f.Time.IsZero() {
			pb.Add("time", f.Time.UTC().Format(time.RFC3339))
		}
		if f.Client != "" {
			pb.Add("client", f.Client)
		}
		if f.SHA256 != "" {
			pb.Add("sha256", f.SHA256)
		}
		loc := sarif.NewPhysicalLocation().WithArtifactLocation(sarif.NewSimpleArtifactLocation(f.Path))
		if f.Line > 0 {
			loc = loc.WithRegion(sarif.NewSimpleRegion(int(f.Line), int(f.Line)))
		}
		run.CreateResultForRule(f.Check).
			WithLevel(sarifLevel(f.Grade)).
			WithMessage(sarif.NewTextMessage(f.Title + ": " + f.Evidence)).
			WithProperties(pb).
			AddLocation(sarif.NewLocationWithPhysicalLocation(loc))
	}
	rep.AddRun(run)
	return rep.PrettyWrite(w)
}

// The HTML report is one self-contained file (no script, no external asset) an
// admin can hand on. html/template escapes everything that came from logs.
var huntPage = template.Must(template.New("hunt").Funcs(template.FuncMap{
	"ts":    ts,
	"upper": strings.ToUpper,
	"join":  strings.Join,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>exsweep hunt report{{if .Host}}: {{.Host}}{{end}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em} .verdict{font-size:1.2em;padding:.8em;border-radius:4px}
.compromised{background:#fdd;border:1px solid #c00} .attacked{background:#ffe9c7;border:1px solid #c80} .clean{background:#dfd;border:1px solid #080}
table{border-collapse:collapse;margin:1em 0;width:100%} th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top;font-size:.9em}
th{background:#f3f3f3} td.ev{font-family:monospace;word-break:break-all}
.backdoor,.exploited{color:#b00;font-weight:bold} .attempt{color:#a60} .probe,.info{color:#555}
</style></head><body>
<h1>exsweep hunt report{{if .Host}}: {{.Host}}{{end}}</h1>
<p class="verdict {{.Verdict}}">{{.Summary}}</p>
<p>Examined {{if .Root}}<code>{{.Root}}</code>{{else}}the live server{{end}}, {{ts .Started}} to {{ts .Finished}} (UTC){{if .Partial}}; some files could not be read (see warnings){{end}}.</p>
<h2>Findings ({{len .Findings}})</h2>
{{if .Findings}}<table><tr><th>ID</th><th>Grade</th><th>Time (UTC)</th><th>Check</th><th>CVE</th><th>Where</th><th>Evidence</th><th>What to do</th></tr>
{{range .Findings}}<tr><td>{{.ID}}</td><td class="{{.Grade}}">{{upper .Grade}}</td><td>{{ts .Time}}</td><td>{{.Title}}</td><td>{{join .CVE ", "}}</td><td>{{.Path}}{{if .Line}}:{{.Line}}{{end}}</td><td class="ev">{{.Evidence}}</td><td>{{.Guidance}}</td></tr>
{{end}}</table>{{else}}<p>No findings.</p>{{end}}
<h2>Coverage</h2>
<table><tr><th>Source</th><th>Files</th><th>Lines</th><th>Malformed</th><th>First (UTC)</th><th>Last (UTC)</th></tr>
{{range .Coverage}}<tr><td>{{.Source}}</td><td>{{.Files}}</td><td>{{.Lines}}</td><td>{{.Malformed}}</td><td>{{ts .First}}</td><td>{{ts .Last}}</td></tr>
{{end}}</table>
{{if .Warnings}}<h2>Warnings</h2><ul>{{range .Warnings}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Timeline}}<h2>Timeline ({{len .Timeline}} events)</h2>
<table><tr><th>Time (UTC)</th><th>Grade</th><th>Source</th><th>Client</th><th>What</th><th>Where</th></tr>
{{range .Timeline}}<tr><td>{{ts .Time}}</td><td class="{{.Grade}}">{{.Grade}}</td><td>{{.Source}}</td><td>{{.Client}}</td><td class="ev">{{.What}}</td><td>{{.Path}}{{if .Line}}:{{.Line}}{{end}}</td></tr>
{{end}}</table>{{end}}
</body></html>
`))

func huntHTML(w io.Writer, r *hunt.Report) error { return huntPage.Execute(w, r) }

// printable escapes control characters as \xNN so no log content can drive a
// terminal or hide in a spreadsheet cell.
func printable(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isControl(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 }

func printableReport(r *hunt.Report) *hunt.Report {
	c := *r
	c.Summary, c.Root, c.Host = printable(c.Summary), printable(c.Root), printable(c.Host)
	c.Findings = make([]hunt.Finding, len(r.Findings))
	for i, f := range r.Findings {
		f.Path, f.Evidence, f.Client, f.RequestID, f.Title = printable(f.Path), printable(f.Evidence), printable(f.Client), printable(f.RequestID), printable(f.Title)
		c.Findings[i] = f
	}
	c.Timeline = make([]hunt.Event, len(r.Timeline))
	for i, e := range r.Timeline {
		e.Path, e.What, e.Client, e.RequestID = printable(e.Path), printable(e.What), printable(e.Client), printable(e.RequestID)
		c.Timeline[i] = e
	}
	c.Coverage = make([]hunt.Coverage, len(r.Coverage))
	for i, cv := range r.Coverage {
		cv.Source = printable(cv.Source)
		cv.Issues = append([]string(nil), cv.Issues...)
		for j := range cv.Issues {
			cv.Issues[j] = printable(cv.Issues[j])
		}
		c.Coverage[i] = cv
	}
	c.Warnings = append([]string(nil), r.Warnings...)
	for i := range c.Warnings {
		c.Warnings[i] = printable(c.Warnings[i])
	}
	return &c
}
