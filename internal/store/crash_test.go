package store

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The crash test's child process: TestMain runs crashChild instead of the
// tests when this variable names a database.
const (
	crashChildEnv   = "EXSWEEP_STORE_CRASH_DB"
	crashChildRun   = "EXSWEEP_STORE_CRASH_RUN"
	crashBatch      = 100
	crashChildLimit = 1 << 22 // far more than the parent lets it write
)

// crashChild writes endpoints 0, 1, 2, … in batches of crashBatch and, after
// each commit returns, prints the number of rows committed so far. It only
// stops when it is killed.
func crashChild() int {
	ctx := context.Background()
	s, err := Open(ctx, os.Getenv(crashChildEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	runID, err := strconv.ParseInt(os.Getenv(crashChildRun), 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	var total int
	w := s.NewObservationWriter(runID, BatchOptions{
		MaxRows:  crashBatch,
		MaxDelay: -1, // only full batches, so every commit boundary is a multiple of crashBatch
		OnCommit: func(n int) {
			total += n
			// os.Stdout is unbuffered: the line is in the pipe when the
			// call returns, so a printed count was really committed.
			fmt.Fprintf(os.Stdout, "committed %d\n", total)
		},
	})
	for i := range crashChildLimit {
		if err := w.Add(ctx, fakeObservation(i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
	}
	fmt.Fprintln(os.Stderr, "child was not killed")
	return 4
}

// TestKillDuringWrites kills a writing process with SIGKILL (TerminateProcess
// on Windows) and checks that everything it reported as committed survived,
// that no batch is half there, that the file is not corrupt, and that the
// run resumes from exactly the committed endpoints. On PostgreSQL the kill
// cuts the client's connection mid-transaction; the server must roll the
// open batch back.
func TestKillDuringWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		// Several kills at different points, with a jittered delay, so some
		// land inside a transaction or a WAL checkpoint rather than between
		// batches.
		for i, killAfter := range []int{5 * crashBatch, 23 * crashBatch, 61 * crashBatch} {
			t.Run(fmt.Sprint(killAfter), func(t *testing.T) {
				killAndCheck(t, b, killAfter, time.Duration(i)*3500*time.Microsecond)
			})
		}
	})
}

func killAndCheck(t *testing.T, b backend, killAfter int, jitter time.Duration) {
	ctx := context.Background()
	path := b.newDSN(t)
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	runID := mustRun(t, s)
	s.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashChildRun+"="+strconv.FormatInt(runID, 10))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Read every line the child managed to print, also after the kill: a
	// count printed just before death is a promise too.
	reported, killed := 0, false
	deadline := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "committed "))
		if err != nil {
			t.Fatalf("child said %q", sc.Text())
		}
		reported = n
		if !killed && n >= killAfter {
			time.Sleep(jitter)
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended before it was killed (%v): %s", err, stderr.String())
	}
	if err == nil {
		t.Fatal("killed child exited cleanly")
	}
	if stderr.Len() > 0 {
		t.Logf("child stderr: %s", stderr.String())
	}

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	run, err := s.GetRun(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != StatusRunning {
		t.Errorf("status after crash = %q, want running (nobody finished it)", run.Status)
	}
	n := int(run.Observations)
	t.Logf("child reported %d rows committed; %d rows in the database", reported, n)
	if n < reported {
		t.Fatalf("lost committed rows: child reported %d, database has %d", reported, n)
	}
	if n%crashBatch != 0 {
		t.Fatalf("%d rows: a batch of %d was partly committed", n, crashBatch)
	}

	// The scanner's recovery: mark interrupted, then resume.
	if err := s.FinishRun(ctx, runID, StatusInterrupted, nil); err != nil {
		t.Fatal(err)
	}
	if run, err = s.GetRun(ctx, runID); err != nil || run.Status != StatusInterrupted {
		t.Fatalf("after FinishRun: %q, %v", run.Status, err)
	}
	if err := s.ResumeRun(ctx, runID); err != nil {
		t.Fatal(err)
	}
	done, err := s.DoneEndpoints(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	// Batches are committed in order, so the committed endpoints are exactly
	// the first n.
	if done.Len() != n {
		t.Fatalf("DoneEndpoints has %d endpoints, database has %d rows", done.Len(), n)
	}
	for i := range n + crashBatch {
		ep := endpoint(i)
		if got, want := done.Has(ep.Addr(), ep.Port()), i < n; got != want {
			t.Fatalf("Has(%v) = %v, want %v", ep, got, want)
		}
	}

	// Resume: skip what is done, write the rest, finish.
	const extra = 250
	w := s.NewObservationWriter(runID, BatchOptions{})
	skipped := 0
	for i := range n + extra {
		ep := endpoint(i)
		if done.Has(ep.Addr(), ep.Port()) {
			skipped++
			continue
		}
		if err := w.Add(ctx, fakeObservation(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, runID, StatusDone, nil); err != nil {
		t.Fatal(err)
	}
	run, err = s.GetRun(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	if skipped != n || run.Observations != int64(n+extra) || run.Status != StatusDone {
		t.Errorf("after resume: skipped %d (want %d), %d rows (want %d), status %q",
			skipped, n, run.Observations, n+extra, run.Status)
	}
}
