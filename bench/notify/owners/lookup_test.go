// Package ownersbench benchmarks owner lookup (internal/owners) against a
// synthetic, full-size iptoasn table: about 420,000 IPv4 and 80,000 IPv6
// ranges, generated in memory at start (nothing is committed), imported
// through the real TSV reader, plus a constituency of 20,000 prefixes,
// 2,000 ASNs and 2,000 domains.
//
//	go test -run '^$' -bench . -benchmem ./bench/notify/owners/
//	bench/notify/owners/run.sh    # the same, recorded in results.txt
//
// With OWNERS_BENCH_ASN=file[,file…] (iptoasn TSV, ip-location-db CSV or
// MMDB) the *Real benchmarks load real data instead and look up start
// addresses of its ranges.
package ownersbench

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exsweep/exsweep/internal/owners"
)

const (
	v4Ranges   = 420_000
	v6Ranges   = 80_000
	nLookups   = 1 << 20
	nConPrefix = 20_000
	nConASN    = 2_000
	nConDomain = 2_000
)

type rangeRec struct {
	first, last netip.Addr
	asn         uint32
}

var countries = []string{"US", "DE", "NL", "FR", "GB", "BR", "JP", "CN", "RU", "IN", "ZA", "AU", "CA", "IT", "ES", "None"}

// pickLen draws a prefix length with roughly the shape of the real table:
// mostly /24s, a tail of shorter allocations.
func pickLen(r *rand.Rand, lens []int, weights []int) int {
	n := r.IntN(1000)
	for i, w := range weights {
		if n < w {
			return lens[i]
		}
		n -= w
	}
	return lens[len(lens)-1]
}

func pickASN(r *rand.Rand) uint32 {
	// Skewed like real data: a few ASes announce many ranges.
	f := r.Float64()
	return 1 + uint32(f*f*f*79_999)
}

// generateTSV writes an iptoasn-format table and returns the ranges.
func generateTSV(seed uint64) ([]byte, []rangeRec) {
	r := rand.New(rand.NewPCG(seed, 1))
	var buf bytes.Buffer
	buf.Grow(40 << 20)
	var recs []rangeRec
	emit := func(first, last netip.Addr, asn uint32) {
		cc := countries[asn%uint32(len(countries))]
		name := fmt.Sprintf("AS%d-NET Example Network %d", asn, asn%977)
		if asn == 0 {
			cc, name = "None", "Not routed"
		}
		fmt.Fprintf(&buf, "%s\t%s\t%d\t%s\t%s\n", first, last, asn, cc, name)
		if asn != 0 {
			recs = append(recs, rangeRec{first, last, asn})
		}
	}

	v4lens := []int{24, 23, 22, 21, 20, 19, 18, 17, 16}
	v4w := []int{550, 120, 140, 70, 60, 30, 15, 8, 7}
	cur := uint64(1 << 24) // 1.0.0.0
	for n := 0; n < v4Ranges; n++ {
		l := pickLen(r, v4lens, v4w)
		size := uint64(1) << (32 - l)
		if r.IntN(3) != 0 {
			cur = (cur + size - 1) &^ (size - 1) // aligned start (most real ranges)
		} else {
			cur = (cur + 255) &^ 255 // /24-aligned only: splits into several prefixes
		}
		k := uint64(1 + r.IntN(10)/7) // 1 block (70%) or 2
		last := cur + k*size - 1
		if last >= 224<<24 {
			panic("synthetic IPv4 table overflowed into multicast; adjust the weights")
		}
		asn := pickASN(r)
		if r.IntN(10) == 0 {
			asn = 0 // "Not routed" rows are part of the real file too
		}
		emit(v4addr(cur), v4addr(last), asn)
		cur = last + 1
		if r.IntN(5) == 0 {
			cur += uint64(256 * (1 + r.IntN(64))) // unrouted gap
		}
	}

	v6lens := []int{32, 29, 36, 40, 44, 48}
	v6w := []int{300, 50, 100, 150, 100, 300}
	hi := uint64(0x2001_0200) << 32 // upper 64 bits; lengths are ≤ /48
	for n := 0; n < v6Ranges; n++ {
		l := pickLen(r, v6lens, v6w)
		size := uint64(1) << (64 - l)
		hi = (hi + size - 1) &^ (size - 1)
		k := uint64(1 + r.IntN(10)/8)
		last := hi + k*size - 1
		emit(v6addr(hi, 0), v6addr(last, ^uint64(0)), pickASN(r))
		hi = last + 1
	}
	return buf.Bytes(), recs
}

func v4addr(n uint64) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

func v6addr(hi, lo uint64) netip.Addr {
	var b [16]byte
	for i := range 8 {
		b[i] = byte(hi >> (56 - 8*i))
		b[8+i] = byte(lo >> (56 - 8*i))
	}
	return netip.AddrFrom16(b)
}

