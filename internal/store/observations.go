package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Observation is what the scanner learned about one endpoint in one run. The
// fields mirror the observations table; Record is the full JSON line the
// scanner printed, so nothing the columns leave out is lost.
type Observation struct {
	ID       int64 // set by the store
	RunID    int64 // set by the store (ObservationWriter's run)
	Target   string
	IP       netip.Addr // zero when the target did not resolve
	Port     uint16
	Hostname string
	Exchange bool
	Product  string
	Build    string
	// BuildExact: a 4-part build was seen (not just the CU).
	BuildExact bool
	CU         string
	Update     string // column update_name: UPDATE is an SQL keyword
	Verdict    string
	Error      string
	Record     json.RawMessage // nil stores NULL
	ObservedAt time.Time       // zero means "when Add was called"
}

// Size caps for what gets stored. Every string comes from a remote server or
// a target file and is hostile; the caps keep one bad endpoint from bloating
// the database. Short fields are truncated (they are for display and
// filtering; the full value, if any, is in Record); a Record over the cap is
// rejected, because a truncated JSON document is not JSON.
const (
	MaxFieldBytes  = 1 << 10 // target, hostname, product, build, cu, update, verdict
	MaxErrorBytes  = 4 << 10
	MaxRecordBytes = 1 << 20
)

// obsRow is an Observation validated and converted to column values. The
// writer buffers these, so a bad observation is refused by Add, not later by
// a batch commit that would take the good rows down with it.
type obsRow struct {
	target, hostname, product, build, cu, update, verdict, errText string
	ip                                                             sql.NullString
	port                                                           int64
	exchange, buildExact                                           bool
	record                                                         sql.NullString
	observedAt                                                     time.Time
	// compromised: the record lists at least one web shell.
	compromised bool
}

// webshellMarker finds a record with at least one web shell. Records are
// written by encoding/json (no space after ':' or '['), and the scanner
// lists only the shells it found, so a non-empty list starts with "[{".
// Migration 00006 sets the column of older rows with the same text.
var webshellMarker = []byte(`"webshells":[{`)

func toRow(o Observation, now time.Time) (obsRow, error) {
	r := obsRow{
		target:     clean(o.Target, MaxFieldBytes),
		hostname:   clean(o.Hostname, MaxFieldBytes),
		product:    clean(o.Product, MaxFieldBytes),
		build:      clean(o.Build, MaxFieldBytes),
		cu:         clean(o.CU, MaxFieldBytes),
		update:     clean(o.Update, MaxFieldBytes),
		verdict:    clean(o.Verdict, MaxFieldBytes),
		errText:    clean(o.Error, MaxErrorBytes),
		port:       int64(o.Port),
		exchange:   o.Exchange,
		buildExact: o.BuildExact,
	}
	if o.IP.IsValid() {
		r.ip = sql.NullString{String: o.IP.Unmap().String(), Valid: true}
	} else if r.target == "" {
		return obsRow{}, fmt.Errorf("%w: observation has neither an IP nor a target", ErrInvalid)
	}
	if o.Record != nil {
		if len(o.Record) > MaxRecordBytes {
			return obsRow{}, fmt.Errorf("%w: record of %s:%d is %d bytes (max %d)", ErrInvalid, r.ip.String, o.Port, len(o.Record), MaxRecordBytes)
		}
		// Both checks keep the column readable as text: json.Valid alone
		// lets invalid UTF-8 through, which PostgreSQL would refuse later.
		if !json.Valid(o.Record) || !utf8.Valid(o.Record) {
			return obsRow{}, fmt.Errorf("%w: record of %s:%d is not valid JSON", ErrInvalid, r.ip.String, o.Port)
		}
		r.record = sql.NullString{String: string(o.Record), Valid: true}
		r.compromised = bytes.Contains(o.Record, webshellMarker)
	}
	if o.ObservedAt.IsZero() {
		r.observedAt = now
	} else {
		r.observedAt = o.ObservedAt
	}
	return r, nil
}

