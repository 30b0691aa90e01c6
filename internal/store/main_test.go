package store

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The crash test re-executes this binary as the process it kills; see
	// crashChild in crash_test.go.
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild())
	}
	if os.Getenv(claimChildEnv) != "" {
		os.Exit(claimChild())
	}
	goleak.VerifyTestMain(m)
}

// testClock is a deterministic clock: every call is one millisecond and a
// few nanoseconds later, so stored times exercise the nine-digit fraction.
// It is safe for concurrent use (the outbox tests claim from goroutines).
func testClock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2021, 3, 2, 12, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Millisecond + 7*time.Nanosecond)
		return t
	}
}

// fixedClock returns a clock that stands still at *at, which the test moves.
func fixedClock(at *time.Time) func() time.Time { return func() time.Time { return *at } }

// openTest opens a fresh store of backend b (for SQLite a file, so WAL and
// the read pool are exercised; for PostgreSQL a new schema) and closes it
// when the test ends.
func openTest(t testing.TB, b backend) *Store {
	t.Helper()
	return openTestDSN(t, b.newDSN(t))
}

// openTestDSN opens dsn with the test clock and closes it when the test ends.
func openTestDSN(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s.now = testClock()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func mustRun(t testing.TB, s *Store) int64 {
	t.Helper()
	id, err := s.CreateRun(context.Background(), RunInfo{Args: []string{"scan", "10.0.0.0/8"}, KBDate: "2026-01-15", TargetsTotal: 1 << 24})
	if err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	return id
}

var verdicts = []string{"vulnerable", "patched", "undetermined", "not-exchange", "unreachable"}

// endpoint i of a synthetic scan: 10.x.y.z:443, distinct for i < 2^24.
func endpoint(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 443)
}

// fakeObservation is a realistic row: a few hundred bytes of record JSON,
// like the scanner's output line.
func fakeObservation(i int) Observation {
	ep := endpoint(i)
	v := verdicts[i%len(verdicts)]
	rec, err := json.Marshal(map[string]any{
		"target": ep.Addr().String(), "ip": ep.Addr().String(), "port": ep.Port(),
		"exchange": v != "not-exchange" && v != "unreachable", "product": "Exchange Server 2016",
		"build": "15.1.2507.6", "build_exact": i%2 == 0, "cu": "CU23", "update": "Mar21SU",
		"verdict": v,
		"cves": []map[string]string{
			{"id": "CVE-2021-26855", "name": "ProxyLogon", "state": "patched"},
			{"id": "CVE-2021-34473", "name": "ProxyShell", "state": "vulnerable"},
		},
		"evidence": map[string]string{"owa_path": "/owa/auth/15.1.2507/themes/resources/favicon.ico", "x_owa_version": "15.1.2507.6"},
	})
	if err != nil {
		panic(err)
	}
	return Observation{
		Target:     ep.Addr().String(),
		IP:         ep.Addr(),
		Port:       ep.Port(),
		Hostname:   fmt.Sprintf("mail%d.example.org", i),
		Exchange:   v != "not-exchange" && v != "unreachable",
		Product:    "Exchange Server 2016",
		Build:      "15.1.2507.6",
		BuildExact: i%2 == 0,
		CU:         "CU23",
		Update:     "Mar21SU",
		Verdict:    v,
		Record:     rec,
		ObservedAt: time.Date(2021, 3, 2, 12, 0, 0, i*1001, time.UTC),
	}
}
