package scan

import (
	"time"

	"github.com/exsweep/exsweep/internal/exchange"
)

// Endpoint verdicts (DESIGN.md contract); the first three come from the
// knowledge base.
const (
	VerdictVulnerable   = exchange.StateVulnerable
	VerdictPatched      = exchange.StatePatched
	VerdictUndetermined = exchange.StateUndetermined
	VerdictNotExchange  = "not-exchange"
	VerdictUnreachable  = "unreachable"
)

// Techniques, in the order of precedence used to pick the build (see combine).
const (
	TechECPConfirm = "ecp-folder"        // /ecp/<build>/exporttool/ answered 200: the installed build
	TechManifest   = "exporttool"        // eDiscovery ClickOnce manifest version (4-part)
	TechHeader     = "x-owa-version"     // X-OWA-Version response header (4-part)
	TechOWAPath4   = "owa-path-4"        // 2007/2010 logon page /owa/<build>/ (4-part)
	TechOWAPath3   = "owa-path-3"        // 2013+ logon page /owa/auth/<cu>/ (3-part, CU only)
	TechMarkers    = "logon-page"        // OWA logon page markers (Exchange, no build)
	TechFEServer   = "x-feserver"        // X-FEServer / X-CalculatedBETarget (Exchange 2013+, no build)
	TechWebshell   = "webshell-path"     // opt-in GET of known web-shell paths
	TechRedirect   = "owa-redirect"      // /owa/ redirected to /owa/auth/logon.aspx
	TechTLS        = "tls"               // TLS handshake details
	TechBaseline   = "baseline"          // request for a random name, to know how the site answers unknown paths
	TechECPBlocked = "ecp-not-published" // /ecp answered 403/404: exporttool and confirmation unavailable
)

// Record is one endpoint's result: one JSON object per line on stdout, and one
// observation in the store. Every string that came from the server is cleaned
// (capped, control characters escaped); JSON encoding escapes HTML.
type Record struct {
	Target     string              `json:"target"`
	IP         string              `json:"ip"`
	Port       int                 `json:"port"`
	Hostname   string              `json:"hostname,omitempty"`
	Exchange   bool                `json:"exchange"`
	Product    string              `json:"product,omitempty"`
	Build      string              `json:"build,omitempty"`
	BuildExact bool                `json:"build_exact"`
	CU         string              `json:"cu,omitempty"`
	Update     string              `json:"update,omitempty"`
	Match      string              `json:"match,omitempty"`
	Verdict    string              `json:"verdict"`
	EndOfLife  bool                `json:"end_of_life,omitempty"`
	CVEs       []exchange.CVEState `json:"cves"`
	Evidence   []Evidence          `json:"evidence"`
	// Disagreements lists techniques that reported different builds.
	Disagreements []string   `json:"disagreements,omitempty"`
	Reason        string     `json:"reason,omitempty"`
	TLS           *TLSInfo   `json:"tls,omitempty"`
	Webshells     []Webshell `json:"webshells"`
	Error         string     `json:"error,omitempty"`
	Requests      int        `json:"requests"`
	DurationMS    int64      `json:"duration_ms"`
	ObservedAt    time.Time  `json:"observed_at"`
}

// Evidence says which technique saw what.
type Evidence struct {
	Technique string `json:"technique"`
	Path      string `json:"path,omitempty"`
	Status    int    `json:"status,omitempty"`
	Value     string `json:"value,omitempty"`
	Detail    string `json:"detail,omitempty"`
}

// TLSInfo records the certificate and connection parameters (verification is off
// on purpose: old Exchange servers rarely have valid certificates).
type TLSInfo struct {
	Version  string   `json:"version"`
	Cipher   string   `json:"cipher"`
	Subject  string   `json:"subject,omitempty"`
	Issuer   string   `json:"issuer,omitempty"`
	SANs     []string `json:"sans,omitempty"`
	NotAfter string   `json:"not_after,omitempty"`
	Expired  bool     `json:"expired,omitempty"`
}

// Webshell is a known web-shell path that answered differently from a random name.
type Webshell struct {
	Path   string `json:"path"`
	Status int    `json:"status"`
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
	Reason string `json:"reason"`
}
