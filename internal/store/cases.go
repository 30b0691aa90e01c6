package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Problems a case can be about.
const (
	// ProblemCompromised: signs of compromise (a web shell) were seen.
	ProblemCompromised = "compromised"
	// ProblemVulnerable: the endpoint runs a build with unpatched CVEs.
	ProblemVulnerable = "vulnerable"
)

// Case states. A case starts open; notify moves it to notified when its
// message is sent (MarkSent); a rescan moves it to remediated (fixed) or
// persisting (still there after a notification). A remediated case whose
// problem is seen again is reopened. accepted closes a case as an accepted
// risk, with a reason, on a human's word.
const (
	CaseOpen       = "open"
	CaseNotified   = "notified"
	CasePersisting = "persisting"
	CaseReopened   = "reopened"
	CaseRemediated = "remediated"
	CaseAccepted   = "accepted"
)

// caseTransitions lists, per state, the states TransitionCase may move a
// case to. A case never moves to the state it is in (that would be an
// empty entry in its history), nor back to open: once a case has a
// history, "again" is reopened.
var caseTransitions = map[string][]string{
	CaseOpen:       {CaseNotified, CaseRemediated, CaseAccepted},
	CaseNotified:   {CasePersisting, CaseRemediated, CaseAccepted},
	CasePersisting: {CaseNotified, CaseRemediated, CaseAccepted},
	CaseReopened:   {CaseNotified, CaseRemediated, CaseAccepted},
	// Closed states: only a reopening leads out of them.
	CaseRemediated: {CaseReopened},
	CaseAccepted:   {CaseReopened},
}

// CaseTransitionAllowed reports whether a case in state from may move to
// state to.
func CaseTransitionAllowed(from, to string) bool {
	return slices.Contains(caseTransitions[from], to)
}

// CaseClosed reports whether state is a closed state (remediated,
// accepted): such cases are not rescanned and not notified.
func CaseClosed(state string) bool { return state == CaseRemediated || state == CaseAccepted }

// activeStates are the states of cases that are still open in the wide
// sense: rescanned, notified, counted as open.
var activeStates = []string{CaseOpen, CaseNotified, CasePersisting, CaseReopened}

// Case is one problem on one endpoint of one organisation.
type Case struct {
	ID     int64  `json:"id"`
	OrgID  int64  `json:"org_id,omitzero"`   // 0: nobody owns the endpoint
	OrgKey string `json:"org_key,omitempty"` // "" when OrgID is 0
	// ASN and ASName: the network the endpoint is routed by; kept for every
	// case, and the only owner information of an unowned one.
	ASN    uint32 `json:"asn,omitzero"`
	ASName string `json:"as_name,omitempty"`
	// Country: ISO 3166-1 alpha-2 of the network, from the owner lookup;
	// "" when unknown.
	Country  string         `json:"country,omitempty"`
	Endpoint netip.AddrPort `json:"endpoint"`
	Hostname string         `json:"hostname,omitempty"`
	Problem  string         `json:"problem"`
	CVEs     []string       `json:"cves"`
	Severity int            `json:"severity"` // higher is worse; orders lists and messages
	State    string         `json:"state"`
	// Reason of the last state change (required for accepted).
	Reason            string    `json:"reason,omitempty"`
	OpenedAt          time.Time `json:"opened_at"`
	UpdatedAt         time.Time `json:"updated_at"`
	ClosedAt          time.Time `json:"closed_at,omitzero"` // zero unless closed
	LastSeen          time.Time `json:"last_seen_at"`
	LastObservationID int64     `json:"last_observation_id,omitzero"` // 0 if none
	Ticket            string    `json:"ticket,omitempty"`             // of the last message sent about it
}

// CaseInput is what the notify planner knows about a problem on an
// endpoint, usually from one observation.
type CaseInput struct {
	OrgKey   string // "" for an endpoint nobody owns
	ASN      uint32
	ASName   string
	Country  string // ISO 3166-1 alpha-2 or ""; any other value is dropped
	Endpoint netip.AddrPort
	Hostname string
	Problem  string
	CVEs     []string
	Severity int // >= 0
	// ObservationID and RunID link the case and its history to the scan
	// that saw the problem (0: none).
	ObservationID, RunID int64
	// ObservedAt is when the problem was seen; zero means now. An input
	// older than what the case last saw changes nothing, so replaying an
	// old run is harmless.
	ObservedAt time.Time
	// Actor is who or what made the change, for the history ("" means
	// "exsweep").
	Actor string
}

// CaseResult reports what UpsertCases did with one input.
type CaseResult struct {
	ID       int64
	Created  bool // a new case was opened
	Reopened bool // a remediated case was reopened
	State    string
}

