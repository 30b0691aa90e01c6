package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// pgEnv names the PostgreSQL server the tests use, as a URL DSN
// (.ci/postgres.sh prints one). Every test gets its own schema in that
// database, dropped when the test ends.
const pgEnv = "EXSWEEP_TEST_POSTGRES"

// backend is one database the store runs on; tests that do not depend on
// SQLite details run once per backend.
type backend struct {
	name    string
	dialect dialect
}

var (
	sqliteBackend   = backend{"sqlite", dialectSQLite}
	postgresBackend = backend{"postgres", dialectPostgres}
	backends        = []backend{sqliteBackend, postgresBackend}
)

// forEachBackend runs f as a subtest per backend.
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			b.require(t)
			f(t, b)
		})
	}
}

// require skips a PostgreSQL test when no server is configured, except on
// CI (CI=true), where a missing server must fail rather than let the
// PostgreSQL half of the suite pass silently.
func (b backend) require(t testing.TB) {
	t.Helper()
	if b.dialect != dialectPostgres || os.Getenv(pgEnv) != "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set, and CI=true: CI must run the PostgreSQL tests (source .ci/postgres.sh first)", pgEnv)
	}
	t.Skipf("%s is not set; to run the PostgreSQL tests: eval \"$(.ci/postgres.sh)\"", pgEnv)
}

// trunc is t as this backend stores it: PostgreSQL keeps microseconds.
func (b backend) trunc(t time.Time) time.Time {
	if b.dialect == dialectPostgres {
		return t.Truncate(time.Microsecond)
	}
	return t
}

var schemaUnsafe = regexp.MustCompile(`[^a-z0-9]+`)

// newDSN returns the DSN of a new, empty database that is removed when t
// ends: a file in t.TempDir() or a fresh PostgreSQL schema.
func (b backend) newDSN(t testing.TB) string {
	t.Helper()
	b.require(t)
	if b.dialect == dialectSQLite {
		return filepath.Join(t.TempDir(), "exsweep.db")
	}
	base := os.Getenv(pgEnv)
	var rnd [4]byte
	rand.Read(rnd[:])
	// The test name helps whoever finds a schema left by a killed run.
	name := strings.Trim(schemaUnsafe.ReplaceAllString(strings.ToLower(t.Name()), "_"), "_")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	schema := "t_" + hex.EncodeToString(rnd[:]) + "_" + name
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA "`+schema+`"`); err != nil {
		t.Fatalf("creating test schema: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			t.Error(err)
			return
		}
		defer admin.Close()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA "`+schema+`" CASCADE`); err != nil {
			t.Errorf("dropping test schema: %v", err)
		}
	})
	return withSearchPath(t, base, schema)
}

// withSearchPath adds search_path=schema to a PostgreSQL DSN (URL or
// keyword/value form); pgx sends it as a run-time parameter.
func withSearchPath(t testing.TB, dsn, schema string) string {
	if !strings.Contains(dsn, "://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s: %v", pgEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestRebind(t *testing.T) {
	tests := []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`a = ? AND b = ?`, `a = $1 AND b = $2`},
		{`x = '?' AND y = ?`, `x = '?' AND y = $1`},
		{`x = 'it''s ?' AND y = ?`, `x = 'it''s ?' AND y = $1`},
		{`"col?" = ?`, `"col?" = $1`},
		{"-- why?\nx = ?", "-- why?\nx = $1"},
		{`a - ? - ?`, `a - $1 - $2`},
		{`VALUES (?, ?), (?, ?)`, `VALUES ($1, $2), ($3, $4)`},
		{`'unterminated ?`, `'unterminated ?`},
		{`x = ? -- trailing ?`, `x = $1 -- trailing ?`},
	}
	for _, tt := range tests {
		if got := rebind(tt.in); got != tt.want {
			t.Errorf("rebind(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got, want := placeholders(2, 3), "(?, ?, ?), (?, ?, ?)"; got != want {
		t.Errorf("placeholders(2, 3) = %q", got)
	}
	if got, want := inList(3), "(?, ?, ?)"; got != want {
		t.Errorf("inList(3) = %q", got)
	}
}

// TestMigrationsMirror: every schema version exists for both dialects.
func TestMigrationsMirror(t *testing.T) {
	names := func(d dialect) []string {
		entries, err := migrationsFS.ReadDir("migrations/" + string(d))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	if a, b := fmt.Sprint(names(dialectSQLite)), fmt.Sprint(names(dialectPostgres)); a != b {
		t.Errorf("sqlite migrations %s, postgres migrations %s", a, b)
	}
}

// TestSchemasMatch: the PostgreSQL migrations create the same tables,
// columns and indexes as the SQLite ones, so a query that works on one
// finds its columns on the other.
func TestSchemasMatch(t *testing.T) {
	postgresBackend.require(t)
	ctx := context.Background()
	lite := openTest(t, sqliteBackend)
	pg := openTest(t, postgresBackend)

	shape := func(s *Store, tablesQ, colsQ, idxQ string) map[string][]string {
		t.Helper()
		out := map[string][]string{}
		rows, err := s.r.QueryContext(ctx, tablesQ)
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			tables = append(tables, name)
		}
		rows.Close()
		for _, tb := range tables {
			for _, q := range []struct{ kind, query string }{{"col", colsQ}, {"idx", idxQ}} {
				rows, err := s.r.QueryContext(ctx, s.q(q.query), tb)
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var name string
					if err := rows.Scan(&name); err != nil {
						t.Fatal(err)
					}
					out[tb] = append(out[tb], q.kind+" "+name)
				}
				rows.Close()
			}
			slices.Sort(out[tb])
		}
		return out
	}
	// Only named indexes: both backends name the implicit ones of UNIQUE
	// and PRIMARY KEY constraints their own way.
	liteShape := shape(lite,
		`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name <> 'goose_db_version'`,
		`SELECT name FROM pragma_table_info(?)`,
		`SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`)
	pgShape := shape(pg,
		`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name <> 'goose_db_version'`,
		`SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?`,
		`SELECT indexname FROM pg_indexes i WHERE schemaname = current_schema() AND tablename = ?
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
				WHERE n.nspname = i.schemaname AND c.conname = i.indexname)`)
	if diff := cmp.Diff(liteShape, pgShape); diff != "" {
		t.Errorf("schemas differ (-sqlite +postgres):\n%s", diff)
	}
}
