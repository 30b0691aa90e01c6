package exchange

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

var at2026 = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{"15.1.2176.9", "15.1.2176.9", ""},
		{"15.1.2176", "15.1.2176", ""},
		{"15.02.0858.005", "15.2.858.5", ""},
		{"15.01.2176.009", "15.1.2176.9", ""},
		{"  14.3.123.4\t\n", "14.3.123.4", ""},
		{"", "", "empty"},
		{"15.1", "", "2 parts"},
		{"15.1.2.3.4", "", "5 parts"},
		{"15.1..9", "", "empty part"},
		{"15.1.2176.x", "", "not a number"},
		{"-15.1.2176", "", "not a number"},
		{"15.1.2176.+9", "", "not a number"},
		{"15.1.99999999.1", "", "out of range"},
		{"١٥.١.٢.٣", "", "not a number"}, // Arabic-Indic digits are not ASCII digits
		{strings.Repeat("1.", 30) + "1", "", "too long"},
	}
	for _, tt := range tests {
		v, err := Parse(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrBadVersion) {
				t.Errorf("Parse(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if v.String() != tt.want {
			t.Errorf("Parse(%q) = %s, want %s", tt.in, v, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"15.1.2176.9", "15.02.0858.005", "15.0.1497", " 14.3.123.4 ", "1..2", "9999999999.1.1"} {
		f.Add(s)
	}
	kb := Default()
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			return
		}
		// A parsed version prints in a form that parses to itself.
		again, err := Parse(v.String())
		if err != nil || again != v {
			t.Fatalf("Parse(%q) = %v, but its String %q parses to %v, %v", s, v, v.String(), again, err)
		}
		// Lookup accepts anything Parse accepts.
		r := kb.Lookup(v, at2026)
		if r.Match == "" {
			t.Fatalf("Lookup(%v) gave no match kind", v)
		}
	})
}

// TestEmbeddedData validates the shipped tables beyond what Load checks.
func TestEmbeddedData(t *testing.T) {
	kb := Default()
	if got := len(kb.Builds("")); got < 380 {
		t.Errorf("embedded table has %d builds, want the ~389 of the source table", got)
	}
	counts := map[string]int{}
	for _, b := range kb.Builds("") {
		counts[b.Product]++
		if b.Source == "" {
			t.Errorf("build %s has no source (provenance)", b.Version)
		}
	}
	for _, p := range []string{"Exchange 2010", "Exchange 2013", "Exchange 2016", "Exchange 2019", "Exchange SE"} {
		if counts[p] == 0 {
			t.Errorf("no builds of %s", p)
		}
	}
	want := []string{"CVE-2020-0688", "CVE-2021-26855", "CVE-2021-26857", "CVE-2021-26858", "CVE-2021-27065",
		"CVE-2021-28480", "CVE-2021-28481", "CVE-2021-28482", "CVE-2021-28483",
		"CVE-2021-34473", "CVE-2021-34523", "CVE-2021-31207", "CVE-2022-41040", "CVE-2022-41082",
		"CVE-2023-21529", "CVE-2024-21410"}
	have := map[string]bool{}
	for _, id := range kb.CVEs() {
		have[id] = true
	}
	for _, id := range want {
		if !have[id] {
			t.Errorf("CVE %s missing from cves.csv", id)
		}
	}
}

