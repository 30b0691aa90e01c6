package target

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"go4.org/netipx"
)

// spec is one parsed entry before expansion: an address range (first..last,
// same family, never zoned, IPv4 unmapped), or a hostname still to resolve.
type spec struct {
	first, last netip.Addr // valid unless host is set
	host        string     // lower case, no trailing dot
	ports       []uint16   // ports the entry named; nil means Options.Ports
	scheme      string     // "http"/"https" when a URL said so; "" derives it from the port
}

// lineKind says what a line turned out to be.
type lineKind uint8

const (
	lineEmpty   lineKind = iota // blank or comment only
	lineIgnored                 // understood, but names no target
	lineTarget                  // spec is set
)

// lineParser parses lines of one source. Its state is the ZMap CSV header
// last seen, which says which column holds the address and the port.
type lineParser struct {
	csv *csvLayout
}

// parse classifies and parses one line. subject is the part of the line
// that was looked at (comment and surrounding space removed), for messages.
func (p *lineParser) parse(line string) (sp spec, kind lineKind, subject string, err error) {
	s := strings.TrimSpace(line)
	if s == "" || s[0] == '#' {
		return spec{}, lineEmpty, s, nil
	}
	if looksLikeJSON(s) {
		sp, kind, err = parseJSONLine(s)
		return sp, kind, s, err
	}
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	// masscan before CSV: its banner lines may contain commas.
	hasSpace := strings.IndexFunc(s, isSpace) >= 0
	if hasSpace {
		if f := strings.Fields(s); isMasscanList(f) {
			sp, kind, err = parseMasscanList(f)
			return sp, kind, s, err
		}
	}
	if strings.IndexByte(s, ',') >= 0 || s == "saddr" {
		sp, kind, err = p.parseCSV(s)
		return sp, kind, s, err
	}
	if hasSpace {
		return spec{}, 0, s, ErrSyntax
	}
	sp, err = parseTarget(s)
	if err != nil {
		return spec{}, 0, s, err
	}
	return sp, lineTarget, s, nil
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\v' || r == '\f' || r == '\r' || r == '\n'
}

// parseTarget parses the plain syntax: address, CIDR, range, host[:port],
// [v6]:port or URL.
func parseTarget(s string) (spec, error) {
	if strings.Contains(s, "://") {
		return parseURL(s)
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return addrSpec(a, nil)
	}
	if s[0] == '[' {
		return parseBracketed(s)
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		if _, err := netip.ParseAddr(s[:i]); err != nil {
			return spec{}, ErrSyntax
		}
		return parsePrefix(s)
	}
	if i := strings.IndexByte(s, '-'); i > 0 {
		if a, err := netip.ParseAddr(s[:i]); err == nil {
			return parseRange(a, s[i+1:])
		}
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		if strings.IndexByte(s[i+1:], ':') >= 0 {
			return spec{}, ErrSyntax // many colons but not an IPv6 address
		}
		port, err := parsePort(s[i+1:])
		if err != nil {
			return spec{}, err
		}
		return hostSpec(s[:i], []uint16{port}, "")
	}
	return hostSpec(s, nil, "")
}

// addrSpec makes a one-address spec, refusing zones (a zone is local to the
// machine that wrote it and cannot be compared with excludes).
func addrSpec(a netip.Addr, ports []uint16) (spec, error) {
	if a.Zone() != "" {
		return spec{}, errors.New("zoned IPv6 addresses (with %) are not supported")
	}
	a = a.Unmap()
	return spec{first: a, last: a, ports: ports}, nil
}

// hostSpec makes a spec from a URL or host:port host part, which may be an
// IPv4 address or a hostname.
func hostSpec(h string, ports []uint16, scheme string) (spec, error) {
	if a, err := netip.ParseAddr(h); err == nil {
		sp, err := addrSpec(a, ports)
		sp.scheme = scheme
		return sp, err
	}
	name, ok := hostname(h)
	if !ok {
		return spec{}, ErrSyntax
	}
	return spec{host: name, ports: ports, scheme: scheme}, nil
}

// parseBracketed parses "[v6]" and "[v6]:port".
func parseBracketed(s string) (spec, error) {
	if strings.HasSuffix(s, "]") {
		a, err := netip.ParseAddr(s[1 : len(s)-1])
		if err != nil {
			return spec{}, ErrSyntax
		}
		return addrSpec(a, nil)
	}
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return spec{}, ErrSyntax
	}
	a, err := netip.ParseAddr(h)
	if err != nil {
		return spec{}, ErrSyntax
	}
	port, err := parsePort(p)
	if err != nil {
		return spec{}, err
	}
	return addrSpec(a, []uint16{port})
}

func parsePrefix(s string) (spec, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return spec{}, errors.New("not a valid CIDR (prefix length 0-32 for IPv4, 0-128 for IPv6)")
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	r := netipx.RangeOfPrefix(p.Masked())
	return spec{first: r.From(), last: r.To()}, nil
}

