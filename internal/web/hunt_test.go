package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/exsweep/exsweep/internal/hunt"
	"github.com/exsweep/exsweep/internal/store"
)

// TestEndpointHuntReport: an imported hunt report shows on the endpoint page
// (verdict, findings, timeline), its hostile strings inert, and in the API.
func TestEndpointHuntReport(t *testing.T) {
	f := newFixture(t, 1.0/4000)
	ep := netip.MustParseAddrPort(f.xssEP)
	at := time.Date(2021, 3, 3, 4, 5, 6, 0, time.UTC)
	rep := hunt.Report{Host: "EXCH01" + xss, Started: at, Finished: at.Add(time.Minute), Verdict: hunt.VerdictCompromised,
		Summary: "COMPROMISED: a web shell " + xss,
		Findings: []hunt.Finding{{ID: "F0001", Check: "webshell-file", Title: "Web shell in /owa/auth/" + xss, Severity: "critical",
			Grade: hunt.GradeBackdoor, Time: at, Path: "inetpub/wwwroot/aspnet_client/x.aspx", Evidence: `<%@ Page Language="Jscript"%>` + xss,
			CVE: []string{"CVE-2021-27065"}}},
		Timeline: []hunt.Event{{Time: at, Source: "iis", Path: "u_ex210303.log", Line: 7, Grade: hunt.GradeExploited,
			What: "POST /ecp/y.js " + xss, Client: "203.0.113.9"}}}
	b, _ := json.Marshal(rep)
	if _, err := f.st.AddHuntReport(context.Background(), store.HuntReport{Endpoint: ep, Verdict: rep.Verdict, Summary: rep.Summary,
		Source: "hunt.json", Report: b}); err != nil {
		t.Fatal(err)
	}
	c := f.login(t, f.ro)
	resp, body := get(t, c, f.srv.URL+"/endpoints/"+f.xssEP)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("endpoint page: %s", resp.Status)
	}
	for _, want := range []string{"Hunt reports", "compromised", "Web shell in /owa/auth/", "CVE-2021-27065",
		"POST /ecp/y.js", "u_ex210303.log:7", "203.0.113.9", "hunt.json"} {
		if !strings.Contains(body, want) {
			t.Errorf("endpoint page lacks %q", want)
		}
	}
	if strings.Contains(body, xss) {
		t.Error("a hunt report's script tag reached the page unescaped")
	}

	req, _ := http.NewRequest("GET", f.srv.URL+"/api/endpoints/"+f.xssEP, nil)
	req.Header.Set("Authorization", "Bearer "+f.ro)
	apiResp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer apiResp.Body.Close()
	var got struct {
		Hunts []struct {
			Verdict string      `json:"verdict"`
			Report  hunt.Report `json:"report"`
		} `json:"hunt_reports"`
	}
	if err := json.NewDecoder(apiResp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got.Hunts) != 1 || got.Hunts[0].Verdict != "compromised" || len(got.Hunts[0].Report.Timeline) != 1 ||
		got.Hunts[0].Report.Findings[0].Title != rep.Findings[0].Title {
		t.Errorf("API hunt_reports = %+v", got.Hunts)
	}
}
