package owners

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gaissmai/bart"
	"go4.org/netipx"
)

// AS describes the autonomous system that originates an address.
type AS struct {
	Number  uint32 `json:"asn"`
	Name    string `json:"as_name,omitempty"`
	Country string `json:"country,omitempty"` // ISO 3166-1 alpha-2, upper case; "" if unknown
}

// ASNTable maps addresses to the AS that originates them, by longest-prefix
// match. It is immutable and safe for concurrent use.
type ASNTable struct {
	// The value packs the AS record index (upper 24 bits) and the prefix
	// length (lower 8), so a plain Lookup, cheaper than LookupPrefixLPM,
	// also yields the matched prefix.
	t        *bart.Table[uint32] // IPv6 only once built; IPv4 is in v4
	v4       *ipv4Index
	as       []AS
	ranges   int
	prefixes int
}

// Lookup returns the AS originating ip and the routed prefix it falls in.
// It does not allocate.
func (t *ASNTable) Lookup(ip netip.Addr) (AS, netip.Prefix, bool) {
	if t == nil || !ip.IsValid() {
		return AS{}, netip.Prefix{}, false
	}
	ip = ip.Unmap()
	var v uint32
	var ok bool
	if ip.Is4() {
		v, ok = t.v4.lookup(v4u(ip))
	} else {
		v, ok = t.t.Lookup(ip)
	}
	if !ok {
		return AS{}, netip.Prefix{}, false
	}
	pfx, _ := ip.Prefix(int(v & 0xff))
	return t.as[v>>8], pfx, true
}

// Stats returns how many ranges were imported, how many prefixes they became
// and how many distinct (AS, name, country) records the table holds.
func (t *ASNTable) Stats() (ranges, prefixes, records int) {
	if t == nil {
		return 0, 0, 0
	}
	return t.ranges, t.prefixes, len(t.as)
}

// maxASRecords is what fits the table's 24-bit record index; real data
// has about 100,000 distinct (AS, name, country) records.
const maxASRecords = 1 << 24

// ASNTableBuilder accumulates IP→ASN data from one or more files. Ranges
// are split into CIDR prefixes; when two sources give the same prefix the
// later one wins, otherwise the most specific prefix wins at lookup. A
// builder is not safe for concurrent use.
type ASNTableBuilder struct {
	t        *bart.Table[uint32] // IPv6 only once built; IPv4 is in v4
	v4       *ipv4Index
	as       []AS
	index    map[AS]uint32
	buf      []netip.Prefix
	ranges   int
	prefixes int
}

// NewASNTableBuilder returns an empty builder.
func NewASNTableBuilder() *ASNTableBuilder {
	return &ASNTableBuilder{t: new(bart.Table[uint32]), index: make(map[AS]uint32)}
}

// Table returns the table built so far. The builder must not be used
// afterwards: the table shares its storage.
func (b *ASNTableBuilder) Table() *ASNTable {
	if b.t == nil {
		b.t = new(bart.Table[uint32])
	}
	// IPv4 moves into the flat index; the trie keeps IPv6 only, so the
	// IPv4 nodes can be collected.
	v6 := new(bart.Table[uint32])
	for p, v := range b.t.All6() {
		v6.Insert(p, v)
	}
	t := &ASNTable{t: v6, v4: buildIPv4Index(b.t), as: b.as, ranges: b.ranges, prefixes: b.prefixes}
	*b = ASNTableBuilder{}
	return t
}

// AddRange adds the inclusive range first..last for as. AS 0 means "not
// routed" in iptoasn and is skipped, so those addresses have no AS.
func (b *ASNTableBuilder) AddRange(first, last netip.Addr, as AS) error {
	if b.t == nil {
		return errors.New("ASNTableBuilder used after Table()")
	}
	if first.Zone() != "" || last.Zone() != "" {
		return fmt.Errorf("range %s-%s has a zone", first, last)
	}
	first, last = first.Unmap(), last.Unmap()
	r := netipx.IPRangeFrom(first, last)
	if !r.IsValid() {
		return fmt.Errorf("invalid range %s-%s", first, last)
	}
	if as.Number == 0 {
		return nil
	}
	idx, ok := b.index[as]
	if !ok {
		if len(b.as) >= maxASRecords {
			return fmt.Errorf("more than %d distinct AS records", maxASRecords)
		}
		idx = uint32(len(b.as))
		b.as = append(b.as, as)
		b.index[as] = idx
	}
	b.ranges++
	b.buf = r.AppendPrefixes(b.buf[:0])
	for _, p := range b.buf {
		b.t.Insert(p, idx<<8|uint32(p.Bits()))
	}
	b.prefixes += len(b.buf)
	return nil
}

