package scan

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/exsweep/exsweep/internal/exchange"
	"github.com/exsweep/exsweep/internal/target"
)

// allCipherSuites includes the insecure suites on purpose: Exchange 2010/2013 on
// old Windows often offers nothing else, and we only read public pages.
var allCipherSuites = func() []uint16 {
	var ids []uint16
	for _, s := range tls.CipherSuites() {
		ids = append(ids, s.ID)
	}
	for _, s := range tls.InsecureCipherSuites() {
		ids = append(ids, s.ID)
	}
	return ids
}()

// session is one endpoint's HTTP state: one keep-alive connection, so a whole
// fingerprint costs one TLS handshake.
type session struct {
	s      *Scanner
	t      target.Target
	base   url.URL
	client *http.Client
	tr     *http.Transport
	rec    *Record

	tlsOnce sync.Once
	tlsInfo *TLSInfo
}

func (s *Scanner) newSession(t target.Target, rec *Record) *session {
	ss := &session{s: s, t: t, rec: rec}
	host := t.Host
	if host == "" {
		host = t.IP.String()
	}
	scheme := t.Scheme
	if scheme == "" {
		scheme = "https"
	}
	ss.base = url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(int(t.Port)))}
	addr := netip.AddrPortFrom(t.IP, t.Port).String()
	dialer := &net.Dialer{Timeout: s.opts.Timeout}
	ss.tr = &http.Transport{
		// Always dial the target address, whatever name the URL carries: the
		// name is for Host and SNI, the address was chosen (and excluded) by
		// the target list.
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", addr)
		},
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, // recorded, not trusted: see TLSInfo
			MinVersion:         tls.VersionTLS10,
			CipherSuites:       allCipherSuites,
			// Without Go's hybrid post-quantum default (X25519MLKEM768),
			// whose key share costs several times more CPU per handshake,
			// which dominates a scan of many endpoints. Go fixes the order
			// itself (X25519 first); the list only filters. Sending only a
			// P-256 share measured no faster here (1,089-1,239 against
			// 1,175-1,231 endpoints/s, BenchmarkScanLab), so X25519 stays
			// for the servers that prefer it.
			CurvePreferences: []tls.CurveID{tls.CurveP256, tls.X25519, tls.CurveP384},
			ServerName:       t.Host,
			VerifyConnection: ss.recordTLS,
		},
		TLSHandshakeTimeout:    s.opts.Timeout,
		ResponseHeaderTimeout:  s.opts.Timeout,
		MaxResponseHeaderBytes: s.opts.MaxHeaderBytes,
		MaxIdleConnsPerHost:    1,
		MaxConnsPerHost:        1,
		IdleConnTimeout:        10 * time.Second,
		DisableCompression:     true,
		ForceAttemptHTTP2:      false,
		TLSNextProto:           map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	ss.client = &http.Client{
		Transport: ss.tr,
		// Redirects are followed by hand (follow), never to another host.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return ss
}

func (ss *session) close() { ss.tr.CloseIdleConnections() }

func (ss *session) recordTLS(cs tls.ConnectionState) error {
	ss.tlsOnce.Do(func() {
		info := &TLSInfo{Version: tls.VersionName(cs.Version), Cipher: tls.CipherSuiteName(cs.CipherSuite)}
		if len(cs.PeerCertificates) > 0 {
			c := cs.PeerCertificates[0]
			info.Subject = clean(c.Subject.String(), 256)
			info.Issuer = clean(c.Issuer.String(), 256)
			for i, n := range c.DNSNames {
				if i == 16 {
					break
				}
				info.SANs = append(info.SANs, clean(n, 128))
			}
			info.NotAfter = c.NotAfter.UTC().Format(time.RFC3339)
			info.Expired = time.Now().After(c.NotAfter)
		}
		ss.tlsInfo = info
	})
	return nil
}

// response is a capped, fully read HTTP response.
type response struct {
	status    int
	header    http.Header
	body      []byte
	truncated bool
}

// errConn marks errors that happened before any response: the only ones retried.
var errConn = errors.New("connection failed")

