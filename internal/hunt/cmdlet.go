package hunt

import (
	"strings"
)

// cmdletCall is one Exchange cmdlet run, from whichever log recorded it: the
// ECP Server log (S:CMD=…), the MSExchange Management event log (events 1
// and 6) or the CmdletInfra Rps_Cmdlet logs. The checks on cmdlets
// (CVE-2021-27065, ProxyShell exports, role assignments…) run on this one
// shape, so each source only needs a parser.
type cmdletCall struct {
	Name   string
	Params []cmdParam
	Raw    string // the parameters as logged (for evidence and fallbacks)
	Failed bool
	User   string
}

type cmdParam struct{ Name, Value string }

// param returns the first parameter with the name (case-insensitive).
func (c *cmdletCall) param(name string) (string, bool) {
	for _, p := range c.Params {
		if strings.EqualFold(p.Name, name) {
			return p.Value, true
		}
	}
	return "", false
}

const (
	maxCmdParams = 64
	maxCmdText   = 8 << 10
)

// parseECPCmd parses an ECP Server log S:CMD value (after CSV unquoting):
//
//	Set-OabVirtualDirectory.ExternalUrl=''http://f/<script …>…</script>''.Identity=''3a7f…''
//	Set-OabVirtualDirectory.ExternalUrl=$null.Identity='x'
//	Get-InboxRule
//
// The value after "Name=" is quoted with ' or ” (both occur, host.md §3.3)
// or bare; a quoted value ends at the first matching quote that is followed
// by ".<Param>=" or the end, so quotes and dots inside a script do not cut
// it. Input is hostile: everything is capped, and a value that cannot be
// delimited runs to the end.
func parseECPCmd(s string) cmdletCall {
	s = capString(s, maxCmdText)
	dot := strings.IndexByte(s, '.')
	name := s
	rest := ""
	if dot >= 0 {
		name, rest = s[:dot], s[dot:]
	}
	c := cmdletCall{Name: strings.TrimSpace(name), Raw: rest}
	for len(rest) > 1 && rest[0] == '.' && len(c.Params) < maxCmdParams {
		eq := paramNameEnd(rest, 1)
		if eq < 0 {
			break
		}
		pname := rest[1:eq]
		v := rest[eq+1:]
		var val string
		val, rest = ecpValue(v)
		c.Params = append(c.Params, cmdParam{Name: pname, Value: val})
	}
	return c
}

// paramNameEnd returns the index of the '=' ending an identifier that starts
// at i, or -1.
func paramNameEnd(s string, i int) int {
	j := i
	for j < len(s) && isIdent(s[j]) {
		j++
	}
	if j == i || j >= len(s) || s[j] != '=' {
		return -1
	}
	return j
}

func isIdent(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// atParamBoundary reports whether s[i:] starts with ".<Ident>=".
func atParamBoundary(s string, i int) bool {
	return i < len(s) && s[i] == '.' && paramNameEnd(s, i+1) >= 0
}

// ecpValue splits one value off v and returns it and the remainder (which
// starts with '.' or is empty).
func ecpValue(v string) (string, string) {
	q := ""
	switch {
	case strings.HasPrefix(v, "''"):
		q = "''"
	case strings.HasPrefix(v, "'"):
		q = "'"
	}
	if q != "" {
		body := v[len(q):]
		for off := 0; off <= len(body); {
			i := strings.Index(body[off:], q)
			if i < 0 {
				break
			}
			end := off + i
			after := end + len(q)
			if after == len(body) || atParamBoundary(body, after) {
				return body[:end], body[after:]
			}
			off = end + 1
		}
		return body, ""
	}
	for i := 0; i < len(v); i++ {
		if v[i] == '.' && atParamBoundary(v, i) {
			return v[:i], v[i:]
		}
	}
	return v, ""
}

// parsePSParams parses a PowerShell-style parameter string, as the
// MSExchange Management events (Data[1]) and Rps_Cmdlet logs (Parameters)
// record it:
//
//	-Role "Mailbox Import Export" -SecurityGroup "Organization Management"
//	-Mailbox "Jones" -ContentFilter "Subject -eq 'x'" -FilePath "\\127.0.0.1\c$\inetpub\…\x.aspx"
//	-Identity:EXCH01\OAB -ExternalUrl http://f/x
//
// A name is a token starting with '-' and a letter outside quotes; its value
// is everything up to the next name, with one level of quotes removed.
// PowerShell escapes a quote by doubling it, which is undone.
func parsePSParams(s string) []cmdParam {
	s = capString(s, maxCmdText)
	var out []cmdParam
	i := 0
	cur := -1
	var val strings.Builder
	flush := func() {
		if cur >= 0 {
			out[cur].Value = strings.TrimSpace(val.String())
		}
		val.Reset()
	}
	for i < len(s) && len(out) < maxCmdParams {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
			i++
		}
		if i >= len(s) {
			break
		}
		if s[i] == '-' && i+1 < len(s) && isLetter(s[i+1]) {
			j := i + 1
			for j < len(s) && (isIdent(s[j]) || s[j] == '-') {
				j++
			}
			flush()
			out = append(out, cmdParam{Name: s[i+1 : j]})
			cur = len(out) - 1
			i = j
			if i < len(s) && s[i] == ':' {
				i++
				tok, n := psToken(s[i:])
				val.WriteString(tok)
				i += n
			}
			continue
		}
		tok, n := psToken(s[i:])
		if val.Len() > 0 {
			val.WriteByte(' ')
		}
		val.WriteString(tok)
		i += n
	}
	flush()
	return out
}

