package scan

import (
	"context"
	"testing"
	"time"

	"github.com/exsweep/exsweep/internal/exchange"
	"github.com/exsweep/exsweep/internal/lab"
	"github.com/exsweep/exsweep/internal/target"
)

// BenchmarkScanLab scans 200 reachable lab servers (realistic builds, no
// tarpits) per iteration, scanner and lab in one process: the CPU cost of a
// full fingerprint on both sides. bench/scan/run.sh measures separate processes.
func BenchmarkScanLab(b *testing.B) {
	mix, err := lab.Mix(400, 3, lab.MixRealistic)
	if err != nil {
		b.Fatal(err)
	}
	var servers []lab.Server
	for _, s := range mix {
		if s.Kind == "" || s.Kind == lab.KindExchange {
			if len(servers) < 200 {
				servers = append(servers, s)
			}
		}
	}
	l, err := lab.Start(context.Background(), servers, lab.Options{Network: "127.44.0.0/16", Port: 0, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	s := New(exchange.Default(), Options{Concurrency: 64, Timeout: 10 * time.Second, Confirm: true})
	b.ResetTimer()
	for range b.N {
		ch := make(chan target.Target)
		go func() {
			defer close(ch)
			for _, ap := range l.Addrs() {
				ch <- target.Target{IP: ap.Addr(), Port: ap.Port(), Scheme: "https"}
			}
		}()
		if err := s.Run(context.Background(), ch, func(Record) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(servers))/b.Elapsed().Seconds(), "endpoints/s")
}
