package owners

import (
	"context"
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

const ripestatPath = "/data/abuse-contact-finder/data.json"

// ripestatOK is an abuse-contact-finder answer with the given contacts
// (already JSON) and RIR.
func ripestatOK(contacts, rir string) string {
	return `{"messages":[],"data":{"abuse_contacts":` + contacts + `,"authoritative_rir":"` + rir + `","parameters":{"resource":"x"}},"status":"ok","status_code":200}`
}

// fakeRIPEstat is a local RIPEstat Data API: scripts of replies per
// resource (the last reply repeats). It counts requests per resource and
// checks that each one identifies us.
type fakeRIPEstat struct {
	t   *testing.T
	srv *httptest.Server

	mu     sync.Mutex
	script map[string][]reply
	hits   map[string]int
}

func newFakeRIPEstat(t *testing.T) *fakeRIPEstat {
	f := &fakeRIPEstat{t: t, hits: map[string]int{}}
	ok := func(body string) []reply { return []reply{{status: 200, body: body}} }
	file, err := os.ReadFile("testdata/ripestat/86.54.11.1.json")
	if err != nil {
		t.Fatal(err)
	}
	f.script = map[string][]reply{
		"86.54.11.1":       ok(string(file)),
		"2001:db8:1234::1": ok(ripestatOK(`["abuse@v6.example.net"]`, "ripe")),
		"198.51.100.7":     ok(ripestatOK(`[]`, "arin")),
		"198.51.100.8":     ok(`{"status":"ok","data":{}}`),
		"192.0.2.1":        {{status: 429, header: map[string]string{"Retry-After": "3"}}, {status: 200, body: ripestatOK(`["a@one.example"]`, "ripe")}},
		"192.0.3.1":        {{status: 503}, {status: 502}, {status: 200, body: ripestatOK(`["a@three.example"]`, "ripe")}},
		"192.0.4.1":        {{status: 500}},
		"192.0.5.1":        {{status: 429, header: map[string]string{"Retry-After": "3600"}}},
		"192.0.6.1":        {{status: 400, body: `{"status":"error","messages":[["error","bad resource"]]}`}},
		"192.0.7.1":        ok(`{"status":"error","messages":[["error","Internal\nerror"]],"data":{"abuse_contacts":["x@evil.example"]}}`),
		"192.0.8.1":        ok(strings.Repeat(" ", 300<<10)),
		"192.0.9.1":        ok(`{"status":"ok","data":{"abuse_contacts":["x@y.example"]`),
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRIPEstat) serve(w http.ResponseWriter, r *http.Request) {
	res := r.URL.Query().Get("resource")
	if r.URL.Path != ripestatPath || r.URL.Query().Get("sourceapp") != "exsweep" || r.Header.Get("User-Agent") == "" {
		f.t.Errorf("unexpected request %s (User-Agent %q)", r.URL, r.Header.Get("User-Agent"))
	}
	f.mu.Lock()
	n := f.hits[res]
	f.hits[res]++
	steps, ok := f.script[res]
	f.mu.Unlock()
	if strings.HasPrefix(res, "5.") {
		// Any address: a fresh answer, for the rate limit test.
		fmt.Fprint(w, ripestatOK(`["abuse@five.example"]`, "ripe"))
		return
	}
	if !ok {
		w.WriteHeader(404)
		fmt.Fprint(w, `{"status":"error"}`)
		return
	}
	st := steps[min(n, len(steps)-1)]
	for k, v := range st.header {
		w.Header().Set(k, v)
	}
	if st.status == 200 {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(st.status)
	fmt.Fprint(w, st.body)
}

func (f *fakeRIPEstat) count(res string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[res]
}

func (f *fakeRIPEstat) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, v := range f.hits {
		n += v
	}
	return n
}

func (f *fakeRIPEstat) client(t *testing.T, opt RIPEstatOptions) (*RIPEstatClient, *fakeClock) {
	t.Helper()
	opt.BaseURL = f.srv.URL
	if opt.Limit.Every == 0 {
		opt.Limit = Limit{Every: time.Microsecond, Burst: 1000}
	}
	c, err := NewRIPEstatClient(opt)
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{}
	c.sleep, c.now = clk.sleep, clk.now
	return c, clk
}

func TestParseRIPEstat(t *testing.T) {
	long := strings.Repeat("a", 250) + "@example.net"
	many := make([]string, 100)
	for i := range many {
		many[i] = fmt.Sprintf(`"abuse%d@example.net"`, i)
	}
	tests := []struct {
		name, body string
		emails     []string
		rir        string
		err        string
	}{
		{name: "ok", body: ripestatOK(`["abuse@example.net"]`, "ripe"), emails: []string{"abuse@example.net"}, rir: "RIPE"},
		{name: "recorded shape", body: mustReadFile(t, "testdata/ripestat/86.54.11.1.json"), emails: []string{"abuse@whalebone.io"}, rir: "RIPE"},
		{name: "empty contacts", body: ripestatOK(`[]`, "arin"), rir: "ARIN"},
		{name: "null contacts", body: `{"status":"ok","data":{"abuse_contacts":null}}`},
		{name: "contacts not a list", body: `{"status":"ok","data":{"abuse_contacts":"abuse@example.net"}}`},
		{name: "no data", body: `{"status":"ok"}`},
		{name: "data not an object", body: `{"status":"ok","data":[1,2]}`},
		{name: "odd rir", body: `{"status":"ok","data":{"abuse_contacts":["a@b.example"],"authoritative_rir":{"x":1}}}`, emails: []string{"a@b.example"}},
		{name: "unknown rir dropped", body: ripestatOK(`["a@b.example"]`, `evil\r\nX-Header: 1`), emails: []string{"a@b.example"}},
		{name: "status error", body: `{"status":"error","messages":[["error","The resource is not valid"]]}`, err: `RIPEstat status "error": The resource is not valid`},
		{name: "status error with contacts", body: `{"status":"error","data":{"abuse_contacts":["x@evil.example"]}}`, err: `RIPEstat status "error"`},
		{name: "status missing", body: `{"data":{"abuse_contacts":["x@evil.example"]}}`, err: `RIPEstat status ""`},
		{name: "status hostile", body: `{"status":"` + strings.Repeat("\\u0007", 100) + `","messages":[["error","` + strings.Repeat("\\n", 100) + `"]]}`, err: `RIPEstat status`},
		{name: "garbage", body: `<html>maintenance</html>`, err: "malformed RIPEstat JSON"},
		{name: "truncated", body: `{"status":"ok","data":{`, err: "malformed RIPEstat JSON: unexpected EOF"},
		{name: "trailing data", body: ripestatOK(`[]`, "ripe") + `{"status":"ok"}`, err: "data after the object"},
		{name: "not an object", body: `["abuse@example.net"]`, err: "malformed RIPEstat JSON"},
		{name: "hostile e-mails", body: ripestatOK(`[
			"", 5, null, {"a":1}, ["x@y.example"],
			"abuse@example.net\r\nBcc: victim@example.org",
			"not an address", "x@[192.0.2.1]", "x@localhost", "jöran@example.net",
			"`+long+`", "<script>@example.net",
			"Abuse Desk <Desk@Example.NET>", "desk@example.net", "mailto:y@example.net"
		]`, "ripe"), emails: []string{"desk@example.net"}, rir: "RIPE"},
		{name: "many contacts", body: ripestatOK("["+strings.Join(many, ",")+"]", "ripe"),
			emails: []string{"abuse0@example.net", "abuse1@example.net", "abuse2@example.net", "abuse3@example.net", "abuse4@example.net", "abuse5@example.net", "abuse6@example.net", "abuse7@example.net"}, rir: "RIPE"},
	}
	for _, tt := range tests {
		emails, rir, err := parseRIPEstat([]byte(tt.body))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err = %v, want %q", tt.name, err, tt.err)
			}
			if err != nil && (strings.ContainsAny(err.Error(), "\n\r\a") || len(err.Error()) > 300) {
				t.Errorf("%s: error message not cleaned: %q", tt.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.emails, emails); diff != "" || rir != tt.rir {
			t.Errorf("%s: rir %q (want %q), emails (-want +got):\n%s", tt.name, rir, tt.rir, diff)
		}
	}
}

func mustReadFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRIPEstatClient(t *testing.T) {
	f := newFakeRIPEstat(t)
	c, _ := f.client(t, RIPEstatOptions{})
	ctx := context.Background()
	ct, err := c.AbuseContact(ctx, netip.MustParseAddr("86.54.11.1"))
	if err != nil {
		t.Fatal(err)
	}
	want := Contact{Prefix: pfx("86.54.11.0/24"), Registry: "RIPE", Emails: []string{"abuse@whalebone.io"},
		URL: f.srv.URL + ripestatPath + "?resource=86.54.11.1&sourceapp=exsweep", Source: "ripestat", Resource: "86.54.11.1"}
	if diff := cmp.Diff(want, ct, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }), cmp.FilterPath(func(p cmp.Path) bool {
		return p.String() == "Fetched"
	}, cmp.Ignore())); diff != "" {
		t.Errorf("contact (-want +got):\n%s", diff)
	}
	// The /24 shares the answer (also IPv4-mapped), as does the /48 for IPv6.
	for _, ip := range []string{"86.54.11.1", "86.54.11.200", "::ffff:86.54.11.9"} {
		if ct, err := c.AbuseContact(ctx, netip.MustParseAddr(ip)); err != nil || ct.Emails[0] != "abuse@whalebone.io" || ct.Prefix != pfx("86.54.11.0/24") {
			t.Errorf("%s: %+v, %v", ip, ct, err)
		}
	}
	for _, ip := range []string{"2001:db8:1234::1", "2001:db8:1234:ffff::2"} {
		if ct, err := c.AbuseContact(ctx, netip.MustParseAddr(ip)); err != nil || len(ct.Emails) != 1 || ct.Prefix != pfx("2001:db8:1234::/48") {
			t.Errorf("%s: %+v, %v", ip, ct, err)
		}
	}
	// "No contact" is an answer, cached too.
	for range 2 {
		if ct, err := c.AbuseContact(ctx, netip.MustParseAddr("198.51.100.7")); err != nil || len(ct.Emails) != 0 || ct.Registry != "ARIN" {
			t.Errorf("no contact: %+v, %v", ct, err)
		}
	}
	if f.count("86.54.11.1") != 1 || f.count("2001:db8:1234::1") != 1 || f.count("198.51.100.7") != 1 || f.total() != 3 {
		t.Errorf("requests %v, want one per block", f.hits)
	}
	// Private, loopback, link-local and multicast addresses are never sent.
	for _, ip := range []string{"10.1.2.3", "192.168.1.1", "127.0.0.1", "169.254.1.1", "fd00::1", "fe80::1", "ff02::1", "0.0.0.0"} {
		if ct, err := c.AbuseContact(ctx, netip.MustParseAddr(ip)); err != nil || len(ct.Emails) != 0 {
			t.Errorf("%s: %+v, %v", ip, ct, err)
		}
	}
	if f.total() != 3 {
		t.Errorf("non-public addresses were sent: %v", f.hits)
	}
}

