package target

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// parsed is a parse result in comparable form.
type parsed struct {
	Kind string // "empty", "ignored", "target" or "error"
	Spec string // spec.String() for targets
	Err  string // error text for errors
}

func parseOne(p *lineParser, line string) parsed {
	sp, kind, _, err := p.parse(line)
	switch {
	case err != nil:
		return parsed{Kind: "error", Err: err.Error()}
	case kind == lineEmpty:
		return parsed{Kind: "empty"}
	case kind == lineIgnored:
		return parsed{Kind: "ignored"}
	}
	return parsed{Kind: "target", Spec: sp.String()}
}

func target(s string) parsed   { return parsed{Kind: "target", Spec: s} }
func parseErr(s string) parsed { return parsed{Kind: "error", Err: s} }

var (
	empty   = parsed{Kind: "empty"}
	ignored = parsed{Kind: "ignored"}
)

func TestParseLine(t *testing.T) {
	const syntax = "not an IP address, CIDR, range, host or URL"
	tests := []struct {
		line string
		want parsed
	}{
		// Blank and comments.
		{"", empty},
		{"   \t", empty},
		{"# comment", empty},
		{"  # indented comment", empty},

		// Addresses.
		{"192.0.2.7", target("192.0.2.7")},
		{"  192.0.2.7  # web", target("192.0.2.7")},
		{"192.0.2.7\r", target("192.0.2.7")},
		{"2001:db8::7", target("2001:db8::7")},
		{"2001:DB8::7", target("2001:db8::7")},
		{"::ffff:192.0.2.7", target("192.0.2.7")}, // mapped IPv4 is IPv4
		{"[2001:db8::7]", target("2001:db8::7")},
		{"fe80::1%eth0", parseErr("zoned IPv6 addresses (with %) are not supported")},
		{"10.0.0.300", parseErr(syntax)},
		{"010.0.0.1", parseErr(syntax)}, // octal-looking: refused, not guessed
		{"1.2.3", parseErr(syntax)},
		{"1.2.3.4.5", parseErr(syntax)},
		{"12345", parseErr(syntax)},

		// CIDRs.
		{"10.0.0.0/24", target("10.0.0.0-10.0.0.255")},
		{"10.0.0.77/24", target("10.0.0.0-10.0.0.255")}, // host bits ignored
		{"10.0.0.7/32", target("10.0.0.7")},
		{"2001:db8::/120", target("2001:db8::-2001:db8::ff")},
		{"::ffff:10.0.0.0/120", target("10.0.0.0-10.0.0.255")},
		{"10.0.0.0/33", parseErr("not a valid CIDR (prefix length 0-32 for IPv4, 0-128 for IPv6)")},
		{"10.0.0.0/", parseErr("not a valid CIDR (prefix length 0-32 for IPv4, 0-128 for IPv6)")},
		{"example.com/owa", parseErr(syntax)},

		// Ranges.
		{"10.0.0.1-10.0.0.5", target("10.0.0.1-10.0.0.5")},
		{"10.0.0.1-5", target("10.0.0.1-10.0.0.5")},
		{"10.0.0.250-10.0.1.3", target("10.0.0.250-10.0.1.3")},
		{"10.0.0.5-5", target("10.0.0.5")},
		{"10.0.0.5-1", parseErr("range start 10.0.0.5 is after its end 10.0.0.1")},
		{"10.0.0.1-256", parseErr(syntax)},
		{"10.0.0.1-0005", parseErr(syntax)},
		{"10.0.0.1-", parseErr(syntax)},
		{"10.0.0.1-2001:db8::1", parseErr("range mixes IPv4 and IPv6")},
		{"2001:db8::1-2001:db8::ff", target("2001:db8::1-2001:db8::ff")},
		{"2001:db8::1-ff", parseErr(syntax)}, // short form is IPv4 only
		{"::ffff:10.0.0.1-10.0.0.3", target("10.0.0.1-10.0.0.3")},

		// Hostnames and ports.
		{"mail.contoso.example", target("mail.contoso.example")},
		{"Mail.Contoso.Example.", target("mail.contoso.example")},
		{"exchange01", target("exchange01")},
		{"mail-01.contoso.example", target("mail-01.contoso.example")},
		{"_srv.contoso.example", target("_srv.contoso.example")},
		{"mail.contoso.example:8443", target("mail.contoso.example:8443")},
		{"192.0.2.7:443", target("192.0.2.7:443")},
		{"[2001:db8::7]:443", target("[2001:db8::7]:443")},
		{"[::ffff:192.0.2.7]:443", target("192.0.2.7:443")},
		{"192.0.2.7:0", parseErr(`invalid port "0" (want 1-65535)`)},
		{"192.0.2.7:65536", parseErr(`invalid port "65536" (want 1-65535)`)},
		{"192.0.2.7:+443", parseErr(`invalid port "+443" (want 1-65535)`)},
		{"192.0.2.7:", parseErr(`invalid port "" (want 1-65535)`)},
		{"[2001:db8::7]:x", parseErr(`invalid port "x" (want 1-65535)`)},
		{"[2001:db8::7", parseErr(syntax)},
		{"[mail.contoso.example]:443", parseErr(syntax)},
		{"-mail.contoso.example", parseErr(syntax)},
		{"mail-.contoso.example", parseErr(syntax)},
		{"mail..contoso.example", parseErr(syntax)},
		{"mäil.contoso.example", parseErr(syntax)},
		{strings.Repeat("a", 64) + ".example", parseErr(syntax)},
		{"a:b:c", parseErr(syntax)},
		{"192.0.2.7 192.0.2.8", parseErr(syntax)},

		// URLs.
		{"https://mail.contoso.example/owa/", target("https://mail.contoso.example:443")},
		{"HTTPS://Mail.Contoso.Example:8443/owa?x=1#frag", target("https://mail.contoso.example:8443")},
		{"http://mail.contoso.example", target("http://mail.contoso.example:80")},
		{"http://192.0.2.7:8080/", target("http://192.0.2.7:8080")},
		{"https://[2001:db8::7]/ecp/", target("https://[2001:db8::7]:443")},
		{"https://[2001:db8::7]:4443", target("https://[2001:db8::7]:4443")},
		{"https://10.0.0.0/24", target("https://10.0.0.0:443")}, // a URL: the path is ignored
		{"ftp://mail.contoso.example/", parseErr(`unsupported URL scheme "ftp" (want http or https)`)},
		{"https://admin:pw@mail.contoso.example/", parseErr("URLs with credentials are not supported")},
		{"https://mail.contoso.example:99999/", parseErr(`invalid port "99999" (want 1-65535)`)},
		{"https:///owa", parseErr("not a valid URL")},
		{"https://[fe80::1%25eth0]/", parseErr("zoned IPv6 addresses (with %) are not supported")},
		{"https://10.0.0.300/", parseErr(syntax)},

		// masscan -oL.
		{"#masscan", empty},
		{"open tcp 443 198.51.100.23 1616161616", target("198.51.100.23:443")},
		{"open tcp 443 2001:db8::25 1616161616", target("[2001:db8::25]:443")},
		{"open tcp 80 198.51.100.23 1616161616", target("198.51.100.23:80")},
		{"closed tcp 443 198.51.100.23 1616161616", ignored},
		{"open udp 53 198.51.100.23 1616161616", ignored},
		{"banner tcp 443 198.51.100.23 1616161616 ssl TLS/1.2 cipher:0xc030", ignored},
		{"open tcp 0 198.51.100.23 1616161616", parseErr(`invalid port "0" (want 1-65535)`)},
		{"open tcp 443 198.51.100.300 1616161616", parseErr(`masscan record address "198.51.100.300" is not an IP address`)},
		{"open tcp 443 198.51.100.23 1616161616 extra", parseErr("masscan -oL open record with extra fields")},

		// masscan -oJ, --ndjson and ZMap JSON.
		{"[", ignored},
		{"]", ignored},
		{",", ignored},
		{"{finished: 1}", ignored},
		{`{   "ip": "198.51.100.23",   "timestamp": "1616161616", "ports": [ {"port": 443, "proto": "tcp", "status": "open", "reason": "syn-ack", "ttl": 116} ] }`, target("198.51.100.23:443")},
		{`{   "ip": "198.51.100.23",   "timestamp": "1616161616", "ports": [ {"port": 443, "proto": "tcp", "status": "open", "reason": "syn-ack", "ttl": 116} ] },`, target("198.51.100.23:443")},
		{`[{"ip": "198.51.100.23", "ports": [{"port": 443, "status": "open"}]}]`, target("198.51.100.23:443")},
		{`{"ip": "198.51.100.23", "ports": [{"port": 443}, {"port": 8443, "proto": "tcp", "status": "open"}]}`, target(`{"ip":"198.51.100.23","ports":[{"port":443},{"port":8443}]}`)},
		{`{"ip": "198.51.100.23", "ports": [{"port": 443, "proto": "tcp", "service": {"name": "ssl", "banner": "# not a comment"}}]}`, target("198.51.100.23:443")},
		{`{"ip": "198.51.100.23", "ports": [{"port": 443, "proto": "tcp", "status": "closed"}]}`, ignored},
		{`{"ip": "198.51.100.23", "ports": [{"port": 53, "proto": "udp", "status": "open"}]}`, ignored},
		{`{"ip": "198.51.100.23", "ports": []}`, ignored},
		{`{"ip":"198.51.100.23","port":443,"proto":"tcp","rec_type":"status","data":{"status":"open"}}`, target("198.51.100.23:443")},
		{`{"ip":"198.51.100.23","port":443,"proto":"tcp","rec_type":"status","data":{"status":"closed"}}`, ignored},
		{`{"saddr":"198.51.100.23","sport":443,"dport":40000,"success":true}`, target("198.51.100.23:443")},
		{`{"saddr":"198.51.100.23","sport":443,"success":0}`, ignored},
		{`{"saddr":"198.51.100.23"}`, target("198.51.100.23")},
		{`{"ip": "198.51.100.300", "ports": [{"port": 443}]}`, parseErr(`JSON address "198.51.100.300" is not an IP address`)},
		{`{"ip": "198.51.100.23", "ports": [{"port": 70000}]}`, parseErr(`not a masscan or ZMap JSON record: field "ports.port" has the wrong type`)},
		{`{"ip": "198.51.100.23", "ports": [{"proto": "tcp"}]}`, parseErr("JSON record has port 0 or none")},
		{`{"timestamp": "1616161616"}`, parseErr(`JSON record has no "ip" or "saddr"`)},
		{`{"ip": "198.51.100.23", "ports": [`, parseErr("not a masscan or ZMap JSON record: syntax error at byte 34")},
		{`{"ip": "mail.contoso.example"}`, parseErr(`JSON address "mail.contoso.example" is not an IP address`)},

		// CSV without a header.
		{"198.51.100.23,443", parseErr(`CSV line without a ZMap header line ("saddr,…") before it`)},
		{"host,name", parseErr(`CSV header without a "saddr" column`)},
	}
	for _, tt := range tests {
		var p lineParser
		got := parseOne(&p, tt.line)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parse(%q) mismatch (-want +got):\n%s", tt.line, diff)
		}
	}
}

