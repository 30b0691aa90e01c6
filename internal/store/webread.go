package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Read helpers for the dashboard (internal/web). Each is one indexed query,
// so a page costs a few milliseconds whatever the size of the database.

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

// webshellPattern finds records with at least one web shell. Records are
// written by encoding/json, which puts no space after ':' or '['; the text
// of a PostgreSQL json column is kept as written. A LIKE keeps the query
// portable (the two dialects have different JSON functions).
const webshellPattern = `%"webshells":[{%`

// RunCurves returns the counts of the newest limit runs (limit <= 0: all),
// oldest first, ready to draw.
func (s *Store) RunCurves(ctx context.Context, limit int) ([]RunCurve, error) {
	query, args := s.pageClause(runCurveQuery(""), []any{true, webshellPattern}, limit, 0)
	return s.runCurves(ctx, query, args)
}

// RunCurveOf returns the counts of one run (ErrNotFound when there is none).
// A finished run's counts never change, so callers can keep them: the
// dashboard asks only for runs it has not seen finished.
func (s *Store) RunCurveOf(ctx context.Context, id int64) (RunCurve, error) {
	out, err := s.runCurves(ctx, runCurveQuery("WHERE r.id = ?"), []any{true, webshellPattern, id})
	if err != nil {
		return RunCurve{}, err
	}
	if len(out) == 0 {
		return RunCurve{}, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	return out[0], nil
}

// RunStatuses lists the newest limit runs' ids and statuses, newest first:
// cheap, no observation is read.
func (s *Store) RunStatuses(ctx context.Context, limit int) ([]RunCurve, error) {
	query, args := s.pageClause(`SELECT id, status FROM scan_runs ORDER BY id DESC`, nil, limit, 0)
	rows, err := s.r.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, s.explain(fmt.Errorf("listing runs: %w", err))
	}
	defer rows.Close()
	var out []RunCurve
	for rows.Next() {
		var c RunCurve
		if err := rows.Scan(&c.RunID, &c.Status); err != nil {
			return nil, s.explain(err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func runCurveQuery(where string) string {
	return `
		SELECT r.id, r.started_at, r.status, MIN(o.observed_at), COUNT(o.id),
			COALESCE(SUM(CASE WHEN o.exchange = ? THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN o.verdict = 'vulnerable' THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN o.verdict = 'patched' THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN o.verdict = 'undetermined' THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN CAST(o.record AS TEXT) LIKE ? THEN 1 ELSE 0 END), 0)
		FROM scan_runs r LEFT JOIN observations o ON o.run_id = r.id
		` + where + `
		GROUP BY r.id, r.started_at, r.status
		ORDER BY r.id DESC`
}

func (s *Store) runCurves(ctx context.Context, query string, args []any) ([]RunCurve, error) {
	rows, err := s.r.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, s.explain(fmt.Errorf("reading run curves: %w", err))
	}
	defer rows.Close()
	var out []RunCurve
	for rows.Next() {
		var c RunCurve
		var started, first dbTime
		if err := rows.Scan(&c.RunID, &started, &c.Status, &first, &c.Observations, &c.Exchange,
			&c.Vulnerable, &c.Patched, &c.Undetermined, &c.Compromised); err != nil {
			return nil, s.explain(fmt.Errorf("reading run curves: %w", err))
		}
		c.StartedAt, c.FirstObserved = started.T, first.T
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.explain(fmt.Errorf("reading run curves: %w", err))
	}
	slices.Reverse(out)
	return out, nil
}

// ProductCount is the number of Exchange observations of a run with one
// product, CU and verdict.
type ProductCount struct {
	Product, CU, Verdict string
	Count                int64
}

// ProductBreakdown counts a run's Exchange observations by product, CU and
// verdict, largest groups first.
func (s *Store) ProductBreakdown(ctx context.Context, runID int64) ([]ProductCount, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`
		SELECT product, cu, verdict, COUNT(*) FROM observations
		WHERE run_id = ? AND exchange = ?
		GROUP BY product, cu, verdict
		ORDER BY COUNT(*) DESC, product, cu, verdict`), runID, true)
	if err != nil {
		return nil, s.explain(fmt.Errorf("counting products of run %d: %w", runID, err))
	}
	defer rows.Close()
	var out []ProductCount
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

// EndpointObservations returns up to limit observations of one endpoint
// across runs (limit <= 0: all), newest run first. It uses the ip index.
func (s *Store) EndpointObservations(ctx context.Context, ep netip.AddrPort, limit int) ([]Observation, error) {
	query, args := s.pageClause(`SELECT `+observationColumns+` FROM observations
		WHERE ip = ? AND port = ? ORDER BY run_id DESC, id`,
		[]any{ep.Addr().Unmap().String(), int64(ep.Port())}, limit, 0)
	rows, err := s.r.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, s.explain(fmt.Errorf("reading observations of %s: %w", ep, err))
	}
	defer rows.Close()
	out, err := s.scanObservations(rows)
	if err != nil {
		return nil, s.explain(fmt.Errorf("reading observations of %s: %w", ep, err))
	}
	return out, nil
}

// WebToken is a dashboard login token as stored: only its hash.
type WebToken struct {
	ID        int64
	Hash      string // hex SHA-256 of the token
	Name      string
	ReadOnly  bool
	CreatedAt time.Time
}

// AddWebToken stores a token hash (the caller hashes; the store never sees
// a token). A hash stored twice is ErrInvalid.
func (s *Store) AddWebToken(ctx context.Context, t WebToken) (int64, error) {
	if len(t.Hash) != 64 {
		return 0, fmt.Errorf("%w: web token hash must be 64 hex digits", ErrInvalid)
	}
	var id int64
	err := s.w.QueryRowContext(ctx, s.q(`
		INSERT INTO web_tokens (hash, name, read_only, created_at) VALUES (?, ?, ?, ?)
		RETURNING id`), t.Hash, clean(t.Name, MaxFieldBytes), t.ReadOnly, s.tv(s.now())).Scan(&id)
	if err != nil {
		if isUniqueViolation(err) {
			return 0, fmt.Errorf("%w: web token already stored", ErrInvalid)
		}
		return 0, s.explain(fmt.Errorf("storing web token: %w", err))
	}
	return id, nil
}

// WebTokenByHash returns the token with that hash; ErrNotFound if none.
func (s *Store) WebTokenByHash(ctx context.Context, hash string) (WebToken, error) {
	var t WebToken
	var created dbTime
	err := s.r.QueryRowContext(ctx, s.q(`
		SELECT id, hash, name, read_only, created_at FROM web_tokens WHERE hash = ?`), hash).
		Scan(&t.ID, &t.Hash, &t.Name, &t.ReadOnly, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return WebToken{}, fmt.Errorf("web token: %w", ErrNotFound)
	}
	if err != nil {
		return WebToken{}, s.explain(fmt.Errorf("reading web token: %w", err))
	}
	t.CreatedAt = created.T
	return t, nil
}

// CountWebTokens returns how many tokens exist (0: first start).
func (s *Store) CountWebTokens(ctx context.Context) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM web_tokens`).Scan(&n); err != nil {
		return 0, s.explain(fmt.Errorf("counting web tokens: %w", err))
	}
	return n, nil
}
