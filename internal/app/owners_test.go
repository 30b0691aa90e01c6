package app

import (
	"context"
	"net/http"
	"net/netip"
	"time"

	"github.com/exsweep/exsweep/internal/owners"
	"github.com/exsweep/exsweep/internal/store"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOwnersLookup: constituency precedence from the CLI, and --rdap asking a
// local RDAP server (RFC 9083 fixtures of internal/owners) for an address no
// rule covers.
func TestOwnersLookup(t *testing.T) {
	fixtures := filepath.Join("..", "owners", "testdata", "rdap")
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := ""
		switch r.URL.Path {
		case "/boot/ipv4.json", "/boot/ipv6.json", "/boot/asn.json":
			name = strings.TrimPrefix(r.URL.Path, "/boot/")
		case "/ripe/ip/86.54.11.1":
			name = "ripe-86.54.11.1.json"
		default:
			http.NotFound(w, r)
			return
		}
		b, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/rdap+json")
		w.Write([]byte(strings.ReplaceAll(string(b), "{{BASE}}", srv.URL)))
	}))
	defer srv.Close()
	cons := filepath.Join("..", "owners", "testdata", "example.yaml")
	asn := filepath.Join("..", "owners", "testdata", "ip2asn-combined.tsv")
	out, errOut, code := run(t, "", "owners", "lookup", "--constituency", cons, "--asn-db", asn, "192.0.2.200", "192.0.2.7", "198.18.0.1")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"Example City Council", "prefix 192.0.2.128/25", "Example Hosting GmbH", "(nobody)"} {
		if !strings.Contains(out, want) {
			t.Errorf("lookup output lacks %q:\n%s", want, out)
		}
	}
	out, errOut, code = run(t, "", "owners", "lookup", "--constituency", cons, "--asn-db", asn, "--rdap", "--rdap-bootstrap", srv.URL+"/boot", "86.54.11.1")
	if code != ExitOK || !strings.Contains(out, "rdap abuse contact") {
		t.Errorf("--rdap: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, errOut, code := run(t, "", "owners", "lookup", "not-an-ip"); code != ExitUsage {
		t.Errorf("bad address: exit %d %s", code, errOut)
	}
}

func TestStoreRDAPCache(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := storeRDAPCache{st}
	ct := owners.Contact{Prefix: netip.MustParsePrefix("86.54.11.0/24"), Registry: "RIPE", Emails: []string{"abuse@example.net"}, Fetched: time.Now()}
	if err := c.Put(context.Background(), ct); err != nil {
		t.Fatal(err)
	}
	got, ok, err := c.Get(context.Background(), netip.MustParsePrefix("86.54.11.77/32"))
	if err != nil || !ok || got.Registry != "RIPE" || got.Emails[0] != "abuse@example.net" {
		t.Errorf("get: %+v %v %v", got, ok, err)
	}
	if _, ok, _ := c.Get(context.Background(), netip.MustParsePrefix("86.54.12.1/32")); ok {
		t.Error("hit for an address outside the cached prefix")
	}
}
