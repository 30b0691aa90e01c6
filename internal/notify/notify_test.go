package notify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/exsweep/exsweep/internal/exchange"
)

var now = time.Date(2021, 3, 12, 10, 0, 0, 0, time.UTC)

func cases() []Case {
	return []Case{
		{ID: 1, OrgKey: "acme", IP: "192.0.2.10", Port: 443, Problem: ProblemVulnerable, Severity: Severity(ProblemVulnerable, 4),
			CVEs: []string{"CVE-2021-26855"}, Product: "Exchange 2016", CU: "CU19", Build: "15.1.2176.2", BuildExact: true},
		{ID: 2, OrgKey: "acme", IP: "192.0.2.11", Port: 443, Problem: ProblemCompromised, Severity: Severity(ProblemCompromised, 4),
			CVEs: []string{"CVE-2021-26855"}, Product: "Exchange 2013", CU: "CU5", Build: "15.0.913.22", BuildExact: true, Webshells: []string{"/owa/auth/errorEEE.aspx"}},
		{ID: 3, OrgKey: "beta", IP: "198.51.100.5", Port: 443, Problem: ProblemVulnerable, Severity: Severity(ProblemVulnerable, 2),
			Product: "Exchange 2019", CU: "CU8", Build: "15.2.792"},
		{ID: 4, IP: "203.0.113.9", Port: 443, Problem: ProblemVulnerable, ASN: 64501, ASName: "NOBODY-AS", Severity: 101},
		{ID: 5, OrgKey: "ghost", IP: "203.0.113.10", Port: 443, Problem: ProblemVulnerable, Severity: 101},
	}
}

var orgs = map[string]Org{
	"acme": {Key: "acme", Name: "ACME GmbH", To: []string{"cert@acme.example"}, Language: "de"},
	"beta": {Key: "beta", Name: "Beta Ltd", To: []string{"abuse@beta.example"}, Language: "en"},
}

func TestBuildPlan(t *testing.T) {
	p := BuildPlan(orgs, cases(), nil, 7*24*time.Hour, now)
	if len(p.Messages) != 2 || p.Messages[0].Org.Key != "acme" || p.Messages[0].Cases[0].ID != 2 {
		t.Fatalf("plan: %+v", p.Messages)
	}
	if len(p.Unowned) != 1 || p.Unowned[0].ASN != 64501 {
		t.Errorf("unowned: %+v", p.Unowned)
	}
	if d := cmp.Diff([]string{"ghost"}, p.MissingOrgs); d != "" {
		t.Errorf("missing orgs: %s", d)
	}

	// Suppression: told yesterday about the same cases → nothing; a new
	// endpoint or a higher severity → a message again; after the window → again.
	tests := []struct {
		name string
		last LastSent
		want bool
	}{
		{"same cases within window", LastSent{At: now.Add(-24 * time.Hour), MaxSeverity: 1004, CaseIDs: []int64{1, 2}}, false},
		{"new endpoint", LastSent{At: now.Add(-24 * time.Hour), MaxSeverity: 1004, CaseIDs: []int64{1}}, true},
		{"severity rose", LastSent{At: now.Add(-24 * time.Hour), MaxSeverity: 104, CaseIDs: []int64{1, 2}}, true},
		{"window passed", LastSent{At: now.Add(-8 * 24 * time.Hour), MaxSeverity: 1004, CaseIDs: []int64{1, 2}}, true},
	}
	for _, tt := range tests {
		p := BuildPlan(orgs, cases(), map[string]LastSent{"acme": tt.last}, 7*24*time.Hour, now)
		got := false
		for _, m := range p.Messages {
			got = got || m.Org.Key == "acme"
		}
		if got != tt.want {
			t.Errorf("%s: acme messaged = %v, want %v (suppressed: %+v)", tt.name, got, tt.want, p.Suppressed)
		}
	}
}

