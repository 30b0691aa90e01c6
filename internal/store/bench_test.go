package store

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkObservationWriter measures the scanner's write path with the
// default batch size and realistic rows; rows/s is the number to watch (the
// scanner needs well over 10,000). The NORMAL case shows what
// synchronous=FULL costs. rows/cpu-s is the rate per core of CPU actually
// used, which stays meaningful when other processes load the machine.
//
//	go test -run '^$' -bench ObservationWriter -benchtime 100000x ./internal/store/
func BenchmarkObservationWriter(b *testing.B) {
	for _, bc := range []struct {
		name  string
		query string
	}{
		{"sync=FULL", ""},
		{"sync=NORMAL", "?_synchronous=NORMAL"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			path := filepath.Join(b.TempDir(), "bench.db")
			s, err := Open(ctx, "file:"+path+bc.query)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			id := mustRun(b, s)
			obs := make([]Observation, 4096)
			for i := range obs {
				obs[i] = fakeObservation(i)
			}
			w := s.NewObservationWriter(id, BatchOptions{MaxRows: 500})
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			for i := range b.N {
				o := obs[i%len(obs)]
				// Distinct endpoints, so every row is an insert.
				o.IP = endpoint(i).Addr()
				if err := w.Add(ctx, o); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			if cpu := processCPU() - cpu0; cpu > 0 {
				b.ReportMetric(float64(b.N)/cpu, "rows/cpu-s")
			}
		})
	}
}

// BenchmarkDoneEndpoints measures loading the resume set of a large run.
//
//	go test -run '^$' -bench DoneEndpoints -benchtime 3x ./internal/store/
func BenchmarkDoneEndpoints(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	id := mustRun(b, s)
	const rows = 200_000
	w := s.NewObservationWriter(id, BatchOptions{MaxRows: 5000})
	for i := range rows {
		o := Observation{Target: "t", IP: endpoint(i).Addr(), Port: 443, Verdict: "patched"}
		if err := w.Add(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		set, err := s.DoneEndpoints(ctx, id)
		if err != nil || set.Len() != rows {
			b.Fatalf("%d, %v", set.Len(), err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "endpoints/s")
}
