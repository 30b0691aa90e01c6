package scan

import (
	"bytes"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/exsweep/exsweep/internal/exchange"
)

// The parsers below read hostile bytes from servers. They are pure functions over
// capped inputs, fuzzed in parse_test.go, and return only values that parse as
// Exchange builds.

var (
	// OWA 2013+ resource folder: /owa/auth/15.1.2176/themes/… (3-part, the CU).
	reOWAPath3 = regexp.MustCompile(`/owa/auth/(\d{1,2}\.\d{1,2}\.\d{1,5})/(?:themes|scripts|resources)/`)
	// OWA 2007/2010 resource folder: /owa/14.3.123.4/themes/… (4-part, the build).
	reOWAPath4 = regexp.MustCompile(`/owa/(?:auth/)?(\d{1,2}\.\d{1,2}\.\d{1,5}\.\d{1,5})/(?:themes|scripts|resources)/`)
	// eDiscovery ClickOnce manifest identity (Metasploit's regex, without atomic groups).
	reManifest = regexp.MustCompile(`name="microsoft\.exchange\.ediscovery\.exporttool(?:\.application)?"\s+version="(\d{1,2}\.\d{1,2}\.\d{1,5}\.\d{1,5})"`)
	reTitle    = regexp.MustCompile(`(?is)<title>\s*(.{0,200}?)\s*</title>`)
)

// owaMarkers are strings only an OWA logon page carries (Metasploit, WhatWeb and
// Greenbone use the same ones; http-examples.md §G).
var owaMarkers = [][]byte{
	[]byte("<!-- OwaPage = ASP.auth_logon_aspx -->"),
	[]byte("To use Outlook, browser settings must allow scripts to run."),
	[]byte("function IsOwaPremiumBrowser"),
	[]byte(`class="owaLgnBdy"`),
	[]byte(`class="signInHeader">Outlook`),
	[]byte("flogon.js"),
}

// logonPage is what the OWA logon page reveals.
type logonPage struct {
	// CU is the 3-part build from /owa/auth/<cu>/ (2013 and later).
	CU exchange.Version
	// Build is the 4-part build from /owa/<build>/ (2007/2010).
	Build exchange.Version
	// Markers counts OWA-only strings found.
	Markers int
	Title   string
}

func parseLogonPage(body []byte) logonPage {
	var p logonPage
	if m := reOWAPath4.FindSubmatch(body); m != nil {
		if v, err := exchange.Parse(string(m[1])); err == nil {
			p.Build = v
		}
	}
	if m := reOWAPath3.FindSubmatch(body); m != nil {
		if v, err := exchange.Parse(string(m[1])); err == nil {
			p.CU = v
		}
	}
	for _, mk := range owaMarkers {
		if bytes.Contains(body, mk) {
			p.Markers++
		}
	}
	if m := reTitle.FindSubmatch(body); m != nil {
		p.Title = clean(string(m[1]), 120)
	}
	return p
}

// parseManifest returns the version of the exporttool ClickOnce manifest.
func parseManifest(body []byte) (exchange.Version, bool) {
	m := reManifest.FindSubmatch(body)
	if m == nil {
		return exchange.Version{}, false
	}
	v, err := exchange.Parse(string(m[1]))
	return v, err == nil && v.Exact()
}

// parseOWAVersionHeader reads X-OWA-Version, which may be empty, lower-case (the
// caller uses http.Header.Get, which is case-insensitive) or in the long form
// 15.02.0858.005. Only a 4-part value counts.
func parseOWAVersionHeader(s string) (exchange.Version, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 40 {
		return exchange.Version{}, false
	}
	v, err := exchange.Parse(s)
	if err != nil || !v.Exact() {
		return exchange.Version{}, false
	}
	return v, true
}

// clean makes a hostile string safe to store and print: valid UTF-8, control
// characters escaped, at most max bytes (cut on a rune boundary, marked with …).
func clean(s string, max int) string {
	if len(s) > 4*max {
		s = s[:4*max]
	}
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= max {
			b.WriteString("…")
			break
		}
		switch {
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			b.WriteString(`\x`)
			const hex = "0123456789abcdef"
			b.WriteByte(hex[(r>>4)&0xf])
			b.WriteByte(hex[r&0xf])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
