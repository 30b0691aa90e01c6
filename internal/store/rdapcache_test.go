package store

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

func TestRDAPCache(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		st, err := Open(ctx, b.newDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		now := time.Date(2021, 3, 10, 0, 0, 0, 0, time.UTC)
		put := func(p string, c string, ttl time.Duration) {
			if err := st.RDAPCachePut(ctx, netip.MustParsePrefix(p), []byte(c), now, now.Add(ttl)); err != nil {
				t.Fatal(err)
			}
		}
		put("86.54.0.0/16", `{"n":"wide"}`, time.Hour)
		put("86.54.11.0/24", `{"n":"narrow"}`, time.Hour)
		put("86.54.12.0/24", `{"n":"expired"}`, -time.Minute)
		put("2001:db8::/32", `{"n":"v6"}`, time.Hour)
		put("86.54.11.0/24", `{"n":"narrow2"}`, time.Hour) // replaces
		for addr, want := range map[string]string{
			"86.54.11.1": `{"n":"narrow2"}`, "86.54.12.1": `{"n":"wide"}`, "86.55.0.1": "",
			"2001:db8::5": `{"n":"v6"}`, "::ffff:86.54.11.9": `{"n":"narrow2"}`,
		} {
			_, c, ok, err := st.RDAPCacheGet(ctx, netip.MustParseAddr(addr), now)
			if err != nil || string(c) != want || ok != (want != "") {
				t.Errorf("%s: %q %v %v, want %q", addr, c, ok, err, want)
			}
		}
		if _, _, ok, _ := st.RDAPCacheGet(ctx, netip.MustParseAddr("86.54.11.1"), now.Add(2*time.Hour)); ok {
			t.Error("expired entry returned")
		}
	})
}
