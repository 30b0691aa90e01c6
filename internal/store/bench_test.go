package store

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
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
		name    string
		backend backend
		query   string
	}{
		{"sqlite/sync=FULL", sqliteBackend, ""},
		{"sqlite/sync=NORMAL", sqliteBackend, "?_synchronous=NORMAL"},
		{"postgres", postgresBackend, ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			dsn := bc.backend.newDSN(b)
			if bc.backend.dialect == dialectSQLite {
				dsn = "file:" + dsn + bc.query
			}
			s, err := Open(ctx, dsn)
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
				// On PostgreSQL the server's CPU is not in this figure.
				b.ReportMetric(float64(b.N)/cpu, "rows/cpu-s")
			}
		})
	}
}

// BenchmarkDoneEndpoints measures loading the resume set of a large run.
//
//	go test -run '^$' -bench DoneEndpoints -benchtime 3x ./internal/store/
func BenchmarkDoneEndpoints(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) { benchmarkDoneEndpoints(b, be) })
	}
}

func benchmarkDoneEndpoints(b *testing.B, be backend) {
	ctx := context.Background()
	s, err := Open(ctx, be.newDSN(b))
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

// The notify benchmark's scale: a plan over 100,000 observations for a
// constituency of 20,000 organisations.
const (
	benchOrgs  = 20_000
	benchCases = 100_000
)

func benchOrgList() []Organisation {
	orgs := make([]Organisation, benchOrgs)
	for i := range orgs {
		k := fmt.Sprintf("org-%05d", i)
		orgs[i] = Organisation{Key: k, Name: "Organisation " + k, To: []string{"abuse@" + k + ".example"}, Language: "en"}
	}
	return orgs
}

// benchInputs: one vulnerable endpoint per input, spread over the
// organisations, every tenth unowned.
func benchInputs(at time.Time, obsBase int64) []CaseInput {
	ins := make([]CaseInput, benchCases)
	for i := range ins {
		org := ""
		if i%10 != 9 {
			org = fmt.Sprintf("org-%05d", i%benchOrgs)
		}
		ins[i] = CaseInput{OrgKey: org, ASN: 64500 + uint32(i%100), ASName: "AS-EXAMPLE", Endpoint: endpoint(i),
			Hostname: fmt.Sprintf("mail%d.example", i), Problem: ProblemVulnerable,
			CVEs: []string{"CVE-2021-26855", "CVE-2021-27065"}, Severity: 5 + i%5,
			ObservationID: obsBase + int64(i), RunID: 1, ObservedAt: at}
	}
	return ins
}

// BenchmarkUpsertCases measures the planner's write path: organisations
// imported, cases opened, and the same plan run again after a rescan
// (unchanged: nothing to write; newer: every case updated). rows/s is per
// organisation or case input; each iteration is one full pass.
//
//	go test -run '^$' -bench UpsertCases -benchtime 1x ./internal/store/
func BenchmarkUpsertCases(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			for _, phase := range []string{"orgs", "create", "replay", "rescan"} {
				b.Run(phase, func(b *testing.B) { benchmarkUpsertCases(b, be, phase) })
			}
		})
	}
}

func benchmarkUpsertCases(b *testing.B, be backend, phase string) {
	ctx := context.Background()
	orgs := benchOrgList()
	first := benchInputs(t0, 1)
	newer := benchInputs(t0.Add(24*time.Hour), benchCases+1)
	rows := benchCases
	if phase == "orgs" {
		rows = benchOrgs
	}
	b.ReportAllocs()
	var cpu float64
	for range b.N {
		b.StopTimer()
		s, err := Open(ctx, be.newDSN(b))
		if err != nil {
			b.Fatal(err)
		}
		if phase != "orgs" {
			if err := s.UpsertOrganisations(ctx, orgs); err != nil {
				b.Fatal(err)
			}
		}
		if phase == "replay" || phase == "rescan" {
			if _, err := s.UpsertCases(ctx, first); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		cpu0 := processCPU()
		b.StartTimer()
		switch phase {
		case "orgs":
			err = s.UpsertOrganisations(ctx, orgs)
		case "create", "replay":
			_, err = s.UpsertCases(ctx, first)
		case "rescan":
			_, err = s.UpsertCases(ctx, newer)
		}
		b.StopTimer()
		cpu += processCPU() - cpu0
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	if cpu > 0 {
		b.ReportMetric(float64(rows)*float64(b.N)/cpu, "rows/cpu-s")
	}
}
