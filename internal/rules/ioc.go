package rules

import (
	"bytes"
	"embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"sync"
)

//go:embed data/webshells.yar data/shell_files.csv data/hashes.csv data/legit_exchange.csv data/sources.csv
var embedded embed.FS

// BuiltinRuleFile is the embedded rule file's name in errors and reports.
const BuiltinRuleFile = "webshells.yar"

// BuiltinSources returns exsweep's own rule file, for callers that want to add
// rules of their own: CompileSources(opts, append(BuiltinSources(), extra...)...).
func BuiltinSources() []Source {
	b, err := embedded.ReadFile("data/webshells.yar")
	if err != nil {
		// The file is embedded at build time; this cannot happen.
		panic(err)
	}
	return []Source{{Name: BuiltinRuleFile, Text: string(b)}}
}

var builtinOnce = sync.OnceValues(func() (*RuleSet, error) {
	return CompileSources(Options{}, BuiltinSources()...)
})

// Builtin returns the embedded rules compiled with default options. It is
// compiled once and shared.
func Builtin() (*RuleSet, error) { return builtinOnce() }

// Indicator kinds.
const (
	KindName   = "name"   // a file name, matched case-insensitively
	KindRegex  = "regex"  // a path regex over the normalised relative path
	KindSHA256 = "sha256" // a file hash
	KindLegit  = "legit"  // a legitimate Exchange file (never flag by name)
)

// Indicator is one entry of an IOC list.
type Indicator struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
	// Folder is where the public list saw the file, as a normalised relative
	// path ("owa/auth", "aspnet_client/system_web"); "" means any folder.
	Folder    string `json:"folder,omitempty"`
	Source    string `json:"source"`
	SourceURL string `json:"source_url"`
	Note      string `json:"note,omitempty"`
}

type iocDB struct {
	names   map[string][]Indicator // lower-case name -> entries
	regexes []struct {
		re  *regexp.Regexp
		ind Indicator
	}
	hashes map[string]Indicator
	legit  []Indicator // Value is the normalised path
	all    []Indicator
}

var iocOnce = sync.OnceValues(func() (*iocDB, error) { return loadIOCs(embedded) })

func iocs() *iocDB {
	db, err := iocOnce()
	if err != nil {
		// The embedded lists are validated by the package tests; a broken
		// build must not start scanning with half a list.
		panic("rules: embedded IOC lists are invalid: " + err.Error())
	}
	return db
}

// Indicators returns every entry of the embedded IOC lists.
func Indicators() []Indicator { return append([]Indicator(nil), iocs().all...) }

// IsKnownShellName reports whether a file name (not a path) appears in the
// public web-shell name lists. Later waves used random names, so a miss means
// little; check IsLegitExchangeFile first, since a few listed names mimic
// legitimate ones.
func IsKnownShellName(name string) bool {
	_, ok := KnownShellName(name)
	return ok
}

// KnownShellName is IsKnownShellName with the list entry.
func KnownShellName(name string) (Indicator, bool) {
	name = path.Base(NormalizePath(name))
	if e := iocs().names[name]; len(e) > 0 {
		return e[0], true
	}
	return Indicator{}, false
}

// KnownShellPath matches a path (absolute or relative, / or \) against the
// name lists, taking the folder into account where the list gives one, and
// against the path patterns (random 8-character names in system_web).
func KnownShellPath(p string) (Indicator, bool) {
	np := NormalizePath(p)
	db := iocs()
	dir, name := path.Split(np)
	dir = strings.TrimSuffix(dir, "/")
	for _, e := range db.names[name] {
		if e.Folder == "" || hasPathSuffix(dir, strings.ToLower(e.Folder)) {
			return e, true
		}
	}
	for _, r := range db.regexes {
		if loc := r.re.FindStringIndex(np); loc != nil && (loc[0] == 0 || np[loc[0]-1] == '/') {
			return r.ind, true
		}
	}
	return Indicator{}, false
}

// KnownHash looks up a SHA-256 (hex, any case) in the public hash lists.
func KnownHash(sha256 string) (Indicator, bool) {
	ind, ok := iocs().hashes[strings.ToLower(strings.TrimSpace(sha256))]
	return ind, ok
}

// IsLegitExchangeFile reports whether relpath names a file that a standard
// Exchange install puts in owa/auth or ecp/auth. relpath may be absolute or
// relative, with / or \; it matches when it ends with the listed path
// ("…\FrontEnd\HttpProxy\owa\auth\logon.aspx" and "owa/auth/logon.aspx" both do).
// A legitimate name says nothing about the content: attackers also injected
// code into these files, so their content is still scanned.
func IsLegitExchangeFile(relpath string) bool {
	np := NormalizePath(relpath)
	for _, e := range iocs().legit {
		if hasPathSuffix(np, e.Value) {
			return true
		}
	}
	return false
}

