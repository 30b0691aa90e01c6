package store

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var t0 = time.Date(2021, 3, 3, 9, 0, 0, 0, time.UTC)

func mustOrgs(t testing.TB, s *Store, keys ...string) {
	t.Helper()
	var orgs []Organisation
	for _, k := range keys {
		orgs = append(orgs, Organisation{Key: k, Name: strings.ToUpper(k), To: []string{"abuse@" + k + ".example"}})
	}
	if err := s.UpsertOrganisations(context.Background(), orgs); err != nil {
		t.Fatal(err)
	}
}

func mustCase(t testing.TB, s *Store, in CaseInput) Case {
	t.Helper()
	c, _, err := s.UpsertCase(context.Background(), in)
	if err != nil {
		t.Fatalf("UpsertCase(%+v): %v", in, err)
	}
	return c
}

func vulnInput(org string, ep string, at time.Time) CaseInput {
	return CaseInput{OrgKey: org, ASN: 64500, ASName: "EXAMPLE-AS", Endpoint: netip.MustParseAddrPort(ep),
		Hostname: "mail.example", Problem: ProblemVulnerable, CVEs: []string{"CVE-2021-26855", "CVE-2021-27065"},
		Severity: 7, ObservationID: 0, RunID: 0, ObservedAt: at, Actor: "test"}
}

var cmpCase = []cmp.Option{cmpopts.EquateComparable(netip.AddrPort{}), cmpopts.EquateEmpty()}

func TestOrganisations(t *testing.T) { forEachBackend(t, testOrganisations) }

