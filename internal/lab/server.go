package lab

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/exsweep/exsweep/internal/exchange"
)

// Kind is what answers on a lab address. Exactly one per server; the flags in
// Server (WAF, TLS10Only, …) modify an Exchange or IIS site.
type Kind string

const (
	// KindExchange is Exchange 2010 (14.x) or 2013/2016/2019/SE (15.x), by Build.
	KindExchange Kind = "exchange"
	// KindPlainIIS is an IIS 10 server with only the default "IIS Windows Server"
	// page: 200 on "/", IIS 404 elsewhere.
	KindPlainIIS Kind = "plain-iis"
	// KindCatchAll200 answers 200 with the same HTML to every path and method, the
	// way single-page apps and parked domains do; web-shell and exporttool checks
	// must not believe it.
	KindCatchAll200 Kind = "catch-all-200"
	// KindNginx is an nginx default site: "Welcome to nginx!" on "/", nginx 404
	// elsewhere (the commonest non-IIS answer on 443).
	KindNginx Kind = "nginx"
	// KindTarpit accepts TCP and never answers (no TLS ServerHello); the
	// connection is held until the client closes it, Options.TarpitTimeout passes,
	// or the lab closes.
	KindTarpit Kind = "tarpit"
	// KindReset accepts TCP and closes at once with an RST (SO_LINGER 0).
	KindReset Kind = "reset"
	// KindGarbage writes random non-TLS, non-HTTP bytes and closes.
	KindGarbage Kind = "garbage"
)

// Kinds lists every Kind, for coverage tests and the mix generator.
var Kinds = []Kind{KindExchange, KindPlainIIS, KindCatchAll200, KindNginx, KindTarpit, KindReset, KindGarbage}

// raw reports whether the kind never completes a TLS handshake.
func (k Kind) raw() bool { return k == KindTarpit || k == KindReset || k == KindGarbage }

// HeaderMode says how X-OWA-Version appears on the responses that carry it
// (the /owa/ redirect and the anonymous 401 endpoints on 2013+; the logon page on
// 2010).
type HeaderMode string

const (
	HeaderPresent   HeaderMode = "present"   // X-OWA-Version: <OWAVersion>
	HeaderStripped  HeaderMode = "stripped"  // removed by an IIS outbound rule
	HeaderEmpty     HeaderMode = "empty"     // X-OWA-Version: (empty value; righel commit 912587b)
	HeaderLowercase HeaderMode = "lowercase" // x-owa-version: <OWAVersion> (wapiti issue #196)
	HeaderLongForm  HeaderMode = "long"      // X-OWA-Version: 15.02.0858.005 (rewritten, leading zeros)
)

// HeaderModes lists every HeaderMode.
var HeaderModes = []HeaderMode{HeaderPresent, HeaderStripped, HeaderEmpty, HeaderLowercase, HeaderLongForm}

// visible reports whether a scanner can read a version from the header.
func (h HeaderMode) visible() bool {
	return h == HeaderPresent || h == HeaderLowercase || h == HeaderLongForm
}

// ECPMode says whether /ecp is published on the address.
type ECPMode string

const (
	ECPPublished ECPMode = "published" // /ecp/* answers as on a default install
	ECP403       ECPMode = "403"       // every /ecp and /ecp/* path: IIS 403 (IP restriction)
	ECP404       ECPMode = "404"       // every /ecp and /ecp/* path: IIS 404 (not published)
)

// ECPModes lists every ECPMode.
var ECPModes = []ECPMode{ECPPublished, ECP403, ECP404}

// RedirectMode breaks OWA with redirects.
type RedirectMode string

const (
	RedirectNone RedirectMode = ""
	// RedirectLoop: /owa/ → /owa/auth/logon.aspx?… → /owa/ → … (a broken OWA
	// vdir). The logon page is never served; the 302s still carry X-FEServer and
	// X-OWA-Version (per HeaderMode) because Exchange itself answers.
	RedirectLoop RedirectMode = "loop"
	// RedirectOffsite: every /owa path 302s to RedirectTo (an IIS HTTP redirect
	// after a move to Exchange Online). Those 302s carry no Exchange headers.
	RedirectOffsite RedirectMode = "offsite"
)

// DefaultRedirectTo is the target of RedirectOffsite: the .invalid TLD never
// resolves (RFC 2606), so a scanner that follows it cannot leave the machine.
const DefaultRedirectTo = "https://owa.moved.invalid/owa/"

