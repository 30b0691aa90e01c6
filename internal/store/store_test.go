package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseDSN(t *testing.T) {
	tests := []struct {
		dsn       string
		want      target
		wantWrite string
		wantErr   error
	}{
		{dsn: "", want: target{dialect: dialectSQLite, display: "exsweep.db", base: "exsweep.db"},
			wantWrite: "exsweep.db?_busy_timeout=10000&_foreign_keys=1&_synchronous=FULL&_journal_mode=WAL&_txlock=immediate"},
		{dsn: "/var/lib/exsweep/x.db", want: target{dialect: dialectSQLite, display: "/var/lib/exsweep/x.db", base: "/var/lib/exsweep/x.db"}},
		{dsn: `C:\cert\exsweep.db`, want: target{dialect: dialectSQLite, display: `C:\cert\exsweep.db`, base: `C:\cert\exsweep.db`}},
		{dsn: "sqlite:scan.db", want: target{dialect: dialectSQLite, display: "scan.db", base: "scan.db"}},
		{dsn: "sqlite:///tmp/scan.db", want: target{dialect: dialectSQLite, display: "/tmp/scan.db", base: "/tmp/scan.db"}},
		{dsn: ":memory:", want: target{dialect: dialectSQLite, display: ":memory:", base: ":memory:", memory: true},
			wantWrite: ":memory:?_busy_timeout=10000&_foreign_keys=1&_synchronous=FULL&_txlock=immediate"},
		{dsn: "sqlite::memory:", want: target{dialect: dialectSQLite, display: ":memory:", base: ":memory:", memory: true}},
		{dsn: "file:x.db?mode=memory&cache=shared", want: target{dialect: dialectSQLite, display: "file:x.db?mode=memory&cache=shared", base: "file:x.db?mode=memory&cache=shared", memory: true}},
		{dsn: "file:x.db?_sync=OFF&mode=rwc", want: target{dialect: dialectSQLite, display: "file:x.db?_sync=OFF&mode=rwc", base: "file:x.db?_sync=OFF&mode=rwc"},
			// The user's _sync wins over our _synchronous.
			wantWrite: "file:x.db?_sync=OFF&mode=rwc&_busy_timeout=10000&_foreign_keys=1&_journal_mode=WAL&_txlock=immediate"},
		{dsn: "postgres://u:secret@db/exsweep", want: target{dialect: dialectPostgres, display: "postgres://u:xxxxx@db/exsweep", base: "postgres://u:secret@db/exsweep"}},
		{dsn: "PostgreSQL://db/exsweep", want: target{dialect: dialectPostgres, display: "PostgreSQL://db/exsweep", base: "PostgreSQL://db/exsweep"}},
		{dsn: " postgresql://u@db:5433/x?sslmode=disable ", want: target{dialect: dialectPostgres, display: "postgresql://u@db:5433/x?sslmode=disable", base: "postgresql://u@db:5433/x?sslmode=disable"}},
		{dsn: "what?.db", wantErr: ErrBadDSN},
		{dsn: "sqlite:", wantErr: ErrBadDSN},
		{dsn: "file:x.db?a=%zz", wantErr: ErrBadDSN},
		// Not a valid URL, but the password must still not be shown.
		{dsn: "postgres://u:pw@db:port/x", want: target{dialect: dialectPostgres, display: "postgres://u:xxxxx@db:port/x", base: "postgres://u:pw@db:port/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			got, err := parseDSN(tt.dsn)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("parseDSN(%q) error = %v, want %v", tt.dsn, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(target{})); diff != "" {
				t.Errorf("parseDSN(%q) (-want +got):\n%s", tt.dsn, diff)
			}
			if tt.wantWrite != "" {
				if w := got.writeDSN(); w != tt.wantWrite {
					t.Errorf("writeDSN() = %q, want %q", w, tt.wantWrite)
				}
			}
		})
	}
}

func TestDefaultPath(t *testing.T) {
	if got := DefaultPath(); got != "exsweep.db" {
		t.Errorf("DefaultPath() = %q", got)
	}
}

