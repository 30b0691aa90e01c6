package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestScanLabAllModes(t *testing.T) {
	db := filepath.Join(t.TempDir(), "x.db")
	out, errOut, code := run(t, "", "scan", "--lab", "60", "--lab-mix", "all-modes", "--lab-network", "127.42.0.0/16",
		"--db", db, "--format", "jsonl", "--timeout", "8s")
	if code != ExitFindings {
		t.Errorf("exit %d, want 1 (the lab has vulnerable servers); stderr:\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "Lab check: 60 of 60 endpoints match") {
		t.Errorf("lab check failed:\n%s", errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 60 {
		t.Fatalf("%d JSON lines, want 60", len(lines))
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("bad JSON line %q: %v", l, err)
		}
		for _, k := range []string{"target", "ip", "port", "exchange", "build_exact", "verdict", "cves", "evidence", "webshells"} {
			if _, ok := m[k]; !ok {
				t.Errorf("record lacks %q: %s", k, l)
			}
		}
		if strings.Contains(l, "<script>") {
			t.Errorf("unescaped HTML in JSON output: %s", l)
		}
	}

	// Resuming the finished run probes nothing again.
	_, errOut, code = run(t, "", "scan", "--lab", "60", "--lab-mix", "all-modes", "--lab-network", "127.42.0.0/16",
		"--db", db, "--resume", "1", "--format", "jsonl")
	if code != ExitOK || !strings.Contains(errOut, "Endpoints: 0") {
		t.Errorf("resume of a finished run: exit %d, stderr:\n%s", code, errOut)
	}
}

// TestScanCVESelection: --cves proxylogon decides the verdict on the four
// March 2021 CVEs only. The lab check recomputes the truth's verdict over
// the same selection, so every endpoint still matches; servers patched for
// ProxyLogon but not for later CVEs change from vulnerable to patched.
func TestScanCVESelection(t *testing.T) {
	verdicts := func(args ...string) map[string]map[string]any {
		t.Helper()
		out, errOut, code := run(t, "", append([]string{"scan", "--lab", "60", "--lab-mix", "all-modes",
			"--lab-network", "127.50.0.0/16", "--no-store", "--format", "jsonl", "--timeout", "8s"}, args...)...)
		if code != ExitFindings && code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if !strings.Contains(errOut, "Lab check: 60 of 60 endpoints match") {
			t.Errorf("%v: lab check failed:\n%s", args, errOut)
		}
		recs := map[string]map[string]any{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("bad JSON line %q: %v", l, err)
			}
			recs[m["target"].(string)] = m
		}
		return recs
	}
	all := verdicts()
	pl := verdicts("--cves", "proxylogon")
	proxyLogon := map[string]bool{"CVE-2021-26855": true, "CVE-2021-26857": true, "CVE-2021-26858": true, "CVE-2021-27065": true}
	changed := 0
	for target, r := range pl {
		cves, _ := r["cves"].([]any)
		for _, c := range cves {
			if id := c.(map[string]any)["id"].(string); !proxyLogon[id] {
				t.Errorf("%s: %s listed under --cves proxylogon", target, id)
			}
		}
		if all[target]["verdict"] == "vulnerable" && r["verdict"] == "patched" {
			changed++
		}
		if all[target]["verdict"] == "patched" && r["verdict"] != "patched" {
			t.Errorf("%s: patched for every CVE but %v for ProxyLogon", target, r["verdict"])
		}
	}
	if changed == 0 {
		t.Error("no endpoint is patched for ProxyLogon but vulnerable to a later CVE; the lab should have some")
	}
	if _, errOut, code := run(t, "", "scan", "--cves", "CVE-2021-2685", "192.0.2.1"); code != ExitUsage ||
		!strings.Contains(errOut, "--cves") {
		t.Errorf("bad --cves: exit %d, %s", code, errOut)
	}
}

func TestScanTableSummary(t *testing.T) {
	out, errOut, code := run(t, "", "scan", "--lab", "30", "--lab-network", "127.43.0.0/16", "--no-store", "--format", "table")
	if code != ExitFindings && code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"TARGET", "VERDICT", "Endpoints: 30", "By verdict:", "By product and CU:"} {
		if !strings.Contains(out, want) {
			t.Errorf("table output lacks %q:\n%s", want, out)
		}
	}
}

func TestScanErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "targets.txt")
	// One bad line, one address where nothing listens (loopback port 1).
	os.WriteFile(bad, []byte("# test\n127.0.0.1:1\n10.0.0.300\n"), 0o644)
	tests := []struct {
		args   []string
		code   int
		errHas string
	}{
		{[]string{"scan", "--no-store"}, ExitUsage, "no targets"},
		{[]string{"scan", "--no-store", "--format", "xml", "127.0.0.1:1"}, ExitUsage, "--format"},
		{[]string{"scan", "--no-store", "--ports", "99999", "127.0.0.1"}, ExitUsage, "--ports"},
		{[]string{"scan", "--no-store", "-i", filepath.Join(dir, "missing.txt")}, ExitUsage, "missing.txt"},
		{[]string{"scan", "--no-store", "--exclude", "not-a-net", "127.0.0.1:1"}, ExitUsage, "exclude"},
		{[]string{"scan", "--no-store", "--resume", "1", "127.0.0.1:1"}, ExitUsage, "--resume needs the store"},
		{[]string{"scan", "--no-store", "--timeout", "1s", "-i", bad}, ExitPartial, "targets.txt:3"},
		{[]string{"scan", "--no-store", "--strict", "-i", bad}, ExitUsage, "targets.txt:3"},
		{[]string{"scan", "--no-store", "--exclude", "127.0.0.0/8", "127.0.0.1:1"}, ExitOK, "Endpoints: 0"},
	}
	for _, tt := range tests {
		_, errOut, code := run(t, "", tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.errHas) {
			t.Errorf("exsweep %v: exit %d, stderr %q; want exit %d and %q", tt.args, code, errOut, tt.code, tt.errHas)
		}
	}
}

func TestScanStdin(t *testing.T) {
	out, errOut, code := run(t, "127.0.0.1:1\n", "scan", "--no-store", "--retries", "0", "-i", "-", "--format", "csv")
	if code != ExitOK {
		t.Errorf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "target,ip,port") || !strings.Contains(out, "127.0.0.1:1,127.0.0.1,1,") || !strings.Contains(out, "unreachable") {
		t.Errorf("csv output:\n%s", out)
	}
}

func TestScanProgress(t *testing.T) {
	_, errOut, _ := run(t, "", "scan", "--lab", "20", "--lab-network", "127.46.0.0/16", "--no-store", "--progress", "always", "-o", filepath.Join(t.TempDir(), "o.jsonl"))
	if !strings.Contains(errOut, "scan") || !strings.Contains(errOut, "/20") {
		t.Errorf("no progress bar (done/total) on stderr:\n%s", errOut)
	}
	_, errOut, _ = run(t, "", "scan", "--lab", "20", "--lab-network", "127.46.0.0/16", "--no-store", "-o", filepath.Join(t.TempDir(), "o.jsonl"))
	if strings.Contains(errOut, "/20") {
		t.Errorf("progress bar drawn although stderr is not a terminal:\n%s", errOut)
	}
}

func TestExportAfterScan(t *testing.T) {
	db := filepath.Join(t.TempDir(), "x.db")
	if _, errOut, code := run(t, "", "scan", "--lab", "60", "--lab-mix", "all-modes", "--lab-network", "127.47.0.0/16", "--webshells",
		"--db", db, "-o", filepath.Join(t.TempDir(), "o.jsonl")); code != ExitFindings {
		t.Fatalf("scan exit %d: %s", code, errOut)
	}
	out, errOut, code := run(t, "", "export", "--db", db, "--format", "shadowserver")
	if code != ExitOK || !strings.HasPrefix(out, "timestamp,severity,ip,protocol,port") || !strings.Contains(out, "exchange;webshell") {
		t.Errorf("export: exit %d, stderr %s, out:\n%.400s", code, errOut, out)
	}
	if _, errOut, code := run(t, "", "export", "--db", db, "--format", "pdf"); code != ExitUsage || !strings.Contains(errOut, "--format") {
		t.Errorf("bad format: exit %d %s", code, errOut)
	}
	if _, errOut, code := run(t, "", "export", "--db", db, "--run", "99"); code != ExitUsage {
		t.Errorf("missing run: exit %d %s", code, errOut)
	}
}

// TestBuildCVESelection: build --cves decides on the selection; a build
// patched for ProxyLogon but not for later CVEs exits 0 with proxylogon and
// 1 with every CVE.
func TestBuildCVESelection(t *testing.T) {
	out, _, code := run(t, "", "build", "--cves", "proxylogon", "15.1.2176.9")
	if code != ExitOK || !strings.Contains(out, "verdict:  PATCHED") || strings.Contains(out, "CVE-2021-34473") {
		t.Errorf("--cves proxylogon: exit %d\n%s", code, out)
	}
	if out, _, code := run(t, "", "build", "15.1.2176.9"); code != ExitFindings || !strings.Contains(out, "CVE-2021-34473") {
		t.Errorf("all CVEs: exit %d\n%s", code, out)
	}
	if _, errOut, code := run(t, "", "build", "--cves", "proxylgon", "15.1.2176.9"); code != ExitUsage || !strings.Contains(errOut, "proxylgon") {
		t.Errorf("typo: exit %d %s", code, errOut)
	}
}