// CaseEvent is one entry of a case's history.
type CaseEvent struct {
	ID     int64     `json:"id"`
	CaseID int64     `json:"case_id"`
	At     time.Time `json:"at"`
	From   string    `json:"from,omitempty"` // "" for the entry that opened the case
	To     string    `json:"to"`
	Reason string    `json:"reason,omitempty"`
	// ObservationID and RunID: the scan that justified the change (0: none).
	ObservationID int64  `json:"observation_id,omitzero"`
	RunID         int64  `json:"run_id,omitzero"`
	Actor         string `json:"actor"`
}

// Caps for case fields.
const (
	maxCVEs    = 64
	maxCVELen  = 64
	maxReason  = 4 << 10
	maxActor   = 256
	caseChunk  = 500 // inputs per round of batched statements
	defaultAct = "exsweep"
)

// caseKey identifies a case: org 0 stands for "unowned".
type caseKey struct {
	org     int64
	ip      string
	port    int64
	problem string
}

// caseRow is a case as the upsert works on it.
type caseRow struct {
	id                       int64
	org                      int64 // 0: unowned
	asn                      int64
	asName, ip, hostname     string
	country                  string
	port                     int64
	problem, cves            string
	severity                 int64
	state, reason            string
	opened, closed, lastSeen time.Time
	lastObs                  int64
	// created: inserted by this batch; dirty: an existing case to update.
	created, dirty bool
	// pendingEvents are its history entries still to be written.
	pendingEvents []caseEvent
}

func (r *caseRow) key() caseKey { return caseKey{r.org, r.ip, r.port, r.problem} }

// caseEvent is a history entry waiting to be written.
type caseEvent struct {
	caseID               int64
	at                   time.Time
	from, to, reason     string
	observationID, runID int64
	actor                string
}

// caseIn is a validated CaseInput.
type caseIn struct {
	orgKey, asName, ip, hostname, problem, cves, actor string
	country                                            string
	asn, port, severity, observationID, runID          int64
	observedAt                                         time.Time
}

func toCaseIn(in CaseInput, now time.Time) (caseIn, error) {
	c := caseIn{
		orgKey:        clean(in.OrgKey, MaxFieldBytes),
		asName:        clean(in.ASName, MaxFieldBytes),
		country:       countryCode(in.Country),
		hostname:      clean(in.Hostname, MaxFieldBytes),
		problem:       in.Problem,
		actor:         clean(in.Actor, maxActor),
		asn:           int64(in.ASN),
		port:          int64(in.Endpoint.Port()),
		severity:      int64(in.Severity),
		observationID: in.ObservationID,
		runID:         in.RunID,
		observedAt:    in.ObservedAt,
	}
	if !in.Endpoint.Addr().IsValid() {
		return caseIn{}, fmt.Errorf("%w: case without an endpoint address", ErrInvalid)
	}
	c.ip = in.Endpoint.Addr().Unmap().String()
	if c.problem != ProblemCompromised && c.problem != ProblemVulnerable {
		return caseIn{}, fmt.Errorf("%w: case problem %q (want %s or %s)", ErrInvalid, in.Problem, ProblemCompromised, ProblemVulnerable)
	}
	if in.Severity < 0 {
		return caseIn{}, fmt.Errorf("%w: case severity %d is negative", ErrInvalid, in.Severity)
	}
	if len(in.CVEs) > maxCVEs {
		return caseIn{}, fmt.Errorf("%w: %d CVEs for one case (max %d)", ErrInvalid, len(in.CVEs), maxCVEs)
	}
	var err error
	if c.cves, err = stringsJSON(in.CVEs, maxCVELen); err != nil {
		return caseIn{}, err
	}
	if c.observedAt.IsZero() {
		c.observedAt = now
	}
	if c.actor == "" {
		c.actor = defaultAct
	}
	return c, nil
}

// UpsertCase records that the problem in is present: it opens a case if
// there is none for (organisation, endpoint, problem), updates the case
// otherwise, and reopens it (state reopened, with history) if it was
// remediated before the problem was seen again. An accepted case stays
// accepted. It returns the case as stored and whether it was created.
func (s *Store) UpsertCase(ctx context.Context, in CaseInput) (Case, bool, error) {
	res, err := s.UpsertCases(ctx, []CaseInput{in})
	if err != nil {
		return Case{}, false, err
	}
	c, err := s.GetCase(ctx, res[0].ID)
	return c, res[0].Created, err
}

