package exchange

import (
	"embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

//go:embed data/builds.csv data/cves.csv data/products.csv
var embedded embed.FS

// Build kinds in builds.csv.
const (
	KindRelease = "release" // a CU, SP or RTM as first published
	KindUpdate  = "update"  // SU, HU or update rollup
	KindInterim = "interim" // hotfix or variant build not on Microsoft's page
	KindErratum = "erratum" // kept verbatim from Microsoft's page, never used to place a build
)

// CVE rule kinds in cves.csv.
const (
	RuleSU     = "su"     // the CU received an update that fixes the CVE
	RuleCU     = "cu"     // this CU and every later one include the fix
	RuleNone   = "none"   // other CUs got no fix (documentation row)
	RuleConfig = "config" // depends on configuration; fixed_build is the first build that supports it
)

// Date is a release date with day or month precision (HealthChecker's SU names only
// give the month).
type Date struct {
	T         time.Time
	MonthOnly bool
}

func parseDate(s string) (Date, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return Date{T: t}, nil
	}
	if t, err := time.Parse("2006-01", s); err == nil {
		return Date{T: t, MonthOnly: true}, nil
	}
	return Date{}, fmt.Errorf("%q is not a date (YYYY-MM-DD or YYYY-MM)", s)
}

func (d Date) String() string {
	if d.T.IsZero() {
		return ""
	}
	if d.MonthOnly {
		return d.T.Format("2006-01")
	}
	return d.T.Format("2006-01-02")
}

// Before compares at the coarser of the two precisions, so 2016-12 is not before
// 2016-12-13.
func (d Date) Before(o Date) bool {
	if d.MonthOnly || o.MonthOnly {
		a := d.T.Year()*12 + int(d.T.Month())
		b := o.T.Year()*12 + int(o.T.Month())
		return a < b
	}
	return d.T.Before(o.T)
}

// MarshalText prints the date as in the data file.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// BuildInfo is one row of builds.csv.
type BuildInfo struct {
	Product  string  `json:"product"`
	CU       string  `json:"cu"`
	Update   string  `json:"update,omitempty"`
	Version  Version `json:"build"`
	Released Date    `json:"release_date"`
	Kind     string  `json:"kind"`
	Origin   string  `json:"origin"`
	Note     string  `json:"note,omitempty"`
	Source   string  `json:"-"`
	Line     int     `json:"-"`
}

// Label is "CU19 Mar21SU" or "CU19".
func (b BuildInfo) Label() string {
	if b.Update == "" {
		return b.CU
	}
	return b.CU + " " + b.Update
}

// Product is one row of products.csv.
type Product struct {
	Name         string
	Line         string // "14", "15.2", …
	First        Version
	EndOfSupport Date // zero: no end announced
	Note         string
}

// CVERule is one row of cves.csv.
type CVERule struct {
	CVE     string
	Name    string
	Product string
	Rule    string
	CU      string
	Update  string
	Fixed   Version
	Note    string
	Source  string
	Line    int
}

// KB is the loaded knowledge base. It is immutable after Load and safe for
// concurrent use.
type KB struct {
	builds    []BuildInfo // sorted by version
	byVersion map[Version]int
	products  []Product
	rules     map[string][]CVERule // by product line
	cveIDs    []string             // in file order
	cveNames  map[string]string
	// Date is the newest release date in the build table: how current the data is.
	Date Date
	// Origin says where the data came from: "embedded" or a folder.
	Origin string
}

// ErrKB is wrapped by every load or validation error.
var ErrKB = errors.New("knowledge base")

// Default loads the embedded knowledge base. It is validated by tests, so an error
// here is a build defect.
func Default() *KB {
	kb, err := Load(embeddedFS())
	if err != nil {
		panic(err)
	}
	kb.Origin = "embedded"
	return kb
}

func embeddedFS() fs.FS {
	sub, err := fs.Sub(embedded, "data")
	if err != nil {
		panic(err)
	}
	return sub
}

