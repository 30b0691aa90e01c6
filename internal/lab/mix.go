package lab

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/exsweep/exsweep/internal/exchange"
)

// Mix kinds.
const (
	// MixRealistic is a March-2021-like population (see Mix).
	MixRealistic = "realistic"
	// MixUniform spreads servers evenly over AllModes (each mode in turn, random
	// builds): every mode at least once when n >= len(AllModes).
	MixUniform = "uniform"
	// MixAllModes is a fixed catalogue of hand-picked cases that covers every
	// mode and every truth rule, then uniform servers to fill n.
	MixAllModes = "all-modes"
)

// MixKinds lists the kinds Mix accepts.
var MixKinds = []string{MixRealistic, MixUniform, MixAllModes}

// MinServers is the smallest n Mix accepts for a kind (the catalogue size for
// all-modes, 1 otherwise).
func MinServers(kind string) int {
	if kind == MixAllModes {
		return len(catalogue())
	}
	return 1
}

// Mix generates n server configs. The result depends only on n, seed, kind and
// the embedded knowledge base (a newer knowledge base changes the builds drawn).
//
// The realistic mix models the Internet-facing population in March 2021, right
// after ProxyLogon (proportions are rough public-report orders of magnitude, not
// measurements):
//   - 3% unreachable (tarpit, reset, garbage), 10% not Exchange (IIS default
//     page 5%, nginx 3%, catch-all 200 2%);
//   - Exchange: 2010 10%, 2013 24%, 2016 46%, 2019 20%; the CU drawn with
//     weights rising 20% per CU toward the newest released by 2021-03-02;
//   - on CUs that received the March 2021 SU: 40% not patched (the CU's
//     release build or an older SU), 40% Mar21SU, 20% a later SU of the same
//     CU; 8% of 2013+ servers are on a CU released later (to the end of 2022);
//   - X-OWA-Version present 62%, stripped 20%, lower-case 8%, empty 5%, long
//     form 5%; ECP published 72%, 403 16%, 404 12%; exporttool manifest kept at
//     the CU on 10% of servers with an SU; the 2019 CU9 OwaVersion 15.2.858.2
//     on 70% of CU9 servers; 1% with the build folder hidden; 1% unknown
//     interim builds;
//   - failure modes on Exchange: WAF 3%, TLS 1.0 only (2010 20%, 2013 5%),
//     expired certificate 8%, 10 MB logon page 1%, redirect loop 1%,
//     off-site redirect 1%, hostile strings 0.5%; web shells on 6% of
//     servers not patched for ProxyLogon and 2% of patched ones.
func Mix(n int, seed int64, kind string) ([]Server, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: %d servers", ErrOptions, n)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6d6978)) // "mix"
	switch kind {
	case MixRealistic:
		out := make([]Server, n)
		for i := range out {
			out[i] = realistic(rng)
			out[i].Name = fmt.Sprintf("r%05d", i+1)
		}
		return out, nil
	case MixUniform:
		return uniform(n, rng, 0), nil
	case MixAllModes:
		cat := catalogue()
		if n < len(cat) {
			return nil, fmt.Errorf("%w: the all-modes mix needs at least %d servers, %d asked", ErrOptions, len(cat), n)
		}
		return append(cat, uniform(n-len(cat), rng, len(cat))...), nil
	}
	return nil, fmt.Errorf("%w: mix %q is not one of %v", ErrOptions, kind, MixKinds)
}

var (
	mar21   = time.Date(2021, 3, 2, 0, 0, 0, 0, time.UTC)
	end2022 = time.Date(2022, 12, 31, 0, 0, 0, 0, time.UTC)
)

// released reports whether b was published on or before t (month-precision
// dates count as the first of the month).
func released(b exchange.BuildInfo, t time.Time) bool { return !b.Released.T.After(t) }

// usable is a build the generator may install: published, not an erratum or a
// preview.
func usable(b exchange.BuildInfo) bool {
	return b.Kind != exchange.KindErratum && b.CU != "Preview" && b.Kind != exchange.KindInterim
}

