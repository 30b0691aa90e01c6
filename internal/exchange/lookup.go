package exchange

import (
	"fmt"
	"sort"
	"time"
)

// Match says how a version was placed in the build table.
const (
	MatchExact          = "exact"           // a 4-part build that is in the table
	MatchInterim        = "interim"         // a 4-part build not in the table, placed at the nearest known build below it
	MatchBelowCU        = "below-cu"        // revision below the CU's first published build (OwaVersion after a CU install): that CU, no update
	MatchCUOnly         = "cu-only"         // a 3-part build: the CU is known, the update is not
	MatchUnknownCU      = "unknown-cu"      // the product is known, the CU is not in the table
	MatchUnknownProduct = "unknown-product" // no Exchange product has this number
)

// CVE states. Config-dependent CVEs never decide an endpoint's verdict.
const (
	StateVulnerable      = "vulnerable"
	StatePatched         = "patched"
	StateUndetermined    = "undetermined"
	StateConfigDependent = "config-dependent"
)

// CVEState is the verdict for one CVE.
type CVEState struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	State   string `json:"state"`
	FixedIn string `json:"fixed_in,omitempty"`
	Reason  string `json:"reason"`
}

// Result is what the knowledge base knows about one version.
type Result struct {
	Input   string  `json:"input"`
	Version Version `json:"build"`
	Product string  `json:"product,omitempty"`
	CU      string  `json:"cu,omitempty"`
	// Update is the SU/HU/RU of the build; empty for the CU's first build or when
	// unknown (see Match).
	Update   string `json:"update,omitempty"`
	Released string `json:"release_date,omitempty"`
	Match    string `json:"match"`
	// Nearest is the known build the version was placed at (interim, below-cu).
	Nearest      string     `json:"nearest_known,omitempty"`
	Reason       string     `json:"reason"`
	EndOfSupport string     `json:"end_of_support,omitempty"`
	EndOfLife    bool       `json:"end_of_life"`
	CVEs         []CVEState `json:"cves"`
}

// Verdict folds the CVE states: vulnerable if any is, patched if every decidable
// CVE is patched, else undetermined. Config-dependent CVEs do not count.
func (r Result) Verdict() string {
	decided, patched := 0, 0
	undetermined := false
	for _, c := range r.CVEs {
		switch c.State {
		case StateVulnerable:
			return StateVulnerable
		case StatePatched:
			decided++
			patched++
		case StateUndetermined:
			undetermined = true
		}
	}
	if undetermined || r.Match == MatchUnknownProduct || decided == 0 && r.Match == MatchUnknownCU {
		return StateUndetermined
	}
	if patched == decided {
		return StatePatched
	}
	return StateUndetermined
}

// Lookup places a version in the build table and decides every CVE for it, with
// end-of-life status at the given time.
func (kb *KB) Lookup(v Version, at time.Time) Result {
	r := Result{Input: v.String(), Version: v}
	p, ok := kb.ProductOf(v)
	if !ok {
		r.Match = MatchUnknownProduct
		r.Reason = fmt.Sprintf("%s is not the build number of any Exchange product (8.x 2007, 14.x 2010, 15.0 2013, 15.1 2016, 15.2 2019/SE)", v)
		return r
	}
	r.Product = p.Name
	if !p.EndOfSupport.T.IsZero() {
		r.EndOfSupport = p.EndOfSupport.String()
		r.EndOfLife = !at.Before(p.EndOfSupport.T)
	}
	// lo..hi is the range of builds the server may be running; for a 4-part
	// version it is one build.
	lo, hi := v, v
	switch {
	case v.Exact():
		lo, hi = kb.placeExact(v, p, &r)
	default:
		lo, hi = kb.placeCU(v, p, &r)
	}
	r.CVEs = kb.decide(p, lo, hi, r)
	return r
}

