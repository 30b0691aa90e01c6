package app

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/exsweep/exsweep/internal/owners"
	"github.com/exsweep/exsweep/internal/web"
)

// rescanJob runs `exsweep rescan` inside `exsweep serve` when a user asks
// for it on the Scans page: one at a time, in the background, with the
// scan's default flags (rate limits included) and the owner data serve was
// started with. Its results go to the store only; what it did is its
// Status. Shutting the dashboard down stops the scan (the run is stored as
// interrupted) and waits for it.
type rescanJob struct {
	ctx context.Context // the server's: done at shutdown
	e   *env            // quiet: no output, no progress, no Ctrl-C
	db  string
	dir *owners.Directory
	of  *ownerFlags

	mu sync.Mutex
	st web.RescanStatus
	wg sync.WaitGroup
}

func newRescanJob(ctx context.Context, e *env, db string, dir *owners.Directory, of *ownerFlags) *rescanJob {
	quiet := *e
	quiet.stdin, quiet.stdout, quiet.stderr = nil, io.Discard, io.Discard
	quiet.interrupts = nil // never fires: the context stops it
	return &rescanJob{ctx: ctx, e: &quiet, db: db, dir: dir, of: of}
}

func (j *rescanJob) Start() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.st.Running {
		return web.ErrRescanRunning
	}
	if err := j.ctx.Err(); err != nil {
		return err
	}
	j.st = web.RescanStatus{Running: true, Started: j.e.now()}
	j.wg.Add(1)
	go j.run()
	return nil
}

func (j *rescanJob) Status() web.RescanStatus {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.st
}

// wait blocks until a running re-scan has stopped.
func (j *rescanJob) wait() { j.wg.Wait() }

func (j *rescanJob) run() {
	defer j.wg.Done()
	o := &scanOptions{}
	scanCommand(j.e, o) // binds the flag defaults into o
	o.db, o.format, o.progress = j.db, "jsonl", "never"
	j.e.log.Info("dashboard re-scan started")
	res, err := rescanOpenCases(j.ctx, j.e, o, j.dir, j.of, false, func(n int) {
		j.mu.Lock()
		j.st.Endpoints = n
		j.mu.Unlock()
	})
	if errors.Is(err, ErrFindings) {
		err = nil // vulnerable endpoints are what a re-scan reports, not a failure
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.st.Running, j.st.Finished, j.st.RunID = false, j.e.now(), res.runID
	switch {
	case err != nil:
		j.st.Error = err.Error()
		j.e.log.Error("dashboard re-scan failed", "run", res.runID, "err", err)
	case res.endpoints == 0:
		j.st.Summary = "no open cases: nothing to re-scan"
	default:
		j.st.Summary = res.summary()
		j.e.log.Info("dashboard re-scan finished", "run", res.runID, "endpoints", res.endpoints,
			"remediated", res.remediated, "still_open", res.kept, "opened", res.opened)
	}
}