// releases lists the release (first CU/SP) builds of a product published in
// [from, to].
func releases(product string, from, to time.Time) []exchange.BuildInfo {
	var out []exchange.BuildInfo
	for _, b := range kbBuilds {
		if b.Product == product && usable(b) && b.Kind == exchange.KindRelease && !b.Released.T.Before(from) && released(b, to) {
			out = append(out, b)
		}
	}
	return out
}

// pickWeighted draws an index with weights 1.2^i: later (newer) entries are
// more likely, older ones still common.
func pickWeighted(rng *rand.Rand, n int) int {
	total, w := 0.0, 1.0
	ws := make([]float64, n)
	for i := range ws {
		ws[i] = w
		total += w
		w *= 1.2
	}
	x := rng.Float64() * total
	for i, w := range ws {
		if x < w {
			return i
		}
		x -= w
	}
	return n - 1
}

func chance(rng *rand.Rand, p float64) bool { return rng.Float64() < p }

func realistic(rng *rand.Rand) Server {
	x := rng.Float64()
	switch {
	case x < 0.012:
		return Server{Kind: KindTarpit}
	case x < 0.022:
		return Server{Kind: KindReset}
	case x < 0.030:
		return Server{Kind: KindGarbage}
	case x < 0.080:
		s := Server{Kind: KindPlainIIS, ExpiredCert: chance(rng, 0.1)}
		if chance(rng, 0.02) {
			s.Webshells = shellPaths(rng, 1)
		}
		return s
	case x < 0.110:
		return Server{Kind: KindNginx}
	case x < 0.130:
		return Server{Kind: KindCatchAll200}
	}
	var s Server
	x = rng.Float64()
	var product string
	switch {
	case x < 0.10:
		product = "Exchange 2010"
	case x < 0.34:
		product = "Exchange 2013"
	case x < 0.80:
		product = "Exchange 2016"
	default:
		product = "Exchange 2019"
	}
	s.Build = realisticBuild(rng, product).String()
	v := exchange.MustParse(s.Build)
	legacy := v.Major == 14

	x = rng.Float64()
	switch {
	case x < 0.62:
		s.HeaderMode = HeaderPresent
	case x < 0.82:
		s.HeaderMode = HeaderStripped
	case x < 0.90:
		s.HeaderMode = HeaderLowercase
	case x < 0.95:
		s.HeaderMode = HeaderEmpty
	default:
		s.HeaderMode = HeaderLongForm
	}
	x = rng.Float64()
	switch {
	case x < 0.72:
		s.ECP = ECPPublished
	case x < 0.88:
		s.ECP = ECP403
	default:
		s.ECP = ECP404
	}
	if !legacy {
		if first, ok := cuRelease(v); ok && first != v && chance(rng, 0.10) {
			s.ManifestAtCU = true
		}
		if v.String() == "15.2.858.5" && chance(rng, 0.7) {
			s.OWAVersion = "15.2.858.2" // remote.md §1.3
		}
		s.HidePath = chance(rng, 0.01)
		x = rng.Float64()
		switch {
		case x < 0.01:
			s.Redirect = RedirectLoop
		case x < 0.02:
			s.Redirect = RedirectOffsite
		}
		s.HugeBody = chance(rng, 0.01)
	}
	s.WAF = chance(rng, 0.03)
	switch {
	case legacy:
		s.TLS10Only = chance(rng, 0.20)
	case v.Minor == 0:
		s.TLS10Only = chance(rng, 0.05)
	}
	s.ExpiredCert = chance(rng, 0.08)
	s.HostileStrings = chance(rng, 0.005)
	shellRate := 0.02
	if proxyLogonOpen(v) {
		shellRate = 0.06
	}
	if chance(rng, shellRate) {
		s.Webshells = shellPaths(rng, 1+rng.IntN(2))
	}
	return s
}

// proxyLogonOpen reports whether the knowledge base says CVE-2021-26855 is
// not fixed in v (ProxyLogon does not apply to 2010, which had other CVEs).
func proxyLogonOpen(v exchange.Version) bool {
	for _, c := range lookup(v).CVEs {
		if c.ID == "CVE-2021-26855" {
			return c.State != exchange.StatePatched
		}
	}
	return false
}

