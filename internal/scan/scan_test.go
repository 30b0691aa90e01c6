package scan

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/exsweep/exsweep/internal/exchange"
	"github.com/exsweep/exsweep/internal/lab"
	"github.com/exsweep/exsweep/internal/target"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scanLab starts a lab of the given servers, scans it and returns the records
// by target, the lab's truth and the lab itself (closed by t.Cleanup).
func scanLab(t *testing.T, servers []lab.Server, opts Options) (map[string]Record, []lab.Expectation, *lab.Lab) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := lab.Start(ctx, servers, lab.Options{Network: "127.41.0.0/16", Port: 0, Seed: 7, TarpitTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s := New(exchange.Default(), opts)
	ch := make(chan target.Target)
	go func() {
		defer close(ch)
		for _, ap := range l.Addrs() {
			ch <- target.Target{IP: ap.Addr(), Port: ap.Port(), Scheme: "https"}
		}
	}()
	got := map[string]Record{}
	if err := s.Run(ctx, ch, func(r Record) error { got[r.Target] = r; return nil }); err != nil {
		t.Fatal(err)
	}
	return got, l.Expectations(), l
}

func observed(r Record) lab.Observed {
	o := lab.Observed{Target: r.Target, Reachable: r.Verdict != VerdictUnreachable, Exchange: r.Exchange, Build: r.Build,
		BuildExact: r.BuildExact, Verdict: r.Verdict}
	for _, w := range r.Webshells {
		o.Webshells = append(o.Webshells, w.Path)
	}
	return o
}

// TestEveryLabMode: every mode of the lab yields the record the lab's truth
// expects, using only GET requests.
func TestEveryLabMode(t *testing.T) {
	servers, err := lab.Mix(lab.MinServers(lab.MixAllModes), 1, lab.MixAllModes)
	if err != nil {
		t.Fatal(err)
	}
	got, truth, l := scanLab(t, servers, Options{Concurrency: 16, Timeout: 8 * time.Second, Deadline: 40 * time.Second, Confirm: true})
	for _, want := range truth {
		r, ok := got[want.Target]
		if !ok {
			t.Errorf("%s (%s): no record", want.Target, want.Name)
			continue
		}
		if d := lab.Compare(want, observed(r), false); len(d) > 0 {
			t.Errorf("%s (%s, modes %v): %s\nevidence: %+v\nerror: %s", want.Target, want.Name, want.Modes, strings.Join(d, "; "), r.Evidence, r.Error)
		}
		if want.CertSubject != "" && r.TLS != nil && r.TLS.Subject != want.CertSubject && !strings.Contains(want.CertSubject, "script") {
			t.Errorf("%s: certificate subject %q, want %q", want.Target, r.TLS.Subject, want.CertSubject)
		}
	}
	if v := l.Violations(); v != 0 {
		t.Errorf("%d requests were not GET/HEAD", v)
	}
}

// TestWebshellsNoFalsePositives: every reported web shell was planted, and
// sites that answer 200 to everything report none.
func TestWebshellsNoFalsePositives(t *testing.T) {
	servers := []lab.Server{
		{Name: "shells", Build: "15.1.2176.2", Webshells: []string{"/owa/auth/errorEEE.aspx", "/aspnet_client/system_web/help.aspx"}},
		{Name: "catch-all", Kind: lab.KindCatchAll200},
		{Name: "clean", Build: "15.1.2176.9"},
	}
	got, truth, l := scanLab(t, servers, Options{Concurrency: 4, Timeout: 8 * time.Second, Webshells: true, Confirm: true})
	for _, want := range truth {
		r := got[want.Target]
		if d := lab.Compare(want, observed(r), true); len(d) > 0 {
			t.Errorf("%s: %s", want.Name, strings.Join(d, "; "))
		}
		for _, w := range r.Webshells {
			if w.SHA256 == "" || w.Reason == "" {
				t.Errorf("%s: web shell %s lacks hash or reason", want.Name, w.Path)
			}
		}
	}
	if v := l.Violations(); v != 0 {
		t.Errorf("%d requests were not GET/HEAD", v)
	}
}

// TestRequestBudget: a plain, fully visible server costs at most 4 requests,
// all on one connection.
func TestRequestBudget(t *testing.T) {
	got, truth, l := scanLab(t, []lab.Server{{Name: "plain", Build: "15.1.2176.9"}}, Options{Concurrency: 1, Confirm: true})
	r := got[truth[0].Target]
	if r.Requests > 4 || !r.BuildExact || r.Build != "15.1.2176.9" {
		t.Errorf("requests %d, build %s exact %v; want <= 4, 15.1.2176.9 exact", r.Requests, r.Build, r.BuildExact)
	}
	if st := l.Stats(0); st.Conns != 1 {
		t.Errorf("%d connections, want 1 (keep-alive)", st.Conns)
	}
}

// TestOffsiteRedirect: OWA redirected to another host and /ecp blocked; the
// build still comes from the 401 endpoints, or Exchange is still recognised
// from its front-end headers.
func TestOffsiteRedirect(t *testing.T) {
	servers := []lab.Server{
		{Name: "offsite-ecp403", Build: "15.1.1415.10", Redirect: lab.RedirectOffsite, ECP: lab.ECP403},
		{Name: "offsite-ecp404-stripped", Build: "15.1.2176.2", Redirect: lab.RedirectOffsite, ECP: lab.ECP404, HeaderMode: lab.HeaderStripped},
		{Name: "offsite-ecp-published", Build: "15.2.721.13", Redirect: lab.RedirectOffsite},
	}
	got, truth, _ := scanLab(t, servers, Options{Concurrency: 3, Timeout: 8 * time.Second, Confirm: true})
	for _, want := range truth {
		if d := lab.Compare(want, observed(got[want.Target]), false); len(d) > 0 {
			t.Errorf("%s: %s", want.Name, strings.Join(d, "; "))
		}
	}
}