// LoadASNTable reads IP→ASN files, choosing the reader by extension:
// .tsv (iptoasn), .csv (ip-location-db), .mmdb (MaxMind format); .gz is
// accepted on the first two.
func LoadASNTable(paths ...string) (*ASNTable, error) {
	b := NewASNTableBuilder()
	for _, p := range paths {
		if err := b.loadFile(p); err != nil {
			return nil, err
		}
	}
	return b.Table(), nil
}

func (b *ASNTableBuilder) loadFile(path string) error {
	ext := strings.ToLower(strings.TrimSuffix(strings.ToLower(path), ".gz"))
	ext = filepath.Ext(ext)
	if ext == ".mmdb" {
		return b.OpenMMDB(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	switch ext {
	case ".tsv":
		return b.ReadIPtoASN(path, f)
	case ".csv":
		return b.ReadIPLocationCSV(path, f)
	}
	return fmt.Errorf("%s: unknown IP→ASN format (want .tsv, .csv, .mmdb)", path)
}

// maybeGunzip transparently decompresses gzip input, since both iptoasn and
// ip-location-db are distributed gzipped.
func maybeGunzip(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	}
	return br, func() {}, nil
}

// lineScanner yields lines capped at MaxDataLine with their numbers.
type lineScanner struct {
	sc   *bufio.Scanner
	line int
	file string
}

func newLineScanner(file string, r io.Reader) *lineScanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxDataLine)
	return &lineScanner{sc: sc, file: file}
}

func (s *lineScanner) next() (string, bool) {
	if !s.sc.Scan() {
		return "", false
	}
	s.line++
	return strings.TrimSuffix(s.sc.Text(), "\r"), true
}

func (s *lineScanner) err() error {
	if err := s.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return &LineError{File: s.file, Line: s.line + 1, Msg: fmt.Sprintf("line longer than %d bytes", MaxDataLine)}
		}
		return &LineError{File: s.file, Line: s.line + 1, Msg: err.Error()}
	}
	return nil
}

func (s *lineScanner) errorf(format string, args ...any) error {
	return &LineError{File: s.file, Line: s.line, Msg: fmt.Sprintf(format, args...)}
}

// ReadIPtoASN imports iptoasn.com data (ip2asn-v4.tsv, ip2asn-v6.tsv,
// ip2asn-combined.tsv, optionally gzipped): tab-separated
// range_start, range_end, AS_number, country_code, AS_description.
// A malformed line is an error naming the line: a truncated or corrupt
// download should fail the import, not quietly lose networks.
func (b *ASNTableBuilder) ReadIPtoASN(name string, r io.Reader) error {
	r, done, err := maybeGunzip(r)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer done()
	s := newLineScanner(name, r)
	for {
		line, ok := s.next()
		if !ok {
			break
		}
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.SplitN(line, "\t", 5)
		if len(f) < 4 {
			return s.errorf("want 5 tab-separated fields (range_start range_end AS_number country_code AS_description), got %d", len(f))
		}
		first, last, err := parseRangeEnds(f[0], f[1])
		if err != nil {
			return s.errorf("%v", err)
		}
		asn, err := strconv.ParseUint(strings.TrimSpace(f[2]), 10, 32)
		if err != nil {
			return s.errorf("invalid AS number %q", preview(f[2]))
		}
		var desc string
		if len(f) == 5 {
			desc = f[4]
		}
		as := AS{Number: uint32(asn), Country: cleanCountry(f[3]), Name: cleanName(desc)}
		if err := b.AddRange(first, last, as); err != nil {
			return s.errorf("%v", err)
		}
	}
	return s.err()
}

