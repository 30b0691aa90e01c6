package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/exsweep/exsweep/internal/store"
	"github.com/exsweep/exsweep/internal/web"
)

var tokenRE = regexp.MustCompile(`exs_[A-Za-z0-9_-]{43}`)

// TestServeTokensListRevoke: make tokens, list them, revoke them from the
// command line while a dashboard on another store handle (as in another
// process) serves them, and refuse to start once none is left.
func TestServeTokensListRevoke(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tokens.db")

	out, errOut, code := run(t, "", "serve", "tokens", "list", "--db", db)
	if code != ExitOK || !strings.Contains(out, "No tokens yet") {
		t.Fatalf("list on a new store: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = run(t, "", "serve", "--db", db, "--new-token", "analyst")
	rw := tokenRE.FindString(out)
	if code != ExitOK || rw == "" {
		t.Fatalf("--new-token: exit %d\n%s%s", code, out, errOut)
	}
	// A hostile name: an escape sequence that would clear the screen.
	out, errOut, code = run(t, "", "serve", "--db", db, "--new-token", "viewer\x1b[2J\tx", "--read-only")
	if code != ExitOK || tokenRE.FindString(out) == "" {
		t.Fatalf("--new-token --read-only: exit %d\n%s%s", code, out, errOut)
	}

	out, errOut, code = run(t, "", "serve", "tokens", "list", "--db", db)
	if code != ExitOK {
		t.Fatalf("list: exit %d\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`^ID +NAME +ACCESS +CREATED +LAST-USED +REVOKED$`).MatchString(lines[0]) {
		t.Fatalf("list:\n%s", out)
	}
	if !regexp.MustCompile(`^1 +analyst +read-write +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +- +-$`).MatchString(lines[1]) {
		t.Errorf("row 1 = %q", lines[1])
	}
	if !regexp.MustCompile(`^2 +viewer \[2J x +read-only +\S+Z +- +-$`).MatchString(lines[2]) {
		t.Errorf("row 2 = %q", lines[2])
	}
	if strings.ContainsAny(out, "\x1b\t") || strings.Contains(out, "exs_") {
		t.Errorf("list shows a control character or a token:\n%q", out)
	}

	// A dashboard with its own store handle, as `exsweep serve` in another
	// process would have.
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := web.New(st, web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	curve := func() int {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+"/api/curve", nil)
		req.Header.Set("Authorization", "Bearer "+rw)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := curve(); got != http.StatusOK {
		t.Fatalf("API with the token: %d", got)
	}

	out, errOut, code = run(t, "", "serve", "tokens", "revoke", "1", "--db", db)
	if code != ExitOK || !strings.Contains(out, "Token 1 (analyst) revoked at ") || strings.Contains(out, "No active token") {
		t.Errorf("revoke 1: exit %d\n%s%s", code, out, errOut)
	}
	if got := curve(); got != http.StatusUnauthorized {
		t.Errorf("API with the token revoked by the CLI: %d; want 401", got)
	}
	out, _, _ = run(t, "", "serve", "tokens", "list", "--db", db)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 ||
		!regexp.MustCompile(`^1 +analyst +read-write +\S+Z +\S+Z +\S+Z$`).MatchString(lines[1]) {
		t.Errorf("list after revoking 1 (used once, revoked):\n%s", out)
	}
	// Twice is fine; unknown or malformed ids are usage errors.
	if out, errOut, code := run(t, "", "serve", "--db", db, "tokens", "revoke", "1"); code != ExitOK {
		t.Errorf("revoke 1 again (--db before the subcommand): exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := run(t, "", "serve", "tokens", "revoke", "99", "--db", db); code != ExitUsage || !strings.Contains(errOut, "no token 99") {
		t.Errorf("revoke 99: exit %d %s", code, errOut)
	}
	if _, errOut, code := run(t, "", "serve", "tokens", "revoke", "one", "--db", db); code != ExitUsage || !strings.Contains(errOut, "not a number") {
		t.Errorf("revoke one: exit %d %s", code, errOut)
	}
	if _, _, code := run(t, "", "serve", "tokens", "lsit", "--db", db); code != ExitUsage {
		t.Errorf("misspelt subcommand: exit %d; want %d", code, ExitUsage)
	}

	out, errOut, code = run(t, "", "serve", "tokens", "revoke", "2", "--db", db)
	if code != ExitOK || !strings.Contains(out, "No active token is left") {
		t.Errorf("revoke the last one: exit %d\n%s%s", code, out, errOut)
	}
	// Every token revoked: serve neither starts nor prints a new token.
	out, errOut, code = run(t, "", "serve", "--db", db, "--addr", "127.0.0.1:0")
	if code != ExitUsage || strings.Contains(out, "exs_") || strings.Contains(out, "Dashboard on") ||
		!strings.Contains(errOut, "every login token of this store is revoked") || !strings.Contains(errOut, "--new-token NAME") {
		t.Errorf("serve with every token revoked: exit %d\n%s%s", code, out, errOut)
	}
}
