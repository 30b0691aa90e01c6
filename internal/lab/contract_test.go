package lab

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// contractServers are the servers the HTTP contract table talks to, by name.
var contractServers = []Server{
	{Name: "2016", Build: "15.1.2176.9", FEServer: "EX16", Hostname: "mail.contoso.test"},
	{Name: "2013", Build: "15.0.1497.12"},
	{Name: "2019-cu9", Build: "15.2.858.5", OWAVersion: "15.2.858.2", ECP: ECP403},
	{Name: "2010", Build: "14.3.513.0"},
	{Name: "stripped", Build: "15.1.2176.2", HeaderMode: HeaderStripped},
	{Name: "empty", Build: "15.1.2176.2", HeaderMode: HeaderEmpty},
	{Name: "long", Build: "15.2.858.5", OWAVersion: "15.2.858.2", HeaderMode: HeaderLongForm},
	{Name: "ecp404", Build: "15.1.2176.2", ECP: ECP404, Webshells: []string{"/ecp/auth/help.aspx"}},
	{Name: "manifest-at-cu", Build: "15.1.2176.9", ManifestAtCU: true},
	{Name: "hide-path", Build: "15.1.2176.9", HidePath: true},
	{Name: "loop", Build: "15.1.2176.9", Redirect: RedirectLoop},
	{Name: "offsite", Build: "15.1.2176.9", Redirect: RedirectOffsite, Webshells: []string{"/owa/auth/errorEEE.aspx"}},
	{Name: "waf", Build: "15.1.2176.9", WAF: true},
	{Name: "webshells", Build: "15.1.2176.2", Webshells: []string{"/aspnet_client/system_web/x.aspx", "/owa/auth/errorEEE.aspx"}},
	{Name: "hostile", Build: "15.2.792.3", HostileStrings: true},
	{Name: "size", Build: "15.1.1913.5", LogonPageSize: 124371},
	{Name: "huge", Build: "15.1.2176.9", HugeBody: true},
	{Name: "iis", Kind: KindPlainIIS, Webshells: []string{"/aspnet_client/shell.aspx"}},
	{Name: "nginx", Kind: KindNginx},
	{Name: "catchall", Kind: KindCatchAll200},
}

const (
	absent   = "\x00absent"
	manifest = "/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application"
)

