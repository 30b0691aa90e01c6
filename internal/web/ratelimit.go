package web

import (
	"math"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Failed logins are throttled per client: loginBurst wrong tokens in a row,
// then one per loginEvery. A token is 256 random bits, so this is not what
// keeps it from being guessed; it keeps a script from hammering /login (and
// the store behind it) and makes an attack visible in the log.
const (
	loginBurst = 5
	loginEvery = 10 * time.Second
	// maxLoginClients bounds the memory: beyond it, clients whose failures
	// have been forgiven (bucket full again) are forgotten first, then the
	// longest idle.
	maxLoginClients = 10000
)

// loginLimiter is a token bucket per client. Only failed attempts take a
// token; a successful login gives back the one it held, so logging in many
// times with the right token is never throttled. Its zero value is ready.
type loginLimiter struct {
	mu sync.Mutex
	m  map[string]*loginClient
}

type loginClient struct {
	lim *rate.Limiter
	// pending counts attempts being checked right now: each holds a token
	// until its outcome is known, so parallel guesses cannot all slip in
	// before the first failure is counted.
	pending   int
	lastSeen  time.Time
	throttled bool // refused since the last admitted attempt (log once)
}

// clientKey is who is throttled: the peer address of the connection, never
// a header (X-Forwarded-For is whatever the client wants it to be). IPv6
// clients are keyed by their /64, which one host usually has whole.
func clientKey(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// admit reserves an attempt for key at now. If the client is over the
// limit it returns ok false, how long to wait, and whether this is the
// first refusal since the client was last admitted (to log it once).
func (l *loginLimiter) admit(key string, now time.Time) (ok bool, wait time.Duration, first bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.m[key]
	if c == nil {
		if l.m == nil {
			l.m = map[string]*loginClient{}
		}
		if len(l.m) >= maxLoginClients {
			l.evict(now)
		}
		c = &loginClient{lim: rate.NewLimiter(rate.Every(loginEvery), loginBurst)}
		l.m[key] = c
	}
	c.lastSeen = now
	need := float64(c.pending + 1)
	if have := c.lim.TokensAt(now); have < need {
		first = !c.throttled
		c.throttled = true
		secs := (need - have) * loginEvery.Seconds()
		return false, time.Duration(math.Ceil(secs)) * time.Second, first
	}
	c.pending++
	c.throttled = false
	return true, 0, false
}

// done ends an admitted attempt; a failure takes a token from the bucket.
func (l *loginLimiter) done(key string, now time.Time, failed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.m[key]
	if c == nil {
		return // evicted meanwhile: the client has a fresh bucket anyway
	}
	c.pending = max(c.pending-1, 0)
	if failed {
		c.lim.ReserveN(now, 1) // may go below zero after a burst of parallel failures: a longer wait
	}
}

// evict makes room for one client: first drop every client whose bucket
// is full (it remembers nothing), else the one idle the longest.
func (l *loginLimiter) evict(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for k, c := range l.m {
		if c.pending > 0 {
			continue
		}
		if c.lim.TokensAt(now) >= loginBurst {
			delete(l.m, k)
			continue
		}
		if oldest == "" || c.lastSeen.Before(oldestAt) {
			oldest, oldestAt = k, c.lastSeen
		}
	}
	if len(l.m) >= maxLoginClients && oldest != "" {
		delete(l.m, oldest)
	}
}

// size is the number of clients remembered (tests).
func (l *loginLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
