package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/exsweep/exsweep/internal/hunt"
	"github.com/exsweep/exsweep/internal/scan"
	"github.com/exsweep/exsweep/internal/store"
)

// CurvePoint is one scan run on the remediation curve (JSON API shape).
type CurvePoint struct {
	RunID        int64     `json:"run_id"`
	Time         time.Time `json:"time"` // first observation of the run, else its start
	Status       string    `json:"status"`
	Observations int64     `json:"observations"`
	Exchange     int64     `json:"exchange"`
	Vulnerable   int64     `json:"vulnerable"`
	Patched      int64     `json:"patched"`
	Undetermined int64     `json:"undetermined"`
	Compromised  int64     `json:"compromised"`
	// PctPatched = patched / (patched + vulnerable) * 100; 0 when both are 0.
	PctPatched float64 `json:"pct_patched"`
}

// maxRuns bounds the curve and the scans list; a response team does not
// scan its constituency more than a few hundred times.
const maxRuns = 500

// curve reads the newest runs' counts: one row each for a finished run
// (the store keeps them), a count over an index for a running one.
func (s *Server) curve(ctx context.Context) ([]CurvePoint, error) {
	runs, err := s.st.RunCurves(ctx, maxRuns)
	if err != nil {
		return nil, err
	}
	out := make([]CurvePoint, len(runs))
	for i, r := range runs {
		p := CurvePoint{RunID: r.RunID, Time: r.FirstObserved, Status: r.Status, Observations: r.Observations,
			Exchange: r.Exchange, Vulnerable: r.Vulnerable, Patched: r.Patched, Undetermined: r.Undetermined,
			Compromised: r.Compromised}
		if p.Time.IsZero() {
			p.Time = r.StartedAt
		}
		if d := r.Patched + r.Vulnerable; d > 0 {
			p.PctPatched = float64(int64(1000*float64(r.Patched)/float64(d)+0.5)) / 10
		}
		out[i] = p
	}
	return out, nil
}

// caseQuery is the cases filter from a URL query (pages and API).
type caseQuery struct {
	State, Org, Problem string
	// MinSeverity: only cases at least this severe (vulnerable cases are
	// 100 + their CVEs, compromised ones 1000 + their CVEs).
	MinSeverity   int
	Page, PerPage int
}

var caseStates = []string{store.CaseOpen, store.CaseNotified, store.CasePersisting, store.CaseReopened, store.CaseRemediated, store.CaseAccepted}

// activeFilter is the "state" value for every case not closed.
const activeFilter = "active"

func (s *Server) parseCaseQuery(v url.Values) caseQuery {
	q := caseQuery{State: v.Get("state"), Org: v.Get("org"), Problem: v.Get("problem"), PerPage: s.opts.PageSize}
	q.Page, _ = strconv.Atoi(v.Get("page"))
	q.MinSeverity, _ = strconv.Atoi(v.Get("severity"))
	q.MinSeverity = max(q.MinSeverity, 0)
	q.Page = max(q.Page, 1)
	if n, err := strconv.Atoi(v.Get("per_page")); err == nil && n > 0 {
		q.PerPage = min(n, 500)
	}
	return q
}

