package hunt

import (
	"bytes"
	"strings"
)

// ssrfTarget is what a forged ProxyLogon routing value asks the front end to
// reach: AnchorMailbox "ServerInfo~a]@exch01.contoso.local:444/ecp/proxyLogon.ecp?#"
// or BackEndCookie "Server~a]@exch01:444/ecp/y.js?#~1942062522".
type ssrfTarget struct {
	Host      string // "exch01.contoso.local:444", "localhost"
	Path      string // "/ecp/proxyLogon.ecp", as written (case kept)
	Localhost bool
}

// Classes of a forged target, lowest to highest.
const (
	ssrfNone    = iota // a normal routing value: no path
	ssrfProbe          // autodiscover or localhost only: scanners, failed attempts
	ssrfAttempt        // another back-end path (e.g. /mapi/emsmdb, the SID leak)
	ssrfAction         // an ECP/EWS/OAB/… action: exploitation when answered 2xx
)

// classifyAnchor parses an AnchorMailbox value. Normal values (Sid~…,
// Smtp~…, MailboxGuid~…, "ServerInfo~exch01" without a path) give ssrfNone.
// The rule is Test-ProxyLogon's (ServerInfo~*/*), with the autodiscover and
// localhost cases it drops kept as probes instead (host.md §1.2, §6).
func classifyAnchor(c *check, v []byte) (ssrfTarget, int) {
	for _, p := range c.ind("anchor_prefixes") {
		if hasPrefixFold(v, p) {
			return classifyTarget(c, v[len(p):], false)
		}
	}
	return ssrfTarget{}, ssrfNone
}

// classifyCookie parses a BackEndCookie value. Normal values are
// "Server~exch02.contoso.local~1942062522~2021-03-01T10:00:00" or
// "Database~<guid>~~<date>"; the forged variant carries a path before a
// later "~" (Server~*/*~*, CSS-Exchange issue #310).
func classifyCookie(c *check, v []byte) (ssrfTarget, int) {
	for _, p := range c.ind("cookie_prefixes") {
		if !bytes.HasPrefix(v, []byte(p)) {
			continue
		}
		rest := v[len(p):]
		slash := bytes.IndexByte(rest, '/')
		if slash < 0 {
			return ssrfTarget{}, ssrfNone
		}
		tilde := bytes.LastIndexByte(rest, '~')
		if tilde < slash {
			return ssrfTarget{}, ssrfNone
		}
		return classifyTarget(c, rest[:tilde], true)
	}
	return ssrfTarget{}, ssrfNone
}

// classifyTarget splits "<x>@host:port/path?query#" and grades the path.
func classifyTarget(c *check, v []byte, cookie bool) (ssrfTarget, int) {
	slash := bytes.IndexByte(v, '/')
	if slash < 0 {
		return ssrfTarget{}, ssrfNone
	}
	host := v[:slash]
	if at := bytes.LastIndexByte(host, '@'); at >= 0 {
		host = host[at+1:]
	}
	path := v[slash:]
	if i := bytes.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	t := ssrfTarget{Host: capString(string(host), 120), Path: capString(string(path), 200)}
	lh := strings.ToLower(t.Host)
	whole := strings.ToLower(string(v[:min(len(v), 64)]))
	for _, l := range c.lind("localhost") {
		// Test-ProxyLogon drops ServerInfo~localhost*/*: the prefix of the
		// whole value, and also the host after an '@'.
		if strings.HasPrefix(lh, l) || strings.HasPrefix(whole, l) {
			t.Localhost = true
		}
	}
	lp := strings.ToLower(t.Path)
	switch {
	case t.Localhost:
		return t, ssrfProbe
	case hasAnyPrefix(lp, c.lind("probe_paths")):
		return t, ssrfProbe
	case hasAnyPrefix(lp, c.lind("action_paths")):
		return t, ssrfAction
	}
	return t, ssrfAttempt
}

func hasPrefixFold(b []byte, p string) bool {
	return len(b) >= len(p) && strings.EqualFold(string(b[:len(p)]), p)
}

// hasAnyPrefix reports whether s starts with one of ps (compare lower-case
// strings with lower-case lists: check.lind).
func hasAnyPrefix(s string, ps []string) bool {
	for _, p := range ps {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// containsAnyFold is containsAny for a lower-cased s and lower-cased
// indicators (check.lind); it returns the indicator found.
func containsAnyFold(lower string, subs []string) (string, bool) {
	for _, x := range subs {
		if strings.Contains(lower, x) {
			return x, true
		}
	}
	return "", false
}

// proxyShellTarget reports whether a request line (stem and query,
// lower-cased and percent-decoded) uses the ProxyShell path confusion: an
// "@" in the query of autodiscover.json followed by a back-end path
// ("autodiscover.json?@evil.com/mapi/nspi/?&Email=autodiscover/autodiscover.json%3F@evil.com"),
// or the Email=autodiscover/autodiscover.json marker. Ordinary Autodiscover
// v2 requests ("autodiscover.json?Email=user@contoso.com&Protocol=EWS",
// "autodiscover.json/v1.0/user@contoso.com?Protocol=ActiveSync") have no
// path after the "@" and do not match. It returns the smuggled path.
func proxyShellTarget(c *check, lower string) (string, bool) {
	at := -1
	for _, e := range c.lind("endpoints") {
		if i := strings.Index(lower, e); i >= 0 {
			at = i + len(e)
			break
		}
	}
	if at < 0 {
		return "", false
	}
	rest := lower[at:]
	marker := false
	for _, m := range c.lind("email_markers") {
		if strings.Contains(rest, m) {
			marker = true
		}
	}
	for n := 0; n < 16; n++ { // bounded: hostile lines may hold many '@'
		i := strings.IndexByte(rest, '@')
		if i < 0 {
			break
		}
		rest = rest[i+1:]
		seg := rest
		if j := strings.IndexAny(seg, "&?#"); j >= 0 {
			seg = seg[:j]
		}
		if k := strings.IndexByte(seg, '/'); k >= 0 {
			p := seg[k:]
			if hasAnyPrefix(p, c.lind("backend_paths")) {
				return capString(p, 120), true
			}
		}
	}
	if marker {
		return "", true
	}
	return "", false
}

// percentDecode decodes %XX escapes (invalid ones stay as they are) so that
// /ecp/%79.js and /autodiscover/autodiscover.json%3F@x compare like the
// server saw them. '+' is left alone: IIS writes it for spaces only in
// cs(...) fields, and in a URL it may be literal.
func percentDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			h, ok1 := unhex(s[i+1])
			l, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b = append(b, h<<4|l)
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
