package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// openPostgres connects through pgx's database/sql driver and migrates the
// schema of the first search_path entry.
func openPostgres(ctx context.Context, t target) (*Store, error) {
	cfg, err := pgx.ParseConfig(t.base)
	if err != nil {
		// pgconn redacts the password in its parse errors; the display form
		// is redacted too.
		return nil, fmt.Errorf("%w: %s: %v", ErrBadDSN, t.display, err)
	}
	db := stdlib.OpenDB(*cfg)
	// A few connections are enough for the CLI, the dashboard and a batch
	// writer at once; the server's max_connections is shared with other
	// exsweep machines.
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{w: db, r: db, dialect: dialectPostgres, display: t.display, now: time.Now}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, s.explain(err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// PostgreSQL error codes (SQLSTATE) that get their own explanation or
// handling.
const (
	pgInvalidPassword     = "28P01"
	pgInvalidAuthSpec     = "28000"
	pgInvalidCatalogName  = "3D000" // database does not exist
	pgInvalidSchemaName   = "3F000" // e.g. search_path names no existing schema
	pgReadOnlyTransaction = "25006"
	pgInsufficientPriv    = "42501"
	pgTooManyConnections  = "53300"
	pgSerialization       = "40001"
	pgDeadlock            = "40P01"
	pgUniqueViolation     = "23505"
)

// explainPostgres is explain for PostgreSQL errors.
func (s *Store) explainPostgres(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case pgInvalidPassword, pgInvalidAuthSpec:
			return fmt.Errorf("%s: %w: the server refused the login; check the user and password in --db (%v)", s.display, ErrCannotOpen, err)
		case pgInvalidCatalogName:
			return fmt.Errorf("%s: %w: the database does not exist; create it (createdb) or fix the name in --db (%v)", s.display, ErrCannotOpen, err)
		case pgInvalidSchemaName:
			return fmt.Errorf("%s: %w: no schema to create tables in; create the schema named by search_path or remove search_path from --db (%v)", s.display, ErrCannotOpen, err)
		case pgReadOnlyTransaction, pgInsufficientPriv:
			return fmt.Errorf("%s: %w: the role cannot create or change exsweep's tables; connect as a role that owns the database or schema (%v)", s.display, ErrReadOnly, err)
		case pgTooManyConnections:
			return fmt.Errorf("%s: %w: the server has no free connections (%v)", s.display, ErrCannotOpen, err)
		}
		return fmt.Errorf("%s: %w", s.display, err)
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return fmt.Errorf("%s: %w: is the server running, and are host and port in --db right? (%v)", s.display, ErrCannotOpen, err)
	}
	return fmt.Errorf("%s: %w", s.display, err)
}

// retryable reports whether a transaction failed only because it collided
// with another one (PostgreSQL aborted it to break a deadlock or a
// serialization conflict); running it again is the documented remedy.
// SQLite never reports these: its writers are serialised.
//
// errRace (a case inserted by another writer meanwhile) is retried too.
func retryable(err error) bool {
	if errors.Is(err, errRace) {
		return true
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == pgDeadlock || pe.Code == pgSerialization)
}

// isUniqueViolation reports a unique-constraint error from either backend.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == pgUniqueViolation
	}
	return sqliteUniqueViolation(err)
}

// maxAttempts bounds how often a transaction that lost a deadlock or a race
// is run again before the error goes to the caller.
const maxAttempts = 8

// backoff waits a little before attempt+1, longer each time and jittered,
// so the two colliding writers do not collide again in lockstep.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(attempt)*5*time.Millisecond + rand.N(10*time.Millisecond)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