// realisticBuild draws a build of product as described in Mix.
func realisticBuild(rng *rand.Rand, product string) exchange.Version {
	if product == "Exchange 2010" {
		// 2010 rollups change the third part; draw among every published SP3
		// build up to March 2021, newest most likely.
		var builds []exchange.BuildInfo
		for _, b := range kbBuilds {
			if b.Product == product && usable(b) && b.CU == "SP3" && released(b, mar21) {
				builds = append(builds, b)
			}
		}
		return builds[pickWeighted(rng, len(builds))].Version
	}
	cus := releases(product, time.Time{}, mar21)
	if chance(rng, 0.08) {
		if later := releases(product, mar21.AddDate(0, 0, 1), end2022); len(later) > 0 {
			cu := later[rng.IntN(len(later))]
			return pickIn(rng, kbGroup(cu.Version), func(b exchange.BuildInfo) bool { return released(b, end2022) })
		}
	}
	cu := cus[pickWeighted(rng, len(cus))]
	group := kbGroup(cu.Version)
	var mar *exchange.BuildInfo
	for i, b := range group {
		if b.Update == "Mar21SU" {
			mar = &group[i] // the highest Mar21SU row (Microsoft's value where two exist)
		}
	}
	before := func(b exchange.BuildInfo) bool { return usable(b) && b.Released.T.Before(mar21) }
	if mar == nil {
		if chance(rng, 0.6) {
			return cu.Version
		}
		return pickIn(rng, group, before)
	}
	x := rng.Float64()
	switch {
	case x < 0.40:
		if chance(rng, 0.5) {
			return cu.Version
		}
		return pickIn(rng, group, before)
	case x < 0.80:
		return mar.Version
	}
	if v := pickIn(rng, group, func(b exchange.BuildInfo) bool { return usable(b) && b.Released.T.After(mar21) }); v != cu.Version {
		return v
	}
	return mar.Version
}

// pickIn draws uniformly among the builds of group that pass ok, or returns
// the group's release build when none does.
func pickIn(rng *rand.Rand, group []exchange.BuildInfo, ok func(exchange.BuildInfo) bool) exchange.Version {
	var c []exchange.Version
	for _, b := range group {
		if usable(b) && ok(b) {
			c = append(c, b.Version)
		}
	}
	if len(c) == 0 {
		for _, b := range group {
			if b.Kind == exchange.KindRelease {
				return b.Version
			}
		}
		return group[0].Version
	}
	return c[rng.IntN(len(c))]
}

// Web-shell names and folders from the March 2021 lists (remote.md §7,
// SCS-Labs/HAFNIUM-Microsoft-Exchange-0day indicators; MSERT guidance).
var (
	shellNames = []string{"web.aspx", "help.aspx", "document.aspx", "errorEE.aspx", "errorEEE.aspx", "errorEW.aspx",
		"errorFF.aspx", "healthcheck.aspx", "aspnet_www.aspx", "aspnet_client.aspx", "xx.aspx", "shell.aspx",
		"aspnet_iisstart.aspx", "one.aspx"}
	shellDirs = []string{"/aspnet_client/", "/aspnet_client/system_web/", "/owa/auth/", "/owa/auth/Current/", "/ecp/auth/"}
)

func shellPaths(rng *rand.Rand, n int) []string {
	var out []string
	for len(out) < n {
		p := shellDirs[rng.IntN(len(shellDirs))] + shellNames[rng.IntN(len(shellNames))]
		if !slices.ContainsFunc(out, func(q string) bool { return strings.EqualFold(p, q) }) {
			out = append(out, p)
		}
	}
	return out
}

// uniform makes n servers, mode by mode in a seed-shuffled order of AllModes.
func uniform(n int, rng *rand.Rand, offset int) []Server {
	order := slices.Clone(AllModes)
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	out := make([]Server, n)
	for i := range out {
		m := order[i%len(order)]
		out[i] = modeServer(m, rng)
		out[i].Name = fmt.Sprintf("u%05d-%s", offset+i+1, m)
	}
	return out
}

