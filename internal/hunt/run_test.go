package hunt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// want is a finding the tests expect: its check, grade, client, and where
// its evidence is (path suffix).
type want struct {
	Check, Grade, PathSuffix, Client string
}

func findingSet(rep *Report) []want {
	var out []want
	for _, f := range rep.Findings {
		out = append(out, want{f.Check, f.Grade, f.Path, f.Client})
	}
	return out
}

func hasFinding(rep *Report, w want) bool {
	for _, f := range rep.Findings {
		if f.Check == w.Check && f.Grade == w.Grade && strings.HasSuffix(filepath.ToSlash(f.Path), w.PathSuffix) && f.Client == w.Client {
			return true
		}
	}
	return false
}

func TestRunCompromised(t *testing.T) {
	root := prepareTree(t, "compromised")
	before := snapshot(t, root)
	rep := runTree(t, root, nil)
	if after := snapshot(t, root); !cmp.Equal(before, after) {
		t.Errorf("the hunt changed the evidence:\n%s", cmp.Diff(before, after))
	}

	if rep.Verdict != VerdictCompromised {
		t.Errorf("verdict %q, want compromised", rep.Verdict)
	}
	for _, s := range []string{
		"COMPROMISED: web shell owa/auth/RedirSuiteServerProxy.aspx written 2021-03-03 02:14 UTC (+1 more)",
		"LSASS dump C:\\Windows\\Temp\\lsass.dmp",
		"CVE-2021-26855, CVE-2021-27065 exploited from 192.0.2.10",
		"CVE-2021-26858 exploited",
		"CVE-2021-34473, CVE-2021-34523 exploited from 203.0.113.77",
		"CVE-2021-31207 exploited",
		"first attacker activity 2021-03-02 23:51, last 2021-10-20 14:29 UTC",
	} {
		if !strings.Contains(rep.Summary, s) {
			t.Errorf("summary lacks %q:\n%s", s, rep.Summary)
		}
	}
	if rep.Host != "EXCH01" {
		t.Errorf("host %q, want EXCH01", rep.Host)
	}

	for _, w := range []want{
		// Files.
		{chkShellContent, GradeBackdoor, "FrontEnd/HttpProxy/owa/auth/RedirSuiteServerProxy.aspx", ""},
		{chkShellContent, GradeBackdoor, "inetpub/wwwroot/aspnet_client/system_web/Ab3dE7gH.aspx", ""},
		{chkDumpFile, GradeBackdoor, "C/Windows/Temp/lsass.dmp", ""},
		{chkDumpFile, GradeBackdoor, "C/ProgramData/debug.bin", ""}, // MiniDump of lsass.exe under another name
		{chkArchive, GradeAttempt, "C/ProgramData/it.zip", ""},
		{chkWER, GradeAttempt, "WER/ReportArchive/AppCrash_w3wp.exe_5c3a1f/Report.wer", ""},
		{chkShellContent, GradeBackdoor, "Temporary ASP.NET Files/owa/7b2c9e41/a1f0c3d2/App_Web_redirsuiteserverproxy.aspx.cdcab7d2.dll", ""},
		{chkArchive, GradeInfo, "ProgramData/VMware/VMware Tools/vss_manifests.zip", ""}, // never hidden
		// The §2.8 sequence.
		{chkSSRF, GradeExploited, "HttpProxy/Ecp/HttpProxy_2021030302-1.LOG", "192.0.2.10"},
		{chkResetVDir, GradeExploited, "HttpProxy/Ecp/HttpProxy_2021030302-1.LOG", "192.0.2.10"},
		{chkVDirScript, GradeExploited, "ECP/Server/ECPServer20210303-1.LOG", ""},
		{chkOAB, GradeExploited, "OABGeneratorLog/OABGeneratorLog_2021030302-1.LOG", ""},
		{chkIISSSRF, GradeAttempt, "W3SVC1/u_ex210303.log", "192.0.2.10"},
		{chkIISSSRF, GradeAttempt, "W3SVC1/u_ex210302.log", "203.0.113.5"},
		// The BackEndCookie variant, refused by the server.
		{chkSSRF, GradeAttempt, "HttpProxy/Ecp/HttpProxy_2021030302-1.LOG", "198.51.100.23"},
		// Probes stay probes.
		{chkSSRF, GradeProbe, "HttpProxy/Owa/HttpProxy_2021030207-1.LOG", "198.51.100.7"},
		{chkIISShell, GradeProbe, "W3SVC1/u_ex210303.log", "198.51.100.50"},
		// Shell use in IIS.
		{chkIISShell, GradeBackdoor, "W3SVC1/u_ex210303.log", "139.162.202.236"},
		// ProxyShell.
		{chkProxyShell, GradeExploited, "HttpProxy/Autodiscover/HttpProxy_2021081310-1.LOG", "203.0.113.77"},
		{chkExport, GradeExploited, "Rps_Cmdlet_2021081310-1.LOG", ""},
		{chkRole, GradeAttempt, "Rps_Cmdlet_2021081310-1.LOG", ""},
		// Event logs.
		{chkLsassCmd, GradeBackdoor, "winevt/Logs/Security.evtx", ""},
		{chkTransport, GradeInfo, "winevt/Logs/MSExchange Management.evtx", ""},
	} {
		if !hasFinding(rep, w) {
			t.Errorf("missing finding %+v; have:\n%v", w, findingSet(rep))
		}
	}

	// Benign look-alikes in the same tree produce nothing.
	for _, f := range rep.Findings {
		switch {
		case f.Client == "198.51.100.200" || f.Client == "198.51.100.201":
			t.Errorf("ordinary Autodiscover v2 request flagged: %+v", f)
		case f.Client == "127.0.0.1" || f.Client == "10.0.0.50" || f.Client == "10.0.0.61" || f.Client == "66.249.66.1":
			t.Errorf("ordinary request flagged: %+v", f)
		case strings.Contains(f.Path, "logon.aspx") || strings.Contains(f.Path, "errorFE.aspx") ||
			strings.Contains(f.Path, "RedirSuiteServiceProxy.aspx") || strings.Contains(f.Path, "TimeoutLogout.aspx"):
			t.Errorf("legitimate Exchange page flagged: %+v", f)
		case strings.Contains(f.Path, "/WER/") && f.Check == chkDumpFile:
			t.Errorf("crash dump kept by Windows Error Reporting flagged: %+v", f)
		case strings.Contains(f.Evidence, "smith.pst"):
			t.Errorf("export to a share flagged: %+v", f)
		}
	}

	checkReportShape(t, rep)

	// Coverage per source.
	cov := map[string]Coverage{}
	for _, c := range rep.Coverage {
		cov[c.Source] = c
	}
	for src, w := range map[string][2]string{
		"httpproxy/Ecp":          {"2021-03-03T02:00:12Z", "2021-03-03T05:44:21Z"},
		"httpproxy/Owa":          {"2021-03-02T07:15:33.817Z", "2021-03-02T07:16:00Z"},
		"iis":                    {"2021-03-02T20:01:10Z", "2021-08-13T10:03:01Z"},
		"ecp-server":             {"2021-03-03T01:12:00.1Z", "2021-03-03T02:14:07.9Z"},
		"oab-generator":          {"2021-03-03T02:05:01Z", "2021-03-03T02:14:01Z"},
		"cmdlet":                 {"2021-08-13T10:01:02.345Z", "2021-08-13T11:30:00Z"},
		"evtx/Security":          {"2021-10-20T14:29:09.758147Z", "2021-10-20T14:29:25.624989Z"},
		"httpproxy/Autodiscover": {"2021-08-13T10:00:12Z", "2021-08-13T10:03:01Z"},
	} {
		c, ok := cov[src]
		if !ok {
			t.Errorf("no coverage for %s; have %v", src, rep.Coverage)
			continue
		}
		if !c.First.Equal(ts(w[0])) || !c.Last.Equal(ts(w[1])) {
			t.Errorf("%s coverage %s .. %s, want %s .. %s", src, c.First.Format(time.RFC3339Nano), c.Last.Format(time.RFC3339Nano), w[0], w[1])
		}
	}
	if c := cov["iis"]; c.Files != 4 || c.Records != 18 {
		t.Errorf("iis coverage: %d files %d records, want 4 and 18", c.Files, c.Records)
	}

	// The ECP sequence of the exploitation is on the timeline, joined to
	// the SSRF finding: by canary, and by time for lines without one.
	ssrf := ""
	for _, f := range rep.Findings {
		if f.Check == chkSSRF && f.Grade == GradeExploited {
			ssrf = f.ID
		}
	}
	joined := map[string]bool{}
	for _, ev := range rep.Timeline {
		if ev.Finding == ssrf && ev.Grade == "" {
			joined[ev.What] = true
		}
	}
	for _, w := range []string{
		"ECP Get-OabVirtualDirectory.Identity='OAB (Default Web Site)'",
		"ECP Set-OabVirtualDirectory.ExternalUrl=$null.Identity=''3a7f4c2e-1d2b-4c5d-9e8f-0a1b2c3d4e5f'' (joined by time)",
		"ECP Remove-OABVirtualDirectory.Identity=''3a7f4c2e-1d2b-4c5d-9e8f-0a1b2c3d4e5f'' (joined by time)",
	} {
		if !joined[w] {
			t.Errorf("timeline lacks related record %q joined to %s; have %v", w, ssrf, joined)
		}
	}
	if !slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, "Application.evtx not found") }) {
		t.Errorf("no warning for the missing Application.evtx: %q", rep.Warnings)
	}
	if rep.Partial {
		t.Errorf("partial report without unreadable files: %q", rep.Warnings)
	}
}

