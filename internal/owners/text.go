package owners

import (
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Caps on text from files and from the network. Names end up in e-mail
// subjects and dashboards, so they are kept short and free of control
// characters; the other caps bound memory for hostile input.
const (
	MaxNameBytes        = 200      // organisation, network and AS names
	MaxAddressesPerList = 32       // entries in one to/cc list
	MaxEmailBytes       = 254      // RFC 5321 path limit
	MaxConstituencySize = 64 << 20 // bytes in one constituency file
	MaxConstituencyLine = 64 << 10 // bytes in one constituency line
	MaxDataLine         = 4 << 10  // bytes in one iptoasn / ip-location-db line
	maxErrors           = 100      // line errors reported before giving up
)

// LineError is one problem in an input file, located by file name and
// 1-based line.
type LineError struct {
	File string
	Line int
	Msg  string
}

func (e *LineError) Error() string {
	if e.Line <= 0 {
		return e.File + ": " + e.Msg
	}
	return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
}

// ValidationError holds every problem found in a constituency (up to a cap),
// so an operator can fix a file in one pass rather than one error per run.
type ValidationError struct {
	Errors []*LineError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, le := range e.Errors {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(le.Error())
	}
	return b.String()
}

// errorList collects line errors up to maxErrors.
type errorList struct {
	errs  []*LineError
	extra int
}

func (l *errorList) add(file string, line int, format string, args ...any) {
	if len(l.errs) >= maxErrors {
		l.extra++
		return
	}
	l.errs = append(l.errs, &LineError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (l *errorList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	errs := l.errs
	if l.extra > 0 {
		last := errs[len(errs)-1]
		errs = append(errs, &LineError{File: last.File, Msg: fmt.Sprintf("%d more errors not shown", l.extra)})
	}
	return &ValidationError{Errors: errs}
}

// cleanName makes external text safe to show: valid UTF-8, control
// characters turned into spaces, runs of space collapsed, capped at
// MaxNameBytes on a rune boundary. Used for data we do not own (AS names,
// RDAP names), where refusing the whole file for one odd name would help
// nobody.
func cleanName(s string) string {
	if isPlainName(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if b.Len()+utf8.RuneLen(r) > MaxNameBytes {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isPlainName reports whether s needs no cleaning: printable ASCII without
// leading, trailing or double spaces, within the cap. Almost every AS name
// is, and this keeps the import from copying half a million strings.
func isPlainName(s string) bool {
	if len(s) > MaxNameBytes || s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return s == ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || (c == ' ' && s[i+1] == ' ') {
			return false
		}
	}
	return true
}

// checkName validates an organisation name from a constituency file. Unlike
// cleanName it refuses instead of repairing: the operator owns the file and
// can fix it.
func checkName(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", errors.New("name is empty")
	case len(s) > MaxNameBytes:
		return "", fmt.Errorf("name is longer than %d bytes", MaxNameBytes)
	case !utf8.ValidString(s):
		return "", errors.New("name is not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return "", errors.New("name contains a control character")
		}
	}
	return s, nil
}

// normalizeEmail validates one address with net/mail and returns the bare
// address in lower case. A display name ("Abuse Desk <abuse@example.net>")
// is accepted and dropped: the constituency names the organisation already.
func normalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty e-mail address")
	}
	if len(s) > 2*MaxEmailBytes {
		return "", fmt.Errorf("e-mail address longer than %d bytes", MaxEmailBytes)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", fmt.Errorf("invalid e-mail address %q: %s", preview(s), strings.TrimPrefix(err.Error(), "mail: "))
	}
	addr := strings.ToLower(a.Address)
	if len(addr) > MaxEmailBytes {
		return "", fmt.Errorf("e-mail address longer than %d bytes", MaxEmailBytes)
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "", fmt.Errorf("invalid e-mail address %q", preview(s))
	}
	// net/mail accepts a domain literal or a dotless domain; neither is a
	// plausible abuse mailbox, and a typo there would silently drop mail.
	if _, err := normalizeDomain(addr[at+1:]); err != nil {
		return "", fmt.Errorf("invalid e-mail address %q: %v", preview(s), err)
	}
	for _, r := range addr {
		if r > unicode.MaxASCII {
			// SMTPUTF8 is rare among abuse desks and our sender cannot assume
			// it; ask for the ASCII form instead of failing at send time.
			return "", fmt.Errorf("invalid e-mail address %q: non-ASCII address", preview(s))
		}
	}
	return addr, nil
}

// normalizeDomain validates a DNS name (ASCII, punycode for IDNs) and
// returns it in lower case without a trailing dot.
func normalizeDomain(s string) (string, error) {
	s = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), "."))
	switch {
	case s == "":
		return "", errors.New("empty domain")
	case len(s) > 253:
		return "", errors.New("domain longer than 253 bytes")
	case strings.HasPrefix(s, "*."):
		return "", fmt.Errorf("domain %q: write %q, subdomains are included", preview(s), s[2:])
	case !strings.Contains(s, "."):
		return "", fmt.Errorf("domain %q has no dot", preview(s))
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return "", fmt.Errorf("domain %q has an empty or over-long label", preview(s))
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "", fmt.Errorf("domain %q: label %q starts or ends with '-'", preview(s), l)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("domain %q: invalid character %q (use punycode for IDNs)", preview(s), c)
			}
		}
	}
	tld := labels[len(labels)-1]
	if strings.Trim(tld, "0123456789") == "" {
		return "", fmt.Errorf("domain %q looks like an IP address; list it under cidrs", preview(s))
	}
	return s, nil
}