// randomBuild draws any usable build of product ("" = any 2013+ product).
func randomBuild(rng *rand.Rand, product string) exchange.Version {
	var c []exchange.Version
	for _, b := range kbBuilds {
		if !usable(b) {
			continue
		}
		if product == "" && b.Version.Major == 15 || b.Product == product {
			c = append(c, b.Version)
		}
	}
	return c[rng.IntN(len(c))]
}

// modeServer makes a server that shows mode m (and otherwise defaults).
func modeServer(m string, rng *rand.Rand) Server {
	s := Server{Build: randomBuild(rng, "").String()}
	switch m {
	case ModeExchange2010:
		s.Build = randomBuild(rng, "Exchange 2010").String()
	case ModeExchange2013:
		s.Build = randomBuild(rng, "Exchange 2013").String()
	case ModeExchange2016:
		s.Build = randomBuild(rng, "Exchange 2016").String()
	case ModeExchange2019:
		s.Build = randomBuild(rng, "Exchange 2019").String()
	case ModeExchangeSE:
		s.Build = randomBuild(rng, "Exchange SE").String()
	case ModePlainIIS, ModeCatchAll200, ModeNginx, ModeTarpit, ModeReset, ModeGarbage:
		return Server{Kind: Kind(m)}
	case ModeHeaderStripped:
		s.HeaderMode = HeaderStripped
	case ModeHeaderEmpty:
		s.HeaderMode = HeaderEmpty
	case ModeHeaderLowercase:
		s.HeaderMode = HeaderLowercase
	case ModeHeaderLongForm:
		s.HeaderMode = HeaderLongForm
	case ModeECP403:
		s.ECP = ECP403
	case ModeECP404:
		s.ECP = ECP404
	case ModeHidePath:
		s.HidePath = true
	case ModeOWABelowCU:
		// A CU release build whose revision leaves room below it.
		for {
			v := randomBuild(rng, "")
			first, ok := cuRelease(v)
			if ok && first.Revision > 0 {
				below := first
				below.Revision--
				s.Build, s.OWAVersion = first.String(), below.String()
				s.ECP = ECPModes[1+rng.IntN(2)] // not published: the header is the only 4-part value
				return s
			}
		}
	case ModeManifestAtCU:
		for {
			v := randomBuild(rng, "")
			if first, ok := cuRelease(v); ok && first != v {
				s.Build, s.ManifestAtCU = v.String(), true
				return s
			}
		}
	case ModeUnknownBuild:
		for {
			v := randomBuild(rng, "")
			v.Revision++
			if !knownBuild(v) {
				s.Build = v.String()
				return s
			}
		}
	case ModeWAF:
		s.WAF = true
	case ModeTLS10Only:
		s.TLS10Only = true
	case ModeExpiredCert:
		s.ExpiredCert = true
	case ModeHugeBody:
		s.HugeBody = true
	case ModeRedirectLoop:
		s.Redirect = RedirectLoop
	case ModeRedirectOffsite:
		s.Redirect = RedirectOffsite
	case ModeHostileStrings:
		s.HostileStrings = true
	case ModeWebshells:
		s.Webshells = shellPaths(rng, 1+rng.IntN(3))
	}
	return s
}

