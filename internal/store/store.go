// Package store is exsweep's persistence: scan runs and their observations,
// organisations, cases and their history, and the outbox of notification
// messages. It keeps them in an embedded SQLite file by default, or in
// PostgreSQL when several machines share the work. It is the only package
// that contains SQL.
//
// SQLite: writes go through one connection (SQLite allows one writer at a
// time anyway, and a single connection makes the order of commits the order
// of calls); reads use a separate pool, which WAL mode lets run while the
// writer commits.
//
// PostgreSQL: one pool serves reads and writes, and other processes (other
// machines) may write at the same time. Every write is therefore either an
// idempotent upsert or a transaction that locks the rows it changes
// (SELECT … FOR UPDATE, FOR UPDATE SKIP LOCKED for the outbox).
//
// The Go API is the same for both. One visible difference: PostgreSQL keeps
// times to the microsecond (they are truncated), SQLite to the nanosecond.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
)

// Sentinel errors. Callers match them with errors.Is; messages carry the
// details (path, versions) so they can be shown to the user as they are.
var (
	// ErrNotFound: the requested row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrNotSupported: the DSN names a backend this build cannot use. No
	// current DSN form returns it; it stays for callers that match it.
	ErrNotSupported = errors.New("not supported yet")
	// ErrBadDSN: the --db value cannot be understood.
	ErrBadDSN = errors.New("invalid database location")
	// ErrNotDatabase: the file exists but is not an exsweep database (not
	// SQLite at all, or SQLite with someone else's tables in it).
	ErrNotDatabase = errors.New("not an exsweep database")
	// ErrReadOnly: the database or its directory cannot be written.
	ErrReadOnly = errors.New("database is read-only")
	// ErrCannotOpen: the file cannot be opened or created.
	ErrCannotOpen = errors.New("cannot open database")
	// ErrSchemaTooNew: the database was migrated by a newer exsweep.
	ErrSchemaTooNew = errors.New("database was created by a newer exsweep")
	// ErrInvalid: an argument (status, observation, JSON) was rejected
	// before anything was written.
	ErrInvalid = errors.New("invalid argument")
	// ErrTransition: a case or message is not in a state that allows the
	// requested change (the error says which state it is in).
	ErrTransition = errors.New("state change not allowed")
)

// Store is an open exsweep database. It is safe for concurrent use; an
// ObservationWriter is not (see NewObservationWriter).
type Store struct {
	// w is the only handle that writes: one connection, so SQLite's single
	// writer lock is never contended inside this process.
	w *sql.DB
	// r serves reads. For an in-memory database it is w itself, because
	// every connection to ":memory:" would be a different, empty database.
	// For PostgreSQL, w and r are the same pool.
	r *sql.DB

	dialect dialect
	display string
	// now is the clock; tests replace it to get stable times.
	now func() time.Time
}

// Open opens (creating if needed) the database named by dsn and migrates it
// to the schema this binary knows. dsn may be:
//
//   - "" : DefaultPath() in the working directory
//   - a file path, or "sqlite:PATH" / "sqlite://PATH"
//   - a SQLite URI "file:PATH?mode=...&..." (passed to SQLite as is)
//   - ":memory:" (tests; data lives as long as the Store)
//   - "postgres://…" or "postgresql://…": a PostgreSQL database, in any URL
//     form pgx accepts (sslmode=, search_path=, connect_timeout=, …). The
//     tables go into the first schema of the search path.
//
// Errors wrap ErrNotDatabase, ErrReadOnly, ErrCannotOpen, ErrSchemaTooNew
// or ErrBadDSN where one applies.
func Open(ctx context.Context, dsn string) (*Store, error) {
	t, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if t.dialect == dialectPostgres {
		return openPostgres(ctx, t)
	}

	w, err := sql.Open("sqlite", t.writeDSN())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.display, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	// Never recycle the write connection: for ":memory:" it *is* the database.
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w, r: w, dialect: dialectSQLite, display: t.display, now: time.Now}

	if err := s.prepare(ctx); err != nil {
		w.Close()
		return nil, err
	}

	if !t.memory {
		r, err := sql.Open("sqlite", t.readDSN())
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("%s: %w", t.display, err)
		}
		// A handful of readers is plenty for the CLI and the dashboard;
		// each idle SQLite connection holds its own page cache.
		r.SetMaxOpenConns(4)
		r.SetMaxIdleConns(2)
		if err := r.PingContext(ctx); err != nil {
			r.Close()
			w.Close()
			return nil, s.explain(err)
		}
		s.r = r
	}
	return s, nil
}