// checkReportShape checks the invariants of any report: findings sorted
// by grade then time and numbered after sorting, capped evidence, a sorted
// timeline whose events name existing findings.
func checkReportShape(t *testing.T, rep *Report) {
	t.Helper()
	ids := map[string]bool{}
	for i, f := range rep.Findings {
		if want := "F" + leftPad(i+1); f.ID != want {
			t.Errorf("finding %d has id %s, want %s", i, f.ID, want)
		}
		ids[f.ID] = true
		if i > 0 {
			p := rep.Findings[i-1]
			if GradeRank(p.Grade) < GradeRank(f.Grade) || (p.Grade == f.Grade && earlier(f.Time, p.Time)) {
				t.Errorf("findings %s (%s %s) and %s (%s %s) out of order", p.ID, p.Grade, p.Time, f.ID, f.Grade, f.Time)
			}
		}
		if len(f.Evidence) > maxEvidence+len("…") {
			t.Errorf("%s: evidence of %d bytes", f.ID, len(f.Evidence))
		}
		if f.Title == "" || f.Guidance == "" || f.Severity == "" {
			t.Errorf("%s: title, severity and guidance are required: %+v", f.ID, f)
		}
	}
	for i, ev := range rep.Timeline {
		if ev.Finding != "" && !ids[ev.Finding] {
			t.Errorf("timeline event names unknown finding %s", ev.Finding)
		}
		if i > 0 && earlier(ev.Time, rep.Timeline[i-1].Time) {
			t.Errorf("timeline out of order at %d: %s before %s", i, rep.Timeline[i-1].Time, ev.Time)
		}
		if len(ev.What) > maxEvidence+len("…") {
			t.Errorf("timeline event of %d bytes", len(ev.What))
		}
	}
	if rep.Finished.Before(rep.Started) {
		t.Errorf("finished %s before started %s", rep.Finished, rep.Started)
	}
}

