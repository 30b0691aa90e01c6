package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exsweep/exsweep/internal/store"
)

// authFixture is a dashboard over an empty store, with a clock the test
// moves, and two tokens.
type authFixture struct {
	st         *store.Store
	s          *Server
	logs       *syncBuffer
	mu         sync.Mutex
	at         time.Time
	rw, other  string
	rwID, oID  int64
	srv        *httptest.Server // started by serve
	serveStart sync.Once
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newAuthFixture(t *testing.T) *authFixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &authFixture{st: st, logs: &syncBuffer{}, at: time.Date(2021, 3, 5, 9, 0, 0, 0, time.UTC)}
	if f.rw, err = CreateToken(ctx, st, "analyst", false); err != nil {
		t.Fatal(err)
	}
	if f.other, err = CreateToken(ctx, st, "viewer", true); err != nil {
		t.Fatal(err)
	}
	f.rwID, f.oID = f.tokenID(t, "analyst"), f.tokenID(t, "viewer")
	f.s, err = New(st, Options{Now: f.now, Logger: slog.New(slog.NewTextHandler(f.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *authFixture) now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.at }
func (f *authFixture) advance(d time.Duration) {
	f.mu.Lock()
	f.at = f.at.Add(d)
	f.mu.Unlock()
}

func (f *authFixture) tokenID(t *testing.T, name string) int64 {
	t.Helper()
	toks, err := f.st.ListWebTokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range toks {
		if tok.Name == name {
			return tok.ID
		}
	}
	t.Fatalf("no token %q in %+v", name, toks)
	return 0
}

// serve starts the dashboard on loopback.
func (f *authFixture) serve(t *testing.T) string {
	f.serveStart.Do(func() {
		f.srv = httptest.NewServer(f.s.Handler())
		t.Cleanup(f.srv.Close)
	})
	return f.srv.URL
}

// postLogin sends POST /login from remote (ip:port) through the handler.
func (f *authFixture) postLogin(remote, token string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	req.RemoteAddr = remote
	w := httptest.NewRecorder()
	f.s.Handler().ServeHTTP(w, req)
	return w
}

// noRedirects is a browser-like client: cookie jar, redirects returned.
func noRedirects() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func status(t *testing.T, c *http.Client, method, u, bearer string, body url.Values) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func browserLogin(t *testing.T, base, token string) *http.Client {
	t.Helper()
	c := noRedirects()
	if resp := status(t, c, "POST", base+"/login", "", url.Values{"token": {token}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %s", resp.Status)
	}
	return c
}

// TestTokenRevokedStopsBearerAndSessions: revocation happens in the store
// (as `exsweep serve tokens revoke` does from another process); the running
// server refuses the token and ends its sessions at the next request.
func TestTokenRevokedStopsBearerAndSessions(t *testing.T) {
	f := newAuthFixture(t)
	base := f.serve(t)
	ctx := context.Background()

	s1 := browserLogin(t, base, f.rw)
	s2 := browserLogin(t, base, f.rw)
	s3 := browserLogin(t, base, f.other)
	for i, c := range []*http.Client{s1, s2, s3} {
		if resp := status(t, c, "GET", base+"/api/curve", "", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("session %d before revocation: %s", i+1, resp.Status)
		}
	}
	if resp := status(t, noRedirects(), "GET", base+"/api/curve", f.rw, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("bearer before revocation: %s", resp.Status)
	}

	if err := f.st.RevokeWebToken(ctx, f.rwID); err != nil {
		t.Fatal(err)
	}

	if resp := status(t, noRedirects(), "GET", base+"/api/curve", f.rw, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("revoked bearer: %s; want 401", resp.Status)
	}
	resp := status(t, s1, "GET", base+"/", "", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Errorf("session of a revoked token, page: %s to %q; want a redirect to /login", resp.Status, resp.Header.Get("Location"))
	}
	// s1's request ended every session of the token, s2's too.
	f.s.sessions.mu.Lock()
	left := len(f.s.sessions.m)
	f.s.sessions.mu.Unlock()
	if left != 1 {
		t.Errorf("%d sessions left after revocation; want 1 (the other token's)", left)
	}
	if resp := status(t, s2, "GET", base+"/api/curve", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("second session of a revoked token, API: %s; want 401", resp.Status)
	}
	if resp := status(t, s2, "POST", base+"/logout", "", url.Values{}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("second session of a revoked token, POST: %s; want 401", resp.Status)
	}
	if resp := status(t, s3, "GET", base+"/api/curve", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("session of another token: %s; want 200", resp.Status)
	}
	if resp := status(t, noRedirects(), "POST", base+"/login", "", url.Values{"token": {f.rw}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("login with a revoked token: %s; want 401", resp.Status)
	}
}

// TestTokenLastUsed: a use is written at most once a minute per token.
func TestTokenLastUsed(t *testing.T) {
	f := newAuthFixture(t)
	base := f.serve(t)
	ctx := context.Background()
	lastUsed := func() (rw, other time.Time) {
		t.Helper()
		toks, err := f.st.ListWebTokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range toks {
			switch tok.ID {
			case f.rwID:
				rw = tok.LastUsedAt
			case f.oID:
				other = tok.LastUsedAt
			}
		}
		return rw, other
	}
	if rw, other := lastUsed(); !rw.IsZero() || !other.IsZero() {
		t.Fatalf("new tokens used at %v, %v", rw, other)
	}
	c := browserLogin(t, base, f.rw)
	first, other := lastUsed()
	if first.IsZero() || !other.IsZero() {
		t.Fatalf("after login: rw used at %v, other at %v", first, other)
	}
	// Within the minute: no new write (the store's own clock would have
	// moved on, so an unchanged value means nothing was written).
	f.advance(30 * time.Second)
	status(t, c, "GET", base+"/api/curve", "", nil)
	status(t, noRedirects(), "GET", base+"/api/curve", f.rw, nil)
	if again, _ := lastUsed(); !again.Equal(first) {
		t.Errorf("last use rewritten within a minute: %v then %v", first, again)
	}
	f.advance(31 * time.Second)
	status(t, noRedirects(), "GET", base+"/api/curve", f.rw, nil)
	if later, _ := lastUsed(); !later.After(first) {
		t.Errorf("last use not rewritten after a minute: %v then %v", first, later)
	}
}

// TestEnsureTokenAllRevoked: a store whose every token is revoked gets no
// new token printed on start, but an error saying what to do.
func TestEnsureTokenAllRevoked(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "revoked.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out strings.Builder
	if created, err := EnsureToken(ctx, st, &out); !created || err != nil {
		t.Fatalf("first EnsureToken = %v, %v", created, err)
	}
	toks, _ := st.ListWebTokens(ctx)
	if err := st.RevokeWebToken(ctx, toks[0].ID); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if created, err := EnsureToken(ctx, st, &out); created || !errors.Is(err, ErrAllTokensRevoked) || out.Len() != 0 {
		t.Errorf("EnsureToken with every token revoked = %v, %v, printed %q; want ErrAllTokensRevoked, nothing printed", created, err, out.String())
	}
	if n, _ := st.CountWebTokens(ctx); n != 1 {
		t.Errorf("%d tokens; want 1 (none made)", n)
	}
	if _, err := CreateToken(ctx, st, "new", false); err != nil {
		t.Fatal(err)
	}
	if created, err := EnsureToken(ctx, st, &out); created || err != nil {
		t.Errorf("EnsureToken with a new token = %v, %v", created, err)
	}
}

// TestLoginRateLimit: wrong tokens are throttled per client address, with
// the server's clock; right tokens never use up the allowance.
func TestLoginRateLimit(t *testing.T) {
	f := newAuthFixture(t)
	const ip1, ip2 = "192.0.2.1:40000", "192.0.2.2:40000"

	for i := range loginBurst {
		if w := f.postLogin(ip1, "exs_wrong", nil); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d; want 401", i+1, w.Code)
		}
	}
	w := f.postLogin(ip1, "exs_wrong", nil)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "10" {
		t.Errorf("wrong token %d: %d, Retry-After %q; want 429, 10", loginBurst+1, w.Code, w.Header().Get("Retry-After"))
	}
	if !strings.Contains(w.Body.String(), "try again in 10 s") {
		t.Errorf("429 page does not say when to retry: %.300s", w.Body.String())
	}
	// Over the limit even the right token waits: the answer must not tell
	// whether a guess was right.
	if w := f.postLogin(ip1, f.rw, nil); w.Code != http.StatusTooManyRequests || len(w.Result().Cookies()) != 0 {
		t.Errorf("right token while throttled: %d, cookies %v; want 429, none", w.Code, w.Result().Cookies())
	}
	// The client is its address, not its port, and not a header it sends.
	if w := f.postLogin("192.0.2.1:40001", f.rw, nil); w.Code != http.StatusTooManyRequests {
		t.Errorf("other port: %d; want 429", w.Code)
	}
	if w := f.postLogin(ip1, f.rw, map[string]string{"X-Forwarded-For": "198.51.100.7", "X-Real-Ip": "198.51.100.7"}); w.Code != http.StatusTooManyRequests {
		t.Errorf("X-Forwarded-For: %d; want 429", w.Code)
	}
	if w := f.postLogin(ip2, f.rw, nil); w.Code != http.StatusSeeOther {
		t.Errorf("another client: %d; want 303", w.Code)
	}

	// One attempt per 10 s after the burst.
	f.advance(9 * time.Second)
	if w := f.postLogin(ip1, "exs_wrong", nil); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
		t.Errorf("after 9 s: %d, Retry-After %q; want 429, 1", w.Code, w.Header().Get("Retry-After"))
	}
	f.advance(time.Second)
	if w := f.postLogin(ip1, "exs_wrong", nil); w.Code != http.StatusUnauthorized {
		t.Errorf("after 10 s: %d; want 401", w.Code)
	}
	if w := f.postLogin(ip1, "exs_wrong", nil); w.Code != http.StatusTooManyRequests {
		t.Errorf("second attempt after 10 s: %d; want 429", w.Code)
	}

	// Successes do not count: log in again and again.
	f.advance(10 * time.Second)
	for i := range 3 * loginBurst {
		if w := f.postLogin(ip1, f.rw, nil); w.Code != http.StatusSeeOther {
			t.Fatalf("right token, login %d: %d; want 303", i+1, w.Code)
		}
	}

	// Logged once per throttled spell, with the client.
	logs := f.logs.String()
	if n := strings.Count(logs, "login throttled"); n != 2 {
		t.Errorf("throttling logged %d times; want 2 (once per spell):\n%s", n, logs)
	}
	if !strings.Contains(logs, "client=192.0.2.1") || strings.Contains(logs, "198.51.100.7") {
		t.Errorf("log does not name the peer address:\n%s", logs)
	}
}

// TestLoginRateLimitIPv6: an IPv6 client is its /64.
func TestLoginRateLimitIPv6(t *testing.T) {
	f := newAuthFixture(t)
	for i := range loginBurst {
		f.postLogin(fmt.Sprintf("[2001:db8::%x]:443", i+1), "exs_wrong", nil)
	}
	if w := f.postLogin("[2001:db8::ffff]:443", f.rw, nil); w.Code != http.StatusTooManyRequests {
		t.Errorf("same /64: %d; want 429", w.Code)
	}
	if w := f.postLogin("[2001:db8:0:1::1]:443", f.rw, nil); w.Code != http.StatusSeeOther {
		t.Errorf("another /64: %d; want 303", w.Code)
	}
	if w := f.postLogin("[::ffff:192.0.2.9]:443", "exs_wrong", nil); w.Code != http.StatusUnauthorized {
		t.Errorf("v4-mapped client: %d; want 401", w.Code)
	}
	if got := clientKey(&http.Request{RemoteAddr: "[::ffff:192.0.2.9]:443"}); got != "192.0.2.9" {
		t.Errorf("clientKey(v4-mapped) = %q", got)
	}
}

// TestLoginLimiterParallelAndBounded: attempts in flight hold their token,
// and the table of clients stays bounded, forgetting forgiven clients first.
func TestLoginLimiterParallelAndBounded(t *testing.T) {
	var l loginLimiter
	now := time.Date(2021, 3, 5, 9, 0, 0, 0, time.UTC)
	for i := range loginBurst {
		if ok, _, _ := l.admit("a", now); !ok {
			t.Fatalf("parallel attempt %d refused", i+1)
		}
	}
	if ok, wait, first := l.admit("a", now); ok || wait != loginEvery || !first {
		t.Errorf("attempt beyond the burst while %d are in flight = %v, %v, %v", loginBurst, ok, wait, first)
	}
	if _, _, first := l.admit("a", now); first {
		t.Error("second refusal reported as the first")
	}
	for range loginBurst {
		l.done("a", now, false) // all were right
	}
	if ok, _, _ := l.admit("a", now); !ok {
		t.Error("successes used up the allowance")
	}
	l.done("a", now, false)

	// Full: clients with full buckets go first, the one with failures stays.
	l.admit("failing", now)
	l.done("failing", now, true)
	for i := range maxLoginClients + 100 {
		k := fmt.Sprintf("ok-%d", i)
		l.admit(k, now)
		l.done(k, now, false)
	}
	if n := l.size(); n > maxLoginClients {
		t.Errorf("%d clients remembered; want at most %d", n, maxLoginClients)
	}
	l.mu.Lock()
	_, kept := l.m["failing"]
	l.mu.Unlock()
	if !kept {
		t.Error("a client with failures was forgotten before forgiven ones")
	}
	// Only failing clients: the longest idle goes.
	var m loginLimiter
	for i := range maxLoginClients + 10 {
		k := fmt.Sprintf("bad-%d", i)
		at := now.Add(time.Duration(i) * time.Microsecond) // no bucket refills meanwhile
		m.admit(k, at)
		m.done(k, at, true)
	}
	if n := m.size(); n != maxLoginClients {
		t.Errorf("%d failing clients remembered; want %d", n, maxLoginClients)
	}
	m.mu.Lock()
	_, oldest := m.m["bad-0"]
	_, newest := m.m[fmt.Sprintf("bad-%d", maxLoginClients+9)]
	m.mu.Unlock()
	if oldest || !newest {
		t.Errorf("eviction kept the oldest (%v) or dropped the newest (%v)", oldest, !newest)
	}
}
