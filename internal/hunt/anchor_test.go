package hunt

import (
	"strings"
	"testing"

	"github.com/exsweep/exsweep/internal/hunt/logs"
	"github.com/google/go-cmp/cmp"
)

func TestClassifyAnchor(t *testing.T) {
	cs := mustChecks(t)
	c := cs.get(chkSSRF)
	for _, tc := range []struct {
		in    string
		class int
		t     ssrfTarget
	}{
		// Attacks (host.md §2.8, HELSE and CSS-Exchange #100).
		{"ServerInfo~a]@exch01.contoso.local:444/ecp/proxyLogon.ecp?#", ssrfAction, ssrfTarget{Host: "exch01.contoso.local:444", Path: "/ecp/proxyLogon.ecp"}},
		{"ServerInfo~a]@exch01.contoso.local:444/ecp/DDI/DDIService.svc/SetObject?msExchEcpCanary=x&schema=ResetOABVirtualDirectory#", ssrfAction,
			ssrfTarget{Host: "exch01.contoso.local:444", Path: "/ecp/DDI/DDIService.svc/SetObject"}},
		{"ServerInfo~exch01/EWS/Exchange.asmx?a=~1942062522", ssrfAction, ssrfTarget{Host: "exch01", Path: "/EWS/Exchange.asmx"}},
		{"ServerInfo~a]@exch01.contoso.local:444/mapi/emsmdb/?#", ssrfAttempt, ssrfTarget{Host: "exch01.contoso.local:444", Path: "/mapi/emsmdb/"}},
		{"serverinfo~x@exch01:444/Something/else", ssrfAttempt, ssrfTarget{Host: "exch01:444", Path: "/Something/else"}},
		// Probes: autodiscover only, localhost (nmap, Microsoft's checker).
		{"ServerInfo~a]@exch01.contoso.local:444/autodiscover/autodiscover.xml?#", ssrfProbe, ssrfTarget{Host: "exch01.contoso.local:444", Path: "/autodiscover/autodiscover.xml"}},
		{"ServerInfo~localhost/ecp/default.flt?", ssrfProbe, ssrfTarget{Host: "localhost", Path: "/ecp/default.flt", Localhost: true}},
		{"ServerInfo~a]@localhost:444/ecp/proxyLogon.ecp?#", ssrfProbe, ssrfTarget{Host: "localhost:444", Path: "/ecp/proxyLogon.ecp", Localhost: true}},
		{"ServerInfo~127.0.0.1/owa/", ssrfProbe, ssrfTarget{Host: "127.0.0.1", Path: "/owa/", Localhost: true}},
		// Normal routing values.
		{"ServerInfo~EXCH01", ssrfNone, ssrfTarget{}},
		{"ServerInfo~exch01.contoso.local", ssrfNone, ssrfTarget{}},
		{"Sid~S-1-5-21-1004336348-1177238915-682003330-1107", ssrfNone, ssrfTarget{}},
		{"Smtp~jones@contoso.com", ssrfNone, ssrfTarget{}},
		{"MailboxGuid~3a1e5d0c-8f7b-4c2a-9e61-0d5b7c3f2a10@contoso.com", ssrfNone, ssrfTarget{}},
		{"ServerVersion~Version 15.0 (Build 0.0)", ssrfNone, ssrfTarget{}},
		{"", ssrfNone, ssrfTarget{}},
	} {
		got, class := classifyAnchor(c, []byte(tc.in))
		if class != tc.class || !cmp.Equal(got, tc.t) {
			t.Errorf("classifyAnchor(%q) = %d %+v, want %d %+v", tc.in, class, got, tc.class, tc.t)
		}
	}
}

func TestClassifyCookie(t *testing.T) {
	c := mustChecks(t).get(chkSSRF)
	for _, tc := range []struct {
		in    string
		class int
	}{
		{"Server~x]@exch01.contoso.local:444/EWS/Exchange.asmx?#~1942062522", ssrfAction},
		{"Server~localhost/ecp/default.flt?~1942062522", ssrfProbe},
		{"Server~a]@exch01:444/mapi/emsmdb/?#~1942062522", ssrfAttempt},
		// Normal back-end cookies (host.md §3.2 sample; the date comes last).
		{"Server~exch02.contoso.local~1942062522~2021-03-01T10:00:00", ssrfNone},
		{"Database~fb7adba2-51f4-47e3-b170-fd39f85aaf35~~2023-02-08T18:59:59~domain.test~1", ssrfNone},
		{"Server~exch02.contoso.local~1942062522~3/1/2021 10:00:00 AM", ssrfNone}, // a slash after the last ~
		{"Server~a/b", ssrfNone}, // no ~ after the path: not the Server~*/*~* shape
	} {
		if _, class := classifyCookie(c, []byte(tc.in)); class != tc.class {
			t.Errorf("classifyCookie(%q) = %d, want %d", tc.in, class, tc.class)
		}
	}
}

func TestSSRFGrade(t *testing.T) {
	for _, tc := range []struct {
		class, status int
		want          string
	}{
		{ssrfProbe, 200, GradeProbe},
		{ssrfAttempt, 200, GradeAttempt},
		{ssrfAction, 241, GradeExploited},
		{ssrfAction, 200, GradeExploited},
		{ssrfAction, 500, GradeAttempt},
		{ssrfAction, 0, GradeAttempt},
	} {
		if got := ssrfGrade(tc.class, tc.status); got != tc.want {
			t.Errorf("ssrfGrade(%d, %d) = %s, want %s", tc.class, tc.status, got, tc.want)
		}
	}
}

