package owners

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// reply is one scripted answer of the fake registry.
type reply struct {
	status int
	header map[string]string
	file   string // under testdata/rdap; "" for an empty body
	body   string
}

// fakeRDAP is a local RDAP server: the bootstrap files and per-path
// scripts of replies (the last reply repeats). It counts requests per path.
type fakeRDAP struct {
	t   *testing.T
	srv *httptest.Server

	mu     sync.Mutex
	script map[string][]reply
	hits   map[string]int
}

func newFakeRDAP(t *testing.T) *fakeRDAP {
	f := &fakeRDAP{t: t, hits: map[string]int{}}
	ok := func(file string) []reply { return []reply{{status: 200, file: file}} }
	f.script = map[string][]reply{
		"/boot/ipv4.json":           ok("ipv4.json"),
		"/boot/ipv6.json":           ok("ipv6.json"),
		"/boot/asn.json":            ok("asn.json"),
		"/ripe/ip/86.54.11.1":       ok("ripe-86.54.11.1.json"),
		"/ripe/ip/86.54.11.77":      ok("ripe-86.54.11.1.json"),
		"/arin/ip/8.8.8.8":          ok("arin-8.8.8.8.json"),
		"/arin/ip/8.8.4.4":          {{status: 301, header: map[string]string{"Location": "/ripe/ip/8.8.4.4"}}},
		"/ripe/ip/8.8.4.4":          {{status: 200, body: strings.NewReplacer("86.54.11", "8.8.4").Replace(mustRead(t, "ripe-86.54.11.1.json"))}},
		"/ripe/ip/2001:db8:1234::1": ok("ripe-ipv6.json"),
		"/lacnic/ip/200.1.2.3":      {{status: 429, header: map[string]string{"Retry-After": "3"}, body: "slow down"}, {status: 200, file: "lacnic-200.1.2.3.json"}},
		"/ripe/ip/185.0.0.1":        {{status: 503}, {status: 502}, {status: 200, body: strings.NewReplacer("86.54.11", "185.0.0").Replace(mustRead(t, "ripe-86.54.11.1.json"))}},
		"/ripe/ip/185.0.1.1":        {{status: 503}},
		"/ripe/ip/185.0.2.1":        {{status: 429, header: map[string]string{"Retry-After": "3600"}}},
		"/ripe/ip/185.0.3.1":        {{status: 200, body: `{"objectClassName": "entity", "handle": "X"}`}},
		"/ripe/ip/185.0.4.1":        {{status: 200, file: "ripe-86.54.11.1.json"}}, // a network that does not contain the address
		"/ripe/ip/185.0.5.1":        {{status: 200, body: strings.Repeat(" ", 3<<20)}},
		"/ripe/ip/185.0.6.1":        {{status: 403, body: "forbidden"}},
		"/apnic/ip/203.0.113.5":     {{status: 404, file: "error-404.json"}},
		"/apnic/ip/202.0.0.1":       ok("malformed.json"),
		"/afrinic/ip/41.0.0.1":      ok("afrinic-41.0.0.1.json"),
		"/afrinic/autnum/64500":     ok("afrinic-autnum-64500.json"),
		"/afrinic/ip/41.0.0.2":      ok("afrinic-41.0.0.1.json"),
		"/afrinic/autnum/64501":     {{status: 404}},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func mustRead(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/rdap/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (f *fakeRDAP) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	f.mu.Lock()
	n := f.hits[path]
	f.hits[path]++
	steps, ok := f.script[path]
	f.mu.Unlock()
	if strings.HasPrefix(path, "/ratelimited/ip/") {
		// Any address: a one-address network, so every query is a miss.
		ip := strings.TrimPrefix(path, "/ratelimited/ip/")
		w.Header().Set("Content-Type", "application/rdap+json")
		fmt.Fprintf(w, `{"objectClassName":"ip network","startAddress":%q,"endAddress":%q,"entities":[{"roles":["abuse"],"vcardArray":["vcard",[["email",{},"text","abuse@five.example"]]]}]}`, ip, ip)
		return
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Accept") == "" || r.Header.Get("User-Agent") == "" {
		f.t.Errorf("%s: request without Accept or User-Agent", path)
	}
	st := steps[min(n, len(steps)-1)]
	for k, v := range st.header {
		w.Header().Set(k, v)
	}
	body := st.body
	if st.file != "" {
		body = strings.ReplaceAll(mustRead(f.t, st.file), "{{BASE}}", f.srv.URL)
	}
	if st.status == 200 {
		w.Header().Set("Content-Type", "application/rdap+json")
	}
	w.WriteHeader(st.status)
	fmt.Fprint(w, body)
}

func (f *fakeRDAP) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[path]
}

// fakeClock replaces sleeping: sleeps are recorded and advance the clock,
// so retry tests run instantly and can assert the delays.
type fakeClock struct {
	mu     sync.Mutex
	offset time.Duration
	sleeps []time.Duration
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.offset += d
	return ctx.Err()
}

func (c *fakeClock) recorded() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

func (f *fakeRDAP) client(t *testing.T, opt RDAPOptions) (*RDAPClient, *fakeClock) {
	t.Helper()
	opt.BootstrapURL = f.srv.URL + "/boot"
	if opt.DefaultLimit.Every == 0 {
		opt.DefaultLimit = Limit{Every: time.Microsecond, Burst: 1000}
	}
	c, err := NewRDAPClient(opt)
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{}
	c.sleep, c.now = clk.sleep, clk.now
	return c, clk
}

func rdapDirectory(t *testing.T, c *RDAPClient) *Directory {
	t.Helper()
	d, err := New(Config{
		ASNs: mustASNs(t, "86.54.0.0\t86.54.255.255\t64496\tDE\tTRANSIT-DE\n"+
			"41.0.0.0\t41.0.0.255\t64500\tZA\tEXAMPLE-ISP-AS\n"),
		RDAP:         c,
		Constituency: mustConstituency(t, "c.yaml", "organisations:\n- name: Mine\n  to: me@example.org\n  cidrs: [8.8.8.0/24]\n  domains: [brand.example]\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRDAPResolve(t *testing.T) {
	f := newFakeRDAP(t)
	c, _ := f.client(t, RDAPOptions{})
	d := rdapDirectory(t, c)
	base := f.srv.URL
	tests := []struct {
		ip, host string
		want     Result
	}{
		// A domain rule wins over RDAP: no request is made.
		{"86.54.11.1", "owa.brand.example", Result{
			Match: MatchDomain, Org: Org{Key: "mine", Name: "Mine", To: []string{"me@example.org"}},
			Rule: "domain brand.example of c.yaml:5", Source: "c.yaml:5",
			ASN: 64496, ASName: "TRANSIT-DE", Country: "DE", Network: pfx("86.54.0.0/16"),
		}},
		{"86.54.11.1", "", Result{
			Match: MatchRDAP, Org: Org{Key: "rdap:abuse@whalebone.io", Name: "Whalebone, s.r.o.", To: []string{"abuse@whalebone.io"}},
			Rule: "rdap abuse contact of 86.54.11.0/24 (RIPE)", Source: base + "/ripe/ip/86.54.11.1",
			Prefix: pfx("86.54.11.0/24"), ASN: 64496, ASName: "TRANSIT-DE", Country: "DE", Network: pfx("86.54.0.0/16"),
		}},
		// The constituency wins over RDAP: no request is made.
		{"8.8.8.8", "", Result{
			Match: MatchPrefix, Org: Org{Key: "mine", Name: "Mine", To: []string{"me@example.org"}},
			Rule: "prefix 8.8.8.0/24 of c.yaml:4", Source: "c.yaml:4", Prefix: pfx("8.8.8.0/24"),
		}},
		// ARIN refers to RIPE; the redirect is followed.
		{"8.8.4.4", "", Result{
			Match: MatchRDAP, Org: Org{Key: "rdap:abuse@whalebone.io", Name: "Whalebone, s.r.o.", To: []string{"abuse@whalebone.io"}},
			Rule: "rdap abuse contact of 8.8.4.0/24 (RIPE)", Source: base + "/ripe/ip/8.8.4.4", Prefix: pfx("8.8.4.0/24"),
		}},
		{"2001:db8:1234::1", "", Result{
			Match: MatchRDAP, Org: Org{Key: "rdap:abuse@v6.example.net", Name: "Example IPv6 Networks", To: []string{"abuse@v6.example.net"}},
			Rule: "rdap abuse contact of 2001:db8:1200::/40 (RIPE)", Source: base + "/ripe/ip/2001:db8:1234::1", Prefix: pfx("2001:db8:1200::/40"),
		}},
		// No abuse entity on the network: the AS's abuse contact is used.
		{"41.0.0.1", "", Result{
			Match: MatchRDAP, Org: Org{Key: "rdap:abuse@isp.example.za", Name: "Example ISP Ltd", To: []string{"abuse@isp.example.za"}},
			Rule: "rdap abuse contact of AS64500 (AFRINIC)", Source: base + "/afrinic/autnum/64500", Prefix: pfx("41.0.0.0/24"),
			ASN: 64500, ASName: "EXAMPLE-ISP-AS", Country: "ZA", Network: pfx("41.0.0.0/24"),
		}},
		// 404: no owner, no error.
		{"203.0.113.5", "", Result{}},
		// Private space: no registry to ask, no request.
		{"10.1.2.3", "", Result{}},
	}
	for _, tt := range tests {
		if tt.host != "" && totalHits(f) != 0 {
			t.Fatal("test order: the domain case must come first")
		}
		got, err := d.Resolve(context.Background(), netip.MustParseAddr(tt.ip), tt.host)
		if tt.host != "" && totalHits(f) != 0 {
			t.Errorf("domain match still asked RDAP")
		}
		if err != nil {
			t.Errorf("Resolve(%s): %v", tt.ip, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
			t.Errorf("Resolve(%s) (-want +got):\n%s", tt.ip, diff)
		}
	}
	if n := f.count("/arin/ip/8.8.8.8"); n != 0 {
		t.Errorf("constituency match still asked RDAP %d times", n)
	}

	// Every answer above is cached per prefix: asking again, or for another
	// address in the same network, sends nothing.
	before := totalHits(f)
	for _, ip := range []string{"86.54.11.1", "86.54.11.200", "8.8.4.4", "2001:db8:12ff::9", "41.0.0.77", "203.0.113.5"} {
		if _, err := d.Resolve(context.Background(), netip.MustParseAddr(ip), ""); err != nil {
			t.Errorf("Resolve(%s) again: %v", ip, err)
		}
	}
	if after := totalHits(f); after != before {
		t.Errorf("cached lookups sent %d requests", after-before)
	}
	if n := f.count("/boot/ipv4.json"); n != 1 {
		t.Errorf("bootstrap fetched %d times, want 1", n)
	}
}

func totalHits(f *fakeRDAP) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, v := range f.hits {
		n += v
	}
	return n
}

func TestRDAPRetries(t *testing.T) {
	f := newFakeRDAP(t)
	c, clk := f.client(t, RDAPOptions{BackoffBase: 100 * time.Millisecond, MaxAttempts: 4, MaxWait: time.Minute})
	ctx := context.Background()

	// 429 with Retry-After: 3, then 200. The wait is exactly Retry-After.
	ct, err := c.AbuseContact(ctx, netip.MustParseAddr("200.1.2.3"), netip.Prefix{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"abuse@telecom.example.br"}, ct.Emails); diff != "" || ct.Registry != "LACNIC" {
		t.Errorf("after 429: %+v", ct)
	}
	if got := f.count("/lacnic/ip/200.1.2.3"); got != 2 {
		t.Errorf("requests = %d, want 2", got)
	}
	if s := clk.recorded(); len(s) != 1 || s[0] < 2900*time.Millisecond || s[0] > 3*time.Second {
		t.Errorf("sleeps = %v, want one of 3s", s)
	}

	// 503, 502, then 200: two exponential backoffs with jitter.
	clk.sleeps = nil
	ct, err = c.AbuseContact(ctx, netip.MustParseAddr("185.0.0.1"), netip.Prefix{}, 0)
	if err != nil || len(ct.Emails) != 1 {
		t.Fatalf("after 5xx: %+v, %v", ct, err)
	}
	s := clk.recorded()
	if len(s) != 2 || s[0] < 50*time.Millisecond || s[0] > 100*time.Millisecond || s[1] < 100*time.Millisecond || s[1] > 200*time.Millisecond {
		t.Errorf("backoff sleeps = %v, want [50ms..100ms, 100ms..200ms]", s)
	}

	// Always 503: gives up after MaxAttempts, and does not cache the failure.
	_, err = c.AbuseContact(ctx, netip.MustParseAddr("185.0.1.1"), netip.Prefix{}, 0)
	var re *RDAPError
	if !errors.As(err, &re) || re.Status != 503 {
		t.Fatalf("always 503: err = %v", err)
	}
	if got := f.count("/ripe/ip/185.0.1.1"); got != 4 {
		t.Errorf("requests = %d, want 4", got)
	}
	c.AbuseContact(ctx, netip.MustParseAddr("185.0.1.1"), netip.Prefix{}, 0)
	if got := f.count("/ripe/ip/185.0.1.1"); got != 8 {
		t.Errorf("failure was cached: requests = %d, want 8", got)
	}

	// A Retry-After beyond MaxWait fails at once instead of stalling.
	_, err = c.AbuseContact(ctx, netip.MustParseAddr("185.0.2.1"), netip.Prefix{}, 0)
	if err == nil || !strings.Contains(err.Error(), "Retry-After 1h0m0s exceeds the 1m0s limit") {
		t.Errorf("long Retry-After: err = %v", err)
	}
	if got := f.count("/ripe/ip/185.0.2.1"); got != 1 {
		t.Errorf("requests = %d, want 1", got)
	}
}

func TestRDAPBadAnswers(t *testing.T) {
	f := newFakeRDAP(t)
	c, _ := f.client(t, RDAPOptions{MaxAttempts: 2, BackoffBase: time.Millisecond})
	tests := []struct{ ip, want string }{
		{"202.0.0.1", "malformed RDAP JSON: unexpected EOF"},
		{"185.0.3.1", `objectClassName "entity", want "ip network"`},
		{"185.0.4.1", "network 86.54.11.0-86.54.11.255 does not contain 185.0.4.1"},
		{"185.0.5.1", "response larger than 2097152 bytes"},
		{"185.0.6.1", "HTTP 403: Forbidden"},
	}
	for _, tt := range tests {
		_, err := c.AbuseContact(context.Background(), netip.MustParseAddr(tt.ip), netip.Prefix{}, 0)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.ip, err, tt.want)
		}
		// Failures are not cached.
		c.AbuseContact(context.Background(), netip.MustParseAddr(tt.ip), netip.Prefix{}, 0)
	}
	if got := f.count("/apnic/ip/202.0.0.1"); got != 2 {
		t.Errorf("malformed answer was cached: %d requests, want 2", got)
	}

	// The AS has no RDAP object either (404): no contact, no error.
	ct, err := c.AbuseContact(context.Background(), netip.MustParseAddr("41.0.0.2"), netip.Prefix{}, 64501)
	if err != nil || len(ct.Emails) != 0 || ct.Prefix != pfx("41.0.0.0/24") {
		t.Errorf("no abuse anywhere: %+v, %v", ct, err)
	}
}

func TestRDAPNegativeCache(t *testing.T) {
	f := newFakeRDAP(t)
	c, _ := f.client(t, RDAPOptions{})
	ctx := context.Background()
	routed := pfx("203.0.113.0/24")
	for _, ip := range []string{"203.0.113.5", "203.0.113.5", "203.0.113.99"} {
		ct, err := c.AbuseContact(ctx, netip.MustParseAddr(ip), routed, 0)
		if err != nil || len(ct.Emails) != 0 || ct.Prefix != routed {
			t.Errorf("%s: %+v, %v", ip, ct, err)
		}
	}
	// The 404 is remembered for the routed prefix: one request in all.
	if got := f.count("/apnic/ip/203.0.113.5"); got != 1 {
		t.Errorf("requests = %d, want 1", got)
	}
}

func TestRDAPRateLimit(t *testing.T) {
	f := newFakeRDAP(t)
	const every = 40 * time.Millisecond
	c, err := NewRDAPClient(RDAPOptions{
		BootstrapURL: f.srv.URL + "/boot",
		Limits:       map[string]Limit{f.srv.URL + "/ratelimited/": {Every: every, Burst: 1}},
		DefaultLimit: Limit{Every: time.Microsecond, Burst: 100},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c.bootstrap(ctx) // not rate-limited by the registry's limit
	start := time.Now()
	const n = 6
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Different /24s, so the queries cannot share a flight.
			ip := netip.AddrFrom4([4]byte{5, byte(i), 0, 1})
			if ct, err := c.AbuseContact(ctx, ip, netip.Prefix{}, 0); err != nil || len(ct.Emails) != 1 {
				t.Errorf("%s: %+v, %v", ip, ct, err)
			}
		}()
	}
	wg.Wait()
	// Burst 1: the first request goes at once, the other n-1 wait a slot.
	if el := time.Since(start); el < (n-1)*every-5*time.Millisecond {
		t.Errorf("%d requests took %s, want at least %s", n, el, (n-1)*every)
	}
}

func TestRDAPConcurrentSameNetwork(t *testing.T) {
	f := newFakeRDAP(t)
	c, _ := f.client(t, RDAPOptions{})
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ip := netip.MustParseAddr("86.54.11.1")
			if i%2 == 1 {
				ip = netip.MustParseAddr("86.54.11.77")
			}
			ct, err := c.AbuseContact(ctx, ip, pfx("86.54.0.0/16"), 0)
			if err != nil || len(ct.Emails) != 1 {
				t.Errorf("%+v, %v", ct, err)
			}
		}()
	}
	wg.Wait()
	if got := f.count("/ripe/ip/86.54.11.1") + f.count("/ripe/ip/86.54.11.77"); got != 1 {
		t.Errorf("32 concurrent lookups in one network sent %d requests, want 1", got)
	}
}