func leftPad(n int) string {
	s := "000" + strings.TrimLeft(strings.Repeat(" ", 0), " ") + itoa(n)
	return s[len(s)-4:]
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestRunClean(t *testing.T) {
	root := prepareTree(t, "clean")
	before := snapshot(t, root)
	rep := runTree(t, root, nil)
	if after := snapshot(t, root); !cmp.Equal(before, after) {
		t.Errorf("the hunt changed the evidence:\n%s", cmp.Diff(before, after))
	}
	if rep.Verdict != VerdictClean {
		t.Errorf("verdict %q, want clean: %s", rep.Verdict, rep.Summary)
	}
	for _, f := range rep.Findings {
		if f.Grade != GradeInfo {
			t.Errorf("clean tree: finding above info: %+v", f)
		}
	}
	if want := "CLEAN: nothing found in 9 log sources reaching back to 2021-01-04 (1 informational finding to review)"; rep.Summary != want {
		t.Errorf("summary\n got %q\nwant %q", rep.Summary, want)
	}
	// The archive of a backup product is informational and still listed.
	if !hasFinding(rep, want{chkArchive, GradeInfo, "ProgramData/VMware/VMware Tools/vss_manifests.zip", ""}) {
		t.Errorf("archive not listed: %v", findingSet(rep))
	}
	for _, c := range rep.Coverage {
		if keySource(c.Source) && !c.First.Before(ts("2021-01-05T00:00:00Z")) {
			t.Errorf("%s starts %s, want 2021-01-04", c.Source, c.First)
		}
		if c.Malformed != 0 {
			t.Errorf("%s: %d malformed records: %q", c.Source, c.Malformed, c.Issues)
		}
	}
	checkReportShape(t, rep)
}

// Logs that start after the exploitation window turn "clean" into "clean as
// far as the logs reach", with a finding that says so in every format.
func TestRunCleanLateLogs(t *testing.T) {
	rep := runTree(t, prepareTree(t, "clean"), func(o *Options) { o.ExploitStart = ts("2020-06-01T00:00:00Z") })
	if rep.Verdict != VerdictClean {
		t.Fatalf("verdict %q", rep.Verdict)
	}
	want := "CLEAN as far as the logs reach: ECP Server logs start 2021-01-04, HttpProxy logs start 2021-01-04, IIS logs start 2021-01-04, after the exploitation period (1 informational finding to review)"
	if rep.Summary != want {
		t.Errorf("summary\n got %q\nwant %q", rep.Summary, want)
	}
	if !slices.ContainsFunc(rep.Findings, func(f Finding) bool { return f.Check == chkCoverage && f.Grade == GradeInfo }) {
		t.Errorf("no %s finding", chkCoverage)
	}
	if !slices.ContainsFunc(rep.Warnings, func(w string) bool {
		return strings.HasPrefix(w, "httpproxy/Ecp: logs start 2021-01-04 08:00 UTC, after 2020-06-01: anything before is not visible; nothing found does not mean nothing happened")
	}) {
		t.Errorf("no coverage warning for httpproxy/Ecp: %q", rep.Warnings)
	}
}

// --since/--until bound records and file times; a web shell found by its
// content is reported whatever its time.
func TestRunTimeWindow(t *testing.T) {
	rep := runTree(t, prepareTree(t, "compromised"), func(o *Options) {
		o.Since = ts("2021-08-01T00:00:00Z")
		o.Until = ts("2021-09-01T00:00:00Z")
	})
	for _, f := range rep.Findings {
		switch f.Check {
		case chkProxyShell, chkExport, chkRole, chkShellContent, chkDumpFile, chkCoverage:
		default:
			t.Errorf("finding outside the window: %s %s %s %s", f.Check, f.Grade, f.Time, f.Path)
		}
		if f.Check == chkArchive {
			t.Errorf("archive outside the window reported: %+v", f)
		}
	}
	for _, w := range []want{
		{chkProxyShell, GradeExploited, "HttpProxy_2021081310-1.LOG", "203.0.113.77"},
		{chkShellContent, GradeBackdoor, "owa/auth/RedirSuiteServerProxy.aspx", ""},
	} {
		if !hasFinding(rep, w) {
			t.Errorf("missing %+v in %v", w, findingSet(rep))
		}
	}
	// Coverage still describes the whole files.
	for _, c := range rep.Coverage {
		if c.Source == "iis" && !c.First.Equal(ts("2021-03-02T20:01:10Z")) {
			t.Errorf("iis coverage starts %s", c.First)
		}
	}
}

// The same tree in the layouts triage tools write: the volume itself,
// Velociraptor's uploads/auto/C%3A, and paths in other case.
func TestRunLayouts(t *testing.T) {
	src := prepareTree(t, "compromised")
	for _, tc := range []struct{ name, sub string }{
		{"volume", ""},
		{"velociraptor", "uploads/auto/C%3A"},
		{"kape-D", "D"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			dst := filepath.Join(base, filepath.FromSlash(tc.sub))
			if tc.sub == "" {
				dst = filepath.Join(base, "vol")
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(filepath.Join(src, "C"), dst); err != nil {
				t.Fatal(err)
			}
			defer os.Rename(dst, filepath.Join(src, "C"))
			root := base
			if tc.sub == "" {
				root = dst
			}
			rep := runTree(t, root, nil)
			if rep.Verdict != VerdictCompromised || !strings.Contains(rep.Summary, "web shell owa/auth/RedirSuiteServerProxy.aspx") {
				t.Errorf("verdict %q: %s", rep.Verdict, rep.Summary)
			}
			if slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, "no Exchange installation") }) {
				t.Errorf("install not found: %q", rep.Warnings)
			}
		})
	}
}