// ReadIPLocationCSV imports ip-location-db ASN data (asn-ipv4.csv,
// dbip-asn-ipv6.csv, …, optionally gzipped). The files have no header:
// start,end,as_number,as_organization, or with a country code column as
// start,end,as_number,country_code,as_organization (iptoasn order). A header
// row with the column names ip_range_start, ip_range_end, as_number /
// autonomous_system_number, as_organization / autonomous_system_organization
// and country_code is also understood. Addresses may be written as numbers
// (the -num files).
func (b *ASNTableBuilder) ReadIPLocationCSV(name string, r io.Reader) error {
	r, done, err := maybeGunzip(r)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer done()
	s := newLineScanner(name, r)
	var cols *ipLocCols
	var fields []string
	for {
		line, ok := s.next()
		if !ok {
			break
		}
		if strings.TrimSpace(line) == "" || line[0] == '#' {
			continue
		}
		fields, err = splitCSVLine(fields[:0], line)
		if err != nil {
			return s.errorf("%v", err)
		}
		if cols == nil {
			if c, isHeader, err := ipLocHeader(fields); err != nil {
				return s.errorf("%v", err)
			} else if isHeader {
				cols = c
				continue
			} else {
				cols = c
			}
		}
		if len(fields) != cols.width {
			return s.errorf("want %d fields, got %d", cols.width, len(fields))
		}
		first, last, err := parseRangeEnds(fields[cols.start], fields[cols.end])
		if err != nil {
			return s.errorf("%v", err)
		}
		asn, err := strconv.ParseUint(strings.TrimSpace(fields[cols.asn]), 10, 32)
		if err != nil {
			return s.errorf("invalid AS number %q", preview(fields[cols.asn]))
		}
		as := AS{Number: uint32(asn)}
		if cols.org >= 0 {
			as.Name = cleanName(fields[cols.org])
		}
		if cols.country >= 0 {
			as.Country = cleanCountry(fields[cols.country])
		}
		if err := b.AddRange(first, last, as); err != nil {
			return s.errorf("%v", err)
		}
	}
	return s.err()
}

type ipLocCols struct {
	width, start, end, asn, org, country int
}

// ipLocHeader recognises a header row, or derives the layout from the
// number of fields of the first data row.
func ipLocHeader(f []string) (*ipLocCols, bool, error) {
	if isHeaderWord(f[0]) {
		c := &ipLocCols{width: len(f), start: -1, end: -1, asn: -1, org: -1, country: -1}
		for i, h := range f {
			var dst *int
			switch strings.ToLower(strings.TrimSpace(h)) {
			case "ip_range_start", "start", "range_start":
				dst = &c.start
			case "ip_range_end", "end", "range_end":
				dst = &c.end
			case "as_number", "autonomous_system_number", "asn":
				dst = &c.asn
			case "as_organization", "autonomous_system_organization", "org", "as_name", "as_description":
				dst = &c.org
			case "country_code", "country":
				dst = &c.country
			default:
				return nil, false, fmt.Errorf("unknown column %q in header", preview(h))
			}
			if *dst >= 0 {
				return nil, false, fmt.Errorf("column %q repeated in header", preview(h))
			}
			*dst = i
		}
		if c.start < 0 || c.end < 0 || c.asn < 0 {
			return nil, false, errors.New("header needs ip_range_start, ip_range_end and as_number columns")
		}
		return c, true, nil
	}
	switch len(f) {
	case 4:
		return &ipLocCols{width: 4, start: 0, end: 1, asn: 2, org: 3, country: -1}, false, nil
	case 5:
		return &ipLocCols{width: 5, start: 0, end: 1, asn: 2, country: 3, org: 4}, false, nil
	case 3:
		return nil, false, errors.New("3 fields: this is a country-only file, not ASN data")
	}
	return nil, false, fmt.Errorf("want 4 fields (start,end,asn,org) or 5 (start,end,asn,country,org), got %d", len(f))
}

// isHeaderWord reports whether s looks like a column name rather than an
// address: letters and '_' only.
func isHeaderWord(s string) bool {
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if (c < 'a' || c > 'z') && s[i] != '_' {
			return false
		}
	}
	return s != ""
}

