package store

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"
	"unicode/utf8"
)

// HuntReport is an exsweep hunt report imported for an endpoint.
type HuntReport struct {
	ID         int64           `json:"id"`
	Endpoint   netip.AddrPort  `json:"endpoint"`
	ImportedAt time.Time       `json:"imported_at"`
	Verdict    string          `json:"verdict"`
	Summary    string          `json:"summary"`
	Source     string          `json:"source,omitempty"`
	Report     json.RawMessage `json:"report"` // as exsweep hunt --format json wrote it
}

// MaxHuntReportBytes caps a stored report: a hunt over years of logs can
// list many findings, but a report is evidence to read, not a log archive.
const MaxHuntReportBytes = 16 << 20

// AddHuntReport stores a hunt report for its endpoint and returns its id.
// The report must be valid JSON of at most MaxHuntReportBytes (ErrInvalid).
func (s *Store) AddHuntReport(ctx context.Context, r HuntReport) (int64, error) {
	if !r.Endpoint.Addr().IsValid() {
		return 0, fmt.Errorf("%w: hunt report without an endpoint", ErrInvalid)
	}
	if len(r.Report) > MaxHuntReportBytes {
		return 0, fmt.Errorf("%w: hunt report is %d bytes (max %d)", ErrInvalid, len(r.Report), MaxHuntReportBytes)
	}
	if !json.Valid(r.Report) || !utf8.Valid(r.Report) {
		return 0, fmt.Errorf("%w: hunt report is not valid JSON", ErrInvalid)
	}
	var id int64
	err := s.w.QueryRowContext(ctx, s.q(`
		INSERT INTO hunt_reports (ip, port, imported_at, verdict, summary, source, report)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		r.Endpoint.Addr().Unmap().String(), int64(r.Endpoint.Port()), s.tv(s.now()),
		clean(r.Verdict, MaxFieldBytes), clean(r.Summary, MaxErrorBytes), clean(r.Source, MaxFieldBytes), string(r.Report)).Scan(&id)
	if err != nil {
		return 0, s.explain(fmt.Errorf("storing hunt report: %w", err))
	}
	return id, nil
}

// HuntReports returns up to limit reports of one endpoint (limit <= 0:
// all), newest first.
func (s *Store) HuntReports(ctx context.Context, ep netip.AddrPort, limit int) ([]HuntReport, error) {
	query, args := s.pageClause(`
		SELECT id, ip, port, imported_at, verdict, summary, source, CAST(report AS TEXT)
		FROM hunt_reports WHERE ip = ? AND port = ? ORDER BY id DESC`,
		[]any{ep.Addr().Unmap().String(), int64(ep.Port())}, limit, 0)
	return queryAll(ctx, s, fmt.Sprintf("reading hunt reports of %s", ep), func(row rowScanner) (HuntReport, error) {
		var (
			r        HuntReport
			ip       string
			port     int64
			imported dbTime
			report   string
		)
		if err := row.Scan(&r.ID, &ip, &port, &imported, &r.Verdict, &r.Summary, &r.Source, &report); err != nil {
			return r, err
		}
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			return r, fmt.Errorf("hunt report %d: stored ip: %w", r.ID, err)
		}
		r.Endpoint, r.ImportedAt, r.Report = netip.AddrPortFrom(addr, uint16(port)), imported.T, json.RawMessage(report)
		return r, nil
	}, query, args...)
}