// LoadPath loads a knowledge base from a folder (builds.csv, cves.csv,
// products.csv; a missing file falls back to the embedded one) or from a single
// builds.csv / cves.csv / products.csv file that replaces that one file.
func LoadPath(path string) (*KB, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKB, err)
	}
	over := overlayFS{base: embeddedFS(), files: map[string]string{}}
	if st.IsDir() {
		for _, name := range []string{"builds.csv", "cves.csv", "products.csv"} {
			p := filepath.Join(path, name)
			if _, err := os.Stat(p); err == nil {
				over.files[name] = p
			}
		}
		if len(over.files) == 0 {
			return nil, fmt.Errorf("%w: %s holds none of builds.csv, cves.csv, products.csv", ErrKB, path)
		}
	} else {
		name := filepath.Base(path)
		switch name {
		case "builds.csv", "cves.csv", "products.csv":
			over.files[name] = path
		default:
			return nil, fmt.Errorf("%w: %s: a knowledge-base file must be named builds.csv, cves.csv or products.csv (or give the folder)", ErrKB, path)
		}
	}
	kb, err := Load(over)
	if err != nil {
		return nil, err
	}
	kb.Origin = path
	return kb, nil
}

type overlayFS struct {
	base  fs.FS
	files map[string]string
}

func (o overlayFS) Open(name string) (fs.File, error) {
	if p, ok := o.files[name]; ok {
		return os.Open(p)
	}
	return o.base.Open(name)
}

// Load reads and validates builds.csv, cves.csv and products.csv from fsys.
func Load(fsys fs.FS) (*KB, error) {
	kb := &KB{byVersion: map[Version]int{}, rules: map[string][]CVERule{}, cveNames: map[string]string{}}
	if err := readCSV(fsys, "products.csv", []string{"product", "line", "first_build", "end_of_support", "note", "source"}, kb.addProduct); err != nil {
		return nil, err
	}
	if err := readCSV(fsys, "builds.csv", []string{"product", "cu", "update", "build", "release_date", "kind", "origin", "note", "source"}, kb.addBuild); err != nil {
		return nil, err
	}
	slices.SortFunc(kb.builds, func(a, b BuildInfo) int { return a.Version.Compare(b.Version) })
	for i, b := range kb.builds {
		kb.byVersion[b.Version] = i
		if kb.Date.Before(b.Released) {
			kb.Date = b.Released
		}
	}
	if err := kb.validateBuilds(); err != nil {
		return nil, err
	}
	if err := readCSV(fsys, "cves.csv", []string{"cve", "name", "product", "rule", "cu", "update", "fixed_build", "note", "source"}, kb.addRule); err != nil {
		return nil, err
	}
	return kb, nil
}

type lineError struct {
	file string
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg) }

func readCSV(fsys fs.FS, name string, header []string, add func(line int, rec map[string]string) error) error {
	f, err := fsys.Open(name)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrKB, err)
	}
	defer f.Close()
	r := csv.NewReader(io.LimitReader(f, 16<<20))
	r.FieldsPerRecord = -1 // checked below, so the header error can say what is wrong
	got, err := r.Read()
	if err != nil {
		return fmt.Errorf("%w: %s:1: reading header: %v", ErrKB, name, err)
	}
	if !slices.Equal(got, header) {
		return fmt.Errorf("%w: %s:1: header is %q, want %q", ErrKB, name, strings.Join(got, ","), strings.Join(header, ","))
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return fmt.Errorf("%w: %s:%d: %v", ErrKB, name, pe.Line, pe.Err)
			}
			return fmt.Errorf("%w: %s: %v", ErrKB, name, err)
		}
		line, _ := r.FieldPos(0)
		if len(rec) != len(header) {
			return fmt.Errorf("%w: %s:%d: %d fields, want %d (%s); quote values that contain commas", ErrKB, name, line, len(rec), len(header), strings.Join(header, ","))
		}
		m := make(map[string]string, len(header))
		for i, h := range header {
			m[h] = strings.TrimSpace(rec[i])
		}
		if err := add(line, m); err != nil {
			return fmt.Errorf("%w: %w", ErrKB, &lineError{file: name, line: line, msg: err.Error()})
		}
	}
}

