package store

import (
	"context"
	"fmt"
	"time"
)

// Token management for the dashboard (`exsweep serve tokens`). Tokens are
// added by AddWebToken and never deleted: a revoked token keeps its row, so
// the list still shows who had access and until when.

// WebTokenInfo is a token as `exsweep serve tokens list` shows it. It has
// no hash: nothing that lists tokens needs one.
type WebTokenInfo struct {
	ID        int64
	Name      string
	ReadOnly  bool
	CreatedAt time.Time
	// RevokedAt is zero while the token is active.
	RevokedAt time.Time
	// LastUsedAt is zero if the token was never used (the dashboard records
	// uses at most once a minute per token; see TouchWebToken).
	LastUsedAt time.Time
}

// Revoked reports whether the token has been revoked.
func (t WebTokenInfo) Revoked() bool { return !t.RevokedAt.IsZero() }

// ListWebTokens returns every token, revoked ones included, oldest first.
func (s *Store) ListWebTokens(ctx context.Context) ([]WebTokenInfo, error) {
	return queryAll(ctx, s, "listing web tokens", func(row rowScanner) (WebTokenInfo, error) {
		var t WebTokenInfo
		var created, revoked, used dbTime
		err := row.Scan(&t.ID, &t.Name, &t.ReadOnly, &created, &revoked, &used)
		t.CreatedAt, t.RevokedAt, t.LastUsedAt = created.T, revoked.T, used.T
		return t, err
	}, `SELECT id, name, read_only, created_at, revoked_at, last_used_at FROM web_tokens ORDER BY id`)
}

// RevokeWebToken revokes a token: from now on it logs nobody in, and the
// dashboard refuses the sessions it opened at their next request. It is
// ErrNotFound if there is no such token. Revoking a revoked token is not an
// error and keeps the first revocation time.
func (s *Store) RevokeWebToken(ctx context.Context, id int64) error {
	res, err := s.w.ExecContext(ctx, s.q(`
		UPDATE web_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`), s.tv(s.now()), id)
	if err != nil {
		return s.explain(fmt.Errorf("revoking web token %d: %w", id, err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.explain(fmt.Errorf("revoking web token %d: %w", id, err))
	}
	if n == 0 {
		return fmt.Errorf("web token %d: %w", id, ErrNotFound)
	}
	return nil
}

// ActiveWebTokenByHash returns the token with that hash unless it was
// revoked; ErrNotFound if there is none or it is revoked (a caller logging
// someone in must not tell the two apart). The hash is unique, so this is
// one index lookup.
func (s *Store) ActiveWebTokenByHash(ctx context.Context, hash string) (WebToken, error) {
	return s.webTokenByHash(ctx, hash, true)
}

// WebTokenActive reports whether token id exists and is not revoked: one
// primary-key lookup, cheap enough for every request of a session.
func (s *Store) WebTokenActive(ctx context.Context, id int64) (bool, error) {
	var n int64
	err := s.r.QueryRowContext(ctx, s.q(`
		SELECT COUNT(*) FROM web_tokens WHERE id = ? AND revoked_at IS NULL`), id).Scan(&n)
	if err != nil {
		return false, s.explain(fmt.Errorf("checking web token %d: %w", id, err))
	}
	return n > 0, nil
}

// CountActiveWebTokens returns how many tokens are not revoked. With
// CountWebTokens it tells a first start (no token at all) from a store
// whose every token was revoked.
func (s *Store) CountActiveWebTokens(ctx context.Context) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM web_tokens WHERE revoked_at IS NULL`).Scan(&n); err != nil {
		return 0, s.explain(fmt.Errorf("counting active web tokens: %w", err))
	}
	return n, nil
}

// TouchWebToken records that token id was just used. It is a write, so the
// dashboard calls it at most once a minute per token, not per request. An
// unknown id is not an error (nothing to record).
func (s *Store) TouchWebToken(ctx context.Context, id int64) error {
	if _, err := s.w.ExecContext(ctx, s.q(`UPDATE web_tokens SET last_used_at = ? WHERE id = ?`), s.tv(s.now()), id); err != nil {
		return s.explain(fmt.Errorf("recording use of web token %d: %w", id, err))
	}
	return nil
}
