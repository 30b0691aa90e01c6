package hunt

import (
	"fmt"
	"strings"
	"testing"

	"github.com/exsweep/exsweep/internal/hunt/logs"
)

// iisLine writes a request as an IIS W3C line (15 default fields), to check
// that the pre-filter keeps what the matcher flags.
func iisLine(r webReq) string {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return strings.ReplaceAll(s, " ", "+")
	}
	return fmt.Sprintf("2021-03-05 03:06:27 10.0.0.5 %s %s %s 443 %s %s %s - %d 0 0 13",
		r.method, r.stem, dash(r.query), dash(r.user), r.client, dash(r.ua), r.status)
}

func TestMatchIIS(t *testing.T) {
	cs := mustChecks(t)
	const chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/89.0.4389.82 Safari/537.36"
	for _, tc := range []struct {
		name  string
		r     webReq
		check string // "" = nothing
		grade string
	}{
		// CVE-2021-26855 entry points.
		{"y.js POST", webReq{method: "POST", stem: "/ecp/y.js", status: 200, ua: "python-requests/2.25.1"}, chkIISSSRF, GradeAttempt},
		{"3-char js upper case", webReq{method: "POST", stem: "/ECP/ABC.JS", status: 500}, chkIISSSRF, GradeAttempt},
		{"encoded", webReq{method: "POST", stem: "/ecp/%79.js", status: 200}, chkIISSSRF, GradeAttempt},
		{"x.js GET probe", webReq{method: "GET", stem: "/owa/auth/x.js", status: 500, cookie: "X-AnonResource-Backend=localhost/ecp/default.flt?~3"}, chkIISSSRF, GradeProbe},
		{"theme POST", webReq{method: "POST", stem: "/owa/auth/Current/themes/resources/logon.css", status: 200, ua: "DuckDuckBot/1.0;+(+http://duckduckgo.com/duckduckbot.html)"}, chkIISSSRF, GradeAttempt},
		{"theme POST other file", webReq{method: "POST", stem: "/owa/auth/Current/themes/resources/SegoeUI-SemiLight.ttf", status: 200}, chkIISSSRF, GradeAttempt},
		{"default.flt", webReq{method: "POST", stem: "/ecp/default.flt", status: 200}, chkIISSSRF, GradeAttempt},
		{"static POST elsewhere in owa/auth", webReq{method: "POST", stem: "/owa/auth/15.1.2176/scripts/premium/x.js", status: 200}, chkIISSSRF, GradeAttempt},
		{"POST owa/auth/Current/", webReq{method: "POST", stem: "/owa/auth/Current/", status: 200}, chkIISSSRF, GradeAttempt},
		// Shells.
		{"HELSE shell GET", webReq{method: "GET", stem: "/owa/auth/RedirSuiteServerProxy.aspx", status: 200, ua: chrome}, chkIISShell, GradeBackdoor},
		{"MSTIC shell 404", webReq{method: "GET", stem: "/aspnet_client/shell.aspx", status: 404}, chkIISShell, GradeProbe},
		{"shell 302", webReq{method: "GET", stem: "/owa/auth/errorPage.aspx", status: 302}, chkIISShell, GradeAttempt},
		{"8-char in system_web", webReq{method: "POST", stem: "/aspnet_client/system_web/Ab3dE7gH.aspx", status: 200, ua: "antSword/v2.1"}, chkIISShell, GradeBackdoor},
		{"unknown page POST in aspnet_client", webReq{method: "POST", stem: "/aspnet_client/discover2.aspx", status: 200}, chkIISScript, GradeBackdoor},
		{"unknown page GET in owa/auth", webReq{method: "GET", stem: "/owa/auth/aKdMadOeT.aspx", query: "cmd=whoami", status: 200}, chkIISScript, GradeAttempt},
		{"unknown page GET in owa/auth/Current", webReq{method: "GET", stem: "/owa/auth/Current/one1.aspx", status: 200}, chkIISScript, GradeAttempt},
		{"unknown page 404", webReq{method: "GET", stem: "/ecp/auth/x.ashx", status: 404}, chkIISScript, GradeProbe},
		{"OAB log.aspx", webReq{method: "POST", stem: "/OAB/log.aspx", status: 200}, chkIISShell, GradeBackdoor},
		// User agents on exploitation paths.
		{"python POST ecp", webReq{method: "POST", stem: "/ecp/DDI/DDIService.svc/SetObject", status: 200, ua: "python-requests/2.19.1"}, chkIISUA, GradeAttempt},
		{"antSword anywhere", webReq{method: "POST", stem: "/owa/service.svc", status: 200, ua: "antSword/v2.1"}, chkIISUA, GradeAttempt},
		// ProxyShell.
		{"proxyshell mapi", webReq{method: "GET", stem: "/autodiscover/autodiscover.json", query: "@evil.corp/mapi/nspi/?&Email=autodiscover/autodiscover.json%3F@evil.corp", status: 200}, chkProxyShell, GradeAttempt},
		{"proxyshell powershell", webReq{method: "POST", stem: "/autodiscover/autodiscover.json", query: "@evil.corp/powershell/?X-Rps-CAT=x&Email=autodiscover/autodiscover.json%3F@evil.corp", status: 200}, chkProxyShell, GradeExploited},
		{"proxyshell refused", webReq{method: "GET", stem: "/autodiscover/autodiscover.json", query: "@evil.corp/mapi/nspi/?&Email=autodiscover/autodiscover.json%3F@evil.corp", status: 400}, chkProxyShell, GradeProbe},
		// Benign look-alikes.
		{"logon page", webReq{method: "GET", stem: "/owa/auth/logon.aspx", query: "url=https%3a%2f%2fmail.contoso.com%2fowa%2f&reason=0", status: 200, ua: chrome}, "", ""},
		{"errorFE", webReq{method: "GET", stem: "/owa/auth/errorFE.aspx", query: "httpCode=500", status: 200}, "", ""},
		{"legit service proxy", webReq{method: "GET", stem: "/owa/auth/RedirSuiteServiceProxy.aspx", status: 200}, "", ""},
		{"timeout logout", webReq{method: "GET", stem: "/ecp/auth/TimeoutLogout.aspx", status: 200}, "", ""},
		{"theme GET", webReq{method: "GET", stem: "/owa/auth/Current/themes/resources/logon.css", status: 200, ua: chrome}, "", ""},
		{"versioned theme GET", webReq{method: "GET", stem: "/owa/auth/15.1.2176/themes/resources/lgnbotl.gif", status: 200}, "", ""},
		{"owa login POST", webReq{method: "POST", stem: "/owa/auth.owa", status: 302}, "", ""},
		{"ECP admin", webReq{method: "POST", stem: "/ecp/DDI/DDIService.svc/SetObject", query: "msExchEcpCanary=x&schema=OWAVirtualDirectory", status: 200, ua: chrome, user: "CONTOSO\\exadmin"}, "", ""},
		{"ECP script in versioned folder", webReq{method: "GET", stem: "/ecp/15.1.2176/scripts/common.js", status: 200}, "", ""},
		{"ECP 4-char js", webReq{method: "POST", stem: "/ecp/abcd.js", status: 404}, chkIISSSRF, GradeAttempt}, // a POST to a static file is still the SSRF shape
		{"Googlebot GET owa", webReq{method: "GET", stem: "/owa/", status: 302, ua: "Mozilla/5.0+(compatible;+Googlebot/2.1;++http://www.google.com/bot.html)"}, "", ""},
		{"python GET owa", webReq{method: "GET", stem: "/owa/", status: 302, ua: "python-requests/2.25.1"}, "", ""},
		{"autodiscover v2", webReq{method: "GET", stem: "/autodiscover/autodiscover.json", query: "Email=jones%40contoso.com&Protocol=ActiveSync&RedirectCount=1", status: 200}, "", ""},
		{"autodiscover v2 path", webReq{method: "GET", stem: "/autodiscover/autodiscover.json/v1.0/jones@contoso.com", query: "Protocol=AutodiscoverV1", status: 200}, "", ""},
		{"EWS", webReq{method: "POST", stem: "/EWS/Exchange.asmx", status: 200, ua: "ExchangeServicesClient/15.00.0913.015"}, "", ""},
		{"site page help.aspx", webReq{method: "GET", stem: "/help.aspx", status: 200}, "", ""}, // weak name outside the shell folders
		{"aspnet_client js", webReq{method: "GET", stem: "/aspnet_client/system_web/4_0_30319/WebUIValidation.js", status: 200}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			if r.client == "" {
				r.client = "192.0.2.1"
			}
			h := matchIIS(cs, &r)
			switch {
			case tc.check == "" && h != nil:
				t.Errorf("flagged as %s %s: %s", h.check.ID, h.grade, h.what)
			case tc.check != "" && h == nil:
				t.Errorf("not flagged, want %s", tc.check)
			case h != nil && (h.check.ID != tc.check || h.grade != tc.grade):
				t.Errorf("got %s %s, want %s %s", h.check.ID, h.grade, tc.check, tc.grade)
			}
			if h != nil {
				if line := iisLine(r); !cs.filters[logs.TypeW3C].Match([]byte(line)) {
					t.Errorf("the IIS pre-filter skips %q", line)
				}
			}
		})
	}
}

func TestAttackerUA(t *testing.T) {
	u := mustChecks(t).get(chkIISUA)
	for ua, want := range map[string]string{
		"DuckDuckBot/1.0;+(+http://duckduckgo.com/duckduckbot.html)":    "DuckDuckBot/1.0",
		"Mozilla/5.0+(compatible;+Yahoo!+Slurp;+http://help.yahoo.com)": "Yahoo! Slurp",
		"ANTSWORD/v2.1": "antSword",
		"Mozilla/5.0+(X11;+Linux+x86_64)+AppleWebKit/537.36+(KHTML,+like+Gecko)+Chrome/51.0.2704.103+Safari/537.36": "Chrome/51.0.2704.103",
		"ExchangeServicesClient/15.00.0913.015": "",
		"python-requests/2.26.0":                "",
		"":                                      "",
	} {
		if got, _ := attackerUA(u, ua); got != want {
			t.Errorf("attackerUA(%q) = %q, want %q", ua, got, want)
		}
	}
}