// get sends one GET (the only method exsweep uses) and reads at most maxBody bytes.
func (ss *session) get(ctx context.Context, path string, maxBody int64) (*response, error) {
	if err := ss.s.limits.wait(ctx, ss.t.IP); err != nil {
		return nil, err
	}
	u := ss.base
	if i := strings.IndexByte(path, '?'); i >= 0 {
		u.Path, u.RawQuery = path[:i], path[i+1:]
	} else {
		u.Path = path
	}
	var resp *http.Response
	var err error
	for attempt := 0; attempt <= ss.s.opts.Retries; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, ss.s.opts.Timeout)
		req, rerr := http.NewRequestWithContext(rctx, http.MethodGet, u.String(), nil)
		if rerr != nil {
			cancel()
			return nil, rerr
		}
		req.Header.Set("User-Agent", ss.s.opts.UserAgent)
		req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
		req.Header.Set("Accept-Language", "en-US,en;q=0.5")
		ss.rec.Requests++
		ss.s.stats.requests.Add(1)
		resp, err = ss.client.Do(req)
		if err == nil {
			r := &response{status: resp.StatusCode, header: resp.Header}
			r.body, err = readCapped(resp.Body, resp.ContentLength, maxBody)
			if int64(len(r.body)) > maxBody {
				r.body, r.truncated = r.body[:maxBody], true
			}
			resp.Body.Close()
			cancel()
			if err != nil && len(r.body) == 0 {
				return nil, fmt.Errorf("reading %s: %w", path, err)
			}
			return r, nil
		}
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// Retry only connection errors (refused, reset, dial timeout): a
		// server that accepted and then said nothing (a tarpit) or sent
		// garbage will not do better a second time.
		if !retryable(err) {
			break
		}
		if attempt < ss.s.opts.Retries {
			if werr := ss.s.limits.wait(ctx, ss.t.IP); werr != nil {
				return nil, werr
			}
		}
	}
	return nil, fmt.Errorf("%w: GET %s: %v", errConn, path, describeNetErr(err))
}

// readCapped reads at most maxBody+1 bytes, sized from Content-Length when the
// server sent one, so a 58 KB logon page is one allocation instead of a chain
// of growing copies (io.ReadAll showed up in the scan profile).
func readCapped(body io.Reader, contentLength, maxBody int64) ([]byte, error) {
	size := int64(512)
	if contentLength > 0 {
		size = min(contentLength, maxBody) + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	_, err := buf.ReadFrom(io.LimitReader(body, maxBody+1))
	return buf.Bytes(), err
}

// follow GETs path and follows same-host redirects (at most max), returning the
// last response and the path it came from.
func (ss *session) follow(ctx context.Context, path string, max int, maxBody int64) (*response, string, error) {
	seen := map[string]bool{}
	for i := 0; ; i++ {
		r, err := ss.get(ctx, path, maxBody)
		if err != nil {
			return nil, path, err
		}
		if r.status < 300 || r.status > 399 {
			return r, path, nil
		}
		loc := r.header.Get("Location")
		next, ok := ss.sameHost(loc)
		if !ok {
			return r, path, fmt.Errorf("redirect from %s to another host (%s) not followed", path, clean(loc, 200))
		}
		if seen[next] || i >= max {
			return r, path, fmt.Errorf("redirect loop at %s", clean(path, 200))
		}
		seen[path] = true
		path = next
	}
}

// sameHost resolves a Location against the session's base and reports whether
// it stays on the same scheme, host and port.
func (ss *session) sameHost(loc string) (string, bool) {
	if loc == "" || len(loc) > 2048 {
		return "", false
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "", false
	}
	abs := ss.base.ResolveReference(u)
	// Exchange writes its own address into redirects (https://IP/owa/); accept
	// the target's address and name on the same port.
	host := abs.Hostname()
	if host != ss.base.Hostname() && host != ss.t.IP.String() {
		return "", false
	}
	port := abs.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[abs.Scheme]
	}
	if port != strconv.Itoa(int(ss.t.Port)) {
		return "", false
	}
	p := abs.EscapedPath()
	if abs.RawQuery != "" {
		p += "?" + abs.RawQuery
	}
	return p, true
}

func retryable(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "connection reset") || strings.Contains(msg, "EOF") && !strings.Contains(msg, "timeout")
}

func describeNetErr(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	case strings.Contains(err.Error(), "connection reset"):
		return "connection reset"
	case strings.Contains(err.Error(), "malformed HTTP"):
		return "not HTTP: " + clean(err.Error(), 120)
	case strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "handshake"):
		return "TLS: " + clean(err.Error(), 160)
	}
	return clean(err.Error(), 200)
}

