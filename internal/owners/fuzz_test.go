package owners

import (
	"bytes"
	"encoding/csv"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// checkConstituency asserts what every accepted constituency guarantees.
func checkConstituency(t *testing.T, c *Constituency) {
	t.Helper()
	for _, o := range c.Orgs() {
		if o.Name == "" || len(o.Name) > MaxNameBytes || len(o.To) == 0 {
			t.Fatalf("accepted bad organisation %+v", o)
		}
		for _, a := range append(append([]string(nil), o.To...), o.CC...) {
			if a != strings.ToLower(a) || !strings.Contains(a, "@") || len(a) > MaxEmailBytes {
				t.Fatalf("accepted bad address %q", a)
			}
		}
	}
	// Lookups over accepted data never panic.
	d, err := New(Config{Constituency: c, ASNs: NewASNTableBuilder().Table()})
	if err != nil {
		t.Fatal(err)
	}
	for p := range c.prefixes.All() {
		if r := d.Lookup(p.Addr(), ""); r.Match != MatchPrefix {
			t.Fatalf("prefix %s does not match its own address: %+v", p, r)
		}
	}
	for dom := range c.domains {
		if r := d.Lookup(netip.MustParseAddr("0.0.0.1"), "x."+dom); c.nPrefix == 0 && r.Match != MatchDomain {
			t.Fatalf("domain %s does not match a subdomain: %+v", dom, r)
		}
	}
}

func FuzzParseConstituencyYAML(f *testing.F) {
	for _, name := range []string{"testdata/example.yaml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("organisations:\n- name: A\n  to: a@example.com\n  cidrs: [192.0.2.0/24]\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("organisations: [{name: A, to: [a@b.example], domains: [x.example]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConstituency(Source{Name: "f.yaml", Format: FormatYAML, Reader: bytes.NewReader(data)})
		if err == nil {
			checkConstituency(t, c)
		}
	})
}

// FuzzConstituencyCSVLine fuzzes one data line under a fixed header: the
// line parser, list splitting and every validator behind it.
func FuzzConstituencyCSVLine(f *testing.F) {
	f.Add("Example Hosting GmbH,abuse@example.net,soc@example.net,de,192.0.2.0/24 2001:db8::/32,AS64500,example.org")
	f.Add(`"Org, Inc.","A <a@example.com>; b@example.com",,pt-BR,192.0.2.7,64500;64501,"a.example,b.example"`)
	f.Add(`A,a@example.com,,,"192.0.2.0/24`)
	f.Add("A,a@example.com,,,::ffff:1.2.3.4/128,,")
	f.Fuzz(func(t *testing.T, line string) {
		in := "name,to,cc,language,cidrs,asns,domains\n" + line + "\n"
		c, err := ParseConstituency(Source{Name: "f.csv", Format: FormatCSV, Reader: strings.NewReader(in)})
		if err == nil {
			checkConstituency(t, c)
		}
	})
}

func FuzzParseConstituencyCSV(f *testing.F) {
	b, err := os.ReadFile("testdata/example.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("to,name\na@example.com,A\n,A\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConstituency(Source{Name: "f.csv", Format: FormatCSV, Reader: bytes.NewReader(data)})
		if err == nil {
			checkConstituency(t, c)
		}
	})
}

func FuzzReadIPtoASN(f *testing.F) {
	b, err := os.ReadFile("testdata/ip2asn-combined.tsv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("0.0.0.0\t255.255.255.255\t1\tXX\tall\n::\tffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\t2\t\t\n"))
	f.Add([]byte("1.2.3.4\t1.2.3.4\t4294967295\tde\t\xff\xfe\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := NewASNTableBuilder()
		if err := b.ReadIPtoASN("f.tsv", bytes.NewReader(data)); err != nil {
			return
		}
		checkTable(t, b.Table(), data, '\t')
	})
}

func FuzzReadIPLocationCSV(f *testing.F) {
	for _, name := range []string{"testdata/asn-ipv4.csv", "testdata/asn-country-ipv4.csv", "testdata/asn-ipv4-num.csv", "testdata/asn-header.csv"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b := NewASNTableBuilder()
		if err := b.ReadIPLocationCSV("f.csv", bytes.NewReader(data)); err != nil {
			return
		}
		checkTable(t, b.Table(), data, ',')
	})
}

