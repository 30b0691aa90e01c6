package lab

import (
	"fmt"
	"slices"

	"github.com/exsweep/exsweep/internal/exchange"
)

// Technique names, the same strings internal/scan uses in its evidence, so the
// truth can say which technique a correct scanner learns the build from.
const (
	SourceECPFolder = "ecp-folder"    // /ecp/<build>/exporttool/ answered 200
	SourceManifest  = "exporttool"    // exporttool manifest version
	SourceHeader    = "x-owa-version" // X-OWA-Version header
	SourceOWAPath4  = "owa-path-4"    // 2010 logon page /owa/<build>/
	SourceOWAPath3  = "owa-path-3"    // 2013+ logon page /owa/auth/<cu>/ (CU only)
	SourceFEServer  = "x-feserver"    // Exchange is certain, the build is not visible
)

// Verdicts beyond the knowledge base's vulnerable/patched/undetermined.
const (
	VerdictNotExchange = "not-exchange"
	VerdictUnreachable = "unreachable"
)

// Expectation is what a correct non-intrusive scanner should report for one lab
// server: the truth the scanner's accuracy tests and benchmarks compare against.
//
// "Correct non-intrusive scanner" means one that sends only GET/HEAD with a
// browser User-Agent (containing "Mozilla/5.0"), accepts TLS 1.0 with RSA-CBC
// suites and any certificate, reads at least the first 64 KB of a body, and
// requests:
//
//	GET /                                   (X-FEServer)
//	GET /owa/            without following  (X-OWA-Version, X-FEServer, Location)
//	GET /owa/auth/logon.aspx?url=…&reason=0 (build folder, markers)
//	GET /ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application
//	GET /EWS/Exchange.asmx, /Microsoft-Server-ActiveSync,
//	    /autodiscover/autodiscover.xml, /owa/service   (401s with X-OWA-Version)
//	GET /ecp/<build>/exporttool/  for the knowledge-base builds of the CU the
//	    manifest names, when the manifest version itself is not confirmed
//	GET of each web-shell path on its list, after a random-name baseline.
//
// The rules, in order (Expect implements them):
//
//  1. Tarpit, reset, garbage: Reachable false, Verdict "unreachable".
//  2. Plain IIS, nginx, catch-all 200: Exchange false, Verdict "not-exchange"
//     (a catch-all site answers 200 on /owa/auth/logon.aspx and on web-shell
//     paths, but carries no OWA marker, and its 200s match its baseline).
//  3. Exchange: Exchange true. The build is the best a scanner can learn:
//     a. ECP published (2013+) and the installed build is in the knowledge
//     base: the installed build, exact — from the manifest when it shows the
//     installed build (Source exporttool), else by the /ecp/<build>/exporttool/
//     confirmation (Source ecp-folder).
//     b. Otherwise, if any 4-part value is visible (manifest, X-OWA-Version
//     when present/lower-case/long form, the 2010 logon-page folder): the
//     highest of them (on a tie: manifest, header, path), exact (4 parts
//     seen) even when it is not the installed build (see Note). A scanner
//     sees the same values, so it can apply the same rule. The 2019 CU9 case
//     (X-OWA-Version 15.2.858.2 on 15.2.858.5 with ECP blocked) lands here:
//     the build is the header value, which the knowledge base places at CU9
//     without update (match below-cu).
//     c. Otherwise the logon page's 3-part CU (2013+, OWA not redirected, path
//     not hidden): not exact.
//     d. Otherwise no build: Exchange is known from X-FEServer (every 2013+
//     front-end response carries it), Product is empty, Verdict "undetermined".
//  4. Verdict is exchange.KB.Lookup(Build).Verdict() when there is a build.
//
// Ambiguities (also written into Note where they apply):
//   - manifest-at-cu with a build the knowledge base does not know: the
//     confirmation loop cannot find the installed build, so the scanner can only
//     report the manifest or header value (rule b), which may name an older
//     update than the one installed.
//   - X-OWA-Version below the CU with ECP blocked: the header is the only
//     4-part value; whether an SU is installed cannot be seen (rule b).
//   - No version source at all (redirects or hidden path plus stripped header
//     plus ECP blocked): a scanner may still guess the product family from the
//     logon page title; the truth leaves Product empty and does not score it.
//   - WAF servers assume the browser User-Agent (NeedsBrowserUA); a scanner
//     with another User-Agent sees 403 everywhere and cannot tell Exchange.
//   - HugeBody: the head of the page (title, build folder, markers) is in the
//     first 8 KB; the noscript text and the form follow 10 MB of padding.
//   - Web shells are found only when the scanner's opt-in list holds the path;
//     the mix uses names from the public March 2021 lists (remote.md §7).
//     Webshells lists the planted paths that answer 200: one under /ecp is
//     hidden when ECP is blocked, one under /owa by an off-site redirect.
type Expectation struct {
	Target    string `json:"target,omitempty"`
	Name      string `json:"name,omitempty"`
	Kind      Kind   `json:"kind"`
	Reachable bool   `json:"reachable"`
	Exchange  bool   `json:"exchange"`
	Product   string `json:"product,omitempty"`
	// Build is the canonical short form (15.2.858.5, or 15.1.2176 for a CU).
	Build      string `json:"build,omitempty"`
	BuildExact bool   `json:"build_exact"`
	CU         string `json:"cu,omitempty"`
	Update     string `json:"update,omitempty"`
	Match      string `json:"match,omitempty"`
	Verdict    string `json:"verdict"`
	// Source is the technique that yields Build (Source* constants).
	Source string `json:"source,omitempty"`
	// Installed is the configured build, which may be better than what a
	// scanner can see; InstalledVerdict is its verdict.
	Installed        string   `json:"installed,omitempty"`
	InstalledVerdict string   `json:"installed_verdict,omitempty"`
	FEServer         string   `json:"fe_server,omitempty"`
	Webshells        []string `json:"webshells,omitempty"`
	// CertSubject is the served certificate's subject in Go's pkix.Name.String
	// form (empty when there is no TLS).
	CertSubject string `json:"cert_subject,omitempty"`
	// CertCN is the subject's common name as sent (not escaped).
	CertCN         string   `json:"cert_cn,omitempty"`
	CertExpired    bool     `json:"cert_expired,omitempty"`
	TLS10Only      bool     `json:"tls10_only,omitempty"`
	NeedsBrowserUA bool     `json:"needs_browser_ua,omitempty"`
	Modes          []string `json:"modes"`
	Note           string   `json:"note,omitempty"`
}

