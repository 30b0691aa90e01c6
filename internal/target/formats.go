package target

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// looksLikeJSON reports whether s is a JSON record line or one of the
// structural lines around masscan -oJ records: "[", "]", and the lone ","
// that masscan writes before every record but the first.
func looksLikeJSON(s string) bool {
	t := strings.TrimLeft(s, "[], \t")
	if t == "" {
		return true
	}
	return t[0] == '{'
}

// jsonRecord covers the JSON shapes scanners write, one record per line:
//
//	masscan -oJ:      {"ip": "…", "ports": [{"port": 443, "proto": "tcp", "status": "open", …}]}
//	masscan --ndjson: {"ip": "…", "port": 443, "proto": "tcp", "rec_type": "status", "data": {"status": "open", …}}
//	zmap -O json:     {"saddr": "…", "sport": 443, "success": true, …}
type jsonRecord struct {
	IP      string          `json:"ip"`
	Saddr   string          `json:"saddr"`
	Ports   []jsonPort      `json:"ports"`
	Port    *uint16         `json:"port"`
	Proto   string          `json:"proto"`
	RecType string          `json:"rec_type"`
	Data    json.RawMessage `json:"data"`
	Sport   *uint16         `json:"sport"`
	Success json.RawMessage `json:"success"`
}

type jsonPort struct {
	Port   uint16 `json:"port"`
	Proto  string `json:"proto"`
	Status string `json:"status"` // absent on banner records, which follow an open one
}

func parseJSONLine(s string) (spec, lineKind, error) {
	t := strings.TrimLeft(s, "[], \t")
	t = strings.TrimRight(t, "], \t")
	if t == "" {
		return spec{}, lineIgnored, nil
	}
	if t == "{finished: 1}" {
		return spec{}, lineIgnored, nil // trailer of old masscan -oJ files; not JSON
	}
	var rec jsonRecord
	if err := json.Unmarshal([]byte(t), &rec); err != nil {
		return spec{}, 0, fmt.Errorf("not a masscan or ZMap JSON record: %v", jsonProblem(err))
	}
	text := rec.IP
	if text == "" {
		text = rec.Saddr
	}
	if text == "" {
		return spec{}, 0, errors.New(`JSON record has no "ip" or "saddr"`)
	}
	a, err := netip.ParseAddr(text)
	if err != nil {
		return spec{}, 0, fmt.Errorf("JSON address %q is not an IP address", capText(text))
	}
	if rec.Success != nil && isFalse(string(rec.Success)) {
		return spec{}, lineIgnored, nil
	}
	var ports []uint16
	switch {
	case rec.Ports != nil:
		for _, p := range rec.Ports {
			if p.Proto != "" && p.Proto != "tcp" || p.Status != "" && p.Status != "open" {
				continue
			}
			if p.Port == 0 {
				return spec{}, 0, errors.New("JSON record has port 0 or none")
			}
			ports = append(ports, p.Port)
		}
		if len(ports) == 0 {
			return spec{}, lineIgnored, nil
		}
	case rec.Port != nil:
		if rec.Proto != "" && rec.Proto != "tcp" {
			return spec{}, lineIgnored, nil
		}
		if rec.RecType == "status" {
			var data struct {
				Status string `json:"status"`
			}
			if json.Unmarshal(rec.Data, &data) != nil || data.Status != "open" {
				return spec{}, lineIgnored, nil
			}
		}
		if *rec.Port == 0 {
			return spec{}, 0, errors.New("JSON record has port 0")
		}
		ports = []uint16{*rec.Port}
	case rec.Sport != nil:
		if *rec.Sport == 0 {
			return spec{}, 0, errors.New("JSON record has port 0")
		}
		ports = []uint16{*rec.Sport}
	}
	sp, err := addrSpec(a, ports)
	if err != nil {
		return spec{}, 0, err
	}
	return sp, lineTarget, nil
}

// jsonProblem shortens encoding/json errors, which can quote large parts of
// hostile input.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q has the wrong type", capText(typ.Field))
	}
	return "invalid JSON"
}

func isFalse(v string) bool {
	switch strings.Trim(v, `" `) {
	case "false", "0":
		return true
	}
	return false
}