func randomIn(r *rand.Rand, rec rangeRec) netip.Addr {
	if rec.first.Is4() {
		a, b := rec.first.As4(), rec.last.As4()
		f := uint64(a[0])<<24 | uint64(a[1])<<16 | uint64(a[2])<<8 | uint64(a[3])
		l := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
		return v4addr(f + r.Uint64N(l-f+1))
	}
	// IPv6 ranges here are whole /32../48 blocks: pick within the upper
	// 64 bits, any lower 64.
	a, b := rec.first.As16(), rec.last.As16()
	var fh, lh uint64
	for i := range 8 {
		fh = fh<<8 | uint64(a[i])
		lh = lh<<8 | uint64(b[i])
	}
	return v6addr(fh+r.Uint64N(lh-fh+1), r.Uint64())
}

type fixture struct {
	dir       *owners.Directory
	ips       []netip.Addr
	hosts     []string
	tsvBytes  int
	loadTime  time.Duration
	heapBytes uint64
	ranges    int
	prefixes  int
	records   int
}

var (
	fixOnce sync.Once
	fix     *fixture
)

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func load(b *testing.B) *fixture {
	fixOnce.Do(func() {
		tsv, recs := generateTSV(2021_03_02)
		r := rand.New(rand.NewPCG(7, 7))

		// Constituency: /24s and /48s inside routed space, AS rules, domains.
		var c strings.Builder
		c.WriteString("name,to,cc,language,cidrs,asns,domains\n")
		seenP := map[netip.Prefix]bool{}
		seenA := map[uint32]bool{}
		for i := 0; i < nConPrefix; i++ {
			rec := recs[r.IntN(len(recs))]
			bits := 24
			if rec.first.Is6() {
				bits = 48
			}
			p, _ := randomIn(r, rec).Prefix(bits)
			if seenP[p] {
				continue
			}
			seenP[p] = true
			fmt.Fprintf(&c, "Org P%d,abuse@p%d.example,,en,%s,,\n", i, i, p)
		}
		for i := 0; i < nConASN; i++ {
			a := pickASN(r)
			if seenA[a] {
				continue
			}
			seenA[a] = true
			fmt.Fprintf(&c, "Org A%d,abuse@a%d.example,,,,AS%d,\n", i, i, a)
		}
		for i := 0; i < nConDomain; i++ {
			fmt.Fprintf(&c, "Org D%d,abuse@d%d.example,,,,,dom%d.example\n", i, i, i)
		}

		before := heapInUse()
		start := time.Now()
		bld := owners.NewASNTableBuilder()
		if err := bld.ReadIPtoASN("synthetic-ip2asn-combined.tsv", bytes.NewReader(tsv)); err != nil {
			panic(err)
		}
		tbl := bld.Table()
		loadTime := time.Since(start)
		tsvLen := len(tsv)
		heap := heapInUse() - before // tsv is live in both measurements
		runtime.KeepAlive(tsv)

		con, err := owners.ParseConstituency(owners.Source{Name: "synthetic.csv", Format: owners.FormatCSV, Reader: strings.NewReader(c.String())})
		if err != nil {
			panic(err)
		}
		dir, err := owners.New(owners.Config{Constituency: con, ASNs: tbl})
		if err != nil {
			panic(err)
		}

		f := &fixture{dir: dir, tsvBytes: tsvLen, loadTime: loadTime, heapBytes: heap}
		f.ranges, f.prefixes, f.records = tbl.Stats()
		// Lookup mix: 85% IPv4; 90% of addresses inside routed ranges (a
		// scan's hits are), the rest uniformly random; 20% carry a host
		// name, a quarter of those under a listed domain.
		f.ips = make([]netip.Addr, nLookups)
		f.hosts = make([]string, nLookups)
		var v4recs, v6recs []rangeRec
		for _, rec := range recs {
			if rec.first.Is4() {
				v4recs = append(v4recs, rec)
			} else {
				v6recs = append(v6recs, rec)
			}
		}
		for i := range f.ips {
			switch {
			case r.IntN(100) < 85 && r.IntN(10) < 9:
				f.ips[i] = randomIn(r, v4recs[r.IntN(len(v4recs))])
			case r.IntN(100) < 85:
				f.ips[i] = v4addr(uint64(r.Uint32()))
			default:
				f.ips[i] = randomIn(r, v6recs[r.IntN(len(v6recs))])
			}
			if r.IntN(5) == 0 {
				if r.IntN(4) == 0 {
					f.hosts[i] = fmt.Sprintf("Mail.Dom%d.Example", r.IntN(nConDomain))
				} else {
					f.hosts[i] = fmt.Sprintf("owa.customer%d.example.com", i)
				}
			}
		}
		fix = f
	})
	return fix
}

