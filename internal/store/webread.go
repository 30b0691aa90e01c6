package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Read helpers for the dashboard (internal/web). Each is one indexed query,
// so a page costs a few milliseconds whatever the size of the database.

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

// webTokenByHash is one index lookup by the unique hash; activeOnly skips
// revoked tokens.
func (s *Store) webTokenByHash(ctx context.Context, hash string, activeOnly bool) (WebToken, error) {
	query := `SELECT id, hash, name, read_only, created_at FROM web_tokens WHERE hash = ?`
	if activeOnly {
		query += ` AND revoked_at IS NULL`
	}
	var t WebToken
	var created dbTime
	err := s.r.QueryRowContext(ctx, s.q(query), hash).Scan(&t.ID, &t.Hash, &t.Name, &t.ReadOnly, &created)
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

// CaseGroup counts the active cases (open, notified, persisting, reopened)
// of one country or one network.
type CaseGroup struct {
	// Key is the country code or the AS number as text ("" / "0": unknown);
	// Name is the AS name (empty for countries).
	Key         string `json:"key"`
	Name        string `json:"name,omitempty"`
	Cases       int64  `json:"cases"`
	Compromised int64  `json:"compromised"`
}

// ActiveCasesBy counts active cases by "country" or by "asn", largest
// groups first, at most limit groups (<= 0: all). It reads the active cases
// through the state index: a few thousand rows, not every case.
func (s *Store) ActiveCasesBy(ctx context.Context, by string, limit int) ([]CaseGroup, error) {
	var key, name string
	switch by {
	case "country":
		key, name = "country", "''"
	case "asn":
		key, name = "CAST(asn AS TEXT)", "MAX(as_name)"
	default:
		return nil, fmt.Errorf("%w: cases by %q (want country or asn)", ErrInvalid, by)
	}
	args := make([]any, 0, len(activeStates)+2)
	args = append(args, ProblemCompromised)
	for _, st := range activeStates {
		args = append(args, st)
	}
	query, args := s.pageClause(`
		SELECT `+key+`, `+name+`, COUNT(*), COALESCE(SUM(CASE WHEN problem = ? THEN 1 ELSE 0 END), 0)
		FROM cases WHERE state IN `+inList(len(activeStates))+`
		GROUP BY `+key+`
		ORDER BY COUNT(*) DESC, `+key, args, limit, 0)
	out, err := queryAll(ctx, s, "counting cases by "+by, func(row rowScanner) (CaseGroup, error) {
		var g CaseGroup
		err := row.Scan(&g.Key, &g.Name, &g.Cases, &g.Compromised)
		return g, err
	}, query, args...)
	if out == nil && err == nil {
		out = []CaseGroup{} // JSON [] for "no open case"
	}
	return out, err
}