func TestRender(t *testing.T) {
	r, err := NewRenderer(exchange.Default(), "", "CERT Example <cert@cert.example>")
	if err != nil {
		t.Fatal(err)
	}
	p := BuildPlan(orgs, cases(), nil, time.Hour, now)
	de, err := r.Render(p.Messages[0], "20210312-10000001", now)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[20210312-10000001]", "Kompromittierte"} {
		if !strings.Contains(de.Subject, want) {
			t.Errorf("German subject %q lacks %q", de.Subject, want)
		}
	}
	for _, want := range []string{"KOMPROMITTIERT: Webshell unter /owa/auth/errorEEE.aspx", "192.0.2.10:443",
		"Installieren Sie mindestens Exchange 2016 CU19 Mar21SU (build 15.1.2176.9) für die genannten CVEs", "exsweep hunt"} {
		if !strings.Contains(de.Text, want) {
			t.Errorf("German text lacks %q:\n%s", want, de.Text)
		}
	}
	// 2013 CU5 never got the fix: the guidance names a CU to move to, in
	// the message's language, and no English sentence is left in it.
	if !strings.Contains(de.Text, "Exchange 2013 CU5 hat für diese CVEs keine Korrektur erhalten: aktualisieren Sie auf Exchange 2013 CU23") {
		t.Errorf("no CU upgrade advice for 2013 CU5:\n%s", de.Text)
	}
	for _, english := range []string{"nstall at least", "treat the server", "received no fix", "plan a migration", "; then "} {
		if strings.Contains(de.Text, english) || strings.Contains(de.HTML, english) {
			t.Errorf("German message has English guidance %q", english)
		}
	}
	if g := guidance(exchange.Default(), cases()[0], guidancePhrases["en"]); !strings.HasPrefix(g, "Treat the server as compromised") && !strings.HasPrefix(g, "Install") {
		t.Errorf("English guidance = %q", g)
	}
	if !strings.HasPrefix(string(de.CSV), "timestamp,severity,ip,protocol,port") || !strings.Contains(string(de.CSV), "exchange;webshell;cve-2021-26855") {
		t.Errorf("CSV:\n%s", de.CSV)
	}
	en, err := r.Render(p.Messages[1], "20210312-10000002", now)
	if err != nil || !strings.Contains(en.Subject, "Vulnerable Microsoft Exchange") || !strings.Contains(en.HTML, "<table") {
		t.Errorf("English message: %v %q", err, en.Subject)
	}
}

func TestRenderHostileNames(t *testing.T) {
	r, _ := NewRenderer(exchange.Default(), "", "x")
	p := Planned{Org: Org{Name: "Evil\r\nBcc: all@example <script>", Language: "xx"},
		Cases: []Case{{IP: "192.0.2.1", Port: 443, Problem: ProblemCompromised, Webshells: []string{"/owa/auth/<img onerror=x>.aspx"}}}}
	m, err := r.Render(p, "T", now)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		t.Errorf("subject has a line break: %q", m.Subject)
	}
	if strings.Contains(m.HTML, "<img") || strings.Contains(m.HTML, "<script>") {
		t.Error("HTML body not escaped")
	}
}

func TestTemplateOverride(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "fr"), 0o755)
	os.WriteFile(filepath.Join(dir, "fr", "subject.txt"), []byte("[{{.Ticket}}] Serveurs Exchange vulnérables"), 0o644)
	os.WriteFile(filepath.Join(dir, "fr", "body.txt"), []byte("Bonjour {{.Org.Name}}"), 0o644)
	os.WriteFile(filepath.Join(dir, "fr", "body.html"), []byte("<p>Bonjour {{.Org.Name}}</p>"), 0o644)
	r, err := NewRenderer(exchange.Default(), dir, "x")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := r.Render(Planned{Org: Org{Name: "Société", Language: "fr"}, Cases: cases()[:1]}, "T1", now)
	if m.Text != "Bonjour Société" {
		t.Errorf("override not used: %q", m.Text)
	}
	os.WriteFile(filepath.Join(dir, "fr", "body.txt"), []byte("{{.Nope"), 0o644)
	if _, err := NewRenderer(exchange.Default(), dir, "x"); err == nil || !strings.Contains(err.Error(), "body.txt") {
		t.Errorf("broken override accepted: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "fr", "body.txt"), []byte("{{.NoSuchField}}"), 0o644)
	if _, err := NewRenderer(exchange.Default(), dir, "x"); err == nil {
		t.Error("template with an unknown field accepted")
	}
}
