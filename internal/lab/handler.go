package lab

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The HTTP contract of a lab server is documented in doc.go; this file
// implements it. Routing is on the lower-cased path because IIS and ASP.NET
// match paths case-insensitively (real servers answer /ecp/current/… too).

// Fixed exporttool paths (lower case).
const (
	exporttoolFile = "microsoft.exchange.ediscovery.exporttool.application"
	manifestPath   = "/ecp/current/exporttool/" + exporttoolFile
)

// authPaths answer 401 with Negotiate/NTLM/Basic and, on 2013+, X-OWA-Version
// (§D). All are anonymous GETs that browsers and mail clients send.
var authPaths = map[string]bool{
	"/ews/exchange.asmx":             true,
	"/ews/":                          true,
	"/microsoft-server-activesync":   true,
	"/microsoft-server-activesync/":  true,
	"/autodiscover/autodiscover.xml": true,
	"/owa/service":                   true,
	"/owa/service.svc":               true,
	"/rpc/rpcproxy.dll":              true,
	"/mapi/nspi/":                    true,
	"/oab/":                          true,
}

// builtinPath reports whether a lower-case path is one the Exchange contract
// defines (web shells may not shadow it).
func builtinPath(p string) bool {
	return authPaths[p] || p == "/owa/auth/logon.aspx" || p == "/owa/auth/errorfe.aspx" || p == manifestPath
}

// stats counts what a server received. Paths are capped so a fuzzing client
// cannot grow memory without bound.
type stats struct {
	mu         sync.Mutex
	conns      int64
	requests   int64
	violations int64
	nonBrowser int64
	byMethod   map[string]int64
	byPath     map[string]int64
	samples    []Request
}

const (
	maxPathKeys      = 4096
	maxViolationKeep = 32
	otherPathKey     = "(other)"
)

func (s *stats) record(r *http.Request) {
	path := r.URL.Path
	if len(path) > 256 {
		path = path[:256]
	}
	ua := r.UserAgent()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if s.byMethod == nil {
		s.byMethod = map[string]int64{}
		s.byPath = map[string]int64{}
	}
	m := r.Method
	if len(m) > 16 {
		m = m[:16]
	}
	s.byMethod[m]++
	if _, ok := s.byPath[path]; ok || len(s.byPath) < maxPathKeys {
		s.byPath[path]++
	} else {
		s.byPath[otherPathKey]++
	}
	if !strings.Contains(ua, "Mozilla/5.0") {
		s.nonBrowser++
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.violations++
		if len(s.samples) < maxViolationKeep {
			if len(ua) > 200 {
				ua = ua[:200]
			}
			s.samples = append(s.samples, Request{Method: m, Path: path, UserAgent: ua})
		}
	}
}

func (s *stats) addConn() {
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
}

// handler serves one lab server. It is immutable after newHandler, so the hot
// path takes no lock except the stats mutex.
type handler struct {
	inst *instance
	cfg  resolved
	fe   string // X-FEServer value
	// Pre-built header values, shared read-only by every response.
	server, powered, aspnet, fe1, be1, owaVal, realm []string
	owaKey                                           string // header name per HeaderMode ("" = none)
	logon, manifest                                  *page
	logonSize                                        int
	token                                            string
	static15                                         string // "/owa/auth/15.1.2176/themes/", or "/owa/auth/themes/" with HidePath
	ecpBuild                                         string // "/ecp/15.1.2176.9/exporttool/"
	webshells                                        map[string]int
}