// Expect computes the expectation of a server config (without a target, and
// with FEServer as configured; Lab.Expectations fills both).
func Expect(s Server) (Expectation, error) {
	r, err := resolve(s)
	if err != nil {
		return Expectation{}, err
	}
	return expect(r, r.FEServer), nil
}

// Expectations lists the truth of every server, in config order.
func (l *Lab) Expectations() []Expectation {
	out := make([]Expectation, len(l.insts))
	for i, in := range l.insts {
		e := expect(in.cfg, in.fe)
		e.Target = in.addr.String()
		out[i] = e
	}
	return out
}

// candidate is one version a scanner can see.
type candidate struct {
	v      exchange.Version
	source string
}

func expect(r resolved, fe string) Expectation {
	e := Expectation{Name: r.Name, Kind: r.Kind, Modes: r.modes()}
	if r.Kind.raw() {
		e.Verdict = VerdictUnreachable
		return e
	}
	e.Reachable = true
	subj := flavourOf(r).subject()
	e.CertSubject, e.CertCN = subj.String(), subj.CommonName
	e.CertExpired = r.ExpiredCert
	e.TLS10Only = r.TLS10Only
	e.NeedsBrowserUA = r.WAF
	for _, p := range r.Webshells {
		if shellVisible(r, p) {
			e.Webshells = append(e.Webshells, p)
		}
	}
	slices.Sort(e.Webshells)
	if r.Kind != KindExchange {
		e.Verdict = VerdictNotExchange
		return e
	}
	e.Exchange = true
	e.Installed = r.build.String()
	e.InstalledVerdict = lookup(r.build).Verdict()
	if !r.legacy {
		e.FEServer = fe
		if r.HostileStrings {
			e.FEServer = HostileFEServer
		}
	}

	ecp := !r.legacy && r.ECP == ECPPublished
	var seen []candidate // 4-part values, in order of preference
	if ecp {
		seen = append(seen, candidate{r.manifest, SourceManifest})
	}
	if r.HeaderMode.visible() {
		seen = append(seen, candidate{r.owa, SourceHeader})
	}
	if r.legacy {
		seen = append(seen, candidate{r.owa, SourceOWAPath4})
	}

	var build exchange.Version
	switch {
	case ecp && knownBuild(r.build):
		// Rule a.
		build, e.Source = r.build, SourceECPFolder
		if r.manifest == r.build {
			e.Source = SourceManifest
		}
	case len(seen) > 0:
		// Rule b: the highest value; on a tie the first in preference order.
		best := seen[0]
		for _, c := range seen[1:] {
			if c.v.Compare(best.v) > 0 {
				best = c
			}
		}
		if best.v != r.build {
			e.Note = notFound(r, best)
		}
		build, e.Source = best.v, best.source
	case !r.legacy && r.Redirect == RedirectNone && !r.HidePath:
		// Rule c.
		build, e.Source = r.build.CU(), SourceOWAPath3
	default:
		// Rule d.
		e.Source = SourceFEServer
		e.Verdict = exchange.StateUndetermined
		e.Note = "no version source is visible: OWA is redirected or its build folder hidden, X-OWA-Version is not usable and ECP is not published"
		return e
	}
	res := lookup(build)
	e.Build = build.String()
	e.BuildExact = build.Exact()
	e.Product, e.CU, e.Update, e.Match = res.Product, res.CU, res.Update, res.Match
	e.Verdict = res.Verdict()
	return e
}

// notFound explains why the visible build is not the installed one.
func notFound(r resolved, best candidate) string {
	switch {
	case best.source == SourceHeader && !r.legacy && r.owa.Compare(r.build) < 0 && r.ECP != ECPPublished:
		return fmt.Sprintf("the installed build %s is not visible: ECP is not published and X-OWA-Version shows %s", r.build, r.owa)
	case best.source == SourceManifest && !knownBuild(r.build):
		return fmt.Sprintf("the installed build %s is not in the knowledge base, so the /ecp/<build>/exporttool/ confirmation cannot find it; the manifest shows %s", r.build, r.manifest)
	}
	return fmt.Sprintf("the installed build %s is not visible; the best visible value is %s (%s)", r.build, best.v, best.source)
}
