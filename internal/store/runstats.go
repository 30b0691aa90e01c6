package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// A run's counts for the dashboard. Counting a run of 100,000 endpoints
// reads 100,000 index entries, and its product/CU breakdown 100,000 rows;
// a finished run never changes, so its counts are kept in run_stats when it
// finishes (FinishRun) or, for runs finished before migration 00006, the
// first time they are asked for. Only a running run is counted live, from
// the covering index observations_run_counts.

// RunCurve is one scan run's counts for the remediation curve.
type RunCurve struct {
	RunID     int64
	StartedAt time.Time
	// FirstObserved is the earliest observation time of the run (zero if it
	// has none): an imported or replayed run is dated by its data, not by
	// when it was loaded.
	FirstObserved time.Time
	Status        string
	Observations  int64
	// Exchange endpoints seen, and how many of them were vulnerable,
	// patched, undetermined, and showed a web shell (compromised).
	Exchange, Vulnerable, Patched, Undetermined, Compromised int64
}

// ProductCount is the number of Exchange observations of a run with one
// product, CU and verdict.
type ProductCount struct {
	Product string `json:"product"`
	CU      string `json:"cu"`
	Verdict string `json:"verdict"`
	Count   int64  `json:"count"`
}

// queryer is what the counting queries need: the read pool, or the write
// transaction that stores the result.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// RunCurves returns the counts of the newest limit runs (limit <= 0: all),
// oldest first, ready to draw. Finished runs cost one row each.
func (s *Store) RunCurves(ctx context.Context, limit int) ([]RunCurve, error) {
	query, args := s.pageClause(`
		SELECT r.id, r.started_at, r.status, st.run_id, st.first_observed, st.observations,
			st.exchange, st.vulnerable, st.patched, st.undetermined, st.compromised
		FROM scan_runs r LEFT JOIN run_stats st ON st.run_id = r.id
		ORDER BY r.id DESC`, nil, limit, 0)
	rows, err := s.r.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, s.explain(fmt.Errorf("reading run curves: %w", err))
	}
	var out []RunCurve
	var missing []int // indexes into out of runs without stored counts
	for rows.Next() {
		var c RunCurve
		var started, first dbTime
		var stored sql.NullInt64
		var n [6]sql.NullInt64
		if err := rows.Scan(&c.RunID, &started, &c.Status, &stored, &first,
			&n[0], &n[1], &n[2], &n[3], &n[4], &n[5]); err != nil {
			rows.Close()
			return nil, s.explain(fmt.Errorf("reading run curves: %w", err))
		}
		c.StartedAt, c.FirstObserved = started.T, first.T
		c.Observations, c.Exchange, c.Vulnerable = n[0].Int64, n[1].Int64, n[2].Int64
		c.Patched, c.Undetermined, c.Compromised = n[3].Int64, n[4].Int64, n[5].Int64
		if !stored.Valid {
			missing = append(missing, len(out))
		}
		out = append(out, c)
	}
	// Close before counting: SQLite's read pool may be one connection.
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.explain(fmt.Errorf("reading run curves: %w", err))
	}
	for _, i := range missing {
		c := &out[i]
		if c.Status != StatusRunning {
			// Finished before run_stats existed: count once and keep it.
			counted, ok, err := s.saveRunStats(ctx, c.RunID)
			if err != nil {
				return nil, err
			}
			if ok {
				counted.StartedAt, counted.Status = c.StartedAt, c.Status
				*c = counted
				continue
			}
		}
		if err := countRun(ctx, s.r, s, c); err != nil {
			return nil, err
		}
	}
	slices.Reverse(out)
	return out, nil
}

// countRun fills c's counts from the observations (the covering index).
func countRun(ctx context.Context, db queryer, s *Store, c *RunCurve) error {
	var first dbTime
	err := db.QueryRowContext(ctx, s.q(`
		SELECT MIN(observed_at), COUNT(*),
			COALESCE(SUM(CASE WHEN exchange = ? THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN verdict = 'vulnerable' THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN verdict = 'patched' THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN verdict = 'undetermined' THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN compromised = ? THEN 1 ELSE 0 END), 0)
		FROM observations WHERE run_id = ?`), true, true, c.RunID).
		Scan(&first, &c.Observations, &c.Exchange, &c.Vulnerable, &c.Patched, &c.Undetermined, &c.Compromised)
	if err != nil {
		return s.explain(fmt.Errorf("counting run %d: %w", c.RunID, err))
	}
	c.FirstObserved = first.T
	return nil
}

