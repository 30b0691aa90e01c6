package owners

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// writeTestMMDB builds a tiny GeoLite2-ASN-shaped database in memory with
// mmdbwriter (a test-only dependency), so no MaxMind data is committed.
func writeTestMMDB(t *testing.T, ipVersion int) []byte {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            "GeoLite2-ASN",
		Description:             map[string]string{"en": "exsweep test ASN database"},
		IPVersion:               ipVersion,
		RecordSize:              24,
		IncludeReservedNetworks: true, // the documentation ranges are reserved
	})
	if err != nil {
		t.Fatal(err)
	}
	add := func(cidr string, rec mmdbtype.Map) {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	add("192.0.2.0/24", mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(64500),
		"autonomous_system_organization": mmdbtype.String("Example Hosting GmbH"),
	})
	add("198.51.100.128/25", mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(64501),
		"autonomous_system_organization": mmdbtype.String("Example\nUniversity"),
		"country_code":                   mmdbtype.String("nl"),
	})
	if ipVersion == 6 {
		add("2001:db8:100::/40", mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(64502),
			"autonomous_system_organization": mmdbtype.String("Example Transit"),
			"country":                        mmdbtype.Map{"iso_code": mmdbtype.String("DE")},
		})
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestMMDB(t *testing.T) {
	for _, v := range []int{4, 6} {
		data := writeTestMMDB(t, v)
		b := NewASNTableBuilder()
		if err := b.ReadMMDB("asn.mmdb", data); err != nil {
			t.Fatalf("IPv%d database: %v", v, err)
		}
		tbl := b.Table()
		wants := []asnWant{
			{"192.0.2.9", AS{64500, "Example Hosting GmbH", ""}, "192.0.2.0/24"},
			{"198.51.100.200", AS{64501, "Example University", "NL"}, "198.51.100.128/25"},
			{"198.51.100.1", AS{}, ""},
		}
		if v == 6 {
			wants = append(wants, asnWant{"2001:db8:1ff::1", AS{64502, "Example Transit", "DE"}, "2001:db8:100::/40"})
		}
		checkASNs(t, tbl, wants)
		// IPv4 is stored once, not once per alias (::ffff:0:0/96, 2002::/16).
		if _, prefixes, _ := tbl.Stats(); prefixes != len(wants)-1 {
			t.Errorf("IPv%d database: %d prefixes, want %d", v, prefixes, len(wants)-1)
		}
	}

	path := filepath.Join(t.TempDir(), "GeoLite2-ASN.mmdb")
	if err := os.WriteFile(path, writeTestMMDB(t, 6), 0o644); err != nil {
		t.Fatal(err)
	}
	tbl, err := LoadASNTable(path)
	if err != nil {
		t.Fatal(err)
	}
	checkASNs(t, tbl, []asnWant{{"192.0.2.9", AS{64500, "Example Hosting GmbH", ""}, "192.0.2.0/24"}})
}

func TestMMDBCorrupt(t *testing.T) {
	data := writeTestMMDB(t, 6)
	cases := map[string][]byte{
		"empty":     nil,
		"garbage":   []byte(strings.Repeat("not an mmdb ", 100)),
		"truncated": data[:len(data)/2],
	}
	// Flip bytes in the search tree and the data section: the import must
	// fail or succeed, never panic.
	for _, off := range []int{0, 10, 100, 300, len(data) - 200} {
		if off < 0 || off >= len(data) {
			continue
		}
		bad := bytes.Clone(data)
		bad[off] ^= 0xff
		cases[fmt.Sprintf("flipped@%d", off)] = bad
	}
	for name, d := range cases {
		err := NewASNTableBuilder().ReadMMDB(name, d)
		if (name == "empty" || name == "garbage" || name == "truncated") && err == nil {
			t.Errorf("%s: want error", name)
		}
	}
}