// Server configures one simulated server. The zero value (plus Build) is a
// default Exchange install: header present, ECP published, no failure mode.
type Server struct {
	// Name is a free label shown in the truth file and summaries.
	Name string `json:"name,omitempty"`
	// Kind is what answers; "" means KindExchange.
	Kind Kind `json:"kind,omitempty"`

	// Build is the installed 4-part build (ExSetup version), e.g. "15.1.2176.9";
	// a 14.x build for Exchange 2010. Required for KindExchange, ignored otherwise.
	Build string `json:"build,omitempty"`
	// OWAVersion is the X-OWA-Version value (and, on 2010, the 4-part folder in the
	// logon page). Empty means Build. It may be below the CU's first build (2019
	// CU9 shows 15.2.858.2 while the build is 15.2.858.5, remote.md §1.3) or in
	// long form ("15.02.0858.005"); on 15.x it must name Build's CU.
	OWAVersion string `json:"owa_version,omitempty"`
	// ManifestVersion is the exporttool manifest version. Empty means Build, or
	// the CU's first build when ManifestAtCU is set. On 15.x it must name Build's CU.
	ManifestVersion string `json:"manifest_version,omitempty"`
	// ManifestAtCU models a manifest that an SU did not rewrite: it keeps the CU's
	// first (release) build while /ecp/<Build>/ is the installed build. No public
	// sample proves either behaviour (remote.md §1.2 T4), so the lab has both.
	ManifestAtCU bool `json:"manifest_at_cu,omitempty"`

	HeaderMode HeaderMode `json:"header_mode,omitempty"` // "" means HeaderPresent
	ECP        ECPMode    `json:"ecp,omitempty"`         // "" means ECPPublished
	// HidePath removes the build folder from logon-page URLs (/owa/auth/themes/…),
	// as a documented IIS outbound rewrite does (remote.md §1.2 T1).
	HidePath bool `json:"hide_path,omitempty"`

	// FEServer is the front-end name in X-FEServer (2013+); empty picks one from
	// the address. X-CalculatedBETarget is its lower-case FQDN under Hostname's domain.
	FEServer string `json:"fe_server,omitempty"`
	// Hostname is the public DNS name: Basic realm, X-CalculatedBETarget domain,
	// and the Location host when a request has no Host header. Redirects
	// otherwise use the request's Host, as IIS does. Empty: mail.<name>.example.
	Hostname string `json:"hostname,omitempty"`
	// LogonPageSize is the logon page size in bytes (padding inside an inline
	// style block). 0: DefaultLogonPageSize on 15.x (the 57 KB page of
	// http-examples.md §C1), the unpadded template on 2010. The real 2016 CU15
	// page of §A2 is 124,371 bytes.
	LogonPageSize int `json:"logon_page_size,omitempty"`

	// WAF answers 403 to every request whose User-Agent lacks "Mozilla/5.0".
	WAF bool `json:"waf,omitempty"`
	// TLS10Only offers TLS 1.0 only with TLS_RSA_WITH_AES_128_CBC_SHA and an RSA
	// certificate, like an unpatched 2010/2013 host.
	TLS10Only bool `json:"tls10_only,omitempty"`
	// ExpiredCert serves a certificate that expired on 2021-01-01 (RSA).
	ExpiredCert bool `json:"expired_cert,omitempty"`
	// HugeBody makes the logon page HugeBodySize bytes (scanners must cap reads).
	HugeBody bool `json:"huge_body,omitempty"`
	// Redirect breaks OWA with redirects (15.x only).
	Redirect RedirectMode `json:"redirect,omitempty"`
	// RedirectTo is the RedirectOffsite target; empty means DefaultRedirectTo.
	RedirectTo string `json:"redirect_to,omitempty"`
	// HostileStrings puts `<script>alert(1)</script>` and control characters
	// into the logon-page title, X-FEServer and the certificate subject, for
	// escaping tests elsewhere. Header values carry only bytes Go's HTTP client
	// accepts (it rejects C0 controls in headers), so the response stays readable.
	HostileStrings bool `json:"hostile_strings,omitempty"`
	// Webshells are planted paths (e.g. /aspnet_client/system_web/x.aspx,
	// /owa/auth/errorEEE.aspx) that answer 200 with a small China-Chopper-like
	// page. Exchange and plain IIS only; matched case-insensitively like IIS.
	Webshells []string `json:"webshells,omitempty"`
}

// DefaultLogonPageSize is the size of the 15.x logon page: 58,714 bytes, the
// Length of the logon page in the wget log of http-examples.md §C1.
const DefaultLogonPageSize = 58714

// HugeBodySize is the logon page size in HugeBody mode.
const HugeBodySize = 10 << 20

