package owners

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

func TestMemoryCache(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryCache(time.Hour, time.Minute)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }
	host := func(s string) netip.Prefix { a := netip.MustParseAddr(s); return netip.PrefixFrom(a, a.BitLen()) }

	m.Put(ctx, Contact{Prefix: pfx("192.0.2.0/24"), Emails: []string{"wide@example.net"}, Fetched: now})
	m.Put(ctx, Contact{Prefix: pfx("192.0.2.128/25"), Emails: []string{"narrow@example.net"}, Fetched: now.Add(-50 * time.Minute)})
	m.Put(ctx, Contact{Prefix: pfx("198.51.100.0/24"), Fetched: now}) // negative
	m.Put(ctx, Contact{Prefix: pfx("2001:db8::/32"), Emails: []string{"v6@example.net"}, Fetched: now})
	m.Put(ctx, Contact{}) // invalid prefix: ignored

	get := func(p netip.Prefix) string {
		c, ok, err := m.Get(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return "miss"
		}
		if len(c.Emails) == 0 {
			return "negative " + c.Prefix.String()
		}
		return c.Emails[0]
	}
	check := func(p netip.Prefix, want string) {
		t.Helper()
		if got := get(p); got != want {
			t.Errorf("Get(%s) = %s, want %s", p, got, want)
		}
	}
	check(host("192.0.2.1"), "wide@example.net")
	check(host("192.0.2.200"), "narrow@example.net") // most specific
	check(pfx("192.0.2.0/24"), "wide@example.net")
	check(host("198.51.100.9"), "negative 198.51.100.0/24")
	check(host("2001:db8::1"), "v6@example.net")
	check(host("203.0.113.1"), "miss")

	now = now.Add(15 * time.Minute)
	// The /25 expired: the fresh /24 behind it answers. The negative entry
	// expired sooner than positive ones.
	check(host("192.0.2.200"), "wide@example.net")
	check(host("198.51.100.9"), "miss")

	now = now.Add(time.Hour)
	check(host("192.0.2.1"), "miss")

	// Size cap: expired entries make room; otherwise new entries are dropped.
	m.max = m.Len()
	m.Put(ctx, Contact{Prefix: pfx("203.0.113.0/24"), Emails: []string{"new@example.net"}, Fetched: now})
	check(host("203.0.113.1"), "new@example.net")
	if m.Len() != 1 {
		t.Errorf("Len() = %d after sweeping expired entries, want 1", m.Len())
	}
	m.max = 1
	m.Put(ctx, Contact{Prefix: pfx("203.0.114.0/24"), Emails: []string{"x@example.net"}, Fetched: now})
	check(host("203.0.114.1"), "miss")
	// Replacing an existing prefix is always allowed.
	m.Put(ctx, Contact{Prefix: pfx("203.0.113.0/24"), Emails: []string{"newer@example.net"}, Fetched: now})
	check(host("203.0.113.1"), "newer@example.net")
}