// prepare checks the file is usable and writable, then migrates it.
func (s *Store) prepare(ctx context.Context) error {
	// The first connection runs the DSN pragmas; a file that is not SQLite
	// fails here (SQLITE_NOTADB on journal_mode).
	if err := s.w.PingContext(ctx); err != nil {
		return s.explain(err)
	}
	// Probe for write access before goose touches the file: goose retries a
	// failing version-table creation for several seconds, and its error would
	// not say "read-only". BEGIN IMMEDIATE (see writeDSN) takes the write lock.
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.explain(err)
	}
	// An empty transaction does not write, so force a real write attempt
	// that is rolled back: this is what surfaces SQLITE_READONLY.
	if _, err := tx.ExecContext(ctx, `CREATE TABLE exsweep_write_probe (x INTEGER)`); err != nil {
		tx.Rollback()
		return s.explain(err)
	}
	if err := tx.Rollback(); err != nil {
		return s.explain(err)
	}
	return s.migrate(ctx)
}

// SetClock makes the store date what it writes by now instead of the wall
// clock (nil restores the wall clock). It is for replays and imports that
// record the past in a store nobody else uses at the time: it is not safe
// while other goroutines use the store.
func (s *Store) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.now = now
}

// Close releases both handles. Close every ObservationWriter first: rows it
// still buffers are not committed by Store.Close.
func (s *Store) Close() error {
	var errR error
	if s.r != s.w {
		errR = s.r.Close()
	}
	return errors.Join(errR, s.w.Close())
}

// IntegrityCheck runs SQLite's full integrity check and returns an error that
// lists the problems if the file is damaged. On PostgreSQL it only checks
// that the server answers: detecting corruption there is the server's job
// (data checksums, amcheck), not something a client can do cheaply.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	if s.dialect == dialectPostgres {
		if err := s.r.PingContext(ctx); err != nil {
			return s.explain(err)
		}
		return nil
	}
	rows, err := s.r.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return s.explain(err)
	}
	defer rows.Close()
	var problems []error
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return err
		}
		if line != "ok" {
			problems = append(problems, errors.New(line))
		}
	}
	if err := rows.Err(); err != nil {
		return s.explain(err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: integrity check failed: %w", s.display, errors.Join(problems...))
	}
	return nil
}

// SQLite primary result codes (stable parts of the SQLite ABI).
const (
	sqliteBusy     = 5
	sqliteReadOnly = 8
	sqliteCantOpen = 14
	sqliteNotADB   = 26
	sqlitePerm     = 3
	sqliteAuth     = 23
)

// explain turns driver errors that users hit when pointing --db at the wrong
// place into messages that say what to do.
func (s *Store) explain(err error) error {
	if err == nil {
		return nil
	}
	if s.dialect == dialectPostgres {
		return s.explainPostgres(err)
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("%s: %w", s.display, err)
	}
	switch se.Code() & 0xff {
	case sqliteNotADB:
		return fmt.Errorf("%s: %w: the file is not a SQLite database (%v)", s.display, ErrNotDatabase, err)
	case sqliteReadOnly, sqlitePerm, sqliteAuth:
		return fmt.Errorf("%s: %w: exsweep needs to write the file and create %s-wal and %s-shm beside it; "+
			"choose a writable directory with --db (%v)", s.display, ErrReadOnly, s.display, s.display, err)
	case sqliteBusy:
		return fmt.Errorf("%s: another process held the write lock for longer than the busy timeout; "+
			"is another exsweep writing to this database? (%w)", s.display, err)
	case sqliteCantOpen:
		return fmt.Errorf("%s: %w: check that the directory exists and is writable (%v)", s.display, ErrCannotOpen, err)
	}
	return fmt.Errorf("%s: %w", s.display, err)
}

// timeLayout is RFC 3339 in UTC with exactly nine fractional digits.
// time.RFC3339Nano drops trailing zeros, which makes text order differ from
// time order ("…05.1Z" sorts after "…05.12Z"); a fixed width keeps ORDER BY
// and range queries on the text columns correct. time.Parse(time.RFC3339Nano)
// reads it back.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// SQLite extended result codes for unique and primary-key violations.
const (
	sqliteConstraintUnique     = 2067
	sqliteConstraintPrimaryKey = 1555
)

func sqliteUniqueViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code() == sqliteConstraintUnique || se.Code() == sqliteConstraintPrimaryKey)
}