// ProductBreakdown counts a run's Exchange observations by product, CU and
// verdict, largest groups first.
func (s *Store) ProductBreakdown(ctx context.Context, runID int64) ([]ProductCount, error) {
	var raw sql.NullString
	err := s.r.QueryRowContext(ctx, s.q(`SELECT CAST(breakdown AS TEXT) FROM run_stats WHERE run_id = ?`), runID).Scan(&raw)
	switch {
	case err == nil:
		var out []ProductCount
		if err := json.Unmarshal([]byte(raw.String), &out); err != nil {
			return nil, fmt.Errorf("stored breakdown of run %d: %w", runID, err)
		}
		return out, nil
	case !errors.Is(err, sql.ErrNoRows):
		return nil, s.explain(fmt.Errorf("reading breakdown of run %d: %w", runID, err))
	}
	return breakdownOf(ctx, s.r, s, runID)
}

func breakdownOf(ctx context.Context, db queryer, s *Store, runID int64) ([]ProductCount, error) {
	rows, err := db.QueryContext(ctx, s.q(`
		SELECT product, cu, verdict, COUNT(*) FROM observations
		WHERE run_id = ? AND exchange = ?
		GROUP BY product, cu, verdict
		ORDER BY COUNT(*) DESC, product, cu, verdict`), runID, true)
	if err != nil {
		return nil, s.explain(fmt.Errorf("counting products of run %d: %w", runID, err))
	}
	defer rows.Close()
	out := []ProductCount{}
	for rows.Next() {
		var p ProductCount
		if err := rows.Scan(&p.Product, &p.CU, &p.Verdict, &p.Count); err != nil {
			return nil, s.explain(err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, s.explain(fmt.Errorf("counting products of run %d: %w", runID, err))
	}
	return out, nil
}

// saveRunStats counts a finished run and keeps the counts, in one write
// transaction that first checks the run is still finished (a resume may
// have reopened it since the caller looked). ok is false, and nothing is
// stored, when the run is running.
func (s *Store) saveRunStats(ctx context.Context, runID int64) (c RunCurve, ok bool, err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return c, false, s.explain(err)
	}
	defer tx.Rollback()
	if c, ok, err = s.saveRunStatsTx(ctx, tx, runID); err != nil || !ok {
		return c, ok, err
	}
	return c, true, s.explain(tx.Commit())
}

func (s *Store) saveRunStatsTx(ctx context.Context, tx *sql.Tx, runID int64) (RunCurve, bool, error) {
	c := RunCurve{RunID: runID}
	err := tx.QueryRowContext(ctx, s.q(`SELECT status FROM scan_runs WHERE id = ?`+s.forUpdate()), runID).Scan(&c.Status)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, fmt.Errorf("run %d: %w", runID, ErrNotFound)
	}
	if err != nil {
		return c, false, s.explain(fmt.Errorf("counting run %d: %w", runID, err))
	}
	if c.Status == StatusRunning {
		return c, false, nil
	}
	if err := countRun(ctx, tx, s, &c); err != nil {
		return c, false, err
	}
	pb, err := breakdownOf(ctx, tx, s, runID)
	if err != nil {
		return c, false, err
	}
	b, err := json.Marshal(pb)
	if err != nil {
		return c, false, err
	}
	var first any
	if !c.FirstObserved.IsZero() {
		first = s.tv(c.FirstObserved)
	}
	_, err = tx.ExecContext(ctx, s.q(`
		INSERT INTO run_stats (run_id, first_observed, observations, exchange, vulnerable, patched,
			undetermined, compromised, breakdown, computed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (run_id) DO UPDATE SET first_observed = excluded.first_observed,
			observations = excluded.observations, exchange = excluded.exchange,
			vulnerable = excluded.vulnerable, patched = excluded.patched,
			undetermined = excluded.undetermined, compromised = excluded.compromised,
			breakdown = excluded.breakdown, computed_at = excluded.computed_at`),
		runID, first, c.Observations, c.Exchange, c.Vulnerable, c.Patched, c.Undetermined, c.Compromised,
		string(b), s.tv(s.now()))
	if err != nil {
		return c, false, s.explain(fmt.Errorf("storing the counts of run %d: %w", runID, err))
	}
	return c, true, nil
}
