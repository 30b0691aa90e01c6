package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// BatchOptions tune an ObservationWriter.
type BatchOptions struct {
	// MaxRows commits when this many rows are buffered. Default 500.
	MaxRows int
	// MaxDelay commits rows at most this long after the oldest was added,
	// even when no further rows arrive (a timer does it; the caller need not
	// call Flush). Default 200ms; negative disables the time limit, so only
	// MaxRows, Flush and Close commit.
	MaxDelay time.Duration
	// OnCommit, if set, is called after each successful commit with the
	// number of rows it made durable (progress, tests). It runs with the
	// writer locked, possibly on the timer's goroutine: keep it short and do
	// not call the writer from it.
	OnCommit func(rows int)
}

// ObservationWriter batches observations of one run into transactions. It is
// meant for the scanner's single writer goroutine; calls from several
// goroutines are safe but serialised.
//
// Durability: a row is durable once the commit that contains it returns
// (see OnCommit and Committed). A crash loses at most the rows buffered since
// the last commit; a resumed scan finds them missing from DoneEndpoints and
// scans them again. Each commit is all or nothing.
//
// Errors: Add refuses an invalid observation (ErrInvalid) without affecting
// the writer. If a commit fails because ctx was canceled, the rows stay
// buffered and a later Flush or Close with a live context commits them. Any
// other commit error (disk full, database locked beyond busy_timeout) is
// final: the buffered rows are dropped, just as in a crash, and every later
// call returns that error.
type ObservationWriter struct {
	s     *Store
	runID int64
	opts  BatchOptions

	mu        sync.Mutex
	buf       []obsRow
	oldest    time.Time // when buf[0] was added
	timer     *time.Timer
	err       error // sticky failure
	closed    bool
	committed int64
}

// NewObservationWriter returns a writer for run runID. Close it before
// closing the Store.
func (s *Store) NewObservationWriter(runID int64, opts BatchOptions) *ObservationWriter {
	if opts.MaxRows <= 0 {
		opts.MaxRows = 500
	}
	if opts.MaxDelay == 0 {
		opts.MaxDelay = 200 * time.Millisecond
	}
	w := &ObservationWriter{s: s, runID: runID, opts: opts, buf: make([]obsRow, 0, opts.MaxRows)}
	if opts.MaxDelay > 0 {
		w.timer = time.AfterFunc(time.Hour, w.onTimer)
		w.timer.Stop()
	}
	return w
}

// ErrWriterClosed is returned by calls on a closed ObservationWriter.
var ErrWriterClosed = errors.New("observation writer is closed")

// Add buffers o (validated now) and commits the batch if it is full or its
// oldest row has waited MaxDelay. A resumed or retried endpoint replaces the
// row of the same (run, ip, port), so adding twice is harmless. A canceled
// ctx refuses the row: to keep results that arrive after Ctrl-C, add them
// with context.WithoutCancel.
func (w *ObservationWriter) Add(ctx context.Context, o Observation) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	row, err := toRow(o, w.s.now())
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if len(w.buf) == 0 {
		w.oldest = time.Now()
		if w.timer != nil {
			w.timer.Reset(w.opts.MaxDelay)
		}
	}
	w.buf = append(w.buf, row)
	if len(w.buf) >= w.opts.MaxRows ||
		(w.opts.MaxDelay > 0 && time.Since(w.oldest) >= w.opts.MaxDelay) {
		return w.flushLocked(ctx)
	}
	return nil
}

// Flush commits whatever is buffered.
func (w *ObservationWriter) Flush(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	return w.flushLocked(ctx)
}

// Close commits what is buffered and stops the timer. Pass a context that
// is not canceled (context.WithoutCancel) when closing after Ctrl-C, or the
// last batch is lost. Close after Close returns nil.
func (w *ObservationWriter) Close(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	var err error
	if w.err != nil {
		err = w.err
	} else {
		err = w.flushLocked(ctx)
		if err != nil && len(w.buf) > 0 {
			err = fmt.Errorf("%w (%d observations not saved)", err, len(w.buf))
		}
	}
	w.closed = true
	w.buf = nil
	if w.timer != nil {
		w.timer.Stop()
	}
	return err
}

// Committed is the number of rows committed so far (a row replaced by a
// retry counts again).
func (w *ObservationWriter) Committed() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.committed
}

func (w *ObservationWriter) usable() error {
	if w.closed {
		return ErrWriterClosed
	}
	return w.err
}