// normalizeLanguage accepts a BCP 47-like tag ("en", "de", "pt-BR") and
// returns it with the primary subtag in lower case. Empty means "the
// sender's default".
func normalizeLanguage(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	parts := strings.Split(strings.ReplaceAll(s, "_", "-"), "-")
	if len(s) > 35 || len(parts[0]) < 2 || len(parts[0]) > 3 {
		return "", fmt.Errorf("invalid language %q (want a tag like en, de or pt-BR)", preview(s))
	}
	for i, p := range parts {
		if p == "" || len(p) > 8 {
			return "", fmt.Errorf("invalid language %q (want a tag like en, de or pt-BR)", preview(s))
		}
		for j := 0; j < len(p); j++ {
			c := p[j]
			isLetter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
			if !isLetter && !(i > 0 && c >= '0' && c <= '9') {
				return "", fmt.Errorf("invalid language %q (want a tag like en, de or pt-BR)", preview(s))
			}
		}
	}
	parts[0] = strings.ToLower(parts[0])
	return strings.Join(parts, "-"), nil
}

// parseASN accepts "64500", "AS64500" and "as64500". AS 0 and the AS_TRANS
// number 23456 are refused: neither identifies a network.
func parseASN(s string) (uint32, error) {
	t := strings.TrimSpace(s)
	if len(t) > 2 && (t[0] == 'A' || t[0] == 'a') && (t[1] == 'S' || t[1] == 's') {
		t = t[2:]
	}
	n, err := strconv.ParseUint(t, 10, 32)
	if err != nil || t == "" || t[0] == '+' {
		return 0, fmt.Errorf("invalid AS number %q", preview(s))
	}
	if n == 0 || n == 23456 || n == 4294967295 {
		return 0, fmt.Errorf("AS number %q does not identify a network", preview(s))
	}
	return uint32(n), nil
}

// parsePrefix accepts a CIDR or a single address (as /32 or /128). Host bits
// must be zero: "192.0.2.1/24" is more likely a typo than a wish for
// 192.0.2.0/24, and guessing would notify the wrong people.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", preview(s))
		}
		if a.Is4In6() {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q: IPv4-mapped IPv6, write the IPv4 form", preview(s))
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", preview(s))
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR %q: IPv4-mapped IPv6, write the IPv4 form", preview(s))
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("CIDR %q has host bits set (did you mean %s?)", preview(s), m)
	}
	return p, nil
}

// preview shortens hostile input for error messages.
func preview(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
