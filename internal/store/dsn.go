package store

import (
	"fmt"
	"net/url"
	"strings"
)

// DefaultPath is where the store lives when --db is not given: a file in the
// working directory, so a scan and a later `exsweep serve` started in the same
// folder find the same data without configuration.
func DefaultPath() string { return "exsweep.db" }

// dialect names the SQL flavour behind a DSN.
type dialect string

const (
	dialectSQLite   dialect = "sqlite"
	dialectPostgres dialect = "postgres"
)

// target is a parsed --db value.
type target struct {
	dialect dialect
	// display is what error messages show: the path or DSN the user typed,
	// never a rewritten driver string full of pragmas.
	display string
	// base is the driver DSN without the connection settings this package
	// adds (for SQLite: a plain path, ":memory:" or a file: URI; for
	// PostgreSQL: the URL as given, handed to pgx unchanged).
	base string
	// memory is true for in-memory SQLite databases. Each connection to a
	// plain ":memory:" database is a separate, empty database, so such a
	// store must use exactly one connection for reads and writes alike.
	memory bool
}

// parseDSN accepts the forms documented on Open.
func parseDSN(dsn string) (target, error) {
	s := strings.TrimSpace(dsn)
	if s == "" {
		s = DefaultPath()
	}
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		// pgx parses the URL (host, sslmode, search_path, …) when
		// connecting; everything it accepts works here.
		return target{dialect: dialectPostgres, display: redact(s), base: s}, nil
	case strings.HasPrefix(lower, "sqlite://"):
		// sqlite:///abs/path.db and sqlite://rel.db both mean a path.
		s = s[len("sqlite://"):]
	case strings.HasPrefix(lower, "sqlite:"), strings.HasPrefix(lower, "sqlite3:"):
		s = s[strings.IndexByte(s, ':')+1:]
	}
	if s == "" {
		return target{}, fmt.Errorf("%w: %q has no database path", ErrBadDSN, dsn)
	}
	t := target{dialect: dialectSQLite, display: s, base: s}
	switch {
	case s == ":memory:":
		t.memory = true
	case strings.HasPrefix(s, "file:"):
		// A file: URI is passed to SQLite as is (the driver opens with
		// SQLITE_OPEN_URI), so mode=ro, cache=, vfs= and friends keep working.
		path, rawQuery, _ := strings.Cut(s[len("file:"):], "?")
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return target{}, fmt.Errorf("%w: %q: %v", ErrBadDSN, dsn, err)
		}
		t.memory = path == ":memory:" || q.Get("mode") == "memory"
	default:
		// The driver splits a plain path at the first '?', so a path that
		// contains one would silently name another file.
		if strings.ContainsAny(s, "?") {
			return target{}, fmt.Errorf("%w: path %q contains '?': write it as a file: URI with %%3F", ErrBadDSN, s)
		}
	}
	return t, nil
}

// sqliteConnSettings are applied by the driver on every new connection. They
// go into the DSN rather than a one-off db.Exec because busy_timeout,
// foreign_keys and synchronous are per-connection state, and database/sql may
// open a fresh connection at any time.
//
// synchronous=FULL rather than NORMAL: in WAL mode both survive kill -9 (a
// committed transaction is in the -wal file before COMMIT returns, and the OS
// keeps it after the process dies); NORMAL may lose the last commits on a power
// cut or a VM being reset, FULL does not. Because the scanner commits in
// batches (about 5 commits a second at the defaults), FULL costs one fsync
// per batch, which the benchmark shows is far below the scan's own rate, so we
// buy power-loss durability cheaply. Lone CreateRun/FinishRun calls also pay
// one fsync each, which is negligible.
var sqliteConnSettings = [][2]string{
	// Wait for another process's write lock instead of failing at once with
	// SQLITE_BUSY: two exsweep processes may share one file.
	{"_busy_timeout", "10000"},
	{"_foreign_keys", "1"},
	{"_synchronous", "FULL"},
}

// aliases of the keys above that the driver also understands; a user who set
// one of them in a file: URI keeps their value.
var sqliteKeyAliases = map[string]string{
	"_busy_timeout": "_timeout",
	"_foreign_keys": "_fk",
	"_synchronous":  "_sync",
	"_journal_mode": "_journal",
}

// writeDSN is the driver DSN for the single write connection.
func (t target) writeDSN() string {
	extra := append([][2]string{}, sqliteConnSettings...)
	if !t.memory {
		// WAL lets readers run while the writer commits, and a crash never
		// leaves a half-applied transaction visible. journal_mode is stored in
		// the file, so setting it on the write connection is enough.
		extra = append(extra, [2]string{"_journal_mode", "WAL"})
	}
	// BEGIN IMMEDIATE takes the write lock at the start of a transaction. With
	// the default DEFERRED, a transaction that reads first and then writes can
	// fail with SQLITE_BUSY on the lock upgrade, which busy_timeout does not
	// retry.
	extra = append(extra, [2]string{"_txlock", "immediate"})
	return t.withParams(extra)
}

// readDSN is the driver DSN for the read pool. query_only makes any write
// through it an error, so a bug cannot bypass the one-writer rule.
func (t target) readDSN() string {
	extra := append([][2]string{}, sqliteConnSettings...)
	extra = append(extra, [2]string{"_query_only", "1"})
	return t.withParams(extra)
}

// withParams appends driver parameters to the base DSN, keeping any value the
// user already gave for the same key (or its alias) in a file: URI.
func (t target) withParams(params [][2]string) string {
	base, rawQuery, _ := strings.Cut(t.base, "?")
	have, _ := url.ParseQuery(rawQuery) // validated in parseDSN
	var add []string
	for _, kv := range params {
		if have.Has(kv[0]) || have.Has(sqliteKeyAliases[kv[0]]) {
			continue
		}
		add = append(add, url.QueryEscape(kv[0])+"="+url.QueryEscape(kv[1]))
	}
	q := rawQuery
	if len(add) > 0 {
		if q != "" {
			q += "&"
		}
		q += strings.Join(add, "&")
	}
	if q == "" {
		return base
	}
	return base + "?" + q
}

// redact hides a password in a URL DSN so it can appear in error messages.
// A DSN that does not parse as a URL (a typo in the port) may still carry a
// password, so the user-info part is then masked by hand.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err == nil {
		if u.User == nil {
			return dsn
		}
		return u.Redacted()
	}
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return dsn
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return dsn
	}
	if user, _, hasPW := strings.Cut(rest[:at], ":"); hasPW {
		return scheme + "://" + user + ":xxxxx" + rest[at:]
	}
	return dsn
}