// Hostile strings (HostileStrings). The header value avoids C0 controls, which
// Go's client refuses; it uses U+202E (right-to-left override) and a tab instead.
const (
	HostileTitle    = "Outlook<script>alert(1)</script>\x1b[31m\x07\u202e"
	HostileFEServer = "EX01<script>alert(1)</script>\t\u202e\"'"
)

// Mode names: every way a lab server can differ from a default install. Modes
// returns the ones a server uses; the all-modes mix covers every one.
const (
	ModeExchange2010    = "exchange-2010"
	ModeExchange2013    = "exchange-2013"
	ModeExchange2016    = "exchange-2016"
	ModeExchange2019    = "exchange-2019"
	ModeExchangeSE      = "exchange-se"
	ModePlainIIS        = "plain-iis"
	ModeCatchAll200     = "catch-all-200"
	ModeNginx           = "nginx"
	ModeTarpit          = "tarpit"
	ModeReset           = "reset"
	ModeGarbage         = "garbage"
	ModeHeaderStripped  = "header-stripped"
	ModeHeaderEmpty     = "header-empty"
	ModeHeaderLowercase = "header-lowercase"
	ModeHeaderLongForm  = "header-long"
	ModeECP403          = "ecp-403"
	ModeECP404          = "ecp-404"
	ModeHidePath        = "hide-path"
	ModeOWABelowCU      = "owa-below-cu"
	ModeManifestAtCU    = "manifest-at-cu"
	ModeUnknownBuild    = "unknown-build" // a build not in the knowledge base: the ECP folder probe cannot confirm it
	ModeWAF             = "waf"
	ModeTLS10Only       = "tls10-only"
	ModeExpiredCert     = "expired-cert"
	ModeHugeBody        = "huge-body"
	ModeRedirectLoop    = "redirect-loop"
	ModeRedirectOffsite = "redirect-offsite"
	ModeHostileStrings  = "hostile-strings"
	ModeWebshells       = "webshells"
)

// AllModes lists every mode name.
var AllModes = []string{
	ModeExchange2010, ModeExchange2013, ModeExchange2016, ModeExchange2019, ModeExchangeSE,
	ModePlainIIS, ModeCatchAll200, ModeNginx, ModeTarpit, ModeReset, ModeGarbage,
	ModeHeaderStripped, ModeHeaderEmpty, ModeHeaderLowercase, ModeHeaderLongForm,
	ModeECP403, ModeECP404, ModeHidePath, ModeOWABelowCU, ModeManifestAtCU, ModeUnknownBuild,
	ModeWAF, ModeTLS10Only, ModeExpiredCert, ModeHugeBody, ModeRedirectLoop, ModeRedirectOffsite,
	ModeHostileStrings, ModeWebshells,
}

// ErrConfig is wrapped by every Server validation error.
var ErrConfig = errors.New("lab server config")

// kb is the knowledge base used for validation, the mix and the truth; it is
// immutable and safe to share.
var kb = exchange.Default()

// resolved is a validated Server with defaults applied and versions parsed.
type resolved struct {
	Server
	build, owa, manifest exchange.Version
	product              string // "Exchange 2016", … ("" when not Exchange)
	legacy               bool   // Exchange 2010 (14.x)
}

