package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

// Migrations live per dialect because DDL is where SQLite and PostgreSQL
// differ most (identity columns, JSON and time types); the queries in this
// package stay portable. A later migrations/postgres/ mirrors the versions.
//
//go:embed migrations/sqlite/*.sql
var migrationsFS embed.FS

func sqliteMigrations() fs.FS {
	sub, err := fs.Sub(migrationsFS, "migrations/sqlite")
	if err != nil {
		panic(err) // the pattern above is fixed at compile time
	}
	return sub
}

// migrate refuses a database from a newer exsweep, refuses SQLite files that
// belong to another program, and applies pending migrations.
func (s *Store) migrate(ctx context.Context) error {
	var gooseTable, otherTables int
	err := s.w.QueryRowContext(ctx, `
		SELECT
			COUNT(CASE WHEN name = 'goose_db_version' THEN 1 END),
			COUNT(CASE WHEN name <> 'goose_db_version' THEN 1 END)
		FROM sqlite_schema
		WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`).Scan(&gooseTable, &otherTables)
	if err != nil {
		return s.explain(err)
	}
	// Migrating someone else's SQLite file would add our tables to it; a
	// mistyped --db should fail instead.
	if gooseTable == 0 && otherTables > 0 {
		return fmt.Errorf("%s: %w: it is a SQLite file with %d tables of another program", s.display, ErrNotDatabase, otherTables)
	}

	// Two processes may migrate a new file at once (scan and serve started
	// together). Each migration runs in its own BEGIN IMMEDIATE transaction,
	// so they never interleave, but the loser planned its steps before the
	// winner committed and then fails with "table already exists". goose's
	// lockers do not fit SQLite (they need a second connection or an advisory
	// lock), so retry instead: a failed step rolled back cleanly, and the
	// retry re-reads the version and finds less, or nothing, to do.
	for attempt := 1; ; attempt++ {
		before, after, err := s.migrateOnce(ctx)
		if err == nil || after <= before || attempt == 5 || ctx.Err() != nil {
			return err
		}
		// The version moved while we failed: another process migrated.
	}
}

// migrateOnce checks the version and applies pending migrations. It returns
// the version found before and after (equal when nothing changed).
func (s *Store) migrateOnce(ctx context.Context) (before, after int64, err error) {
	// A new provider per attempt: a provider remembers that it created the
	// version table and what it read.
	p, err := goose.NewProvider(goose.DialectSQLite3, s.w, sqliteMigrations(),
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return 0, 0, fmt.Errorf("%s: migrations: %w", s.display, err)
	}
	sources := p.ListSources()
	known := sources[len(sources)-1].Version
	before, err = p.GetDBVersion(ctx)
	if err != nil {
		return 0, 0, s.explain(fmt.Errorf("reading schema version: %w", err))
	}
	if before > known {
		return before, before, fmt.Errorf("%s: %w (schema version %d, this exsweep knows up to %d): upgrade exsweep or use another --db",
			s.display, ErrSchemaTooNew, before, known)
	}
	if _, err := p.Up(ctx); err != nil {
		after, verr := p.GetDBVersion(ctx)
		if verr != nil {
			after = before
		}
		return before, after, s.explain(fmt.Errorf("migrating schema from version %d to %d: %w", before, known, err))
	}
	return before, known, nil
}

// SchemaVersion reports the migration version applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	// goose records every applied and rolled-back step; the newest row wins.
	var v int64
	err := s.r.QueryRowContext(ctx, `
		SELECT version_id FROM goose_db_version
		WHERE is_applied ORDER BY id DESC LIMIT 1`).Scan(&v)
	if err != nil {
		return 0, s.explain(err)
	}
	return v, nil
}
