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

// ErrAllTokensRevoked: the store has tokens, but every one of them was
// revoked, so nobody can log in. EnsureToken does not make a new one then:
// revoking everything is what one does after a leak, and a fresh read-write
// token printed by the next start (into a service log, say) would undo it.
// The operator makes one on purpose with `exsweep serve --new-token NAME`.
var ErrAllTokensRevoked = errors.New("every login token of this store is revoked")

// EnsureToken creates the first (read-write) token when the store has
// none and prints it to w, once; later starts print nothing. It reports
// whether it created one. If the store has tokens but all are revoked it
// returns ErrAllTokensRevoked. `exsweep serve` calls it before serving.
func EnsureToken(ctx context.Context, st *store.Store, w io.Writer) (bool, error) {
	n, err := st.CountWebTokens(ctx)
	if err != nil {
		return false, err
	}
	if n > 0 {
		active, err := st.CountActiveWebTokens(ctx)
		if err != nil {
			return false, err
		}
		if active == 0 {
			return false, ErrAllTokensRevoked
		}
		return false, nil
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
	// tokenID is the token that logged it in: when that token is revoked,
	// the session ends (see authenticate).
	tokenID  int64
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

func (s *sessions) create(tokenID int64, readOnly bool, now time.Time) (string, *session) {
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
	se := &session{tokenID: tokenID, readOnly: readOnly, csrf: randomString(32), expires: now.Add(sessionTTL)}
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

// dropToken ends every session opened with token id (it was revoked).
func (s *sessions) dropToken(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, se := range s.m {
		if se.tokenID == id {
			delete(s.m, k)
		}
	}
}

// touchEvery is how often a token's last use is written to the store: a
// write per request would queue every page behind SQLite's single writer
// for a column that only needs to say "recently".
const touchEvery = time.Minute

// tokenUses remembers when each token's use was last written. It holds one
// entry per token that authenticated, so it is as small as web_tokens.
type tokenUses struct {
	mu   sync.Mutex
	last map[int64]time.Time
}

// touch records a use of token id, at most once per touchEvery. A failed
// write is logged and does not refuse the request: last use is
// bookkeeping, not access control.
func (s *Server) touch(ctx context.Context, id int64) {
	now := s.now()
	u := &s.uses
	u.mu.Lock()
	if u.last == nil {
		u.last = map[int64]time.Time{}
	}
	if t, ok := u.last[id]; ok && !now.Before(t) && now.Sub(t) < touchEvery {
		u.mu.Unlock()
		return
	}
	u.last[id] = now
	u.mu.Unlock()
	if err := s.st.TouchWebToken(ctx, id); err != nil && ctx.Err() == nil {
		s.log.Warn("web: recording token use", "token", id, "err", err)
	}
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

// authenticate finds the session cookie or the bearer token. It returns
// errNoAuth when the request is not logged in, another error when the
// store cannot say.
//
// Revocation (`exsweep serve tokens revoke`) happens in another process,
// which cannot reach this one's in-memory sessions. So every request checks
// that its token is still active: a bearer request looks its token up by
// hash anyway, and a session looks up its token by primary key. That is
// one indexed read, small next to what any page reads, and a revoked token
// stops working at the very next request; a cache would save little and
// leave a window in which a leaked token still works.
func (s *Server) authenticate(r *http.Request) (principal, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return principal{}, errNoAuth
		}
		t, err := s.st.ActiveWebTokenByHash(ctx, HashToken(strings.TrimSpace(tok)))
		if errors.Is(err, store.ErrNotFound) {
			return principal{}, errNoAuth
		}
		if err != nil {
			return principal{}, err
		}
		s.touch(ctx, t.ID)
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
	active, err := s.st.WebTokenActive(ctx, se.tokenID)
	if err != nil {
		return principal{}, err
	}
	if !active {
		// Its token was revoked: end every session it opened, not just this one.
		s.sessions.dropToken(se.tokenID)
		return principal{}, errNoAuth
	}
	s.touch(ctx, se.tokenID)
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
