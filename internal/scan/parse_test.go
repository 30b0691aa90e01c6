package scan

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// Verbatim snippets from shared/data/exchange/http-examples.md (copied, since
// users do not have ../shared).
const (
	logon2013CU21 = `  | <!-- Copyright (c) 2011 Microsoft Corporation.  All rights reserved. -->
  | <!-- OwaPage = ASP.auth_logon_aspx -->
  | <link rel="shortcut icon" href="/owa/auth/15.0.1395/themes/resources/favicon.ico" type="image/x-icon">
  | <title>Outlook Web App</title>`
	logon2016CU15 = `<!-- OwaPage = ASP.auth_logon_aspx -->
<link rel="shortcut icon" href="/owa/auth/15.1.1913/themes/resources/favicon.ico" type="image/x-icon">
<title>Outlook</title>
//  flogon.js
<td style="width:100%">To use Outlook, browser settings must allow scripts to run.`
	logon2010 = `<link type="text/css" rel="stylesheet" href="https://webmail.example/owa/14.3.123.3/themes/resources/logon.css">
<body class="owaLgnBdy" topmargin="0" style="background-color: #ACACAC">`
	manifestCU22 = `<?xml version="1.0" encoding="utf-8"?>
 <assemblyIdentity xmlns="urn:schemas-microsoft-com:asm.v1" name="microsoft.exchange.ediscovery.exporttool.application" version="15.1.2375.7" publicKeyToken="b1d1a6c45aa418ce" language="neutral" processorArchitecture="msil"/>
 <assemblyIdentity name="microsoft.exchange.ediscovery.exporttool" version="15.1.2375.7" publicKeyToken="b1d1a6c45aa418ce" language="neutral" processorArchitecture="msil" type="win32"/>`
	manifestCU20 = `<assemblyIdentity name="microsoft.exchange.ediscovery.exporttool" version="15.1.2242.5" publicKeyToken="deffc2c208a0af39" language="neutral" processorArchitecture="msil" type="win32" />`
)

func TestParseLogonPage(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		cu      string
		build   string
		markers int
		title   string
	}{
		{"2013 CU21", logon2013CU21, "15.0.1395", "", 1, "Outlook Web App"},
		{"2016 CU15", logon2016CU15, "15.1.1913", "", 3, "Outlook"},
		{"2010 SP3", logon2010, "", "14.3.123.3", 1, ""},
		{"IIS default page", `<title>IIS Windows Server</title><img src="iisstart.png">`, "", "", 0, "IIS Windows Server"},
		{"version-like text elsewhere", `/owa/auth/15.1.2176/other/ /owa/15.1.2/themes/`, "", "", 0, ""},
		{"hostile title", "<title><script>alert(1)</script>\x00\x1b[31m</title>", "", "", 0, `<script>alert(1)</script>\x00\x1b[31m`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parseLogonPage([]byte(tt.body))
			got := []any{p.CU.String(), p.Build.String(), p.Markers, p.Title}
			want := []any{tt.cu, tt.build, tt.markers, tt.title}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestParseManifest(t *testing.T) {
	for body, want := range map[string]string{
		manifestCU22: "15.1.2375.7",
		manifestCU20: "15.1.2242.5",
		`<assemblyIdentity name="microsoft.exchange.ediscovery.exporttool" version="{hidden}"/>`: "",
		`name="microsoft.exchange.ediscovery.exporttool" version="15.1.2375"`:                    "",
		"": "",
	} {
		v, ok := parseManifest([]byte(body))
		if v.String() != want || ok != (want != "") {
			t.Errorf("parseManifest(%.60q) = %v, %v; want %q", body, v, ok, want)
		}
	}
}

func TestParseOWAVersionHeader(t *testing.T) {
	for in, want := range map[string]string{
		"15.1.2242.12":           "15.1.2242.12",
		"15.02.2562.037":         "15.2.2562.37",
		" 15.2.858.2 ":           "15.2.858.2",
		"":                       "",
		"15.1.2242":              "", // a header value must be exact
		"garbage":                "",
		strings.Repeat("1", 100): "",
	} {
		v, ok := parseOWAVersionHeader(in)
		if v.String() != want || ok != (want != "") {
			t.Errorf("parseOWAVersionHeader(%q) = %v, %v; want %q", in, v, ok, want)
		}
	}
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"EX01":          "EX01",
		"a\x00b\nc\x7f": `a\x00b\x0ac\x7f`,
		"bad\xffutf8":   `bad\ufffdutf8`,
		"<b>é</b>":      "<b>é</b>", // HTML is escaped where it is rendered, not here
	} {
		if got := clean(in, 100); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
	if got := clean(strings.Repeat("x", 20), 10); got != "xxxxxxxxxx…" {
		t.Errorf("clean cap = %q", got)
	}
}

func FuzzParsers(f *testing.F) {
	for _, s := range []string{logon2013CU21, logon2016CU15, logon2010, manifestCU22, manifestCU20, "<title>x</title>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := parseLogonPage(b)
		if !p.CU.IsZero() && p.CU.Exact() {
			t.Fatalf("3-part CU parsed as exact: %v", p.CU)
		}
		if !p.Build.IsZero() && !p.Build.Exact() {
			t.Fatalf("4-part build parsed as 3-part: %v", p.Build)
		}
		if !utf8.ValidString(p.Title) || len(p.Title) > 130 {
			t.Fatalf("title not cleaned: %q", p.Title)
		}
		if v, ok := parseManifest(b); ok && !v.Exact() {
			t.Fatalf("manifest version not exact: %v", v)
		}
		if v, ok := parseOWAVersionHeader(string(b)); ok && !v.Exact() {
			t.Fatalf("header version not exact: %v", v)
		}
		if c := clean(string(b), 64); !utf8.ValidString(c) || len(c) > 64+len("…")+4 {
			t.Fatalf("clean gave %q", c)
		}
	})
}