func testOrganisations(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	now := time.Date(2021, 3, 4, 8, 0, 0, 0, time.UTC)
	s.now = fixedClock(&now)

	err := s.UpsertOrganisations(ctx, []Organisation{
		{Key: "zeta", Name: "Zeta GmbH", To: []string{"cert@zeta.example"}, CC: []string{"soc@zeta.example"}, Language: "de"},
		{Key: "alpha", Name: "first name", To: []string{"x@alpha.example"}},
		{Key: "alpha", Name: "Alpha Ltd", To: []string{"abuse@alpha.example", "", "noc@alpha.example"}},
		{Key: "nomail", Name: "No Mail\x00Org"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Organisation{
		{Key: "alpha", Name: "Alpha Ltd", To: []string{"abuse@alpha.example", "noc@alpha.example"}, CC: []string{}, CreatedAt: now, UpdatedAt: now},
		{Key: "nomail", Name: "No MailOrg", To: []string{}, CC: []string{}, CreatedAt: now, UpdatedAt: now},
		{Key: "zeta", Name: "Zeta GmbH", To: []string{"cert@zeta.example"}, CC: []string{"soc@zeta.example"}, Language: "de", CreatedAt: now, UpdatedAt: now},
	}
	got, err := s.Organisations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Organisation{}, "ID")); diff != "" {
		t.Errorf("Organisations (-want +got):\n%s", diff)
	}

	// The same data again a day later: nothing changes, not even UpdatedAt.
	created := now
	now = now.Add(24 * time.Hour)
	if err := s.UpsertOrganisations(ctx, []Organisation{{Key: "zeta", Name: "Zeta GmbH", To: []string{"cert@zeta.example"}, CC: []string{"soc@zeta.example"}, Language: "de"}}); err != nil {
		t.Fatal(err)
	}
	z, err := s.GetOrganisation(ctx, "zeta")
	if err != nil || !z.UpdatedAt.Equal(created) {
		t.Errorf("unchanged re-import moved UpdatedAt: %v, %v", z.UpdatedAt, err)
	}
	// A changed address does move it, and keeps the id and CreatedAt.
	z2, err := s.UpsertOrganisation(ctx, Organisation{Key: "zeta", Name: "Zeta GmbH", To: []string{"new@zeta.example"}, Language: "de"})
	if err != nil {
		t.Fatal(err)
	}
	if z2.ID != z.ID || !z2.CreatedAt.Equal(created) || !z2.UpdatedAt.Equal(now) || !slices.Equal(z2.To, []string{"new@zeta.example"}) || len(z2.CC) != 0 {
		t.Errorf("after change: %+v (before %+v)", z2, z)
	}

	if _, err := s.GetOrganisation(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetOrganisation(missing) = %v", err)
	}
	if err := s.UpsertOrganisations(ctx, []Organisation{{Key: "ok"}, {Key: " \x00"[1:]}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty key: %v", err)
	}
	if _, err := s.GetOrganisation(ctx, "ok"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a refused batch stored part of itself: %v", err)
	}
	many := make([]string, maxEmails+1)
	if err := s.UpsertOrganisations(ctx, []Organisation{{Key: "many", To: many}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("too many addresses: %v", err)
	}
}

func TestUpsertCase(t *testing.T) { forEachBackend(t, testUpsertCase) }

func testUpsertCase(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	now := t0.Add(time.Hour)
	s.now = fixedClock(&now)
	mustOrgs(t, s, "acme")

	in := vulnInput("acme", "192.0.2.10:443", t0)
	in.ObservationID, in.RunID = 11, 1
	c, created, err := s.UpsertCase(ctx, in)
	if err != nil || !created {
		t.Fatalf("UpsertCase = %v, created %v", err, created)
	}
	want := Case{ID: c.ID, OrgID: c.OrgID, OrgKey: "acme", ASN: 64500, ASName: "EXAMPLE-AS",
		Endpoint: netip.MustParseAddrPort("192.0.2.10:443"), Hostname: "mail.example", Problem: ProblemVulnerable,
		CVEs: []string{"CVE-2021-26855", "CVE-2021-27065"}, Severity: 7, State: CaseOpen,
		OpenedAt: t0, UpdatedAt: now, LastSeen: t0, LastObservationID: 11}
	if diff := cmp.Diff(want, c, cmpCase...); diff != "" {
		t.Errorf("new case (-want +got):\n%s", diff)
	}
	if c.OrgID == 0 {
		t.Error("owned case without OrgID")
	}

	// A newer observation updates; no new case, no history entry.
	now = now.Add(time.Hour)
	in2 := vulnInput("acme", "[::ffff:192.0.2.10]:443", t0.Add(24*time.Hour)) // the same endpoint, IPv4-mapped
	in2.CVEs, in2.Severity, in2.Hostname, in2.ObservationID = []string{"CVE-2021-34473"}, 9, "", 22
	c2, created, err := s.UpsertCase(ctx, in2)
	if err != nil || created {
		t.Fatalf("second UpsertCase = %v, created %v", err, created)
	}
	want.CVEs, want.Severity, want.LastSeen, want.LastObservationID, want.UpdatedAt = []string{"CVE-2021-34473"}, 9, t0.Add(24*time.Hour), 22, now
	if diff := cmp.Diff(want, c2, cmpCase...); diff != "" {
		t.Errorf("updated case (-want +got):\n%s", diff)
	}

	// An older observation (an old run replayed) changes nothing.
	now = now.Add(time.Hour)
	old := vulnInput("acme", "192.0.2.10:443", t0.Add(time.Minute))
	old.Severity, old.ObservationID = 1, 5
	c3, created, err := s.UpsertCase(ctx, old)
	if err != nil || created {
		t.Fatalf("old UpsertCase = %v, created %v", err, created)
	}
	if diff := cmp.Diff(want, c3, cmpCase...); diff != "" {
		t.Errorf("old observation changed the case (-want +got):\n%s", diff)
	}

	h, err := s.CaseHistory(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantH := []CaseEvent{{CaseID: c.ID, At: t0, From: "", To: CaseOpen, ObservationID: 11, RunID: 1, Actor: "test"}}
	if diff := cmp.Diff(wantH, h, cmpopts.IgnoreFields(CaseEvent{}, "ID")); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if _, err := s.CaseHistory(ctx, 9999); !errors.Is(err, ErrNotFound) {
		t.Errorf("CaseHistory(missing) = %v", err)
	}
	if _, err := s.GetCase(ctx, 9999); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetCase(missing) = %v", err)
	}

	bad := []struct {
		name string
		in   CaseInput
		want error
	}{
		{"unknown org", vulnInput("nobody", "192.0.2.1:443", t0), ErrNotFound},
		{"no address", CaseInput{Problem: ProblemVulnerable}, ErrInvalid},
		{"bad problem", CaseInput{Endpoint: netip.MustParseAddrPort("192.0.2.1:443"), Problem: "pwned"}, ErrInvalid},
		{"negative severity", CaseInput{Endpoint: netip.MustParseAddrPort("192.0.2.1:443"), Problem: ProblemVulnerable, Severity: -1}, ErrInvalid},
		{"too many CVEs", CaseInput{Endpoint: netip.MustParseAddrPort("192.0.2.1:443"), Problem: ProblemVulnerable, CVEs: make([]string, maxCVEs+1)}, ErrInvalid},
	}
	for _, tt := range bad {
		if _, _, err := s.UpsertCase(ctx, tt.in); !errors.Is(err, tt.want) {
			t.Errorf("%s: UpsertCase = %v, want %v", tt.name, err, tt.want)
		}
	}
	all, err := s.ListCases(ctx, CaseFilter{})
	if err != nil || len(all) != 1 {
		t.Errorf("after refused inputs: %d cases, %v", len(all), err)
	}
}

// TestCaseUniqueness: one case per (organisation, endpoint, problem), and
// the unowned "organisation" (NULL) is one organisation too.
func TestCaseUniqueness(t *testing.T) { forEachBackend(t, testCaseUniqueness) }

func testCaseUniqueness(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	mustOrgs(t, s, "a", "b")
	ep := "198.51.100.7:443"
	ids := map[string]int64{}
	for i, tt := range []struct {
		name, org, problem string
	}{
		{"unowned", "", ProblemVulnerable},
		{"unowned again", "", ProblemVulnerable},
		{"unowned compromised", "", ProblemCompromised},
		{"a", "a", ProblemVulnerable},
		{"a again", "a", ProblemVulnerable},
		{"b", "b", ProblemVulnerable},
	} {
		in := vulnInput(tt.org, ep, t0.Add(time.Duration(i)*time.Minute))
		in.Problem = tt.problem
		c := mustCase(t, s, in)
		ids[tt.name] = c.ID
		if (c.OrgKey == "") != (tt.org == "") || c.OrgKey != tt.org {
			t.Errorf("%s: OrgKey %q", tt.name, c.OrgKey)
		}
	}
	if ids["unowned"] != ids["unowned again"] || ids["a"] != ids["a again"] {
		t.Errorf("same key, different cases: %v", ids)
	}
	distinct := map[int64]bool{ids["unowned"]: true, ids["unowned compromised"]: true, ids["a"]: true, ids["b"]: true}
	if len(distinct) != 4 {
		t.Errorf("different keys share a case: %v", ids)
	}
	// The database itself refuses a second unowned row (the partial unique
	// index), not only the Go code.
	_, err := s.w.ExecContext(ctx, s.q(`INSERT INTO cases (org_id, ip, port, problem, state, opened_at, updated_at, last_seen_at)
		VALUES (NULL, ?, ?, ?, ?, ?, ?, ?)`), "198.51.100.7", 443, ProblemVulnerable, CaseOpen, s.tv(t0), s.tv(t0), s.tv(t0))
	if !isUniqueViolation(err) {
		t.Errorf("duplicate unowned insert: %v, want a unique violation", err)
	}
	unowned, err := s.ListCases(ctx, CaseFilter{Unowned: true})
	if err != nil || len(unowned) != 2 {
		t.Errorf("unowned cases: %d, %v", len(unowned), err)
	}
}

// driveTo brings a new case into state via allowed transitions and returns
// its id.
func driveTo(t *testing.T, s *Store, ep string, state string) int64 {
	t.Helper()
	ctx := context.Background()
	c := mustCase(t, s, vulnInput("", ep, t0))
	paths := map[string][]string{
		CaseOpen:       nil,
		CaseNotified:   {CaseNotified},
		CasePersisting: {CaseNotified, CasePersisting},
		CaseRemediated: {CaseRemediated},
		CaseReopened:   {CaseRemediated, CaseReopened},
		CaseAccepted:   {CaseAccepted},
	}
	for i, to := range paths[state] {
		if _, err := s.TransitionCase(ctx, CaseTransition{CaseID: c.ID, To: to, Reason: "setup", At: t0.Add(time.Duration(i+1) * time.Hour)}); err != nil {
			t.Fatalf("driving to %s via %s: %v", state, to, err)
		}
	}
	return c.ID
}

func TestCaseTransitions(t *testing.T) { forEachBackend(t, testCaseTransitions) }

func testCaseTransitions(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	states := []string{CaseOpen, CaseNotified, CasePersisting, CaseReopened, CaseRemediated, CaseAccepted}
	allowed := map[[2]string]bool{
		{CaseOpen, CaseNotified}: true, {CaseOpen, CaseRemediated}: true, {CaseOpen, CaseAccepted}: true,
		{CaseNotified, CasePersisting}: true, {CaseNotified, CaseRemediated}: true, {CaseNotified, CaseAccepted}: true,
		{CasePersisting, CaseNotified}: true, {CasePersisting, CaseRemediated}: true, {CasePersisting, CaseAccepted}: true,
		{CaseReopened, CaseNotified}: true, {CaseReopened, CaseRemediated}: true, {CaseReopened, CaseAccepted}: true,
		{CaseRemediated, CaseReopened}: true,
		{CaseAccepted, CaseReopened}:   true,
	}
	n := 0
	for _, from := range states {
		for _, to := range states {
			n++
			name := from + "→" + to
			t.Run(name, func(t *testing.T) {
				id := driveTo(t, s, fmt.Sprintf("203.0.113.%d:443", n), from)
				before, err := s.CaseHistory(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				at := t0.Add(10 * time.Hour)
				c, err := s.TransitionCase(ctx, CaseTransition{CaseID: id, To: to, Reason: "because", Actor: "alice", At: at, ObservationID: 77, RunID: 3})
				if got, want := CaseTransitionAllowed(from, to), allowed[[2]string{from, to}]; got != want {
					t.Errorf("CaseTransitionAllowed = %v, want %v", got, want)
				}
				after, herr := s.CaseHistory(ctx, id)
				if herr != nil {
					t.Fatal(herr)
				}
				if !allowed[[2]string{from, to}] {
					if !errors.Is(err, ErrTransition) {
						t.Fatalf("TransitionCase = %v, want ErrTransition", err)
					}
					if !strings.Contains(err.Error(), from+" → "+to) {
						t.Errorf("error %q does not name the transition", err)
					}
					cur, _ := s.GetCase(ctx, id)
					if cur.State != from || len(after) != len(before) {
						t.Errorf("refused transition changed the case: %s, %d history entries (was %d)", cur.State, len(after), len(before))
					}
					return
				}
				if err != nil {
					t.Fatalf("TransitionCase = %v", err)
				}
				if c.State != to || c.Reason != "because" {
					t.Errorf("case after: state %q reason %q", c.State, c.Reason)
				}
				if closed := CaseClosed(to); closed != !c.ClosedAt.IsZero() || (closed && !c.ClosedAt.Equal(at)) {
					t.Errorf("ClosedAt = %v for state %s", c.ClosedAt, to)
				}
				if len(after) != len(before)+1 {
					t.Fatalf("history grew from %d to %d", len(before), len(after))
				}
				wantEv := CaseEvent{CaseID: id, At: at, From: from, To: to, Reason: "because", ObservationID: 77, RunID: 3, Actor: "alice"}
				if diff := cmp.Diff(wantEv, after[len(after)-1], cmpopts.IgnoreFields(CaseEvent{}, "ID")); diff != "" {
					t.Errorf("history entry (-want +got):\n%s", diff)
				}
			})
		}
	}

	id := driveTo(t, s, "203.0.113.200:443", CaseOpen)
	for _, tt := range []struct {
		name string
		tr   CaseTransition
		want error
	}{
		{"unknown state", CaseTransition{CaseID: id, To: "closed"}, ErrInvalid},
		{"accepted without reason", CaseTransition{CaseID: id, To: CaseAccepted, Reason: " \x00"[1:]}, ErrInvalid},
		{"missing case", CaseTransition{CaseID: 424242, To: CaseNotified}, ErrNotFound},
	} {
		if _, err := s.TransitionCase(ctx, tt.tr); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	// All or nothing: the second transition is refused, so the first is
	// not applied either.
	other := driveTo(t, s, "203.0.113.201:443", CaseRemediated)
	err := s.TransitionCases(ctx, []CaseTransition{{CaseID: id, To: CaseNotified}, {CaseID: other, To: CaseNotified}})
	if !errors.Is(err, ErrTransition) {
		t.Fatalf("TransitionCases = %v", err)
	}
	if c, _ := s.GetCase(ctx, id); c.State != CaseOpen {
		t.Errorf("first transition of a refused batch applied: %s", c.State)
	}
}

func TestReopen(t *testing.T) { forEachBackend(t, testReopen) }

func testReopen(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	mustOrgs(t, s, "acme")
	c := mustCase(t, s, vulnInput("acme", "192.0.2.20:443", t0))
	fixedAt := t0.Add(48 * time.Hour)
	if _, err := s.TransitionCase(ctx, CaseTransition{CaseID: c.ID, To: CaseRemediated, Reason: "rescan: patched", At: fixedAt, ObservationID: 5, RunID: 2}); err != nil {
		t.Fatal(err)
	}
	// Replaying an observation from before the fix does not reopen.
	res, err := s.UpsertCases(ctx, []CaseInput{vulnInput("acme", "192.0.2.20:443", fixedAt.Add(-time.Hour))})
	if err != nil || res[0].Reopened || res[0].State != CaseRemediated || res[0].ID != c.ID {
		t.Fatalf("old observation: %+v, %v", res, err)
	}
	// Seen again after the fix: reopened, with history.
	again := vulnInput("acme", "192.0.2.20:443", fixedAt.Add(time.Hour))
	again.ObservationID, again.RunID = 9, 3
	res, err = s.UpsertCases(ctx, []CaseInput{again})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]CaseResult{{ID: c.ID, Reopened: true, State: CaseReopened}}, res); diff != "" {
		t.Errorf("reopen result (-want +got):\n%s", diff)
	}
	got, err := s.GetCase(ctx, c.ID)
	if err != nil || got.State != CaseReopened || !got.ClosedAt.IsZero() || got.LastObservationID != 9 {
		t.Errorf("reopened case: %+v, %v", got, err)
	}
	h, err := s.CaseHistory(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var path []string
	for _, e := range h {
		path = append(path, e.From+"→"+e.To)
	}
	if diff := cmp.Diff([]string{"→open", "open→remediated", "remediated→reopened"}, path); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if last := h[len(h)-1]; last.ObservationID != 9 || last.RunID != 3 || !last.At.Equal(fixedAt.Add(time.Hour)) || last.Actor != "test" {
		t.Errorf("reopen entry: %+v", last)
	}

	// An accepted risk stays accepted when the problem is seen again.
	acc := mustCase(t, s, vulnInput("acme", "192.0.2.21:443", t0))
	if _, err := s.TransitionCase(ctx, CaseTransition{CaseID: acc.ID, To: CaseAccepted, Reason: "decommissioned next week", At: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	res, err = s.UpsertCases(ctx, []CaseInput{vulnInput("acme", "192.0.2.21:443", t0.Add(72*time.Hour))})
	if err != nil || res[0].State != CaseAccepted || res[0].Reopened {
		t.Errorf("accepted case seen again: %+v, %v", res, err)
	}
}

// TestUpsertCasesBatch: more inputs than one chunk, keys repeated within a
// chunk and across chunks, owned and unowned mixed.
func TestUpsertCasesBatch(t *testing.T) { forEachBackend(t, testUpsertCasesBatch) }

func testUpsertCasesBatch(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	mustOrgs(t, s, "o0", "o1", "o2")
	const distinct = 900
	var ins []CaseInput
	key := func(i int) CaseInput {
		org := ""
		if i%4 != 3 {
			org = fmt.Sprintf("o%d", i%3)
		}
		ep := endpoint(i)
		return vulnInput(org, ep.String(), t0.Add(time.Duration(i)*time.Second))
	}
	for i := range distinct {
		ins = append(ins, key(i))
		if i%7 == 0 { // repeated at once, within the chunk: a newer sighting
			in := key(i)
			in.ObservedAt = in.ObservedAt.Add(time.Hour)
			in.Severity = 9
			ins = append(ins, in)
		}
	}
	for i := 0; i < distinct; i += 50 { // repeated in a later chunk
		in := key(i)
		in.ObservedAt = in.ObservedAt.Add(2 * time.Hour)
		in.Severity = 10
		ins = append(ins, in)
	}
	res, err := s.UpsertCases(ctx, ins)
	if err != nil {
		t.Fatal(err)
	}
	first := map[int64]int{}
	created := 0
	for i, r := range res {
		if r.ID == 0 || r.State != CaseOpen {
			t.Fatalf("result %d: %+v", i, r)
		}
		if r.Created {
			created++
			if _, dup := first[r.ID]; dup {
				t.Fatalf("case %d created twice", r.ID)
			}
			first[r.ID] = i
		} else if _, ok := first[r.ID]; !ok {
			t.Fatalf("result %d updates case %d that no earlier input created", i, r.ID)
		}
	}
	if created != distinct {
		t.Errorf("%d cases created, want %d", created, distinct)
	}
	cases, err := s.ListCases(ctx, CaseFilter{})
	if err != nil || len(cases) != distinct {
		t.Fatalf("ListCases: %d, %v", len(cases), err)
	}
	sev := map[int]int{}
	for _, c := range cases {
		sev[c.Severity]++
	}
	// Every 50th got severity 10 last; of the rest, every 7th got 9.
	want10 := distinct / 50
	want9 := 0
	for i := 0; i < distinct; i += 7 {
		if i%50 != 0 {
			want9++
		}
	}
	if diff := cmp.Diff(map[int]int{10: want10, 9: want9, 7: distinct - want10 - want9}, sev); diff != "" {
		t.Errorf("severities (-want +got):\n%s", diff)
	}
	// Exactly one history entry (the opening) per case.
	var events int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM case_history`).Scan(&events); err != nil || events != distinct {
		t.Errorf("history entries: %d, %v", events, err)
	}
	// Running the same batch again opens nothing and writes no history.
	res2, err := s.UpsertCases(ctx, ins)
	if err != nil {
		t.Fatal(err)
	}
	for i := range res2 {
		if res2[i].Created || res2[i].ID != res[i].ID {
			t.Fatalf("replay result %d: %+v (first time %+v)", i, res2[i], res[i])
		}
	}
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM case_history`).Scan(&events); err != nil || events != distinct {
		t.Errorf("history entries after replay: %d, %v", events, err)
	}
	// A batch with one bad organisation stores nothing.
	bad := append([]CaseInput{vulnInput("o0", "192.0.2.99:443", t0)}, vulnInput("nobody", "192.0.2.98:443", t0))
	if _, err := s.UpsertCases(ctx, bad); !errors.Is(err, ErrNotFound) {
		t.Errorf("batch with unknown org: %v", err)
	}
	if cs, _ := s.ListCases(ctx, CaseFilter{Endpoint: netip.MustParseAddrPort("192.0.2.99:443")}); len(cs) != 0 {
		t.Errorf("refused batch stored %d cases", len(cs))
	}
}

func TestListCases(t *testing.T) { forEachBackend(t, testListCases) }

func testListCases(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	mustOrgs(t, s, "a", "b")
	type spec struct {
		org, ep, problem string
		severity         int
		state            string
	}
	specs := []spec{
		{"a", "192.0.2.1:443", ProblemVulnerable, 5, CaseOpen},
		{"a", "192.0.2.2:443", ProblemCompromised, 9, CaseOpen},
		{"b", "192.0.2.3:443", ProblemVulnerable, 5, CaseNotified},
		{"", "192.0.2.4:443", ProblemVulnerable, 3, CaseOpen},
		{"b", "192.0.2.5:443", ProblemVulnerable, 1, CaseRemediated},
		{"a", "192.0.2.1:443", ProblemCompromised, 9, CaseOpen},
	}
	ids := make([]int64, len(specs))
	for i, sp := range specs {
		in := vulnInput(sp.org, sp.ep, t0)
		in.Problem, in.Severity = sp.problem, sp.severity
		ids[i] = mustCase(t, s, in).ID
		if sp.state != CaseOpen {
			if _, err := s.TransitionCase(ctx, CaseTransition{CaseID: ids[i], To: sp.state}); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name string
		f    CaseFilter
		want []int // indexes into specs, in the expected order
	}{
		{"all by severity then id", CaseFilter{}, []int{1, 5, 0, 2, 3, 4}},
		{"open", CaseFilter{States: []string{CaseOpen}}, []int{1, 5, 0, 3}},
		{"open or notified", CaseFilter{States: []string{CaseOpen, CaseNotified}}, []int{1, 5, 0, 2, 3}},
		{"org a", CaseFilter{OrgKey: "a"}, []int{1, 5, 0}},
		{"unowned", CaseFilter{Unowned: true}, []int{3}},
		{"compromised", CaseFilter{Problem: ProblemCompromised}, []int{1, 5}},
		{"severity >= 5", CaseFilter{MinSeverity: 5}, []int{1, 5, 0, 2}},
		{"endpoint", CaseFilter{Endpoint: netip.MustParseAddrPort("192.0.2.1:443")}, []int{5, 0}},
		{"page", CaseFilter{Limit: 2, Offset: 1}, []int{5, 0}},
		{"offset only", CaseFilter{Offset: 4}, []int{3, 4}},
		{"nothing", CaseFilter{OrgKey: "nobody"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := s.ListCases(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, c := range cs {
				got = append(got, c.ID)
			}
			var want []int64
			for _, i := range tt.want {
				want = append(want, ids[i])
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	eps, err := s.OpenCaseEndpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantEps := []netip.AddrPort{
		netip.MustParseAddrPort("192.0.2.1:443"), netip.MustParseAddrPort("192.0.2.2:443"),
		netip.MustParseAddrPort("192.0.2.3:443"), netip.MustParseAddrPort("192.0.2.4:443"),
	}
	if diff := cmp.Diff(wantEps, eps, cmpopts.EquateComparable(netip.AddrPort{})); diff != "" {
		t.Errorf("OpenCaseEndpoints (-want +got):\n%s", diff)
	}
}

func TestOpenCaseEndpointsOrder(t *testing.T) { forEachBackend(t, testOpenCaseEndpointsOrder) }

func testOpenCaseEndpointsOrder(t *testing.T, b backend) {
	s := openTest(t, b)
	in := []string{"10.0.0.10:443", "10.0.0.9:443", "[2001:db8::1]:443", "10.0.0.9:80"}
	var ins []CaseInput
	for _, ep := range in {
		ins = append(ins, vulnInput("", ep, t0))
	}
	if _, err := s.UpsertCases(context.Background(), ins); err != nil {
		t.Fatal(err)
	}
	eps, err := s.OpenCaseEndpoints(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ep := range eps {
		got = append(got, ep.String())
	}
	if diff := cmp.Diff([]string{"10.0.0.9:80", "10.0.0.9:443", "10.0.0.10:443", "[2001:db8::1]:443"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestTimeToFix(t *testing.T) { forEachBackend(t, testTimeToFix) }

func testTimeToFix(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	mustOrgs(t, s, "a", "b")
	h := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Hour))) }
	step := func(id int64, to string, at time.Time) {
		t.Helper()
		if _, err := s.TransitionCase(ctx, CaseTransition{CaseID: id, To: to, Reason: "r", At: at}); err != nil {
			t.Fatal(err)
		}
	}
	// Org a: fixed after 2 h and 4 h; one case fixed after 1 h, reopened,
	// fixed again 1 h later: episodes 2, 4, 1, 1 → median 1.5 h.
	a1 := mustCase(t, s, vulnInput("a", "192.0.2.1:443", h(0))).ID
	step(a1, CaseRemediated, h(2))
	a2 := mustCase(t, s, vulnInput("a", "192.0.2.2:443", h(0))).ID
	step(a2, CaseNotified, h(1))
	step(a2, CaseRemediated, h(4))
	a3 := mustCase(t, s, vulnInput("a", "192.0.2.3:443", h(0))).ID
	step(a3, CaseRemediated, h(1))
	if _, err := s.UpsertCases(ctx, []CaseInput{vulnInput("a", "192.0.2.3:443", h(5))}); err != nil {
		t.Fatal(err)
	}
	step(a3, CaseRemediated, h(6))
	// Org b: one open case, one accepted (not a remediation).
	mustCase(t, s, vulnInput("b", "192.0.2.4:443", h(0)))
	b2 := mustCase(t, s, vulnInput("b", "192.0.2.5:443", h(0))).ID
	step(b2, CaseAccepted, h(3))
	// Unowned: fixed after 30 min.
	u := mustCase(t, s, vulnInput("", "192.0.2.6:443", h(0))).ID
	step(u, CaseRemediated, h(0.5))

	got, err := s.TimeToFix(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []OrgTimeToFix{
		{OrgKey: "", Cases: 1, Open: 0, Remediations: 1, Median: 30 * time.Minute},
		{OrgKey: "a", Cases: 3, Open: 0, Remediations: 4, Median: 90 * time.Minute},
		{OrgKey: "b", Cases: 2, Open: 1, Remediations: 0, Median: 0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("TimeToFix (-want +got):\n%s", diff)
	}
}

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{[]time.Duration{5}, 5},
		{[]time.Duration{9, 1, 5}, 5},
		{[]time.Duration{4, 1, 3, 2}, 2},
	} {
		if got := median(slices.Clone(tt.in)); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
