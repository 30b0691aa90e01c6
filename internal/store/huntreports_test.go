package store

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestHuntReports(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := openTest(t, b)
		ctx := context.Background()
		ep := netip.MustParseAddrPort("192.0.2.7:443")
		other := netip.MustParseAddrPort("192.0.2.8:443")
		rep := func(verdict string) json.RawMessage {
			return json.RawMessage(`{"verdict":"` + verdict + `","summary":"x","findings":[{"id":"F0001","title":"<script>"}]}`)
		}
		first, err := s.AddHuntReport(ctx, HuntReport{Endpoint: ep, Verdict: "attacked", Summary: "probes only", Source: "a.json", Report: rep("attacked")})
		if err != nil {
			t.Fatal(err)
		}
		second, err := s.AddHuntReport(ctx, HuntReport{Endpoint: ep, Verdict: "compromised", Summary: "web shell", Report: rep("compromised")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddHuntReport(ctx, HuntReport{Endpoint: other, Verdict: "clean", Report: rep("clean")}); err != nil {
			t.Fatal(err)
		}
		got, err := s.HuntReports(ctx, ep, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != second || got[1].ID != first || got[1].Source != "a.json" ||
			got[0].Endpoint != ep || got[0].ImportedAt.IsZero() || !strings.Contains(string(got[0].Report), `"<script>"`) {
			t.Fatalf("HuntReports = %+v", got)
		}
		if one, _ := s.HuntReports(ctx, ep, 1); len(one) != 1 || one[0].ID != second {
			t.Errorf("HuntReports(limit 1) = %+v", one)
		}
		for _, bad := range []HuntReport{
			{Endpoint: ep, Verdict: "clean", Report: json.RawMessage(`{"verdict":`)},
			{Verdict: "clean", Report: rep("clean")},
			{Endpoint: ep, Verdict: "clean", Report: json.RawMessage(`"` + strings.Repeat("a", MaxHuntReportBytes) + `"`)},
		} {
			if _, err := s.AddHuntReport(ctx, bad); !errors.Is(err, ErrInvalid) {
				t.Errorf("AddHuntReport(bad) = %v; want ErrInvalid", err)
			}
		}
	})
}