func (kb *KB) placeExact(v Version, p Product, r *Result) (Version, Version) {
	if i, ok := kb.byVersion[v]; ok && kb.builds[i].Kind != KindErratum {
		b := kb.builds[i]
		r.CU, r.Update, r.Released = b.CU, b.Update, b.Released.String()
		if b.Kind == KindInterim {
			r.Match = MatchInterim
			r.Nearest = b.Version.String()
			r.Reason = fmt.Sprintf("%s is %s %s, an interim build not on Microsoft's page (%s)", v, b.Product, b.Label(), b.Note)
			if first, ok := kb.firstOfGroup(v); ok && v.Compare(first.Version) < 0 && first.Kind == KindRelease {
				r.Match = MatchBelowCU
				r.Update, r.Released = "", first.Released.String()
				r.Nearest = first.Version.String()
				r.Reason = fmt.Sprintf("%s is below %s, the first published build of %s: the version a server shows right after installing the CU (OwaVersion); treated as %s without any update", v, first.Version, first.CU, first.CU)
				return first.Version, first.Version
			}
			return v, v
		}
		r.Match = MatchExact
		r.Reason = fmt.Sprintf("%s is %s %s, released %s", v, b.Product, b.Label(), b.Released)
		return v, v
	}
	first, ok := kb.firstOfGroup(v)
	if ok && v.Compare(first.Version) < 0 && first.Kind == KindRelease {
		r.CU, r.Released = first.CU, first.Released.String()
		r.Match = MatchBelowCU
		r.Nearest = first.Version.String()
		r.Reason = fmt.Sprintf("%s is below %s, the first published build of %s: the version a server shows right after installing the CU (OwaVersion); treated as %s without any update", v, first.Version, first.CU, first.CU)
		return first.Version, first.Version
	}
	if near, ok := kb.nearestBelow(v); ok {
		r.CU, r.Update, r.Released = near.CU, near.Update, near.Released.String()
		r.Match = MatchInterim
		r.Nearest = near.Version.String()
		r.Reason = fmt.Sprintf("%s is not on Microsoft's page; the nearest known build below it is %s (%s %s): an interim or hotfix build", v, near.Version, near.Product, near.Label())
		return v, v
	}
	r.Match = MatchUnknownCU
	r.Reason = fmt.Sprintf("%s is %s by its number, but its CU is not in the build table (knowledge base dated %s): update the knowledge base (--kb)", v, p.Name, kb.Date)
	return v, v
}

func (kb *KB) placeCU(v Version, p Product, r *Result) (Version, Version) {
	top := Version{Major: v.Major, Minor: v.Minor, Build: v.Build, Revision: maxPart, Parts: 4}
	group := kb.group(v)
	if len(group) == 0 {
		r.Match = MatchUnknownCU
		r.Reason = fmt.Sprintf("%s is %s by its number, but no build %d is in the table (knowledge base dated %s)", v, p.Name, v.Build, kb.Date)
		return Version{Major: v.Major, Minor: v.Minor, Build: v.Build, Parts: 4}, top
	}
	first := group[0]
	for _, b := range group {
		if b.Kind == KindRelease {
			first = b
			break
		}
	}
	r.CU, r.Released = first.CU, first.Released.String()
	r.Match = MatchCUOnly
	r.Nearest = first.Version.String()
	r.Reason = fmt.Sprintf("%s names %s %s (first build %s, %d known builds); a 3-part build does not show which update is installed", v, p.Name, first.CU, first.Version, len(group))
	return first.Version, top
}

// CUBuilds lists the known builds (not errata) with v's first three parts,
// lowest first: the candidates when only the CU of a server is known.
func (kb *KB) CUBuilds(v Version) []BuildInfo { return kb.group(v) }

// group lists the usable builds (not errata) that share v's first three parts.
func (kb *KB) group(v Version) []BuildInfo {
	lo := Version{Major: v.Major, Minor: v.Minor, Build: v.Build, Parts: 4}
	i := sort.Search(len(kb.builds), func(i int) bool { return kb.builds[i].Version.Compare(lo) >= 0 })
	var out []BuildInfo
	for ; i < len(kb.builds) && kb.builds[i].Version.SameCU(v); i++ {
		if kb.builds[i].Kind != KindErratum {
			out = append(out, kb.builds[i])
		}
	}
	return out
}

// firstOfGroup is the lowest published (not interim) build with v's first three parts.
func (kb *KB) firstOfGroup(v Version) (BuildInfo, bool) {
	for _, b := range kb.group(v) {
		if b.Kind != KindInterim {
			return b, true
		}
	}
	return BuildInfo{}, false
}

// nearestBelow is the highest usable build at or below v in the same CU (same three
// parts) or, for Exchange 2007/2010 whose rollups change the third part, in the
// same service pack (same major.minor).
func (kb *KB) nearestBelow(v Version) (BuildInfo, bool) {
	i := sort.Search(len(kb.builds), func(i int) bool { return kb.builds[i].Version.Compare(v) > 0 })
	for i--; i >= 0; i-- {
		b := kb.builds[i]
		if b.Kind == KindErratum {
			continue
		}
		if b.Version.SameCU(v) || v.Major < 15 && b.Version.Major == v.Major && b.Version.Minor == v.Minor {
			return b, true
		}
		return BuildInfo{}, false
	}
	return BuildInfo{}, false
}

// decide applies HealthChecker's rule to every CVE of the product line, for a
// server running some build in lo..hi (both in the same CU).
func (kb *KB) decide(p Product, lo, hi Version, r Result) []CVEState {
	rules := kb.rules[p.Line]
	var out []CVEState
	for _, id := range kb.cveIDs {
		var mine []CVERule
		for _, c := range rules {
			if c.CVE == id {
				mine = append(mine, c)
			}
		}
		if len(mine) == 0 {
			continue // this CVE does not apply to the product line
		}
		out = append(out, kb.decideOne(id, mine, lo, hi, r))
	}
	return out
}