// BenchmarkLoad reports the cost of the full table: import time and the
// heap it keeps (measured once, when the fixture is built).
//
// It also keeps the generator honest: the table must be full-size and split
// ranges into prefixes about as the real one does (411,961 real IPv4 ranges
// → 564,580 prefixes, research/go-anchors.md; 1.37 per range).
func BenchmarkLoad(b *testing.B) {
	f := load(b)
	if f.ranges < 440_000 {
		b.Fatalf("%d routed ranges, want a full-size table", f.ranges)
	}
	if ratio := float64(f.prefixes) / float64(f.ranges); ratio < 1.2 || ratio > 2.5 {
		b.Fatalf("%.2f prefixes per range, want about 1.4", ratio)
	}
	for b.Loop() {
	}
	b.ReportMetric(float64(f.heapBytes)/(1<<20), "heap-MiB")
	b.ReportMetric(f.loadTime.Seconds(), "load-s")
	b.ReportMetric(float64(f.ranges), "ranges")
	b.ReportMetric(float64(f.prefixes), "prefixes")
	b.ReportMetric(float64(f.records), "AS-records")
	b.ReportMetric(float64(f.tsvBytes)/(1<<20), "tsv-MiB")
}

// BenchmarkLookup is one goroutine.
func BenchmarkLookup(b *testing.B) {
	f := load(b)
	var owned int
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	i := 0
	for b.Loop() {
		j := i & (nLookups - 1)
		if f.dir.Lookup(f.ips[j], f.hosts[j]).Owned() {
			owned++
		}
		i++
	}
	reportRates(b, cpuTime()-cpu0, b.Elapsed())
	b.ReportMetric(100*float64(owned)/float64(b.N), "%owned")
}

// BenchmarkLookupParallel uses every core (GOMAXPROCS), as the owners
// stage of a big run would.
func BenchmarkLookupParallel(b *testing.B) {
	f := load(b)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	var seq sync.Mutex
	next := 0
	b.RunParallel(func(pb *testing.PB) {
		seq.Lock()
		i := next * 7919
		next++
		seq.Unlock()
		for pb.Next() {
			j := i & (nLookups - 1)
			f.dir.Lookup(f.ips[j], f.hosts[j])
			i++
		}
	})
	reportRates(b, cpuTime()-cpu0, time.Since(start))
}

// reportRates reports lookups per wall-clock second and per CPU second
// (all threads; the lookups do not allocate, so that is the lookups).
func reportRates(b *testing.B, cpu, wall time.Duration) {
	b.ReportMetric(float64(b.N)/wall.Seconds(), "lookups/s")
	if cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "lookups/cpu-s")
	}
}

var (
	realOnce sync.Once
	real     *fixture
	realErr  error
)

func loadReal(b *testing.B) *fixture {
	env := os.Getenv("OWNERS_BENCH_ASN")
	if env == "" {
		b.Skip("set OWNERS_BENCH_ASN=file[,file…] to benchmark real IP→ASN data")
	}
	realOnce.Do(func() {
		paths := strings.Split(env, ",")
		before := heapInUse()
		start := time.Now()
		tbl, err := owners.LoadASNTable(paths...)
		if err != nil {
			realErr = err
			return
		}
		f := &fixture{loadTime: time.Since(start), heapBytes: heapInUse() - before}
		f.ranges, f.prefixes, f.records = tbl.Stats()
		f.dir, realErr = owners.New(owners.Config{ASNs: tbl})
		// Look up the start address of random ranges.
		r := rand.New(rand.NewPCG(3, 3))
		var starts []netip.Addr
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil || strings.HasSuffix(p, ".mmdb") || strings.HasSuffix(p, ".gz") {
				continue
			}
			for _, line := range strings.Split(string(data), "\n") {
				field, _, _ := strings.Cut(line, ",")
				field, _, _ = strings.Cut(field, "\t")
				if a, err := netip.ParseAddr(field); err == nil {
					starts = append(starts, a)
				}
			}
		}
		f.ips = make([]netip.Addr, nLookups)
		f.hosts = make([]string, nLookups)
		for i := range f.ips {
			if len(starts) > 0 && r.IntN(10) < 9 {
				f.ips[i] = starts[r.IntN(len(starts))]
			} else {
				f.ips[i] = v4addr(uint64(r.Uint32()))
			}
		}
		real = f
	})
	if realErr != nil {
		b.Fatal(realErr)
	}
	return real
}

func BenchmarkLoadReal(b *testing.B) {
	f := loadReal(b)
	for b.Loop() {
	}
	b.ReportMetric(float64(f.heapBytes)/(1<<20), "heap-MiB")
	b.ReportMetric(f.loadTime.Seconds(), "load-s")
	b.ReportMetric(float64(f.ranges), "ranges")
	b.ReportMetric(float64(f.prefixes), "prefixes")
	b.ReportMetric(float64(f.records), "AS-records")
}

func BenchmarkLookupReal(b *testing.B) {
	f := loadReal(b)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	var withAS int
	i := 0
	for b.Loop() {
		j := i & (nLookups - 1)
		if f.dir.Lookup(f.ips[j], "").ASN != 0 {
			withAS++
		}
		i++
	}
	reportRates(b, cpuTime()-cpu0, b.Elapsed())
	b.ReportMetric(100*float64(withAS)/float64(b.N), "%with-AS")
}
