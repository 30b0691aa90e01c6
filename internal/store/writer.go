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
	sqlCache  map[int]string // see upsertSQL
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
// is cascaded away. The text is valid SQLite and PostgreSQL once
// placeholders are rebound; on PostgreSQL two machines writing the same
// endpoint at once is safe too: the second waits for the first's row lock
// and then updates.
//
// Rows go upsertChunk at a time in one multi-row statement. On SQLite that
// makes no measurable difference (the cost is the b-tree work for each row
// and its indexes, not the per-call overhead), but on PostgreSQL every
// statement is a network round trip, and one row per statement capped the
// writer at about 9,500 rows/s on loopback.
const (
	upsertColumns = 16
	upsertChunk   = 100
	upsertInsert  = `INSERT INTO observations (run_id, target, ip, port, hostname, exchange, product,
		build, build_exact, cu, update_name, verdict, error, record, observed_at, compromised)
	VALUES `
	upsertSet = ` DO UPDATE SET target = excluded.target, hostname = excluded.hostname,
		exchange = excluded.exchange, product = excluded.product, build = excluded.build,
		build_exact = excluded.build_exact, cu = excluded.cu, update_name = excluded.update_name,
		verdict = excluded.verdict, error = excluded.error, record = excluded.record,
		observed_at = excluded.observed_at, compromised = excluded.compromised`
	conflictIP   = ` ON CONFLICT (run_id, ip, port)`
	conflictNoIP = ` ON CONFLICT (run_id, target, port) WHERE ip IS NULL`
)

// upsertSQL returns the statement for rows rows, all with an address
// (withIP) or all without, rebound for the store's driver, and caches it:
// building and rebinding a 1,500-placeholder statement for every chunk
// would cost more than the write.
func (w *ObservationWriter) upsertSQL(rows int, withIP bool) string {
	key := rows
	if !withIP {
		key = -rows
	}
	if q, ok := w.sqlCache[key]; ok {
		return q
	}
	conflict := conflictIP
	if !withIP {
		conflict = conflictNoIP
	}
	q := w.s.q(upsertInsert + placeholders(rows, upsertColumns) + conflict + upsertSet)
	if w.sqlCache == nil {
		w.sqlCache = map[int]string{}
	}
	w.sqlCache[key] = q
	return q
}

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

// commit writes the buffer in one transaction, retrying it when PostgreSQL
// aborted it only to resolve a deadlock with another writer (two machines
// upserting overlapping endpoints in different orders).
func (w *ObservationWriter) commit(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		err := w.commitOnce(ctx)
		if err == nil || !retryable(err) || attempt == maxAttempts || ctx.Err() != nil {
			return err
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// obsKey identifies a row within a batch: (ip, port), or (target, port)
// for rows without an address.
type obsKey struct {
	addr string
	port int64
}

// commitOnce writes the buffer in one transaction, in buffer order, so a
// key repeated within a batch ends with its last value and keeps the id of
// its first insert. A chunk never holds the same key twice (PostgreSQL
// refuses to update one row twice in a statement): a repeat starts the next
// chunk, which keeps the order of writes exactly the order of Adds.
func (w *ObservationWriter) commitOnce(ctx context.Context) (err error) {
	tx, err := w.s.w.BeginTx(ctx, nil)
	if err != nil {
		return w.s.explain(err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var full [2]*sql.Stmt // prepared full-chunk upserts: with ip, without
	seen := make(map[obsKey]struct{}, upsertChunk)
	args := make([]any, 0, upsertChunk*upsertColumns)
	for start := 0; start < len(w.buf); {
		withIP := w.buf[start].ip.Valid
		clear(seen)
		args = args[:0]
		end := start
		for ; end < len(w.buf) && end-start < upsertChunk; end++ {
			r := &w.buf[end]
			if r.ip.Valid != withIP {
				break
			}
			k := obsKey{r.ip.String, r.port}
			if !withIP {
				k.addr = r.target
			}
			if _, dup := seen[k]; dup {
				break
			}
			seen[k] = struct{}{}
			args = append(args, w.runID, r.target, r.ip, r.port, r.hostname, r.exchange,
				r.product, r.build, r.buildExact, r.cu, r.update, r.verdict, r.errText, r.record, w.s.tv(r.observedAt), r.compromised)
		}
		n := end - start
		if n == upsertChunk && w.s.dialect == dialectSQLite {
			// Full chunks are the bulk: prepare that statement once per
			// transaction instead of having SQLite parse it each time. (pgx
			// already caches prepared statements per connection; an explicit
			// Prepare there only adds a round trip.)
			st := &full[0]
			if !withIP {
				st = &full[1]
			}
			if *st == nil {
				if *st, err = tx.PrepareContext(ctx, w.upsertSQL(n, withIP)); err != nil {
					return w.s.explain(err)
				}
				defer (*st).Close()
			}
			_, err = (*st).ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, w.upsertSQL(n, withIP), args...)
		}
		if err != nil {
			return w.s.explain(err)
		}
		start = end
	}
	if err = tx.Commit(); err != nil {
		return w.s.explain(err)
	}
	return nil
}