func randomName() string {
	var b [8]byte
	rand.Read(b[:])
	return "exsweep" + hex.EncodeToString(b[:])
}

func sha256hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// fingerprint runs the techniques of remote.md §1 in the order of §8: at most four
// requests in the common case, plus a bounded confirmation when only the CU is
// known.
func (ss *session) fingerprint(ctx context.Context) {
	rec := ss.rec
	obs := observations{}

	// 1. /owa/ without following redirects: X-OWA-Version, X-FEServer, and the
	// redirect to the logon page.
	owa, err := ss.get(ctx, "/owa/", 64<<10)
	if err != nil {
		rec.Error = err.Error()
		if errors.Is(err, errConn) {
			rec.Verdict = VerdictUnreachable
		}
		return
	}
	obs.headers(rec, "/owa/", owa)
	logonPath := "/owa/auth/logon.aspx?url=" + url.QueryEscape(ss.base.String()+"/owa/") + "&reason=0"
	if owa.status >= 300 && owa.status < 400 {
		loc := owa.header.Get("Location")
		if next, ok := ss.sameHost(loc); ok {
			if strings.Contains(strings.ToLower(next), "/owa/auth/logon.aspx") {
				rec.Evidence = append(rec.Evidence, Evidence{Technique: TechRedirect, Path: "/owa/", Status: owa.status, Value: clean(next, 200)})
				obs.redirect = true
			}
			logonPath = next
		} else if loc != "" {
			rec.Evidence = append(rec.Evidence, Evidence{Technique: TechRedirect, Path: "/owa/", Status: owa.status,
				Detail: "redirect to another host not followed: " + clean(loc, 200)})
			logonPath = ""
		}
	}

	// When /owa/ already gave a 4-part X-OWA-Version, the manifest is asked
	// first: if it names the same CU, the 58 KB logon page adds nothing and is
	// skipped (one request and most of the bytes of a fingerprint).
	manifestDone, skipPage := false, false
	if !obs.header.IsZero() && obs.header.Major >= 15 && owa.status >= 300 && owa.status < 400 {
		ss.fetchManifest(ctx, &obs)
		manifestDone = true
		if !obs.manifest.IsZero() && obs.manifest.SameCU(obs.header) {
			skipPage = true
			rec.Evidence = append(rec.Evidence, Evidence{Technique: TechMarkers,
				Detail: "logon page not fetched: X-OWA-Version and the exporttool manifest agree on the CU"})
		}
	}

	// 2. The logon page: the 3-part CU (2013+) or the 4-part build (2010).
	var page *response
	switch {
	case skipPage:
	case owa.status == 200:
		page = owa
		obs.page(rec, "/owa/", owa)
	case logonPath != "":
		var ferr error
		var at string
		page, at, ferr = ss.follow(ctx, logonPath, 5, ss.s.opts.MaxBody)
		if ferr != nil {
			rec.Evidence = append(rec.Evidence, Evidence{Technique: TechMarkers, Path: clean(at, 200), Detail: clean(ferr.Error(), 200)})
			if errors.Is(ferr, errConn) && rec.Error == "" {
				rec.Error = ferr.Error()
			}
		}
		if page != nil {
			obs.headers(rec, at, page)
			if page.status == 200 {
				obs.page(rec, at, page)
			}
		}
	}

	// A 200 to every path is not Exchange, whatever the page says: compare with
	// a random name before believing markers (only needed when /owa/ itself
	// answered 200, which Exchange never does).
	if owa.status == 200 && obs.markers > 0 {
		if base, err := ss.get(ctx, "/"+randomName()+".aspx", 64<<10); err == nil && base.status == 200 {
			rec.Evidence = append(rec.Evidence, Evidence{Technique: TechBaseline, Path: "/<random>.aspx", Status: 200,
				Detail: "the site answers 200 to a random name: page markers are not trusted"})
			obs.markers = 0
			obs.cu3 = exchange.Version{}
		}
	}

	// An OWA that redirects off-site may still publish /ecp on this address.
	offsite := owa.status >= 300 && owa.status < 400 && logonPath == ""
	likely := obs.exchangeLikely()
	if !likely && !offsite {
		ss.finish(obs)
		return
	}

	// 3. The exporttool manifest (2013+): the 4-part build.
	if !manifestDone && obs.major() != 14 && obs.major() != 8 {
		ss.fetchManifest(ctx, &obs)
	}

	if !obs.exchangeLikely() && !offsite {
		ss.finish(obs)
		return
	}
	// 4. An anonymous 401 endpoint that often carries X-OWA-Version (and, on
	// Exchange 2013+, X-FEServer even when OWA itself is redirected away).
	if obs.header.IsZero() && obs.major() != 14 {
		if r, err := ss.get(ctx, "/EWS/Exchange.asmx", 16<<10); err == nil {
			obs.headers(rec, "/EWS/Exchange.asmx", r)
		}
	}

	// 5. Confirmation: when only the CU is known, or the only exact value is a
	// manifest that may not move with security updates, ask for the versioned
	// ECP folder of each known build of that CU, newest first.
	if ss.s.opts.Confirm && !obs.ecpBlocked {
		ss.confirm(ctx, &obs)
	}
	ss.finish(obs)
}

