package app

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exsweep/exsweep/internal/store"
)

// TestMain lets a test run exsweep as a child process (the test binary itself,
// with EXSWEEP_TEST_MAIN=1), so signals and kill -9 hit a real process.
func TestMain(m *testing.M) {
	if os.Getenv("EXSWEEP_TEST_MAIN") == "1" {
		os.Exit(Run(context.Background(), append([]string{"exsweep"}, strings.Fields(os.Getenv("EXSWEEP_TEST_ARGS"))...), os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func child(t *testing.T, args string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "EXSWEEP_TEST_MAIN=1", "EXSWEEP_TEST_ARGS="+args)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &errb
}

// waitRows polls the store until the run has at least n observations.
func waitRows(t *testing.T, db string, n int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := store.Open(context.Background(), db); err == nil {
			run, err := st.GetRun(context.Background(), 1)
			st.Close()
			if err == nil && run.Observations >= n {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("run 1 never reached %d stored observations", n)
}

func runObservations(t *testing.T, db string) (store.Run, int) {
	t.Helper()
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, err := st.GetRun(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := st.Observations(context.Background(), 1, store.ObservationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, o := range obs {
		if seen[o.Target] {
			t.Errorf("%s stored twice", o.Target)
		}
		seen[o.Target] = true
	}
	return run, len(obs)
}

// TestInterruptAndResume: the first Ctrl-C stores what is in flight, marks the
// run interrupted and exits 130; --resume probes only what is missing.
// kill -9 loses nothing committed and resume completes the run.
func TestInterruptAndResume(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the lab needs port 443 (root) to come back on the same addresses")
	}
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
	}{{"ctrl-c", syscall.SIGINT}, {"kill-9", syscall.SIGKILL}} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "x.db")
			// A slow scan (20 requests/s) so the signal lands mid-run.
			args := "scan --lab 120 --lab-network 127.45.0.0/16 --rate 20 -c 4 --format jsonl --db " + db
			cmd, errb := child(t, args)
			waitRows(t, db, 10)
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			code := cmd.ProcessState.ExitCode()
			stored, before := runObservations(t, db)
			switch tc.sig {
			case syscall.SIGINT:
				if code != ExitInterrupted || stored.Status != "interrupted" || !strings.Contains(errb.String(), "--resume 1") {
					t.Fatalf("after Ctrl-C: exit %d (%v), status %s, stderr:\n%s", code, err, stored.Status, errb)
				}
			case syscall.SIGKILL:
				if stored.Status != "running" {
					t.Fatalf("after kill -9 the run is %q, want running", stored.Status)
				}
			}
			if before < 10 || before >= 120 {
				t.Fatalf("%d observations stored before the resume, want some but not all", before)
			}
			_, errOut, code := run(t, "", "scan", "--lab", "120", "--lab-network", "127.45.0.0/16", "--resume", "1", "--db", db, "--format", "jsonl")
			if code != ExitFindings && code != ExitOK {
				t.Fatalf("resume: exit %d\n%s", code, errOut)
			}
			run2, after := runObservations(t, db)
			if after != 120 || run2.Status != "done" {
				t.Errorf("after resume: %d observations, status %s; want 120, done", after, run2.Status)
			}
			if !strings.Contains(errOut, "Endpoints: "+strconv.Itoa(120-before)) {
				t.Errorf("resume probed more than the %d missing endpoints:\n%s", 120-before, errOut)
			}
		})
	}
}
