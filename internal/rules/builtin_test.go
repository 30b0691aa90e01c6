package rules

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func builtinForTest(t testing.TB) *RuleSet {
	t.Helper()
	rs, err := Builtin()
	if err != nil {
		t.Fatalf("embedded rules do not compile: %v", err)
	}
	return rs
}

func ruleNames(ms []Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Rule)
	}
	return out
}

func backdoorNames(ms []Match) []string {
	var out []string
	for _, m := range ms {
		if m.Severity() == SeverityBackdoor {
			out = append(out, m.Rule)
		}
	}
	return out
}

// TestBuiltinRuleMeta: every shipped rule says what it catches, how bad it is,
// and which public report it comes from.
func TestBuiltinRuleMeta(t *testing.T) {
	rs := builtinForTest(t)
	if len(rs.Rules()) < 10 {
		t.Fatalf("only %d rules", len(rs.Rules()))
	}
	for _, r := range rs.Rules() {
		if !strings.HasPrefix(r.Name, "EXS_") {
			t.Errorf("%s: rule names start with EXS_", r.Name)
		}
		for _, k := range []string{"description", "severity", "reference", "source", "author"} {
			if r.MetaString(k) == "" {
				t.Errorf("%s: missing meta %s", r.Name, k)
			}
		}
		switch r.MetaString("severity") {
		case SeverityBackdoor, SeverityAttempt, SeverityInfo:
		default:
			t.Errorf("%s: severity %q is not backdoor, attempt or info", r.Name, r.MetaString("severity"))
		}
		if !strings.HasPrefix(r.MetaString("reference"), "https://") {
			t.Errorf("%s: reference must be an https URL", r.Name)
		}
		if len(r.Tags) == 0 {
			t.Errorf("%s: no tags", r.Name)
		}
	}
}

// TestBuiltinRuleSamples runs every shipped rule on its own samples:
// testdata/samples/<rule>/match_* must match it, nomatch_* must not, and no
// nomatch sample may trip any other backdoor-severity rule either.
func TestBuiltinRuleSamples(t *testing.T) {
	rs := builtinForTest(t)
	dirs, err := os.ReadDir("testdata/samples")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, d := range dirs {
		if d.IsDir() {
			have[d.Name()] = true
		}
	}
	for _, r := range rs.Rules() {
		if !have[r.Name] {
			t.Errorf("%s: no samples in testdata/samples/%s", r.Name, r.Name)
			continue
		}
		delete(have, r.Name)
		files, _ := filepath.Glob(filepath.Join("testdata/samples", r.Name, "*"))
		var pos, neg int
		for _, f := range files {
			base := filepath.Base(f)
			res, err := rs.ScanFile(f)
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			got := ruleNames(res.Matches)
			switch {
			case strings.HasPrefix(base, "match_"):
				pos++
				if !slices.Contains(got, r.Name) {
					t.Errorf("%s: %s does not match (matched %v)", r.Name, base, got)
				}
			case strings.HasPrefix(base, "nomatch_"):
				neg++
				if slices.Contains(got, r.Name) {
					t.Errorf("%s: %s matches, want no match", r.Name, base)
				}
				if bd := backdoorNames(res.Matches); len(bd) > 0 {
					t.Errorf("%s: benign counterpart %s trips backdoor rules %v", r.Name, base, bd)
				}
			default:
				t.Errorf("%s: sample name must start with match_ or nomatch_", f)
			}
		}
		if pos == 0 || neg == 0 {
			t.Errorf("%s: need at least one match_ and one nomatch_ sample (have %d, %d)", r.Name, pos, neg)
		}
	}
	for name := range have {
		t.Errorf("testdata/samples/%s has no rule", name)
	}
}

// TestFalsePositiveSuite: legitimate Exchange and ASP.NET files never match a
// backdoor-severity rule.
func TestFalsePositiveSuite(t *testing.T) {
	rs := builtinForTest(t)
	files, err := filepath.Glob("testdata/legit/*")
	if err != nil || len(files) < 5 {
		t.Fatalf("legit fixtures: %v %v", files, err)
	}
	for _, f := range files {
		res, err := rs.ScanFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bd := backdoorNames(res.Matches); len(bd) > 0 {
			t.Errorf("%s: legitimate file matches backdoor rules %v", f, bd)
		}
		if all := ruleNames(res.Matches); len(all) > 0 {
			t.Logf("%s: lower-severity matches %v", f, all)
		}
	}
}

// TestBuiltinOnInjectedLegitPage: Volexity saw shell code appended to real
// pages; the logon page with one Chopper line added must be caught.
func TestBuiltinOnInjectedLegitPage(t *testing.T) {
	rs := builtinForTest(t)
	page, err := os.ReadFile("testdata/legit/logon.aspx")
	if err != nil {
		t.Fatal(err)
	}
	page = append(page, []byte("\n<script language=\"JScript\" runat=\"server\">function Page_Load(){eval(Request[\"k\"],\"unsafe\");}</script>\n")...)
	got := backdoorNames(rs.Scan(page))
	want := []string{"EXS_ChinaChopper_JScript_Eval", "EXS_ChinaChopper_PageLoad_Injection"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestNewEngine(t *testing.T) {
	e, err := NewEngine(Options{}, BuiltinSources()...)
	if err != nil {
		t.Fatal(err)
	}
	if e.Backend() != DefaultBackend {
		t.Errorf("backend %q, want %q", e.Backend(), DefaultBackend)
	}
	if _, err := NewEngine(Options{}, Source{"bad.yar", "rule {"}); err == nil {
		t.Error("bad source must fail")
	}
}

// TestConcurrentScans: one RuleSet serves many goroutines (hunt scans files
// in parallel); results equal the serial ones. Run with -race.
func TestConcurrentScans(t *testing.T) {
	rs := builtinForTest(t)
	files, _ := filepath.Glob("testdata/samples/*/*")
	want := map[string][]string{}
	for _, f := range files {
		res, err := rs.ScanFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want[f] = ruleNames(res.Matches)
	}
	errs := make(chan string, len(files)*4)
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for _, f := range files {
				res, err := rs.ScanFile(f)
				if err != nil || !slices.Equal(ruleNames(res.Matches), want[f]) {
					errs <- f
				}
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	close(errs)
	for f := range errs {
		t.Errorf("%s: concurrent result differs", f)
	}
}