// psToken reads one token: a quoted string (quotes removed, doubled quotes
// undone) or a run of non-space bytes. It returns the token and the bytes
// consumed (at least 1 when s is not empty).
func psToken(s string) (string, int) {
	if s == "" {
		return "", 0
	}
	q := s[0]
	if q != '"' && q != '\'' {
		j := strings.IndexAny(s, " \t\r\n")
		if j < 0 {
			j = len(s)
		}
		if j == 0 {
			j = 1
		}
		return s[:j], j
	}
	var b strings.Builder
	i := 1
	for i < len(s) {
		if s[i] == q {
			if i+1 < len(s) && s[i+1] == q {
				b.WriteByte(q)
				i += 2
				continue
			}
			return b.String(), i + 1
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String(), len(s) // unterminated: the rest
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// hasHTMLTag reports whether a URL value carries markup: InternalUrl and
// ExternalUrl must be plain URIs (Microsoft, host.md §2.1), so any tag or
// script marker is the CVE-2021-27065 payload.
func hasHTMLTag(c *check, v string) bool {
	lv := strings.ToLower(v)
	if _, ok := containsAnyFold(lv, c.lind("script_markers")); ok {
		return true
	}
	for i := 0; i+1 < len(lv); i++ {
		if lv[i] == '<' {
			n := lv[i+1]
			if isLetter(n) || n == '/' || n == '!' || n == '%' {
				return true
			}
		}
	}
	return false
}

// cmdletHit is the outcome of the cmdlet checks on one call.
type cmdletHit struct {
	check *check
	grade string
	what  string
}

// matchCmdlet runs the cmdlet checks. It returns nil for an ordinary call.
func matchCmdlet(cs *checkSet, c *cmdletCall) *cmdletHit {
	name := c.Name
	failedOr := func(ch *check, ok, bad string) string {
		if c.Failed {
			return bad
		}
		return ok
	}
	// CVE-2021-27065: a script in a *Url parameter of a *VirtualDirectory cmdlet.
	if ch := cs.get(chkVDirScript); hasAnySuffixFold(name, ch.lind("cmdlet_suffixes")) {
		for _, p := range c.Params {
			if hasAnySuffixFold(p.Name, ch.lind("param_suffixes")) && hasHTMLTag(ch, p.Value) {
				return &cmdletHit{ch, failedOr(ch, GradeExploited, GradeAttempt),
					name + " -" + p.Name + " " + p.Value}
			}
		}
		// The parameters could not be split (an unknown layout): the
		// markup next to a URL parameter name is still the payload.
		if len(c.Params) == 0 && strings.Contains(strings.ToLower(c.Raw), "url") && hasHTMLTag(ch, c.Raw) {
			return &cmdletHit{ch, failedOr(ch, GradeExploited, GradeAttempt), name + " " + c.Raw}
		}
	}
	if ch := cs.get(chkExport); equalFoldAny(name, ch.ind("cmdlets")) {
		for _, pn := range ch.ind("path_params") {
			if v, ok := c.param(pn); ok && webPath(ch, v) {
				return &cmdletHit{ch, failedOr(ch, GradeExploited, GradeAttempt), name + " -" + pn + " " + v}
			}
		}
		if len(c.Params) == 0 && webPath(ch, c.Raw) {
			return &cmdletHit{ch, failedOr(ch, GradeExploited, GradeAttempt), name + " " + c.Raw}
		}
	}
	if ch := cs.get(chkRole); equalFoldAny(name, ch.ind("cmdlets")) {
		lr := strings.ToLower(c.Raw)
		for _, p := range c.Params {
			lr += " " + strings.ToLower(p.Value)
		}
		if _, ok := containsAnyFold(lr, ch.lind("roles")); ok {
			return &cmdletHit{ch, GradeInfo, name + " " + c.Raw}
		}
	}
	if ch := cs.get(chkCertExport); equalFoldAny(name, ch.ind("cmdlets")) {
		for _, p := range c.Params {
			if webPath(ch, p.Value) && hasAnySuffixFold(strings.TrimRight(p.Value, `"' `), ch.lind("web_ext")) {
				return &cmdletHit{ch, failedOr(ch, GradeExploited, GradeAttempt), name + " -" + p.Name + " " + p.Value}
			}
		}
	}
	if ch := cs.get(chkTransport); equalFoldAny(name, ch.ind("cmdlets")) {
		return &cmdletHit{ch, GradeInfo, name + " " + c.Raw}
	}
	return nil
}

// webPath reports whether a file path lands where IIS serves it: a script
// extension, or a web folder (an export to \\share\x.pst is an admin at work).
func webPath(ch *check, v string) bool {
	lv := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(v), `\`, "/"))
	lv = strings.TrimRight(lv, `"' `)
	if hasAnySuffixFold(lv, ch.lind("web_ext")) {
		return true
	}
	_, ok := containsAnyFold(lv, ch.lind("web_folders"))
	return ok
}

// hasAnySuffixFold reports whether s ends with one of the lower-case sufs
// (check.lind), ignoring ASCII case.
func hasAnySuffixFold(s string, sufs []string) bool {
	ls := strings.ToLower(s)
	for _, x := range sufs {
		if strings.HasSuffix(ls, x) {
			return true
		}
	}
	return false
}

func equalFoldAny(s string, list []string) bool {
	for _, x := range list {
		if strings.EqualFold(s, x) {
			return true
		}
	}
	return false
}