func TestLookup(t *testing.T) {
	kb := Default()
	type cve struct{ id, state string }
	tests := []struct {
		name      string
		in        string
		product   string
		cu        string
		update    string
		match     string
		verdict   string
		eol       bool
		cves      []cve // spot checks
		reasonHas string
	}{
		{
			name: "2016 CU19 without the March SU", in: "15.1.2176.2",
			product: "Exchange 2016", cu: "CU19", match: MatchExact, verdict: StateVulnerable, eol: true,
			cves: []cve{{"CVE-2021-26855", StateVulnerable}, {"CVE-2020-0688", StatePatched}},
		},
		{
			name: "2016 CU19 Mar21SU: ProxyLogon patched, later CVEs not", in: "15.1.2176.9",
			product: "Exchange 2016", cu: "CU19", update: "Mar21SU", match: MatchExact, verdict: StateVulnerable, eol: true,
			cves: []cve{{"CVE-2021-26855", StatePatched}, {"CVE-2021-27065", StatePatched}, {"CVE-2021-34473", StateVulnerable}},
		},
		{
			name: "long form OwaVersion below CU9's first build", in: "15.02.0858.002",
			product: "Exchange 2019", cu: "CU9", match: MatchBelowCU, verdict: StateVulnerable, eol: true,
			cves:      []cve{{"CVE-2021-26855", StatePatched}, {"CVE-2021-28480", StateVulnerable}},
			reasonHas: "below 15.2.858.5",
		},
		{
			name: "3-part 2013 CU23: SU unknown", in: "15.0.1497",
			product: "Exchange 2013", cu: "CU23", match: MatchCUOnly, verdict: StateUndetermined, eol: true,
			cves:      []cve{{"CVE-2021-26855", StateUndetermined}},
			reasonHas: "3-part",
		},
		{
			name: "3-part 2013 CU21 got Mar21SU: undetermined for ProxyLogon", in: "15.0.1395",
			product: "Exchange 2013", cu: "CU21", match: MatchCUOnly, verdict: StateVulnerable, eol: true,
			// CU21 never got the April 2021 SU: vulnerable whatever the update.
			cves: []cve{{"CVE-2021-26855", StateUndetermined}, {"CVE-2021-34473", StateVulnerable}},
		},
		{
			name: "3-part 2016 CU5: no SU for this CU, vulnerable from the CU alone", in: "15.1.845",
			product: "Exchange 2016", cu: "CU5", match: MatchCUOnly, verdict: StateVulnerable, eol: true,
			cves: []cve{{"CVE-2021-26855", StateVulnerable}},
		},
		{
			name: "3-part 2019 CU10: ProxyLogon fixed in the CU", in: "15.2.922",
			product: "Exchange 2019", cu: "CU10", match: MatchCUOnly, verdict: StateVulnerable, eol: true,
			cves: []cve{{"CVE-2021-26855", StatePatched}, {"CVE-2021-34473", StatePatched}, {"CVE-2022-41040", StateVulnerable}},
		},
		{
			name: "interim build not on Microsoft's page", in: "15.1.2242.5",
			product: "Exchange 2016", cu: "CU20", match: MatchInterim, verdict: StateVulnerable, eol: true,
			cves:      []cve{{"CVE-2021-26855", StatePatched}},
			reasonHas: "nearest known build below it is 15.1.2242.4",
		},
		{
			name: "2010 interim rollup build", in: "14.3.487.0",
			product: "Exchange 2010", cu: "SP3", update: "RU29", match: MatchInterim, verdict: StateVulnerable, eol: true,
			cves: []cve{{"CVE-2020-0688", StateVulnerable}, {"CVE-2021-26857", StateVulnerable}},
		},
		{
			name: "2010 RU31 is not enough for CVE-2021-26857 (peer-script bug)", in: "14.3.509.0",
			product: "Exchange 2010", cu: "SP3", update: "RU31", match: MatchExact, verdict: StateVulnerable, eol: true,
			cves: []cve{{"CVE-2020-0688", StatePatched}, {"CVE-2021-26857", StateVulnerable}},
		},
		{
			name: "2010 RU32", in: "14.3.513.0",
			product: "Exchange 2010", cu: "SP3", update: "RU32", match: MatchExact, verdict: StatePatched, eol: true,
			cves: []cve{{"CVE-2021-26857", StatePatched}},
		},
		{
			name: "2019 CU14 HU: all patched, EP config-dependent", in: "15.2.1544.11",
			product: "Exchange 2019", cu: "CU14", update: "Apr24HU", match: MatchExact, verdict: StatePatched, eol: true,
			cves: []cve{{"CVE-2023-21529", StatePatched}, {"CVE-2024-21410", StateConfigDependent}},
		},
		{
			name: "Exchange SE from build number 2562", in: "15.2.2562.17",
			product: "Exchange SE", cu: "RTM", match: MatchExact, verdict: StatePatched, eol: false,
			cves: []cve{{"CVE-2021-26855", StatePatched}, {"CVE-2024-21410", StateConfigDependent}},
		},
		{
			name: "2013 SP1 Mar21SU (not in HealthChecker's dictionary)", in: "15.0.847.64",
			product: "Exchange 2013", cu: "SP1", update: "Mar21SU", match: MatchExact, verdict: StateVulnerable, eol: true,
			cves: []cve{{"CVE-2021-26855", StatePatched}, {"CVE-2020-0688", StateVulnerable}},
		},
		{
			name: "2016 CU8 Mar21SU: Microsoft's build wins over HealthChecker's", in: "15.1.1415.10",
			product: "Exchange 2016", cu: "CU8", update: "Mar21SU", match: MatchExact, verdict: StateVulnerable, eol: true,
			cves: []cve{{"CVE-2021-26855", StatePatched}},
		},
		{
			name: "unknown CU of a known product", in: "15.1.2300.1",
			product: "Exchange 2016", match: MatchUnknownCU, verdict: StateVulnerable, eol: true,
			// HealthChecker's rule: at or above the newest fixing SU build is
			// patched (a CU numbered after CU20 came after its April SU).
			cves: []cve{{"CVE-2021-26855", StatePatched}, {"CVE-2021-34473", StatePatched}, {"CVE-2022-41040", StateVulnerable}},
		},
		{
			name: "Exchange 2007: end of life, no table", in: "8.3.485.1",
			product: "Exchange 2007", match: MatchUnknownCU, verdict: StateUndetermined, eol: true,
		},
		{
			name: "not Exchange", in: "16.0.1.1",
			match: MatchUnknownProduct, verdict: StateUndetermined,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := kb.Lookup(MustParse(tt.in), at2026)
			got := struct{ Product, CU, Update, Match, Verdict string }{r.Product, r.CU, r.Update, r.Match, r.Verdict()}
			want := struct{ Product, CU, Update, Match, Verdict string }{tt.product, tt.cu, tt.update, tt.match, tt.verdict}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("Lookup(%s) mismatch (-want +got):\n%s\nreason: %s", tt.in, d, r.Reason)
			}
			if r.EndOfLife != tt.eol {
				t.Errorf("EndOfLife = %v, want %v", r.EndOfLife, tt.eol)
			}
			states := map[string]string{}
			for _, c := range r.CVEs {
				states[c.ID] = c.State
				if c.Reason == "" {
					t.Errorf("%s has no reason", c.ID)
				}
			}
			for _, c := range tt.cves {
				if states[c.id] != c.state {
					t.Errorf("%s state = %q, want %q", c.id, states[c.id], c.state)
				}
			}
			if tt.reasonHas != "" && !strings.Contains(r.Reason, tt.reasonHas) {
				t.Errorf("reason %q does not mention %q", r.Reason, tt.reasonHas)
			}
		})
	}
}