// Values is q as a query string (links to other pages keep the filter).
func (q caseQuery) Values(page int) string {
	v := url.Values{}
	for k, val := range map[string]string{"state": q.State, "org": q.Org, "problem": q.Problem} {
		if val != "" {
			v.Set(k, val)
		}
	}
	if q.MinSeverity > 0 {
		v.Set("severity", strconv.Itoa(q.MinSeverity))
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	return v.Encode()
}

// listCases returns one page of cases and whether there is a next page
// (one row more is asked for, so no COUNT query is needed).
func (s *Server) listCases(ctx context.Context, q caseQuery) ([]store.Case, bool, error) {
	f := store.CaseFilter{OrgKey: q.Org, Problem: q.Problem, MinSeverity: q.MinSeverity, Limit: q.PerPage + 1, Offset: (q.Page - 1) * q.PerPage}
	switch q.State {
	case "":
	case activeFilter:
		f.States = []string{store.CaseOpen, store.CaseNotified, store.CasePersisting, store.CaseReopened}
	default:
		f.States = []string{q.State}
	}
	if q.Org == "-" {
		f.OrgKey, f.Unowned = "", true
	}
	cases, err := s.st.ListCases(ctx, f)
	if err != nil {
		return nil, false, err
	}
	if len(cases) > q.PerPage {
		return cases[:q.PerPage], true, nil
	}
	return cases, false, nil
}

// bulkActions maps a bulk action to the state it moves cases to.
var bulkActions = map[string]string{
	"notified": store.CaseNotified,
	"reopen":   store.CaseReopened,
	"accept":   store.CaseAccepted,
}

// bulk applies one action to many cases, all or nothing.
func (s *Server) bulk(ctx context.Context, action string, ids []int64, reason, actor string) error {
	to, ok := bulkActions[action]
	if !ok {
		return fmt.Errorf("%w: unknown action %q", store.ErrInvalid, action)
	}
	if len(ids) == 0 {
		return fmt.Errorf("%w: no case selected", store.ErrInvalid)
	}
	if len(ids) > 1000 {
		return fmt.Errorf("%w: at most 1000 cases at once", store.ErrInvalid)
	}
	if reason == "" {
		reason = map[string]string{"notified": "marked notified on the dashboard", "reopen": "reopened on the dashboard"}[action]
	}
	ts := make([]store.CaseTransition, len(ids))
	for i, id := range ids {
		ts[i] = store.CaseTransition{CaseID: id, To: to, Reason: reason, Actor: actor}
	}
	return s.st.TransitionCases(ctx, ts)
}

// statusOf maps store errors to HTTP statuses.
func statusOf(err error) int {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrTransition):
		return http.StatusConflict
	case errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// EndpointObservation is one observation with its parsed scan record.
type EndpointObservation struct {
	ID         int64        `json:"id"`
	RunID      int64        `json:"run_id"`
	ObservedAt time.Time    `json:"observed_at"`
	Verdict    string       `json:"verdict"`
	Build      string       `json:"build"`
	Record     *scan.Record `json:"record,omitempty"`
	// RecordError says why the stored record could not be read.
	RecordError string `json:"record_error,omitempty"`
}

// maxEndpointObservations: one per run is the normal case.
const maxEndpointObservations = 200

// endpointView is everything the dashboard knows of one endpoint.
type endpointView struct {
	Endpoint     netip.AddrPort
	Observations []EndpointObservation
	Cases        []store.Case
	Hunts        []EndpointHunt
}

// EndpointHunt is a hunt report imported for the endpoint, parsed for the
// page (the API sends the stored report as it is).
type EndpointHunt struct {
	store.HuntReport
	Parsed      *hunt.Report `json:"-"`
	ReportError string       `json:"-"`
	// Findings and Timeline are the first of the report's, for the page;
	// MoreFindings and MoreEvents count the rest.
	Findings                 []hunt.Finding `json:"-"`
	Timeline                 []hunt.Event   `json:"-"`
	MoreFindings, MoreEvents int            `json:"-"`
}

// Bounds of one hunt report on the endpoint page; the API and the report
// itself have everything.
const (
	maxHuntReports      = 20
	maxPageHuntFindings = 200
	maxPageHuntEvents   = 500
)

func (s *Server) endpoint(ctx context.Context, raw string) (endpointView, error) {
	ep, err := netip.ParseAddrPort(raw)
	if err != nil {
		return endpointView{}, fmt.Errorf("%w: endpoint %q (want ip:port or [v6]:port)", store.ErrInvalid, raw)
	}
	v := endpointView{Endpoint: ep}
	obs, err := s.st.EndpointObservations(ctx, ep, maxEndpointObservations)
	if err != nil {
		return v, err
	}
	v.Observations = make([]EndpointObservation, len(obs))
	for i, o := range obs {
		e := EndpointObservation{ID: o.ID, RunID: o.RunID, ObservedAt: o.ObservedAt, Verdict: o.Verdict, Build: o.Build}
		if len(o.Record) > 0 {
			var rec scan.Record
			if err := json.Unmarshal(o.Record, &rec); err != nil {
				e.RecordError = "stored record is not a scan record"
			} else {
				e.Record = &rec
			}
		}
		v.Observations[i] = e
	}
	if v.Cases, err = s.st.ListCases(ctx, store.CaseFilter{Endpoint: ep, Limit: 100}); err != nil {
		return v, err
	}
	reps, err := s.st.HuntReports(ctx, ep, maxHuntReports)
	if err != nil {
		return v, err
	}
	for _, r := range reps {
		h := EndpointHunt{HuntReport: r}
		var rep hunt.Report
		if err := json.Unmarshal(r.Report, &rep); err != nil {
			h.ReportError = "stored report is not an exsweep hunt report"
		} else {
			h.Parsed = &rep
			h.Findings = rep.Findings[:min(len(rep.Findings), maxPageHuntFindings)]
			h.Timeline = rep.Timeline[:min(len(rep.Timeline), maxPageHuntEvents)]
			h.MoreFindings, h.MoreEvents = len(rep.Findings)-len(h.Findings), len(rep.Timeline)-len(h.Timeline)
		}
		v.Hunts = append(v.Hunts, h)
	}
	return v, nil
}

// parseIDs reads case ids from form values.
func parseIDs(vals []string) ([]int64, error) {
	var ids []int64
	for _, v := range vals {
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
			id, err := strconv.ParseInt(f, 10, 64)
			if err != nil || id <= 0 {
				return nil, fmt.Errorf("%w: case id %q", store.ErrInvalid, f)
			}
			ids = append(ids, id)
		}
	}
	return ids, nil
}
