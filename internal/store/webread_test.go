package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWebReadHelpers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := openTest(t, b)
		ctx := context.Background()
		empty := mustRun(t, s)
		run := mustRun(t, s)
		w := s.NewObservationWriter(run, BatchOptions{})
		for i := range 10 {
			o := fakeObservation(i)
			if i == 0 { // vulnerable and compromised
				var rec map[string]any
				json.Unmarshal(o.Record, &rec)
				rec["webshells"] = []map[string]any{{"path": "/aspnet_client/x.aspx", "status": 200}}
				o.Record, _ = json.Marshal(rec)
			}
			if err := w.Add(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		curves, err := s.RunCurves(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(curves) != 2 || curves[0].RunID != empty || curves[1].RunID != run {
			t.Fatalf("RunCurves = %+v; want runs %d, %d oldest first", curves, empty, run)
		}
		if c := curves[0]; c.Observations != 0 || !c.FirstObserved.IsZero() {
			t.Errorf("empty run = %+v", c)
		}
		// verdicts cycle over 5 values: 2 each; exchange = 6.
		want := RunCurve{Observations: 10, Exchange: 6, Vulnerable: 2, Patched: 2, Undetermined: 2, Compromised: 1}
		got := curves[1]
		if got.Observations != want.Observations || got.Exchange != want.Exchange || got.Vulnerable != want.Vulnerable ||
			got.Patched != want.Patched || got.Undetermined != want.Undetermined || got.Compromised != want.Compromised {
			t.Errorf("RunCurves[1] = %+v; want counts %+v", got, want)
		}
		if !b.trunc(got.FirstObserved).Equal(b.trunc(fakeObservation(0).ObservedAt)) {
			t.Errorf("FirstObserved = %v", got.FirstObserved)
		}
		if last, _ := s.RunCurves(ctx, 1); len(last) != 1 || last[0].RunID != run {
			t.Errorf("RunCurves(1) = %+v; want the newest run", last)
		}

		pb, err := s.ProductBreakdown(ctx, run)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, p := range pb {
			n += p.Count
			if p.Product != "Exchange Server 2016" || p.CU != "CU23" {
				t.Errorf("breakdown row %+v", p)
			}
		}
		if n != 6 || len(pb) != 3 {
			t.Errorf("ProductBreakdown = %+v; want 3 verdict groups, 6 endpoints", pb)
		}

		obs, err := s.EndpointObservations(ctx, endpoint(3), 0)
		if err != nil || len(obs) != 1 || obs[0].RunID != run || obs[0].Hostname != "mail3.example.org" {
			t.Errorf("EndpointObservations = %+v, %v", obs, err)
		}

		if n, err := s.CountWebTokens(ctx); n != 0 || err != nil {
			t.Errorf("CountWebTokens = %d, %v", n, err)
		}
		hash := strings.Repeat("ab", 32)
		if _, err := s.AddWebToken(ctx, WebToken{Hash: hash, Name: "admin", ReadOnly: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddWebToken(ctx, WebToken{Hash: hash}); !errors.Is(err, ErrInvalid) {
			t.Errorf("second AddWebToken: %v; want ErrInvalid", err)
		}
		if _, err := s.AddWebToken(ctx, WebToken{Hash: "short"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("short hash: %v; want ErrInvalid", err)
		}
		tok, err := s.ActiveWebTokenByHash(ctx, hash)
		if err != nil || !tok.ReadOnly || tok.Name != "admin" {
			t.Errorf("ActiveWebTokenByHash = %+v, %v", tok, err)
		}
		if _, err := s.ActiveWebTokenByHash(ctx, strings.Repeat("00", 32)); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown hash: %v; want ErrNotFound", err)
		}
		if n, _ := s.CountWebTokens(ctx); n != 1 {
			t.Errorf("CountWebTokens = %d; want 1", n)
		}
	})
}

// TestRunStats: a finished run's counts are stored when it finishes and read
// from there (observations added later do not change them); a resumed run is
// counted live again; a finished run without stored counts (finished before
// migration 00006) gets them the first time it is asked for.
func TestRunStats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := openTest(t, b)
		ctx := context.Background()
		run := mustRun(t, s)
		add := func(from, to int) {
			t.Helper()
			w := s.NewObservationWriter(run, BatchOptions{})
			for i := from; i < to; i++ {
				if err := w.Add(ctx, fakeObservation(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(ctx); err != nil {
				t.Fatal(err)
			}
		}
		observations := func() int64 {
			t.Helper()
			cs, err := s.RunCurves(ctx, 1)
			if err != nil || len(cs) != 1 || cs[0].RunID != run {
				t.Fatalf("RunCurves(1) = %+v, %v", cs, err)
			}
			return cs[0].Observations
		}
		stored := func() bool {
			t.Helper()
			var n int
			if err := s.r.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM run_stats WHERE run_id = ?`), run).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n == 1
		}
		add(0, 10)
		if got := observations(); got != 10 || stored() {
			t.Fatalf("running: %d observations, stored %v; want 10 counted live", got, stored())
		}
		if err := s.FinishRun(ctx, run, StatusDone, nil); err != nil {
			t.Fatal(err)
		}
		if !stored() {
			t.Fatal("FinishRun stored no counts")
		}
		add(10, 15) // not seen: the stored counts are read
		if got := observations(); got != 10 {
			t.Errorf("finished: %d observations; want the stored 10", got)
		}
		pb, err := s.ProductBreakdown(ctx, run)
		if err != nil || len(pb) != 3 || pb[0].Count != 2 {
			t.Errorf("stored ProductBreakdown = %+v, %v", pb, err)
		}
		if err := s.ResumeRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		if got := observations(); got != 15 || stored() {
			t.Errorf("resumed: %d observations, stored %v; want 15 counted live", got, stored())
		}
		if err := s.FinishRun(ctx, run, StatusInterrupted, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.w.ExecContext(ctx, `DELETE FROM run_stats`); err != nil {
			t.Fatal(err)
		}
		if got := observations(); got != 15 || !stored() {
			t.Errorf("finished without stored counts: %d observations, stored %v; want 15, stored", got, stored())
		}
	})
}

// TestActiveCasesBy: active cases by country and by network, largest first;
// closed cases do not count; a country that is not a two-letter code is
// stored as unknown; a later input without a country keeps the known one.
func TestActiveCasesBy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := openTest(t, b)
		ctx := context.Background()
		mustOrgs(t, s, "a")
		add := func(ep, country string, asn uint32, problem string) Case {
			in := vulnInput("a", ep, t0)
			in.Country, in.ASN, in.ASName, in.Problem = country, asn, fmt.Sprintf("AS-%d", asn), problem
			return mustCase(t, s, in)
		}
		add("192.0.2.1:443", "de", 64501, ProblemVulnerable)
		add("192.0.2.1:443", "DE", 64501, ProblemCompromised)
		add("192.0.2.2:443", "DE", 64502, ProblemVulnerable)
		add("192.0.2.3:443", "US", 64502, ProblemVulnerable)
		add("192.0.2.4:443", "<script>", 64503, ProblemVulnerable)
		closed := add("192.0.2.5:443", "FR", 64503, ProblemVulnerable)
		if _, err := s.TransitionCase(ctx, CaseTransition{CaseID: closed.ID, To: CaseRemediated, Reason: "patched"}); err != nil {
			t.Fatal(err)
		}
		// No country this time: the case keeps DE.
		in := vulnInput("a", "192.0.2.2:443", t0.Add(time.Hour))
		in.ASN, in.ASName = 64502, "AS-64502"
		mustCase(t, s, in)

		byCountry, err := s.ActiveCasesBy(ctx, "country", 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []CaseGroup{{Key: "DE", Cases: 3, Compromised: 1}, {Key: "", Cases: 1}, {Key: "US", Cases: 1}}
		if diff := cmp.Diff(want, byCountry); diff != "" {
			t.Errorf("by country (-want +got):\n%s", diff)
		}
		byAS, err := s.ActiveCasesBy(ctx, "asn", 2)
		if err != nil {
			t.Fatal(err)
		}
		want = []CaseGroup{{Key: "64501", Name: "AS-64501", Cases: 2, Compromised: 1}, {Key: "64502", Name: "AS-64502", Cases: 2}}
		if diff := cmp.Diff(want, byAS); diff != "" {
			t.Errorf("by AS (-want +got):\n%s", diff)
		}
		if _, err := s.ActiveCasesBy(ctx, "city", 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("by city: %v; want ErrInvalid", err)
		}
	})
}
