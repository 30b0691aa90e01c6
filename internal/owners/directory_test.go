package owners

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustConstituency(t testing.TB, name, text string) *Constituency {
	t.Helper()
	f, err := FormatOf(name)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConstituency(Source{Name: name, Format: f, Reader: strings.NewReader(text)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustASNs(t testing.TB, tsv string) *ASNTable {
	t.Helper()
	b := NewASNTableBuilder()
	if err := b.ReadIPtoASN("asn.tsv", strings.NewReader(tsv)); err != nil {
		t.Fatal(err)
	}
	return b.Table()
}

var pfx = netip.MustParsePrefix

const precedenceYAML = `organisations:
- name: Hoster
  to: abuse@hoster.example
  cidrs: [192.0.2.0/24, "2001:db8::/32"]
  asns: [64500]
- name: Customer
  to: it@customer.example
  language: de
  cidrs: [192.0.2.128/25, "2001:db8:1::/48"]
- name: Single Host
  to: admin@single.example
  cidrs: [192.0.2.200]
- name: Mail Brand
  to: sec@brand.example
  domains: [brand.example, mail.other.example]
- name: Other
  to: sec@other.example
  domains: [other.example]
- name: Transit
  to: noc@transit.example
  asns: [64501]
`

const precedenceTSV = "192.0.2.0\t192.0.2.255\t64500\tDE\tHOSTER-AS\n" +
	"198.51.100.0\t198.51.100.255\t64501\tNL\tTRANSIT-AS\n" +
	"203.0.113.0\t203.0.113.255\t64502\tFR\tUNOWNED-AS\n" +
	"2001:db8::\t2001:db8:ffff:ffff:ffff:ffff:ffff:ffff\t64500\tDE\tHOSTER-AS\n" +
	"2001:db9::\t2001:db9:ffff:ffff:ffff:ffff:ffff:ffff\t64501\tNL\tTRANSIT-AS\n"

func TestLookupPrecedence(t *testing.T) {
	d, err := New(Config{
		Constituency: mustConstituency(t, "c.yaml", precedenceYAML),
		ASNs:         mustASNs(t, precedenceTSV),
	})
	if err != nil {
		t.Fatal(err)
	}
	hoster := Org{Key: "hoster", Name: "Hoster", To: []string{"abuse@hoster.example"}}
	customer := Org{Key: "customer", Name: "Customer", To: []string{"it@customer.example"}, Language: "de"}
	brand := Org{Key: "mail brand", Name: "Mail Brand", To: []string{"sec@brand.example"}}
	other := Org{Key: "other", Name: "Other", To: []string{"sec@other.example"}}
	transit := Org{Key: "transit", Name: "Transit", To: []string{"noc@transit.example"}}
	hosterAS := func(r Result, network string) Result {
		r.ASN, r.ASName, r.Country, r.Network = 64500, "HOSTER-AS", "DE", pfx(network)
		return r
	}
	transitAS := func(r Result, network string) Result {
		r.ASN, r.ASName, r.Country, r.Network = 64501, "TRANSIT-AS", "NL", pfx(network)
		return r
	}
	tests := []struct {
		name, ip, host string
		want           Result
	}{
		{"prefix", "192.0.2.1", "", hosterAS(Result{Match: MatchPrefix, Org: hoster, Rule: "prefix 192.0.2.0/24 of c.yaml:4", Source: "c.yaml:4", Prefix: pfx("192.0.2.0/24")}, "192.0.2.0/24")},
		{"more specific prefix wins", "192.0.2.129", "", hosterAS(Result{Match: MatchPrefix, Org: customer, Rule: "prefix 192.0.2.128/25 of c.yaml:9", Source: "c.yaml:9", Prefix: pfx("192.0.2.128/25")}, "192.0.2.0/24")},
		{"host route wins", "192.0.2.200", "", hosterAS(Result{Match: MatchPrefix, Org: Org{Key: "single host", Name: "Single Host", To: []string{"admin@single.example"}}, Rule: "prefix 192.0.2.200/32 of c.yaml:12", Source: "c.yaml:12", Prefix: pfx("192.0.2.200/32")}, "192.0.2.0/24")},
		{"prefix beats domain", "192.0.2.1", "mail.brand.example", hosterAS(Result{Match: MatchPrefix, Org: hoster, Rule: "prefix 192.0.2.0/24 of c.yaml:4", Source: "c.yaml:4", Prefix: pfx("192.0.2.0/24")}, "192.0.2.0/24")},
		{"domain beats asn", "198.51.100.7", "owa.brand.example", transitAS(Result{Match: MatchDomain, Org: brand, Rule: "domain brand.example of c.yaml:15", Source: "c.yaml:15"}, "198.51.100.0/24")},
		{"domain exact, case and dot", "198.51.100.7", "BRAND.Example.", transitAS(Result{Match: MatchDomain, Org: brand, Rule: "domain brand.example of c.yaml:15", Source: "c.yaml:15"}, "198.51.100.0/24")},
		{"longest domain wins", "203.0.113.9", "x.mail.other.example", Result{Match: MatchDomain, Org: brand, Rule: "domain mail.other.example of c.yaml:15", Source: "c.yaml:15", ASN: 64502, ASName: "UNOWNED-AS", Country: "FR", Network: pfx("203.0.113.0/24")}},
		{"parent domain", "203.0.113.9", "smtp.other.example", Result{Match: MatchDomain, Org: other, Rule: "domain other.example of c.yaml:18", Source: "c.yaml:18", ASN: 64502, ASName: "UNOWNED-AS", Country: "FR", Network: pfx("203.0.113.0/24")}},
		{"suffix is not a parent", "203.0.113.9", "notother.example", Result{ASN: 64502, ASName: "UNOWNED-AS", Country: "FR", Network: pfx("203.0.113.0/24")}},
		{"asn", "198.51.100.7", "", transitAS(Result{Match: MatchASN, Org: transit, Rule: "asn AS64501 of c.yaml:21", Source: "c.yaml:21"}, "198.51.100.0/24")},
		{"unmatched host name falls to asn", "198.51.100.7", "mail.example.com", transitAS(Result{Match: MatchASN, Org: transit, Rule: "asn AS64501 of c.yaml:21", Source: "c.yaml:21"}, "198.51.100.0/24")},
		{"no owner keeps the AS", "203.0.113.9", "", Result{ASN: 64502, ASName: "UNOWNED-AS", Country: "FR", Network: pfx("203.0.113.0/24")}},
		{"not routed", "100.64.0.1", "", Result{}},
		{"ipv6 prefix", "2001:db8:5::1", "", hosterAS(Result{Match: MatchPrefix, Org: hoster, Rule: "prefix 2001:db8::/32 of c.yaml:4", Source: "c.yaml:4", Prefix: pfx("2001:db8::/32")}, "2001:db8::/32")},
		{"ipv6 more specific", "2001:db8:1::25", "", hosterAS(Result{Match: MatchPrefix, Org: customer, Rule: "prefix 2001:db8:1::/48 of c.yaml:9", Source: "c.yaml:9", Prefix: pfx("2001:db8:1::/48")}, "2001:db8::/32")},
		{"ipv6 asn", "2001:db9::25", "", transitAS(Result{Match: MatchASN, Org: transit, Rule: "asn AS64501 of c.yaml:21", Source: "c.yaml:21"}, "2001:db9::/32")},
		{"ipv4-mapped ipv6 is ipv4", "::ffff:192.0.2.129", "", hosterAS(Result{Match: MatchPrefix, Org: customer, Rule: "prefix 192.0.2.128/25 of c.yaml:9", Source: "c.yaml:9", Prefix: pfx("192.0.2.128/25")}, "192.0.2.0/24")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := d.Lookup(netip.MustParseAddr(tt.ip), tt.host)
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("Lookup(%s, %q) (-want +got):\n%s", tt.ip, tt.host, diff)
			}
			if got.Owned() != (tt.want.Match != MatchNone) {
				t.Errorf("Owned() = %v", got.Owned())
			}
		})
	}
	if got := d.Lookup(netip.Addr{}, "brand.example"); got.Owned() {
		t.Errorf("invalid address: got %+v, want no owner", got)
	}
}

func TestLookupWithoutData(t *testing.T) {
	d, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Lookup(netip.MustParseAddr("192.0.2.1"), "x.example"); got.Owned() || got.ASN != 0 {
		t.Errorf("empty directory: %+v", got)
	}
	_, err = New(Config{Constituency: mustConstituency(t, "c.yaml", precedenceYAML)})
	if err == nil || !strings.Contains(err.Error(), "c.yaml:5: AS rules (2, e.g. AS64500) need IP→ASN data") {
		t.Errorf("New without ASN data: err = %v", err)
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	d, err := New(Config{
		Constituency: mustConstituency(t, "c.yaml", precedenceYAML),
		ASNs:         mustASNs(t, precedenceTSV),
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		ip   netip.Addr
		host string
	}{
		{netip.MustParseAddr("192.0.2.129"), ""},
		{netip.MustParseAddr("198.51.100.7"), "OWA.Mail.Other.Example."},
		{netip.MustParseAddr("198.51.100.7"), ""},
		{netip.MustParseAddr("203.0.113.9"), "unknown.example.com"},
		{netip.MustParseAddr("2001:db8:1::25"), ""},
		{netip.MustParseAddr("::ffff:192.0.2.1"), ""},
	}
	var sink Result
	allocs := testing.AllocsPerRun(1000, func() {
		for _, c := range cases {
			sink = d.Lookup(c.ip, c.host)
		}
	})
	_ = sink
	if allocs != 0 {
		t.Errorf("Lookup allocates %.1f times per run, want 0", allocs)
	}
}

func TestMatchKindString(t *testing.T) {
	var got []string
	for k := MatchNone; k <= MatchRIPEstat+1; k++ {
		got = append(got, k.String())
	}
	want := []string{"none", "prefix", "domain", "asn", "rdap", "ripestat", "MatchKind(6)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
}

func TestResultJSON(t *testing.T) {
	d, err := New(Config{
		Constituency: mustConstituency(t, "c.yaml", precedenceYAML),
		ASNs:         mustASNs(t, precedenceTSV),
	})
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]string{
		"192.0.2.129": `{"match":"prefix","org":{"key":"customer","name":"Customer","to":["it@customer.example"],"language":"de"},"rule":"prefix 192.0.2.128/25 of c.yaml:9","source":"c.yaml:9","prefix":"192.0.2.128/25","asn":64500,"as_name":"HOSTER-AS","country":"DE","network":"192.0.2.0/24"}`,
		"203.0.113.9": `{"match":"none","asn":64502,"as_name":"UNOWNED-AS","country":"FR","network":"203.0.113.0/24"}`,
	} {
		b, err := json.Marshal(d.Lookup(netip.MustParseAddr(ip), ""))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != want {
			t.Errorf("%s:\n got %s\nwant %s", ip, b, want)
		}
	}
}

func TestLookupConcurrent(t *testing.T) {
	d, err := New(Config{
		Constituency: mustConstituency(t, "c.yaml", precedenceYAML),
		ASNs:         mustASNs(t, precedenceTSV),
	})
	if err != nil {
		t.Fatal(err)
	}
	ips := []string{"192.0.2.1", "192.0.2.129", "198.51.100.7", "203.0.113.9", "2001:db8:1::25", "2001:db9::1", "100.64.0.1"}
	hosts := []string{"", "owa.brand.example", "x.mail.other.example"}
	want := map[string]Result{}
	for _, ip := range ips {
		for _, h := range hosts {
			want[ip+" "+h] = d.Lookup(netip.MustParseAddr(ip), h)
		}
	}
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 2000 {
				ip, h := ips[(i+g)%len(ips)], hosts[i%len(hosts)]
				if got := d.Lookup(netip.MustParseAddr(ip), h); got.Rule != want[ip+" "+h].Rule || got.ASN != want[ip+" "+h].ASN {
					t.Errorf("concurrent Lookup(%s, %q) = %+v", ip, h, got)
					return
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}

// TestResolveRIPEstatFirst: RIPEstat is asked before RDAP; RDAP only when
// RIPEstat has no contact or fails, and a RIPEstat failure is reported only
// when RDAP cannot make up for it.
func TestResolveRIPEstatFirst(t *testing.T) {
	rd := newFakeRDAP(t)
	st := newFakeRIPEstat(t)
	st.script["8.8.4.4"] = []reply{{status: 200, body: ripestatOK(`[]`, "arin")}}
	st.script["41.0.0.1"] = []reply{{status: 500}}
	st.script["2001:db8:1234::1"] = []reply{{status: 200, body: `{"status":"error"}`}}
	st.script["185.0.1.1"] = []reply{{status: 500}}
	st.script["203.0.113.5"] = []reply{{status: 500}}
	st.script["202.0.0.1"] = []reply{{status: 200, body: ripestatOK(`[]`, "apnic")}}
	rc, _ := rd.client(t, RDAPOptions{MaxAttempts: 1})
	sc, _ := st.client(t, RIPEstatOptions{MaxAttempts: 1})
	d := rdapDirectory(t, rc)
	d.stat = sc
	ctx := context.Background()
	eq := cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

	// RIPEstat's answer wins; RDAP is not asked.
	got, err := d.Resolve(ctx, netip.MustParseAddr("86.54.11.1"), "")
	want := Result{
		Match: MatchRIPEstat, Org: Org{Key: "ripestat:abuse@whalebone.io", Name: "abuse@whalebone.io", To: []string{"abuse@whalebone.io"}},
		Rule: "ripestat abuse contact of 86.54.11.1 (RIPE)", Source: st.srv.URL + ripestatPath + "?resource=86.54.11.1&sourceapp=exsweep",
		ASN: 64496, ASName: "TRANSIT-DE", Country: "DE", Network: pfx("86.54.0.0/16"),
	}
	if diff := cmp.Diff(want, got, eq); diff != "" || err != nil {
		t.Errorf("RIPEstat answer: %v (-want +got):\n%s", err, diff)
	}
	if n := rd.count("/ripe/ip/86.54.11.1"); n != 0 {
		t.Errorf("RIPEstat answered, RDAP still asked %d times", n)
	}
	// A neighbour in the /24 is answered from the cache, naming the
	// address that was asked.
	if got, err := d.Resolve(ctx, netip.MustParseAddr("86.54.11.77"), ""); err != nil || got.Match != MatchRIPEstat || st.total() != 1 || rd.count("/ripe/ip/86.54.11.77") != 0 {
		t.Errorf("neighbour: %+v, %v", got, err)
	}

	// The constituency wins over both: nothing is asked.
	if got, _ := d.Resolve(ctx, netip.MustParseAddr("8.8.8.8"), ""); got.Match != MatchPrefix || st.count("8.8.8.8") != 0 {
		t.Errorf("constituency: %+v, %d RIPEstat requests", got, st.count("8.8.8.8"))
	}

	for _, tt := range []struct {
		ip, rule, err string
	}{
		{"8.8.4.4", "rdap abuse contact of 8.8.4.0/24 (RIPE)", ""},                  // no RIPEstat contact → RDAP
		{"41.0.0.1", "rdap abuse contact of AS64500 (AFRINIC)", ""},                 // RIPEstat 500 → RDAP, no error
		{"2001:db8:1234::1", "rdap abuse contact of 2001:db8:1200::/40 (RIPE)", ""}, // RIPEstat status error → RDAP
		{"202.0.0.1", "", "malformed RDAP JSON"},                                    // no RIPEstat contact, RDAP fails: RDAP's error
		{"203.0.113.5", "", "ripestat"},                                             // RIPEstat fails, RDAP has none: RIPEstat's error
		{"185.0.1.1", "", "ripestat"},                                               // both fail: both errors
	} {
		got, err := d.Resolve(ctx, netip.MustParseAddr(tt.ip), "")
		if got.Rule != tt.rule {
			t.Errorf("%s: rule %q, want %q", tt.ip, got.Rule, tt.rule)
		}
		if (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: err = %v, want %q", tt.ip, err, tt.err)
		}
		if st.count(tt.ip) != 1 {
			t.Errorf("%s: RIPEstat asked %d times, want 1", tt.ip, st.count(tt.ip))
		}
	}
	_, err = d.Resolve(ctx, netip.MustParseAddr("185.0.1.1"), "")
	var se *RIPEstatError
	var re *RDAPError
	if !errors.As(err, &se) || !errors.As(err, &re) || se.Status != 500 || re.Status != 503 {
		t.Errorf("both fail: %v", err)
	}

	// RIPEstat alone: a failure is the error, no contact is no owner.
	d2, err := New(Config{RIPEstat: sc})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := d2.Resolve(ctx, netip.MustParseAddr("41.0.0.1"), ""); err == nil || got.Owned() {
		t.Errorf("RIPEstat only, failing: %+v, %v", got, err)
	}
	if got, err := d2.Resolve(ctx, netip.MustParseAddr("198.51.100.7"), ""); err != nil || got.Owned() {
		t.Errorf("RIPEstat only, no contact: %+v, %v", got, err)
	}
	if got, err := d2.Resolve(ctx, netip.MustParseAddr("86.54.11.1"), ""); err != nil || got.Match != MatchRIPEstat {
		t.Errorf("RIPEstat only: %+v, %v", got, err)
	}
}