func TestRIPEstatRetries(t *testing.T) {
	f := newFakeRIPEstat(t)
	c, clk := f.client(t, RIPEstatOptions{BackoffBase: 100 * time.Millisecond, MaxAttempts: 4, MaxWait: time.Minute})
	ctx := context.Background()

	// 429 with Retry-After: 3, then 200: one wait of Retry-After.
	ct, err := c.AbuseContact(ctx, netip.MustParseAddr("192.0.2.1"))
	if err != nil || len(ct.Emails) != 1 {
		t.Fatalf("after 429: %+v, %v", ct, err)
	}
	if s := clk.recorded(); f.count("192.0.2.1") != 2 || len(s) != 1 || s[0] < 2900*time.Millisecond || s[0] > 3*time.Second {
		t.Errorf("429: %d requests, sleeps %v; want 2 and one of 3s", f.count("192.0.2.1"), s)
	}

	// 503, 502, then 200: two exponential backoffs with jitter.
	clk.mu.Lock()
	clk.sleeps = nil
	clk.mu.Unlock()
	if ct, err := c.AbuseContact(ctx, netip.MustParseAddr("192.0.3.1")); err != nil || len(ct.Emails) != 1 {
		t.Fatalf("after 5xx: %+v, %v", ct, err)
	}
	s := clk.recorded()
	if len(s) != 2 || s[0] < 50*time.Millisecond || s[0] > 100*time.Millisecond || s[1] < 100*time.Millisecond || s[1] > 200*time.Millisecond {
		t.Errorf("backoff sleeps = %v, want [50ms..100ms, 100ms..200ms]", s)
	}

	// Always 500: gives up after MaxAttempts and does not cache the failure.
	for i := range 2 {
		_, err = c.AbuseContact(ctx, netip.MustParseAddr("192.0.4.1"))
		var se *RIPEstatError
		if !errors.As(err, &se) || se.Status != 500 {
			t.Fatalf("always 500: err = %v", err)
		}
		if got := f.count("192.0.4.1"); got != 4*(i+1) {
			t.Errorf("requests = %d, want %d", got, 4*(i+1))
		}
	}

	// A Retry-After beyond MaxWait fails at once instead of stalling.
	_, err = c.AbuseContact(ctx, netip.MustParseAddr("192.0.5.1"))
	if err == nil || !strings.Contains(err.Error(), "Retry-After 1h0m0s exceeds the 1m0s limit") || f.count("192.0.5.1") != 1 {
		t.Errorf("long Retry-After: %d requests, err = %v", f.count("192.0.5.1"), err)
	}

	// Other failures are not retried.
	c2, _ := f.client(t, RIPEstatOptions{MaxAttempts: 3, BackoffBase: time.Millisecond, MaxResponseBytes: 256 << 10})
	for ip, want := range map[string]string{
		"192.0.6.1": "HTTP 400: Bad Request",
		"192.0.7.1": `RIPEstat status "error": Internal error`,
		"192.0.8.1": "response larger than 262144 bytes",
		"192.0.9.1": "malformed RIPEstat JSON: unexpected EOF",
	} {
		_, err := c2.AbuseContact(ctx, netip.MustParseAddr(ip))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", ip, err, want)
		}
		if n := f.count(ip); n != 1 {
			t.Errorf("%s: %d requests, want 1", ip, n)
		}
	}
}

