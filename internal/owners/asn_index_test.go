package owners

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"go4.org/netipx"
)

// TestIPv4IndexMatchesTrie checks the flat IPv4 index against bart's own
// longest-prefix match on tables with heavy nesting and overlap, at every
// prefix boundary, next to it and at random addresses.
func TestIPv4IndexMatchesTrie(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 99))
		b := NewASNTableBuilder()
		n := 1 + r.IntN(400)
		if seed == 0 {
			n = 0 // empty table
		}
		for i := 0; i < n; i++ {
			// Cluster addresses so prefixes nest and overlap.
			base := uint32(r.IntN(4)) << 30
			first := base | r.Uint32N(1<<(8+r.IntN(22)))
			last := first + r.Uint32N(1<<r.IntN(20))
			if last < first {
				last = ^uint32(0)
			}
			as := AS{Number: 1 + r.Uint32N(50), Country: "DE"}
			if err := b.AddRange(u2a(first), u2a(last), as); err != nil {
				t.Fatal(err)
			}
		}
		if seed == 1 {
			b.AddRange(u2a(0), u2a(^uint32(0)), AS{Number: 7}) // a /0 under everything
		}
		ref := b.t.Clone()
		tbl := b.Table()

		check := func(a uint32) {
			ip := u2a(a)
			wantV, wantOK := ref.Lookup(ip)
			gotV, gotOK := tbl.v4.lookup(a)
			if wantOK != gotOK || (wantOK && wantV != gotV) {
				t.Fatalf("seed %d: %s: index %d,%v; trie %d,%v", seed, ip, gotV, gotOK, wantV, wantOK)
			}
		}
		for _, a := range []uint32{0, 1, 1<<16 - 1, 1 << 16, 1<<32 - 1, 1<<32 - 2} {
			check(a)
		}
		for p := range ref.All4() {
			rg := netipx.RangeOfPrefix(p)
			f, l := v4u(rg.From()), v4u(rg.To())
			for _, a := range []uint32{f - 1, f, f + 1, l - 1, l, l + 1} {
				check(a)
			}
		}
		for range 5000 {
			check(r.Uint32())
		}
	}
}

func u2a(u uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
}