func (kb *KB) addProduct(_ int, r map[string]string) error {
	if r["product"] == "" || r["line"] == "" {
		return errors.New("product and line are required")
	}
	first, err := Parse(r["first_build"])
	if err != nil {
		return fmt.Errorf("first_build: %v", err)
	}
	p := Product{Name: r["product"], Line: r["line"], First: first, Note: r["note"]}
	if s := r["end_of_support"]; s != "" {
		if p.EndOfSupport, err = parseDate(s); err != nil {
			return fmt.Errorf("end_of_support: %v", err)
		}
	}
	if lineOf(first) != p.Line {
		return fmt.Errorf("first_build %s is not in line %s", first, p.Line)
	}
	for _, q := range kb.products {
		if q.Name == p.Name {
			return fmt.Errorf("product %q listed twice", p.Name)
		}
	}
	kb.products = append(kb.products, p)
	return nil
}

// lineOf gives the product line of a version: "8", "14" (whole major: Exchange
// 2007 and 2010 number their service packs in the minor), or "15.x".
func lineOf(v Version) string {
	if v.Major < 15 {
		return fmt.Sprint(v.Major)
	}
	return fmt.Sprintf("%d.%d", v.Major, v.Minor)
}

func (kb *KB) addBuild(line int, r map[string]string) error {
	v, err := Parse(r["build"])
	if err != nil {
		return fmt.Errorf("build: %v", err)
	}
	if !v.Exact() {
		return fmt.Errorf("build %s: the table needs 4-part builds", v)
	}
	d, err := parseDate(r["release_date"])
	if err != nil {
		return fmt.Errorf("release_date: %v", err)
	}
	b := BuildInfo{Product: r["product"], CU: r["cu"], Update: r["update"], Version: v, Released: d,
		Kind: r["kind"], Origin: r["origin"], Note: r["note"], Source: r["source"], Line: line}
	switch b.Kind {
	case KindRelease, KindUpdate, KindInterim, KindErratum:
	default:
		return fmt.Errorf("kind %q is not one of release, update, interim, erratum", b.Kind)
	}
	if b.CU == "" {
		return errors.New("cu is required")
	}
	if b.Kind == KindRelease && b.Update != "" {
		return fmt.Errorf("a release row has no update (got %q)", b.Update)
	}
	if b.Kind == KindUpdate && b.Update == "" {
		return errors.New("an update row names its update")
	}
	p, ok := kb.ProductOf(v)
	if !ok {
		return fmt.Errorf("build %s belongs to no product in products.csv", v)
	}
	if p.Name != b.Product && b.Kind != KindErratum {
		return fmt.Errorf("build %s is %s by its number, but the row says %s", v, p.Name, b.Product)
	}
	if _, dup := kb.byVersion[v]; dup {
		return fmt.Errorf("build %s listed twice", v)
	}
	kb.byVersion[v] = -1 // index fixed after sorting
	kb.builds = append(kb.builds, b)
	return nil
}

// validateBuilds checks what needs the whole table: every CU has its first build,
// and release dates do not go backwards within a CU.
func (kb *KB) validateBuilds() error {
	type cuKey struct{ product, cu string }
	last := map[cuKey]BuildInfo{}
	hasRelease := map[cuKey]bool{}
	for _, b := range kb.builds {
		if b.Kind == KindErratum {
			continue
		}
		k := cuKey{b.Product, b.CU}
		if b.Kind == KindRelease {
			if hasRelease[k] {
				return fmt.Errorf("%w: builds.csv:%d: %s %s has two release rows", ErrKB, b.Line, b.Product, b.CU)
			}
			hasRelease[k] = true
		}
		if prev, ok := last[k]; ok && b.Released.Before(prev.Released) {
			return fmt.Errorf("%w: builds.csv:%d: %s (%s) is dated %s, before the lower build %s (%s, line %d)",
				ErrKB, b.Line, b.Version, b.Label(), b.Released, prev.Version, prev.Released, prev.Line)
		}
		last[k] = b
	}
	for k, b := range last {
		if !hasRelease[k] {
			return fmt.Errorf("%w: builds.csv:%d: %s %s has no release row (its first build)", ErrKB, b.Line, k.product, k.cu)
		}
	}
	return nil
}

