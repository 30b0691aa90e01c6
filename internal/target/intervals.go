package target

import (
	"encoding/binary"
	"math"
	"net/netip"
	"slices"
)

// ordinal is an address as a number, so ranges are intervals of integers.
// There are two: v4 (4 bytes) and v6 (16 bytes); keeping IPv4 in 4 bytes
// halves or quarters the dedup memory for the common case.
type ordinal[K any] interface {
	comparable
	less(K) bool
	succ() K // caller guarantees it is not the maximum
	pred() K // caller guarantees it is not zero
	// dist returns k - lower, saturating at math.MaxUint64.
	dist(lower K) uint64
	addr() netip.Addr
}

type v4 uint32

func v4Of(a netip.Addr) v4 {
	b := a.As4()
	return v4(binary.BigEndian.Uint32(b[:]))
}

func (a v4) less(b v4) bool       { return a < b }
func (a v4) succ() v4             { return a + 1 }
func (a v4) pred() v4             { return a - 1 }
func (a v4) dist(lower v4) uint64 { return uint64(a - lower) }
func (a v4) addr() netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(a))
	return netip.AddrFrom4(b)
}

type v6 struct{ hi, lo uint64 }

func v6Of(a netip.Addr) v6 {
	b := a.As16()
	return v6{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func (a v6) less(b v6) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

func (a v6) succ() v6 {
	if a.lo == math.MaxUint64 {
		return v6{a.hi + 1, 0}
	}
	return v6{a.hi, a.lo + 1}
}

func (a v6) pred() v6 {
	if a.lo == 0 {
		return v6{a.hi - 1, math.MaxUint64}
	}
	return v6{a.hi, a.lo - 1}
}

func (a v6) dist(lower v6) uint64 {
	lo := a.lo - lower.lo
	hi := a.hi - lower.hi
	if a.lo < lower.lo {
		hi--
	}
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}

func (a v6) addr() netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], a.hi)
	binary.BigEndian.PutUint64(b[8:], a.lo)
	return netip.AddrFrom16(b)
}

// size returns the number of addresses in [lo, hi], saturating.
func size[K ordinal[K]](lo, hi K) uint64 {
	d := hi.dist(lo)
	if d == math.MaxUint64 {
		return d
	}
	return d + 1
}