// resolve validates s and fills defaults. It never changes s.
func resolve(s Server) (resolved, error) {
	r := resolved{Server: s}
	r.Webshells = slices.Clone(s.Webshells)
	if r.Kind == "" {
		r.Kind = KindExchange
	}
	if !slices.Contains(Kinds, r.Kind) {
		return r, fmt.Errorf("%w: kind %q is not one of %v", ErrConfig, s.Kind, Kinds)
	}
	if r.HeaderMode == "" {
		r.HeaderMode = HeaderPresent
	}
	if !slices.Contains(HeaderModes, r.HeaderMode) {
		return r, fmt.Errorf("%w: header mode %q is not one of %v", ErrConfig, s.HeaderMode, HeaderModes)
	}
	if r.ECP == "" {
		r.ECP = ECPPublished
	}
	if !slices.Contains(ECPModes, r.ECP) {
		return r, fmt.Errorf("%w: ecp mode %q is not one of %v", ErrConfig, s.ECP, ECPModes)
	}
	switch r.Redirect {
	case RedirectNone, RedirectLoop, RedirectOffsite:
	default:
		return r, fmt.Errorf("%w: redirect %q is not one of loop, offsite", ErrConfig, s.Redirect)
	}
	if r.Redirect == RedirectOffsite && r.RedirectTo == "" {
		r.RedirectTo = DefaultRedirectTo
	}
	if r.LogonPageSize < 0 || r.LogonPageSize > 64<<20 {
		return r, fmt.Errorf("%w: logon page size %d is outside 0..64 MiB", ErrConfig, s.LogonPageSize)
	}
	if r.Kind.raw() && (r.WAF || r.TLS10Only || r.ExpiredCert || r.HostileStrings) {
		return r, fmt.Errorf("%w: %s never completes a TLS handshake, so WAF/TLS/certificate/hostile flags mean nothing", ErrConfig, r.Kind)
	}
	if len(r.Webshells) > 0 && r.Kind != KindExchange && r.Kind != KindPlainIIS {
		return r, fmt.Errorf("%w: web shells can be planted on exchange or plain-iis, not %s", ErrConfig, r.Kind)
	}
	for i, p := range r.Webshells {
		if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#\x00") || !strings.HasSuffix(strings.ToLower(p), ".aspx") {
			return r, fmt.Errorf("%w: web shell %q must be an absolute .aspx path without query", ErrConfig, p)
		}
		if builtinPath(strings.ToLower(p)) {
			return r, fmt.Errorf("%w: web shell %q collides with a real Exchange path", ErrConfig, p)
		}
		for _, q := range r.Webshells[:i] {
			if strings.EqualFold(p, q) {
				return r, fmt.Errorf("%w: web shell %q listed twice", ErrConfig, p)
			}
		}
	}
	if r.Kind != KindExchange {
		if r.Redirect != RedirectNone || r.HugeBody || r.HidePath || r.ManifestAtCU {
			return r, fmt.Errorf("%w: redirect, huge-body, hide-path and manifest-at-cu need kind exchange", ErrConfig)
		}
		return r, nil
	}
	return r, r.resolveExchange()
}

func (r *resolved) resolveExchange() error {
	var err error
	if r.build, err = exchange.Parse(r.Build); err != nil || !r.build.Exact() {
		return fmt.Errorf("%w: build %q must be a 4-part Exchange build (%v)", ErrConfig, r.Build, err)
	}
	p, ok := kb.ProductOf(r.build)
	if !ok || r.build.Major != 14 && r.build.Major != 15 {
		return fmt.Errorf("%w: build %s is not Exchange 2010 (14.x) or 2013 and later (15.x)", ErrConfig, r.build)
	}
	r.product = p.Name
	r.legacy = r.build.Major == 14
	owa := r.OWAVersion
	if owa == "" {
		owa = r.Build
	}
	r.OWAVersion = owa
	if r.owa, err = exchange.Parse(owa); err != nil || !r.owa.Exact() {
		return fmt.Errorf("%w: owa version %q must be a 4-part build (%v)", ErrConfig, r.OWAVersion, err)
	}
	if r.legacy && r.owa.Major != 14 || !r.legacy && !r.owa.SameCU(r.build) {
		// On 15.x the logon page shows Build's CU; an X-OWA-Version of another CU
		// would describe two servers at once and leave the truth undefined.
		return fmt.Errorf("%w: owa version %s does not belong to build %s", ErrConfig, r.owa, r.build)
	}
	if r.legacy {
		if r.ManifestVersion != "" || r.ManifestAtCU || r.Redirect != RedirectNone {
			return fmt.Errorf("%w: Exchange 2010 has no exporttool manifest, and the redirect modes are modelled on 2013+ only", ErrConfig)
		}
		if r.HidePath {
			return fmt.Errorf("%w: hide-path is modelled on 2013+ only", ErrConfig)
		}
		return nil
	}
	man := r.ManifestVersion
	if r.ManifestAtCU {
		first, ok := cuRelease(r.build)
		if !ok {
			return fmt.Errorf("%w: manifest-at-cu: the knowledge base has no release build for %s", ErrConfig, r.build.CU())
		}
		// Both may be set when they agree (Lab.Servers returns such configs).
		if man != "" {
			if v, err := exchange.Parse(man); err != nil || v != first {
				return fmt.Errorf("%w: manifest version %s contradicts manifest-at-cu (%s)", ErrConfig, man, first)
			}
		}
		man = first.String()
	}
	if man == "" {
		man = r.Build
	}
	if r.manifest, err = exchange.Parse(man); err != nil || !r.manifest.Exact() || !r.manifest.SameCU(r.build) {
		return fmt.Errorf("%w: manifest version %q must be a 4-part build of %s", ErrConfig, man, r.build.CU())
	}
	r.ManifestVersion = r.manifest.String()
	return nil
}

// cuRelease is the first published (release) build of v's CU.
func cuRelease(v exchange.Version) (exchange.Version, bool) {
	for _, b := range kbGroup(v) {
		if b.Kind == exchange.KindRelease {
			return b.Version, true
		}
	}
	return exchange.Version{}, false
}

