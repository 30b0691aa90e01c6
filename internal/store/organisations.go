package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Organisation is a recipient of notifications: an entry of the
// constituency file, or an owner found by lookup.
type Organisation struct {
	ID int64 `json:"id"` // set by the store
	// Key is the organisation's stable name (in the constituency file); it
	// is what upserts match on and what the rest of the API takes.
	Key      string   `json:"key"`
	Name     string   `json:"name"`
	To       []string `json:"to"` // e-mail addresses
	CC       []string `json:"cc,omitempty"`
	Language string   `json:"language,omitempty"` // e.g. "en", "de"; "" for the default template
	// CreatedAt and UpdatedAt are set by the store. UpdatedAt only moves
	// when an upsert changed something, so re-importing the same
	// constituency file every day leaves it alone.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Caps for organisation fields (they come from files and lookups).
const (
	maxEmails   = 100
	maxLanguage = 35 // longest BCP 47 tag anyone uses, with room
)

type orgRow struct {
	key, name, to, cc, lang string
}

func toOrgRow(o Organisation) (orgRow, error) {
	r := orgRow{
		key:  clean(o.Key, MaxFieldBytes),
		name: clean(o.Name, MaxFieldBytes),
		lang: clean(o.Language, maxLanguage),
	}
	if r.key == "" {
		return orgRow{}, fmt.Errorf("%w: organisation without a key (name %q)", ErrInvalid, r.name)
	}
	var err error
	if r.to, err = emailsJSON(o.To); err != nil {
		return orgRow{}, fmt.Errorf("organisation %q: %w", r.key, err)
	}
	if r.cc, err = emailsJSON(o.CC); err != nil {
		return orgRow{}, fmt.Errorf("organisation %q: %w", r.key, err)
	}
	return r, nil
}

// emailsJSON stores a list of addresses as a JSON array (never null).
// Addresses are cleaned and capped, not validated: that is the sender's
// job, and a bad address must not stop an import.
func emailsJSON(list []string) (string, error) {
	if len(list) > maxEmails {
		return "", fmt.Errorf("%w: %d addresses (max %d)", ErrInvalid, len(list), maxEmails)
	}
	return stringsJSON(list, MaxFieldBytes)
}

// stringsJSON encodes a list of cleaned strings as a JSON array, "[]" for
// none, so the column never holds null.
func stringsJSON(list []string, maxLen int) (string, error) {
	out := make([]string, 0, len(list))
	for _, v := range list {
		if v = clean(v, maxLen); v != "" {
			out = append(out, v)
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return string(b), nil
}

func parseStrings(s string) ([]string, error) {
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("stored list %q: %w", s, err)
	}
	return out, nil
}

// UpsertOrganisation creates the organisation with o.Key or updates its
// name, addresses and language, and returns it as stored.
func (s *Store) UpsertOrganisation(ctx context.Context, o Organisation) (Organisation, error) {
	if err := s.UpsertOrganisations(ctx, []Organisation{o}); err != nil {
		return Organisation{}, err
	}
	return s.GetOrganisation(ctx, clean(o.Key, MaxFieldBytes))
}

// orgChunk rows per multi-row statement: 7 columns, far below both
// backends' placeholder limits.
const orgChunk = 500

// UpsertOrganisations upserts a whole constituency in one transaction
// (all or nothing). A key given twice takes its last values.
func (s *Store) UpsertOrganisations(ctx context.Context, orgs []Organisation) error {
	rows := make([]orgRow, 0, len(orgs))
	pos := make(map[string]int, len(orgs))
	for _, o := range orgs {
		r, err := toOrgRow(o)
		if err != nil {
			return err
		}
		// A statement must not update one row twice (PostgreSQL refuses),
		// so collapse repeated keys here, last one wins.
		if i, ok := pos[r.key]; ok {
			rows[i] = r
			continue
		}
		pos[r.key] = len(rows)
		rows = append(rows, r)
	}
	now := s.tv(s.now())
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(rows); start += orgChunk {
			chunk := rows[start:min(start+orgChunk, len(rows))]
			args := make([]any, 0, len(chunk)*7)
			for _, r := range chunk {
				args = append(args, r.key, r.name, r.to, r.cc, r.lang, now, now)
			}
			// JSON columns are compared as text: PostgreSQL's json type has
			// no equality operator.
			_, err := tx.ExecContext(ctx, s.q(`
				INSERT INTO organisations (key, name, emails_to, emails_cc, language, created_at, updated_at)
				VALUES `+placeholders(len(chunk), 7)+`
				ON CONFLICT (key) DO UPDATE SET
					name = excluded.name, emails_to = excluded.emails_to, emails_cc = excluded.emails_cc,
					language = excluded.language, updated_at = excluded.updated_at
				WHERE organisations.name <> excluded.name
					OR CAST(organisations.emails_to AS TEXT) <> CAST(excluded.emails_to AS TEXT)
					OR CAST(organisations.emails_cc AS TEXT) <> CAST(excluded.emails_cc AS TEXT)
					OR organisations.language <> excluded.language`), args...)
			if err != nil {
				return fmt.Errorf("upserting organisations: %w", err)
			}
		}
		return nil
	})
}

