package web

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/exsweep/exsweep/internal/lab"
	"github.com/exsweep/exsweep/internal/store"
)

// TestREADMEScreenshot writes the README's dashboard picture: the default
// March 2021 replay (what `exsweep lab --replay march-2021` stores), logged in,
// the overview page. It runs only when EXSWEEP_README_SHOT names the PNG to
// write (and EXSWEEP_CHROMIUM the browser):
//
//	EXSWEEP_CHROMIUM=/usr/bin/chromium EXSWEEP_README_SHOT=$PWD/docs/dashboard.png \
//	  go test -run READMEScreenshot ./internal/web/
func TestREADMEScreenshot(t *testing.T) {
	out, bin := os.Getenv("EXSWEEP_README_SHOT"), os.Getenv("EXSWEEP_CHROMIUM")
	if out == "" || bin == "" {
		t.Skip("EXSWEEP_README_SHOT and EXSWEEP_CHROMIUM not both set")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "demo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := lab.Replay(ctx, st, "march-2021", lab.ReplayOptions{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	tok, err := CreateToken(ctx, st, "readme", true)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	actx, cancel := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.WindowSize(1100, 900), chromedp.UserDataDir(t.TempDir()))
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	tctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx,
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#token"), tok),
		chromedp.Submit(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("#curve canvas")),
		chromedp.Sleep(500*time.Millisecond),
	); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
}
