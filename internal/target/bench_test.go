package target

import (
	"bytes"
	"context"
	"io"
	"testing"
)

// BenchmarkSingleIPLines streams a file of 1,000,000 random IPv4 lines (the
// shape of a masscan/zmap result turned into a list): read, parse, dedup,
// emit. One op is the whole file.
func BenchmarkSingleIPLines(b *testing.B) {
	const lines = 1_000_000
	data, err := io.ReadAll(newRandomIPLines(lines, 42))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		s, _ := NewStream(Input{Sources: []Source{{Name: "big.txt", Reader: bytes.NewReader(data)}}}, Options{})
		n := 0
		for _, err := range s.All(context.Background()) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n < lines*99/100 {
			b.Fatalf("%d targets", n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/lines, "ns/line")
}

// BenchmarkCIDR12 streams a /12 (1,048,576 addresses). One op is the whole
// range.
func BenchmarkCIDR12(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		s, _ := NewStream(args("10.16.0.0/12"), Options{})
		n := 0
		for range s.All(context.Background()) {
			n++
		}
		if n != 1<<20 {
			b.Fatalf("%d targets", n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(1<<20), "ns/target")
}

// BenchmarkCount counts a file of 1,000,000 random lines without emitting.
func BenchmarkCount(b *testing.B) {
	const lines = 1_000_000
	data, err := io.ReadAll(newRandomIPLines(lines, 42))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Count(context.Background(), Input{Sources: []Source{{Name: "big.txt", Reader: bytes.NewReader(data)}}}, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/lines, "ns/line")
}

// BenchmarkParseLine parses one line of each syntax.
func BenchmarkParseLine(b *testing.B) {
	lines := []string{
		"192.0.2.7",
		"10.0.0.0/24",
		"10.0.0.1-10.0.0.5",
		"mail.contoso.example:8443",
		"https://mail.contoso.example/owa/",
		"open tcp 443 198.51.100.23 1616161616",
		`{   "ip": "198.51.100.23",   "timestamp": "1616161616", "ports": [ {"port": 443, "proto": "tcp", "status": "open", "reason": "syn-ack", "ttl": 116} ] }`,
	}
	for _, l := range lines {
		b.Run(l[:min(len(l), 20)], func(b *testing.B) {
			var p lineParser
			b.ReportAllocs()
			for b.Loop() {
				if _, _, _, err := p.parse(l); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIntervalSetRandom is the dedup core alone: a lookup and an
// insert for each of 1,000,000 random IPv4 addresses.
func BenchmarkIntervalSetRandom(b *testing.B) {
	const n = 1_000_000
	keys := make([]v4, n)
	rng := newRandomIPLines(0, 3).rng
	for i := range keys {
		keys[i] = v4(rng.Uint32())
	}
	b.ReportAllocs()
	for b.Loop() {
		set := &intervalSet[v4]{}
		for _, k := range keys {
			set.gaps(k, k, func(lo, hi v4) bool {
				set.add(lo, hi)
				return true
			})
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/address")
}