// TestParseZMapCSV checks that the header line sets the columns for the
// lines after it in the same source.
func TestParseZMapCSV(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  []parsed
	}{
		{
			name:  "zmap header with sport and success",
			lines: []string{"saddr, sport, dport, classification, success", "198.51.100.23,443,41529,synack,1", "203.0.113.9,443,50213,rst,0", "203.0.113.7,8443,61002,synack,true"},
			want:  []parsed{ignored, target("198.51.100.23:443"), ignored, target("203.0.113.7:8443")},
		},
		{
			name:  "dport is zmap's own port, not the target's",
			lines: []string{"saddr,daddr,dport", "198.51.100.23,192.0.2.250,41529"},
			want:  []parsed{ignored, target("198.51.100.23")},
		},
		{
			name:  "saddr not first, quoted strings",
			lines: []string{"classification,saddr,sport,data", `synack,198.51.100.23,443,"a,b"`},
			want:  []parsed{ignored, target("198.51.100.23:443")},
		},
		{
			name:  "single-column header, then plain lines",
			lines: []string{"saddr", "198.51.100.23", "# comment", "198.51.100.24"},
			want:  []parsed{ignored, target("198.51.100.23"), empty, target("198.51.100.24")},
		},
		{
			name:  "hand-made ip,port",
			lines: []string{"ip,port", "198.51.100.23,8443", "198.51.100.24,"},
			want:  []parsed{ignored, target("198.51.100.23:8443"), target("198.51.100.24")},
		},
		{
			name:  "bad rows",
			lines: []string{"saddr,sport", "198.51.100.23", "198.51.100.23,443,1", "198.51.100.300,443", "198.51.100.23,0"},
			want: []parsed{
				ignored,
				target("198.51.100.23"), // no comma: a plain line
				parseErr("CSV line has 3 fields, its header 2"),
				parseErr(`CSV address "198.51.100.300" is not an IP address`),
				parseErr(`invalid port "0" (want 1-65535)`),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p lineParser
			var got []parsed
			for _, l := range tt.lines {
				got = append(got, parseOne(&p, l))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHostnameLimits(t *testing.T) {
	label := strings.Repeat("a", 63)
	long := strings.Join([]string{label, label, label, strings.Repeat("b", 61)}, ".") // 253 bytes
	tests := []struct {
		in string
		ok bool
	}{
		{long, true},
		{long + ".", true},
		{long + "c", false},
		{label + ".example", true},
		{"a", true},
		{"1a", true},
		{"example.123", false},
		{".", false},
		{"a.", true},
	}
	for _, tt := range tests {
		if _, ok := hostname(tt.in); ok != tt.ok {
			t.Errorf("hostname(%q) ok = %v, want %v", tt.in, ok, tt.ok)
		}
	}
}
