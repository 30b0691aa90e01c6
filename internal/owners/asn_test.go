package owners

import (
	"bytes"
	"compress/gzip"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type asnWant struct {
	ip      string
	as      AS
	network string // "" = no AS
}

func checkASNs(t *testing.T, tbl *ASNTable, wants []asnWant) {
	t.Helper()
	for _, w := range wants {
		as, network, ok := tbl.Lookup(netip.MustParseAddr(w.ip))
		if w.network == "" {
			if ok {
				t.Errorf("Lookup(%s) = %+v %s, want no AS", w.ip, as, network)
			}
			continue
		}
		if !ok || as != w.as || network != netip.MustParsePrefix(w.network) {
			t.Errorf("Lookup(%s) = %+v %s %v, want %+v %s", w.ip, as, network, ok, w.as, w.network)
		}
	}
}

func TestIPtoASNFixture(t *testing.T) {
	tbl, err := LoadASNTable("testdata/ip2asn-combined.tsv")
	if err != nil {
		t.Fatal(err)
	}
	hoster := AS{64500, "EXAMPLE-HOSTING-AS Example Hosting GmbH", "DE"}
	checkASNs(t, tbl, []asnWant{
		{"1.0.0.1", AS{13335, "CLOUDFLARENET", "US"}, "1.0.0.0/24"},
		{"1.0.2.1", AS{}, ""}, // AS 0: not routed
		{"1.0.5.1", AS{38803, "WPL-AS-AP Wirefreebroadband Pty Ltd", "AU"}, "1.0.4.0/22"},
		{"192.0.2.77", hoster, "192.0.2.0/24"},
		// 198.51.100.0-198.51.100.199 is not a CIDR: it splits into
		// /25 + /26 + /29, and the table reports the piece that matched.
		{"198.51.100.5", AS{64501, "EXAMPLE-UNI-AS", "NL"}, "198.51.100.0/25"},
		{"198.51.100.150", AS{64501, "EXAMPLE-UNI-AS", "NL"}, "198.51.100.128/26"},
		{"198.51.100.199", AS{64501, "EXAMPLE-UNI-AS", "NL"}, "198.51.100.192/29"},
		{"198.51.100.200", AS{64502, "EXAMPLE-TRANSIT", "NL"}, "198.51.100.200/29"},
		{"198.51.100.255", AS{64502, "EXAMPLE-TRANSIT", "NL"}, "198.51.100.224/27"},
		{"203.0.113.1", hoster, "203.0.113.0/24"},
		{"2001:db8:ff::1", AS{64502, "EXAMPLE-TRANSIT", "NL"}, "2001:db8::/40"},
		{"2001:db8:1ab::1", hoster, "2001:db8:100::/40"},
		{"2001:db8:200::1", AS{}, ""},
		{"::ffff:192.0.2.77", hoster, "192.0.2.0/24"},
		{"8.8.8.8", AS{}, ""},
	})
	ranges, prefixes, records := tbl.Stats()
	if ranges != 8 || prefixes != 12 || records != 5 {
		t.Errorf("Stats() = %d ranges, %d prefixes, %d records; want 8, 12, 5", ranges, prefixes, records)
	}
}

func TestIPLocationFixtures(t *testing.T) {
	tbl, err := LoadASNTable("testdata/asn-ipv4.csv", "testdata/asn-ipv6.csv")
	if err != nil {
		t.Fatal(err)
	}
	quoted := AS{64500, `Example "Hosting" GmbH`, ""}
	checkASNs(t, tbl, []asnWant{
		{"1.0.0.1", AS{13335, "Cloudflare, Inc.", ""}, "1.0.0.0/24"},
		{"192.0.2.1", quoted, "192.0.2.0/24"},
		{"198.51.100.193", AS{64501, "Example University", ""}, "198.51.100.192/29"},
		{"2001:db8:1ab::1", quoted, "2001:db8:100::/40"},
		{"2001:db8::1", AS{64502, "Example Transit B.V.", ""}, "2001:db8::/40"},
	})

	tbl, err = LoadASNTable("testdata/asn-country-ipv4.csv", "testdata/asn-ipv4-num.csv", "testdata/asn-header.csv")
	if err != nil {
		t.Fatal(err)
	}
	checkASNs(t, tbl, []asnWant{
		{"198.51.100.1", AS{64501, "Example University, Amsterdam", "NL"}, "198.51.100.0/25"},
		{"1.0.0.1", AS{13335, "Cloudflare, Inc.", ""}, "1.0.0.0/24"},
		// 192.0.2.0/24 is in all three files; the last one loaded wins.
		{"192.0.2.1", AS{64500, "Example Hosting GmbH", "DE"}, "192.0.2.0/24"},
	})
}

func TestGzipAndMixedSources(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/ip2asn-combined.tsv")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	gz := filepath.Join(dir, "ip2asn-combined.tsv.gz")
	if err := os.WriteFile(gz, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	tbl, err := LoadASNTable(gz)
	if err != nil {
		t.Fatal(err)
	}
	checkASNs(t, tbl, []asnWant{{"1.0.0.1", AS{13335, "CLOUDFLARENET", "US"}, "1.0.0.0/24"}})

	// A truncated gzip stream is an error, not a silently short table.
	if err := NewASNTableBuilder().ReadIPtoASN("cut.tsv.gz", bytes.NewReader(buf.Bytes()[:buf.Len()-10])); err == nil {
		t.Error("truncated gzip: want error")
	}
	if _, err := LoadASNTable(filepath.Join(dir, "x.json")); err == nil {
		t.Error("unknown extension: want error")
	}
}

func TestIPtoASNErrors(t *testing.T) {
	const good = "192.0.2.0\t192.0.2.255\t64500\tDE\tX\n"
	tests := []struct {
		name, in string
		want     LineError
	}{
		{"too few fields", good + "192.0.2.0 192.0.2.255 64500 DE X\n", LineError{"a.tsv", 2, "want 5 tab-separated fields (range_start range_end AS_number country_code AS_description), got 1"}},
		{"bad start", "192.0.2.x\t192.0.2.255\t1\tDE\tX\n", LineError{"a.tsv", 1, `invalid address "192.0.2.x"`}},
		{"reversed", good + good + "192.0.2.9\t192.0.2.1\t1\tDE\tX\n", LineError{"a.tsv", 3, "range 192.0.2.9-192.0.2.1 ends before it starts"}},
		{"mixed families", "192.0.2.0\t2001:db8::\t1\tDE\tX\n", LineError{"a.tsv", 1, "range 192.0.2.0-2001:db8:: mixes IPv4 and IPv6"}},
		{"bad asn", "192.0.2.0\t192.0.2.255\tAS1\tDE\tX\n", LineError{"a.tsv", 1, `invalid AS number "AS1"`}},
		{"asn too big", "192.0.2.0\t192.0.2.255\t4294967296\tDE\tX\n", LineError{"a.tsv", 1, `invalid AS number "4294967296"`}},
		{"zone", "fe80::%eth0\tfe80::1\t1\tDE\tX\n", LineError{"a.tsv", 1, `invalid address "fe80::%eth0"`}},
		{"long line", good + "192.0.2.0\t192.0.2.255\t1\tDE\t" + strings.Repeat("x", MaxDataLine) + "\n", LineError{"a.tsv", 2, "line longer than 4096 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewASNTableBuilder().ReadIPtoASN("a.tsv", strings.NewReader(tt.in))
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want *LineError", err)
			}
			if diff := cmp.Diff(tt.want, *le); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestIPtoASNQuirks(t *testing.T) {
	// Comments, blank lines, CRLF, a missing description, "None" and
	// lower-case countries, control characters and over-long names.
	in := "# header\n\r\n" +
		"192.0.2.0\t192.0.2.255\t64500\tde\r\n" +
		"198.51.100.0\t198.51.100.255\t64501\tNone\tBAD\x1b[31mNAME\t\tTAIL\n" +
		"203.0.113.0\t203.0.113.255\t64502\tZZ\t" + strings.Repeat("é", 150) + "\n"
	b := NewASNTableBuilder()
	if err := b.ReadIPtoASN("q.tsv", strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	tbl := b.Table()
	checkASNs(t, tbl, []asnWant{
		{"192.0.2.1", AS{64500, "", "DE"}, "192.0.2.0/24"},
		{"198.51.100.1", AS{64501, "BAD [31mNAME TAIL", ""}, "198.51.100.0/24"},
		{"203.0.113.1", AS{64502, strings.Repeat("é", 100), "ZZ"}, "203.0.113.0/24"},
	})
}

func TestIPLocationErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     LineError
	}{
		{"country-only file", "1.0.0.0,1.0.0.255,AU\n", LineError{"a.csv", 1, "3 fields: this is a country-only file, not ASN data"}},
		{"field count changes", "1.0.0.0,1.0.0.255,13335,X\n1.0.1.0,1.0.1.255,1,AU,X\n", LineError{"a.csv", 2, "want 4 fields, got 5"}},
		{"unterminated quote", "1.0.0.0,1.0.0.255,13335,\"Cloudflare\n", LineError{"a.csv", 1, "unterminated quoted field"}},
		{"text after quote", "1.0.0.0,1.0.0.255,13335,\"A\"B\n", LineError{"a.csv", 1, "text after closing quote"}},
		{"bare quote", "1.0.0.0,1.0.0.255,13335,A\"B\n", LineError{"a.csv", 1, "quote inside unquoted field"}},
		{"unknown header", "start,end,asn,owner\n", LineError{"a.csv", 1, `unknown column "owner" in header`}},
		{"header without asn", "ip_range_start,ip_range_end,country_code\n", LineError{"a.csv", 1, "header needs ip_range_start, ip_range_end and as_number columns"}},
		{"bad asn", "1.0.0.0,1.0.0.255,-1,X\n", LineError{"a.csv", 1, `invalid AS number "-1"`}},
		{"number too big", "340282366920938463463374607431768211456,1,1,X\n", LineError{"a.csv", 1, `invalid address "340282366920938463463374607431768211456"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewASNTableBuilder().ReadIPLocationCSV("a.csv", strings.NewReader(tt.in))
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want *LineError", err)
			}
			if diff := cmp.Diff(tt.want, *le); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestNumericAddresses(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0", "0.0.0.0"},
		{"3221225984", "192.0.2.0"},
		{"4294967295", "255.255.255.255"},
		{"4294967296", "::1:0:0"},
		{"42540766411282592856903984951653826560", "2001:db8::"},
		{"340282366920938463463374607431768211455", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
	}
	for _, tt := range tests {
		got, err := parseAddrField(tt.in)
		if err != nil || got != netip.MustParseAddr(tt.want) {
			t.Errorf("parseAddrField(%s) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestSplitCSVLine(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a,b,c", []string{"a", "b", "c"}},
		{"a,,", []string{"a", "", ""}},
		{`"a,b",c`, []string{"a,b", "c"}},
		{`a,"say ""hi"""`, []string{"a", `say "hi"`}},
		{`"",x`, []string{"", "x"}},
		{"", []string{""}},
	}
	for _, tt := range tests {
		got, err := splitCSVLine(nil, tt.in)
		if err != nil {
			t.Errorf("splitCSVLine(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("splitCSVLine(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}