// catalogue is the fixed part of the all-modes mix: one server per truth rule
// and per interesting combination, with builds chosen by hand.
func catalogue() []Server {
	return []Server{
		{Name: "2016-cu19-mar21su", Build: "15.1.2176.9"},
		{Name: "2019-cu9-owa-below-cu-ecp403", Build: "15.2.858.5", OWAVersion: "15.2.858.2", ECP: ECP403},
		{Name: "2019-cu9-owa-below-cu-ecp-published", Build: "15.2.858.5", OWAVersion: "15.2.858.2"},
		{Name: "2013-cu23-stripped-ecp404", Build: "15.0.1497.2", HeaderMode: HeaderStripped, ECP: ECP404},
		{Name: "2013-cu23-mar21su-lowercase-ecp403", Build: "15.0.1497.12", HeaderMode: HeaderLowercase, ECP: ECP403},
		{Name: "2016-cu19-manifest-at-cu", Build: "15.1.2176.9", ManifestAtCU: true, HeaderMode: HeaderStripped},
		{Name: "2016-cu19-unknown-manifest-at-cu", Build: "15.1.2176.10", ManifestAtCU: true, HeaderMode: HeaderStripped},
		{Name: "2016-cu20-unknown-build", Build: "15.1.2242.5", HeaderMode: HeaderStripped},
		{Name: "2010-sp3-ru32", Build: "14.3.513.0"},
		{Name: "2010-sp3-owa-14.3.123.3-stripped", Build: "14.3.123.4", OWAVersion: "14.3.123.3", HeaderMode: HeaderStripped},
		{Name: "2010-sp3-ru30-long-form", Build: "14.3.496.0", HeaderMode: HeaderLongForm},
		{Name: "2019-cu8-long-form-ecp404", Build: "15.2.792.10", HeaderMode: HeaderLongForm, ECP: ECP404},
		{Name: "2019-cu8-long-form-config", Build: "15.2.792.3", OWAVersion: "15.02.0792.003", ECP: ECP403},
		{Name: "se-rtm", Build: "15.2.2562.17"},
		{Name: "2016-cu18-empty-header-ecp404", Build: "15.1.2106.13", HeaderMode: HeaderEmpty, ECP: ECP404},
		{Name: "2019-cu7-hide-path-no-source", Build: "15.2.721.2", HidePath: true, HeaderMode: HeaderStripped, ECP: ECP403},
		{Name: "2016-cu17-hide-path-header", Build: "15.1.2044.4", HidePath: true, ECP: ECP404},
		{Name: "2016-cu19-redirect-loop-header", Build: "15.1.2176.2", Redirect: RedirectLoop, ECP: ECP404},
		{Name: "2016-cu19-redirect-loop-no-source", Build: "15.1.2176.2", Redirect: RedirectLoop, HeaderMode: HeaderStripped, ECP: ECP404},
		{Name: "2019-cu8-redirect-offsite", Build: "15.2.792.3", Redirect: RedirectOffsite, HeaderMode: HeaderStripped},
		{Name: "2016-cu19-waf", Build: "15.1.2176.2", WAF: true},
		{Name: "2013-cu23-tls10", Build: "15.0.1497.2", TLS10Only: true, ECP: ECP404, HeaderMode: HeaderStripped},
		{Name: "2010-sp3-tls10-expired", Build: "14.3.509.0", TLS10Only: true, ExpiredCert: true},
		{Name: "2019-cu8-expired-cert", Build: "15.2.792.10", ExpiredCert: true},
		{Name: "2016-cu19-huge-body", Build: "15.1.2176.2", HugeBody: true, HeaderMode: HeaderStripped, ECP: ECP404},
		{Name: "2016-cu15-page-124k", Build: "15.1.1913.5", LogonPageSize: 124371},
		{Name: "2019-cu8-hostile", Build: "15.2.792.3", HostileStrings: true},
		{Name: "2016-cu19-webshells", Build: "15.1.2176.2", Webshells: []string{"/aspnet_client/system_web/x.aspx", "/owa/auth/errorEEE.aspx"}},
		{Name: "2013-cu23-webshell-ecp-blocked", Build: "15.0.1497.2", ECP: ECP403, Webshells: []string{"/ecp/auth/help.aspx", "/aspnet_client/shell.aspx"}},
		{Name: "plain-iis-webshell", Kind: KindPlainIIS, Webshells: []string{"/aspnet_client/system_web/web.aspx"}},
		{Name: "plain-iis", Kind: KindPlainIIS},
		{Name: "nginx", Kind: KindNginx},
		{Name: "catch-all-200", Kind: KindCatchAll200},
		{Name: "tarpit", Kind: KindTarpit},
		{Name: "reset", Kind: KindReset},
		{Name: "garbage", Kind: KindGarbage},
	}
}
