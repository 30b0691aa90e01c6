package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Run statuses. A run that is still "running" when no exsweep process is
// working on it was killed; the scanner marks it interrupted before resuming.
const (
	StatusRunning     = "running"
	StatusDone        = "done"
	StatusInterrupted = "interrupted"
	StatusFailed      = "failed"
)

// RunInfo describes a scan run at its start.
type RunInfo struct {
	// Args is the command line or the parsed options; it is stored as JSON
	// (json.RawMessage is stored as is after validation; nil stores NULL).
	Args any
	// KBDate is the date of the knowledge base the verdicts came from, so a
	// later reader knows how old "patched" is.
	KBDate string
	// TargetsTotal is the number of endpoints to scan, or 0 when it is not
	// known yet (targets streamed from stdin); see SetTargetsTotal.
	TargetsTotal int64
}

// Run is one scan run as stored.
type Run struct {
	ID         int64
	StartedAt  time.Time
	FinishedAt time.Time // zero while running
	Status     string
	Args       json.RawMessage // nil if none was given
	// TargetsTotal is 0 when unknown.
	TargetsTotal int64
	Counts       json.RawMessage // nil until FinishRun
	KBDate       string
	// Observations is the number of observation rows of the run (filled by
	// GetRun and ListRuns).
	Observations int64
}

// CreateRun records the start of a scan and returns its id.
func (s *Store) CreateRun(ctx context.Context, info RunInfo) (int64, error) {
	args, err := toJSON(info.Args)
	if err != nil {
		return 0, fmt.Errorf("run args: %w", err)
	}
	var total sql.NullInt64
	if info.TargetsTotal > 0 {
		total = sql.NullInt64{Int64: info.TargetsTotal, Valid: true}
	}
	var id int64
	err = s.w.QueryRowContext(ctx, s.q(`
		INSERT INTO scan_runs (started_at, status, args, targets_total, kb_date)
		VALUES (?, ?, ?, ?, ?)
		RETURNING id`),
		s.tv(s.now()), StatusRunning, args, total, info.KBDate).Scan(&id)
	if err != nil {
		return 0, s.explain(fmt.Errorf("creating run: %w", err))
	}
	return id, nil
}

// SetTargetsTotal records the number of targets once the scanner knows it.
func (s *Store) SetTargetsTotal(ctx context.Context, id, total int64) error {
	var v sql.NullInt64
	if total > 0 {
		v = sql.NullInt64{Int64: total, Valid: true}
	}
	return s.updateRun(ctx, id, `UPDATE scan_runs SET targets_total = ? WHERE id = ?`, v, id)
}

// FinishRun records the end of a run: status is StatusDone, StatusInterrupted
// or StatusFailed, counts is a JSON summary (nil stores NULL).
func (s *Store) FinishRun(ctx context.Context, id int64, status string, counts json.RawMessage) error {
	switch status {
	case StatusDone, StatusInterrupted, StatusFailed:
	default:
		return fmt.Errorf("%w: run status %q (want %s, %s or %s)", ErrInvalid, status, StatusDone, StatusInterrupted, StatusFailed)
	}
	c, err := toJSON(counts)
	if err != nil {
		return fmt.Errorf("run counts: %w", err)
	}
	// The status and the dashboard's counts of the run change together: a
	// finished run's counts are read from run_stats from now on.
	return s.runTx(ctx, func(tx *sql.Tx) error {
		if err := updateRunTx(ctx, s, tx, id,
			`UPDATE scan_runs SET status = ?, finished_at = ?, counts = ? WHERE id = ?`,
			status, s.tv(s.now()), c, id); err != nil {
			return err
		}
		_, _, err := s.saveRunStatsTx(ctx, tx, id)
		return err
	})
}

// ResumeRun puts a run back to running so a scanner can continue it; the
// scanner then skips DoneEndpoints. Counts from an earlier finish are kept
// until the next FinishRun replaces them; the dashboard's stored counts are
// dropped, since the run is counted live again.
func (s *Store) ResumeRun(ctx context.Context, id int64) error {
	return s.runTx(ctx, func(tx *sql.Tx) error {
		if err := updateRunTx(ctx, s, tx, id,
			`UPDATE scan_runs SET status = ?, finished_at = NULL WHERE id = ?`, StatusRunning, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM run_stats WHERE run_id = ?`), id); err != nil {
			return s.explain(fmt.Errorf("resuming run %d: %w", id, err))
		}
		return nil
	})
}

// runTx runs fn in one write transaction.
func (s *Store) runTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.explain(err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return s.explain(tx.Commit())
}

// updateRunTx runs one UPDATE of run id; ErrNotFound if no run has it.
func updateRunTx(ctx context.Context, s *Store, tx interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, id int64, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return s.explain(fmt.Errorf("updating run %d: %w", id, err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.explain(err)
	} else if n == 0 {
		return fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	return nil
}

func (s *Store) updateRun(ctx context.Context, id int64, query string, args ...any) error {
	return updateRunTx(ctx, s, s.w, id, query, args...)
}

// runColumns is shared by GetRun and ListRuns so scanRun sees one layout.
// The count uses the (run_id, ip, port) and (run_id, verdict) indexes, so it
// does not read the observation rows themselves.
const runColumns = `
	r.id, r.started_at, r.finished_at, r.status, r.args, r.targets_total, r.counts, r.kb_date,
	(SELECT COUNT(*) FROM observations o WHERE o.run_id = r.id)`

// GetRun returns one run; ErrNotFound if there is none with that id.
func (s *Store) GetRun(ctx context.Context, id int64) (Run, error) {
	row := s.r.QueryRowContext(ctx, s.q(`SELECT `+runColumns+` FROM scan_runs r WHERE r.id = ?`), id)
	run, err := scanRun(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Run{}, s.explain(fmt.Errorf("reading run %d: %w", id, err))
	}
	return run, nil
}

// ListRuns returns up to limit runs, newest first; limit <= 0 means all.
func (s *Store) ListRuns(ctx context.Context, limit int) ([]Run, error) {
	query, args := s.pageClause(`SELECT `+runColumns+` FROM scan_runs r ORDER BY r.id DESC`, nil, limit, 0)
	return queryAll(ctx, s, "listing runs", scanRun, query, args...)
}

type rowScanner interface{ Scan(dest ...any) error }

func scanRun(row rowScanner) (Run, error) {
	var (
		run               Run
		started, finished dbTime
		args, count       sql.NullString
		total             sql.NullInt64
	)
	err := row.Scan(&run.ID, &started, &finished, &run.Status, &args, &total, &count, &run.KBDate, &run.Observations)
	if err != nil {
		return Run{}, err
	}
	run.StartedAt, run.FinishedAt = started.T, finished.T
	if args.Valid {
		run.Args = json.RawMessage(args.String)
	}
	if count.Valid {
		run.Counts = json.RawMessage(count.String)
	}
	run.TargetsTotal = total.Int64
	return run, nil
}

// toJSON encodes v for a TEXT column. It returns a string, not []byte:
// SQLite stores []byte as a BLOB, which JSON functions and other tools do
// not read as text.
func toJSON(v any) (sql.NullString, error) {
	switch x := v.(type) {
	case nil:
		return sql.NullString{}, nil
	case json.RawMessage:
		if x == nil {
			return sql.NullString{}, nil
		}
		if !json.Valid(x) {
			return sql.NullString{}, fmt.Errorf("%w: not valid JSON", ErrInvalid)
		}
		return sql.NullString{String: string(x), Valid: true}, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return sql.NullString{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}
