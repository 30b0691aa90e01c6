package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exsweep/exsweep/internal/owners"
	"github.com/exsweep/exsweep/internal/store"
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

// TestOwnersLookupRIPEstat: --ripestat asks a local RIPEstat before RDAP;
// with no RIPEstat contact, --rdap answers.
func TestOwnersLookupRIPEstat(t *testing.T) {
	fixtures := filepath.Join("..", "owners", "testdata", "rdap")
	var mu sync.Mutex
	var asked []string
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.Path+"?"+r.URL.RawQuery)
		mu.Unlock()
		if r.URL.Path == "/stat/data/abuse-contact-finder/data.json" {
			contacts := `[]`
			if r.URL.Query().Get("resource") == "86.54.11.1" && r.URL.Query().Get("sourceapp") == "exsweep" {
				contacts = `["Abuse@Stat.Example"]`
			}
			w.Write([]byte(`{"status":"ok","data":{"abuse_contacts":` + contacts + `,"authoritative_rir":"ripe"}}`))
			return
		}
		name := ""
		switch r.URL.Path {
		case "/boot/ipv4.json", "/boot/ipv6.json", "/boot/asn.json":
			name = strings.TrimPrefix(r.URL.Path, "/boot/")
		case "/ripe/ip/86.54.11.1", "/ripe/ip/86.54.12.1":
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
		body := strings.ReplaceAll(string(b), "{{BASE}}", srv.URL)
		if r.URL.Path == "/ripe/ip/86.54.12.1" {
			body = strings.ReplaceAll(body, "86.54.11", "86.54.12")
		}
		w.Header().Set("Content-Type", "application/rdap+json")
		w.Write([]byte(body))
	}))
	defer srv.Close()
	out, errOut, code := run(t, "", "owners", "lookup", "--ripestat", "--ripestat-url", srv.URL+"/stat", "--rdap", "--rdap-bootstrap", srv.URL+"/boot",
		"--format", "json", "86.54.11.1", "86.54.12.1")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{`"match":"ripestat"`, `"key":"ripestat:abuse@stat.example"`, `"rule":"ripestat abuse contact of 86.54.11.1 (RIPE)"`,
		`"match":"rdap"`, `"rule":"rdap abuse contact of 86.54.12.0/24 (RIPE)"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	mu.Lock()
	for _, a := range asked {
		if strings.HasPrefix(a, "/ripe/ip/86.54.11.1") {
			t.Errorf("RIPEstat answered 86.54.11.1, RDAP still asked")
		}
	}
	mu.Unlock()
	if _, errOut, code := run(t, "", "owners", "lookup", "--ripestat-url", srv.URL, "86.54.11.1"); code != ExitUsage || !strings.Contains(errOut, "--ripestat-url needs --ripestat") {
		t.Errorf("--ripestat-url alone: exit %d %s", code, errOut)
	}
	if _, errOut, code := run(t, "", "owners", "lookup", "--ripestat", "--ripestat-url", "ftp://x", "86.54.11.1"); code != ExitUsage {
		t.Errorf("bad --ripestat-url: exit %d %s", code, errOut)
	}
}

// TestStoreCacheSharedWithRIPEstat: RDAP and RIPEstat keep their answers
// for the same /24 side by side in the store's cache.
func TestStoreCacheSharedWithRIPEstat(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(`{"status":"ok","data":{"abuse_contacts":["stat@example.net"]}}`))
	}))
	defer srv.Close()
	cache := storeRDAPCache{st}
	ctx := context.Background()
	if err := cache.Put(ctx, owners.Contact{Prefix: netip.MustParsePrefix("86.54.11.0/24"), Registry: "RIPE", Emails: []string{"rdap@example.net"}, Fetched: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		c, err := owners.NewRIPEstatClient(owners.RIPEstatOptions{BaseURL: srv.URL, Cache: cache})
		if err != nil {
			t.Fatal(err)
		}
		ct, err := c.AbuseContact(ctx, netip.MustParseAddr("86.54.11.7"))
		if err != nil || len(ct.Emails) != 1 || ct.Emails[0] != "stat@example.net" {
			t.Fatalf("ripestat: %+v, %v", ct, err)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("%d RIPEstat requests, want 1 (the second client reads the store)", n)
	}
	got, ok, err := cache.Get(ctx, netip.MustParsePrefix("86.54.11.7/32"))
	if err != nil || !ok || got.Emails[0] != "rdap@example.net" {
		t.Errorf("RDAP entry after RIPEstat: %+v %v %v", got, ok, err)
	}
}

// TestOwnersLookupReportsRegistryFailures: a registry that cannot answer
// leaves the address with local owner data, and the run says so on stderr.
func TestOwnersLookupReportsRegistryFailures(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler()) // loopback; every answer a 404
	defer srv.Close()
	out, errOut, code := run(t, "", "owners", "lookup", "--rdap", "--rdap-bootstrap", srv.URL+"/boot", "86.54.11.1")
	if code != ExitOK || !strings.Contains(out, "(nobody)") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "registry lookups failed") || !strings.Contains(errOut, "failures=1") {
		t.Errorf("no report of the failed lookup on stderr:\n%s", errOut)
	}
}