func TestRDAPContextAndBootstrapFailures(t *testing.T) {
	f := newFakeRDAP(t)
	c, _ := f.client(t, RDAPOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.AbuseContact(ctx, netip.MustParseAddr("86.54.11.1"), netip.Prefix{}, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v", err)
	}

	f.mu.Lock()
	f.script["/boot/ipv6.json"] = []reply{{status: 500}}
	f.mu.Unlock()
	c, _ = f.client(t, RDAPOptions{MaxAttempts: 1})
	if _, err := c.AbuseContact(context.Background(), netip.MustParseAddr("86.54.11.1"), netip.Prefix{}, 0); err == nil || !strings.Contains(err.Error(), "bootstrap") {
		t.Errorf("broken bootstrap: err = %v", err)
	}
	// The failure is remembered for a while rather than retried per address.
	c.AbuseContact(context.Background(), netip.MustParseAddr("86.54.11.2"), netip.Prefix{}, 0)
	if got := f.count("/boot/ipv6.json"); got != 1 {
		t.Errorf("bootstrap retried at once: %d requests", got)
	}

	for _, bad := range []string{"ftp://x/", "not a url", "https://"} {
		if _, err := NewRDAPClient(RDAPOptions{BootstrapURL: bad}); err == nil {
			t.Errorf("NewRDAPClient(%q): want error", bad)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"7", 7 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"Thu, 26 Nov 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Thu, 26 Nov 2026 11:00:00 GMT", 0, true},
		{"99999999999999", (1 << 20) * time.Second, true},
	}
	for _, tt := range tests {
		got, ok := retryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseVCard(t *testing.T) {
	tests := []struct {
		name, in string
		emails   []string
		fn       string
	}{
		{"plain", `["vcard",[["version",{},"text","4.0"],["fn",{},"text","Abuse"],["email",{"type":"abuse"},"text","ABUSE@Example.NET"]]]`, []string{"abuse@example.net"}, "Abuse"},
		{"mailto and duplicates", `["vcard",[["email",{},"text","mailto:a@example.net"],["EMAIL",{},"text","a@example.net"],["email",{},"text","b@example.net"]]]`, []string{"a@example.net", "b@example.net"}, ""},
		{"invalid skipped", `["vcard",[["email",{},"text","nope"],["email",{},"text",["a@example.net"]],["email",{}],["email",{},"text","ok@example.net"]]]`, []string{"ok@example.net"}, ""},
		{"not a vcard", `["jcard",[["email",{},"text","a@example.net"]]]`, nil, ""},
		{"wrong shape", `{"email":"a@example.net"}`, nil, ""},
		{"empty", ``, nil, ""},
	}
	for _, tt := range tests {
		emails, fn := parseVCard(json.RawMessage(tt.in))
		if diff := cmp.Diff(tt.emails, emails); diff != "" || fn != tt.fn {
			t.Errorf("%s: emails (-want +got):\n%s fn=%q", tt.name, diff, fn)
		}
	}
}

func TestAbuseEmailsBounded(t *testing.T) {
	// A deep and wide hostile entity tree: the walk stops at the caps.
	leaf := rdapEntity{Roles: []string{"abuse"}, VCardArray: json.RawMessage(`["vcard",[["email",{},"text","deep@example.net"]]]`)}
	e := leaf
	for range 20 {
		e = rdapEntity{Roles: []string{"technical"}, Entities: []rdapEntity{e}}
	}
	if got, _ := abuseEmails([]rdapEntity{e}); len(got) != 0 {
		t.Errorf("abuse entity below the depth cap was used: %v", got)
	}
	var wide []rdapEntity
	for i := range 2000 {
		wide = append(wide, rdapEntity{Roles: []string{"Abuse"}, VCardArray: json.RawMessage(fmt.Sprintf(`["vcard",[["email",{},"text","a%d@example.net"]]]`, i))})
	}
	if got, _ := abuseEmails(wide); len(got) != maxAbuseAddrs {
		t.Errorf("got %d addresses, want the cap %d", len(got), maxAbuseAddrs)
	}
}

func TestPickServiceURL(t *testing.T) {
	got := pickServiceURL([]string{"http://rdap.example/rdap", "https://rdap.example/rdap", "ftp://x/"})
	if got == nil || got.String() != "https://rdap.example/rdap/" {
		t.Errorf("pickServiceURL = %v, want the https URL with a trailing slash", got)
	}
	if got := pickServiceURL([]string{"ftp://x/", "::"}); got != nil {
		t.Errorf("pickServiceURL(no http) = %v", got)
	}
}

func TestNetworkPrefixes(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.77")
	tests := []struct {
		name string
		nw   rdapNetwork
		want []netip.Prefix
		err  string
	}{
		{"cidr0", rdapNetwork{Cidr0: []rdapCidr0{{V4Prefix: "192.0.2.0", Length: 24}, {V4Prefix: "198.51.100.0", Length: 24}}},
			[]netip.Prefix{pfx("192.0.2.0/24"), pfx("198.51.100.0/24")}, ""},
		{"cidr0 not containing ip falls back to the range", rdapNetwork{Cidr0: []rdapCidr0{{V4Prefix: "10.0.0.0", Length: 8}}, StartAddress: "192.0.2.64", EndAddress: "192.0.2.127"},
			[]netip.Prefix{pfx("192.0.2.64/26")}, ""},
		{"range splits", rdapNetwork{StartAddress: "192.0.2.0", EndAddress: "192.0.2.199"},
			[]netip.Prefix{pfx("192.0.2.0/25"), pfx("192.0.2.128/26"), pfx("192.0.2.192/29")}, ""},
		{"bad cidr0 entries skipped", rdapNetwork{Cidr0: []rdapCidr0{{V4Prefix: "192.0.2.0", Length: 33}, {V6Prefix: "x"}}, StartAddress: "192.0.2.0", EndAddress: "192.0.2.255"},
			[]netip.Prefix{pfx("192.0.2.0/24")}, ""},
		{"no addresses", rdapNetwork{}, nil, "no usable cidr0_cidrs"},
		{"zone", rdapNetwork{StartAddress: "fe80::%eth0", EndAddress: "fe80::1"}, nil, "no usable cidr0_cidrs"},
		{"elsewhere", rdapNetwork{StartAddress: "198.51.100.0", EndAddress: "198.51.100.255"}, nil, "does not contain 192.0.2.77"},
	}
	for _, tt := range tests {
		got, err := tt.nw.prefixes(ip)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err = %v, want %q", tt.name, err, tt.err)
			}
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" || err != nil {
			t.Errorf("%s: %v (-want +got):\n%s", tt.name, err, diff)
		}
	}
	// A range that splits into more than 64 prefixes keeps 64, including
	// the one with the address.
	ip6 := netip.MustParseAddr("2001:db8:ffff:ffff:ffff:ffff:ffff:fffe")
	got, err := (&rdapNetwork{StartAddress: "2001:db8::1", EndAddress: "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe"}).prefixes(ip6)
	if err != nil || len(got) != 64 || !got[63].Contains(ip6) {
		t.Errorf("long range: %d prefixes, last %v, err %v", len(got), got[len(got)-1], err)
	}
}

func TestRegistryName(t *testing.T) {
	tests := []struct{ final, port43, want string }{
		{"https://rdap.db.ripe.net/ip/86.54.11.1", "", "RIPE"},
		{"https://rdap.arin.net/registry/ip/8.8.8.8", "whois.ripe.net", "ARIN"},
		{"http://127.0.0.1:8080/x/ip/1.2.3.4", " WHOIS.LACNIC.NET ", "LACNIC"},
		{"https://rdap.example.net/ip/1.2.3.4", "whois.example.net", "rdap.example.net"},
		{"://bad", "", "unknown"},
	}
	for _, tt := range tests {
		if got := registryName(tt.final, tt.port43); got != tt.want {
			t.Errorf("registryName(%q, %q) = %q, want %q", tt.final, tt.port43, got, tt.want)
		}
	}
}

// TestRDAPCachesOnlyTheRegistrysSpace: a network answer that lists prefixes
// outside the answering registry's bootstrap space (another registry's, or
// a huge one) caches the contact only for the registry's own prefixes, or
// for the queried address alone.
func TestRDAPCachesOnlyTheRegistrysSpace(t *testing.T) {
	f := newFakeRDAP(t)
	hostile := func(start, end, cidrs string) []reply {
		return []reply{{status: 200, body: `{"objectClassName":"ip network","startAddress":"` + start + `","endAddress":"` + end +
			`","cidr0_cidrs":[` + cidrs + `],"entities":[{"roles":["abuse"],"vcardArray":["vcard",[["email",{},"text","abuse@greedy.example"]]]}]}`}}
	}
	f.script["/ripe/ip/185.0.7.1"] = hostile("185.0.7.0", "185.0.7.255",
		`{"v4prefix":"185.0.7.0","length":24},{"v4prefix":"8.8.0.0","length":16},{"v4prefix":"0.0.0.0","length":1}`)
	f.script["/ripe/ip/185.0.8.1"] = hostile("128.0.0.0", "255.255.255.255", `{"v4prefix":"128.0.0.0","length":1}`)
	c, _ := f.client(t, RDAPOptions{})
	ctx := context.Background()

	ct, err := c.AbuseContact(ctx, netip.MustParseAddr("185.0.7.1"), netip.Prefix{}, 0)
	if err != nil || ct.Prefix != pfx("185.0.7.0/24") || len(ct.Emails) != 1 {
		t.Fatalf("185.0.7.1: %+v, %v", ct, err)
	}
	for _, other := range []string{"8.8.8.8/32", "1.2.3.4/32"} {
		if got, ok, _ := c.cache.Get(ctx, pfx(other)); ok {
			t.Errorf("%s answered from the cache by another registry's claim: %+v", other, got)
		}
	}

	ct, err = c.AbuseContact(ctx, netip.MustParseAddr("185.0.8.1"), netip.Prefix{}, 0)
	if err != nil || ct.Prefix != pfx("185.0.8.1/32") || len(ct.Emails) != 1 {
		t.Fatalf("185.0.8.1: %+v, %v; want the contact for the address alone", ct, err)
	}
	if got, ok, _ := c.cache.Get(ctx, pfx("200.1.2.3/32")); ok {
		t.Errorf("LACNIC space answered from a RIPE /1: %+v", got)
	}
}
