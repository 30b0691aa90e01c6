package lab_test

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exsweep/exsweep/internal/lab"
	"github.com/exsweep/exsweep/internal/scan"
	"github.com/exsweep/exsweep/internal/store"
)

func openReplayStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "replay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestReplayMarch2021FollowsPublishedCurve(t *testing.T) {
	ctx := context.Background()
	st := openReplayStore(t)
	if err := lab.Replay(ctx, st, "march-2021", lab.ReplayOptions{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	curves, err := st.RunCurves(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(curves) != len(lab.March2021RunDates) {
		t.Fatalf("%d runs; want %d", len(curves), len(lab.March2021RunDates))
	}
	byDay := map[string]store.RunCurve{}
	for _, c := range curves {
		byDay[c.FirstObserved.Format("2006-01-02")] = c
	}
	for _, p := range lab.March2021Curve {
		c, ok := byDay[p.Date.Format("2006-01-02")]
		if !ok {
			t.Errorf("no run on %s", p.Date.Format("2006-01-02"))
			continue
		}
		want := float64(p.Vulnerable) / 400
		if math.Abs(float64(c.Vulnerable)-want) > 0.03*want+1 {
			t.Errorf("%s: %d vulnerable; want %.0f ±3%%", p.Date.Format("Jan 2"), c.Vulnerable, want)
		}
	}
	last := curves[len(curves)-1]
	if pct := float64(last.Patched) / float64(last.Patched+last.Vulnerable); pct < 0.91 || pct > 0.94 {
		t.Errorf("22 March: %.1f%% patched; want about 92%%", 100*pct)
	}
	if last.Compromised == 0 || last.Undetermined == 0 {
		t.Errorf("last run %+v: want compromised and undetermined endpoints", last)
	}
	// A few compromised servers carry a (simulated) hunt report.
	shells, err := st.ListCases(ctx, store.CaseFilter{Problem: store.ProblemCompromised})
	if err != nil {
		t.Fatal(err)
	}
	hunts := 0
	for _, c := range shells {
		reps, err := st.HuntReports(ctx, c.Endpoint, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reps {
			if r.Verdict != "compromised" || !strings.Contains(string(r.Report), `"timeline":[{`) {
				t.Errorf("hunt report %d: %s %s", r.ID, r.Verdict, r.Report)
			}
		}
		hunts += len(reps)
	}
	if hunts != 3 {
		t.Errorf("%d hunt reports on compromised endpoints; want 3", hunts)
	}
	// Everything is dated in March 2021, not on the day of the replay.
	for _, c := range curves {
		if c.StartedAt.Year() != 2021 || c.StartedAt.Month() != 3 {
			t.Errorf("run %d started %v; want March 2021", c.RunID, c.StartedAt)
		}
	}
	msgs, err := st.Messages(ctx, store.MessageFilter{Limit: 1000})
	if err != nil || len(msgs) == 0 {
		t.Fatalf("messages: %d, %v", len(msgs), err)
	}
	for _, m := range msgs {
		if m.SentAt.Year() != 2021 || m.SentAt.Month() != 3 || m.Ticket[:6] != "202103" {
			t.Errorf("message %s sent %v; want March 2021", m.Ticket, m.SentAt)
		}
	}

	// Records decode as the scanner's record shape.
	obs, err := st.Observations(ctx, curves[0].RunID, store.ObservationFilter{Limit: 5})
	if err != nil || len(obs) == 0 {
		t.Fatalf("Observations: %v", err)
	}
	var rec scan.Record
	if err := json.Unmarshal(obs[0].Record, &rec); err != nil {
		t.Fatal(err)
	}
	if !rec.Exchange || rec.Build == "" || len(rec.CVEs) == 0 || len(rec.Evidence) == 0 || rec.ObservedAt.Year() != 2021 {
		t.Errorf("record %+v lacks scan fields", rec)
	}

	// Cases: opened by the first run, most remediated by the last; some
	// notified with a ticket.
	open, _ := st.ListCases(ctx, store.CaseFilter{States: []string{store.CaseOpen, store.CaseNotified, store.CasePersisting}, Problem: store.ProblemVulnerable})
	fixed, _ := st.ListCases(ctx, store.CaseFilter{States: []string{store.CaseRemediated}, Problem: store.ProblemVulnerable})
	if len(open) != int(last.Vulnerable) || len(fixed) < 800 {
		t.Errorf("%d active, %d remediated vulnerable cases; want %d active, most remediated", len(open), len(fixed), last.Vulnerable)
	}
	msgs, err = st.Messages(ctx, store.MessageFilter{States: []string{store.MessageSent}})
	if err != nil || len(msgs) == 0 {
		t.Errorf("sent messages: %d, %v", len(msgs), err)
	}

	if err := lab.Replay(ctx, st, "march-2021", lab.ReplayOptions{}); err == nil {
		t.Error("second replay into the same store succeeded; want a refusal")
	}
}

func TestReplayDeterministic(t *testing.T) {
	ctx := context.Background()
	counts := func(seed uint64) []store.RunCurve {
		st := openReplayStore(t)
		if err := lab.Replay(ctx, st, "march-2021", lab.ReplayOptions{Seed: seed, Scale: 1.0 / 4000}); err != nil {
			t.Fatal(err)
		}
		c, err := st.RunCurves(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := range c {
			c[i].StartedAt = time.Time{} // the store's clock, not the data
		}
		return c
	}
	a, b := counts(7), counts(7)
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("run %d differs: %+v vs %+v", i, a[i], b[i])
		}
	}
	if err := lab.Replay(ctx, openReplayStore(t), "nope", lab.ReplayOptions{}); err == nil {
		t.Error("unknown scenario accepted")
	}
}
