package owners

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gaissmai/bart"
	"go4.org/netipx"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
)

// RDAP is spoken with net/http and encoding/json rather than
// github.com/openrdap/rdap: we need a per-registry rate limit that is known
// before the request is sent, Retry-After handling shared by every caller of
// a registry, a response size cap, a configurable bootstrap base for tests,
// and a cache keyed by prefix. openrdap would have us wrap or bypass most
// of its client for those, for the benefit of a JSON decoder that is ~100
// lines here.

// DefaultBootstrapURL is IANA's RDAP bootstrap directory (RFC 9224).
const DefaultBootstrapURL = "https://data.iana.org/rdap/"

// Limit is a request rate: one request every Every, with bursts of Burst.
type Limit struct {
	Every time.Duration
	Burst int
}

// DefaultLimits are the per-registry request rates used unless configured.
// LACNIC publishes 10 queries/min per address; the others publish no RDAP
// number, so we stay well below anything that looks abusive (notify.md §4.3).
var DefaultLimits = map[string]Limit{
	"LACNIC":  {Every: 6 * time.Second, Burst: 1},
	"AFRINIC": {Every: 2 * time.Second, Burst: 1},
	"RIPE":    {Every: time.Second, Burst: 2},
	"ARIN":    {Every: time.Second, Burst: 2},
	"APNIC":   {Every: time.Second, Burst: 2},
	"IANA":    {Every: time.Second, Burst: 3},
}

// RDAPOptions configure an RDAPClient. Zero values pick the defaults.
type RDAPOptions struct {
	// BootstrapURL is the directory holding ipv4.json, ipv6.json and
	// asn.json. Default DefaultBootstrapURL; tests point it at a local
	// server.
	BootstrapURL string
	HTTPClient   *http.Client // default: 20 s timeout, at most 5 redirects
	Cache        Cache        // default: NewMemoryCache(DefaultCacheTTL, DefaultNegativeTTL)
	// Limits per registry, keyed by registry name ("RIPE", "LACNIC", …) or,
	// for servers that are not a known RIR, by the service base URL as it
	// appears in the bootstrap file. Entries override DefaultLimits.
	Limits       map[string]Limit
	DefaultLimit Limit // for registries without an entry; default 1/s, burst 1
	MaxAttempts  int   // per request, including the first; default 4
	// BackoffBase is the first retry delay without Retry-After; it doubles
	// per attempt (with jitter). Default 1 s.
	BackoffBase time.Duration
	// MaxWait caps one retry delay. A Retry-After longer than this fails the
	// request instead of stalling the run. Default 2 min.
	MaxWait          time.Duration
	UserAgent        string // default "exsweep-owners"
	MaxResponseBytes int64  // default 2 MiB
}

// RDAPClient finds abuse contacts over RDAP. It is safe for concurrent use.
type RDAPClient struct {
	opt   RDAPOptions
	hc    *http.Client
	cache Cache
	boot  *url.URL

	sleep func(context.Context, time.Duration) error // replaced in tests
	now   func() time.Time

	flight singleflight.Group

	bmu      sync.Mutex
	bs       *bootstrapData
	bsErr    error
	bsErrAt  time.Time
	regMu    sync.Mutex
	registry map[string]*service // per registry: rate limit and 429 hold-back

	f fetcher
}

// RDAPError is an RDAP request that failed for good.
type RDAPError struct {
	URL    string
	Status int // HTTP status, 0 for transport or decoding errors
	Err    error
}

func (e *RDAPError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("rdap %s: HTTP %d: %v", e.URL, e.Status, e.Err)
	}
	return fmt.Sprintf("rdap %s: %v", e.URL, e.Err)
}

func (e *RDAPError) Unwrap() error { return e.Err }