func newHandler(inst *instance) *handler {
	r := inst.cfg
	h := &handler{inst: inst, cfg: r, webshells: map[string]int{}}
	for i, p := range r.Webshells {
		if shellVisible(r, p) {
			h.webshells[strings.ToLower(p)] = i
		}
	}
	switch r.Kind {
	case KindNginx:
		h.server = []string{"nginx/1.18.0 (Ubuntu)"}
		return h
	case KindCatchAll200:
		h.server = []string{"Apache"}
		return h
	case KindPlainIIS:
		h.server = []string{"Microsoft-IIS/10.0"}
		h.powered = []string{"ASP.NET"}
		return h
	}
	switch {
	case r.legacy:
		h.server, h.aspnet = []string{"Microsoft-IIS/7.5"}, []string{"2.0.50727"}
	case r.build.Minor == 0:
		h.server, h.aspnet = []string{"Microsoft-IIS/8.5"}, []string{"4.0.30319"}
	default:
		h.server, h.aspnet = []string{"Microsoft-IIS/10.0"}, []string{"4.0.30319"}
	}
	h.powered = []string{"ASP.NET"}
	h.fe = inst.fe
	if !r.legacy {
		// Exchange 2010 has no X-FEServer (remote.md §1.2 T6).
		h.fe1 = []string{h.fe}
		h.be1 = []string{inst.beTarget}
	}
	h.realm = []string{fmt.Sprintf("Basic realm=%q", inst.hostname)}
	switch r.HeaderMode {
	case HeaderPresent:
		h.owaKey, h.owaVal = "X-OWA-Version", []string{r.OWAVersion}
	case HeaderLowercase:
		h.owaKey, h.owaVal = "x-owa-version", []string{r.OWAVersion}
	case HeaderLongForm:
		h.owaKey, h.owaVal = "X-OWA-Version", []string{longForm(r.owa.Major, r.owa.Minor, r.owa.Build, r.owa.Revision)}
	case HeaderEmpty:
		h.owaKey, h.owaVal = "X-OWA-Version", []string{""}
	}
	h.logon = logonPage(r)
	h.logonSize = logonSize(r)
	if !r.legacy {
		h.manifest = manifestPage(r)
		h.token = inst.token
		h.ecpBuild = "/ecp/" + r.build.String() + "/exporttool/"
		if !r.HidePath {
			h.static15 = "/owa/auth/" + r.build.CU().String() + "/themes/"
		} else {
			h.static15 = "/owa/auth/themes/"
		}
	}
	return h
}

// longForm writes a build with leading zeros: 15.02.0858.005 (a rewritten
// header seen in public IIS rewrite examples, remote.md §1.2 T3).
func longForm(a, b, c, d int) string {
	return fmt.Sprintf("%d.%02d.%04d.%03d", a, b, c, d)
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.inst.stats.record(r)
	if h.cfg.WAF && !strings.Contains(r.UserAgent(), "Mozilla/5.0") {
		h.waf(w)
		return
	}
	lp := strings.ToLower(r.URL.Path)
	switch h.cfg.Kind {
	case KindCatchAll200:
		h.plain(w, r, http.StatusOK, "text/html; charset=utf-8", catchAllBody)
		return
	case KindNginx:
		if lp == "/" || lp == "/index.html" {
			h.plain(w, r, http.StatusOK, "text/html", nginxIndexBody)
		} else {
			h.plain(w, r, http.StatusNotFound, "text/html", nginx404Body)
		}
		return
	case KindPlainIIS:
		if i, ok := h.webshells[lp]; ok {
			h.webshell(w, r, i)
			return
		}
		if lp == "/" || lp == "/iisstart.htm" {
			hd := w.Header()
			hd["Last-Modified"] = []string{"Wed, 04 Nov 2020 05:35:35 GMT"}
			hd["Accept-Ranges"] = []string{"bytes"}
			hd["Etag"] = []string{`"965c9516cb2d61:0"`}
			h.plain(w, r, http.StatusOK, "text/html", iisStartBody)
			return
		}
		h.iisError(w, r, http.StatusNotFound)
		return
	}
	h.exchange(w, r, lp)
}

// exchange routes a request on an Exchange server.
func (h *handler) exchange(w http.ResponseWriter, r *http.Request, lp string) {
	if i, ok := h.webshells[lp]; ok {
		h.webshell(w, r, i)
		return
	}
	host := requestHost(r, h.inst.hostname)
	switch {
	case lp == "/":
		h.common(w, false) // §C2: X-FEServer but no X-OWA-Version on "/"
		w.Header()["Cache-Control"] = []string{"no-cache"}
		w.Header()["Pragma"] = []string{"no-cache"}
		h.redirect(w, "https://"+host+"/owa/")
		return
	case lp == "/owa" || strings.HasPrefix(lp, "/owa/"):
		h.owa(w, r, lp, host)
		return
	case lp == "/ecp" || strings.HasPrefix(lp, "/ecp/"):
		h.ecp(w, r, lp, host)
		return
	case authPaths[lp]:
		h.unauthorized(w)
		return
	}
	h.iisError(w, r, http.StatusNotFound)
}

