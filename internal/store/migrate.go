package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

// Migrations live per dialect because DDL is where SQLite and PostgreSQL
// differ most (identity columns, JSON and time types); the queries in this
// package stay portable. migrations/postgres mirrors migrations/sqlite
// version for version: a test checks that both have the same file names.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationsFS embed.FS

func dialectMigrations(d dialect) fs.FS {
	sub, err := fs.Sub(migrationsFS, "migrations/"+string(d))
	if err != nil {
		panic(err) // the pattern above is fixed at compile time
	}
	return sub
}

func (d dialect) goose() goose.Dialect {
	if d == dialectPostgres {
		return goose.DialectPostgres
	}
	return goose.DialectSQLite3
}

// countTables counts goose's version table and every other table of the
// database (SQLite) or of the schema the tables go into (PostgreSQL).
const (
	countTablesSQLite = `
		SELECT
			COUNT(CASE WHEN name = 'goose_db_version' THEN 1 END),
			COUNT(CASE WHEN name <> 'goose_db_version' THEN 1 END)
		FROM sqlite_schema
		WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`
	countTablesPostgres = `
		SELECT
			COUNT(CASE WHEN table_name = 'goose_db_version' THEN 1 END),
			COUNT(CASE WHEN table_name <> 'goose_db_version' THEN 1 END)
		FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
)

// migrate refuses a database from a newer exsweep, refuses databases (or
// PostgreSQL schemas) that belong to another program, and applies pending
// migrations.
func (s *Store) migrate(ctx context.Context) error {
	if s.dialect == dialectPostgres {
		// Several machines may start against a new database at once. A
		// session advisory lock, keyed by the schema so unrelated schemas do
		// not wait for each other, makes them migrate one after the other.
		// pg_advisory_lock blocks in the server (no polling) and is released
		// when this connection ends, even if the process dies.
		conn, err := s.w.Conn(ctx)
		if err != nil {
			return s.explain(err)
		}
		defer conn.Close()
		const key = `hashtext('exsweep.migrate.' || coalesce(current_schema(), ''))`
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+key+`)`); err != nil {
			return s.explain(fmt.Errorf("waiting for the migration lock: %w", err))
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+key+`)`)
	}

	query := countTablesSQLite
	if s.dialect == dialectPostgres {
		query = countTablesPostgres
		// With a search_path that names no existing schema, PostgreSQL has
		// nowhere to create tables, and goose's error would only say that
		// its version table is missing.
		var schema sql.NullString
		if err := s.w.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return s.explain(err)
		}
		if !schema.Valid {
			return fmt.Errorf("%s: %w: no schema to create tables in; create the schema named by search_path or remove search_path from --db", s.display, ErrCannotOpen)
		}
	}
	var gooseTable, otherTables int
	if err := s.w.QueryRowContext(ctx, query).Scan(&gooseTable, &otherTables); err != nil {
		return s.explain(err)
	}
	// Migrating someone else's database would add our tables to it; a
	// mistyped --db should fail instead.
	if gooseTable == 0 && otherTables > 0 {
		what := "a SQLite file"
		if s.dialect == dialectPostgres {
			what = "a PostgreSQL schema"
		}
		return fmt.Errorf("%s: %w: it is %s with %d tables of another program", s.display, ErrNotDatabase, what, otherTables)
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
	p, err := goose.NewProvider(s.dialect.goose(), s.w, dialectMigrations(s.dialect),
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