const orgColumns = `id, key, name, emails_to, emails_cc, language, created_at, updated_at`

func scanOrg(row rowScanner) (Organisation, error) {
	var (
		o                    Organisation
		to, cc               string
		created, updatedTime dbTime
	)
	if err := row.Scan(&o.ID, &o.Key, &o.Name, &to, &cc, &o.Language, &created, &updatedTime); err != nil {
		return Organisation{}, err
	}
	var err error
	if o.To, err = parseStrings(to); err != nil {
		return Organisation{}, err
	}
	if o.CC, err = parseStrings(cc); err != nil {
		return Organisation{}, err
	}
	o.CreatedAt, o.UpdatedAt = created.T, updatedTime.T
	return o, nil
}

// GetOrganisation returns the organisation with key; ErrNotFound if none.
func (s *Store) GetOrganisation(ctx context.Context, key string) (Organisation, error) {
	o, err := scanOrg(s.r.QueryRowContext(ctx, s.q(`SELECT `+orgColumns+` FROM organisations WHERE key = ?`), key))
	if errors.Is(err, sql.ErrNoRows) {
		return Organisation{}, fmt.Errorf("organisation %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return Organisation{}, s.explain(fmt.Errorf("reading organisation %q: %w", key, err))
	}
	return o, nil
}

// Organisations returns every organisation, ordered by key.
func (s *Store) Organisations(ctx context.Context) ([]Organisation, error) {
	return queryAll(ctx, s, "listing organisations", scanOrg, `SELECT `+orgColumns+` FROM organisations ORDER BY key`)
}

// orgIDs maps organisation keys to ids inside tx; a key that does not
// exist is an error (organisations are upserted before their cases).
func (s *Store) orgIDs(ctx context.Context, tx *sql.Tx, keys []string, into map[string]int64) error {
	var missing []string
	for _, k := range keys {
		if _, ok := into[k]; !ok && k != "" {
			missing = append(missing, k)
		}
	}
	for start := 0; start < len(missing); start += orgChunk {
		chunk := missing[start:min(start+orgChunk, len(missing))]
		args := make([]any, len(chunk))
		for i, k := range chunk {
			args[i] = k
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT id, key FROM organisations WHERE key IN `+inList(len(chunk))), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			var k string
			if err := rows.Scan(&id, &k); err != nil {
				rows.Close()
				return err
			}
			into[k] = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	for _, k := range missing {
		if _, ok := into[k]; !ok {
			return fmt.Errorf("organisation %q: %w (upsert organisations before their cases)", k, ErrNotFound)
		}
	}
	return nil
}

// inTx runs f in a write transaction and commits it. On PostgreSQL a
// transaction aborted to break a deadlock or a serialization conflict with
// another writer is run again (f must not have effects outside tx).
func (s *Store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.inTxOnce(ctx, f)
		if err == nil || !retryable(err) || attempt == maxAttempts || ctx.Err() != nil {
			return err
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

func (s *Store) inTxOnce(ctx context.Context, f func(tx *sql.Tx) error) (err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.explain(err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if err = f(tx); err != nil {
		// Sentinel-carrying errors (ErrNotFound, ErrTransition, …) are the
		// caller's; only driver errors need explaining.
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrTransition) {
			return err
		}
		return s.explain(err)
	}
	if err = tx.Commit(); err != nil {
		return s.explain(err)
	}
	return nil
}