func (h *handler) owa(w http.ResponseWriter, r *http.Request, lp, host string) {
	if h.cfg.Redirect == RedirectOffsite {
		// An IIS HTTP Redirect on the /owa vdir: IIS answers before Exchange
		// runs, so no Exchange headers.
		h.base(w)
		h.redirect(w, h.cfg.RedirectTo)
		return
	}
	switch {
	case lp == "/owa" || lp == "/owa/":
		// X-OWA-Version on the /owa/ redirect on 2013+ (§C3); 2010 shows it on
		// the logon page instead.
		h.common(w, !h.cfg.legacy)
		h.redirect(w, h.logonURL(host, "/owa/"))
	case lp == "/owa/auth/logon.aspx":
		if h.cfg.Redirect == RedirectLoop {
			h.common(w, true)
			h.redirect(w, "https://"+host+"/owa/")
			return
		}
		h.common(w, h.cfg.legacy) // X-OWA-Version is on the logon page only on 2010 (§B, Shodan query in §G)
		hd := w.Header()
		hd["Content-Type"] = []string{"text/html; charset=utf-8"}
		hd["Cache-Control"] = []string{"no-cache, no-store"}
		hd["Pragma"] = []string{"no-cache"}
		f := fill{host: htmlEscape(host)}
		f.pad = h.logon.padFor(h.logonSize, f)
		h.logon.write(w, r, f)
	case lp == "/owa/auth/errorfe.aspx":
		h.common(w, false)
		id := requestID()
		h.plainID(w, r, http.StatusOK, "text/html; charset=utf-8", errorFEPage(h.fe, id, time.Now().UTC().Format("1/2/2006 3:04:05 PM")), id)
	case authPaths[lp]:
		h.unauthorized(w)
	case strings.HasPrefix(lp, "/owa/auth/") && strings.HasSuffix(lp, ".aspx"):
		// Unknown page in owa/auth: Exchange's error redirect (§C4).
		h.common(w, false)
		w.Header()["Content-Type"] = []string{"text/html; charset=utf-8"}
		w.Header()["Location"] = []string{"/owa/auth/errorFE.aspx?httpCode=404"}
		h.body(w, r, http.StatusFound, errorFEMovedBody)
	case !h.cfg.legacy && strings.HasPrefix(lp, h.static15):
		h.common(w, false)
		h.plain(w, r, http.StatusOK, "text/css", staticBody)
	case h.cfg.legacy && strings.HasPrefix(lp, "/owa/"+h.cfg.owa.String()+"/"):
		h.common(w, false)
		h.plain(w, r, http.StatusOK, "text/css", staticBody)
	case strings.HasPrefix(lp, "/owa/auth/"):
		h.iisError(w, r, http.StatusNotFound)
	default:
		// Any other OWA URL needs a session: back to the logon page.
		h.common(w, false)
		h.redirect(w, h.logonURL(host, r.URL.Path))
	}
}

func (h *handler) ecp(w http.ResponseWriter, r *http.Request, lp, host string) {
	switch h.cfg.ECP {
	case ECP403:
		h.iisError(w, r, http.StatusForbidden)
		return
	case ECP404:
		h.iisError(w, r, http.StatusNotFound)
		return
	}
	switch {
	case lp == "/ecp" || lp == "/ecp/":
		h.common(w, false)
		h.redirect(w, h.logonURL(host, "/ecp/"))
	case h.cfg.legacy:
		// 2010 has ECP but no exporttool (nor versioned exporttool folders).
		if strings.HasSuffix(lp, ".aspx") && !strings.HasPrefix(lp, "/ecp/auth/") {
			h.common(w, false)
			h.redirect(w, h.logonURL(host, r.URL.Path))
			return
		}
		h.iisError(w, r, http.StatusNotFound)
	case lp == manifestPath || lp == h.ecpBuild+exporttoolFile:
		h.common(w, false)
		hd := w.Header()
		hd["Content-Type"] = []string{"application/x-ms-application"}
		hd["Last-Modified"] = []string{"Tue, 02 Mar 2021 10:00:00 GMT"}
		hd["Accept-Ranges"] = []string{"bytes"}
		h.manifest.write(w, r, fill{token: h.token})
	case lp == h.ecpBuild || lp == "/ecp/current/exporttool/":
		// The folder of the installed build exists; any other build's does not
		// (Metasploit's confirmation loop, remote.md §1.2 T5).
		h.common(w, false)
		h.plain(w, r, http.StatusOK, "text/html", nil)
	case strings.HasSuffix(lp, ".aspx") && !strings.HasPrefix(lp, "/ecp/auth/"):
		h.common(w, false)
		h.redirect(w, h.logonURL(host, r.URL.Path))
	default:
		h.iisError(w, r, http.StatusNotFound)
	}
}

// logonURL is the Location of an unauthenticated OWA/ECP request (§C1); 2010
// uses the replaceCurrent form seen in public links to 2007/2010 servers.
func (h *handler) logonURL(host, path string) string {
	back := urlEncode("https://" + host + path)
	if h.cfg.legacy {
		return "https://" + host + "/owa/auth/logon.aspx?replaceCurrent=1&url=" + back
	}
	return "https://" + host + "/owa/auth/logon.aspx?url=" + back + "&reason=0"
}

