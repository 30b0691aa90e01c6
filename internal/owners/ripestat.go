package owners

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
)

// RIPEstat's abuse-contact-finder data call
// (GET {base}/data/abuse-contact-finder/data.json?resource=<ip>) returns the
// abuse-c mailbox the RIPE database (or, for other regions, the
// authoritative RIR's data) holds for the most specific registered network
// of an address, in one small JSON document:
//
//	{"status": "ok", "status_code": 200, "messages": [],
//	 "data": {"abuse_contacts": ["abuse@example.net"],
//	          "authoritative_rir": "ripe", "parameters": {"resource": "…"}, …}}
//
// It is asked before RDAP, as CERTs like DIVD do: one request, no bootstrap,
// no entity tree. It is spoken with net/http for the same reasons as RDAP.

// DefaultRIPEstatURL is the RIPEstat Data API.
const DefaultRIPEstatURL = "https://stat.ripe.net"

// DefaultRIPEstatSourceApp identifies us to RIPE NCC (the sourceapp query
// parameter RIPEstat asks API users to send).
const DefaultRIPEstatSourceApp = "exsweep"

// DefaultRIPEstatLimit is 4 requests/s with bursts of 4. RIPEstat publishes
// no hard number for the Data API; this stays far below anything that looks
// abusive while keeping a big run moving (one query per /24 or /48).
var DefaultRIPEstatLimit = Limit{Every: 250 * time.Millisecond, Burst: 4}

// sourceRIPEstat marks RIPEstat answers in Contact.Source.
const sourceRIPEstat = "ripestat"

// RIPEstatOptions configure a RIPEstatClient. Zero values pick the defaults.
type RIPEstatOptions struct {
	// BaseURL is the Data API root; the data call path is appended.
	// Default DefaultRIPEstatURL; tests and mirrors point it elsewhere.
	BaseURL    string
	HTTPClient *http.Client // default: 20 s timeout, at most 5 redirects
	// Cache may be the one given to the RDAP client: RIPEstat entries are
	// stored under keys of their own (see ripestatKey) and marked with
	// Contact.Source, so the two never answer for each other.
	// Default NewMemoryCache(DefaultCacheTTL, DefaultNegativeTTL).
	Cache       Cache
	Limit       Limit // default DefaultRIPEstatLimit
	MaxAttempts int   // per request, including the first; default 4
	// BackoffBase is the first retry delay without Retry-After; it doubles
	// per attempt (with jitter). Default 1 s.
	BackoffBase time.Duration
	// MaxWait caps one retry delay. A Retry-After longer than this fails the
	// request instead of stalling the run. Default 2 min.
	MaxWait          time.Duration
	UserAgent        string // default "exsweep-owners"
	SourceApp        string // default DefaultRIPEstatSourceApp
	MaxResponseBytes int64  // default 256 KiB (real answers are < 2 KiB)
}

// RIPEstatClient finds abuse contacts with RIPEstat's abuse-contact-finder.
// It is safe for concurrent use.
type RIPEstatClient struct {
	opt   RIPEstatOptions
	hc    *http.Client
	cache Cache
	base  *url.URL

	sleep func(context.Context, time.Duration) error // replaced in tests
	now   func() time.Time

	flight singleflight.Group

	svc service // rate limit, and the hold-back a 429 sets for every request
	f   fetcher
}

// RIPEstatError is a RIPEstat request that failed for good.
type RIPEstatError struct {
	URL    string
	Status int // HTTP status, 0 for transport or decoding errors
	Err    error
}

func (e *RIPEstatError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("ripestat %s: HTTP %d: %v", e.URL, e.Status, e.Err)
	}
	return fmt.Sprintf("ripestat %s: %v", e.URL, e.Err)
}

func (e *RIPEstatError) Unwrap() error { return e.Err }

