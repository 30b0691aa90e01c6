package scan

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/exsweep/exsweep/internal/exchange"
)

// observations gathers what the techniques saw on one endpoint before combine
// decides the build.
type observations struct {
	header     exchange.Version // X-OWA-Version (highest seen)
	manifest   exchange.Version // exporttool manifest
	confirmed  exchange.Version // /ecp/<build>/exporttool/ answered 200
	path4      exchange.Version // 2007/2010 logon page path
	cu3        exchange.Version // 2013+ logon page path (3-part)
	markers    int
	feServer   bool
	redirect   bool
	ecpBlocked bool
}

func (o *observations) add(rec *Record, tech, path string, status int, v exchange.Version) {
	rec.Evidence = append(rec.Evidence, Evidence{Technique: tech, Path: clean(path, 200), Status: status, Value: v.String()})
}

// headers reads the Exchange headers of any response.
func (o *observations) headers(rec *Record, path string, r *response) {
	if vals, ok := r.header[http.CanonicalHeaderKey("X-OWA-Version")]; ok {
		raw := ""
		if len(vals) > 0 {
			raw = vals[0]
		}
		if v, ok := parseOWAVersionHeader(raw); ok {
			o.add(rec, TechHeader, path, r.status, v)
			if v.Compare(o.header) > 0 {
				o.header = v
			}
		} else {
			rec.Evidence = append(rec.Evidence, Evidence{Technique: TechHeader, Path: clean(path, 200), Status: r.status,
				Value: clean(raw, 60), Detail: "present but not a 4-part build"})
		}
	}
	for _, h := range []string{"X-FEServer", "X-CalculatedBETarget", "X-BEServer"} {
		if v := r.header.Get(h); v != "" && !o.feServer {
			o.feServer = true
			rec.Evidence = append(rec.Evidence, Evidence{Technique: TechFEServer, Path: clean(path, 200), Status: r.status,
				Value: clean(v, 128), Detail: h})
		}
	}
}

// page reads a logon page.
func (o *observations) page(rec *Record, path string, r *response) {
	p := parseLogonPage(r.body)
	o.markers += p.Markers
	if p.Markers > 0 {
		d := fmt.Sprintf("%d OWA markers", p.Markers)
		if r.truncated {
			d += "; body truncated at the size cap"
		}
		rec.Evidence = append(rec.Evidence, Evidence{Technique: TechMarkers, Path: clean(path, 200), Status: r.status, Value: p.Title, Detail: d})
	}
	if !p.Build.IsZero() {
		o.path4 = p.Build
		o.add(rec, TechOWAPath4, path, r.status, p.Build)
	}
	if !p.CU.IsZero() {
		o.cu3 = p.CU
		o.add(rec, TechOWAPath3, path, r.status, p.CU)
	}
}

func (o *observations) major() int {
	for _, v := range []exchange.Version{o.confirmed, o.manifest, o.header, o.path4, o.cu3} {
		if !v.IsZero() {
			return v.Major
		}
	}
	return 0
}

// exchangeLikely: worth spending more requests on. Exchange needs a build
// number, OWA page markers, or the front-end headers only Exchange 2013+ sends
// (X-FEServer, X-CalculatedBETarget), e.g. when OWA redirects off-site.
func (o *observations) exchangeLikely() bool {
	return !o.header.IsZero() || !o.manifest.IsZero() || !o.path4.IsZero() || !o.cu3.IsZero() || o.markers > 0 || o.feServer
}

// cuAnchor is the CU the endpoint runs: the logon page path when present (it is
// the folder the live OWA serves), else the CU of an exact value.
func (o *observations) cuAnchor() exchange.Version {
	if !o.cu3.IsZero() {
		return o.cu3
	}
	for _, v := range []exchange.Version{o.confirmed, o.manifest, o.header, o.path4} {
		if !v.IsZero() {
			return v.CU()
		}
	}
	return exchange.Version{}
}

// bestExact is the highest 4-part value in the anchor CU: builds only move up
// with updates, and a component (manifest, OwaVersion) may lag behind the
// installed build but never run ahead of it.
func (o *observations) bestExact(cu exchange.Version) exchange.Version {
	var best exchange.Version
	for _, v := range []exchange.Version{o.confirmed, o.manifest, o.header, o.path4} {
		if v.IsZero() {
			continue
		}
		if !cu.IsZero() && !v.SameCU(cu) && cu.Major >= 15 {
			continue
		}
		if v.Compare(best) > 0 {
			best = v
		}
	}
	return best
}

// disagreements lists techniques whose values differ from the chosen build.
func (o *observations) disagreements(chosen exchange.Version) []string {
	var out []string
	for _, x := range []struct {
		tech string
		v    exchange.Version
	}{{TechECPConfirm, o.confirmed}, {TechManifest, o.manifest}, {TechHeader, o.header}, {TechOWAPath4, o.path4}} {
		if x.v.IsZero() || x.v == chosen {
			continue
		}
		if !x.v.SameCU(chosen) {
			out = append(out, fmt.Sprintf("%s says %s, another CU than %s", x.tech, x.v, chosen.CU()))
		} else {
			out = append(out, fmt.Sprintf("%s says %s, lower than %s", x.tech, x.v, chosen))
		}
	}
	if !o.cu3.IsZero() && !o.cu3.SameCU(chosen) {
		out = append(out, fmt.Sprintf("%s says %s, another CU than %s", TechOWAPath3, o.cu3, chosen))
	}
	return out
}

// finish decides Exchange or not, the build, and the verdict. Precedence (README
// "How the build is decided"): the CU is the logon page's 3-part folder when
// present; the exact build is the highest 4-part value in that CU from the ECP
// folder confirmation, the exporttool manifest, X-OWA-Version or the 2010 path;
// with no 4-part value the record carries the 3-part CU with build_exact false.
func (ss *session) finish(o observations) {
	rec := ss.rec
	rec.TLS = ss.tlsInfo
	rec.Exchange = o.exchangeLikely()
	if !rec.Exchange {
		if rec.Verdict == "" {
			rec.Verdict = VerdictNotExchange
		}
		return
	}
	cu := o.cuAnchor()
	chosen := o.bestExact(cu)
	if chosen.IsZero() {
		chosen = cu
	}
	if chosen.IsZero() {
		rec.Verdict = VerdictUndetermined
		rec.Reason = "Exchange (OWA logon page), but no build number was visible"
		return
	}
	rec.Disagreements = o.disagreements(chosen)
	r := ss.s.lookup(chosen)
	rec.Product, rec.CU, rec.Update, rec.Match = r.Product, r.CU, r.Update, r.Match
	rec.Build = chosen.String()
	rec.BuildExact = chosen.Exact()
	rec.EndOfLife = r.EndOfLife
	rec.CVEs = r.CVEs
	rec.Verdict = r.Verdict()
	rec.Reason = r.Reason
	if r.Match == exchange.MatchUnknownProduct {
		rec.Reason = "Exchange markers, but " + r.Reason
	}
	if o.ecpBlocked && !chosen.Exact() {
		rec.Reason += "; /ecp is not published, so the exact build could not be confirmed"
	}
	rec.Reason = strings.TrimSpace(rec.Reason)
}