// isMasscanList reports whether fields look like a masscan -oL record:
// "open tcp 443 192.0.2.7 1616161616" (also "closed …" and "banner …").
func isMasscanList(f []string) bool {
	if len(f) < 4 {
		return false
	}
	switch f[0] {
	case "open", "closed", "banner":
		return true
	}
	return false
}

func parseMasscanList(f []string) (spec, lineKind, error) {
	if f[0] != "open" || f[1] != "tcp" {
		// Closed ports are no targets; banner lines repeat an open record;
		// Exchange is not on UDP or SCTP.
		return spec{}, lineIgnored, nil
	}
	if len(f) > 5 {
		return spec{}, 0, errors.New("masscan -oL open record with extra fields")
	}
	port, err := parsePort(f[2])
	if err != nil {
		return spec{}, 0, err
	}
	a, err := netip.ParseAddr(f[3])
	if err != nil {
		return spec{}, 0, fmt.Errorf("masscan record address %q is not an IP address", capText(f[3]))
	}
	sp, err := addrSpec(a, []uint16{port})
	return sp, lineTarget, err
}

// csvLayout says where the columns of a ZMap CSV file are; -1 when absent.
type csvLayout struct {
	n, addr, port, success int
}

// parseCSV handles ZMap CSV: a header line names the columns
// ("saddr, sport, dport, …"; ZMap writes one when there is more than one
// field), then rows follow. The port comes from "sport": in ZMap's output
// the fields describe the reply, so sport is the target's port and dport is
// ZMap's own source port. A file with dport but no sport gets Options.Ports.
// "ip" and "port" are accepted as column names for hand-made CSV.
func (p *lineParser) parseCSV(s string) (spec, lineKind, error) {
	fields := splitCSV(s)
	if isCSVHeader(fields) {
		l := csvLayout{n: len(fields), addr: -1, port: -1, success: -1}
		for i, f := range fields {
			switch {
			case (f == "saddr" || f == "ip") && l.addr < 0:
				l.addr = i
			case (f == "sport" || f == "port") && l.port < 0:
				l.port = i
			case f == "success" && l.success < 0:
				l.success = i
			}
		}
		if l.addr < 0 {
			return spec{}, 0, errors.New(`CSV header without a "saddr" column`)
		}
		p.csv = &l
		return spec{}, lineIgnored, nil
	}
	l := p.csv
	if l == nil {
		return spec{}, 0, errors.New(`CSV line without a ZMap header line ("saddr,…") before it`)
	}
	if len(fields) != l.n {
		return spec{}, 0, fmt.Errorf("CSV line has %d fields, its header %d", len(fields), l.n)
	}
	if l.success >= 0 && isFalse(fields[l.success]) {
		return spec{}, lineIgnored, nil // RST or ICMP reply: nothing listens
	}
	a, err := netip.ParseAddr(fields[l.addr])
	if err != nil {
		return spec{}, 0, fmt.Errorf("CSV address %q is not an IP address", capText(fields[l.addr]))
	}
	var ports []uint16
	if l.port >= 0 && fields[l.port] != "" {
		port, err := parsePort(fields[l.port])
		if err != nil {
			return spec{}, 0, err
		}
		ports = []uint16{port}
	}
	sp, err := addrSpec(a, ports)
	return sp, lineTarget, err
}

// isCSVHeader reports whether every field is a ZMap-style field name.
func isCSVHeader(fields []string) bool {
	for _, f := range fields {
		if f == "" || !(f[0] >= 'a' && f[0] <= 'z' || f[0] == '_') {
			return false
		}
		for i := 0; i < len(f); i++ {
			c := f[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
				return false
			}
		}
	}
	return true
}

// splitCSV splits on commas outside double quotes (ZMap quotes strings
// containing commas, without escaping) and trims space around fields.
func splitCSV(s string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i <= len(s); i++ {
		if i < len(s) {
			switch s[i] {
			case '"':
				quoted = !quoted
				continue
			case ',':
				if quoted {
					continue
				}
			default:
				continue
			}
		}
		f := strings.TrimSpace(s[start:i])
		if len(f) >= 2 && f[0] == '"' && f[len(f)-1] == '"' {
			f = f[1 : len(f)-1]
		}
		out = append(out, f)
		start = i + 1
	}
	return out
}

// capText limits hostile text quoted in messages.
func capText(s string) string {
	const max = 120
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
