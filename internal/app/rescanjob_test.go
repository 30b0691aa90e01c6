package app

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exsweep/exsweep/internal/lab"
	"github.com/exsweep/exsweep/internal/owners"
	"github.com/exsweep/exsweep/internal/store"
)

// TestDashboardRescan: the re-scan the dashboard starts (rescanJob) scans the
// open cases again and moves them like `exsweep rescan`. It runs without any
// owner data, as `exsweep serve` without --constituency does: the endpoint
// still vulnerable keeps its organisation (no second, unowned case).
func TestDashboardRescan(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the lab needs port 443 (root) to come back on the same addresses")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "x.db")
	cons := filepath.Join(dir, "c.yaml")
	os.WriteFile(cons, []byte(`organisations:
  - name: Gamma GmbH
    to: [cert@gamma.example]
    cidrs: [127.51.0.0/24]
`), 0o644)
	servers := []lab.Server{{Name: "g1", Build: "15.1.2176.2"}, {Name: "g2", Build: "15.1.2176.2"}, {Name: "g3", Build: "15.2.1544.11"}}
	startLab := func() *lab.Lab {
		l, err := lab.Start(context.Background(), servers, lab.Options{Network: "127.51.0.0/16", Port: 443, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := startLab()
	targets := filepath.Join(dir, "t.txt")
	os.WriteFile(targets, []byte(strings.Join(l.Targets(), "\n")), 0o644)
	if _, errOut, code := run(t, "", "scan", "-i", targets, "--db", db, "--per-net-rate", "0", "-o", filepath.Join(dir, "s.jsonl")); code != ExitFindings {
		t.Fatalf("scan exit %d: %s", code, errOut)
	}
	l.Close()
	if out, errOut, code := run(t, "", "cases", "sync", "--db", db, "--constituency", cons); code != ExitOK || !strings.Contains(out, "2 cases opened") {
		t.Fatalf("cases sync: exit %d %s %s", code, out, errOut)
	}
	servers[0].Build = "15.1.2507.72" // g1 patched
	l = startLab()
	defer l.Close()

	d, err := owners.New(owners.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }, global: &globalOptions{},
		log: slog.New(slog.DiscardHandler), now: time.Now}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	job := newRescanJob(ctx, e, db, d, &ownerFlags{})
	if err := job.Start(); err != nil {
		t.Fatal(err)
	}
	if err := job.Start(); err == nil {
		t.Error("a second Start while running succeeded")
	}
	deadline := time.Now().Add(90 * time.Second)
	for job.Status().Running && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	job.wait()
	st := job.Status()
	if st.Running || st.Error != "" || st.Endpoints != 2 || st.RunID == 0 ||
		st.Summary != "1 cases remediated (verified), 1 still open, 0 opened or reopened" {
		t.Fatalf("status %+v", st)
	}

	s, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cs, err := s.ListCases(context.Background(), store.CaseFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range cs {
		got[c.Endpoint.String()] = c.OrgKey + " " + c.State
	}
	want := map[string]string{l.Targets()[0]: "gamma gmbh remediated", l.Targets()[1]: "gamma gmbh open"}
	if len(cs) != 2 || got[l.Targets()[0]] != want[l.Targets()[0]] || got[l.Targets()[1]] != want[l.Targets()[1]] {
		t.Errorf("cases after the dashboard re-scan: %v; want %v", got, want)
	}

	// With a constituency, its answer stands: one that no longer covers g2
	// (the prefix went to someone else) leaves the new problem unowned.
	moved := filepath.Join(dir, "moved.yaml")
	os.WriteFile(moved, []byte("organisations:\n  - name: Gamma GmbH\n    to: [cert@gamma.example]\n    cidrs: [127.52.0.0/24]\n"), 0o644)
	if _, errOut, code := run(t, "", "rescan", "--db", db, "--constituency", moved, "--per-net-rate", "0", "-o", filepath.Join(dir, "r.jsonl")); code != ExitFindings ||
		!strings.Contains(errOut, "1 opened or reopened") {
		t.Fatalf("rescan with a constituency that moved: exit %d\n%s", code, errOut)
	}
	if unowned, _ := s.ListCases(context.Background(), store.CaseFilter{Unowned: true}); len(unowned) != 1 || unowned[0].Endpoint.String() != l.Targets()[1] {
		t.Errorf("unowned cases after the constituency moved: %+v", unowned)
	}

	// Shutting the dashboard down stops a running re-scan: g2 now answers
	// nothing (a tarpit), the context ends, the run is stored interrupted.
	l.Close()
	servers[1].Kind = lab.KindTarpit
	l = startLab()
	defer l.Close()
	ctx2, cancel2 := context.WithCancel(context.Background())
	job = newRescanJob(ctx2, e, db, d, &ownerFlags{})
	if err := job.Start(); err != nil {
		t.Fatal(err)
	}
	for job.Status().RunID == 0 && job.Status().Running && time.Now().Before(deadline.Add(time.Minute)) {
		time.Sleep(20 * time.Millisecond)
		if job.Status().Endpoints > 0 {
			break
		}
	}
	time.Sleep(200 * time.Millisecond) // the scan is waiting on the tarpit
	cancel2()
	job.wait()
	if st := job.Status(); st.Running || st.RunID == 0 {
		t.Fatalf("after shutdown: %+v", st)
	}
	run, err := s.GetRun(context.Background(), job.Status().RunID)
	if err != nil || run.Status != store.StatusInterrupted {
		t.Errorf("run of the stopped re-scan: %+v, %v; want interrupted", run, err)
	}
	if err := job.Start(); err == nil {
		t.Error("Start after shutdown succeeded")
	}
}

// TestRescanRefusesReplay: the replay's endpoints (198.18.0.0/15) were never
// real servers; neither `rescan` nor the dashboard's re-scan sends them a
// packet.
func TestRescanRefusesReplay(t *testing.T) {
	db := filepath.Join(t.TempDir(), "demo.db")
	if _, errOut, code := run(t, "", "lab", "--replay", "march-2021", "--db", db, "--scale", "0.00025"); code != ExitOK {
		t.Fatalf("replay: exit %d %s", code, errOut)
	}
	if _, errOut, code := run(t, "", "rescan", "--db", db); code != ExitUsage || !strings.Contains(errOut, "simulated response") {
		t.Errorf("rescan of a replay: exit %d\n%s", code, errOut)
	}
	d, _ := owners.New(owners.Config{})
	e := &env{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }, global: &globalOptions{},
		log: slog.New(slog.DiscardHandler), now: time.Now}
	job := newRescanJob(context.Background(), e, db, d, &ownerFlags{})
	if err := job.Start(); err != nil {
		t.Fatal(err)
	}
	job.wait()
	if st := job.Status(); st.Running || !strings.Contains(st.Error, "simulated response") || st.RunID != 0 {
		t.Errorf("dashboard re-scan of a replay: %+v", st)
	}
}