// NewRDAPClient returns a client; it does no I/O until the first lookup.
func NewRDAPClient(opt RDAPOptions) (*RDAPClient, error) {
	if opt.BootstrapURL == "" {
		opt.BootstrapURL = DefaultBootstrapURL
	}
	boot, err := url.Parse(opt.BootstrapURL)
	if err != nil || (boot.Scheme != "https" && boot.Scheme != "http") || boot.Host == "" {
		return nil, fmt.Errorf("rdap: invalid bootstrap URL %q", opt.BootstrapURL)
	}
	if !strings.HasSuffix(boot.Path, "/") {
		boot.Path += "/"
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
	if opt.MaxResponseBytes <= 0 {
		opt.MaxResponseBytes = 2 << 20
	}
	if opt.DefaultLimit.Every <= 0 {
		opt.DefaultLimit = Limit{Every: time.Second, Burst: 1}
	}
	hc := opt.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 20 * time.Second, CheckRedirect: checkRedirect}
	}
	cache := opt.Cache
	if cache == nil {
		cache = NewMemoryCache(0, 0)
	}
	c := &RDAPClient{
		opt: opt, hc: hc, cache: cache, boot: boot,
		sleep: sleepCtx, now: time.Now,
		registry: make(map[string]*service),
	}
	c.f = fetcher{hc: hc, accept: "application/rdap+json, application/json;q=0.9", userAgent: opt.UserAgent,
		maxAttempts: opt.MaxAttempts, backoffBase: opt.BackoffBase, maxWait: opt.MaxWait, maxBytes: opt.MaxResponseBytes,
		sleep: func(ctx context.Context, d time.Duration) error { return c.sleep(ctx, d) },
		now:   func() time.Time { return c.now() }}
	return c, nil
}

