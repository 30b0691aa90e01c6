package hunt

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/exsweep/exsweep/internal/hunt/logs"
	"github.com/google/go-cmp/cmp"
)

func mustChecks(t testing.TB) *checkSet {
	t.Helper()
	cs, err := loadChecks()
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// The shipped data file is valid: every id has Go code and every Go
// matcher an entry, grades and severities are known, each log type a check
// reads has pre-filter literals, each indicator list the code uses exists.
func TestChecksData(t *testing.T) {
	cs := mustChecks(t)
	if len(cs.list) != len(specs) {
		t.Errorf("%d checks in the data, %d matchers", len(cs.list), len(specs))
	}
	for _, typ := range []logs.Type{logs.TypeW3C, logs.TypeHttpProxy, logs.TypeECPServer, logs.TypeOABGenerator, logs.TypeCmdlet} {
		if cs.filters[typ] == nil {
			t.Errorf("no merged filter for %s", typ)
		}
	}
	infos, err := Checks()
	if err != nil || len(infos) != len(cs.list) {
		t.Fatalf("Checks() = %d, %v", len(infos), err)
	}
	exact, fold, err := Literals()
	if err != nil || len(exact) == 0 || len(fold) == 0 {
		t.Fatalf("Literals() = %q, %q, %v", exact, fold, err)
	}
}

// Each broken variant of the data file is rejected with a message naming
// the problem.
func TestChecksValidation(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(checksJSON, &doc); err != nil {
		t.Fatal(err)
	}
	mutate := func(id string, f func(c map[string]any)) []byte {
		var d map[string]any
		json.Unmarshal(checksJSON, &d)
		for _, c := range d["checks"].([]any) {
			m := c.(map[string]any)
			if m["id"] == id {
				f(m)
			}
		}
		b, _ := json.Marshal(d)
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"syntax", []byte(`{"checks": [`), "checks.json"},
		{"unknown field", mutate(chkSSRF, func(c map[string]any) { c["sevrity"] = "low" }), "unknown field"},
		{"unknown id", mutate(chkSSRF, func(c map[string]any) { c["id"] = "cve-2021-99999-x" }), "no Go matcher"},
		{"bad severity", mutate(chkSSRF, func(c map[string]any) { c["severity"] = "severe" }), "severity"},
		{"bad grade", mutate(chkSSRF, func(c map[string]any) { c["grade"] = "pwned" }), "grade"},
		{"grade not listed", mutate(chkSSRF, func(c map[string]any) { c["grades"] = []string{"probe"} }), "default grade"},
		{"short guidance", mutate(chkSSRF, func(c map[string]any) { c["guidance"] = "patch" }), "guidance"},
		{"guidance for other grade", mutate(chkSSRF, func(c map[string]any) {
			c["guidance_by_grade"] = map[string]any{"backdoor": "remove the shell and rebuild the server"}
		}), "never gives"},
		{"bad cve", mutate(chkSSRF, func(c map[string]any) { c["cve"] = []string{"CVE-21-26855"} }), "CVE"},
		{"no filter", mutate(chkSSRF, func(c map[string]any) { c["filters"] = []any{} }), "no filter for httpproxy"},
		{"short literal", mutate(chkSSRF, func(c map[string]any) {
			c["filters"] = []any{map[string]any{"log": "httpproxy", "exact": []string{"~"}}}
		}), "3-200 bytes"},
		{"filter for unread log", mutate(chkSSRF, func(c map[string]any) {
			c["filters"] = append(c["filters"].([]any), map[string]any{"log": "iis", "fold": []string{"/ecp/"}})
		}), "does not read"},
		{"missing indicators", mutate(chkIISUA, func(c map[string]any) { delete(c["indicators"].(map[string]any), "user_agents") }), "user_agents"},
		{"unused indicators", mutate(chkIISUA, func(c map[string]any) { c["indicators"].(map[string]any)["spare"] = []string{"x"} }), "not used"},
		{"events missing", mutate(chkUM, func(c map[string]any) { delete(c, "events") }), "give events"},
		{"no references", mutate(chkUM, func(c map[string]any) { c["references"] = []string{} }), "reference"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseChecks(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// The merged filter drops literals that another literal already covers,
// since each literal costs a pass over the data, and never loses a match.
func TestLiteralSetMinimal(t *testing.T) {
	ls := &literalSet{
		exact: []string{"ServerInfo~", "ServerInfo~", "Server~", "antSword", "VirtualDirectory"},
		fold:  []string{"/owa/auth/", "/owa/auth/current/", "/OWA/AUTH/", "ANTSWORD"},
	}
	exact, fold := ls.minimal()
	if diff := cmp.Diff([]string{"ServerInfo~", "Server~", "VirtualDirectory"}, exact); diff != "" {
		t.Errorf("exact literals (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"/owa/auth/", "ANTSWORD"}, fold); diff != "" {
		t.Errorf("fold literals (-want +got):\n%s", diff)
	}
	f := ls.filter()
	for _, line := range []string{"x ServerInfo~a]@x/ecp", "Server~a/b~1", "POST /OWA/Auth/Current/x.css", "UA antsword/v2.1", "S:CMD=Set-OabVirtualDirectory"} {
		if !f.Match([]byte(line)) {
			t.Errorf("filter lost %q", line)
		}
	}
	if f.Match([]byte("GET /owa/ 200 Mozilla/5.0")) {
		t.Error("filter matches an ordinary line")
	}
}

func TestSeverityByGrade(t *testing.T) {
	cs := mustChecks(t)
	c := cs.get(chkSSRF)
	for g, want := range map[string]string{GradeExploited: "critical", GradeAttempt: "medium", GradeProbe: "low"} {
		if got := c.severity(g); got != want {
			t.Errorf("severity(%s) = %s, want %s", g, got, want)
		}
	}
	if c.guidance(GradeProbe) == c.guidance(GradeExploited) {
		t.Error("probe guidance should differ")
	}
}