func TestRunLowerCaseTree(t *testing.T) {
	src := prepareTree(t, "compromised")
	dst := filepath.Join(t.TempDir(), "lower")
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, strings.ToLower(rel))
		if info.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(out, b, 0o644); err != nil {
			return err
		}
		return os.Chtimes(out, info.ModTime(), info.ModTime())
	})
	if err != nil {
		t.Fatal(err)
	}
	rep := runTree(t, dst, nil)
	if rep.Verdict != VerdictCompromised {
		t.Fatalf("verdict %q: %s; warnings %q", rep.Verdict, rep.Summary, rep.Warnings)
	}
	if !hasFinding(rep, want{chkSSRF, GradeExploited, "httpproxy/ecp/httpproxy_2021030302-1.log", "192.0.2.10"}) {
		t.Errorf("SSRF not found in a lower-case tree: %v", findingSet(rep))
	}
}

// Overrides replace discovery: here the logs and web folders are given
// one by one and nothing else is looked for.
func TestRunOverrides(t *testing.T) {
	root := prepareTree(t, "compromised")
	ex := filepath.Join(root, "C", "Program Files", "Microsoft", "Exchange Server", "V15")
	rep := runTree(t, root, func(o *Options) {
		o.ExchangeDirs = []string{ex}
		o.IISLogDirs = []string{filepath.Join(root, "C", "inetpub", "logs", "LogFiles", "W3SVC1")}
		o.EventLogDirs = []string{filepath.Join(root, "C", "Windows", "System32", "winevt", "Logs")}
		o.WebRoots = []string{filepath.Join(ex, "FrontEnd", "HttpProxy")}
	})
	if !hasFinding(rep, want{chkShellContent, GradeBackdoor, "owa/auth/RedirSuiteServerProxy.aspx", ""}) {
		t.Errorf("shell in the given web root not found: %v", findingSet(rep))
	}
	if hasFinding(rep, want{chkShellContent, GradeBackdoor, "aspnet_client/system_web/Ab3dE7gH.aspx", ""}) {
		t.Errorf("web root outside the override was scanned")
	}
	if !hasFinding(rep, want{chkLsassCmd, GradeBackdoor, "Security.evtx", ""}) {
		t.Errorf("event log dir override not read: %v", findingSet(rep))
	}
}

