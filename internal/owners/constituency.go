package owners

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/gaissmai/bart"
)

// Org is an organisation that receives notifications. The To and CC slices
// are shared with the Directory that returned them: read them, don't modify
// them.
type Org struct {
	// Key identifies the recipient across runs (internal/notify groups and
	// remembers messages by it): the lower-cased name for a constituency
	// organisation, which is unique; "rdap:" and the addresses for an RDAP
	// contact, so networks sharing one abuse desk get one message.
	Key      string   `json:"key"`
	Name     string   `json:"name"`
	To       []string `json:"to"`
	CC       []string `json:"cc,omitempty"`
	Language string   `json:"language,omitempty"`
}

// Format is a constituency file format.
type Format int

const (
	FormatYAML Format = iota + 1
	FormatCSV
)

func (f Format) String() string {
	switch f {
	case FormatYAML:
		return "yaml"
	case FormatCSV:
		return "csv"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// FormatOf picks the constituency format from a file name's extension
// (.yaml, .yml, .csv).
func FormatOf(name string) (Format, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml":
		return FormatYAML, nil
	case ".csv":
		return FormatCSV, nil
	}
	return 0, fmt.Errorf("%s: unknown constituency format (want .yaml, .yml or .csv)", name)
}

// Source is one constituency file to parse. Name is used in error messages
// and in the Rule of every result that the file decides.
type Source struct {
	Name   string
	Format Format
	Reader io.Reader
}

// Constituency is a validated set of organisations and the rules that point
// at them. It is immutable and safe for concurrent use.
type Constituency struct {
	orgs     []*Org
	prefixes *bart.Table[*rule] // all prefix rules; IPv6 lookups use it
	v4       *ipv4Index         // IPv4 prefix rules, flattened (see ipv4Index); values index v4rules
	v4rules  []*rule
	domains  map[string]*rule
	asns     map[uint32]*rule
	nPrefix  int
}

// rule is one prefix, domain or AS claim, with everything a match must
// report precomputed so that Lookup does not allocate.
type rule struct {
	org    *Org
	text   string       // Result.Rule, e.g. "prefix 192.0.2.0/24 of c.yaml:12"
	source string       // Result.Source, e.g. "c.yaml:12"
	prefix netip.Prefix // only for prefix rules
}

// Orgs returns the organisations in file order.
func (c *Constituency) Orgs() []*Org { return c.orgs }

// Counts returns the number of prefix, domain and AS rules.
func (c *Constituency) Counts() (prefixes, domains, asns int) {
	return c.nPrefix, len(c.domains), len(c.asns)
}

// HasASNRules reports whether any rule needs IP→ASN data to apply.
func (c *Constituency) HasASNRules() bool { return c != nil && len(c.asns) > 0 }

// orgDecl is an organisation as parsed, before cross-checks. Every value
// keeps the line it came from.
type orgDecl struct {
	file     string
	line     int
	name     string
	to, cc   []string
	language string
	cidrs    []located[netip.Prefix]
	asns     []located[uint32]
	domains  []located[string]
}

type located[T any] struct {
	v    T
	line int
}

// LoadConstituency reads constituency files, choosing each format by its
// extension, and validates them together: a prefix claimed in one file and
// again in another is a tie like any other.
func LoadConstituency(paths ...string) (*Constituency, error) {
	srcs := make([]Source, 0, len(paths))
	for _, p := range paths {
		f, err := FormatOf(p)
		if err != nil {
			return nil, err
		}
		fh, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		srcs = append(srcs, Source{Name: p, Format: f, Reader: fh})
	}
	return ParseConstituency(srcs...)
}

// ParseConstituency parses and validates constituency sources. On failure
// the error is a *ValidationError listing every problem found as
// "file:line: what" (or a plain I/O error).
func ParseConstituency(srcs ...Source) (*Constituency, error) {
	var errs errorList
	var decls []*orgDecl
	for _, src := range srcs {
		data, err := readCapped(src.Reader, MaxConstituencySize)
		if err != nil {
			if err == errTooLarge {
				errs.add(src.Name, 0, "file larger than %d bytes", MaxConstituencySize)
				continue
			}
			return nil, fmt.Errorf("%s: %w", src.Name, err)
		}
		data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // spreadsheet exports add a BOM
		if !checkLines(src.Name, data, &errs) {
			continue
		}
		switch src.Format {
		case FormatYAML:
			decls = append(decls, parseYAML(src.Name, data, &errs)...)
		case FormatCSV:
			decls = append(decls, parseCSV(src.Name, data, &errs)...)
		default:
			errs.add(src.Name, 0, "unknown constituency format %v", src.Format)
		}
	}
	c := build(decls, &errs)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return c, nil
}

var errTooLarge = fmt.Errorf("input too large")

func readCapped(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, errTooLarge
	}
	return data, nil
}

