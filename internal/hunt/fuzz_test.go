package hunt

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// The parsers of this package read attacker-controlled text: they must
// never panic, and what they return must come from the input and stay
// bounded.

func FuzzParseECPCmd(f *testing.F) {
	for _, s := range []string{
		`Set-OabVirtualDirectory.ExternalUrl=''http://f/<script language="JScript" runat="server">function Page_Load(){eval(Request["klk123456"],"unsafe");}</script>''.Identity=''3a7f''`,
		"Set-OabVirtualDirectory.ExternalUrl=$null.Identity='x'",
		"Get-InboxRule", ".", ".=", "..a=.b=", "Set-X.A='", "Set-X.A=''", "Set-X.A='''.B=''",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := parseECPCmd(s)
		if len(c.Params) > maxCmdParams {
			t.Fatalf("%d params", len(c.Params))
		}
		capped := capString(s, maxCmdText)
		if !strings.Contains(capped, c.Name) {
			t.Fatalf("name %q not from the input", c.Name)
		}
		for _, p := range c.Params {
			if !strings.Contains(capped, p.Name+"=") || !strings.Contains(capped, p.Value) {
				t.Fatalf("param %q=%q not from the input %q", p.Name, p.Value, s)
			}
		}
	})
}

func FuzzParsePSParams(f *testing.F) {
	for _, s := range []string{
		`-Role "Mailbox Import Export" -SecurityGroup "Organization Management"`,
		`-Mailbox "Jones" -ContentFilter "Subject -eq 'x'" -FilePath "\\127.0.0.1\c$\x.aspx"`,
		`-A:"b" -C`, `"`, `-`, `--`, `-a "x""`, `'''`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps := parsePSParams(s)
		if len(ps) > maxCmdParams {
			t.Fatalf("%d params", len(ps))
		}
		total := 0
		for _, p := range ps {
			total += len(p.Name) + len(p.Value)
		}
		if total > len(s)+1 {
			t.Fatalf("output (%d bytes) larger than the input (%d)", total, len(s))
		}
	})
}

func FuzzClassifyAnchor(f *testing.F) {
	for _, s := range []string{
		"ServerInfo~a]@exch01.contoso.local:444/ecp/proxyLogon.ecp?#",
		"ServerInfo~localhost/ecp/default.flt?", "ServerInfo~EXCH01", "Sid~S-1-5-21", "ServerInfo~@/", "ServerInfo~/",
		"Server~x]@exch01:444/EWS/Exchange.asmx?#~1942062522", "Server~a/b", "Server~~/~",
	} {
		f.Add([]byte(s))
	}
	c := mustChecks(f).get(chkSSRF)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, fn := range []func(*check, []byte) (ssrfTarget, int){classifyAnchor, classifyCookie} {
			tg, class := fn(c, b)
			if class == ssrfNone {
				if tg != (ssrfTarget{}) {
					t.Fatalf("target %+v without a class", tg)
				}
				continue
			}
			if !strings.HasPrefix(tg.Path, "/") || len(tg.Path) > 200+len("…") || len(tg.Host) > 120+len("…") {
				t.Fatalf("bad target %+v", tg)
			}
			if !bytes.Contains(b, []byte(strings.TrimSuffix(tg.Path, "…"))) {
				t.Fatalf("path %q not from the input", tg.Path)
			}
			if class < ssrfProbe || class > ssrfAction {
				t.Fatalf("class %d", class)
			}
		}
	})
}

func FuzzProxyShellTarget(f *testing.F) {
	for _, s := range []string{
		"/autodiscover/autodiscover.json?@evil.corp/mapi/nspi/?&email=autodiscover/autodiscover.json%3f@evil.corp",
		"/autodiscover/autodiscover.json?email=a@b.c&protocol=ews", "autodiscover.json@@@@/", "autodiscover.json",
	} {
		f.Add(s)
	}
	ps := mustChecks(f).get(chkProxyShell)
	f.Fuzz(func(t *testing.T, s string) {
		lower := strings.ToLower(percentDecode(s))
		target, ok := proxyShellTarget(ps, lower)
		if target != "" && (!ok || !hasAnyPrefix(target, ps.ind("backend_paths"))) {
			t.Fatalf("target %q ok %v", target, ok)
		}
		if len(target) > 120+len("…") {
			t.Fatalf("target of %d bytes", len(target))
		}
	})
}

func FuzzReadMinidump(f *testing.F) {
	f.Add(makeMinidump(`C:\Windows\System32\lsass.exe`, 1614850200, 300))
	f.Add([]byte("MDMP"))
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		info := readMinidump(bytes.NewReader(b), int64(len(b)))
		if len(info.image) > 3*mdMaxNameBytes {
			t.Fatalf("image name of %d bytes", len(info.image))
		}
		if info.image != "" && !utf8.ValidString(info.image) {
			t.Fatalf("invalid UTF-8 %q", info.image)
		}
	})
}

func FuzzMatchIIS(f *testing.F) {
	f.Add("POST", "/ecp/y.js", "", "python-requests/2.25.1", "", 200)
	f.Add("GET", "/autodiscover/autodiscover.json", "@evil.corp/mapi/nspi/?&Email=autodiscover/autodiscover.json%3F@evil.corp", "", "", 200)
	f.Add("GET", "/owa/auth/%zz.aspx", "", "antSword", "X-BEResource=a", 404)
	cs := mustChecks(f)
	f.Fuzz(func(t *testing.T, method, stem, query, ua, cookie string, status int) {
		r := webReq{method: method, stem: stem, query: query, ua: ua, cookie: cookie, status: status, client: "192.0.2.1"}
		if h := matchIIS(cs, &r); h != nil && (h.check == nil || !validGrade(h.grade)) {
			t.Fatalf("bad hit %+v", h)
		}
	})
}