// base sets the headers every IIS response has.
func (h *handler) base(w http.ResponseWriter) {
	hd := w.Header()
	hd["Server"] = h.server
	if h.powered != nil {
		hd["X-Powered-By"] = h.powered
	}
}

// common sets the Exchange front-end headers; withOWA adds X-OWA-Version per
// HeaderMode.
func (h *handler) common(w http.ResponseWriter, withOWA bool) {
	h.base(w)
	hd := w.Header()
	hd["request-id"] = []string{requestID()}
	if h.aspnet != nil {
		hd["X-AspNet-Version"] = h.aspnet
	}
	if h.fe1 != nil {
		hd["X-FEServer"] = h.fe1
		hd["X-CalculatedBETarget"] = h.be1
	}
	if withOWA && h.owaKey != "" {
		hd[h.owaKey] = h.owaVal
	}
}

func (h *handler) unauthorized(w http.ResponseWriter) {
	h.common(w, !h.cfg.legacy)
	hd := w.Header()
	hd["Cache-Control"] = []string{"private"}
	hd["Www-Authenticate"] = []string{"Negotiate", "NTLM", h.realm[0]}
	hd["Content-Length"] = []string{"0"}
	w.WriteHeader(http.StatusUnauthorized)
}

func (h *handler) redirect(w http.ResponseWriter, loc string) {
	hd := w.Header()
	hd["Location"] = []string{loc}
	hd["Content-Length"] = []string{"0"}
	w.WriteHeader(http.StatusFound)
}

func (h *handler) iisError(w http.ResponseWriter, r *http.Request, code int) {
	h.base(w)
	body := iis404Body
	if code == http.StatusForbidden {
		body = iis403Body
	}
	h.plain(w, r, code, "text/html", body)
}

func (h *handler) waf(w http.ResponseWriter) {
	body := fmt.Sprintf(wafBody, rand.Uint64N(1e19))
	hd := w.Header()
	hd["Content-Type"] = []string{"text/html"}
	hd["Cache-Control"] = []string{"no-cache"}
	hd["Connection"] = []string{"close"}
	hd["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write([]byte(body))
}

func (h *handler) webshell(w http.ResponseWriter, r *http.Request, i int) {
	if h.cfg.Kind == KindExchange {
		h.common(w, false)
	} else {
		h.base(w)
		w.Header()["X-AspNet-Version"] = []string{"4.0.30319"}
	}
	w.Header()["Cache-Control"] = []string{"private"}
	h.plain(w, r, http.StatusOK, "text/html; charset=utf-8", webshellBodies[i%len(webshellBodies)])
}

func (h *handler) plain(w http.ResponseWriter, r *http.Request, code int, ctype string, body []byte) {
	if w.Header()["Server"] == nil {
		h.base(w)
	}
	w.Header()["Content-Type"] = []string{ctype}
	h.body(w, r, code, body)
}

func (h *handler) plainID(w http.ResponseWriter, r *http.Request, code int, ctype string, body []byte, id string) {
	w.Header()["request-id"] = []string{id}
	h.plain(w, r, code, ctype, body)
}

func (h *handler) body(w http.ResponseWriter, r *http.Request, code int, body []byte) {
	w.Header()["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(code)
	if r.Method != http.MethodHead && len(body) > 0 {
		_, _ = w.Write(body)
	}
}

// requestHost is the host for Location headers: the request's Host, as IIS
// uses it, or the configured name for HTTP/1.0 requests without one.
func requestHost(r *http.Request, fallback string) string {
	if r.Host != "" {
		return r.Host
	}
	return fallback
}

// urlEncode encodes like ASP.NET's HttpUtility.UrlEncode: lower-case hex
// (https%3a%2f%2f…), which scanners and the §C1 examples show.
func urlEncode(s string) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	b.Grow(len(s) * 2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '!', c == '*', c == '(', c == ')':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// requestID is a random GUID like Exchange's request-id header.
func requestID() string {
	const hex = "0123456789abcdef"
	var b [36]byte
	a, c := rand.Uint64(), rand.Uint64()
	j := 0
	for i := range b {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			b[i] = '-'
			continue
		}
		var nib uint64
		if j < 16 {
			nib = a >> (4 * j) & 15
		} else {
			nib = c >> (4 * (j - 16)) & 15
		}
		b[i] = hex[nib]
		j++
	}
	return string(b[:])
}
