package logs

import (
	"bytes"
	"io"
	"os"
	"path"
	"strings"
)

// SniffSize is how much of a file Sniff needs: the Exchange and IIS header
// blocks are a few hundred bytes, but a bare CSV header line of HttpProxy is
// ~1.2 KB and may come first.
const SniffSize = 8 << 10

// Sniff recognises a log from the first bytes of the file and its path.
// Content wins over the path: triage copies get renamed and flattened, so a
// file is W3C because of its "#Fields: date time …" line, not because it
// sits under W3SVC1. The path fills in what content cannot say: the
// HttpProxy protocol folder, and the type of a CSV log whose head has no
// #Log-type.
func Sniff(p string, head []byte) Kind {
	pk := kindFromPath(p)
	ck, ok := kindFromContent(head)
	if !ok {
		return pk
	}
	if ck.Type == TypeExchangeCSV && ck.LogType == "" && pk.Type.IsCSV() {
		ck.Type = pk.Type
	}
	if ck.Type == TypeHttpProxy && pk.Type == TypeHttpProxy {
		ck.Protocol = pk.Protocol
	}
	return ck
}

// SniffFile reads the head of the file at p and sniffs it.
func SniffFile(p string) (Kind, error) {
	f, err := os.Open(p)
	if err != nil {
		return Kind{}, err
	}
	defer f.Close()
	head := make([]byte, SniffSize)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return Kind{}, err
	}
	return Sniff(p, head[:n]), nil
}

// kindFromPath applies the Exchange and IIS folder conventions (host.md §1,
// §3): <install>\Logging\HttpProxy\<Protocol>\, Logging\ECP\Server\,
// Logging\OABGeneratorLog\, Logging\CmdletInfra\…\Rps_Cmdlet_*.LOG and
// inetpub\logs\LogFiles\W3SVC*\u_ex*.log, on either slash, any case.
func kindFromPath(p string) Kind {
	orig := "/" + strings.ReplaceAll(p, `\`, "/")
	low := strings.ToLower(orig)
	base := path.Base(low)
	if strings.HasSuffix(base, ".evtx") {
		return Kind{Type: TypeEVTX}
	}
	if i := strings.Index(low, "/logging/httpproxy/"); i >= 0 {
		rest := orig[i+len("/logging/httpproxy/"):]
		if j := strings.IndexByte(rest, '/'); j > 0 {
			return Kind{Type: TypeHttpProxy, Protocol: rest[:j]}
		}
		return Kind{Type: TypeHttpProxy}
	}
	switch {
	case strings.Contains(low, "/logging/ecp/server/"):
		return Kind{Type: TypeECPServer}
	case strings.Contains(low, "/logging/ecp/activity/"):
		return Kind{Type: TypeECPActivity}
	case strings.Contains(low, "/logging/oabgeneratorlog/"):
		return Kind{Type: TypeOABGenerator}
	case strings.Contains(low, "/logging/cmdletinfra/"):
		if strings.Contains(base, "cmdlet") {
			return Kind{Type: TypeCmdlet}
		}
		return Kind{Type: TypeExchangeCSV}
	case strings.Contains(low, "/inetpub/logs/logfiles/w3svc"),
		strings.HasPrefix(base, "u_ex") && strings.HasSuffix(base, ".log"):
		return Kind{Type: TypeW3C}
	}
	return Kind{}
}

var (
	evtxMagic = []byte("ElfFile\x00")
	utf8BOM   = []byte("\xef\xbb\xbf")
)

// kindFromContent looks at the directives and first data line in head.
func kindFromContent(head []byte) (Kind, bool) {
	if bytes.HasPrefix(head, evtxMagic) {
		return Kind{Type: TypeEVTX}, true
	}
	head = bytes.TrimPrefix(head, utf8BOM)
	var k Kind
	iis := false
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			continue
		}
		if line[0] != '#' {
			// First data line (or a bare CSV header) decides when the
			// directives did not.
			switch {
			case k.LogType != "":
				return k, true
			case iis:
				return Kind{Type: TypeW3C}, true
			case bytes.IndexByte(line, ',') >= 0 && looksLikeColumnNames(line):
				return Kind{Type: csvTypeFromFields(line)}, true
			case looksLikeW3CData(line):
				return Kind{Type: TypeW3C}, true
			case looksLikeISO(line) && bytes.IndexByte(line, ',') >= 0:
				return Kind{Type: TypeExchangeCSV}, true
			}
			return Kind{}, false
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		name, val := line[1:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("Log-type")):
			k.LogType = Cap(val, maxDirective)
			k.Type = csvTypeFromLogType(k.LogType)
		case bytes.EqualFold(name, []byte("Software")):
			if bytes.Contains(val, []byte("Internet Information Services")) {
				iis = true
			}
		case bytes.EqualFold(name, []byte("Fields")):
			if bytes.IndexByte(val, ',') < 0 {
				return Kind{Type: TypeW3C}, true
			}
			if k.Type == TypeUnknown || k.Type == TypeExchangeCSV {
				k.Type = csvTypeFromFields(val)
			}
			return k, true
		}
	}
	switch {
	case k.LogType != "":
		return k, true
	case iis:
		return Kind{Type: TypeW3C}, true
	}
	return Kind{}, false
}

// csvTypeFromLogType maps the #Log-type directive. Known values: "HttpProxy
// Logs", "ECP Server Log", "ECP Activity Context Log", "Rps Cmdlet Logs"
// (host.md §3). The OAB generator's value is not publicly documented, so any
// value naming OAB is taken.
func csvTypeFromLogType(lt string) Type {
	l := strings.ToLower(lt)
	switch {
	case strings.Contains(l, "httpproxy"):
		return TypeHttpProxy
	case strings.Contains(l, "ecp server"):
		return TypeECPServer
	case strings.Contains(l, "ecp activity"):
		return TypeECPActivity
	case strings.Contains(l, "cmdlet"):
		return TypeCmdlet
	case strings.Contains(l, "oab"):
		return TypeOABGenerator
	}
	return TypeExchangeCSV
}

// csvTypeFromFields recognises a CSV log by its distinctive columns.
func csvTypeFromFields(fields []byte) Type {
	has := func(n string) bool {
		for _, f := range bytes.Split(fields, []byte(",")) {
			if bytes.EqualFold(bytes.TrimSpace(f), []byte(n)) {
				return true
			}
		}
		return false
	}
	switch {
	case has("AnchorMailbox") && (has("UrlStem") || has("RoutingHint")):
		return TypeHttpProxy
	case has("EventData") && has("ServerName"):
		return TypeECPServer
	case has("Cmdlet") && has("Parameters"):
		return TypeCmdlet
	}
	return TypeExchangeCSV
}

func looksLikeISO(b []byte) bool {
	var tp timeParser
	if len(b) < 10 {
		return false
	}
	_, ok := tp.day(b[:10])
	return ok
}

// looksLikeW3CData: "2021-03-05 03:06:27 …" — a date, a space, a time.
func looksLikeW3CData(b []byte) bool {
	if len(b) < 20 || b[10] != ' ' || !looksLikeISO(b) {
		return false
	}
	_, _, rest, ok := clock(b[11:])
	return ok && len(rest) > 0 && rest[0] == ' '
}
