// Package web is the dashboard of `exsweep serve` and its JSON API.
//
// Pages (server-rendered html/template, htmx for filters and bulk actions,
// uPlot for the curve; all assets embedded, nothing from a CDN):
//
//	GET  /login, POST /login, POST /logout
//	GET  /                       overview: remediation curve, runs, products/CUs of the newest run
//	GET  /cases                  ?state=&org=&problem=&page=  (htmx: the table only)
//	POST /cases/bulk             action=notified|reopen|accept, id=…, reason=, csrf=
//	GET  /cases/{id}             one case with its history and messages
//	GET  /orgs, GET /orgs/{key}  organisations; one with its cases, history, messages and tickets
//	GET  /endpoints/{ep}         every observation of ip:port ([v6]:port) across runs, with evidence
//	GET  /scans                  runs with counts
//	GET  /static/…               embedded assets
//
// JSON API (same authentication; see API.md):
//
//	GET  /api/curve              per run: endpoints, vulnerable, patched, undetermined, compromised, pct_patched
//	GET  /api/breakdown          ?run= (default newest): product/CU/verdict counts
//	GET  /api/scans              runs with counts (= /api/curve)
//	GET  /api/cases              ?state=&org=&problem=&page=&per_page=
//	GET  /api/cases/{id}         case, history, messages
//	POST /api/cases/bulk         {"action":"notified|reopen|accept","ids":[…],"reason":"…"}
//	GET  /api/orgs, /api/orgs/{key}
//	GET  /api/endpoints/{ep}     observations with parsed records, cases
//
// Security: every route but /login and /static needs a session cookie
// (HttpOnly, SameSite=Strict, from POST /login with a token) or an
// "Authorization: Bearer <token>" header. Tokens are stored as SHA-256
// (store.AddWebToken). A revoked token (store.RevokeWebToken, from any
// process) is refused at the next request, and so are the sessions it
// opened (auth.go). Wrong tokens on POST /login are throttled per client
// address (ratelimit.go). Read-only tokens (and Options.ReadOnly) cannot POST
// anything but /logout. Every cookie-authenticated POST needs the session's
// CSRF token. Pages carry a Content-Security-Policy without inline script;
// the curve's data comes from /api/curve. Every string that came from a
// scanned server is rendered by html/template (escaped), never as
// template.HTML.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/exsweep/exsweep/internal/store"
)

//go:embed static templates
var assets embed.FS

// DefaultAddr is where the dashboard listens unless told otherwise: on
// loopback only, since it shows who is vulnerable.
const DefaultAddr = "127.0.0.1:8080"

// Options configure a Server.
type Options struct {
	// Addr to listen on (ListenAndServe); "" means DefaultAddr.
	Addr string
	// ReadOnly refuses every change, whatever the token.
	ReadOnly bool
	// PageSize is the number of rows per page (default 50, max 500).
	PageSize int
	// SecureCookie sets the Secure flag on the session cookie (behind TLS).
	SecureCookie bool
	// Logger for request errors; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// Rescan, if set, lets read-write users start a re-scan of the open
	// cases from the Scans page (and the API); nil hides the button.
	Rescan Rescanner
}

// Server is the dashboard. It is safe for concurrent use.
type Server struct {
	st       *store.Store
	opts     Options
	log      *slog.Logger
	now      func() time.Time
	pages    map[string]*template.Template
	sessions sessions
	handler  http.Handler
	logins   loginLimiter // failed logins per client
	uses     tokenUses    // when each token's last use was written
}

// New builds the dashboard over st.
func New(st *store.Store, opts Options) (*Server, error) {
	if st == nil {
		return nil, errors.New("web: nil store")
	}
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 50
	}
	opts.PageSize = min(opts.PageSize, 500)
	s := &Server{st: st, opts: opts, log: opts.Logger, now: opts.Now, sessions: sessions{m: map[string]*session{}}}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	var err error
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the dashboard's http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Addr is the address ListenAndServe binds.
func (s *Server) Addr() string { return s.opts.Addr }