// parseRange parses the part after '-': a full address, or for IPv4 a short
// last octet ("10.0.0.1-20").
func parseRange(first netip.Addr, rest string) (spec, error) {
	if first.Zone() != "" {
		return spec{}, errors.New("zoned IPv6 addresses (with %) are not supported")
	}
	var last netip.Addr
	if strings.ContainsAny(rest, ".:") {
		a, err := netip.ParseAddr(rest)
		if err != nil || a.Zone() != "" {
			return spec{}, ErrSyntax
		}
		last = a
	} else {
		if !first.Unmap().Is4() || !allDigits(rest) || len(rest) > 3 {
			return spec{}, ErrSyntax
		}
		n, _ := strconv.Atoi(rest)
		if n > 255 {
			return spec{}, ErrSyntax
		}
		b := first.Unmap().As4()
		b[3] = byte(n)
		last = netip.AddrFrom4(b)
	}
	first, last = first.Unmap(), last.Unmap()
	if first.Is4() != last.Is4() {
		return spec{}, errors.New("range mixes IPv4 and IPv6")
	}
	if last.Less(first) {
		return spec{}, fmt.Errorf("range start %s is after its end %s", first, last)
	}
	return spec{first: first, last: last}, nil
}

func parseURL(s string) (spec, error) {
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || u.Host == "" {
		return spec{}, errors.New("not a valid URL")
	}
	scheme := strings.ToLower(u.Scheme)
	var port uint16
	switch scheme {
	case "https":
		port = 443
	case "http":
		port = 80
	default:
		return spec{}, fmt.Errorf("unsupported URL scheme %q (want http or https)", u.Scheme)
	}
	if u.User != nil {
		// Credentials in a target list are a leak waiting to happen, and
		// exsweep never logs in anyway.
		return spec{}, errors.New("URLs with credentials are not supported")
	}
	if p := u.Port(); p != "" {
		if port, err = parsePort(p); err != nil {
			return spec{}, err
		}
	}
	h := u.Hostname()
	if strings.HasPrefix(u.Host, "[") {
		a, err := netip.ParseAddr(h)
		if err != nil {
			return spec{}, errors.New("not a valid URL")
		}
		sp, err := addrSpec(a, []uint16{port})
		sp.scheme = scheme
		return sp, err
	}
	if a, err := netip.ParseAddr(h); err == nil && a.Is6() {
		return spec{}, errors.New("not a valid URL") // IPv6 needs brackets in a URL
	}
	return hostSpec(h, []uint16{port}, scheme)
}

// parsePort accepts 1-65535 in plain decimal.
func parsePort(p string) (uint16, error) {
	if p == "" || len(p) > 5 || !allDigits(p) {
		return 0, fmt.Errorf("invalid port %q (want 1-65535)", p)
	}
	n, _ := strconv.Atoi(p)
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("invalid port %q (want 1-65535)", p)
	}
	return uint16(n), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// hostname validates and normalises a DNS name: ASCII letters, digits, '-'
// and '_' (internal names use it), labels of 1-63 bytes, 253 bytes in all,
// one optional trailing dot. The last label must not be all digits, so that
// typos like "10.0.0.300" are reported instead of being sent to DNS.
// Non-ASCII (IDN) names must be given in punycode.
func hostname(h string) (string, bool) {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return "", false
	}
	label, lastDigits, upper := 0, true, false
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c == '.':
			if label == 0 || h[i-1] == '-' {
				return "", false
			}
			label, lastDigits = 0, true
			continue
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'z', c == '_':
			lastDigits = false
		case c >= 'A' && c <= 'Z':
			lastDigits, upper = false, true
		case c == '-':
			if label == 0 {
				return "", false
			}
			lastDigits = false
		default:
			return "", false
		}
		label++
		if label > 63 {
			return "", false
		}
	}
	if label == 0 || lastDigits || h[len(h)-1] == '-' {
		return "", false
	}
	if upper {
		h = strings.ToLower(h)
	}
	return h, true
}

// String formats sp in the input syntax, so that parsing the result gives sp
// back (the fuzz test checks this).
func (sp spec) String() string {
	name := sp.host
	if name == "" {
		name = sp.first.String()
		if sp.first != sp.last {
			return name + "-" + sp.last.String() // parsed ranges never carry ports
		}
	}
	switch {
	case len(sp.ports) == 0:
		if name == "saddr" {
			return name + "." // bare "saddr" is a ZMap header line
		}
		return name
	case len(sp.ports) > 1:
		// Only masscan JSON gives several ports; say it the same way.
		var b strings.Builder
		fmt.Fprintf(&b, `{"ip":%q,"ports":[`, name)
		for i, p := range sp.ports {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"port":%d}`, p)
		}
		b.WriteString("]}")
		return b.String()
	}
	hp := net.JoinHostPort(name, strconv.Itoa(int(sp.ports[0])))
	if sp.scheme != "" {
		return sp.scheme + "://" + hp
	}
	return hp
}
