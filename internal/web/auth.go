package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/exsweep/exsweep/internal/store"
)

// Tokens are "exs_" and 43 base64url characters (32 random bytes). The
// store keeps only their SHA-256: a token is a random secret, not a
// password, so a plain hash is enough and a lookup by hash needs no scan.
const tokenPrefix = "exs_"

// HashToken returns the hex SHA-256 the store keeps for a token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand contract since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CreateToken makes a new login token, stores its hash and returns the
// token; it cannot be shown again.
func CreateToken(ctx context.Context, st *store.Store, name string, readOnly bool) (string, error) {
	tok := tokenPrefix + randomString(32)
	if _, err := st.AddWebToken(ctx, store.WebToken{Hash: HashToken(tok), Name: name, ReadOnly: readOnly}); err != nil {
		return "", err
	}
	return tok, nil
}

// EnsureToken creates the first (read-write) token when the store has
// none and prints it to w, once; later starts print nothing. It reports
// whether it created one. `exsweep serve` calls it before serving.
func EnsureToken(ctx context.Context, st *store.Store, w io.Writer) (bool, error) {
	n, err := st.CountWebTokens(ctx)
	if err != nil || n > 0 {
		return false, err
	}
	tok, err := CreateToken(ctx, st, "first start", false)
	if err != nil {
		return false, err
	}
	_, err = fmt.Fprintf(w, "exsweep serve: login token (shown once, store it now): %s\n", tok)
	return true, err
}

// session is a logged-in browser.
type session struct {
	readOnly bool
	csrf     string
	expires  time.Time
}

const (
	sessionCookie = "exsweep_session"
	sessionTTL    = 12 * time.Hour
	maxSessions   = 10000 // a bound, so repeated logins cannot grow memory without end
)

// sessions live in memory: a restart logs everyone out, which is fine for
// a dashboard and keeps session secrets out of the database.
type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

func (s *sessions) create(readOnly bool, now time.Time) (string, *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxSessions {
		for id, se := range s.m {
			if now.After(se.expires) {
				delete(s.m, id)
			}
		}
		if len(s.m) >= maxSessions {
			for id := range s.m { // drop an arbitrary one
				delete(s.m, id)
				break
			}
		}
	}
	id := randomString(32)
	se := &session{readOnly: readOnly, csrf: randomString(32), expires: now.Add(sessionTTL)}
	s.m[id] = se
	return id, se
}

func (s *sessions) get(id string, now time.Time) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.m[id]
	if se == nil {
		return nil
	}
	if now.After(se.expires) {
		delete(s.m, id)
		return nil
	}
	return se
}

func (s *sessions) drop(id string) {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

// principal is who a request acts for.
type principal struct {
	readOnly bool
	// sess is nil for API clients with a bearer token: they send no
	// cookie, so CSRF cannot reach them and they need no CSRF token.
	sess   *session
	sessID string
}

type ctxKey struct{}

func principalOf(r *http.Request) principal {
	p, _ := r.Context().Value(ctxKey{}).(principal)
	return p
}

var errNoAuth = errors.New("not logged in")

// authenticate finds the session cookie or the bearer token.
func (s *Server) authenticate(r *http.Request) (principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return principal{}, errNoAuth
		}
		t, err := s.st.WebTokenByHash(r.Context(), HashToken(strings.TrimSpace(tok)))
		if err != nil {
			return principal{}, errNoAuth
		}
		return principal{readOnly: t.ReadOnly || s.opts.ReadOnly}, nil
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return principal{}, errNoAuth
	}
	se := s.sessions.get(c.Value, s.now())
	if se == nil {
		return principal{}, errNoAuth
	}
	return principal{readOnly: se.readOnly || s.opts.ReadOnly, sess: se, sessID: c.Value}, nil
}

// checkCSRF: a cookie-authenticated POST must carry the session's token,
// as a form field or (htmx) an X-CSRF-Token header.
func checkCSRF(r *http.Request, se *session) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(se.csrf)) == 1
}

// sameOrigin refuses cross-site form posts to /login (login CSRF): a
// browser sends Origin or Sec-Fetch-Site on every POST.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		return strings.TrimPrefix(strings.TrimPrefix(o, "http://"), "https://") == r.Host
	}
	return true
}