func TestProxyShellTarget(t *testing.T) {
	ps := mustChecks(t).get(chkProxyShell)
	for _, tc := range []struct {
		in     string
		target string
		ok     bool
	}{
		// Attacks.
		{"/autodiscover/autodiscover.json?@evil.corp/mapi/nspi/?&Email=autodiscover/autodiscover.json%3F@evil.corp", "/mapi/nspi/", true},
		{"/autodiscover/autodiscover.json?@evil.corp/powershell/?X-Rps-CAT=VgEA&Email=autodiscover/autodiscover.json%3F@evil.corp", "/powershell/", true},
		{"/autodiscover/autodiscover.json?a=a@x.com/EWS/Exchange.asmx?&Email=x", "/ews/exchange.asmx", true},
		{"/autodiscover/autodiscover.json@evil.corp/owa/?&Email=autodiscover/autodiscover.json%3F@evil.corp", "/owa/", true},
		{"/autodiscover/autodiscover.json?@foo/&Email=autodiscover/autodiscover.json%3f@foo", "", true}, // marker alone
		{"/autodiscover/autodiscover.json%3F@evil.corp/ecp/default.flt", "/ecp/default.flt", true},
		// Ordinary Autodiscover v2 (must not match).
		{"/autodiscover/autodiscover.json?Email=jones@contoso.com&Protocol=ActiveSync&RedirectCount=1", "", false},
		{"/autodiscover/autodiscover.json?Email=jones%40contoso.com&Protocol=EWS", "", false},
		{"/autodiscover/autodiscover.json/v1.0/jones@contoso.com?Protocol=AutodiscoverV1", "", false},
		{"/autodiscover/autodiscover.json/v1.0/jones@contoso.com?Protocol=Rest&RedirectCount=1", "", false},
		{"/autodiscover/autodiscover.xml", "", false},
		{"/owa/?@x/mapi/", "", false}, // not autodiscover.json
	} {
		lower := strings.ToLower(percentDecode(tc.in))
		target, ok := proxyShellTarget(ps, lower)
		if target != tc.target || ok != tc.ok {
			t.Errorf("proxyShellTarget(%q) = %q %v, want %q %v", tc.in, target, ok, tc.target, tc.ok)
		}
	}
}

func TestProxyShellGrade(t *testing.T) {
	ps := mustChecks(t).get(chkProxyShell)
	for _, tc := range []struct {
		target string
		status int
		want   string
	}{
		{"/powershell/", 200, GradeExploited},
		{"/mapi/nspi/", 200, GradeAttempt},
		{"/mapi/nspi/", 302, GradeProbe},
		{"/powershell/", 401, GradeProbe},
	} {
		if got := proxyShellGrade(ps, tc.target, tc.status); got != tc.want {
			t.Errorf("proxyShellGrade(%q, %d) = %s, want %s", tc.target, tc.status, got, tc.want)
		}
	}
}

func TestPercentDecode(t *testing.T) {
	for in, want := range map[string]string{
		"/ecp/%79.js":                 "/ecp/y.js",
		"autodiscover.json%3F@x":      "autodiscover.json?@x",
		"%":                           "%",
		"%4":                          "%4",
		"%zz%41":                      "%zzA",
		"a+b":                         "a+b",
		"jones%40contoso.com%2":       "jones@contoso.com%2",
		"/owa/auth/%2e%2e/x.aspx%00x": "/owa/auth/../x.aspx\x00x",
	} {
		if got := percentDecode(in); got != want {
			t.Errorf("percentDecode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestQueryValue(t *testing.T) {
	for _, tc := range []struct{ s, key, want string }{
		{"&CorrelationID=<empty>;&cafeReqId=cde28fc4-299e-4179-b3e9-de56f5c1d9ee;&encoding=;", "cafereqid", "cde28fc4-299e-4179-b3e9-de56f5c1d9ee"},
		{"ServerInfo~a]@x:444/ecp/DDI/DDIService.svc/GetObject?msExchEcpCanary=Zm9v.&schema=OAB#", "msexchecpcanary", "Zm9v."},
		{"/ecp/x?xmsExchEcpCanary=no", "msexchecpcanary", ""},
		{"", "cafereqid", ""},
	} {
		if got := queryValue(tc.s, tc.key); got != tc.want {
			t.Errorf("queryValue(%q, %q) = %q, want %q", tc.s, tc.key, got, tc.want)
		}
	}
}

// Every HttpProxy attack line passes the merged pre-filter: a matcher is
// useless if the reader skips its records before it runs.
func TestHttpProxyFilterKeepsAttacks(t *testing.T) {
	f := mustChecks(t).filters[logs.TypeHttpProxy]
	for _, line := range []string{
		"2021-03-05T03:06:12.303Z,id,15,1,2176,2,,Ecp,mail.contoso.com,/ecp/y.js,,,False,,,ServerInfo~a]@exch01.contoso.local:444/ecp/proxyLogon.ecp?#,python-requests/2.25.1",
		"2021-03-05T05:44:21.000Z,id,15,1,2176,2,,Ecp,mail,/ecp/x.js,,,False,,,,python,198.51.100.23,EXCH01,500,500,,POST,,,,,X-BEResource-Cookie,Server~x]@exch01:444/EWS/Exchange.asmx?#~1942062522",
		"2021-08-13T10:00:15.000Z,id,15,1,2176,2,,Autodiscover,mail,/AutoDiscover/AutoDiscover.JSON,,,False,,,,python,203.0.113.77,EXCH01,200",
	} {
		if !f.Match([]byte(line)) {
			t.Errorf("pre-filter skips %q", line)
		}
	}
}
