package app

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// run executes exsweep in-process, as a user would from a shell.
func run(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), append([]string{"exsweep"}, args...), strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, d)
	}
}

func TestBuildCommand(t *testing.T) {
	out, errOut, code := run(t, "", "build", "--at", "2026-11-26", "15.1.2176.2", "15.1.2176.9", "15.02.0858.002", "15.0.1497")
	if code != ExitFindings {
		t.Errorf("exit code %d, want %d (vulnerable builds); stderr: %s", code, ExitFindings, errOut)
	}
	golden(t, "build-issue-example.txt", out)
}

func TestBuildJSON(t *testing.T) {
	out, _, code := run(t, "", "build", "--format", "json", "--at", "2026-11-26", "15.2.2562.17", "15.0.1497")
	if code != ExitOK {
		t.Errorf("exit code %d, want 0 (SE patched, 2013 CU23 undetermined)", code)
	}
	var got []struct {
		Build   string `json:"build"`
		Product string `json:"product"`
		Match   string `json:"match"`
		Verdict string `json:"verdict"`
		CVEs    []struct {
			ID, State, FixedIn, Reason string
		} `json:"cves"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var r struct {
			Build   string `json:"build"`
			Product string `json:"product"`
			Match   string `json:"match"`
			Verdict string `json:"verdict"`
			CVEs    []struct {
				ID, State, FixedIn, Reason string
			} `json:"cves"`
		}
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("bad JSON line: %v\n%s", err, out)
		}
		got = append(got, r)
	}
	if len(got) != 2 {
		t.Fatalf("got %d records, want 2", len(got))
	}
	if got[0].Product != "Exchange SE" || got[0].Verdict != "patched" || got[1].Match != "cu-only" || got[1].Verdict != "undetermined" {
		t.Errorf("unexpected records: %+v", got)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		errHas string
		outHas string
	}{
		{[]string{"build"}, ExitUsage, "at least one VERSION", ""},
		{[]string{"build", "15.1"}, ExitUsage, `"15.1" has 2 parts`, ""},
		{[]string{"build", "15.2.2562.17", "banana"}, ExitUsage, `"banana"`, "Exchange SE"},
		{[]string{"build", "--format", "xml", "15.1.2176.9"}, ExitUsage, "--format", ""},
		{[]string{"build", "--at", "yesterday", "15.1.2176.9"}, ExitUsage, "--at", ""},
		{[]string{"build", "--list", "--product", "2042"}, ExitUsage, "matches no builds", ""},
		{[]string{"build", "--kb", "/nonexistent/kb", "15.1.2176.9"}, ExitUsage, "knowledge base", ""},
		{[]string{"nosuchcommand"}, ExitUsage, "unknown command", ""},
		{[]string{"build", "--nosuchflag"}, ExitUsage, "unknown flag", ""},
		{[]string{"--log-level", "loud", "version"}, ExitUsage, "--log-level", ""},
	}
	for _, tt := range tests {
		out, errOut, code := run(t, "", tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.errHas) || !strings.Contains(out, tt.outHas) {
			t.Errorf("exsweep %v: code %d, stderr %q, stdout %q; want code %d, stderr containing %q, stdout containing %q",
				tt.args, code, errOut, out, tt.code, tt.errHas, tt.outHas)
		}
	}
}

func TestBuildList(t *testing.T) {
	out, _, code := run(t, "", "build", "--list", "--product", "SE")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out, "15.2.2562.17") || strings.Contains(out, "Exchange 2019") {
		t.Errorf("--list --product SE output wrong:\n%s", out)
	}
}

func TestVersion(t *testing.T) {
	out, _, code := run(t, "", "version")
	if code != ExitOK || !strings.Contains(out, "knowledge base: 2026-08-11 (embedded") {
		t.Errorf("version: code %d, output %q", code, out)
	}
}

func TestKBEnv(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "builds.csv"), []byte("product,cu\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EXSWEEP_KB", dir)
	_, errOut, code := run(t, "", "build", "15.1.2176.9")
	if code != ExitUsage || !strings.Contains(errOut, "builds.csv:1") {
		t.Errorf("EXSWEEP_KB with a broken table: code %d, stderr %q", code, errOut)
	}
}

// TestTuneGC: scan and lab collect at GOGC 200 unless GOGC is set.
func TestTuneGC(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	(&env{getenv: func(string) string { return "" }}).tuneGC()
	if got := debug.SetGCPercent(100); got != probeGCPercent {
		t.Errorf("GOGC unset: GC percent %d; want %d", got, probeGCPercent)
	}
	(&env{getenv: func(k string) string {
		if k == "GOGC" {
			return "50"
		}
		return ""
	}}).tuneGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC=50 in the environment: tuneGC changed the GC percent to %d", got)
	}
}