// checkTable looks up the first field of every line of accepted input: a
// range's start address must resolve unless its AS is 0 or a later line
// overrode it, and lookups must not panic either way.
func checkTable(t *testing.T, tbl *ASNTable, data []byte, sep byte) {
	t.Helper()
	for _, line := range strings.Split(string(data), "\n") {
		first, _, _ := strings.Cut(line, string(sep))
		if a, err := parseAddrField(strings.Trim(first, `"`)); err == nil {
			as, p, ok := tbl.Lookup(a)
			if ok && (!p.Contains(a.Unmap()) || as.Number == 0 || len(as.Name) > MaxNameBytes) {
				t.Fatalf("Lookup(%s) = %+v %s", a, as, p)
			}
		}
	}
}

func FuzzSplitCSVLine(f *testing.F) {
	f.Add(`1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."`)
	f.Add(`a,"b ""c""",`)
	f.Add(`"unterminated`)
	f.Fuzz(func(t *testing.T, line string) {
		fields, err := splitCSVLine(nil, line)
		if err != nil || strings.ContainsAny(line, "\r\n") {
			return
		}
		// Accepted lines round-trip through encoding/csv.
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Write(fields)
		w.Flush()
		again, err := splitCSVLine(nil, strings.TrimSuffix(buf.String(), "\n"))
		if err != nil {
			t.Fatalf("re-encoded %q: %v", buf.String(), err)
		}
		if diff := cmp.Diff(fields, again); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

func FuzzRDAPNetwork(f *testing.F) {
	for _, name := range []string{"ripe-86.54.11.1.json", "arin-8.8.8.8.json", "ripe-ipv6.json", "malformed.json"} {
		b, err := os.ReadFile("testdata/rdap/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var nw rdapNetwork
		if decodeRDAP(body, &nw) != nil {
			return
		}
		for _, ip := range []string{"86.54.11.1", "8.8.8.8", "2001:db8:1234::1"} {
			a := netip.MustParseAddr(ip)
			if ps, err := nw.prefixes(a); err == nil {
				found := false
				for _, p := range ps {
					found = found || p.Contains(a)
				}
				if !found || len(ps) > 64 {
					t.Fatalf("prefixes(%s) = %v", a, ps)
				}
			}
		}
		emails, name := abuseEmails(nw.Entities)
		if len(emails) > maxAbuseAddrs || len(name) > MaxNameBytes {
			t.Fatalf("abuseEmails = %v, %q", emails, name)
		}
	})
}

func FuzzParseRIPEstat(f *testing.F) {
	b, err := os.ReadFile("testdata/ripestat/86.54.11.1.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"status":"ok","data":{"abuse_contacts":["a@b.example","A@B.example",5,null],"authoritative_rir":"arin"}}`))
	f.Add([]byte(`{"status":"error","messages":[["error","x"]]}`))
	f.Add([]byte(`{"status":"ok","data":{"abuse_contacts":"x"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		emails, rir, err := parseRIPEstat(body)
		if err != nil {
			if emails != nil || rir != "" || len(err.Error()) > 400 || strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error %q with emails %v, rir %q", err, emails, rir)
			}
			return
		}
		if len(emails) > maxAbuseAddrs {
			t.Fatalf("%d addresses", len(emails))
		}
		seen := map[string]bool{}
		for _, a := range emails {
			if n, err := normalizeEmail(a); err != nil || n != a || seen[a] {
				t.Fatalf("bad or duplicate address %q (%v)", a, err)
			}
			seen[a] = true
		}
		if rir != "" && rir != "RIPE" && rir != "ARIN" && rir != "APNIC" && rir != "LACNIC" && rir != "AFRINIC" {
			t.Fatalf("rir %q", rir)
		}
	})
}