// Overrides alone, without a root: only the named folders are read and
// nothing is reported missing.
func TestRunOverridesWithoutRoot(t *testing.T) {
	root := prepareTree(t, "compromised")
	ex := filepath.Join(root, "C", "Program Files", "Microsoft", "Exchange Server", "V15")
	rep, err := Run(context.Background(), Options{ExchangeDirs: []string{ex}})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []want{
		{chkSSRF, GradeExploited, "HttpProxy_2021030302-1.LOG", "192.0.2.10"},
		{chkShellContent, GradeBackdoor, "owa/auth/RedirSuiteServerProxy.aspx", ""},
	} {
		if !hasFinding(rep, w) {
			t.Errorf("missing %+v: %v", w, findingSet(rep))
		}
	}
	if hasFinding(rep, want{chkDumpFile, GradeBackdoor, "lsass.dmp", ""}) {
		t.Error("searched outside the named folder")
	}
	for _, w := range rep.Warnings {
		if strings.Contains(w, "not found") {
			t.Errorf("warning about a source nobody asked for: %s", w)
		}
	}
}

// Loose logs without a root: sniffed by content, names and folders do not
// matter.
func TestRunLogsOnly(t *testing.T) {
	src := prepareTree(t, "compromised")
	flat := t.TempDir()
	for i, rel := range []string{
		"C/Program Files/Microsoft/Exchange Server/V15/Logging/HttpProxy/Ecp/HttpProxy_2021030302-1.LOG",
		"C/Program Files/Microsoft/Exchange Server/V15/Logging/ECP/Server/ECPServer20210303-1.LOG",
		"C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log",
		"C/Windows/System32/winevt/Logs/Security.evtx",
		"C/inetpub/wwwroot/iisstart.htm",
	} {
		b, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(flat, "copy"+itoa(i)+".txt"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := Run(context.Background(), Options{Logs: []string{flat}})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{chkSSRF, chkVDirScript, chkIISShell, chkLsassCmd} {
		if !slices.ContainsFunc(rep.Findings, func(f Finding) bool { return f.Check == w }) {
			t.Errorf("no %s finding from loose logs: %v", w, findingSet(rep))
		}
	}
	if !slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, "1 files given as logs were not recognised") }) {
		t.Errorf("unrecognised file not reported: %q", rep.Warnings)
	}
	if !slices.ContainsFunc(rep.Coverage, func(c Coverage) bool { return c.Source == "httpproxy" }) {
		t.Errorf("HttpProxy log without its folder: want source \"httpproxy\", have %v", rep.Coverage)
	}
}