// clean makes s storable as TEXT anywhere: valid UTF-8, no NUL (PostgreSQL
// rejects both), at most max bytes, cut on a rune boundary.
func clean(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// ObservationFilter selects observations of one run.
type ObservationFilter struct {
	Verdict string // "" for every verdict
	Limit   int    // <= 0 for no limit
	Offset  int
}

const observationColumns = `id, run_id, target, ip, port, hostname, exchange, product, build,
	build_exact, cu, update_name, verdict, error, record, observed_at`

// Observations returns the observations of a run in the order they were
// first stored (a replaced row keeps its place), which makes Limit/Offset
// paging stable while the run is still being written.
func (s *Store) Observations(ctx context.Context, runID int64, f ObservationFilter) ([]Observation, error) {
	query := `SELECT ` + observationColumns + ` FROM observations WHERE run_id = ?`
	args := []any{runID}
	if f.Verdict != "" {
		query += ` AND verdict = ?`
		args = append(args, f.Verdict)
	}
	query, args = s.pageClause(query+` ORDER BY id`, args, f.Limit, f.Offset)
	rows, err := s.r.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, s.explain(fmt.Errorf("reading observations of run %d: %w", runID, err))
	}
	defer rows.Close()
	out, err := s.scanObservations(rows)
	if err != nil {
		return nil, s.explain(fmt.Errorf("reading observations of run %d: %w", runID, err))
	}
	return out, nil
}

// scanObservations reads rows of observationColumns.
func (s *Store) scanObservations(rows *sql.Rows) ([]Observation, error) {
	var out []Observation
	for rows.Next() {
		var (
			o          Observation
			ip, record sql.NullString
			port       int64
			observedAt dbTime
		)
		if err := rows.Scan(&o.ID, &o.RunID, &o.Target, &ip, &port, &o.Hostname, &o.Exchange,
			&o.Product, &o.Build, &o.BuildExact, &o.CU, &o.Update, &o.Verdict, &o.Error,
			&record, &observedAt); err != nil {
			return nil, err
		}
		if ip.Valid {
			var err error
			if o.IP, err = netip.ParseAddr(ip.String); err != nil {
				return nil, fmt.Errorf("observation %d: stored ip: %w", o.ID, err)
			}
		}
		o.Port = uint16(port)
		if record.Valid {
			o.Record = json.RawMessage(record.String)
		}
		o.ObservedAt = observedAt.T
		out = append(out, o)
	}
	return out, rows.Err()
}

// CountByVerdict returns the number of observations of a run per verdict
// (an observation without a verdict counts under "").
func (s *Store) CountByVerdict(ctx context.Context, runID int64) (map[string]int64, error) {
	rows, err := s.r.QueryContext(ctx,
		s.q(`SELECT verdict, COUNT(*) FROM observations WHERE run_id = ? GROUP BY verdict`), runID)
	if err != nil {
		return nil, s.explain(fmt.Errorf("counting observations of run %d: %w", runID, err))
	}
	defer rows.Close()
	counts := map[string]int64{}
	for rows.Next() {
		var v string
		var n int64
		if err := rows.Scan(&v, &n); err != nil {
			return nil, s.explain(err)
		}
		counts[v] = n
	}
	if err := rows.Err(); err != nil {
		return nil, s.explain(fmt.Errorf("counting observations of run %d: %w", runID, err))
	}
	return counts, nil
}

// EndpointSet is the set of endpoints a run already has observations for.
// A resumed scan asks Has for each endpoint and skips the ones it finds.
//
// Memory: IPv4 endpoints (the bulk of any scan) are packed into a sorted
// []uint64 (address<<16 | port), 8 bytes each, so a 1,000,000-endpoint run
// costs about 8 MB and Has is a binary search (~20 comparisons). IPv6
// endpoints sit in a map[netip.AddrPort]struct{}, roughly 50 bytes each.
// The set is a snapshot: rows stored after DoneEndpoints returned are not
// in it. It is safe for concurrent reads.
type EndpointSet struct {
	v4 []uint64
	v6 map[netip.AddrPort]struct{}
}