func (kb *KB) addRule(line int, r map[string]string) error {
	c := CVERule{CVE: r["cve"], Name: r["name"], Product: r["product"], Rule: r["rule"], CU: r["cu"],
		Update: r["update"], Note: r["note"], Source: r["source"], Line: line}
	if !strings.HasPrefix(c.CVE, "CVE-") {
		return fmt.Errorf("cve %q does not start with CVE-", c.CVE)
	}
	p, ok := kb.product(c.Product)
	if !ok {
		return fmt.Errorf("product %q is not in products.csv", c.Product)
	}
	switch c.Rule {
	case RuleNone:
	case RuleSU, RuleCU, RuleConfig:
		v, err := Parse(r["fixed_build"])
		if err != nil {
			return fmt.Errorf("fixed_build: %v", err)
		}
		i, ok := kb.byVersion[v]
		if !ok {
			return fmt.Errorf("fixed_build %s is not in builds.csv", v)
		}
		b := kb.builds[i]
		if b.Product != c.Product || b.CU != c.CU {
			return fmt.Errorf("fixed_build %s is %s %s in builds.csv, but the row says %s %s", v, b.Product, b.CU, c.Product, c.CU)
		}
		if c.Rule == RuleCU && b.Kind != KindRelease {
			return fmt.Errorf("rule cu needs the CU's first build, %s is %s", v, b.Label())
		}
		c.Fixed = v
	default:
		return fmt.Errorf("rule %q is not one of su, cu, none, config", c.Rule)
	}
	if _, seen := kb.cveNames[c.CVE]; !seen {
		kb.cveIDs = append(kb.cveIDs, c.CVE)
		kb.cveNames[c.CVE] = c.Name
	}
	kb.rules[p.Line] = append(kb.rules[p.Line], c)
	return nil
}

func (kb *KB) product(name string) (Product, bool) {
	for _, p := range kb.products {
		if p.Name == name {
			return p, true
		}
	}
	return Product{}, false
}

// ProductOf maps a version to its product: the product of the same line with the
// highest first build at or below v (so 15.2.2562 and later is Exchange SE).
func (kb *KB) ProductOf(v Version) (Product, bool) {
	line := lineOf(v)
	var best Product
	found := false
	for _, p := range kb.products {
		if p.Line != line || p.First.Compare(v) > 0 {
			continue
		}
		if !found || p.First.Compare(best.First) > 0 {
			best, found = p, true
		}
	}
	return best, found
}

// Products lists the product lines in file order.
func (kb *KB) Products() []Product { return slices.Clone(kb.products) }

// Builds lists every build, lowest first; product filters when not empty (it
// matches "Exchange 2016" or just "2016").
func (kb *KB) Builds(product string) []BuildInfo {
	var out []BuildInfo
	for _, b := range kb.builds {
		if product == "" || strings.EqualFold(b.Product, product) || strings.EqualFold(strings.TrimPrefix(b.Product, "Exchange "), product) {
			out = append(out, b)
		}
	}
	return out
}

// CVEs lists the CVE ids the knowledge base knows, in file order.
func (kb *KB) CVEs() []string { return slices.Clone(kb.cveIDs) }

// CVEName is the short name of a CVE ("ProxyLogon/HAFNIUM (KB5000871)").
func (kb *KB) CVEName(id string) string { return kb.cveNames[id] }