// latestSchema is the newest migration version, the one Open must reach.
func latestSchema(t testing.TB) int64 {
	t.Helper()
	entries, err := migrationsFS.ReadDir("migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	var v int64
	if _, err := fmt.Sscanf(entries[len(entries)-1].Name(), "%d_", &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOpenSettings(t *testing.T) {
	s := openTest(t, sqliteBackend)
	ctx := context.Background()
	// Pragmas are per connection: check both handles.
	for name, db := range map[string]*sql.DB{"write": s.w, "read": s.r} {
		want := map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "busy_timeout": "10000"}
		got := map[string]string{}
		for p := range want {
			var v string
			if err := db.QueryRowContext(ctx, "PRAGMA "+p).Scan(&v); err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", name, p, err)
			}
			got[p] = v
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s connection pragmas (-want +got):\n%s", name, diff)
		}
	}
	// The read pool must refuse writes.
	if _, err := s.r.ExecContext(ctx, `DELETE FROM scan_runs`); err == nil {
		t.Error("write through the read pool succeeded")
	}
	v, err := s.SchemaVersion(ctx)
	if want := latestSchema(t); err != nil || v != want {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, want)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
}

func TestOpenPostgres(t *testing.T) {
	postgresBackend.require(t)
	ctx := context.Background()
	s := openTest(t, postgresBackend)
	if s.dialect != dialectPostgres || s.r != s.w {
		t.Fatalf("dialect %q, one pool %v", s.dialect, s.r == s.w)
	}
	v, err := s.SchemaVersion(ctx)
	if want := latestSchema(t); err != nil || v != want {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, want)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
	// The tables went into the schema of the search path, not public.
	var schema string
	if err := s.r.QueryRowContext(ctx, `SELECT table_schema FROM information_schema.tables WHERE table_name = 'cases'`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(schema, "t_") {
		t.Errorf("cases table in schema %q", schema)
	}
	// Times are timestamptz, JSON documents json.
	var typ string
	if err := s.r.QueryRowContext(ctx, `SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'scan_runs' AND column_name = 'started_at'`).Scan(&typ); err != nil {
		t.Fatal(err)
	}
	if typ != "timestamp with time zone" {
		t.Errorf("started_at is %q", typ)
	}
}

func TestOpenMemory(t *testing.T) { // SQLite only: PostgreSQL has no in-memory databases
	ctx := context.Background()
	s, err := Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := mustRun(t, s)
	// Reads must see the same in-memory database as writes.
	if _, err := s.GetRun(ctx, id); err != nil {
		t.Fatal(err)
	}
}

func TestOpenTwiceMigratesOnce(t *testing.T) {
	forEachBackend(t, testOpenTwiceMigratesOnce)
}

func testOpenTwiceMigratesOnce(t *testing.T, b backend) {
	ctx := context.Background()
	dsn := b.newDSN(t)
	if b.dialect == dialectSQLite {
		dsn = "sqlite:" + dsn
	}
	for i := range 2 {
		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if _, err := s.CreateRun(ctx, RunInfo{}); err != nil {
			t.Fatal(err)
		}
		runs, err := s.ListRuns(ctx, 0)
		if err != nil || len(runs) != i+1 {
			t.Fatalf("open %d: ListRuns = %d runs, %v", i, len(runs), err)
		}
		s.Close()
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, []byte(strings.Repeat("this is a CSV file, not a database\n", 200)), 0o644); err != nil {
		t.Fatal(err)
	}

	foreign := filepath.Join(dir, "foreign.db")
	fdb, err := sql.Open("sqlite", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fdb.Exec(`CREATE TABLE contacts (name TEXT)`); err != nil {
		t.Fatal(err)
	}
	fdb.Close()

	newer := filepath.Join(dir, "newer.db")
	s, err := Open(ctx, newer)
	if err != nil {
		t.Fatal(err)
	}
	// Simulate a migration that a later exsweep applied.
	if _, err := s.w.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (99, 1)`); err != nil {
		t.Fatal(err)
	}
	s.Close()

	readonly := filepath.Join(dir, "ro.db")
	s, err = Open(ctx, readonly)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	tests := []struct {
		name    string
		dsn     string
		wantErr error
		wantMsg string
	}{
		{"not sqlite", junk, ErrNotDatabase, "not a SQLite database"},
		{"someone else's sqlite", foreign, ErrNotDatabase, "1 tables of another program"},
		{"newer schema", newer, ErrSchemaTooNew, fmt.Sprintf("database was created by a newer exsweep (schema version 99, this exsweep knows up to %d)", latestSchema(t))},
		// mode=ro stands in for a read-only file or mount, which root (CI)
		// cannot otherwise be denied; TestOpenReadOnlyDir covers the rest.
		{"read-only", "file:" + readonly + "?mode=ro", ErrReadOnly, "choose a writable directory"},
		{"missing directory", filepath.Join(dir, "nope", "x.db"), ErrCannotOpen, "check that the directory exists"},
		{"bad postgres url", "postgres://u:hunter2@db:notaport/x", ErrBadDSN, "postgres://u:xxxxx@db:notaport/x"},
		// Port 1 on loopback: refused at once, no server needed.
		{"no postgres server", "postgres://u:hunter2@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", ErrCannotOpen, "is the server running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			s, err := Open(ctx, tt.dsn)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tt.dsn)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Open(%q) = %v, want errors.Is %v", tt.dsn, err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Open(%q) = %q, want it to contain %q", tt.dsn, err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks the password: %v", err)
			}
			// A wrong --db must fail fast, not after goose's retries.
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Open took %v", d)
			}
		})
	}
	// The junk file must not have been modified or grown companions.
	b, err := os.ReadFile(junk)
	if err != nil || !strings.HasPrefix(string(b), "this is a CSV") {
		t.Errorf("junk file changed: %v", err)
	}
}

func TestOpenReadOnlyDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	_, err := Open(context.Background(), filepath.Join(dir, "x.db"))
	if !errors.Is(err, ErrCannotOpen) && !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Open in read-only dir = %v", err)
	}
}

func TestRuns(t *testing.T) { forEachBackend(t, testRuns) }

func testRuns(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()

	id1, err := s.CreateRun(ctx, RunInfo{Args: json.RawMessage(`{"targets":["10.0.0.0/24"],"ports":[443]}`), KBDate: "2026-01-15", TargetsTotal: 256})
	if err != nil {
		t.Fatal(err)
	}
	id2, err := s.CreateRun(ctx, RunInfo{Args: map[string]any{"stdin": true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetTargetsTotal(ctx, id2, 3); err != nil {
		t.Fatal(err)
	}
	w := s.NewObservationWriter(id1, BatchOptions{})
	for i := range 3 {
		if err := w.Add(ctx, fakeObservation(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, id1, StatusDone, json.RawMessage(`{"patched":1,"vulnerable":1,"undetermined":1}`)); err != nil {
		t.Fatal(err)
	}

	// testClock: CreateRun 1 at +1ms, CreateRun 2 at +2ms, three Adds, FinishRun.
	at := func(n int) time.Time {
		return b.trunc(time.Date(2021, 3, 2, 12, 0, 0, 0, time.UTC).Add(time.Duration(n) * (time.Millisecond + 7)))
	}
	want := []Run{
		{ID: id2, StartedAt: at(2), Status: StatusRunning, Args: json.RawMessage(`{"stdin":true}`), TargetsTotal: 3},
		{ID: id1, StartedAt: at(1), FinishedAt: at(6), Status: StatusDone,
			Args: json.RawMessage(`{"targets":["10.0.0.0/24"],"ports":[443]}`), TargetsTotal: 256,
			Counts: json.RawMessage(`{"patched":1,"vulnerable":1,"undetermined":1}`), KBDate: "2026-01-15", Observations: 3},
	}
	got, err := s.ListRuns(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListRuns (-want +got):\n%s", diff)
	}
	got, err = s.ListRuns(ctx, 1)
	if err != nil || len(got) != 1 || got[0].ID != id2 {
		t.Errorf("ListRuns(1) = %+v, %v; want newest only", got, err)
	}
	one, err := s.GetRun(ctx, id1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[1], one); diff != "" {
		t.Errorf("GetRun (-want +got):\n%s", diff)
	}

	if err := s.ResumeRun(ctx, id1); err != nil {
		t.Fatal(err)
	}
	one, err = s.GetRun(ctx, id1)
	if err != nil || one.Status != StatusRunning || !one.FinishedAt.IsZero() {
		t.Errorf("after ResumeRun: %+v, %v", one, err)
	}
}

func TestRunErrors(t *testing.T) { forEachBackend(t, testRunErrors) }

func testRunErrors(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	id := mustRun(t, s)
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"GetRun missing", func() error { _, err := s.GetRun(ctx, 999); return err }(), ErrNotFound},
		{"FinishRun missing", s.FinishRun(ctx, 999, StatusDone, nil), ErrNotFound},
		{"ResumeRun missing", s.ResumeRun(ctx, 999), ErrNotFound},
		{"SetTargetsTotal missing", s.SetTargetsTotal(ctx, 999, 1), ErrNotFound},
		{"bad status", s.FinishRun(ctx, id, "running", nil), ErrInvalid},
		{"bad counts", s.FinishRun(ctx, id, StatusDone, json.RawMessage(`{`)), ErrInvalid},
		{"bad args", func() error { _, err := s.CreateRun(ctx, RunInfo{Args: json.RawMessage(`nope`)}); return err }(), ErrInvalid},
		{"unmarshalable args", func() error { _, err := s.CreateRun(ctx, RunInfo{Args: func() {}}); return err }(), ErrInvalid},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, tt.err, tt.want)
		}
	}
}

func TestTimeFormatSortsAsText(t *testing.T) {
	// Fixed width matters: with RFC3339Nano these two would sort wrongly.
	a := time.Date(2021, 3, 2, 12, 0, 5, 100_000_000, time.UTC)
	b := time.Date(2021, 3, 2, 12, 0, 5, 120_000_000, time.UTC)
	if fa, fb := formatTime(a), formatTime(b); !(fa < fb) {
		t.Errorf("%q !< %q", fa, fb)
	}
	loc := time.FixedZone("CET", 3600)
	in := time.Date(2021, 3, 2, 13, 0, 0, 5, loc)
	got, err := parseTime(formatTime(in))
	if err != nil || !got.Equal(in) || got.Location() != time.UTC {
		t.Errorf("round trip of %v = %v, %v", in, got, err)
	}
}

// TestConcurrentOpenOfNewFile: `exsweep scan` and `exsweep serve` started
// together on a fresh directory (or several machines on a new PostgreSQL
// database) all try to create the schema.
func TestConcurrentOpenOfNewFile(t *testing.T) { forEachBackend(t, testConcurrentOpenOfNewFile) }

func testConcurrentOpenOfNewFile(t *testing.T, b backend) {
	ctx := context.Background()
	path := b.newDSN(t)
	const n = 4
	errs := make(chan error, n)
	for range n {
		go func() {
			s, err := Open(ctx, path)
			if err == nil {
				_, err = s.CreateRun(ctx, RunInfo{})
				err = errors.Join(err, s.Close())
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestOpenWhileAnotherWriterHoldsTheLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	a, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	tx, err := a.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// A short busy timeout in the URI wins over the default 10 s.
	b, err := Open(ctx, "file:"+path+"?_busy_timeout=50")
	if err == nil {
		b.Close()
		t.Fatal("Open succeeded while another connection held the write lock")
	}
	if !strings.Contains(err.Error(), "is another exsweep writing to this database?") {
		t.Errorf("Open = %v", err)
	}
}

func TestOpenErrorsPostgres(t *testing.T) {
	postgresBackend.require(t)
	ctx := context.Background()
	base := os.Getenv(pgEnv)

	foreign := postgresBackend.newDSN(t)
	fdb, err := sql.Open("pgx", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fdb.Exec(`CREATE TABLE contacts (name text)`); err != nil {
		t.Fatal(err)
	}
	fdb.Close()

	newer := postgresBackend.newDSN(t)
	s, err := Open(ctx, newer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (99, true)`); err != nil {
		t.Fatal(err)
	}
	s.Close()

	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	wrongPassword := *u
	wrongPassword.User = url.UserPassword(u.User.Username(), "hunter2")
	noDatabase := *u
	noDatabase.Path = "/exsweep_no_such_db"

	tests := []struct {
		name    string
		dsn     string
		wantErr error
		wantMsg string
	}{
		{"someone else's schema", foreign, ErrNotDatabase, "a PostgreSQL schema with 1 tables of another program"},
		{"newer schema", newer, ErrSchemaTooNew, "(schema version 99, this exsweep knows up to"},
		{"wrong password", wrongPassword.String(), ErrCannotOpen, "check the user and password"},
		{"no database", noDatabase.String(), ErrCannotOpen, "the database does not exist"},
		{"no schema", withSearchPath(t, base, "exsweep_no_such_schema"), ErrCannotOpen, "no schema to create tables in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(ctx, tt.dsn)
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded")
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Open = %v, want errors.Is %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Open = %q, want it to contain %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "hunter2") || (u.User != nil && strings.Contains(err.Error(), ":"+func() string { p, _ := u.User.Password(); return p }()+"@")) {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}