// onTimer runs on the timer's goroutine when the oldest row has waited
// MaxDelay. Its error has no caller to go to, so it becomes sticky and the
// next Add, Flush or Close returns it.
func (w *ObservationWriter) onTimer() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.err != nil || len(w.buf) == 0 {
		return
	}
	// The timer may have fired just before a flush emptied the buffer and a
	// new batch started: only flush a batch that is really due.
	if wait := w.opts.MaxDelay - time.Since(w.oldest); wait > 0 {
		w.timer.Reset(wait)
		return
	}
	// Background context: nothing cancels a timer flush, busy_timeout bounds it.
	_ = w.flushLocked(context.Background())
}

// The idempotent write: rows with an address are keyed by (run_id, ip,
// port); rows without one by the partial unique index on (run_id, target,
// port) WHERE ip IS NULL. DO UPDATE (not INSERT OR REPLACE) keeps the row id,
// so paging order stays stable and nothing that may reference the row later
// is cascaded away. The text is also valid PostgreSQL once placeholders are
// rebound.
//
// One row per Exec on purpose: a 32-row multi-VALUES statement was tried
// and used the same CPU per row (the cost is SQLite's b-tree work for the
// row and its indexes, not the per-call overhead), while it would need
// per-chunk de-duplication on PostgreSQL.
const (
	upsertInsert = `INSERT INTO observations (run_id, target, ip, port, hostname, exchange, product,
		build, build_exact, cu, update_name, verdict, error, record, observed_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	upsertSet = ` DO UPDATE SET target = excluded.target, hostname = excluded.hostname,
		exchange = excluded.exchange, product = excluded.product, build = excluded.build,
		build_exact = excluded.build_exact, cu = excluded.cu, update_name = excluded.update_name,
		verdict = excluded.verdict, error = excluded.error, record = excluded.record,
		observed_at = excluded.observed_at`
	upsertIP   = upsertInsert + ` ON CONFLICT (run_id, ip, port)` + upsertSet
	upsertNoIP = upsertInsert + ` ON CONFLICT (run_id, target, port) WHERE ip IS NULL` + upsertSet
)

func (w *ObservationWriter) flushLocked(ctx context.Context) error {
	if len(w.buf) == 0 {
		return nil
	}
	if w.timer != nil {
		w.timer.Stop()
	}
	err := w.commit(ctx)
	if err == nil {
		n := len(w.buf)
		w.committed += int64(n)
		clear(w.buf) // drop references to the record strings
		w.buf = w.buf[:0]
		if w.opts.OnCommit != nil {
			w.opts.OnCommit(n)
		}
		return nil
	}
	if ctx.Err() != nil {
		// Rolled back because the caller gave up: keep the rows for a retry
		// with a live context, and keep the deadline running.
		if w.timer != nil {
			w.timer.Reset(max(w.opts.MaxDelay-time.Since(w.oldest), time.Millisecond))
		}
		return err
	}
	w.err = fmt.Errorf("saving observations of run %d: %w (%d observations lost; resume the run to rescan them)",
		w.runID, err, len(w.buf))
	w.buf = nil
	return w.err
}

// commit writes the buffer in one transaction with prepared statements, in
// buffer order, so a key repeated within a batch ends with its last value.
func (w *ObservationWriter) commit(ctx context.Context) (err error) {
	tx, err := w.s.w.BeginTx(ctx, nil)
	if err != nil {
		return w.s.explain(err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	withIP, err := tx.PrepareContext(ctx, upsertIP)
	if err != nil {
		return w.s.explain(err)
	}
	defer withIP.Close()
	var noIP *sql.Stmt // rare (unresolved targets): prepared on first use
	defer func() {
		if noIP != nil {
			noIP.Close()
		}
	}()
	for i := range w.buf {
		r := &w.buf[i]
		stmt := withIP
		if !r.ip.Valid {
			if noIP == nil {
				if noIP, err = tx.PrepareContext(ctx, upsertNoIP); err != nil {
					return w.s.explain(err)
				}
			}
			stmt = noIP
		}
		_, err = stmt.ExecContext(ctx, w.runID, r.target, r.ip, r.port, r.hostname, r.exchange,
			r.product, r.build, r.buildExact, r.cu, r.update, r.verdict, r.errText, r.record, r.observedAt)
		if err != nil {
			return w.s.explain(err)
		}
	}
	if err = tx.Commit(); err != nil {
		return w.s.explain(err)
	}
	return nil
}