// NormalizePath lower-cases p, turns \ into /, drops a drive letter and
// collapses duplicate and leading slashes, so Windows and triage-copy paths
// compare equal.
func NormalizePath(p string) string {
	p = strings.ToLower(strings.ReplaceAll(p, `\`, "/"))
	if len(p) >= 2 && p[1] == ':' {
		p = p[2:]
	}
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return strings.Trim(p, "/")
}

// hasPathSuffix reports whether p ends with the path suffix at a component
// boundary.
func hasPathSuffix(p, suffix string) bool {
	if suffix == "" {
		return true
	}
	if !strings.HasSuffix(p, suffix) {
		return false
	}
	rest := len(p) - len(suffix)
	return rest == 0 || p[rest-1] == '/'
}

// loadIOCs reads and validates the lists. It is exported to tests through the
// fs argument so broken fixtures can be checked too.
func loadIOCs(fsys interface{ ReadFile(string) ([]byte, error) }) (*iocDB, error) {
	var errs []error
	fail := func(file string, line int, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, a...)))
	}
	sources := map[string]string{}
	readCSV(fsys, "data/sources.csv", []string{"key", "title", "url"}, fail, func(line int, r []string) {
		if r[0] == "" || r[2] == "" {
			fail("sources.csv", line, "key and url are required")
			return
		}
		if _, dup := sources[r[0]]; dup {
			fail("sources.csv", line, "duplicate key %s", r[0])
		}
		if !strings.HasPrefix(r[2], "https://") {
			fail("sources.csv", line, "url must be https")
		}
		sources[r[0]] = r[2]
	})
	src := func(file string, line int, key string) string {
		u, ok := sources[key]
		if !ok {
			fail(file, line, "unknown source %q (add it to sources.csv)", key)
		}
		return u
	}
	db := &iocDB{names: map[string][]Indicator{}, hashes: map[string]Indicator{}}
	seen := map[string]bool{}
	readCSV(fsys, "data/shell_files.csv", []string{"kind", "value", "folder", "source", "note"}, fail, func(line int, r []string) {
		ind := Indicator{Kind: r[0], Value: r[1], Folder: NormalizePath(r[2]), Source: r[3], Note: r[4]}
		ind.SourceURL = src("shell_files.csv", line, ind.Source)
		key := ind.Kind + "|" + strings.ToLower(ind.Value)
		if seen[key] {
			fail("shell_files.csv", line, "duplicate %s %s", ind.Kind, ind.Value)
		}
		seen[key] = true
		switch ind.Kind {
		case KindName:
			if ind.Value == "" || strings.ContainsAny(ind.Value, `/\`) {
				fail("shell_files.csv", line, "a name must be a bare file name")
				return
			}
			k := strings.ToLower(ind.Value)
			db.names[k] = append(db.names[k], ind)
		case KindRegex:
			re, err := regexp.Compile(`(?i)` + ind.Value + `$`)
			if err != nil {
				fail("shell_files.csv", line, "bad regex: %v", err)
				return
			}
			db.regexes = append(db.regexes, struct {
				re  *regexp.Regexp
				ind Indicator
			}{re, ind})
		default:
			fail("shell_files.csv", line, "kind must be name or regex, not %q", ind.Kind)
			return
		}
		db.all = append(db.all, ind)
	})
	readCSV(fsys, "data/hashes.csv", []string{"sha256", "source", "note"}, fail, func(line int, r []string) {
		h := r[0]
		if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
			fail("hashes.csv", line, "%q is not 64 lower-case hex digits", h)
			return
		}
		if _, dup := db.hashes[h]; dup {
			fail("hashes.csv", line, "duplicate hash %s", h)
		}
		ind := Indicator{Kind: KindSHA256, Value: h, Source: r[1], Note: r[2]}
		ind.SourceURL = src("hashes.csv", line, ind.Source)
		db.hashes[h] = ind
		db.all = append(db.all, ind)
	})
	legitSeen := map[string]bool{}
	readCSV(fsys, "data/legit_exchange.csv", []string{"path", "source", "note"}, fail, func(line int, r []string) {
		np := NormalizePath(r[0])
		if !strings.Contains(np, "/") {
			fail("legit_exchange.csv", line, "give the folder too (owa/auth/logon.aspx)")
		}
		if legitSeen[np] {
			fail("legit_exchange.csv", line, "duplicate path %s", r[0])
		}
		legitSeen[np] = true
		ind := Indicator{Kind: KindLegit, Value: np, Source: r[1], Note: r[2]}
		ind.SourceURL = src("legit_exchange.csv", line, ind.Source)
		db.legit = append(db.legit, ind)
		db.all = append(db.all, ind)
	})
	// A listed shell name must never be a legitimate file in its folder.
	for _, l := range db.legit {
		dir, name := path.Split(l.Value)
		for _, e := range db.names[name] {
			if e.Folder == "" || hasPathSuffix(strings.TrimSuffix(dir, "/"), e.Folder) {
				errs = append(errs, fmt.Errorf("shell_files.csv: %s is also listed as legitimate (%s)", e.Value, l.Value))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return db, nil
}

func readCSV(fsys interface{ ReadFile(string) ([]byte, error) }, name string, header []string, fail func(string, int, string, ...any), row func(int, []string)) {
	short := path.Base(name)
	b, err := fsys.ReadFile(name)
	if err != nil {
		fail(short, 0, "%v", err)
		return
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = len(header)
	got, err := r.Read()
	if err != nil {
		fail(short, 1, "%v", err)
		return
	}
	if strings.Join(got, ",") != strings.Join(header, ",") {
		fail(short, 1, "header must be %s", strings.Join(header, ","))
		return
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			fail(short, line, "%v", err)
			return
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		row(line, rec)
	}
}