func TestProxyLogonNotListedFor2010(t *testing.T) {
	r := Default().Lookup(MustParse("14.3.513.0"), at2026)
	for _, c := range r.CVEs {
		if c.ID == "CVE-2021-26855" {
			t.Errorf("CVE-2021-26855 listed for Exchange 2010, which it does not affect")
		}
	}
}

func TestEndOfLifeAt(t *testing.T) {
	kb := Default()
	before := kb.Lookup(MustParse("15.1.2176.9"), time.Date(2021, 3, 2, 0, 0, 0, 0, time.UTC))
	after := kb.Lookup(MustParse("15.1.2176.9"), time.Date(2025, 10, 14, 0, 0, 0, 0, time.UTC))
	if before.EndOfLife || !after.EndOfLife {
		t.Errorf("2016 end of life: on 2021-03-02 %v (want false), on 2025-10-14 %v (want true)", before.EndOfLife, after.EndOfLife)
	}
}

func readEmbedded(t *testing.T, name string) string {
	t.Helper()
	b, err := embedded.ReadFile("data/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLoadErrors: a replacement knowledge base is validated with file:line errors.
func TestLoadErrors(t *testing.T) {
	builds := readEmbedded(t, "builds.csv")
	cves := readEmbedded(t, "cves.csv")
	products := readEmbedded(t, "products.csv")
	lines := strings.Split(builds, "\n")
	tests := []struct {
		name    string
		file    string
		content string
		wantErr string
	}{
		{"bad header", "builds.csv", "product,build\n", "builds.csv:1: header"},
		{"bad build", "builds.csv", lines[0] + "\nExchange 2016,CU1,,15.1.x.1,2016-01-01,release,microsoft,,src\n", "builds.csv:2: build"},
		{"3-part build", "builds.csv", lines[0] + "\nExchange 2016,CU1,,15.1.396,2016-01-01,release,microsoft,,src\n", "builds.csv:2: build 15.1.396"},
		{"duplicate", "builds.csv", builds + lines[1] + "\n", "listed twice"},
		{"wrong product for number", "builds.csv", lines[0] + "\nExchange 2013,CU1,,15.1.396.30,2016-01-01,release,microsoft,,src\n", "is Exchange 2016 by its number"},
		{"bad date", "builds.csv", lines[0] + "\nExchange 2016,CU1,,15.1.396.30,March 2016,release,microsoft,,src\n", "builds.csv:2: release_date"},
		{"CU without release row", "builds.csv", lines[0] + "\nExchange 2016,CU1,Mar16SU,15.1.396.31,2016-03-01,update,microsoft,,src\n", "has no release row"},
		{"dates go backwards", "builds.csv", lines[0] + "\nExchange 2016,CU1,,15.1.396.30,2016-03-15,release,microsoft,,src\nExchange 2016,CU1,X,15.1.396.31,2016-01-01,update,microsoft,,src\n", "builds.csv:3: 15.1.396.31"},
		{"bad kind", "builds.csv", lines[0] + "\nExchange 2016,CU1,,15.1.396.30,2016-03-15,final,microsoft,,src\n", "kind \"final\""},
		{"fixed build not in table", "cves.csv", strings.Split(cves, "\n")[0] + "\nCVE-2099-1,x,Exchange 2016,su,CU19,Foo,15.1.2176.99,,src\n", "cves.csv:2: fixed_build 15.1.2176.99 is not in builds.csv"},
		{"fixed build in another CU", "cves.csv", strings.Split(cves, "\n")[0] + "\nCVE-2099-1,x,Exchange 2016,su,CU18,Foo,15.1.2176.9,,src\n", "is Exchange 2016 CU19"},
		{"unknown rule", "cves.csv", strings.Split(cves, "\n")[0] + "\nCVE-2099-1,x,Exchange 2016,maybe,CU19,,15.1.2176.9,,src\n", "rule \"maybe\""},
		{"unquoted comma", "cves.csv", strings.Split(cves, "\n")[0] + "\nCVE-2099-1,x,y,Exchange 2016,su,CU19,,15.1.2176.9,,src\n", "cves.csv:2"},
		{"unknown product", "products.csv", products + "Exchange 2030,16.0,16.0.0,,,src\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"builds.csv":   {Data: []byte(builds)},
				"cves.csv":     {Data: []byte(cves)},
				"products.csv": {Data: []byte(products)},
			}
			fsys[tt.file] = &fstest.MapFile{Data: []byte(tt.content)}
			_, err := Load(fsys)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrKB) {
				t.Fatalf("Load error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestLoadPath: a folder with a newer builds.csv replaces the embedded table.
func TestLoadPath(t *testing.T) {
	dir := t.TempDir()
	builds := readEmbedded(t, "builds.csv") + "Exchange SE,CU1,,15.2.2600.10,2026-10-01,release,microsoft,,test row\n"
	if err := os.WriteFile(filepath.Join(dir, "builds.csv"), []byte(builds), 0o644); err != nil {
		t.Fatal(err)
	}
	kb, err := LoadPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := kb.Lookup(MustParse("15.2.2600.10"), at2026)
	if r.Match != MatchExact || r.CU != "CU1" || r.Product != "Exchange SE" {
		t.Errorf("new build not found: %+v", r)
	}
	if kb.Date.String() != "2026-10-01" {
		t.Errorf("kb date = %s, want 2026-10-01", kb.Date)
	}
	if _, err := LoadPath(filepath.Join(dir, "nothing")); err == nil {
		t.Error("LoadPath of a missing path succeeded")
	}
	empty := t.TempDir()
	if _, err := LoadPath(empty); err == nil || !strings.Contains(err.Error(), "holds none") {
		t.Errorf("LoadPath(empty dir) = %v", err)
	}
}