// failingVolume refuses to open some files, as a live server does with a
// locked or permission-denied file.
type failingVolume struct {
	osVolume
	fail func(string) bool
}

func (v failingVolume) Open(name string) (*os.File, error) {
	if v.fail(name) {
		return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrPermission}
	}
	return v.osVolume.Open(name)
}

func TestRunUnreadableFiles(t *testing.T) {
	root := prepareTree(t, "compromised")
	vol := failingVolume{fail: func(p string) bool {
		return strings.HasSuffix(p, "HttpProxy_2021030207-1.LOG") || strings.HasSuffix(p, "Security.evtx") ||
			strings.HasSuffix(p, "Ab3dE7gH.aspx")
	}}
	rep, err := run(context.Background(), Options{Root: root, Workers: 2}, vol)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Partial {
		t.Error("partial not set")
	}
	n := 0
	for _, w := range rep.Warnings {
		if strings.Contains(w, "cannot read: permission denied") {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d unreadable-file warnings, want 3: %q", n, rep.Warnings)
	}
	// The rest was read.
	if rep.Verdict != VerdictCompromised || !hasFinding(rep, want{chkSSRF, GradeExploited, "HttpProxy_2021030302-1.LOG", "192.0.2.10"}) {
		t.Errorf("run stopped at the unreadable files: %s", rep.Summary)
	}
}

func TestRunCancel(t *testing.T) {
	root := prepareTree(t, "compromised")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	rep, err := Run(ctx, Options{Root: root})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if rep == nil || !rep.Partial {
		t.Errorf("want a partial report, got %+v", rep)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancelled run took %s", d)
	}
}

// Cancelling in the middle of a big file stops the read at once.
func TestRunCancelMidFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "u_ex210305.log")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n")
	line := []byte("2021-03-05 03:06:27 10.0.0.5 GET /owa/ - 443 - 10.0.0.9 Mozilla/5.0 - 200 0 0 13\n")
	buf := make([]byte, 0, 1<<20)
	for len(buf)+len(line) < cap(buf) {
		buf = append(buf, line...)
	}
	for i := 0; i < 64; i++ {
		f.Write(buf)
	}
	f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var once bool
	rep, err := Run(ctx, Options{Logs: []string{p}, Progress: func(n int64) {
		if n > 4<<20 && !once {
			once = true
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if rep.Bytes > 16<<20 {
		t.Errorf("read %d bytes after cancellation", rep.Bytes)
	}
}

func TestRunOptionErrors(t *testing.T) {
	for _, o := range []Options{
		{},
		{Root: "/nonexistent/exsweep"},
		{Root: ".", Since: ts("2021-03-02T00:00:00Z"), Until: ts("2021-03-01T00:00:00Z")},
	} {
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("Run(%+v) did not fail", o)
		}
	}
}

func TestRunNoExchangeFound(t *testing.T) {
	rep := runTree(t, t.TempDir(), nil)
	if rep.Verdict != VerdictClean {
		t.Errorf("verdict %q", rep.Verdict)
	}
	if !strings.HasPrefix(rep.Summary, "CLEAN as far as checked: no logs found") {
		t.Errorf("summary %q", rep.Summary)
	}
	for _, w := range []string{"no Exchange installation found", "no IIS logs found", "no event logs found", "no logs found", "ProgramData not found"} {
		if !slices.ContainsFunc(rep.Warnings, func(s string) bool { return strings.Contains(s, w) }) {
			t.Errorf("no warning %q in %q", w, rep.Warnings)
		}
	}
}

func TestRunProgressAndPlan(t *testing.T) {
	root := prepareTree(t, "compromised")
	var planned int64
	var last int64
	rep := runTree(t, root, func(o *Options) {
		o.Workers = 1 // one worker: totals arrive in order
		o.Planned = func(files int, bytes int64) { planned = bytes }
		o.Progress = func(n int64) { last = n }
	})
	if planned == 0 || last != rep.Bytes || rep.Bytes == 0 {
		t.Errorf("planned %d, last progress %d, bytes read %d", planned, last, rep.Bytes)
	}
}

// Hostile volume: tens of thousands of distinct attackers and shells. The
// findings and the timeline stay within their caps and say so.
func TestRunCaps(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "u_ex210303.log")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n")
	// 12,000 distinct shell paths answering POSTs (backdoor), then 25,000
	// addresses posting to /ecp/y.js (attempts).
	for i := 0; i < 12000; i++ {
		fmt.Fprintf(w, "2021-03-03 03:%02d:%02d 10.0.0.5 POST /aspnet_client/p%05d.aspx - 443 - 192.0.2.1 python - 200 0 0 1\n", i/60%60, i%60, i)
	}
	for i := 0; i < 25000; i++ {
		fmt.Fprintf(w, "2021-03-03 02:%02d:%02d 10.0.0.5 POST /ecp/y.js - 443 - 10.%d.%d.%d python - 200 0 0 1\n", i/60%60, i%60, i>>16&255, i>>8&255, i&255)
	}
	w.Flush()
	f.Close()
	rep, err := Run(context.Background(), Options{Logs: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rep.Findings); n > maxAggregates+len(specs)*5 {
		t.Errorf("%d findings, cap %d", n, maxAggregates)
	}
	if len(rep.Timeline) != maxTimeline {
		t.Errorf("timeline has %d events, want the cap %d", len(rep.Timeline), maxTimeline)
	}
	var total int64
	for _, f := range rep.Findings {
		if f.Check == chkIISSSRF {
			total += f.Count
		}
	}
	if total != 25000 {
		t.Errorf("SSRF attempts counted %d, want 25000 (overflow must keep counts)", total)
	}
	for _, w := range []string{"timeline capped", "distinct findings"} {
		if !slices.ContainsFunc(rep.Warnings, func(s string) bool { return strings.Contains(s, w) }) {
			t.Errorf("no %q warning: %q", w, rep.Warnings)
		}
	}
	// Backdoor events are kept before attempts when the timeline is cut.
	back := 0
	for _, ev := range rep.Timeline {
		if ev.Grade == GradeBackdoor {
			back++
		}
	}
	if back < maxTimeline/2 {
		t.Errorf("only %d backdoor events kept", back)
	}
}