// checkLines refuses over-long lines, NUL bytes and invalid UTF-8 before
// any parser sees the data, so each is reported with its line instead of as
// a parser's confusion further down.
func checkLines(file string, data []byte, errs *errorList) bool {
	ok := true
	line := 0
	for len(data) > 0 {
		line++
		i := bytes.IndexByte(data, '\n')
		var l []byte
		if i < 0 {
			l, data = data, nil
		} else {
			l, data = data[:i], data[i+1:]
		}
		switch {
		case len(l) > MaxConstituencyLine:
			errs.add(file, line, "line longer than %d bytes", MaxConstituencyLine)
			ok = false
		case bytes.IndexByte(l, 0) >= 0:
			errs.add(file, line, "NUL byte (binary file?)")
			ok = false
		case !utf8.Valid(l):
			errs.add(file, line, "invalid UTF-8 (save the file as UTF-8)")
			ok = false
		}
	}
	return ok
}

// build cross-checks the parsed organisations and builds the lookup tables.
// Every claim is registered with its location; a second claim of the same
// prefix, domain or AS is an error naming both locations, because silently
// picking one would make notifications depend on file order.
func build(decls []*orgDecl, errs *errorList) *Constituency {
	c := &Constituency{
		prefixes: new(bart.Table[*rule]),
		domains:  make(map[string]*rule),
		asns:     make(map[uint32]*rule),
	}
	names := make(map[string]string) // lower-cased name → "file:line"
	for _, d := range decls {
		key := strings.ToLower(d.name)
		if at, dup := names[key]; dup {
			errs.add(d.file, d.line, "organisation %q is already defined at %s", d.name, at)
			continue
		}
		names[key] = fmt.Sprintf("%s:%d", d.file, d.line)
		org := &Org{Key: key, Name: d.name, To: d.to, CC: d.cc, Language: d.language}
		c.orgs = append(c.orgs, org)

		for _, p := range d.cidrs {
			src := fmt.Sprintf("%s:%d", d.file, p.line)
			if prev, dup := c.prefixes.Get(p.v); dup {
				errs.add(d.file, p.line, "prefix %s is already claimed by %s at %s", p.v, describeOwner(prev.org, org), prev.source)
				continue
			}
			c.prefixes.Insert(p.v, &rule{org: org, text: "prefix " + p.v.String() + " of " + src, source: src, prefix: p.v})
			c.nPrefix++
		}
		for _, dm := range d.domains {
			src := fmt.Sprintf("%s:%d", d.file, dm.line)
			if prev, dup := c.domains[dm.v]; dup {
				errs.add(d.file, dm.line, "domain %s is already claimed by %s at %s", dm.v, describeOwner(prev.org, org), prev.source)
				continue
			}
			c.domains[dm.v] = &rule{org: org, text: "domain " + dm.v + " of " + src, source: src}
		}
		for _, a := range d.asns {
			src := fmt.Sprintf("%s:%d", d.file, a.line)
			if prev, dup := c.asns[a.v]; dup {
				errs.add(d.file, a.line, "AS%d is already claimed by %s at %s", a.v, describeOwner(prev.org, org), prev.source)
				continue
			}
			c.asns[a.v] = &rule{org: org, text: fmt.Sprintf("asn AS%d of %s", a.v, src), source: src}
		}
	}
	// The same flat index as the ASN table, for the same reason: a
	// national constituency has tens of thousands of prefixes, and the
	// lookup runs for every address.
	byIndex := new(bart.Table[uint32])
	for p, r := range c.prefixes.All4() {
		byIndex.Insert(p, uint32(len(c.v4rules)))
		c.v4rules = append(c.v4rules, r)
	}
	c.v4 = buildIPv4Index(byIndex)
	return c
}

func describeOwner(prev, cur *Org) string {
	if prev == cur {
		return "the same organisation"
	}
	return fmt.Sprintf("%q", prev.Name)
}

// matchPrefix returns the most specific prefix rule containing ip.
func (c *Constituency) matchPrefix(ip netip.Addr) (*rule, bool) {
	if ip.Is4() {
		i, ok := c.v4.lookup(v4u(ip))
		if !ok {
			return nil, false
		}
		return c.v4rules[i], true
	}
	return c.prefixes.Lookup(ip)
}

// matchDomain returns the rule of the longest listed domain that equals
// host or is a parent of it. It lower-cases into a stack buffer and indexes
// the map with string(bytes), which the compiler does without allocating.
func (c *Constituency) matchDomain(host string) (*rule, bool) {
	if len(c.domains) == 0 || host == "" || len(host) > 254 {
		return nil, false
	}
	var buf [254]byte
	n := copy(buf[:], host)
	s := buf[:n]
	for i, ch := range s {
		if 'A' <= ch && ch <= 'Z' {
			s[i] = ch + ('a' - 'A')
		}
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	for len(s) > 0 {
		if r, ok := c.domains[string(s)]; ok {
			return r, true
		}
		i := bytes.IndexByte(s, '.')
		if i < 0 {
			break
		}
		s = s[i+1:]
	}
	return nil, false
}

// asnRules returns the AS numbers with a rule, sorted (for messages).
func (c *Constituency) asnRules() []uint32 {
	out := make([]uint32, 0, len(c.asns))
	for a := range c.asns {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
