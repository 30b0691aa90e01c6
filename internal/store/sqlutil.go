package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The package writes every query once, in the common subset of SQLite and
// PostgreSQL, with "?" placeholders; the helpers here cover the few places
// where the two differ (placeholders, time values, row locking, LIMIT).

// q returns query ready for this store's driver: unchanged for SQLite,
// with "?" rebound to "$1", "$2", … for PostgreSQL.
func (s *Store) q(query string) string {
	if s.dialect == dialectPostgres {
		return rebind(query)
	}
	return query
}

// rebind numbers the "?" placeholders of query as PostgreSQL wants them.
// Question marks inside string literals, quoted identifiers and "--"
// comments are left alone, so a literal '?' in a query cannot shift the
// numbering. (sqlx does the same; this is the twenty lines we need of it.)
func rebind(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		switch c := query[i]; c {
		case '\'', '"':
			// Copy through the closing quote; a doubled quote inside just
			// ends one quoted run and starts the next.
			end := strings.IndexByte(query[i+1:], c)
			if end < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+end+2])
			i += end + 1
		case '-':
			if i+1 < len(query) && query[i+1] == '-' {
				end := strings.IndexByte(query[i:], '\n')
				if end < 0 {
					b.WriteString(query[i:])
					return b.String()
				}
				b.WriteString(query[i : i+end+1])
				i += end
				continue
			}
			b.WriteByte(c)
		case '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// placeholders returns "(?, ?, …)" groups for a multi-row VALUES list:
// rows groups of cols placeholders each, separated by commas.
func placeholders(rows, cols int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
}

// tv is the value to bind for a time column. SQLite columns are TEXT in
// the fixed-width format of formatTime; PostgreSQL columns are timestamptz,
// which keeps microseconds: the time is truncated here, so what a caller
// reads back is predictable (pgx would truncate the same way).
func (s *Store) tv(t time.Time) any {
	if s.dialect == dialectPostgres {
		return t.UTC().Truncate(time.Microsecond)
	}
	return formatTime(t)
}

// ntv is tv with the zero time stored as NULL.
func (s *Store) ntv(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return s.tv(t)
}

// dbTime scans a time column of either dialect: TEXT from SQLite,
// time.Time from PostgreSQL's timestamptz. NULL scans as the zero time.
type dbTime struct{ T time.Time }

func (d *dbTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		d.T = time.Time{}
	case time.Time:
		d.T = v.UTC()
	case string:
		t, err := parseTime(v)
		if err != nil {
			return err
		}
		d.T = t
	case []byte:
		t, err := parseTime(string(v))
		if err != nil {
			return err
		}
		d.T = t
	default:
		return fmt.Errorf("stored time has type %T", src)
	}
	return nil
}

// forUpdate locks the rows a SELECT returns until the transaction ends.
// SQLite has no row locks and needs none: every write transaction here
// starts with BEGIN IMMEDIATE, which already excludes all other writers.
func (s *Store) forUpdate() string {
	if s.dialect == dialectPostgres {
		return " FOR UPDATE"
	}
	return ""
}

// noLimit is what goes before an OFFSET when there is no LIMIT: SQLite
// requires a LIMIT there (-1 means none) and PostgreSQL rejects -1.
func (s *Store) noLimit() string {
	if s.dialect == dialectPostgres {
		return " LIMIT ALL"
	}
	return " LIMIT -1"
}

// pageClause appends LIMIT/OFFSET for limit <= 0 meaning "no limit".
func (s *Store) pageClause(query string, args []any, limit, offset int) (string, []any) {
	switch {
	case limit > 0:
		query += ` LIMIT ?`
		args = append(args, limit)
	case offset > 0:
		query += s.noLimit()
	}
	if offset > 0 {
		query += ` OFFSET ?`
		args = append(args, offset)
	}
	return query, args
}

// inList returns "(?, ?, …)" with n placeholders, for "x IN (…)".
func inList(n int) string {
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

// queryAll runs query on the read pool and scans every row with scan. what
// names the read in errors ("listing cases"), so every list reads its rows
// one way: explained errors, rows closed, rows.Err checked.
func queryAll[T any](ctx context.Context, s *Store, what string, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.r.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, s.explain(fmt.Errorf("%s: %w", what, err))
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, s.explain(fmt.Errorf("%s: %w", what, err))
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, s.explain(fmt.Errorf("%s: %w", what, err))
	}
	return out, nil
}