// NewRIPEstatClient returns a client; it does no I/O until the first lookup.
func NewRIPEstatClient(opt RIPEstatOptions) (*RIPEstatClient, error) {
	if opt.BaseURL == "" {
		opt.BaseURL = DefaultRIPEstatURL
	}
	base, err := url.Parse(opt.BaseURL)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" || base.RawQuery != "" {
		return nil, fmt.Errorf("ripestat: invalid base URL %q", opt.BaseURL)
	}
	if opt.Limit.Every <= 0 {
		opt.Limit = DefaultRIPEstatLimit
	}
	if opt.Limit.Burst <= 0 {
		opt.Limit.Burst = 1
	}
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = 4
	}
	if opt.BackoffBase <= 0 {
		opt.BackoffBase = time.Second
	}
	if opt.MaxWait <= 0 {
		opt.MaxWait = 2 * time.Minute
	}
	if opt.UserAgent == "" {
		opt.UserAgent = "exsweep-owners"
	}
	if opt.SourceApp == "" {
		opt.SourceApp = DefaultRIPEstatSourceApp
	}
	if opt.MaxResponseBytes <= 0 {
		opt.MaxResponseBytes = 256 << 10
	}
	hc := opt.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 20 * time.Second, CheckRedirect: checkRedirect}
	}
	cache := opt.Cache
	if cache == nil {
		cache = NewMemoryCache(0, 0)
	}
	c := &RIPEstatClient{
		opt: opt, hc: hc, cache: cache, base: base,
		svc:   service{lim: rate.NewLimiter(rate.Every(opt.Limit.Every), opt.Limit.Burst)},
		sleep: sleepCtx, now: time.Now,
	}
	c.f = fetcher{hc: hc, accept: "application/json", userAgent: opt.UserAgent,
		maxAttempts: opt.MaxAttempts, backoffBase: opt.BackoffBase, maxWait: opt.MaxWait, maxBytes: opt.MaxResponseBytes,
		sleep: func(ctx context.Context, d time.Duration) error { return c.sleep(ctx, d) },
		now:   func() time.Time { return c.now() }}
	return c, nil
}

// ripestatNet is the block one answer is reused for: the /24 (IPv4) or /48
// (IPv6) around ip. abuse-contact-finder answers for the most specific
// registered network, which is almost always at least that large; the rare
// smaller assignment with an abuse-c of its own gets its block's answer.
func ripestatNet(ip netip.Addr) netip.Prefix {
	bits := 24
	if ip.Is6() {
		bits = 48
	}
	p, _ := ip.Prefix(bits)
	return p
}

// ripestatNS is the IPv6 ULA /64 under which RIPEstat answers are cached.
// RDAP caches registry networks, and a registry's /24 and our /24 must not
// overwrite each other in a shared Cache (the store's table is keyed by
// prefix alone), so a /24 or /48 is mapped into this block: byte 8 is the
// address family (4 or 6), then the block's network bits. RDAP never caches
// ULA space (no registry serves it), and both clients ignore entries whose
// Contact.Source is not theirs.
var ripestatNS = [8]byte{0xfd, 0x72, 0x69, 0x70, 0x65, 0x73, 0x74, 0x61}

// ripestatKey maps a block from ripestatNet into ripestatNS: an IPv4 /24
// becomes a /96, an IPv6 /48 a /120.
func ripestatKey(block netip.Prefix) netip.Prefix {
	var b [16]byte
	copy(b[:], ripestatNS[:])
	a := block.Addr()
	if a.Is4() {
		v := a.As4()
		b[8] = 4
		copy(b[9:], v[:3])
		return netip.PrefixFrom(netip.AddrFrom16(b), 96)
	}
	v := a.As16()
	b[8] = 6
	copy(b[9:], v[:6])
	return netip.PrefixFrom(netip.AddrFrom16(b), 120)
}

// AbuseContact returns the abuse contact RIPEstat knows for ip. Contact.URL
// is the query URL, Contact.Resource the address that was asked about (the
// answer is reused for its /24 or /48), Contact.Registry the authoritative
// RIR when RIPEstat names a known one.
//
// A Contact without Emails and a nil error means RIPEstat answered and has
// no abuse address; that answer is cached too (with the negative TTL).
// Addresses that are not global unicast, and private ones, are never sent:
// they get an empty Contact at once. Errors (transport, HTTP, status other
// than "ok", malformed JSON) are not cached.
func (c *RIPEstatClient) AbuseContact(ctx context.Context, ip netip.Addr) (Contact, error) {
	ip = ip.Unmap()
	if !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return Contact{Source: sourceRIPEstat, Registry: "none", Fetched: c.now()}, nil
	}
	block := ripestatNet(ip)
	if ct, ok, err := c.cached(ctx, block); err != nil {
		return Contact{}, fmt.Errorf("ripestat cache: %w", err)
	} else if ok {
		return ct, nil
	}
	// Concurrent workers scanning one block ask once.
	v, err, _ := c.flight.Do(block.String(), func() (any, error) {
		return c.query(ctx, ip, block)
	})
	if err != nil {
		if (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) && ctx.Err() == nil {
			// The flight's leader gave up, not us: ask ourselves.
			return c.query(ctx, ip, block)
		}
		return Contact{}, err
	}
	return v.(Contact), nil
}

// cached reads the block's entry; an entry another source wrote (possible
// only with a hostile or damaged shared cache) is a miss.
func (c *RIPEstatClient) cached(ctx context.Context, block netip.Prefix) (Contact, bool, error) {
	key := ripestatKey(block)
	ct, ok, err := c.cache.Get(ctx, netip.PrefixFrom(key.Addr(), 128))
	if err != nil || !ok || ct.Source != sourceRIPEstat {
		return Contact{}, false, err
	}
	ct.Prefix = block
	return ct, true, nil
}

