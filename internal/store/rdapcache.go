package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// RDAPCacheGet returns the unexpired cached contact (as the JSON the owners
// package stored) of the most specific prefix that contains addr, looking at
// every prefix length from the address itself down to /8 (IPv6: /16).
func (s *Store) RDAPCacheGet(ctx context.Context, addr netip.Addr, now time.Time) (prefix string, contact []byte, ok bool, err error) {
	addr = addr.Unmap()
	low := 8
	if addr.Is6() {
		low = 16
	}
	var cands []any
	for bits := addr.BitLen(); bits >= low; bits-- {
		p, err := addr.Prefix(bits)
		if err != nil {
			return "", nil, false, err
		}
		cands = append(cands, p.String())
	}
	query := `SELECT prefix, contact FROM rdap_cache WHERE expires_at > ? AND prefix IN ` + inList(len(cands))
	rows, err := s.r.QueryContext(ctx, s.q(query), append([]any{now.Unix()}, cands...)...)
	if err != nil {
		return "", nil, false, s.explain(fmt.Errorf("reading the RDAP cache: %w", err))
	}
	defer rows.Close()
	bestBits := -1
	for rows.Next() {
		var p, c string
		if err := rows.Scan(&p, &c); err != nil {
			return "", nil, false, err
		}
		pp, err := netip.ParsePrefix(p)
		if err != nil {
			continue
		}
		if pp.Bits() > bestBits {
			bestBits, prefix, contact = pp.Bits(), p, []byte(c)
		}
	}
	if err := rows.Err(); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", nil, false, err
	}
	return prefix, contact, bestBits >= 0, nil
}

// RDAPCachePut stores a contact for a prefix until expires, replacing an entry
// for the same prefix.
func (s *Store) RDAPCachePut(ctx context.Context, prefix netip.Prefix, contact []byte, fetched, expires time.Time) error {
	if len(contact) > MaxRecordBytes {
		return fmt.Errorf("%w: RDAP contact of %d bytes", ErrInvalid, len(contact))
	}
	_, err := s.w.ExecContext(ctx, s.q(`INSERT INTO rdap_cache (prefix, contact, fetched_at, expires_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (prefix) DO UPDATE SET contact = excluded.contact, fetched_at = excluded.fetched_at, expires_at = excluded.expires_at`),
		prefix.Masked().String(), string(contact), fetched.Unix(), expires.Unix())
	if err != nil {
		return s.explain(fmt.Errorf("writing the RDAP cache: %w", err))
	}
	return nil
}