// TestRIPEstatRateLimit checks the configured limiter and that a 429 holds
// back every request, not just the one that got it, without timing
// assertions: the fake clock records the waits.
func TestRIPEstatRateLimit(t *testing.T) {
	c, err := NewRIPEstatClient(RIPEstatOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.svc.lim.Limit() != 4 || c.svc.lim.Burst() != 4 || c.base.String() != "https://stat.ripe.net" || c.opt.SourceApp != "exsweep" {
		t.Errorf("defaults: %v/s burst %d, %s, sourceapp %q", c.svc.lim.Limit(), c.svc.lim.Burst(), c.base, c.opt.SourceApp)
	}
	for _, bad := range []string{"ftp://x", "://", "http://", "https://x/?a=b"} {
		if _, err := NewRIPEstatClient(RIPEstatOptions{BaseURL: bad}); err == nil {
			t.Errorf("base URL %q accepted", bad)
		}
	}

	f := newFakeRIPEstat(t)
	c, clk := f.client(t, RIPEstatOptions{MaxWait: time.Minute})
	ctx := context.Background()
	if _, err := c.AbuseContact(ctx, netip.MustParseAddr("192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	// The 429's Retry-After (3 s) was waited once; the client remembers
	// until when it must hold back. A later request after that instant
	// does not wait again.
	if s := clk.recorded(); len(s) != 1 {
		t.Fatalf("sleeps = %v", s)
	}
	c.svc.mu.Lock()
	nb := c.svc.notBefore
	c.svc.mu.Unlock()
	if nb.IsZero() || nb.After(clk.now()) {
		t.Errorf("notBefore = %v, now = %v", nb, clk.now())
	}
	if _, err := c.AbuseContact(ctx, netip.MustParseAddr("5.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if s := clk.recorded(); len(s) != 1 {
		t.Errorf("waited again after the hold-back: %v", s)
	}
	// While held back, every request waits.
	c.svc.mu.Lock()
	c.svc.notBefore = clk.now().Add(5 * time.Second)
	c.svc.mu.Unlock()
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.AbuseContact(ctx, netip.AddrFrom4([4]byte{5, byte(i + 1), 0, 1}))
		}()
	}
	wg.Wait()
	if s := clk.recorded(); len(s) < 2 {
		t.Errorf("held-back requests did not wait: %v", s)
	}
}

// TestRIPEstatSharedCache: one Cache serves RDAP and RIPEstat, and neither
// answers for the other although both cache 86.54.11.0/24.
func TestRIPEstatSharedCache(t *testing.T) {
	rd := newFakeRDAP(t)
	st := newFakeRIPEstat(t)
	st.script["86.54.11.1"] = []reply{{status: 200, body: ripestatOK(`["other@stat.example"]`, "ripe")}}
	cache := NewMemoryCache(0, 0)
	rc, _ := rd.client(t, RDAPOptions{Cache: cache})
	sc, _ := st.client(t, RIPEstatOptions{Cache: cache})
	ctx := context.Background()
	ip := netip.MustParseAddr("86.54.11.1")
	for range 2 {
		a, err := sc.AbuseContact(ctx, ip)
		if err != nil || a.Emails[0] != "other@stat.example" {
			t.Fatalf("ripestat: %+v, %v", a, err)
		}
		b, err := rc.AbuseContact(ctx, ip, netip.Prefix{}, 0)
		if err != nil || b.Emails[0] != "abuse@whalebone.io" {
			t.Fatalf("rdap: %+v, %v", b, err)
		}
	}
	if rd.count("/ripe/ip/86.54.11.1") != 1 || st.count("86.54.11.1") != 1 || cache.Len() != 2 {
		t.Errorf("rdap %d, ripestat %d requests, %d entries; want 1, 1, 2", rd.count("/ripe/ip/86.54.11.1"), st.count("86.54.11.1"), cache.Len())
	}
	// Keys of different blocks and families never meet.
	seen := map[netip.Prefix]netip.Prefix{}
	for _, s := range []string{"86.54.11.0/24", "86.54.12.0/24", "0.0.0.0/24", "255.255.255.0/24", "::/48", "2001:db8:1234::/48", "5654:b00::/48"} {
		k := ripestatKey(pfx(s))
		if !pfx("fd72:6970:6573:7461::/64").Contains(k.Addr()) || k.Masked() != k {
			t.Errorf("ripestatKey(%s) = %s", s, k)
		}
		if o, dup := seen[k]; dup {
			t.Errorf("%s and %s share the key %s", o, s, k)
		}
		seen[k] = pfx(s)
	}
	// A ULA address in our key space does not get a RIPEstat answer from
	// RDAP.
	k := ripestatKey(pfx("86.54.11.0/24"))
	if ct, err := rc.AbuseContact(ctx, k.Addr(), netip.Prefix{}, 0); err != nil || len(ct.Emails) != 0 {
		t.Errorf("rdap for %s: %+v, %v", k.Addr(), ct, err)
	}
}

func TestRIPEstatConcurrentSameBlock(t *testing.T) {
	f := newFakeRIPEstat(t)
	for i := range 16 {
		f.script[fmt.Sprintf("86.54.11.%d", 1+i)] = []reply{{status: 200, body: ripestatOK(`["abuse@example.net"]`, "ripe")}}
	}
	c, _ := f.client(t, RIPEstatOptions{})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ip := netip.AddrFrom4([4]byte{86, 54, 11, byte(1 + i)})
			if ct, err := c.AbuseContact(context.Background(), ip); err != nil || len(ct.Emails) != 1 {
				t.Errorf("%s: %+v, %v", ip, ct, err)
			}
		}()
	}
	wg.Wait()
	if n := f.total(); n != 1 {
		t.Errorf("%d requests for one /24, want 1", n)
	}
}