func (c *RIPEstatClient) query(ctx context.Context, ip netip.Addr, block netip.Prefix) (Contact, error) {
	if ct, ok, err := c.cached(ctx, block); err == nil && ok {
		return ct, nil // a concurrent query just stored it
	}
	u := c.base.JoinPath("data", "abuse-contact-finder", "data.json")
	q := url.Values{}
	q.Set("resource", ip.String())
	q.Set("sourceapp", c.opt.SourceApp)
	u.RawQuery = q.Encode()
	body, final, err := c.fetch(ctx, u)
	if err != nil {
		return Contact{}, err
	}
	emails, rir, err := parseRIPEstat(body)
	if err != nil {
		return Contact{}, &RIPEstatError{URL: final, Err: err}
	}
	ct := Contact{
		Prefix:   ripestatKey(block),
		Registry: rir,
		Emails:   emails,
		URL:      final,
		Source:   sourceRIPEstat,
		Resource: ip.String(),
		Fetched:  c.now(),
	}
	if err := c.cache.Put(ctx, ct); err != nil {
		return Contact{}, fmt.Errorf("ripestat cache: %w", err)
	}
	ct.Prefix = block
	return ct, nil
}

// Bounds for hostile answers.
const maxRIPEstatContacts = 64 // array entries looked at; maxAbuseAddrs kept

// ripestatRIRs are the authoritative_rir values we repeat; anything else
// is dropped rather than echoed into rules and logs.
var ripestatRIRs = map[string]string{
	"ripe": "RIPE", "ripe ncc": "RIPE", "arin": "ARIN", "apnic": "APNIC",
	"lacnic": "LACNIC", "afrinic": "AFRINIC",
}

type ripestatResponse struct {
	Status   string            `json:"status"`
	Messages []json.RawMessage `json:"messages"`
	Data     json.RawMessage   `json:"data"`
}

type ripestatData struct {
	AbuseContacts    json.RawMessage `json:"abuse_contacts"`
	AuthoritativeRIR json.RawMessage `json:"authoritative_rir"`
}

// parseRIPEstat reads an abuse-contact-finder answer. It is strict where a
// wrong answer would misdirect reports (one JSON object, status "ok") and
// tolerant elsewhere: a missing or odd data object or abuse_contacts list
// means no contact, entries that are not valid e-mail addresses are
// skipped, and at most maxAbuseAddrs addresses are kept, validated,
// lower-cased and de-duplicated.
func parseRIPEstat(body []byte) (emails []string, rir string, err error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var r ripestatResponse
	if err := dec.Decode(&r); err != nil {
		return nil, "", fmt.Errorf("malformed RIPEstat JSON: %w", err)
	}
	if dec.More() {
		return nil, "", errors.New("malformed RIPEstat JSON: data after the object")
	}
	if r.Status != "ok" {
		msg := ""
		for _, m := range r.Messages {
			// [["error", "text"], …]
			var pair []json.RawMessage
			var text string
			if json.Unmarshal(m, &pair) == nil && len(pair) >= 2 && json.Unmarshal(pair[1], &text) == nil {
				msg = ": " + cleanName(preview(text))
				break
			}
		}
		return nil, "", fmt.Errorf("RIPEstat status %q%s", preview(cleanName(r.Status)), msg)
	}
	var d ripestatData
	if json.Unmarshal(r.Data, &d) != nil {
		return nil, "", nil
	}
	var s string
	if json.Unmarshal(d.AuthoritativeRIR, &s) == nil {
		rir = ripestatRIRs[strings.ToLower(strings.TrimSpace(s))]
	}
	var list []json.RawMessage
	if json.Unmarshal(d.AbuseContacts, &list) != nil {
		return nil, rir, nil
	}
	if len(list) > maxRIPEstatContacts {
		list = list[:maxRIPEstatContacts]
	}
	for _, raw := range list {
		var v string
		if json.Unmarshal(raw, &v) != nil {
			continue
		}
		if a, err := normalizeEmail(v); err == nil && len(emails) < maxAbuseAddrs {
			emails = appendUnique(emails, a)
		}
	}
	return emails, rir, nil
}

// fetch GETs u under the client's rate limit, retrying 429, 5xx and
// transport errors with backoff, and returns the body of a 200.
func (c *RIPEstatClient) fetch(ctx context.Context, u *url.URL) (body []byte, final string, err error) {
	body, final, _, err = c.f.get(ctx, &c.svc, u, false)
	var fe *fetchError
	if errors.As(err, &fe) {
		err = &RIPEstatError{URL: fe.URL, Status: fe.Status, Err: fe.Err}
	}
	return body, final, err
}
