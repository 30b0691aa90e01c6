package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/exsweep/exsweep/internal/lab"
	"github.com/exsweep/exsweep/internal/store"
)

// fixture is a dashboard over a replayed March 2021 response.
type fixture struct {
	st       *store.Store
	srv      *httptest.Server
	rw, ro   string // tokens
	xssEP    string
	xssValue string
}

const xss = `<script>alert(1)</script>`

func newFixture(t testing.TB, scale float64) *fixture {
	t.Helper()
	return newFixtureOpts(t, scale, Options{PageSize: 20})
}

func newFixtureOpts(t testing.TB, scale float64, opts Options) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "web.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := lab.Replay(ctx, st, "march-2021", lab.ReplayOptions{Seed: 3, Scale: scale}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, xssEP: "203.0.113.66:443", xssValue: xss}
	f.addHostileObservation(t)
	var out strings.Builder
	if created, err := EnsureToken(ctx, st, &out); err != nil || !created {
		t.Fatalf("EnsureToken = %v, %v", created, err)
	}
	f.rw = regexp.MustCompile(`exs_[A-Za-z0-9_-]+`).FindString(out.String())
	if created, _ := EnsureToken(ctx, st, io.Discard); created {
		t.Error("EnsureToken created a second token")
	}
	if f.ro, err = CreateToken(ctx, st, "viewer", true); err != nil {
		t.Fatal(err)
	}
	s, err := New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(s.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// addHostileObservation stores a run with one endpoint whose every
// server-controlled string is a script tag, and a case for it.
func (f *fixture) addHostileObservation(t testing.TB) {
	ctx := context.Background()
	ap := netip.MustParseAddrPort(f.xssEP)
	rec := map[string]any{
		"target": ap.Addr().String(), "ip": ap.Addr().String(), "port": 443, "hostname": xss,
		"exchange": true, "product": "Exchange 2016 " + xss, "build": "15.1.2176.2", "build_exact": true,
		"cu": "CU19", "verdict": "vulnerable", "reason": xss,
		"cves":        []map[string]string{{"id": "CVE-2021-26855", "name": xss, "state": "vulnerable"}},
		"evidence":    []map[string]any{{"technique": "x-feserver", "path": "/owa/", "status": 302, "value": xss, "detail": "title " + xss}},
		"tls":         map[string]any{"version": "TLS 1.2", "cipher": "x", "subject": "CN=" + xss, "issuer": xss},
		"webshells":   []map[string]any{{"path": "/aspnet_client/" + xss, "status": 200, "size": 1, "sha256": "00", "reason": xss}},
		"observed_at": time.Date(2021, 3, 23, 0, 0, 0, 0, time.UTC),
	}
	raw, _ := json.Marshal(rec)
	run, err := f.st.CreateRun(ctx, store.RunInfo{})
	if err != nil {
		t.Fatal(err)
	}
	w := f.st.NewObservationWriter(run, store.BatchOptions{})
	if err := w.Add(ctx, store.Observation{Target: ap.Addr().String(), IP: ap.Addr(), Port: 443, Hostname: xss, Exchange: true,
		Product: "Exchange 2016", Build: "15.1.2176.2", Verdict: "vulnerable", Record: raw,
		ObservedAt: time.Date(2021, 3, 23, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f.st.FinishRun(ctx, run, store.StatusDone, nil)
	if _, _, err := f.st.UpsertCase(ctx, store.CaseInput{Endpoint: ap, Hostname: xss, ASName: xss, Problem: store.ProblemCompromised, RunID: run}); err != nil {
		t.Fatal(err)
	}
}

// client is a browser-like client: cookie jar, no automatic redirects.
func (f *fixture) client(t testing.TB) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (f *fixture) login(t testing.TB, token string) *http.Client {
	t.Helper()
	c := f.client(t)
	resp, err := c.PostForm(f.srv.URL+"/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %s", resp.Status)
	}
	return c
}

func get(t testing.TB, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t testing.TB, c *http.Client, base string) string {
	t.Helper()
	_, body := get(t, c, base+"/cases")
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on /cases")
	}
	return m[1]
}

func TestAuth(t *testing.T) {
	f := newFixture(t, 1.0/4000)
	anon := f.client(t)
	tests := []struct {
		name   string
		method string
		path   string
		header map[string]string
		want   int
	}{
		{"page needs login", "GET", "/", nil, http.StatusSeeOther},
		{"api needs login", "GET", "/api/curve", nil, http.StatusUnauthorized},
		{"post needs login", "POST", "/cases/bulk", nil, http.StatusUnauthorized},
		{"wrong bearer", "GET", "/api/curve", map[string]string{"Authorization": "Bearer exs_wrong"}, http.StatusUnauthorized},
		{"bearer ok", "GET", "/api/curve", map[string]string{"Authorization": "Bearer " + f.rw}, http.StatusOK},
		{"read-only bearer reads", "GET", "/api/cases", map[string]string{"Authorization": "Bearer " + f.ro}, http.StatusOK},
		{"read-only bearer cannot post", "POST", "/api/cases/bulk", map[string]string{"Authorization": "Bearer " + f.ro}, http.StatusForbidden},
		{"static is public", "GET", "/static/htmx.min.js", nil, http.StatusOK},
		{"login page is public", "GET", "/login", nil, http.StatusOK},
		{"cross-site login refused", "POST", "/login", map[string]string{"Origin": "https://evil.example", "Content-Type": "application/x-www-form-urlencoded"}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, f.srv.URL+tt.path, strings.NewReader(`{"action":"notified","ids":[1]}`))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := anon.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("%s %s = %d; want %d", tt.method, tt.path, resp.StatusCode, tt.want)
			}
			if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "script-src 'self'") || strings.Contains(got, "unsafe-inline") {
				t.Errorf("CSP = %q", got)
			}
		})
	}

	// Wrong token: the login page again, no cookie.
	resp, err := anon.PostForm(f.srv.URL+"/login", url.Values{"token": {"exs_nope"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("wrong token: %s, cookies %v", resp.Status, resp.Cookies())
	}

	// A session cookie is HttpOnly and SameSite=Strict.
	c := f.client(t)
	resp, err = c.PostForm(f.srv.URL+"/login", url.Values{"token": {f.rw}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ck := resp.Cookies()
	if len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode {
		t.Errorf("session cookie = %+v", ck)
	}

	// CSRF: a cookie POST without the token, or with a wrong one, is 403.
	for _, tok := range []string{"", "wrong"} {
		resp, err := c.PostForm(f.srv.URL+"/cases/bulk", url.Values{"action": {"notified"}, "id": {"1"}, "csrf": {tok}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST with csrf %q = %s; want 403", tok, resp.Status)
		}
	}

	// Read-only session: a valid CSRF token, still refused.
	ro := f.login(t, f.ro)
	tok := csrfOf(t, ro, f.srv.URL)
	resp, err = ro.PostForm(f.srv.URL+"/cases/bulk", url.Values{"action": {"notified"}, "id": {"1"}, "csrf": {tok}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("read-only POST = %s; want 403", resp.Status)
	}
	if _, body := get(t, ro, f.srv.URL+"/cases"); strings.Contains(body, `id="b-notified"`) {
		t.Error("read-only page shows bulk buttons")
	}

	// Logout ends the session.
	rw := f.login(t, f.rw)
	tok = csrfOf(t, rw, f.srv.URL)
	resp, _ = rw.PostForm(f.srv.URL+"/logout", url.Values{"csrf": {tok}})
	resp.Body.Close()
	if resp, _ := get(t, rw, f.srv.URL+"/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout: %s; want a redirect to /login", resp.Status)
	}
}

func TestPagesRender(t *testing.T) {
	f := newFixture(t, 1.0/4000)
	c := f.login(t, f.rw)
	cases, _ := f.st.ListCases(context.Background(), store.CaseFilter{OrgKey: "org-001", Limit: 1})
	if len(cases) == 0 {
		t.Fatal("replay made no case for org-001")
	}
	tests := []struct{ path, want string }{
		{"/", `id="curve" data-src="/api/curve"`},
		{"/", "Exchange 2016"},
		{"/cases?state=active", "Mark notified"},
		{"/cases?problem=compromised", "compromised"},
		{"/orgs", "org-001"},
		{"/orgs/org-001", "Messages"},
		{"/orgs/org-001", "<b>open</b>"},
		{"/cases/" + itoa(cases[0].ID), "History"},
		{"/endpoints/" + url.PathEscape(cases[0].Endpoint.String()), "x-owa-version"},
		{"/scans", "done"},
	}
	for _, tt := range tests {
		resp, body := get(t, c, f.srv.URL+tt.path)
		if resp.StatusCode != 200 || !strings.Contains(body, tt.want) {
			t.Errorf("GET %s = %s; want 200 with %q", tt.path, resp.Status, tt.want)
		}
		if strings.Contains(body, "<script>") {
			t.Errorf("GET %s: inline <script> in page", tt.path)
		}
	}
	for _, p := range []string{"/cases/999999", "/orgs/nobody", "/endpoints/not-an-endpoint"} {
		if resp, _ := get(t, c, f.srv.URL+p); resp.StatusCode != 404 && resp.StatusCode != 400 {
			t.Errorf("GET %s = %s; want 404 or 400", p, resp.Status)
		}
	}
	// htmx gets the table only.
	req, _ := http.NewRequest("GET", f.srv.URL+"/cases?state=open", nil)
	req.Header.Set("HX-Request", "true")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(b), `<div id="cases-table">`) {
		t.Errorf("htmx response starts %.60q; want the table fragment", b)
	}
}

func itoa(n int64) string { return strings.TrimSpace(strings.Replace(jsonString(n), `"`, "", -1)) }
func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestAPICurveMatchesStore(t *testing.T) {
	f := newFixture(t, 1.0/400)
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/curve", nil)
	req.Header.Set("Authorization", "Bearer "+f.ro)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct{ Runs []CurvePoint }
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want, err := f.st.RunCurves(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Runs) != len(want) {
		t.Fatalf("%d runs; want %d", len(got.Runs), len(want))
	}
	for i, w := range want {
		g := got.Runs[i]
		if g.RunID != w.RunID || g.Vulnerable != w.Vulnerable || g.Patched != w.Patched || g.Exchange != w.Exchange ||
			g.Compromised != w.Compromised || g.Undetermined != w.Undetermined {
			t.Errorf("run %d: API %+v; store %+v", i, g, w)
		}
	}
	// The published points, scaled 1/400: 14 March 69,548 → 174, 22 March → 92% patched.
	byDay := map[string]CurvePoint{}
	for _, p := range got.Runs {
		byDay[p.Time.Format("01-02")] = p
	}
	if v := byDay["03-14"].Vulnerable; v < 168 || v > 180 {
		t.Errorf("14 March: %d vulnerable; want about 174", v)
	}
	if p := byDay["03-22"].PctPatched; p < 91 || p > 94 {
		t.Errorf("22 March: %.1f%% patched; want about 92", p)
	}
}

func TestPaginationAndBulk(t *testing.T) {
	f := newFixture(t, 1.0/4000)
	c := f.login(t, f.rw)
	ro := &http.Client{}
	apiCases := func(q string) (ids []int64, next bool) {
		req, _ := http.NewRequest("GET", f.srv.URL+"/api/cases?"+q, nil)
		req.Header.Set("Authorization", "Bearer "+f.ro)
		resp, err := ro.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Cases []store.Case
			Next  bool
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		for _, c := range body.Cases {
			ids = append(ids, c.ID)
		}
		return ids, body.Next
	}
	p1, next := apiCases("per_page=10")
	p2, _ := apiCases("per_page=10&page=2")
	if len(p1) != 10 || !next || len(p2) == 0 || p1[9] == p2[0] {
		t.Errorf("pages: %v (next %v), %v", p1, next, p2)
	}
	if _, body := get(t, c, f.srv.URL+"/cases"); !strings.Contains(body, `id="next"`) {
		t.Error("cases page has no next link")
	}

	open, _ := apiCases("state=open&per_page=3")
	if len(open) < 2 {
		t.Fatalf("need 2 open cases, got %v", open)
	}
	tok := csrfOf(t, c, f.srv.URL)
	post := func(v url.Values, hx bool) (int, string) {
		if !hx {
			v.Set("csrf", tok)
		}
		req, _ := http.NewRequest("POST", f.srv.URL+"/cases/bulk", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if hx { // as htmx sends it: the token in a header (hx-headers)
			req.Header.Set("HX-Request", "true")
			req.Header.Set("X-CSRF-Token", tok)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	a, b := itoa(open[0]), itoa(open[1])
	if code, _ := post(url.Values{"action": {"notified"}, "id": {a, b}}, false); code != http.StatusSeeOther {
		t.Errorf("mark notified: %d", code)
	}
	if code, body := post(url.Values{"action": {"accept"}, "id": {a}}, true); code != 200 || !strings.Contains(body, "needs a reason") {
		t.Errorf("accept without reason: %d %q", code, body)
	}
	if code, _ := post(url.Values{"action": {"accept"}, "id": {a}, "reason": {"decommissioned next week"}}, true); code != 200 {
		t.Errorf("accept: %d", code)
	}
	if code, _ := post(url.Values{"action": {"reopen"}, "id": {b}}, true); code != 200 {
		t.Errorf("reopen of a notified case: %d", code)
	}
	ctx := context.Background()
	ca, _ := f.st.GetCase(ctx, open[0])
	cb, _ := f.st.GetCase(ctx, open[1])
	if ca.State != store.CaseAccepted || ca.Reason != "decommissioned next week" || cb.State != store.CaseNotified {
		t.Errorf("states: %s (%q), %s; want accepted, notified (reopen refused)", ca.State, ca.Reason, cb.State)
	}
	hist, _ := f.st.CaseHistory(ctx, open[0])
	if n := len(hist); n < 3 || hist[n-2].To != store.CaseNotified || hist[n-1].To != store.CaseAccepted || hist[n-1].Actor != "dashboard" {
		t.Errorf("history %+v", hist)
	}
	// Reopen the accepted one through the API.
	req, _ := http.NewRequest("POST", f.srv.URL+"/api/cases/bulk", strings.NewReader(`{"action":"reopen","ids":[`+a+`]}`))
	req.Header.Set("Authorization", "Bearer "+f.rw)
	resp, err := ro.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ca, _ = f.st.GetCase(ctx, open[0]); resp.StatusCode != 200 || ca.State != store.CaseReopened {
		t.Errorf("API reopen: %s, state %s", resp.Status, ca.State)
	}
}

func TestXSSInert(t *testing.T) {
	f := newFixture(t, 1.0/4000)
	c := f.login(t, f.rw)
	for _, p := range []string{"/endpoints/" + f.xssEP, "/cases?problem=compromised&state=open"} {
		resp, body := get(t, c, f.srv.URL+p)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s", p, resp.Status)
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, "alert(1)</") {
			t.Errorf("GET %s renders a live script tag", p)
		}
		if p[1] == 'e' && strings.Count(body, "&lt;script&gt;alert(1)&lt;/script&gt;") < 8 {
			t.Errorf("endpoint page: hostile values not all shown escaped:\n%s", body)
		}
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/endpoints/"+f.xssEP, nil)
	req.Header.Set("Authorization", "Bearer "+f.ro)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("API Content-Type %q", ct)
	}
	if strings.Contains(string(b), "<script") || !strings.Contains(string(b), `\u003cscript\u003e`) {
		t.Errorf("API body not escaped: %.300s", b)
	}
}

// TestAPIBreakdownAndFieldNames: /api/breakdown gives the newest run's
// products and the active cases by country and network, matching the
// store; case objects use snake_case names, as API.md documents.
func TestAPIBreakdownAndFieldNames(t *testing.T) {
	f := newFixture(t, 1.0/4000)
	apiGet := func(path string, v any) string {
		t.Helper()
		req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+f.ro)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %s", path, resp.Status, b)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var bd struct {
		RunID     int64                `json:"run_id"`
		Products  []store.ProductCount `json:"products"`
		Countries []store.CaseGroup    `json:"active_cases_by_country"`
		Networks  []store.CaseGroup    `json:"active_cases_by_as"`
	}
	apiGet("/api/breakdown", &bd)
	ctx := context.Background()
	runs, _ := f.st.RunCurves(ctx, 1)
	wantPB, _ := f.st.ProductBreakdown(ctx, runs[0].RunID)
	wantC, _ := f.st.ActiveCasesBy(ctx, "country", topGroups)
	wantN, _ := f.st.ActiveCasesBy(ctx, "asn", topGroups)
	if bd.RunID != runs[0].RunID || !cmp.Equal(bd.Products, wantPB) || !cmp.Equal(bd.Countries, wantC) ||
		!cmp.Equal(bd.Networks, wantN) {
		t.Errorf("breakdown = %+v; want run %d, %+v, %+v, %+v", bd, runs[0].RunID, wantPB, wantC, wantN)
	}
	if len(bd.Countries) == 0 || bd.Countries[0].Key == "" || len(bd.Networks) == 0 {
		t.Errorf("the replay's open cases have no countries or networks: %+v", bd)
	}

	var cases map[string]any
	raw := apiGet("/api/cases?per_page=5", &cases)
	for _, k := range []string{`"id":`, `"org_key":`, `"endpoint":`, `"state":`, `"country":`, `"opened_at":`} {
		if !strings.Contains(raw, k) {
			t.Errorf("/api/cases has no %s: %s", k, raw)
		}
	}
	for _, k := range []string{`"ID":`, `"OrgKey":`, `"State":`} {
		if strings.Contains(raw, k) {
			t.Errorf("/api/cases uses the Go name %s", k)
		}
	}

	c := f.login(t, f.ro)
	_, body := get(t, c, f.srv.URL+"/")
	if !strings.Contains(body, "Open cases by country") || !strings.Contains(body, "<td>"+bd.Countries[0].Key+"</td>") {
		t.Error("overview has no country breakdown")
	}
}

// TestAPIErrorsAreJSON: refusals of API requests use the documented
// {"error": …} body, pages keep plain text.
func TestAPIErrorsAreJSON(t *testing.T) {
	f := newFixture(t, 1.0/4000)
	resp, body := get(t, &http.Client{}, f.srv.URL+"/api/cases")
	var e struct{ Error string }
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Content-Type") != "application/json" ||
		json.Unmarshal([]byte(body), &e) != nil || e.Error != "login required" {
		t.Errorf("anonymous /api/cases: %s %q %s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	req, _ := http.NewRequest("POST", f.srv.URL+"/api/cases/bulk", strings.NewReader(`{"action":"notified","ids":[1]}`))
	req.Header.Set("Authorization", "Bearer "+f.ro)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || json.Unmarshal(b, &e) != nil || e.Error != "read-only access" {
		t.Errorf("read-only bulk: %s %s", resp.Status, b)
	}
}

// TestCasesSeverityFilter: severity=N keeps cases at least that severe
// (compromised cases are 1000+), on the API and the page.
func TestCasesSeverityFilter(t *testing.T) {
	f := newFixture(t, 1.0/400)
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/cases?severity=1000&per_page=500", nil)
	req.Header.Set("Authorization", "Bearer "+f.ro)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Cases []store.Case }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if len(body.Cases) == 0 {
		t.Fatal("no case of severity 1000 or more in the replay")
	}
	for _, c := range body.Cases {
		if c.Severity < 1000 || c.Problem != store.ProblemCompromised {
			t.Errorf("case %d: severity %d, %s", c.ID, c.Severity, c.Problem)
		}
	}
	c := f.login(t, f.ro)
	_, page := get(t, c, f.srv.URL+"/cases?severity=1000")
	if !strings.Contains(page, `value="1000" selected`) || strings.Contains(page, ">vulnerable</td>") {
		t.Error("cases page: the severity filter is not applied or not shown")
	}
}
