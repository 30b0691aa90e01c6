package web

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/exsweep/exsweep/internal/store"
)

// TestBrowser drives Debian's chromium against the dashboard. It runs when
// EXSWEEP_CHROMIUM names the browser (eval "$(.ci/chromium.sh)"); on CI
// (CI=true) a missing browser fails the test instead of skipping it.
func TestBrowser(t *testing.T) {
	bin := os.Getenv("EXSWEEP_CHROMIUM")
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("EXSWEEP_CHROMIUM is not set, and CI=true: CI must run the browser test (eval \"$(.ci/chromium.sh)\")")
		}
		t.Skip("EXSWEEP_CHROMIUM not set")
	}
	shots := os.Getenv("EXSWEEP_ARTIFACTS")
	if shots == "" {
		shots = t.TempDir()
	}
	rs := &fakeRescanner{}
	f := newFixtureOpts(t, 1.0/4000, Options{PageSize: 20, Rescan: rs})
	base := f.srv.URL // httptest listens on 127.0.0.1 only

	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		// Loopback only: every other host name fails to resolve.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.UserDataDir(t.TempDir()))
	defer cancel()

	var mu sync.Mutex
	var problems []string
	note := func(s string) { mu.Lock(); problems = append(problems, s); mu.Unlock() }
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				note(fmt.Sprintf("console.%s: %s", e.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			note("exception: " + e.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError || e.Entry.Level == cdplog.EntryLevelWarning {
				note(fmt.Sprintf("log %s: %s (%s)", e.Entry.Level, e.Entry.Text, e.Entry.URL))
			}
		case *page.EventJavascriptDialogOpening:
			note("dialog opened: " + e.Message)
		}
	}))
	defer cancel()
	// The first Run starts the browser; no timeout on it (see chromedp.Run).
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, cdplog.Enable, cdp.Empty{})
		return err
	})); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	tctx, tcancel := context.WithTimeout(ctx, 60*time.Second)
	defer tcancel()

	shot := func(name string) {
		b, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Errorf("screenshot %s: %v", name, err)
			return
		}
		os.WriteFile(filepath.Join(shots, name+".png"), b, 0o644)
	}
	step := func(name string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tctx, steps...); err != nil {
			shot("failed-" + name)
			t.Fatalf("%s: %v", name, err)
		}
	}
	waitJS := func(expr string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(15*time.Second))(ctx, tg)
			return chromedp.Void{}, err
		}
	}

	// Log in; the overview draws the curve into a canvas.
	step("login",
		chromedp.Navigate(base+"/login"),
		chromedp.SendKeys(chromedp.CSS("#token"), f.rw),
		chromedp.Submit(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("#curve canvas")),
		waitJS(`document.getElementById("curve").dataset.drawn === "9"`))
	shot("overview")

	// Filter the cases (htmx swaps the table and pushes the URL): unowned
	// endpoints are never notified by the replay, so they are still open.
	step("filter",
		chromedp.Navigate(base+"/cases?state=open"),
		chromedp.SendKeys(chromedp.CSS("#f-org"), "-"),
		chromedp.Click(chromedp.CSS(`#filters button[type=submit]`)),
		waitJS(`location.search.includes("org=-") && document.querySelectorAll("#cases-table input[name=id]").length > 0`))
	shot("cases-filtered")

	// Mark the first case notified.
	id, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.querySelector("#cases-table input[name=id]").value`))
	if err != nil {
		t.Fatal(err)
	}
	step("mark notified",
		waitJS(`document.querySelector(".htmx-request") === null`),
		chromedp.Click(chromedp.CSS(`#cases-table input[name=id]`)),
		waitJS(`document.querySelector("#cases-table input[name=id]").checked`),
		chromedp.Click(chromedp.CSS("#b-notified")),
		chromedp.WaitVisible(chromedp.CSS("#flash")))
	shot("marked-notified")
	flash, _ := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("#flash")))
	t.Logf("flash: %s", flash)
	var caseID int64
	fmt.Sscan(id, &caseID)
	if c, err := f.st.GetCase(context.Background(), caseID); err != nil || c.State != store.CaseNotified {
		t.Errorf("case %s after the click: %+v, %v; want notified", id, c.State, err)
	}

	// Open an endpoint from the table.
	step("endpoint",
		chromedp.Click(chromedp.CSS(`#cases-table a[href^="/endpoints/"]`)),
		chromedp.WaitVisible(chromedp.CSS("section.obs")))
	shot("endpoint")

	// The hostile endpoint: the script tags are text, nothing ran.
	step("xss", chromedp.Navigate(base+"/endpoints/"+f.xssEP), chromedp.WaitVisible(chromedp.CSS("dd.cert")))
	shot("xss-endpoint")
	cert, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("dd.cert")))
	if err != nil || !strings.Contains(cert, xss) {
		t.Errorf("certificate subject shown as %q, %v; want the literal text %s", cert, err, xss)
	}
	n, err := chromedp.Run(tctx, chromedp.Evaluate[int](`document.scripts.length`))
	if err != nil || n != 3 {
		t.Errorf("page has %d scripts (%v); want only the 3 static ones", n, err)
	}

	// A compromised endpoint with the replay's hunt report: findings, and
	// the timeline behind its <details>.
	huntEP := ""
	shells, _ := f.st.ListCases(context.Background(), store.CaseFilter{Problem: store.ProblemCompromised})
	for _, c := range shells {
		if reps, _ := f.st.HuntReports(context.Background(), c.Endpoint, 1); len(reps) > 0 {
			huntEP = c.Endpoint.String()
			break
		}
	}
	if huntEP == "" {
		t.Fatal("the replay has no endpoint with a hunt report")
	}
	step("hunt report",
		chromedp.Navigate(base+"/endpoints/"+huntEP),
		chromedp.WaitVisible(chromedp.CSS("section.hunt table.findings")),
		chromedp.Click(chromedp.CSS("section.hunt details summary")),
		chromedp.WaitVisible(chromedp.CSS("section.hunt table.timeline")))
	shot("hunt-report")

	// Start a re-scan from the Scans page (a form POST with its CSRF token).
	step("rescan",
		chromedp.Navigate(base+"/scans"),
		chromedp.Click(chromedp.CSS(`#rescan button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#flash")))
	shot("rescan-started")
	if st := rs.Status(); !st.Running || rs.started() != 1 {
		t.Errorf("after the click: %d starts, status %+v; want one running re-scan", rs.started(), st)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser: %s", p)
	}
	t.Logf("screenshots in %s", shots)
}