// fetchManifest asks for the eDiscovery export tool manifest (2013+), whose
// version is the 4-part build, and notes a blocked /ecp.
func (ss *session) fetchManifest(ctx context.Context, obs *observations) {
	rec := ss.rec
	m, err := ss.get(ctx, "/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application", 256<<10)
	switch {
	case err != nil:
		rec.Evidence = append(rec.Evidence, Evidence{Technique: TechManifest, Detail: clean(err.Error(), 200)})
	case m.status == 200:
		obs.headers(rec, "/ecp/Current/exporttool/", m)
		if v, ok := parseManifest(m.body); ok {
			obs.add(rec, TechManifest, "/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application", m.status, v)
			obs.manifest = v
		}
	default:
		obs.headers(rec, "/ecp/Current/exporttool/", m)
		if m.status == 403 || m.status == 404 || m.status == 401 {
			obs.ecpBlocked = true
			rec.Evidence = append(rec.Evidence, Evidence{Technique: TechECPBlocked, Path: "/ecp/Current/exporttool/", Status: m.status})
		}
	}
}

// confirm probes /ecp/<build>/exporttool/ for the known builds of the CU; a 200
// names the installed build. A baseline request for an impossible build comes
// first, so a site that answers 200 to everything is not believed.
func (ss *session) confirm(ctx context.Context, obs *observations) {
	cu := obs.cuAnchor()
	if cu.IsZero() || cu.Major < 15 {
		return
	}
	exact := obs.bestExact(cu)
	group := ss.s.kb.CUBuilds(cu)
	candidates := make([]exchange.BuildInfo, 0, len(group))
	for i := len(group) - 1; i >= 0; i-- { // newest first
		candidates = append(candidates, group[i])
	}
	if len(candidates) == 0 {
		return
	}
	switch {
	case exact.IsZero():
		// Only the CU is known.
	case !obs.manifest.IsZero() && exact == obs.manifest && obs.header.IsZero() && exact.Compare(candidates[0].Version) < 0:
		// Only the manifest is known and newer builds of the CU exist.
	default:
		return
	}
	imp := exchange.Version{Major: cu.Major, Minor: cu.Minor, Build: cu.Build, Revision: 9999, Parts: 4}
	base, err := ss.get(ctx, "/ecp/"+imp.String()+"/exporttool/", 16<<10)
	if err != nil || base.status == 200 {
		if err == nil {
			ss.rec.Evidence = append(ss.rec.Evidence, Evidence{Technique: TechBaseline, Path: "/ecp/" + imp.String() + "/exporttool/", Status: 200,
				Detail: "a build that does not exist answered 200: the ECP folder confirmation is not reliable here"})
		}
		return
	}
	limit := ss.s.opts.MaxConfirm
	for i, b := range candidates {
		if i >= limit || ctx.Err() != nil {
			break
		}
		if !exact.IsZero() && b.Version.Compare(exact) <= 0 {
			break // nothing above the known value is installed
		}
		p := "/ecp/" + b.Version.String() + "/exporttool/"
		r, err := ss.get(ctx, p, 16<<10)
		if err != nil {
			return
		}
		if r.status == 200 {
			obs.add(ss.rec, TechECPConfirm, p, 200, b.Version)
			obs.confirmed = b.Version
			return
		}
	}
}
