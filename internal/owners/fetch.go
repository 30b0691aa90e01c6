package owners

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// service is one rate-limited web service (an RDAP registry, RIPEstat):
// its limiter, and the hold-back a 429 sets for every request to it.
type service struct {
	lim       *rate.Limiter
	mu        sync.Mutex
	notBefore time.Time // set by a 429: every request to the service waits
}

// fetcher GETs JSON from the registries politely: under the service's rate
// limit, retrying 429, 5xx and transport errors with backoff, honouring
// Retry-After up to maxWait, reading at most maxBytes. RDAPClient and
// RIPEstatClient share it.
type fetcher struct {
	hc                   *http.Client
	accept, userAgent    string
	maxAttempts          int
	backoffBase, maxWait time.Duration
	maxBytes             int64
	// sleep and now are the client's (tests replace them on the client).
	sleep func(context.Context, time.Duration) error
	now   func() time.Time
}

// fetchError is a request that failed for good; each client returns it as
// its own exported error type.
type fetchError struct {
	URL    string
	Status int // HTTP status, 0 for transport or decoding errors
	Err    error
}

func (e *fetchError) Error() string { return fmt.Sprintf("%s: HTTP %d: %v", e.URL, e.Status, e.Err) }

// get GETs u from svc. It returns the body of a 200; with allow404 a 404
// returns status 404 and no body; anything else is a *fetchError, or the
// context's error when ctx ended.
func (f *fetcher) get(ctx context.Context, svc *service, u *url.URL, allow404 bool) (body []byte, final string, status int, err error) {
	final = u.String()
	for attempt := 1; ; attempt++ {
		if err := f.wait(ctx, svc); err != nil {
			return nil, final, 0, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, final, 0, &fetchError{URL: final, Err: err}
		}
		req.Header.Set("Accept", f.accept)
		req.Header.Set("User-Agent", f.userAgent)
		resp, err := f.hc.Do(req)
		var delay time.Duration
		if err != nil {
			if ctx.Err() != nil {
				return nil, final, 0, ctx.Err()
			}
			if attempt >= f.maxAttempts {
				return nil, final, 0, &fetchError{URL: final, Err: err}
			}
			delay = f.backoff(attempt)
		} else {
			final = resp.Request.URL.String()
			body, err = io.ReadAll(io.LimitReader(resp.Body, f.maxBytes+1))
			resp.Body.Close()
			switch {
			case err != nil && ctx.Err() != nil:
				return nil, final, 0, ctx.Err()
			case err != nil:
				return nil, final, 0, &fetchError{URL: final, Status: resp.StatusCode, Err: err}
			case int64(len(body)) > f.maxBytes:
				return nil, final, 0, &fetchError{URL: final, Status: resp.StatusCode, Err: fmt.Errorf("response larger than %d bytes", f.maxBytes)}
			case resp.StatusCode == http.StatusOK:
				return body, final, http.StatusOK, nil
			case resp.StatusCode == http.StatusNotFound && allow404:
				return nil, final, http.StatusNotFound, nil
			case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
				if attempt >= f.maxAttempts {
					return nil, final, 0, &fetchError{URL: final, Status: resp.StatusCode, Err: fmt.Errorf("gave up after %d attempts", attempt)}
				}
				var given bool
				delay, given = retryAfter(resp.Header.Get("Retry-After"), f.now())
				if !given {
					delay = f.backoff(attempt)
				}
				if delay > f.maxWait {
					return nil, final, 0, &fetchError{URL: final, Status: resp.StatusCode, Err: fmt.Errorf("Retry-After %s exceeds the %s limit", delay, f.maxWait)}
				}
				if resp.StatusCode == http.StatusTooManyRequests {
					// The service is throttling us, not just this request:
					// hold back every request to it.
					svc.mu.Lock()
					if nb := f.now().Add(delay); nb.After(svc.notBefore) {
						svc.notBefore = nb
					}
					svc.mu.Unlock()
					delay = 0 // wait() sleeps until notBefore
				}
			default:
				// 400 (a resource the service refuses), 403, a 404 not allowed, …
				return nil, final, 0, &fetchError{URL: final, Status: resp.StatusCode, Err: errors.New(http.StatusText(resp.StatusCode))}
			}
		}
		if err := f.sleep(ctx, delay); err != nil {
			return nil, final, 0, err
		}
	}
}

// wait blocks until the service accepts another request.
func (f *fetcher) wait(ctx context.Context, svc *service) error {
	svc.mu.Lock()
	d := svc.notBefore.Sub(f.now())
	svc.mu.Unlock()
	if d > 0 {
		if err := f.sleep(ctx, d); err != nil {
			return err
		}
	}
	return svc.lim.Wait(ctx)
}

// backoff is exponential with "equal jitter": half fixed, half random, so
// many workers retrying one service spread out.
func (f *fetcher) backoff(attempt int) time.Duration {
	d := f.backoffBase << (attempt - 1)
	if d > f.maxWait || d <= 0 {
		d = f.maxWait
	}
	return d/2 + rand.N(d/2+1)
}