func startContract(t *testing.T) (*Lab, map[string]string) {
	t.Helper()
	l, err := Start(t.Context(), contractServers, Options{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	byName := map[string]string{}
	for i, s := range contractServers {
		byName[s.Name] = l.Targets()[i]
	}
	return l, byName
}

func TestContract(t *testing.T) {
	l, byName := startContract(t)
	c := newClient(t)
	type tc struct {
		server, method, path string
		ua                   string // "" means browserUA
		status               int
		header               map[string]string // value "" means present and empty; absent means missing
		location             string            // with {host} for the target
		contains, lacks      []string
		size                 int // body length, 0: not checked
	}
	tests := []tc{
		// Exchange 2016, default install (§C1, §C3, §D, §E).
		{server: "2016", path: "/", status: 302, location: "https://{host}/owa/",
			header: map[string]string{"X-Feserver": "EX16", "X-Owa-Version": absent, "Server": "Microsoft-IIS/10.0"}},
		{server: "2016", path: "/owa/", status: 302, location: "https://{host}/owa/auth/logon.aspx?url=https%3a%2f%2f{henc}%2fowa%2f&reason=0",
			header: map[string]string{"X-Owa-Version": "15.1.2176.9", "X-Feserver": "EX16", "X-Calculatedbetarget": "ex16.contoso.test", "X-Powered-By": "ASP.NET", "X-Aspnet-Version": "4.0.30319"}},
		{server: "2016", path: "/owa", status: 302, location: "https://{host}/owa/auth/logon.aspx?url=https%3a%2f%2f{henc}%2fowa%2f&reason=0"},
		{server: "2016", path: "/OWA/", status: 302},
		{server: "2016", path: "/owa/auth/logon.aspx?url=https%3a%2f%2fx%2fowa%2f&reason=0", status: 200, size: DefaultLogonPageSize,
			header:   map[string]string{"X-Owa-Version": absent, "Content-Type": "text/html; charset=utf-8", "X-Feserver": "EX16"},
			contains: []string{"<title>Outlook</title>", "<!-- OwaPage = ASP.auth_logon_aspx -->", "//  flogon.js", "function IsOwaPremiumBrowser", "To use Outlook, browser settings must allow scripts to run.", `href="/owa/auth/15.1.2176/themes/resources/favicon.ico"`, `value="https://{host}/owa/"`}},
		{server: "2016", path: manifest, status: 200, size: 16487, header: map[string]string{"Content-Type": "application/x-ms-application", "X-Feserver": "EX16"},
			contains: []string{`name="microsoft.exchange.ediscovery.exporttool.application" version="15.1.2176.9"`, `name="microsoft.exchange.ediscovery.exporttool" version="15.1.2176.9"`, `<as:assemblyIdentity name="microsoft.exchange.ediscovery.exporttool.application" version="15.1.2176.9"`}},
		{server: "2016", path: strings.ToLower(manifest), status: 200},
		{server: "2016", method: "HEAD", path: manifest, status: 200},
		{server: "2016", path: "/ecp/15.1.2176.9/exporttool/", status: 200},
		{server: "2016", path: "/ecp/15.1.2176.9/exporttool/microsoft.exchange.ediscovery.exporttool.application", status: 200, contains: []string{`version="15.1.2176.9"`}},
		{server: "2016", path: "/ecp/15.1.2176.4/exporttool/", status: 404, contains: []string{"404 - File or directory not found."}},
		{server: "2016", path: "/ecp/15.01.2176.009/exporttool/", status: 404},
		{server: "2016", path: "/ecp/", status: 302, location: "https://{host}/owa/auth/logon.aspx?url=https%3a%2f%2f{henc}%2fecp%2f&reason=0"},
		{server: "2016", path: "/EWS/Exchange.asmx", status: 401,
			header: map[string]string{"X-Owa-Version": "15.1.2176.9", "X-Feserver": "EX16", "Www-Authenticate": "Negotiate|NTLM|Basic realm=\"mail.contoso.test\"", "Cache-Control": "private", "Content-Length": "0"}},
		{server: "2016", path: "/Microsoft-Server-ActiveSync", status: 401, header: map[string]string{"X-Owa-Version": "15.1.2176.9"}},
		{server: "2016", path: "/autodiscover/autodiscover.xml", status: 401, header: map[string]string{"X-Owa-Version": "15.1.2176.9"}},
		{server: "2016", path: "/owa/service", status: 401, header: map[string]string{"X-Owa-Version": "15.1.2176.9"}},
		{server: "2016", path: "/owa/auth/x.aspx", status: 302, location: "/owa/auth/errorFE.aspx?httpCode=404", contains: []string{"Object moved"}},
		{server: "2016", path: "/owa/auth/errorFE.aspx?httpCode=404", status: 200, contains: []string{"X-FEServer EX16"}, lacks: []string{"15.1"}},
		{server: "2016", path: "/owa/auth/15.1.2176/themes/resources/favicon.ico", status: 200},
		{server: "2016", path: "/owa/auth/15.1.2044/themes/resources/favicon.ico", status: 404},
		{server: "2016", path: "/owa/calendar", status: 302, location: "https://{host}/owa/auth/logon.aspx?url=https%3a%2f%2f{henc}%2fowa%2fcalendar&reason=0"},
		{server: "2016", path: "/aspnet_client/system_web/x.aspx", status: 404, size: 1245},
		{server: "2016", path: "/nothing-here", status: 404, size: 1245, header: map[string]string{"X-Feserver": absent}},
		{server: "2016", method: "POST", path: "/owa/", status: 302},

		// Exchange 2013: IIS 8.5, "Outlook Web App".
		{server: "2013", path: "/owa/auth/logon.aspx", status: 200, header: map[string]string{"Server": "Microsoft-IIS/8.5"},
			contains: []string{"<title>Outlook Web App</title>", "/owa/auth/15.0.1497/themes/resources/", "Segoe UI WPC"}},
		{server: "2013", path: "/owa/", status: 302, header: map[string]string{"X-Owa-Version": "15.0.1497.12"}},

		// 2019 CU9: OwaVersion below the CU (remote.md §1.3), ECP 403.
		{server: "2019-cu9", path: "/owa/", status: 302, header: map[string]string{"X-Owa-Version": "15.2.858.2"}},
		{server: "2019-cu9", path: "/owa/auth/logon.aspx", status: 200, contains: []string{"/owa/auth/15.2.858/themes/"}},
		{server: "2019-cu9", path: manifest, status: 403, contains: []string{"403 - Forbidden: Access is denied."}},
		{server: "2019-cu9", path: "/ecp/", status: 403},
		{server: "2019-cu9", path: "/ecp/15.2.858.5/exporttool/", status: 403},

		// Exchange 2010 (§B).
		{server: "2010", path: "/owa/", status: 302, location: "https://{host}/owa/auth/logon.aspx?replaceCurrent=1&url=https%3a%2f%2f{henc}%2fowa%2f",
			header: map[string]string{"X-Owa-Version": absent, "X-Feserver": absent, "Server": "Microsoft-IIS/7.5"}},
		{server: "2010", path: "/owa/auth/logon.aspx", status: 200, header: map[string]string{"X-Owa-Version": "14.3.513.0", "X-Feserver": absent},
			contains: []string{`<body class="owaLgnBdy">`, `href="/owa/14.3.513.0/themes/resources/logon.css"`, "<title>Outlook Web App</title>", "<!-- OwaPage = ASP.auth_logon_aspx -->"}},
		{server: "2010", path: manifest, status: 404},
		{server: "2010", path: "/ecp/14.3.513.0/exporttool/", status: 404},
		{server: "2010", path: "/EWS/Exchange.asmx", status: 401, header: map[string]string{"X-Owa-Version": absent}},

		// Header modes.
		{server: "stripped", path: "/owa/", status: 302, header: map[string]string{"X-Owa-Version": absent, "X-Feserver": "EXLAB00005"}},
		{server: "stripped", path: "/EWS/Exchange.asmx", status: 401, header: map[string]string{"X-Owa-Version": absent}},
		{server: "empty", path: "/owa/", status: 302, header: map[string]string{"X-Owa-Version": ""}},
		{server: "long", path: "/Microsoft-Server-ActiveSync", status: 401, header: map[string]string{"X-Owa-Version": "15.02.0858.002"}},

		// ECP 404 hides the web shell under /ecp as well.
		{server: "ecp404", path: manifest, status: 404},
		{server: "ecp404", path: "/ecp/auth/help.aspx", status: 404},
		{server: "ecp404", path: "/owa/", status: 302, header: map[string]string{"X-Owa-Version": "15.1.2176.2"}},

		// Manifest kept at the CU; the installed build's folder answers.
		{server: "manifest-at-cu", path: manifest, status: 200, contains: []string{`version="15.1.2176.2"`}, lacks: []string{"15.1.2176.9"}},
		{server: "manifest-at-cu", path: "/ecp/15.1.2176.9/exporttool/", status: 200},
		{server: "manifest-at-cu", path: "/ecp/15.1.2176.2/exporttool/", status: 404},

		// Hidden build folder.
		{server: "hide-path", path: "/owa/auth/logon.aspx", status: 200, contains: []string{"/owa/auth/themes/resources/favicon.ico"}, lacks: []string{"15.1.2176"}},
		{server: "hide-path", path: "/owa/auth/15.1.2176/themes/resources/favicon.ico", status: 404},

		// Redirects.
		{server: "loop", path: "/owa/", status: 302, location: "https://{host}/owa/auth/logon.aspx?url=https%3a%2f%2f{henc}%2fowa%2f&reason=0", header: map[string]string{"X-Owa-Version": "15.1.2176.9"}},
		{server: "loop", path: "/owa/auth/logon.aspx?url=x&reason=0", status: 302, location: "https://{host}/owa/"},
		{server: "offsite", path: "/owa/", status: 302, location: DefaultRedirectTo, header: map[string]string{"X-Feserver": absent, "X-Owa-Version": absent}},
		{server: "offsite", path: "/owa/auth/logon.aspx", status: 302, location: DefaultRedirectTo},
		{server: "offsite", path: "/owa/auth/errorEEE.aspx", status: 302, location: DefaultRedirectTo},
		{server: "offsite", path: "/EWS/Exchange.asmx", status: 401, header: map[string]string{"X-Owa-Version": "15.1.2176.9"}},
		{server: "offsite", path: manifest, status: 200},

		// WAF: browsers pass, tools do not.
		{server: "waf", path: "/owa/", ua: "curl/8.5.0", status: 403, contains: []string{"Request Rejected"}},
		{server: "waf", path: "/owa/", ua: "Go-http-client/1.1", status: 403},
		{server: "waf", path: "/owa/", status: 302},

		// Web shells (remote.md §7).
		{server: "webshells", path: "/aspnet_client/system_web/x.aspx", status: 200, size: -1},
		{server: "webshells", path: "/ASPNET_CLIENT/system_web/X.aspx", status: 200},
		{server: "webshells", path: "/owa/auth/errorEEE.aspx", status: 200, contains: []string{`<form method="post"`}},
		{server: "webshells", path: "/owa/auth/errorEE.aspx", status: 302},
		{server: "iis", path: "/aspnet_client/shell.aspx", status: 200},

		// Hostile strings.
		{server: "hostile", path: "/owa/auth/logon.aspx", status: 200, header: map[string]string{"X-Feserver": HostileFEServer},
			contains: []string{"<title>" + HostileTitle + "</title>"}},

		// Sizes.
		{server: "size", path: "/owa/auth/logon.aspx", status: 200, size: 124371, contains: []string{"/owa/auth/15.1.1913/"}},

		// Not Exchange.
		{server: "iis", path: "/", status: 200, size: 703, contains: []string{"<title>IIS Windows Server</title>", "iisstart.png"},
			header: map[string]string{"Server": "Microsoft-IIS/10.0", "X-Feserver": absent}},
		{server: "iis", path: "/owa/auth/logon.aspx", status: 404},
		{server: "iis", path: manifest, status: 404},
		{server: "nginx", path: "/", status: 200, contains: []string{"Welcome to nginx!"}},
		{server: "nginx", path: "/owa/", status: 404, contains: []string{"<center>nginx</center>"}},
		{server: "catchall", path: "/owa/auth/logon.aspx", status: 200, lacks: []string{"OwaPage", "/owa/auth/15."}},
		{server: "catchall", path: "/aspnet_client/system_web/x.aspx", status: 200},
		{server: "catchall", path: manifest, status: 200, lacks: []string{"assemblyIdentity"}},
	}
	for _, tt := range tests {
		if tt.method == "" {
			tt.method = "GET"
		}
		if tt.ua == "" {
			tt.ua = browserUA
		}
		target := byName[tt.server]
		expand := func(s string) string {
			return strings.NewReplacer("{host}", target, "{henc}", strings.ReplaceAll(target, ":", "%3a")).Replace(s)
		}
		t.Run(tt.server+" "+tt.method+" "+tt.path+" "+tt.ua[:4], func(t *testing.T) {
			r := get(t, c, tt.method, target, tt.path, tt.ua)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d", r.status, tt.status)
			}
			if tt.location != "" {
				if got := r.header.Get("Location"); got != expand(tt.location) {
					t.Errorf("Location %q, want %q", got, expand(tt.location))
				}
			}
			for k, want := range tt.header {
				vs, ok := r.header[k]
				switch {
				case want == absent && ok:
					t.Errorf("header %s = %q, want it absent", k, vs)
				case want != absent && !ok:
					t.Errorf("header %s missing, want %q", k, want)
				case want != absent && strings.Join(vs, "|") != want:
					t.Errorf("header %s = %q, want %q", k, strings.Join(vs, "|"), want)
				}
			}
			for _, s := range tt.contains {
				if !strings.Contains(r.body, expand(s)) {
					t.Errorf("body lacks %q", expand(s))
				}
			}
			for _, s := range tt.lacks {
				if strings.Contains(r.body, s) {
					t.Errorf("body contains %q", s)
				}
			}
			if tt.method == "HEAD" && r.body != "" {
				t.Errorf("HEAD body %d bytes", len(r.body))
			}
			if cl := r.header.Get("Content-Length"); tt.method != "HEAD" && cl != "" && cl != strconv.Itoa(len(r.body)) {
				t.Errorf("Content-Length %s, body %d", cl, len(r.body))
			}
			switch {
			case tt.size > 0 && len(r.body) != tt.size:
				t.Errorf("body %d bytes, want %d", len(r.body), tt.size)
			case tt.size < 0 && len(r.body) != 0:
				t.Errorf("body %d bytes, want empty", len(r.body))
			}
		})
	}
	// The one POST above is the only violation, and every request was counted.
	if v := l.Violations(); v != 1 {
		t.Errorf("violations = %d, want 1", v)
	}
	if got := l.Total().Requests; got != int64(len(tests)) {
		t.Errorf("requests = %d, want %d", got, len(tests))
	}
}

// TestHugeBody reads the 10 MiB logon page in full and checks the head is
// where scanners with a read cap will find it.
func TestHugeBody(t *testing.T) {
	_, byName := startContract(t)
	r := get(t, newClient(t), "GET", byName["huge"], "/owa/auth/logon.aspx", browserUA)
	if len(r.body) != HugeBodySize {
		t.Fatalf("body %d bytes, want %d", len(r.body), HugeBodySize)
	}
	head := r.body[:8<<10]
	for _, s := range []string{"<title>Outlook</title>", "/owa/auth/15.1.2176/themes/", "OwaPage", "IsOwaPremiumBrowser"} {
		if !strings.Contains(head, s) {
			t.Errorf("first 8 KB lack %q", s)
		}
	}
	if !strings.HasSuffix(r.body, "</html>\n") || !strings.Contains(r.body[len(r.body)-8<<10:], "To use Outlook, browser settings") {
		t.Error("tail of the page is missing")
	}
}

// TestLowercaseHeader reads raw bytes: net/http canonicalises header names, so
// only the wire shows the lower-case x-owa-version (wapiti issue #196).
func TestLowercaseHeader(t *testing.T) {
	l, err := Start(t.Context(), []Server{{Build: "15.1.2242.12", HeaderMode: HeaderLowercase}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	raw := rawGet(t, l.Targets()[0], "/owa/")
	if !strings.Contains(raw, "\r\nx-owa-version: 15.1.2242.12\r\n") {
		t.Errorf("no lower-case header in:\n%s", raw)
	}
}

func rawGet(t *testing.T, target, path string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", target, scanTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: "+target+"\r\nUser-Agent: "+browserUA+"\r\nConnection: close\r\n\r\n")
	b, _ := io.ReadAll(bufio.NewReader(conn))
	return string(b)
}

// TestTLS checks the TLS modes: TLS 1.0 with an RSA-CBC suite, the expired
// certificate, the hostile subject, and that a default Go client (TLS 1.2
// minimum) cannot talk to the TLS 1.0 server.
func TestTLS(t *testing.T) {
	servers := []Server{
		{Build: "15.1.2176.9"},
		{Build: "15.0.1497.2", TLS10Only: true},
		{Build: "15.2.792.10", ExpiredCert: true},
		{Build: "15.2.792.10", HostileStrings: true},
		{Build: "14.3.509.0", TLS10Only: true, ExpiredCert: true},
	}
	l, err := Start(t.Context(), servers, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	exp := l.Expectations()
	for i, tg := range l.Targets() {
		conn, err := tls.Dial("tcp", tg, scanTLS())
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		st := conn.ConnectionState()
		conn.Close()
		leaf := st.PeerCertificates[0]
		if got := leaf.Subject.String(); got != exp[i].CertSubject {
			t.Errorf("%d: subject %q, truth says %q", i, got, exp[i].CertSubject)
		}
		if expired := time.Now().After(leaf.NotAfter); expired != servers[i].ExpiredCert || exp[i].CertExpired != expired {
			t.Errorf("%d: expired %v, config %v, truth %v", i, expired, servers[i].ExpiredCert, exp[i].CertExpired)
		}
		wantV := uint16(tls.VersionTLS13)
		if servers[i].TLS10Only {
			wantV = tls.VersionTLS10
			if st.CipherSuite != tls.TLS_RSA_WITH_AES_128_CBC_SHA {
				t.Errorf("%d: suite %s", i, tls.CipherSuiteName(st.CipherSuite))
			}
			// Go's defaults refuse TLS 1.0: the scanner needs an explicit config.
			if c, err := tls.Dial("tcp", tg, &tls.Config{InsecureSkipVerify: true}); err == nil {
				c.Close()
				t.Errorf("%d: default client config talked to a TLS 1.0-only server", i)
			}
		}
		if st.Version != wantV {
			t.Errorf("%d: version %x, want %x", i, st.Version, wantV)
		}
	}
	if cn := exp[3].CertCN; !strings.Contains(cn, "<script>alert(1)</script>") || !strings.Contains(cn, "\x1b") {
		t.Errorf("hostile common name %q", cn)
	}
}

// TestRawModes: tarpit never answers, reset resets, garbage sends non-TLS
// bytes; Close returns promptly even with a held tarpit connection.
func TestRawModes(t *testing.T) {
	l, err := Start(t.Context(), []Server{{Kind: KindTarpit}, {Kind: KindReset}, {Kind: KindGarbage}}, Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	tg := l.Targets()

	// Tarpit: TCP connects, the handshake times out.
	raw, err := net.Dial("tcp", tg[0])
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(raw, scanTLS())
	tc.SetDeadline(time.Now().Add(300 * time.Millisecond))
	var ne net.Error
	if err := tc.Handshake(); !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("tarpit handshake: %v, want a timeout", err)
	}

	// Reset.
	if c, err := tls.Dial("tcp", tg[1], scanTLS()); err == nil {
		c.Close()
		t.Error("reset: handshake succeeded")
	}

	// Garbage: bytes arrive, and they are not a TLS record.
	g, err := net.Dial("tcp", tg[2])
	if err != nil {
		t.Fatal(err)
	}
	g.SetDeadline(time.Now().Add(2 * time.Second))
	b, _ := io.ReadAll(g)
	g.Close()
	if len(b) < 64 || b[0] == 0x16 {
		t.Errorf("garbage: %d bytes, first %#x", len(b), b)
	}
	if c, err := tls.Dial("tcp", tg[2], scanTLS()); err == nil {
		c.Close()
		t.Error("garbage: handshake succeeded")
	}

	start := time.Now()
	l.Close() // the tarpit connection is still open
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %s", d)
	}
	raw.Close()
	for i, want := range []int64{1, 1, 2} {
		if got := l.Stats(i).Conns; got != want {
			t.Errorf("server %d: %d connections, want %d", i, got, want)
		}
	}
}

// TestKeepAlive: a whole fingerprint is one connection.
func TestKeepAlive(t *testing.T) {
	l, err := Start(t.Context(), []Server{{Build: "15.1.2176.9"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c := newClient(t)
	for range 3 {
		for _, p := range fingerprint {
			get(t, c, "GET", l.Targets()[0], p, browserUA)
		}
	}
	if s := l.Stats(0); s.Conns != 1 || s.Requests != 12 {
		t.Errorf("%d connections for %d requests, want 1 for 12", s.Conns, s.Requests)
	}
}

// fingerprint is the 4-request sequence of remote.md §8.
var fingerprint = []string{"/owa/", "/owa/auth/logon.aspx?url=https%3a%2f%2fx%2fowa%2f&reason=0", manifest, "/EWS/Exchange.asmx"}
