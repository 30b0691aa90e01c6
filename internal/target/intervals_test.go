package target

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestIntervalSetAgainstModel drives the set with random ranges and checks
// every gaps answer against a plain bitmap. Enough inserts are made to push
// runs through several levels of merging.
func TestIntervalSetAgainstModel(t *testing.T) {
	const universe = 200000
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 3 {
		set := &intervalSet[v4]{}
		covered := make([]bool, universe)
		for op := range 6000 {
			lo := rng.IntN(universe)
			hi := lo
			switch rng.IntN(100) {
			case 0: // a CIDR-like range swallowing many intervals
				hi = min(universe-1, lo+rng.IntN(2000))
			case 1, 2, 3, 4, 5, 6, 7, 8, 9, 10:
				hi = min(universe-1, lo+rng.IntN(5))
			}
			var want [][2]int
			for x := lo; x <= hi; x++ {
				if covered[x] {
					continue
				}
				if n := len(want); n > 0 && want[n-1][1] == x-1 {
					want[n-1][1] = x
				} else {
					want = append(want, [2]int{x, x})
				}
			}
			var got [][2]int
			set.gaps(v4(lo), v4(hi), func(a, b v4) bool {
				got = append(got, [2]int{int(a), int(b)})
				return true
			})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("round %d op %d: gaps(%d, %d) (-want +got):\n%s", round, op, lo, hi, diff)
			}
			if op%500 == 0 {
				checkInvariants(t, set)
			}
			if rng.IntN(4) != 0 { // sometimes only query
				set.add(v4(lo), v4(hi))
				for x := lo; x <= hi; x++ {
					covered[x] = true
				}
			}
		}
		if len(set.blocks) < 3 {
			t.Errorf("round %d: only %d blocks; splitting not exercised", round, len(set.blocks))
		}
		checkInvariants(t, set)
	}
}

func TestGapsStopsEarly(t *testing.T) {
	set := &intervalSet[v4]{}
	set.add(5, 5)
	calls := 0
	ok := set.gaps(0, 10, func(a, b v4) bool { calls++; return false })
	if ok || calls != 1 {
		t.Errorf("gaps = %v after %d calls, want false after 1", ok, calls)
	}
}

func TestV6Arithmetic(t *testing.T) {
	max6 := v6{math.MaxUint64, math.MaxUint64}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"succ carries", v6{0, math.MaxUint64}.succ(), v6{1, 0}},
		{"pred borrows", v6{1, 0}.pred(), v6{0, math.MaxUint64}},
		{"dist small", v6{1, 5}.dist(v6{0, math.MaxUint64}), uint64(6)},
		{"dist saturates", max6.dist(v6{}), uint64(math.MaxUint64)},
		{"dist at 2^64", v6{1, 0}.dist(v6{}), uint64(math.MaxUint64)},
		{"size saturates", size(v6{}, max6), uint64(math.MaxUint64)},
		{"size of one", size(max6, max6), uint64(1)},
		{"v4 size of all", size(v4(0), v4(math.MaxUint32)), uint64(1 << 32)},
		{"less by hi", v6{0, math.MaxUint64}.less(v6{1, 0}), true},
		{"addr round trip", v6Of(netip.MustParseAddr("2001:db8::1")).addr(), netip.MustParseAddr("2001:db8::1")},
		{"v4 round trip", v4Of(netip.MustParseAddr("192.0.2.255")).addr(), netip.MustParseAddr("192.0.2.255")},
		{"addSat", addSat(math.MaxUint64-1, 5), uint64(math.MaxUint64)},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.AllowUnexported(v6{})); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestV6SetAtTheTop(t *testing.T) {
	max6 := v6{math.MaxUint64, math.MaxUint64}
	set := &intervalSet[v6]{}
	set.add(max6, max6)
	var got []uint64
	set.gaps(max6.pred().pred(), max6, func(a, b v6) bool {
		got = append(got, size(a, b))
		return true
	})
	if diff := cmp.Diff([]uint64{2}, got); diff != "" {
		t.Errorf("gaps below the top (-want +got):\n%s", diff)
	}
	set.add(v6{}, max6)
	if n := set.len(); n != 1 {
		t.Errorf("whole space is %d intervals, want 1", n)
	}
}

// checkInvariants verifies that the set is one sorted sequence with no two
// intervals touching, that blocks are non-empty and bounded, and that the
// index matches.
func checkInvariants[K ordinal[K]](t *testing.T, s *intervalSet[K]) {
	t.Helper()
	if len(s.blocks) != len(s.his) {
		t.Fatalf("%d blocks, %d index entries", len(s.blocks), len(s.his))
	}
	var prev *interval[K]
	for b, blk := range s.blocks {
		if len(blk) == 0 || len(blk) > blockMax {
			t.Fatalf("block %d has %d intervals", b, len(blk))
		}
		if s.his[b] != blk[len(blk)-1].hi {
			t.Fatalf("index %d is %v, block ends at %v", b, s.his[b], blk[len(blk)-1].hi)
		}
		for i := range blk {
			iv := &blk[i]
			if iv.hi.less(iv.lo) {
				t.Fatalf("block %d interval %d reversed: %v", b, i, *iv)
			}
			if prev != nil && (!prev.hi.less(iv.lo) || touches(*prev, *iv)) {
				t.Fatalf("block %d interval %d not after its predecessor: %v then %v", b, i, *prev, *iv)
			}
			prev = iv
		}
	}
}

// TestIntervalSetMerges checks inserts that swallow many intervals across
// blocks, as when a CIDR follows many single addresses inside it.
func TestIntervalSetMerges(t *testing.T) {
	set := &intervalSet[v4]{}
	for x := v4(0); x < 5000; x += 2 {
		set.add(x, x)
	}
	checkInvariants(t, set)
	if set.len() != 2500 || len(set.blocks) < 5 {
		t.Fatalf("%d intervals in %d blocks", set.len(), len(set.blocks))
	}
	set.add(1001, 3001) // swallows whole blocks and parts of two
	checkInvariants(t, set)
	set.add(4997, 10000) // overlaps the end
	checkInvariants(t, set)
	set.add(1, 1) // joins 0 and 2
	checkInvariants(t, set)
	var got [][2]v4
	set.gaps(0, 20000, func(a, b v4) bool {
		if len(got) < 3 {
			got = append(got, [2]v4{a, b})
		}
		return true
	})
	want := [][2]v4{{3, 3}, {5, 5}, {7, 7}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("first gaps (-want +got):\n%s", diff)
	}
	set.add(0, 20000)
	checkInvariants(t, set)
	if set.len() != 1 || len(set.blocks) != 1 {
		t.Errorf("%d intervals in %d blocks after covering all", set.len(), len(set.blocks))
	}
}