// kbGroup lists the usable (not erratum) knowledge-base builds of v's CU, lowest
// first. The slice is shared: callers must not modify it.
func kbGroup(v exchange.Version) []exchange.BuildInfo { return kbGroups[v.CU()] }

var (
	kbBuilds = kb.Builds("")
	kbGroups = func() map[exchange.Version][]exchange.BuildInfo {
		m := map[exchange.Version][]exchange.BuildInfo{}
		for _, b := range kbBuilds {
			if b.Kind != exchange.KindErratum {
				m[b.Version.CU()] = append(m[b.Version.CU()], b)
			}
		}
		return m
	}()
)

var (
	lookupMu   sync.Mutex
	lookupMemo = map[exchange.Version]exchange.Result{}
)

// lookup is kb.Lookup memoised: the truth of 10,000 servers repeats a few
// hundred builds, and a lookup decides every CVE. The verdict does not depend
// on the date (only end-of-life does, which the truth does not use).
func lookup(v exchange.Version) exchange.Result {
	lookupMu.Lock()
	defer lookupMu.Unlock()
	if r, ok := lookupMemo[v]; ok {
		return r
	}
	r := kb.Lookup(v, time.Now())
	lookupMemo[v] = r
	return r
}

// knownBuild reports whether v is a usable build in the knowledge base: one a
// scanner can confirm by enumerating /ecp/<build>/exporttool/.
func knownBuild(v exchange.Version) bool {
	for _, b := range kbGroup(v) {
		if b.Version == v {
			return true
		}
	}
	return false
}

// Modes lists the mode names s uses (see AllModes), or nil when s is invalid.
func (s Server) Modes() []string {
	r, err := resolve(s)
	if err != nil {
		return nil
	}
	return r.modes()
}

func (r resolved) modes() []string {
	var m []string
	add := func(ok bool, name string) {
		if ok {
			m = append(m, name)
		}
	}
	switch r.Kind {
	case KindExchange:
		switch r.product {
		case "Exchange 2010":
			m = append(m, ModeExchange2010)
		case "Exchange 2013":
			m = append(m, ModeExchange2013)
		case "Exchange 2016":
			m = append(m, ModeExchange2016)
		case "Exchange 2019":
			m = append(m, ModeExchange2019)
		case "Exchange SE":
			m = append(m, ModeExchangeSE)
		}
		add(r.HeaderMode == HeaderStripped, ModeHeaderStripped)
		add(r.HeaderMode == HeaderEmpty, ModeHeaderEmpty)
		add(r.HeaderMode == HeaderLowercase, ModeHeaderLowercase)
		add(r.HeaderMode == HeaderLongForm, ModeHeaderLongForm)
		add(r.ECP == ECP403, ModeECP403)
		add(r.ECP == ECP404, ModeECP404)
		add(r.HidePath, ModeHidePath)
		if first, ok := cuRelease(r.build); ok && !r.legacy {
			add(r.owa.Compare(first) < 0, ModeOWABelowCU)
		}
		add(!r.legacy && r.manifest != r.build, ModeManifestAtCU)
		add(!knownBuild(r.build), ModeUnknownBuild)
		add(r.HugeBody, ModeHugeBody)
		add(r.Redirect == RedirectLoop, ModeRedirectLoop)
		add(r.Redirect == RedirectOffsite, ModeRedirectOffsite)
	case KindPlainIIS:
		m = append(m, ModePlainIIS)
	case KindCatchAll200:
		m = append(m, ModeCatchAll200)
	case KindNginx:
		m = append(m, ModeNginx)
	case KindTarpit:
		m = append(m, ModeTarpit)
	case KindReset:
		m = append(m, ModeReset)
	case KindGarbage:
		m = append(m, ModeGarbage)
	}
	add(r.WAF, ModeWAF)
	add(r.TLS10Only, ModeTLS10Only)
	add(r.ExpiredCert, ModeExpiredCert)
	add(r.HostileStrings, ModeHostileStrings)
	add(len(r.Webshells) > 0, ModeWebshells)
	return m
}

// Validate reports whether s is a usable configuration.
func (s Server) Validate() error {
	_, err := resolve(s)
	return err
}

// shellVisible reports whether a planted web shell answers: a shell under /ecp
// is behind the same block as the rest of ECP, and one under /owa is behind an
// off-site redirect of the whole vdir.
func shellVisible(r resolved, path string) bool {
	lp := strings.ToLower(path)
	switch {
	case strings.HasPrefix(lp, "/ecp/"):
		return r.ECP == ECPPublished
	case strings.HasPrefix(lp, "/owa/"):
		return r.Redirect != RedirectOffsite
	}
	return true
}
