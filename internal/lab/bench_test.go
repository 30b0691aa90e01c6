package lab

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkFingerprint measures one scanner-like client doing the 4-request
// fingerprint of remote.md §8 (/owa/ without following, the 57 KB logon page,
// the 16 KB exporttool manifest, the EWS 401) over one keep-alive connection.
// Client and server share the machine's cores, as in the scanner benchmarks.
func BenchmarkFingerprint(b *testing.B) {
	l, c := benchLab(b)
	tg := l.Targets()[0]
	b.ResetTimer()
	for b.Loop() {
		for _, p := range fingerprint {
			benchGet(b, c, tg, p)
		}
	}
	b.ReportMetric(float64(b.N*len(fingerprint))/b.Elapsed().Seconds(), "req/s")
	if s := l.Stats(0); s.Conns != 1 {
		b.Errorf("%d connections, want 1 (keep-alive)", s.Conns)
	}
}

// BenchmarkFingerprintParallel is the same with GOMAXPROCS concurrent clients
// (one connection each) against one server: the lab's throughput ceiling.
func BenchmarkFingerprintParallel(b *testing.B) {
	l, c := benchLab(b)
	tg := l.Targets()[0]
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			for _, p := range fingerprint {
				benchGet(b, c, tg, p)
			}
		}
	})
	b.ReportMetric(float64(b.N*len(fingerprint))/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64(l.Stats(0).Conns), "conns")
}

func benchLab(b *testing.B) (*Lab, *http.Client) {
	l, err := Start(b.Context(), []Server{{Build: "15.1.2176.9"}}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	c := newClient(b)
	c.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	return l, c
}

func benchGet(b *testing.B, c *http.Client, target, path string) {
	req, _ := http.NewRequest("GET", "https://"+target+path, nil)
	req.Header.Set("User-Agent", browserUA)
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
