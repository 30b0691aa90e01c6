package report

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/exsweep/exsweep/internal/hunt"
)

// hostileReport carries strings as an attacker would plant them in logs.
func hostileReport() *hunt.Report {
	t := time.Date(2021, 3, 3, 2, 14, 0, 0, time.UTC)
	return &hunt.Report{
		Root: "/mnt/c", Verdict: hunt.VerdictCompromised, Started: t, Finished: t.Add(time.Minute),
		Summary: "COMPROMISED: web shell owa/auth/x.aspx written 2021-03-03 02:14 UTC",
		Findings: []hunt.Finding{
			{ID: "F0001", Check: "webshell-file", Title: "Web shell on disk", Severity: "critical", Grade: hunt.GradeBackdoor, Time: t,
				Path: "C/inetpub/wwwroot/aspnet_client/<img src=x onerror=alert(1)>.aspx", CVE: []string{"CVE-2021-27065"},
				Evidence: `<script language="JScript" runat="server">eval(Request["x"],"unsafe")</script>` + "\x1b[31m",
				Guidance: "Quarantine the file; rebuild the server.", SHA256: strings.Repeat("a", 64)},
			{ID: "F0002", Check: "cve-2021-26855-ssrf", Title: "SSRF", Grade: hunt.GradeExploited, Time: t, Path: "HttpProxy/Ecp/x.log", Line: 12,
				Client: "=cmd|' /C calc'!A0", Evidence: "ServerInfo~a]@ex.local:444/ecp/proxyLogon.ecp?#"},
		},
		Coverage: []hunt.Coverage{{Source: "httpproxy/Ecp", Files: 1, Lines: 20, First: t, Last: t}},
		Timeline: []hunt.Event{{Time: t, Source: "iis", What: "<script>alert(2)</script>", Grade: hunt.GradeBackdoor}},
		Warnings: []string{"IIS logs start 2021-03-01"},
	}
}

func TestWriteHuntFormats(t *testing.T) {
	for _, f := range HuntFormats {
		var b bytes.Buffer
		if err := WriteHunt(&b, hostileReport(), f); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out := b.String()
		if strings.Contains(out, "\x1b") {
			t.Errorf("%s: a raw escape sequence reached the output", f)
		}
		switch f {
		case "html":
			for _, bad := range []string{"<script", "<img"} {
				if strings.Contains(out, bad) {
					t.Errorf("html: %q from a log is not escaped", bad)
				}
			}
			if !strings.Contains(out, "&lt;script") || !strings.Contains(out, "Content-Security-Policy") {
				t.Errorf("html: evidence not shown escaped, or no CSP")
			}
		case "sarif":
			rep, err := sarif.FromString(out)
			if err != nil {
				t.Fatal(err)
			}
			if err := rep.Validate(); err != nil {
				t.Errorf("sarif does not validate against its schema: %v", err)
			}
			if len(rep.Runs) != 1 || len(rep.Runs[0].Results) != 2 {
				t.Errorf("sarif: want 1 run with 2 results")
			}
		case "csv":
			rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil || len(rows) != 3 {
				t.Fatalf("csv: %d rows, %v", len(rows), err)
			}
			if !strings.HasPrefix(rows[2][9], "'=") {
				t.Errorf("csv: formula not defused: %q", rows[2][9])
			}
		case "table":
			if !strings.HasPrefix(out, "COMPROMISED:") || !strings.Contains(out, "Coverage") || !strings.Contains(out, "What to do") {
				t.Errorf("table does not start with the verdict or lacks sections:\n%s", out)
			}
		}
	}
	if err := WriteHunt(&bytes.Buffer{}, hostileReport(), "pdf"); err == nil {
		t.Error("unknown format accepted")
	}
}
