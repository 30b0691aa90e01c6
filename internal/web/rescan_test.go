package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeRescanner records starts; it "runs" until finish is called.
type fakeRescanner struct {
	mu     sync.Mutex
	starts int
	st     RescanStatus
}

func (f *fakeRescanner) Start() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.st.Running {
		return ErrRescanRunning
	}
	f.starts++
	f.st = RescanStatus{Running: true, Started: time.Date(2021, 3, 12, 9, 0, 0, 0, time.UTC), Endpoints: 7}
	return nil
}

func (f *fakeRescanner) Status() RescanStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

func (f *fakeRescanner) started() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts
}

func (f *fakeRescanner) finish(summary string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.Running, f.st.Finished, f.st.RunID, f.st.Summary = false, f.st.Started.Add(time.Minute), 9, summary
}

func TestRescanFromScansPage(t *testing.T) {
	rs := &fakeRescanner{}
	f := newFixtureOpts(t, 1.0/4000, Options{PageSize: 20, Rescan: rs})
	c := f.login(t, f.rw)
	_, body := get(t, c, f.srv.URL+"/scans")
	if !strings.Contains(body, `action="/scans/rescan"`) {
		t.Fatal("no re-scan button on /scans")
	}
	tok := csrfOf(t, c, f.srv.URL)

	// Without the CSRF token: refused, nothing started.
	resp, err := c.PostForm(f.srv.URL+"/scans/rescan", url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || rs.started() != 0 {
		t.Errorf("POST without CSRF: %s, %d starts", resp.Status, rs.started())
	}
	post := func() (int, string) {
		resp, err := c.PostForm(f.srv.URL+"/scans/rescan", url.Values{"csrf": {tok}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(); code != http.StatusAccepted || rs.started() != 1 || !strings.Contains(body, "re-scan of the open cases started") ||
		!strings.Contains(body, "A re-scan is running") || strings.Contains(body, `action="/scans/rescan"`) {
		t.Errorf("first start: %d, %d starts\n%s", code, rs.started(), body)
	}
	if code, body := post(); code != http.StatusConflict || rs.started() != 1 || !strings.Contains(body, "already running") {
		t.Errorf("second start while running: %d, %d starts\n%s", code, rs.started(), body)
	}
	rs.finish("2 cases remediated (verified), 5 still open, 0 opened or reopened")
	if _, body := get(t, c, f.srv.URL+"/scans"); !strings.Contains(body, "Last re-scan") || !strings.Contains(body, "2 cases remediated") ||
		!strings.Contains(body, "run 9") {
		t.Errorf("finished re-scan not shown:\n%s", body)
	}

	// API: bearer tokens; read-only refused; status readable by both.
	api := func(method, tok string) (int, map[string]any) {
		req, _ := http.NewRequest(method, f.srv.URL+"/api/scans/rescan", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if code, _ := api("POST", f.ro); code != http.StatusForbidden || rs.started() != 1 {
		t.Errorf("read-only API start: %d, %d starts", code, rs.started())
	}
	if code, m := api("POST", f.rw); code != http.StatusAccepted || rs.started() != 2 || m["rescan"] == nil {
		t.Errorf("API start: %d %v, %d starts", code, m, rs.started())
	}
	if code, m := api("GET", f.ro); code != http.StatusOK || m["rescan"].(map[string]any)["running"] != true {
		t.Errorf("API status: %d %v", code, m)
	}

	// A read-only login sees the state but no button.
	_, body = get(t, f.login(t, f.ro), f.srv.URL+"/scans")
	if strings.Contains(body, `action="/scans/rescan"`) || !strings.Contains(body, "A re-scan is running") {
		t.Errorf("read-only /scans:\n%s", body)
	}
}

func TestNoRescanner(t *testing.T) {
	f := newFixture(t, 1.0/4000)
	c := f.login(t, f.rw)
	if _, body := get(t, c, f.srv.URL+"/scans"); strings.Contains(body, "/scans/rescan") {
		t.Error("re-scan button without a rescanner")
	}
	req, _ := http.NewRequest("POST", f.srv.URL+"/api/scans/rescan", nil)
	req.Header.Set("Authorization", "Bearer "+f.rw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("API start without a rescanner: %s", resp.Status)
	}
}