// checkRedirect follows registry referrals (ARIN sends transferred space to
// RIPE, and so on) but not forever and not off HTTP(S).
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("more than 5 redirects")
	}
	if req.URL.Scheme != "https" && req.URL.Scheme != "http" {
		return fmt.Errorf("redirect to %s URL refused", req.URL.Scheme)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// AbuseContact returns the abuse contact for ip. network is the routed
// prefix from the IP→ASN data (or invalid) and groups concurrent queries;
// asn, when not 0, is asked for its abuse contact if the IP network object
// has none.
//
// A Contact without Emails and a nil error means the registries answered
// and have no abuse address (or no registry covers ip); that answer is
// cached too. Errors (transport, HTTP, malformed data) are not cached.
func (c *RDAPClient) AbuseContact(ctx context.Context, ip netip.Addr, network netip.Prefix, asn uint32) (Contact, error) {
	ip = ip.Unmap()
	host := netip.PrefixFrom(ip, ip.BitLen())
	if ct, ok, err := c.cache.Get(ctx, host); err != nil {
		return Contact{}, fmt.Errorf("rdap cache: %w", err)
	} else if ok && ct.Source == "" {
		// (A RIPEstat entry in a shared cache is not an RDAP answer.)
		return ct, nil
	}
	// Concurrent workers scanning one network would otherwise all ask at
	// once; let one ask per routed prefix (or /24, /48) and the rest reuse
	// the answer when it covers their address.
	key := network
	if !key.IsValid() || !key.Contains(ip) {
		bits := 24
		if ip.Is6() {
			bits = 48
		}
		key, _ = ip.Prefix(bits)
	}
	v, err, _ := c.flight.Do(key.String(), func() (any, error) {
		return c.query(ctx, ip, network, asn)
	})
	if err != nil {
		if (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) && ctx.Err() == nil {
			// The flight's leader gave up, not us: ask ourselves.
			return c.query(ctx, ip, network, asn)
		}
		return Contact{}, err
	}
	ct := v.(Contact)
	if ct.Prefix.IsValid() && ct.Prefix.Contains(ip) {
		return ct, nil
	}
	return c.query(ctx, ip, network, asn)
}

func (c *RDAPClient) query(ctx context.Context, ip netip.Addr, network netip.Prefix, asn uint32) (Contact, error) {
	host := netip.PrefixFrom(ip, ip.BitLen())
	if ct, ok, err := c.cache.Get(ctx, host); err == nil && ok && ct.Source == "" {
		return ct, nil // a concurrent query just stored it
	}
	bs, err := c.bootstrap(ctx)
	if err != nil {
		return Contact{}, err
	}
	base, ok := bs.forIP(ip)
	if !ok {
		// Private, reserved or unallocated: nobody to ask. Not an error
		// and not cached (it costs nothing to find out again).
		return Contact{Prefix: host, Registry: "none", Fetched: c.now()}, nil
	}
	u := base.JoinPath("ip", ip.String())
	body, final, status, err := c.fetch(ctx, base, u)
	if err != nil {
		return Contact{}, err
	}
	if status == http.StatusNotFound {
		neg := host
		if network.IsValid() && network.Contains(ip) {
			neg = network
		}
		ct := Contact{Prefix: neg, Registry: registryName(final, ""), URL: final, Fetched: c.now()}
		return ct, c.put(ctx, ct)
	}
	var nw rdapNetwork
	if err := decodeRDAP(body, &nw); err != nil {
		return Contact{}, &RDAPError{URL: final, Err: err}
	}
	if nw.ObjectClassName != "ip network" {
		return Contact{}, &RDAPError{URL: final, Err: fmt.Errorf("objectClassName %q, want \"ip network\"", preview(nw.ObjectClassName))}
	}
	listed, err := nw.prefixes(ip)
	if err != nil {
		return Contact{}, &RDAPError{URL: final, Err: err}
	}
	// A registry answers for its own space only: a prefix it lists that the
	// bootstrap gives (in whole or in part) to another registry, or to
	// nobody, is not cached, so a broken or hostile answer cannot claim
	// other networks' abuse contacts. If that drops the prefix of ip
	// itself, the answer is kept for ip alone.
	var prefixes []netip.Prefix
	hasIP := false
	for _, p := range listed {
		if bs.servedBy(p, base) {
			prefixes = append(prefixes, p)
			hasIP = hasIP || p.Contains(ip)
		}
	}
	if !hasIP {
		prefixes = append(prefixes, host)
	}
	emails, registrant := abuseEmails(nw.Entities)
	ct := Contact{
		Registry: registryName(final, nw.Port43),
		Name:     firstNonEmpty(registrant, cleanName(nw.Name)),
		Emails:   emails,
		URL:      final,
		Fetched:  c.now(),
	}
	if len(emails) == 0 && asn != 0 {
		// The network has no abuse entity (common for ARIN reassignments
		// and some LACNIC space); the AS's abuse desk is the next best.
		if ac, ok, err := c.autnumContact(ctx, bs, asn); err != nil {
			return Contact{}, err
		} else if ok {
			ct.Emails, ct.ViaASN, ct.URL = ac.Emails, asn, ac.URL
			ct.Name = firstNonEmpty(ac.Name, ct.Name)
		}
	}
	var mine Contact
	for _, p := range prefixes {
		e := ct
		e.Prefix = p
		if err := c.put(ctx, e); err != nil {
			return Contact{}, err
		}
		if p.Contains(ip) {
			mine = e
		}
	}
	return mine, nil
}

func (c *RDAPClient) put(ctx context.Context, ct Contact) error {
	if err := c.cache.Put(ctx, ct); err != nil {
		return fmt.Errorf("rdap cache: %w", err)
	}
	return nil
}

func (c *RDAPClient) autnumContact(ctx context.Context, bs *bootstrapData, asn uint32) (Contact, bool, error) {
	base, ok := bs.forASN(asn)
	if !ok {
		return Contact{}, false, nil
	}
	u := base.JoinPath("autnum", strconv.FormatUint(uint64(asn), 10))
	body, final, status, err := c.fetch(ctx, base, u)
	if err != nil || status == http.StatusNotFound {
		return Contact{}, false, err
	}
	var an rdapAutnum
	if err := decodeRDAP(body, &an); err != nil {
		return Contact{}, false, &RDAPError{URL: final, Err: err}
	}
	if an.ObjectClassName != "autnum" {
		return Contact{}, false, &RDAPError{URL: final, Err: fmt.Errorf("objectClassName %q, want \"autnum\"", preview(an.ObjectClassName))}
	}
	emails, registrant := abuseEmails(an.Entities)
	if len(emails) == 0 {
		return Contact{}, false, nil
	}
	return Contact{Emails: emails, Name: firstNonEmpty(registrant, cleanName(an.Name)), URL: final}, true, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// fetch GETs u with the registry's rate limit, retrying 429, 5xx and
// transport errors with backoff. It returns the body for 200, or status
// 404 with no body; anything else is an error.
func (c *RDAPClient) fetch(ctx context.Context, base, u *url.URL) (body []byte, final string, status int, err error) {
	body, final, status, err = c.f.get(ctx, c.registryFor(base), u, true)
	var fe *fetchError
	if errors.As(err, &fe) {
		err = &RDAPError{URL: fe.URL, Status: fe.Status, Err: fe.Err}
	}
	return body, final, status, err
}

// retryAfter parses Retry-After as seconds or an HTTP date (RFC 9110
// §10.2.3).
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > 1<<20 {
			n = 1 << 20
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

func (c *RDAPClient) registryFor(base *url.URL) *service {
	key, known := rirByHost[base.Hostname()]
	if !known {
		key = base.String()
	}
	c.regMu.Lock()
	defer c.regMu.Unlock()
	if r, ok := c.registry[key]; ok {
		return r
	}
	l, ok := c.opt.Limits[key]
	if !ok {
		l, ok = DefaultLimits[key]
	}
	if !ok {
		l = c.opt.DefaultLimit
	}
	if l.Burst <= 0 {
		l.Burst = 1
	}
	r := &service{lim: rate.NewLimiter(rate.Every(l.Every), l.Burst)}
	c.registry[key] = r
	return r
}

var rirByHost = map[string]string{
	"rdap.db.ripe.net": "RIPE",
	"rdap.arin.net":    "ARIN",
	"rdap.apnic.net":   "APNIC",
	"rdap.lacnic.net":  "LACNIC",
	"rdap.afrinic.net": "AFRINIC",
	"data.iana.org":    "IANA",
}

var rirByWhois = map[string]string{
	"whois.ripe.net":    "RIPE",
	"whois.arin.net":    "ARIN",
	"whois.apnic.net":   "APNIC",
	"whois.lacnic.net":  "LACNIC",
	"whois.afrinic.net": "AFRINIC",
}

// registryName names the registry that answered, for humans: the RIR when
// the final URL's host (after referrals) or the response's port43 whois
// server is a known one, otherwise the host.
func registryName(final string, port43 string) string {
	u, err := url.Parse(final)
	if err != nil {
		return "unknown"
	}
	if n, ok := rirByHost[u.Hostname()]; ok {
		return n
	}
	if n, ok := rirByWhois[strings.ToLower(strings.TrimSpace(port43))]; ok {
		return n
	}
	return u.Host
}

// bootstrapData maps addresses and AS numbers to RDAP service URLs.
type bootstrapData struct {
	ip      bart.Table[*url.URL]
	asn     []asnService
	fetched time.Time
}

type asnService struct {
	lo, hi uint32
	base   *url.URL
}

func (b *bootstrapData) forIP(ip netip.Addr) (*url.URL, bool) { return b.ip.Lookup(ip) }

// servedBy reports whether the bootstrap gives all of p to the registry at
// base: the most specific entry covering p and every entry inside p.
func (b *bootstrapData) servedBy(p netip.Prefix, base *url.URL) bool {
	u, ok := b.ip.LookupPrefix(p)
	if !ok || u.String() != base.String() {
		return false
	}
	for _, v := range b.ip.Subnets(p) {
		if v.String() != base.String() {
			return false
		}
	}
	return true
}

func (b *bootstrapData) forASN(asn uint32) (*url.URL, bool) {
	for _, s := range b.asn {
		if s.lo <= asn && asn <= s.hi {
			return s.base, true
		}
	}
	return nil, false
}

const bootstrapTTL = 24 * time.Hour

// bootstrap loads ipv4.json, ipv6.json and asn.json once a day. A failure
// is remembered for a minute so a broken mirror is not hammered by every
// worker.
func (c *RDAPClient) bootstrap(ctx context.Context) (*bootstrapData, error) {
	c.bmu.Lock()
	defer c.bmu.Unlock()
	now := c.now()
	if c.bs != nil && now.Sub(c.bs.fetched) < bootstrapTTL {
		return c.bs, nil
	}
	if c.bsErr != nil && now.Sub(c.bsErrAt) < time.Minute {
		return nil, c.bsErr
	}
	bs, err := c.loadBootstrap(ctx)
	if err != nil {
		if ctx.Err() == nil {
			c.bsErr, c.bsErrAt = err, now
		}
		if c.bs != nil {
			return c.bs, nil // stale beats none
		}
		return nil, err
	}
	c.bs, c.bsErr = bs, nil
	return bs, nil
}

type bootstrapFile struct {
	Services [][][]string `json:"services"`
}

func (c *RDAPClient) loadBootstrap(ctx context.Context) (*bootstrapData, error) {
	bs := &bootstrapData{fetched: c.now()}
	for _, name := range []string{"ipv4.json", "ipv6.json", "asn.json"} {
		u := c.boot.JoinPath(name)
		body, final, status, err := c.fetch(ctx, c.boot, u)
		if err != nil {
			return nil, fmt.Errorf("rdap bootstrap: %w", err)
		}
		if status != http.StatusOK {
			return nil, &RDAPError{URL: final, Status: status, Err: errors.New("bootstrap file not found")}
		}
		var f bootstrapFile
		if err := json.Unmarshal(body, &f); err != nil {
			return nil, &RDAPError{URL: final, Err: fmt.Errorf("bootstrap: %w", err)}
		}
		for _, svc := range f.Services {
			if len(svc) < 2 {
				continue
			}
			base := pickServiceURL(svc[1])
			if base == nil {
				continue
			}
			for _, entry := range svc[0] {
				if name == "asn.json" {
					lo, hi, ok := parseASNRange(entry)
					if ok {
						bs.asn = append(bs.asn, asnService{lo, hi, base})
					}
					continue
				}
				if p, err := netip.ParsePrefix(strings.TrimSpace(entry)); err == nil {
					bs.ip.Insert(p.Masked(), base)
				}
			}
		}
	}
	if bs.ip.Size() == 0 {
		return nil, &RDAPError{URL: c.boot.String(), Err: errors.New("bootstrap lists no IP services")}
	}
	return bs, nil
}

// pickServiceURL prefers HTTPS, as RFC 9224 asks clients to.
func pickServiceURL(urls []string) *url.URL {
	var fallback *url.URL
	for _, s := range urls {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			continue
		}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		if u.Scheme == "https" {
			return u
		}
		if fallback == nil {
			fallback = u
		}
	}
	return fallback
}

func parseASNRange(s string) (lo, hi uint32, ok bool) {
	a, b, isRange := strings.Cut(strings.TrimSpace(s), "-")
	l, err := strconv.ParseUint(a, 10, 32)
	if err != nil {
		return 0, 0, false
	}
	if !isRange {
		return uint32(l), uint32(l), true
	}
	h, err := strconv.ParseUint(b, 10, 32)
	if err != nil || h < l {
		return 0, 0, false
	}
	return uint32(l), uint32(h), true
}

// prefixes returns the CIDRs of the network, preferring the cidr0
// extension and falling back to startAddress..endAddress. The network must
// contain ip: a server answering with some other network is broken, and
// caching its contact would misdirect reports. At most 64 prefixes are
// kept (a range that splits into more is an odd one; the one containing ip
// is always kept).
func (nw *rdapNetwork) prefixes(ip netip.Addr) ([]netip.Prefix, error) {
	var out []netip.Prefix
	contains := false
	for _, c := range nw.Cidr0 {
		s := c.V4Prefix
		if s == "" {
			s = c.V6Prefix
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" || c.Length < 0 || c.Length > a.BitLen() {
			continue
		}
		p := netip.PrefixFrom(a.Unmap(), c.Length).Masked()
		out = append(out, p)
		contains = contains || p.Contains(ip)
	}
	if !contains {
		out = out[:0]
		first, err1 := netip.ParseAddr(nw.StartAddress)
		last, err2 := netip.ParseAddr(nw.EndAddress)
		r := netipx.IPRangeFrom(first.Unmap(), last.Unmap())
		if err1 != nil || err2 != nil || first.Zone() != "" || last.Zone() != "" || !r.IsValid() {
			return nil, fmt.Errorf("network has no usable cidr0_cidrs or start/end address (%q-%q)", preview(nw.StartAddress), preview(nw.EndAddress))
		}
		if !r.Contains(ip) {
			return nil, fmt.Errorf("network %s does not contain %s", r, ip)
		}
		out = r.AppendPrefixes(out)
	}
	if len(out) > 64 {
		kept := out[:0:0]
		for i, p := range out {
			if i < 63 || p.Contains(ip) {
				kept = append(kept, p)
			}
			if len(kept) == 64 {
				break
			}
		}
		out = kept
	}
	return out, nil
}