func (kb *KB) decideOne(id string, rules []CVERule, lo, hi Version, r Result) CVEState {
	st := CVEState{ID: id, Name: kb.cveNames[id]}
	var config []CVERule
	var later *CVERule  // the cu rule
	var forCU *CVERule  // the su rule for lo's CU
	var newest *CVERule // the highest su build
	for i := range rules {
		c := &rules[i]
		switch c.Rule {
		case RuleConfig:
			config = append(config, *c)
		case RuleCU:
			later = c
		case RuleSU:
			if sameUpdateLine(c.Fixed, lo) {
				forCU = c
			}
			if newest == nil || c.Fixed.Compare(newest.Fixed) > 0 {
				newest = c
			}
		}
	}
	if len(config) > 0 {
		return configState(st, config, lo)
	}
	patched := func(b Version) (bool, string) {
		if later != nil && b.Compare(later.Fixed) >= 0 {
			return true, fmt.Sprintf("%s (%s) and every later CU include the fix", later.CU, later.Fixed)
		}
		if forCU != nil && sameUpdateLine(forCU.Fixed, b) && b.Compare(forCU.Fixed) >= 0 {
			return true, fmt.Sprintf("at or above %s (%s %s)", forCU.Fixed, forCU.CU, forCU.Update)
		}
		if newest != nil && b.Compare(newest.Fixed) >= 0 {
			return true, fmt.Sprintf("at or above %s (%s %s), the newest fixing build of this product", newest.Fixed, newest.CU, newest.Update)
		}
		return false, ""
	}
	switch {
	case forCU != nil:
		st.FixedIn = fmt.Sprintf("%s (%s %s)", forCU.Fixed, forCU.CU, forCU.Update)
	case later != nil:
		st.FixedIn = fmt.Sprintf("%s (%s)", later.Fixed, later.CU)
	case newest != nil:
		st.FixedIn = fmt.Sprintf("%s (%s %s)", newest.Fixed, newest.CU, newest.Update)
	}
	okLo, why := patched(lo)
	if okLo {
		st.State = StatePatched
		st.Reason = why
		if r.Match == MatchCUOnly {
			st.Reason = "every build of " + r.CU + " is fixed: " + why
		}
		return st
	}
	okHi, _ := patched(hi)
	if !okHi {
		st.State = StateVulnerable
		switch {
		case forCU != nil:
			st.Reason = fmt.Sprintf("%s received %s (%s) and this build is below it", forCU.CU, forCU.Update, forCU.Fixed)
		case later != nil:
			st.Reason = fmt.Sprintf("no update for this CVE was released for %s; install %s (%s) or later, or a CU that received the update", nonEmpty(r.CU, "this CU"), later.CU, later.Fixed)
		default:
			st.Reason = fmt.Sprintf("no update for this CVE was released for %s", nonEmpty(r.CU, "this build"))
		}
		return st
	}
	st.State = StateUndetermined
	switch {
	case r.Match == MatchUnknownCU:
		st.Reason = "the CU is not in the build table, so whether it carries the fix is unknown"
	case forCU != nil:
		st.Reason = fmt.Sprintf("%s received %s (%s); a 3-part build does not show whether it is installed", forCU.CU, forCU.Update, forCU.Fixed)
	default:
		st.Reason = "the build range seen spans fixed and unfixed builds"
	}
	return st
}

// sameUpdateLine reports whether an update at fixed applies to build b: the same
// CU for Exchange 2013 and later, the same service pack for 2007/2010 (whose
// rollups are cumulative and change the third part).
func sameUpdateLine(fixed, b Version) bool {
	if b.Major < 15 {
		return fixed.Major == b.Major && fixed.Minor == b.Minor
	}
	return fixed.SameCU(b)
}

func configState(st CVEState, rules []CVERule, b Version) CVEState {
	st.State = StateConfigDependent
	minimum := rules[0]
	var best *CVERule
	for i := range rules {
		c := rules[i]
		if c.Fixed.Compare(minimum.Fixed) < 0 {
			minimum = c
		}
		if b.Compare(c.Fixed) >= 0 && (best == nil || c.Fixed.Compare(best.Fixed) > 0) {
			best = &rules[i]
		}
	}
	st.FixedIn = fmt.Sprintf("%s (%s) + Extended Protection", minimum.Fixed, minimum.CU)
	if best == nil {
		st.Reason = fmt.Sprintf("depends on configuration (Extended Protection); this build is below %s, the first that supports it, so it cannot be enabled until the server is updated", minimum.Fixed)
		return st
	}
	st.Reason = fmt.Sprintf("depends on configuration (Extended Protection): the build supports it (%s: %s); whether it is enabled cannot be seen from the build", best.CU, best.Note)
	return st
}

func nonEmpty(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