// UpsertCases is UpsertCase for many inputs in one transaction (all or
// nothing), in input order: an endpoint given twice is opened by the first
// input and updated by the second. The statements are batched (a handful
// per 500 inputs; cases that did not change are not written), so planning
// a whole scan costs seconds, not minutes. Every organisation key must
// exist (UpsertOrganisations first).
func (s *Store) UpsertCases(ctx context.Context, inputs []CaseInput) ([]CaseResult, error) {
	now := s.now()
	// Work in key order (a stable sort, so the inputs of one key keep their
	// order and the outcome is the same as in input order). Two machines
	// planning overlapping scans then lock and insert cases in the same
	// order, which keeps PostgreSQL deadlocks rare instead of certain; it
	// also makes the inserts walk the indexes in order.
	order := make([]int, len(inputs))
	sortKeys := make([]string, len(inputs))
	for i, in := range inputs {
		order[i] = i
		// The key as stored (unmapped address, cleaned organisation key), so
		// two spellings of one case are not reordered against each other.
		ep := netip.AddrPortFrom(in.Endpoint.Addr().Unmap(), in.Endpoint.Port())
		sortKeys[i] = ep.String() + "\x00" + in.Problem + "\x00" + clean(in.OrgKey, MaxFieldBytes)
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(sortKeys[a], sortKeys[b]) })
	sortKeys = nil

	var results []CaseResult
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		results = make([]CaseResult, len(inputs))
		orgs := map[string]int64{}
		// Inputs are converted a chunk at a time, not all up front: a plan
		// of 100,000 cases should not hold a second copy of its inputs. A
		// bad input rolls the transaction back, so nothing is half-stored.
		chunk := make([]caseIn, 0, caseChunk)
		keys := make([]string, 0, caseChunk)
		for start := 0; start < len(order); start += caseChunk {
			idx := order[start:min(start+caseChunk, len(order))]
			chunk, keys = chunk[:0], keys[:0]
			for _, i := range idx {
				c, err := toCaseIn(inputs[i], now)
				if err != nil {
					return fmt.Errorf("case input %d: %w", i, err)
				}
				chunk = append(chunk, c)
				keys = append(keys, c.orgKey)
			}
			if err := s.orgIDs(ctx, tx, keys, orgs); err != nil {
				return err
			}
			if err := s.upsertCaseChunk(ctx, tx, chunk, idx, orgs, now, results); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// errRace: another writer inserted a case this transaction also tried to
// insert (PostgreSQL only). The transaction is run again and then finds
// the case among the existing ones.
var errRace = errors.New("concurrent insert of the same case")

const caseRowColumns = `id, org_id, asn, as_name, ip, port, hostname, problem, cves, severity,
	state, reason, opened_at, closed_at, last_seen_at, last_observation_id, country`

// upsertCaseChunk applies chunk; chunk[i] is input idx[i], whose result
// goes to results[idx[i]].
func (s *Store) upsertCaseChunk(ctx context.Context, tx *sql.Tx, chunk []caseIn, idx []int, orgs map[string]int64,
	now time.Time, results []CaseResult) error {
	// 1. The existing cases of these endpoints, locked on PostgreSQL until
	// commit so a concurrent writer cannot change them under us.
	ips := make([]any, 0, len(chunk))
	seenIP := make(map[string]bool, len(chunk))
	for _, in := range chunk {
		if !seenIP[in.ip] {
			seenIP[in.ip] = true
			ips = append(ips, in.ip)
		}
	}
	// ORDER BY id: every writer locks existing cases in the same order.
	rows, err := tx.QueryContext(ctx, s.q(`SELECT `+caseRowColumns+` FROM cases WHERE ip IN `+inList(len(ips))+
		` ORDER BY id`+s.forUpdate()), ips...)
	if err != nil {
		return err
	}
	byKey := make(map[caseKey]*caseRow, len(chunk))
	for rows.Next() {
		var (
			r                        caseRow
			org, lastObs             sql.NullInt64
			opened, closed, lastSeen dbTime
		)
		if err := rows.Scan(&r.id, &org, &r.asn, &r.asName, &r.ip, &r.port, &r.hostname, &r.problem, &r.cves,
			&r.severity, &r.state, &r.reason, &opened, &closed, &lastSeen, &lastObs, &r.country); err != nil {
			rows.Close()
			return err
		}
		r.org, r.lastObs = org.Int64, lastObs.Int64
		r.opened, r.closed, r.lastSeen = opened.T, closed.T, lastSeen.T
		byKey[r.key()] = &r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	// 2. Apply the inputs in order, in memory.
	var fresh []*caseRow // to insert, in first-seen order
	touched := make([]*caseRow, len(chunk))
	for i, in := range chunk {
		k := caseKey{orgs[in.orgKey], in.ip, in.port, in.problem}
		r, ok := byKey[k]
		if !ok {
			r = &caseRow{
				org: k.org, ip: in.ip, port: in.port, problem: in.problem,
				asn: in.asn, asName: in.asName, country: in.country, hostname: in.hostname, cves: in.cves, severity: in.severity,
				state: CaseOpen, opened: in.observedAt, lastSeen: in.observedAt, lastObs: in.observationID,
				created: true,
			}
			r.pendingEvents = append(r.pendingEvents, caseEvent{at: in.observedAt, to: CaseOpen,
				observationID: in.observationID, runID: in.runID, actor: in.actor})
			byKey[k] = r
			fresh = append(fresh, r)
			results[idx[i]] = CaseResult{Created: true}
		} else {
			results[idx[i]] = CaseResult{Reopened: r.apply(in)}
		}
		touched[i] = r
	}

	// 3. Insert the new cases. ON CONFLICT DO NOTHING (no target: either
	// partial unique index) turns a concurrent insert by another machine
	// into a missing RETURNING row instead of an aborted transaction.
	if len(fresh) > 0 {
		const cols = 15
		args := make([]any, 0, len(fresh)*cols)
		for _, r := range fresh {
			args = append(args, nullID(r.org), r.asn, r.asName, r.ip, r.port, r.hostname, r.problem, r.cves,
				r.severity, r.state, s.tv(r.opened), s.tv(now), s.tv(r.lastSeen), nullID(r.lastObs), r.country)
		}
		rows, err := tx.QueryContext(ctx, s.q(`
			INSERT INTO cases (org_id, asn, as_name, ip, port, hostname, problem, cves, severity, state,
				opened_at, updated_at, last_seen_at, last_observation_id, country)
			VALUES `+placeholders(len(fresh), cols)+`
			ON CONFLICT DO NOTHING
			RETURNING id, org_id, ip, port, problem`), args...)
		if err != nil {
			return err
		}
		got := 0
		for rows.Next() {
			var k caseKey
			var org sql.NullInt64
			var id int64
			if err := rows.Scan(&id, &org, &k.ip, &k.port, &k.problem); err != nil {
				rows.Close()
				return err
			}
			k.org = org.Int64
			byKey[k].id = id
			got++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if got != len(fresh) {
			return errRace
		}
	}

	// 4. Update the existing cases that changed, and write the history.
	var events []caseEvent
	var dirty []*caseRow
	done := make(map[*caseRow]bool, len(chunk))
	for i, r := range touched {
		results[idx[i]].ID, results[idx[i]].State = r.id, r.state
		if done[r] {
			continue
		}
		done[r] = true
		for _, e := range r.pendingEvents {
			e.caseID = r.id
			events = append(events, e)
		}
		if !r.created && r.dirty {
			dirty = append(dirty, r)
		}
	}
	if err := s.updateCaseRows(ctx, tx, dirty, now); err != nil {
		return err
	}
	return s.insertEvents(ctx, tx, events)
}

// caseUpdateTypes are the column types of the VALUES list in
// updateCaseRows, in order: id, asn, as_name, hostname, cves, severity,
// state, reason, closed_at, updated_at, last_seen_at, last_observation_id,
// country. PostgreSQL needs them spelled out: a bare parameter in VALUES is
// text.
var caseUpdateTypes = map[dialect][]string{
	dialectPostgres: {"bigint", "bigint", "text", "text", "json", "integer", "text", "text", "timestamptz", "timestamptz", "timestamptz", "bigint", "text"},
}

// updateCaseRows writes changed cases back. On PostgreSQL many go in one
// statement (UPDATE … FROM (VALUES …)): one UPDATE per case costs a network
// round trip each, and a rescan changes every case it saw (100,000 cases:
// 13.7 s one by one, 3.3 s batched). SQLite has no round trips, and its
// planner does worse with the VALUES join than with one prepared UPDATE per
// row (5.0 s against 2.1 s), so it keeps the simple form.
func (s *Store) updateCaseRows(ctx context.Context, tx *sql.Tx, rows []*caseRow, now time.Time) error {
	if len(rows) == 0 {
		return nil
	}
	if s.dialect == dialectSQLite {
		update, err := tx.PrepareContext(ctx, `
			UPDATE cases SET asn = ?, as_name = ?, hostname = ?, cves = ?, severity = ?, state = ?,
				reason = ?, closed_at = ?, updated_at = ?, last_seen_at = ?, last_observation_id = ?, country = ?
			WHERE id = ?`)
		if err != nil {
			return err
		}
		defer update.Close()
		for _, r := range rows {
			if _, err := update.ExecContext(ctx, r.asn, r.asName, r.hostname, r.cves, r.severity, r.state,
				r.reason, s.ntv(r.closed), s.tv(now), s.tv(r.lastSeen), nullID(r.lastObs), r.country, r.id); err != nil {
				return err
			}
		}
		return nil
	}
	types := caseUpdateTypes[s.dialect]
	var tuple strings.Builder
	tuple.WriteByte('(')
	for i, t := range types {
		if i > 0 {
			tuple.WriteString(", ")
		}
		tuple.WriteString("CAST(? AS " + t + ")")
	}
	tuple.WriteByte(')')
	for start := 0; start < len(rows); start += caseChunk {
		chunk := rows[start:min(start+caseChunk, len(rows))]
		args := make([]any, 0, len(chunk)*len(types))
		for _, r := range chunk {
			args = append(args, r.id, r.asn, r.asName, r.hostname, r.cves, r.severity, r.state, r.reason,
				s.ntv(r.closed), s.tv(now), s.tv(r.lastSeen), nullID(r.lastObs), r.country)
		}
		values := strings.TrimSuffix(strings.Repeat(tuple.String()+", ", len(chunk)), ", ")
		// VALUES columns are column1, column2, … in both dialects.
		if _, err := tx.ExecContext(ctx, s.q(`
			UPDATE cases SET asn = v.column2, as_name = v.column3, hostname = v.column4, cves = v.column5,
				severity = v.column6, state = v.column7, reason = v.column8, closed_at = v.column9,
				updated_at = v.column10, last_seen_at = v.column11, last_observation_id = v.column12,
				country = v.column13
			FROM (VALUES `+values+`) AS v
			WHERE cases.id = v.column1`), args...); err != nil {
			return err
		}
	}
	return nil
}

// apply merges a newer observation of the problem into an existing case
// and reports whether it reopened the case.
func (r *caseRow) apply(in caseIn) (reopened bool) {
	if in.observedAt.Before(r.lastSeen) {
		return false // an older observation: the case already knows better
	}
	before := *r
	if in.hostname != "" {
		r.hostname = in.hostname
	}
	if in.asn != 0 || in.asName != "" {
		r.asn, r.asName = in.asn, in.asName
	}
	if in.country != "" {
		r.country = in.country
	}
	r.cves, r.severity = in.cves, in.severity
	r.lastSeen = in.observedAt
	if in.observationID != 0 {
		r.lastObs = in.observationID
	}
	if r.state == CaseRemediated && in.observedAt.After(r.closed) {
		const why = "problem seen again after remediation"
		r.pendingEvents = append(r.pendingEvents, caseEvent{at: in.observedAt, from: r.state, to: CaseReopened,
			reason: why, observationID: in.observationID, runID: in.runID, actor: in.actor})
		r.state, r.reason, r.closed = CaseReopened, why, time.Time{}
		reopened = true
	}
	if r.hostname != before.hostname || r.asn != before.asn || r.asName != before.asName || r.country != before.country || r.cves != before.cves ||
		r.severity != before.severity || !r.lastSeen.Equal(before.lastSeen) || r.lastObs != before.lastObs ||
		r.state != before.state {
		r.dirty = true
	}
	return reopened
}

// historyColumns is the column list of case_history inserts.
const historyCols = 8

// insertEvents writes history entries, many per statement.
func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, events []caseEvent) error {
	for start := 0; start < len(events); start += caseChunk {
		chunk := events[start:min(start+caseChunk, len(events))]
		args := make([]any, 0, len(chunk)*historyCols)
		for _, e := range chunk {
			args = append(args, e.caseID, s.tv(e.at), e.from, e.to, clean(e.reason, maxReason),
				nullID(e.observationID), nullID(e.runID), clean(e.actor, maxActor))
		}
		if _, err := tx.ExecContext(ctx, s.q(`
			INSERT INTO case_history (case_id, at, from_state, to_state, reason, observation_id, run_id, actor)
			VALUES `+placeholders(len(chunk), historyCols)), args...); err != nil {
			return err
		}
	}
	return nil
}

// nullID stores id 0 as NULL.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// CaseTransition asks for a case to change state.
type CaseTransition struct {
	CaseID int64
	To     string
	Reason string // required for CaseAccepted
	Actor  string // "" means "exsweep"
	// At is when the change happened (a rescan's observation time); zero
	// means now.
	At time.Time
	// ObservationID and RunID: the scan that justified it (0: none).
	ObservationID, RunID int64
}

// TransitionCase moves a case to another state, refusing (ErrTransition)
// a change CaseTransitionAllowed does not list, and records it in the
// history in the same transaction. It returns the case as stored.
func (s *Store) TransitionCase(ctx context.Context, t CaseTransition) (Case, error) {
	if err := s.TransitionCases(ctx, []CaseTransition{t}); err != nil {
		return Case{}, err
	}
	return s.GetCase(ctx, t.CaseID)
}

// TransitionCases applies many transitions in one transaction, all or
// nothing: if one is not allowed, none is applied and the error (wrapping
// ErrTransition or ErrNotFound) names the case. A rescan uses it to mark
// thousands of cases remediated with one commit.
func (s *Store) TransitionCases(ctx context.Context, ts []CaseTransition) error {
	now := s.now()
	for _, t := range ts {
		if _, ok := caseTransitions[t.To]; !ok {
			return fmt.Errorf("case %d: %w: unknown state %q", t.CaseID, ErrInvalid, t.To)
		}
		if t.To == CaseAccepted && clean(t.Reason, maxReason) == "" {
			return fmt.Errorf("case %d: %w: accepting a risk needs a reason", t.CaseID, ErrInvalid)
		}
	}
	return s.inTx(ctx, func(tx *sql.Tx) error { return s.transitionTx(ctx, tx, ts, now) })
}

// transitionTx applies transitions inside tx (validated by the caller for
// unknown states and missing reasons).
func (s *Store) transitionTx(ctx context.Context, tx *sql.Tx, ts []CaseTransition, now time.Time) error {
	if len(ts) == 0 {
		return nil
	}
	lock, err := tx.PrepareContext(ctx, s.q(`SELECT state FROM cases WHERE id = ?`+s.forUpdate()))
	if err != nil {
		return err
	}
	defer lock.Close()
	update, err := tx.PrepareContext(ctx, s.q(`
		UPDATE cases SET state = ?, reason = ?, closed_at = ?, updated_at = ? WHERE id = ?`))
	if err != nil {
		return err
	}
	defer update.Close()
	events := make([]caseEvent, 0, len(ts))
	for _, t := range ts {
		var from string
		err := lock.QueryRowContext(ctx, t.CaseID).Scan(&from)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("case %d: %w", t.CaseID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if !CaseTransitionAllowed(from, t.To) {
			return fmt.Errorf("case %d: %w: %s → %s", t.CaseID, ErrTransition, from, t.To)
		}
		at := t.At
		if at.IsZero() {
			at = now
		}
		// Only closed states have a closing time; leaving one clears it.
		var closedAt time.Time
		if CaseClosed(t.To) {
			closedAt = at
		}
		reason := clean(t.Reason, maxReason)
		if _, err := update.ExecContext(ctx, t.To, reason, s.ntv(closedAt), s.tv(now), t.CaseID); err != nil {
			return err
		}
		actor := clean(t.Actor, maxActor)
		if actor == "" {
			actor = defaultAct
		}
		events = append(events, caseEvent{caseID: t.CaseID, at: at, from: from, to: t.To, reason: reason,
			observationID: t.ObservationID, runID: t.RunID, actor: actor})
	}
	return s.insertEvents(ctx, tx, events)
}

const caseColumns = `c.id, c.org_id, COALESCE(o.key, ''), c.asn, c.as_name, c.ip, c.port, c.hostname,
	c.problem, c.cves, c.severity, c.state, c.reason, c.opened_at, c.updated_at, c.closed_at,
	c.last_seen_at, c.last_observation_id, c.ticket, c.country`

const caseFrom = ` FROM cases c LEFT JOIN organisations o ON o.id = c.org_id`

func scanCase(row rowScanner) (Case, error) {
	var (
		c                                Case
		org, lastObs                     sql.NullInt64
		asn, port, severity              int64
		ip, cves                         string
		opened, updated, closed, lastSee dbTime
	)
	err := row.Scan(&c.ID, &org, &c.OrgKey, &asn, &c.ASName, &ip, &port, &c.Hostname, &c.Problem, &cves,
		&severity, &c.State, &c.Reason, &opened, &updated, &closed, &lastSee, &lastObs, &c.Ticket, &c.Country)
	if err != nil {
		return Case{}, err
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return Case{}, fmt.Errorf("case %d: stored ip: %w", c.ID, err)
	}
	c.Endpoint = netip.AddrPortFrom(addr, uint16(port))
	if c.CVEs, err = parseStrings(cves); err != nil {
		return Case{}, fmt.Errorf("case %d: %w", c.ID, err)
	}
	c.OrgID, c.LastObservationID = org.Int64, lastObs.Int64
	c.ASN, c.Severity = uint32(asn), int(severity)
	c.OpenedAt, c.UpdatedAt, c.ClosedAt, c.LastSeen = opened.T, updated.T, closed.T, lastSee.T
	return c, nil
}

// GetCase returns one case; ErrNotFound if there is none with that id.
func (s *Store) GetCase(ctx context.Context, id int64) (Case, error) {
	c, err := scanCase(s.r.QueryRowContext(ctx, s.q(`SELECT `+caseColumns+caseFrom+` WHERE c.id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Case{}, fmt.Errorf("case %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Case{}, s.explain(fmt.Errorf("reading case %d: %w", id, err))
	}
	return c, nil
}

// CaseFilter selects cases for ListCases. Zero fields do not filter.
type CaseFilter struct {
	States      []string
	OrgKey      string
	Unowned     bool // only cases nobody owns (OrgKey is then ignored)
	Problem     string
	MinSeverity int
	Endpoint    netip.AddrPort // a valid endpoint: only its cases
	Limit       int            // <= 0: no limit
	Offset      int
}

// ListCases returns the cases f selects, most severe first, then oldest
// first (by id), so paging is stable.
func (s *Store) ListCases(ctx context.Context, f CaseFilter) ([]Case, error) {
	from := caseFrom
	switch {
	case s.dialect != dialectSQLite || f.Endpoint.Addr().IsValid() || f.Unowned:
	case f.OrgKey != "":
		// SQLite's planner, without statistics, prefers cases_state and
		// then reads every open case once per organisation (a notify plan
		// or the replay asks per organisation): name the right index.
		from = ` FROM cases c INDEXED BY cases_org_state LEFT JOIN organisations o ON o.id = c.org_id`
	default:
		// Walk the cases in list order, the state read from the index, and
		// stop after the page: the state index would sort every case of the
		// states first (12,000 active cases: 40 ms against 10 ms).
		from = ` FROM cases c INDEXED BY cases_severity LEFT JOIN organisations o ON o.id = c.org_id`
	}
	query := `SELECT ` + caseColumns + from + ` WHERE 1 = 1`
	var args []any
	if len(f.States) > 0 {
		query += ` AND c.state IN ` + inList(len(f.States))
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	switch {
	case f.Unowned:
		query += ` AND c.org_id IS NULL`
	case f.OrgKey != "":
		// By org_id, so the (org_id, state) index is used: matching on the
		// joined key scanned every case once per organisation.
		query += ` AND c.org_id = (SELECT id FROM organisations WHERE key = ?)`
		args = append(args, f.OrgKey)
	}
	if f.Problem != "" {
		query += ` AND c.problem = ?`
		args = append(args, f.Problem)
	}
	if f.MinSeverity > 0 {
		query += ` AND c.severity >= ?`
		args = append(args, f.MinSeverity)
	}
	if f.Endpoint.Addr().IsValid() {
		query += ` AND c.ip = ? AND c.port = ?`
		args = append(args, f.Endpoint.Addr().Unmap().String(), int64(f.Endpoint.Port()))
	}
	query, args = s.pageClause(query+` ORDER BY c.severity DESC, c.id`, args, f.Limit, f.Offset)
	return queryAll(ctx, s, "listing cases", scanCase, query, args...)
}

// CaseHistory returns the history of a case, oldest first; ErrNotFound if
// the case does not exist.
func (s *Store) CaseHistory(ctx context.Context, id int64) ([]CaseEvent, error) {
	out, err := queryAll(ctx, s, fmt.Sprintf("reading history of case %d", id), func(row rowScanner) (CaseEvent, error) {
		var (
			e        CaseEvent
			at       dbTime
			obs, run sql.NullInt64
		)
		err := row.Scan(&e.ID, &e.CaseID, &at, &e.From, &e.To, &e.Reason, &obs, &run, &e.Actor)
		e.At, e.ObservationID, e.RunID = at.T, obs.Int64, run.Int64
		return e, err
	}, `
		SELECT id, case_id, at, from_state, to_state, reason, observation_id, run_id, actor
		FROM case_history WHERE case_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		// Every case has at least its opening entry.
		if _, err := s.GetCase(ctx, id); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// OpenCaseEndpoints returns every endpoint with a case that is not closed
// (open, notified, persisting, reopened), once each, sorted: the target
// list of a rescan.
func (s *Store) OpenCaseEndpoints(ctx context.Context) ([]netip.AddrPort, error) {
	args := make([]any, len(activeStates))
	for i, st := range activeStates {
		args[i] = st
	}
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT DISTINCT ip, port FROM cases WHERE state IN `+inList(len(args))), args...)
	if err != nil {
		return nil, s.explain(fmt.Errorf("reading open case endpoints: %w", err))
	}
	defer rows.Close()
	var out []netip.AddrPort
	for rows.Next() {
		var ip string
		var port int64
		if err := rows.Scan(&ip, &port); err != nil {
			return nil, s.explain(err)
		}
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return nil, fmt.Errorf("stored case ip %q: %w", ip, err)
		}
		out = append(out, netip.AddrPortFrom(a, uint16(port)))
	}
	if err := rows.Err(); err != nil {
		return nil, s.explain(fmt.Errorf("reading open case endpoints: %w", err))
	}
	// Text order in the database is not address order.
	slices.SortFunc(out, netip.AddrPort.Compare)
	return out, nil
}

// OrgTimeToFix summarises how fast one organisation fixes its cases.
type OrgTimeToFix struct {
	OrgKey string `json:"org_key"` // "" for unowned endpoints
	Cases  int    `json:"cases"`   // all cases
	Open   int    `json:"open"`    // cases not closed
	// Remediations counts open→remediated episodes (a case reopened and
	// fixed again counts twice); Median is their median duration, from the
	// opening (or reopening) to the remediation, in nanoseconds in JSON.
	Remediations int           `json:"remediations"`
	Median       time.Duration `json:"median_ns"`
}

// TimeToFix returns per organisation (ordered by key, unowned first) the
// median time from a case's opening to its remediation, computed from the
// history. Cases closed as accepted risks are not remediations.
func (s *Store) TimeToFix(ctx context.Context) ([]OrgTimeToFix, error) {
	type acc struct {
		OrgTimeToFix
		durations []time.Duration
	}
	byOrg := map[string]*acc{}
	get := func(k string) *acc {
		a := byOrg[k]
		if a == nil {
			a = &acc{OrgTimeToFix: OrgTimeToFix{OrgKey: k}}
			byOrg[k] = a
		}
		return a
	}
	rows, err := s.r.QueryContext(ctx, `
		SELECT COALESCE(o.key, ''), c.state, COUNT(*)`+caseFrom+`
		GROUP BY COALESCE(o.key, ''), c.state`)
	if err != nil {
		return nil, s.explain(fmt.Errorf("time to fix: %w", err))
	}
	for rows.Next() {
		var k, state string
		var n int
		if err := rows.Scan(&k, &state, &n); err != nil {
			rows.Close()
			return nil, s.explain(err)
		}
		a := get(k)
		a.Cases += n
		if !CaseClosed(state) {
			a.Open += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.explain(fmt.Errorf("time to fix: %w", err))
	}

	// Walk each case's history in order: an opening or reopening starts an
	// episode, a remediation ends it.
	rows, err = s.r.QueryContext(ctx, `
		SELECT COALESCE(o.key, ''), h.case_id, h.at, h.to_state
		FROM case_history h JOIN cases c ON c.id = h.case_id LEFT JOIN organisations o ON o.id = c.org_id
		ORDER BY h.case_id, h.id`)
	if err != nil {
		return nil, s.explain(fmt.Errorf("time to fix: %w", err))
	}
	defer rows.Close()
	var (
		cur   int64 = -1
		start time.Time
	)
	for rows.Next() {
		var (
			k, to string
			id    int64
			at    dbTime
		)
		if err := rows.Scan(&k, &id, &at, &to); err != nil {
			return nil, s.explain(err)
		}
		if id != cur {
			cur, start = id, time.Time{}
		}
		switch to {
		case CaseOpen, CaseReopened:
			start = at.T
		case CaseRemediated:
			if !start.IsZero() {
				a := get(k)
				a.durations = append(a.durations, at.T.Sub(start))
				start = time.Time{}
			}
		case CaseAccepted:
			start = time.Time{}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.explain(fmt.Errorf("time to fix: %w", err))
	}
	out := make([]OrgTimeToFix, 0, len(byOrg))
	for _, a := range byOrg {
		a.Remediations = len(a.durations)
		a.Median = median(a.durations)
		out = append(out, a.OrgTimeToFix)
	}
	slices.SortFunc(out, func(a, b OrgTimeToFix) int { return cmp.Compare(a.OrgKey, b.OrgKey) })
	return out, nil
}

// median of d (sorted in place); the mean of the middle two for an even
// count, 0 for none.
func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	m := len(d) / 2
	if len(d)%2 == 1 {
		return d[m]
	}
	return d[m-1] + (d[m]-d[m-1])/2
}

// countryCode returns an ISO 3166-1 alpha-2 code in upper case, or "" for
// anything else (the value comes from lookup tables and registries).
func countryCode(s string) string {
	if len(s) != 2 {
		return ""
	}
	b := []byte(strings.ToUpper(s))
	for _, c := range b {
		if c < 'A' || c > 'Z' {
			return ""
		}
	}
	return string(b)
}