// ListenAndServe serves on Options.Addr until ctx ends, then shuts down
// gracefully (5 s).
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// csp allows only this origin's scripts and styles: no inline script, no
// eval, no framing. htmx's indicator <style> is switched off in the page
// (htmx-config meta) so the policy needs no 'unsafe-inline'.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)

	auth := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.requireAuth(h)) }
	auth("POST /logout", s.logout)
	auth("GET /{$}", s.overview)
	auth("GET /cases", s.casesPage)
	auth("POST /cases/bulk", s.bulkPage)
	auth("GET /cases/{id}", s.casePage)
	auth("GET /orgs", s.orgsPage)
	auth("GET /orgs/{key}", s.orgPage)
	auth("GET /endpoints/{ep}", s.endpointPage)
	auth("GET /scans", s.scansPage)
	auth("POST /scans/rescan", s.startRescan)

	auth("GET /api/curve", s.apiCurve)
	auth("GET /api/scans", s.apiCurve)
	auth("GET /api/scans/rescan", s.apiRescan)
	auth("POST /api/scans/rescan", s.startRescan)
	auth("GET /api/breakdown", s.apiBreakdown)
	auth("GET /api/cases", s.apiCases)
	auth("POST /api/cases/bulk", s.apiBulk)
	auth("GET /api/cases/{id}", s.apiCase)
	auth("GET /api/orgs", s.apiOrgs)
	auth("GET /api/orgs/{key}", s.apiOrg)
	auth("GET /api/endpoints/{ep}", s.apiEndpoint)
	return securityHeaders(mux)
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if len(r.URL.Path) < 8 || r.URL.Path[:8] != "/static/" {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// requireAuth lets logged-in requests through, refuses POSTs from
// read-only principals and cookie POSTs without the CSRF token.
func (s *Server) requireAuth(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil && !errors.Is(err, errNoAuth) {
			// The store could not say whether the token is valid: refuse,
			// but do not send a logged-in user to the login page.
			s.log.Error("web: authenticating", "path", r.URL.Path, "err", err)
			refuse(w, r, http.StatusServiceUnavailable, "store unavailable")
			return
		}
		if err != nil {
			if isAPI(r) || r.Method != http.MethodGet {
				refuse(w, r, http.StatusUnauthorized, "login required")
				return
			}
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if p.sess != nil && !checkCSRF(r, p.sess) {
				refuse(w, r, http.StatusForbidden, "missing or wrong CSRF token")
				return
			}
			if p.readOnly && r.URL.Path != "/logout" {
				refuse(w, r, http.StatusForbidden, "read-only access")
				return
			}
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, p)))
	})
}

// refuse answers an API request with the documented {"error": …} and a
// page request with plain text.
func refuse(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if isAPI(r) {
		writeJSON(w, code, map[string]string{"error": msg})
		return
	}
	http.Error(w, msg, code)
}

func isAPI(r *http.Request) bool { return len(r.URL.Path) >= 5 && r.URL.Path[:5] == "/api/" }

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "login", http.StatusOK, map[string]any{"Error": ""})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if !sameOrigin(r) {
		http.Error(w, "cross-site login refused", http.StatusForbidden)
		return
	}
	// Throttle before looking at the token: a client over the limit learns
	// nothing, not even whether its guess was right.
	now, client := s.now(), clientKey(r)
	ok, wait, first := s.logins.admit(client, now)
	if !ok {
		secs := int(wait / time.Second)
		if first {
			s.log.Warn("web: login throttled after failed attempts", "client", client, "retry_after_s", secs)
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		s.render(w, r, "login", http.StatusTooManyRequests,
			map[string]any{"Error": fmt.Sprintf("too many wrong tokens: try again in %d s", secs)})
		return
	}
	tok, err := s.st.ActiveWebTokenByHash(r.Context(), HashToken(r.PostFormValue("token")))
	// A store failure is not the client's failed attempt.
	s.logins.done(client, now, errors.Is(err, store.ErrNotFound))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Error("web: login", "err", err)
		}
		s.render(w, r, "login", http.StatusUnauthorized, map[string]any{"Error": "unknown token"})
		return
	}
	id, _ := s.sessions.create(tok.ID, tok.ReadOnly || s.opts.ReadOnly, now)
	s.touch(r.Context(), tok.ID)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.opts.SecureCookie, MaxAge: int(sessionTTL / time.Second)})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if p := principalOf(r); p.sessID != "" {
		s.sessions.drop(p.sessID)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