func addSat(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

// interval is the closed range [lo, hi].
type interval[K ordinal[K]] struct{ lo, hi K }

// touches reports whether b (with a.lo <= b.lo) overlaps or directly follows a,
// so the two can be one interval.
func touches[K ordinal[K]](a, b interval[K]) bool {
	// a.hi is not the maximum when b.lo > a.hi, so succ is safe.
	return !a.hi.less(b.lo) || a.hi.succ() == b.lo
}

// search returns the index of the first interval in run whose hi is >= x.
// Written out rather than sort.Search: it is the innermost loop of dedup.
func search[K ordinal[K]](run []interval[K], x K) int {
	lo, hi := 0, len(run)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if run[m].hi.less(x) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// blockMax bounds a block: inserting moves at most this many intervals
// (4 KiB for IPv4), and a block is searched within a few cache lines.
const blockMax = 512

// intervalSet is a set of addresses kept as merged intervals: one sorted
// sequence in which no two intervals overlap or touch, cut into blocks of
// at most blockMax intervals, with the last hi of each block as an index.
//
// A lookup is one binary search in the index and one in a block; an insert
// moves at most one block's worth of memory. Memory is the intervals (8
// bytes each for IPv4, 32 for IPv6) and at most as much again in block
// slack. A single sorted slice would make 1,000,000 random inserts
// quadratic; a tree would cost a pointer-heavy node per interval; the
// log-structured runs tried first needed ~13 cache-cold searches a lookup.
type intervalSet[K ordinal[K]] struct {
	blocks [][]interval[K] // never empty
	his    []K             // his[b] is the hi of the last interval of blocks[b]
}

// newSortedSet wraps intervals that are already sorted and coalesced (the
// exclude list) without copying or splitting them: it is only read.
func newSortedSet[K ordinal[K]](run []interval[K]) intervalSet[K] {
	if len(run) == 0 {
		return intervalSet[K]{}
	}
	return intervalSet[K]{blocks: [][]interval[K]{run}, his: []K{run[len(run)-1].hi}}
}

// find returns the position (block b, index i) of the first interval whose
// hi is >= x; b is len(s.blocks) when there is none.
func (s *intervalSet[K]) find(x K) (b, i int) {
	lo, hi := 0, len(s.his)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.his[m].less(x) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == len(s.blocks) {
		return lo, 0
	}
	return lo, search(s.blocks[lo], x)
}

// gaps calls fn for each maximal sub-range of [lo, hi] not in the set, in
// ascending order, and stops early when fn returns false (then gaps returns
// false too).
func (s *intervalSet[K]) gaps(lo, hi K, fn func(lo, hi K) bool) bool {
	b, i := s.find(lo)
	x := lo
	for b < len(s.blocks) {
		iv := s.blocks[b][i] // iv.hi >= x
		if hi.less(iv.lo) {
			break
		}
		if x.less(iv.lo) && !fn(x, iv.lo.pred()) {
			return false
		}
		if !iv.hi.less(hi) {
			return true // covered to the end
		}
		x = iv.hi.succ()
		if i++; i == len(s.blocks[b]) {
			b, i = b+1, 0
		}
	}
	return fn(x, hi)
}

// add inserts [lo, hi], merging it with every interval it overlaps or touches.
func (s *intervalSet[K]) add(lo, hi K) {
	if len(s.blocks) == 0 {
		s.blocks = [][]interval[K]{make([]interval[K], 1, 16)}
		s.blocks[0][0] = interval[K]{lo, hi}
		s.his = []K{hi}
		return
	}
	// The first interval that can touch [lo, hi] ends at lo-1 or later.
	key := lo
	var zero K
	if lo != zero {
		key = lo.pred()
	}
	b, i := s.find(key)
	if b == len(s.blocks) {
		// After everything: append to the last block.
		b = len(s.blocks) - 1
		s.blocks[b] = append(s.blocks[b], interval[K]{lo, hi})
		s.his[b] = hi
		s.split(b)
		return
	}
	// Find the end (eb, ei) of the intervals that touch [lo, hi]: those
	// starting at or before hi+1. Each later one ends after the one before.
	merged := interval[K]{lo, hi}
	eb, ei := b, i
	for eb < len(s.blocks) {
		iv := s.blocks[eb][ei]
		if hi.less(iv.lo) && hi.succ() != iv.lo { // hi is not the maximum here
			break
		}
		if iv.lo.less(merged.lo) {
			merged.lo = iv.lo
		}
		if merged.hi.less(iv.hi) {
			merged.hi = iv.hi
		}
		if ei++; ei == len(s.blocks[eb]) {
			eb, ei = eb+1, 0
		}
	}
	// Replace positions [(b, i), (eb, ei)) with merged.
	if eb == b {
		s.blocks[b] = slices.Replace(s.blocks[b], i, ei, merged)
	} else {
		s.blocks[b] = append(s.blocks[b][:i], merged)
		if eb < len(s.blocks) && ei > 0 {
			tail := s.blocks[eb]
			s.blocks[eb] = tail[:copy(tail, tail[ei:])]
		}
		// Blocks b+1 .. eb-1 were swallowed whole.
		s.blocks = slices.Delete(s.blocks, b+1, eb)
		s.his = slices.Delete(s.his, b+1, eb)
	}
	blk := s.blocks[b]
	s.his[b] = blk[len(blk)-1].hi
	s.split(b)
}

// split halves block b when it has grown past blockMax.
func (s *intervalSet[K]) split(b int) {
	blk := s.blocks[b]
	if len(blk) <= blockMax {
		return
	}
	half := len(blk) / 2
	upper := make([]interval[K], len(blk)-half, blockMax+1)
	copy(upper, blk[half:])
	blk = blk[:half]
	s.blocks[b] = blk
	s.his[b] = blk[half-1].hi
	s.blocks = slices.Insert(s.blocks, b+1, upper)
	s.his = slices.Insert(s.his, b+1, upper[len(upper)-1].hi)
}

// len returns the number of intervals stored (for tests and memory checks).
func (s *intervalSet[K]) len() int {
	n := 0
	for _, blk := range s.blocks {
		n += len(blk)
	}
	return n
}

// coalesce sorts intervals and merges those that overlap or touch.
func coalesce[K ordinal[K]](run []interval[K]) []interval[K] {
	slices.SortFunc(run, func(a, b interval[K]) int {
		switch {
		case a.lo.less(b.lo):
			return -1
		case b.lo.less(a.lo):
			return 1
		}
		return 0
	})
	out := run[:0]
	for _, iv := range run {
		if n := len(out); n > 0 && touches(out[n-1], iv) {
			if out[n-1].hi.less(iv.hi) {
				out[n-1].hi = iv.hi
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}