// splitCSVLine splits one RFC 4180 line. Quoted fields may contain commas
// and doubled quotes; a line break inside quotes is not supported because
// no IP→ASN file has one, and refusing it keeps line numbers exact.
func splitCSVLine(dst []string, line string) ([]string, error) {
	for {
		if len(line) > 0 && line[0] == '"' {
			var b strings.Builder
			i := 1
			for {
				j := strings.IndexByte(line[i:], '"')
				if j < 0 {
					return nil, errors.New("unterminated quoted field")
				}
				b.WriteString(line[i : i+j])
				i += j + 1
				if i < len(line) && line[i] == '"' {
					b.WriteByte('"')
					i++
					continue
				}
				break
			}
			dst = append(dst, b.String())
			line = line[i:]
			if line == "" {
				return dst, nil
			}
			if line[0] != ',' {
				return nil, errors.New("text after closing quote")
			}
			line = line[1:]
			continue
		}
		i := strings.IndexByte(line, ',')
		if i < 0 {
			if strings.IndexByte(line, '"') >= 0 {
				return nil, errors.New("quote inside unquoted field")
			}
			return append(dst, line), nil
		}
		if strings.IndexByte(line[:i], '"') >= 0 {
			return nil, errors.New("quote inside unquoted field")
		}
		dst = append(dst, line[:i])
		line = line[i+1:]
	}
}

func parseRangeEnds(a, b string) (netip.Addr, netip.Addr, error) {
	first, err := parseAddrField(a)
	if err != nil {
		return first, first, err
	}
	last, err := parseAddrField(b)
	if err != nil {
		return first, last, err
	}
	if first.Is4() != last.Is4() {
		return first, last, fmt.Errorf("range %s-%s mixes IPv4 and IPv6", first, last)
	}
	if last.Less(first) {
		return first, last, fmt.Errorf("range %s-%s ends before it starts", first, last)
	}
	return first, last, nil
}

// parseAddrField parses an address written as text or, for the -num files,
// as a decimal number (up to 2^32-1 is IPv4, anything larger IPv6).
func parseAddrField(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if s != "" && s[0] >= '0' && s[0] <= '9' && strings.IndexAny(s, ".:") < 0 {
		hi, lo, ok := parseUint128(s)
		if !ok {
			return netip.Addr{}, fmt.Errorf("invalid address %q", preview(s))
		}
		if hi == 0 && lo <= 0xffffffff {
			return netip.AddrFrom4([4]byte{byte(lo >> 24), byte(lo >> 16), byte(lo >> 8), byte(lo)}), nil
		}
		var b [16]byte
		for i := 0; i < 8; i++ {
			b[i] = byte(hi >> (56 - 8*i))
			b[8+i] = byte(lo >> (56 - 8*i))
		}
		return netip.AddrFrom16(b), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("invalid address %q", preview(s))
	}
	return a.Unmap(), nil
}

func parseUint128(s string) (hi, lo uint64, ok bool) {
	if len(s) > 39 {
		return 0, 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, 0, false
		}
		// (hi,lo) = (hi,lo)*10 + d, failing on overflow.
		h1, l1 := bits.Mul64(lo, 10)
		h2, h2hi := bits.Mul64(hi, 10)
		if h2 != 0 {
			return 0, 0, false
		}
		var carry uint64
		lo, carry = bits.Add64(l1, uint64(c-'0'), 0)
		var c2 uint64
		hi, c2 = bits.Add64(h2hi, h1, carry)
		if c2 != 0 {
			return 0, 0, false
		}
	}
	return hi, lo, true
}

// cleanCountry keeps a two-letter code and drops placeholders like "None".
func cleanCountry(s string) string {
	s = strings.TrimSpace(s)
	if len(s) != 2 {
		return ""
	}
	c0, c1 := s[0]&^0x20, s[1]&^0x20 // upper case
	if c0 < 'A' || c0 > 'Z' || c1 < 'A' || c1 > 'Z' {
		return ""
	}
	if s[0] == c0 && s[1] == c1 {
		return s
	}
	return string([]byte{c0, c1})
}
