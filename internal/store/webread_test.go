package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
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
		if one, err := s.RunCurveOf(ctx, run); err != nil || one != got {
			t.Errorf("RunCurveOf(%d) = %+v, %v; want %+v", run, one, err, got)
		}
		if _, err := s.RunCurveOf(ctx, 999999); !errors.Is(err, ErrNotFound) {
			t.Errorf("RunCurveOf(missing) = %v", err)
		}
		if sts, err := s.RunStatuses(ctx, 0); err != nil || len(sts) == 0 || sts[0].RunID != run || sts[0].Status == "" {
			t.Errorf("RunStatuses = %+v, %v", sts, err)
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
		tok, err := s.WebTokenByHash(ctx, hash)
		if err != nil || !tok.ReadOnly || tok.Name != "admin" {
			t.Errorf("WebTokenByHash = %+v, %v", tok, err)
		}
		if _, err := s.WebTokenByHash(ctx, strings.Repeat("00", 32)); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown hash: %v; want ErrNotFound", err)
		}
		if n, _ := s.CountWebTokens(ctx); n != 1 {
			t.Errorf("CountWebTokens = %d; want 1", n)
		}
	})
}