func v4Key(a netip.Addr, port uint16) uint64 {
	b := a.As4()
	return uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 | uint64(b[3])<<16 | uint64(port)
}

// Has reports whether the run has an observation for ip:port. IPv4-mapped
// IPv6 addresses match their IPv4 form, as the store keeps them unmapped.
func (e *EndpointSet) Has(ip netip.Addr, port uint16) bool {
	ip = ip.Unmap()
	if ip.Is4() {
		_, ok := slices.BinarySearch(e.v4, v4Key(ip, port))
		return ok
	}
	_, ok := e.v6[netip.AddrPortFrom(ip, port)]
	return ok
}

// Len is the number of endpoints in the set.
func (e *EndpointSet) Len() int { return len(e.v4) + len(e.v6) }

// All yields every endpoint: IPv4 in address/port order, then IPv6 sorted.
func (e *EndpointSet) All() iter.Seq[netip.AddrPort] {
	return func(yield func(netip.AddrPort) bool) {
		for _, k := range e.v4 {
			a := netip.AddrFrom4([4]byte{byte(k >> 40), byte(k >> 32), byte(k >> 24), byte(k >> 16)})
			if !yield(netip.AddrPortFrom(a, uint16(k))) {
				return
			}
		}
		v6 := slices.SortedFunc(maps.Keys(e.v6), func(a, b netip.AddrPort) int { return a.Compare(b) })
		for _, ap := range v6 {
			if !yield(ap) {
				return
			}
		}
	}
}

// DoneEndpoints returns the endpoints that run runID has an observation for,
// whatever the verdict or error: committed means done. Observations without
// an IP (targets that did not resolve) are not endpoints and are not
// included; a resumed scan resolves those targets again.
func (s *Store) DoneEndpoints(ctx context.Context, runID int64) (*EndpointSet, error) {
	// Size the slice up front: growing it by append would briefly need
	// about twice the final memory for a million endpoints. The count is only
	// a hint, rows may be added between the two queries.
	var hint int64
	err := s.r.QueryRowContext(ctx,
		s.q(`SELECT COUNT(*) FROM observations WHERE run_id = ? AND ip IS NOT NULL`), runID).Scan(&hint)
	if err != nil {
		return nil, s.explain(fmt.Errorf("counting endpoints of run %d: %w", runID, err))
	}
	// The (run_id, ip, port) unique index covers this query: no table rows
	// are read.
	rows, err := s.r.QueryContext(ctx,
		s.q(`SELECT ip, port FROM observations WHERE run_id = ? AND ip IS NOT NULL`), runID)
	if err != nil {
		return nil, s.explain(fmt.Errorf("reading endpoints of run %d: %w", runID, err))
	}
	defer rows.Close()
	set := &EndpointSet{v4: make([]uint64, 0, hint)}
	for rows.Next() {
		var ipText string
		var port int64
		if err := rows.Scan(&ipText, &port); err != nil {
			return nil, s.explain(err)
		}
		ip, err := netip.ParseAddr(ipText)
		if err != nil {
			return nil, fmt.Errorf("run %d: stored ip %q: %w", runID, ipText, err)
		}
		if ip.Is4() {
			set.v4 = append(set.v4, v4Key(ip, uint16(port)))
			continue
		}
		if set.v6 == nil {
			set.v6 = map[netip.AddrPort]struct{}{}
		}
		set.v6[netip.AddrPortFrom(ip, uint16(port))] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return nil, s.explain(fmt.Errorf("reading endpoints of run %d: %w", runID, err))
	}
	// The index returns rows in text order ("10.0.0.10" before "10.0.0.9"),
	// not numeric order, and Has needs numeric order.
	slices.Sort(set.v4)
	return set, nil
}
