package rules

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/VirusTotal/gyp"
	"github.com/VirusTotal/gyp/ast"
	gyperror "github.com/VirusTotal/gyp/error"
	"github.com/coregx/ahocorasick"
)

// ErrUnsupported is wrapped by every CompileError about a YARA feature the
// built-in engine does not implement (errors.Is works on it).
var ErrUnsupported = errors.New("not supported by the built-in engine")

// CompileError is one problem in a rule source.
type CompileError struct {
	File        string
	Line        int    // 0 if unknown
	Rule        string // "" for file-level problems
	String      string // "$a" when the problem is in one string
	Msg         string
	Unsupported bool // a YARA feature the built-in engine lacks
}

func (e *CompileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Rule != "" {
		fmt.Fprintf(&b, "rule %s: ", e.Rule)
	}
	if e.String != "" {
		fmt.Fprintf(&b, "string %s: ", e.String)
	}
	b.WriteString(e.Msg)
	if e.Unsupported {
		b.WriteString(" is not supported by the built-in engine; build with -tags yara")
	}
	return b.String()
}

// Unwrap lets errors.Is(err, ErrUnsupported) pick out feature gaps.
func (e *CompileError) Unwrap() error {
	if e.Unsupported {
		return ErrUnsupported
	}
	return nil
}

// RuleSet is a compiled set of rules for the built-in engine. It is immutable
// and safe for concurrent use.
type RuleSet struct {
	opts    Options
	rules   []*rule
	pats    []*pattern
	ac      *ahocorasick.Automaton
	users   [][]atomUser // per automaton pattern id
	atomMax int          // longest atom, for chunk overlap
	globals []int
	skipped []error
}

type rule struct {
	name    string
	file    string
	line    int
	tags    []string
	meta    []Meta
	private bool
	global  bool
	pats    []int // indexes into RuleSet.pats, declaration order
	cond    boolNode
}

type patKind uint8

const (
	patLiteral patKind = iota
	patRegexp
)

// pattern is one compiled rule string.
type pattern struct {
	rule     int
	id       string // "$a"
	private  bool
	kind     patKind
	fullword bool
	// literal strings
	variants []variant
	nocase   bool
	// regex and hex strings
	re *compiledRegexp
}

type variant struct {
	b    []byte
	wide bool // fullword checks look two bytes out
}

type atomUser struct {
	pat     int32
	variant int32 // literal variant index, or variantPrefix / variantWindow
	length  int32 // atom length (regex candidate windows)
}

// Regex atom roles (atomUser.variant).
const (
	variantPrefix = -1 // a match may start here
	variantWindow = -2 // a match may surround this
)

// Compile compiles one rule source with default options.
func Compile(name, text string) (*RuleSet, error) {
	return CompileSources(Options{}, Source{Name: name, Text: text})
}

// CompileSources compiles several rule files into one set. Rule names must be
// unique across files. Every problem is reported (errors.Join of
// *CompileError), not just the first.
func CompileSources(opts Options, srcs ...Source) (*RuleSet, error) {
	rs := &RuleSet{opts: opts.withDefaults()}
	c := &compiler{rs: rs, byName: map[string]int{}, skippedNames: map[string]bool{}}
	for _, src := range srcs {
		c.source(src)
	}
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	if err := rs.buildAutomaton(); err != nil {
		return nil, err
	}
	return rs, nil
}

type compiler struct {
	rs           *RuleSet
	byName       map[string]int
	skippedNames map[string]bool
	errs         []error
}

// parse runs gyp behind a recover: rule text may come from users and a panic
// deep in a generated parser must become an error, not a crash.
func parse(text string) (rs *ast.RuleSet, err error) {
	defer func() {
		if r := recover(); r != nil {
			rs, err = nil, fmt.Errorf("parser failure: %v", r)
		}
	}()
	return gyp.ParseString(text)
}

func (c *compiler) source(src Source) {
	parsed, err := parse(src.Text)
	if err != nil {
		ce := &CompileError{File: src.Name, Msg: err.Error()}
		var ge gyperror.Error
		if errors.As(err, &ge) {
			ce.Line, ce.Msg = ge.Line, ge.Message
		}
		c.errs = append(c.errs, ce)
		return
	}
	if len(parsed.Includes) > 0 {
		c.errs = append(c.errs, &CompileError{File: src.Name, Msg: fmt.Sprintf("include %q", parsed.Includes[0]), Unsupported: true})
		return
	}
	// Imports are accepted: signature-base files import "pe" at the top while
	// most rules never use it. A rule that does use a module fails on its own.
	for _, r := range parsed.Rules {
		c.rule(src.Name, r)
	}
}

// ruleCompiler holds per-rule state.
type ruleCompiler struct {
	c     *compiler
	file  string
	ast   *ast.Rule
	r     *rule
	idx   int
	byID  map[string]int // "a" -> pattern index
	used  map[int]bool   // patterns the condition reads
	depth int
}

func (c *compiler) rule(file string, ar *ast.Rule) {
	if _, dup := c.byName[ar.Identifier]; dup || c.skippedNames[ar.Identifier] {
		c.errs = append(c.errs, &CompileError{File: file, Line: ar.LineNo, Rule: ar.Identifier, Msg: "duplicate rule name"})
		return
	}
	rc := &ruleCompiler{c: c, file: file, ast: ar, idx: len(c.rs.rules), byID: map[string]int{}, used: map[int]bool{}}
	rc.r = &rule{
		name:    ar.Identifier,
		file:    file,
		line:    ar.LineNo,
		tags:    append([]string(nil), ar.Tags...),
		private: ar.Private,
		global:  ar.Global,
	}
	firstPat := len(c.rs.pats)
	err := rc.compile()
	if err != nil {
		c.rs.pats = c.rs.pats[:firstPat]
		var ce *CompileError
		if c.rs.opts.SkipUnsupported && errors.As(err, &ce) && ce.Unsupported {
			c.skippedNames[ar.Identifier] = true
			c.rs.skipped = append(c.rs.skipped, err)
			return
		}
		c.errs = append(c.errs, err)
		return
	}
	c.byName[ar.Identifier] = rc.idx
	c.rs.rules = append(c.rs.rules, rc.r)
	if rc.r.global {
		c.rs.globals = append(c.rs.globals, rc.idx)
	}
}

func (rc *ruleCompiler) errf(line int, str string, unsupported bool, format string, a ...any) error {
	if line == 0 {
		line = rc.ast.LineNo
	}
	return &CompileError{File: rc.file, Line: line, Rule: rc.ast.Identifier, String: str, Msg: fmt.Sprintf(format, a...), Unsupported: unsupported}
}

func (rc *ruleCompiler) unsupported(format string, a ...any) error {
	return rc.errf(0, "", true, format, a...)
}

func (rc *ruleCompiler) compile() error {
	for _, m := range rc.ast.Meta {
		v := m.Value
		if s, ok := v.(string); ok {
			u, err := unescapeYARA(s)
			if err != nil {
				return rc.errf(0, "", false, "meta %s: %v", m.Key, err)
			}
			v = u
		}
		rc.r.meta = append(rc.r.meta, Meta{Key: m.Key, Value: v})
	}
	for _, s := range rc.ast.Strings {
		if err := rc.str(s); err != nil {
			return err
		}
	}
	if rc.ast.Condition == nil {
		return rc.errf(0, "", false, "missing condition")
	}
	cond, err := rc.boolExpr(rc.ast.Condition)
	if err != nil {
		return err
	}
	rc.r.cond = cond
	// YARA refuses strings the condition never reads (unless named $_...);
	// refusing them here too keeps rules portable to the libyara backend.
	for _, p := range rc.r.pats {
		pt := rc.c.rs.pats[p]
		if !rc.used[p] && !strings.HasPrefix(pt.id, "$_") {
			return rc.errf(0, "", false, "unreferenced string %s", pt.id)
		}
	}
	return nil
}

func (rc *ruleCompiler) addPattern(p *pattern, id string) {
	p.rule = rc.idx
	p.id = "$" + id
	idx := len(rc.c.rs.pats)
	rc.c.rs.pats = append(rc.c.rs.pats, p)
	rc.r.pats = append(rc.r.pats, idx)
	if id != "" {
		rc.byID[id] = idx
	}
}

func (rc *ruleCompiler) str(s ast.String) error {
	id := s.GetIdentifier()
	line := s.GetLineNo()
	sid := "$" + id
	switch s := s.(type) {
	case *ast.TextString:
		raw, err := unescapeYARA(s.Value)
		if err != nil {
			return rc.errf(line, sid, false, "%v", err)
		}
		if raw == "" {
			return rc.errf(line, sid, false, "empty string")
		}
		p := &pattern{kind: patLiteral, private: s.Private, fullword: s.Fullword, nocase: s.Nocase}
		ascii := s.ASCII || !s.Wide
		switch {
		case s.Base64 || s.Base64Wide:
			if s.Nocase || s.Fullword || s.Xor {
				return rc.errf(line, sid, false, "base64 cannot be combined with nocase, fullword or xor")
			}
			alphabet := s.Base64Alphabet
			if alphabet == "" {
				alphabet = stdBase64Alphabet
			} else if alphabet, err = unescapeYARA(alphabet); err != nil || len(alphabet) != 64 {
				return rc.errf(line, sid, false, "bad base64 alphabet")
			}
			enc, err := newBase64(alphabet)
			if err != nil {
				return rc.errf(line, sid, false, "bad base64 alphabet: %v", err)
			}
			for _, v := range base64Variants([]byte(raw), enc) {
				if s.Base64 {
					p.variants = append(p.variants, variant{b: v})
				}
				if s.Base64Wide {
					p.variants = append(p.variants, variant{b: widen(v), wide: true})
				}
			}
		case s.Xor:
			if s.Nocase {
				return rc.errf(line, sid, false, "xor cannot be combined with nocase")
			}
			for k := s.XorMin; k <= s.XorMax; k++ {
				if ascii {
					p.variants = append(p.variants, variant{b: xorBytes([]byte(raw), byte(k))})
				}
				if s.Wide {
					p.variants = append(p.variants, variant{b: xorBytes(widen([]byte(raw)), byte(k)), wide: true})
				}
			}
		default:
			if ascii {
				p.variants = append(p.variants, variant{b: []byte(raw)})
			}
			if s.Wide {
				p.variants = append(p.variants, variant{b: widen([]byte(raw)), wide: true})
			}
		}
		p.variants = dedupeVariants(p.variants)
		rc.addPattern(p, id)
		return nil
	case *ast.RegexpString:
		if s.Wide {
			return rc.errf(line, sid, true, "the wide modifier on a regular expression")
		}
		lit := s.Regexp
		if lit == nil {
			return rc.errf(line, sid, false, "missing regular expression")
		}
		pat, err := translateRegexp(lit.Value, s.Nocase || lit.Modifiers&ast.RegexpCaseInsensitive != 0, lit.Modifiers&ast.RegexpDotAll != 0)
		if err != nil {
			return rc.errf(line, sid, errors.Is(err, ErrUnsupported), "regular expression /%s/: %v", capText(lit.Value, 60), err)
		}
		cre, err := compileRE2(pat)
		if err != nil {
			return rc.errf(line, sid, false, "regular expression /%s/: %v", capText(lit.Value, 60), err)
		}
		rc.addPattern(&pattern{kind: patRegexp, private: s.Private, fullword: s.Fullword, re: cre}, id)
		return nil
	case *ast.HexString:
		pat, err := hexToRegexp(s.Tokens)
		if err != nil {
			return rc.errf(line, sid, false, "hex string: %v", err)
		}
		cre, err := compileRE2(pat)
		if err != nil {
			return rc.errf(line, sid, false, "hex string: %v", err)
		}
		rc.addPattern(&pattern{kind: patRegexp, private: s.Private, re: cre}, id)
		return nil
	}
	return rc.errf(line, sid, true, "string type %T", s)
}

// buildAutomaton collects every atom (whole literals and the required literals
// of regex/hex strings) into one Aho-Corasick automaton over lower-cased bytes.
func (rs *RuleSet) buildAutomaton() error {
	index := map[string]int{}
	var atoms [][]byte
	add := func(a []byte, u atomUser) {
		key := string(lowerASCII(a))
		id, ok := index[key]
		if !ok {
			id = len(atoms)
			index[key] = id
			atoms = append(atoms, []byte(key))
			rs.users = append(rs.users, nil)
			rs.atomMax = max(rs.atomMax, len(key))
		}
		u.length = int32(len(key))
		rs.users[id] = append(rs.users[id], u)
	}
	for pi, p := range rs.pats {
		switch p.kind {
		case patLiteral:
			for vi, v := range p.variants {
				add(v.b, atomUser{pat: int32(pi), variant: int32(vi)})
			}
		case patRegexp:
			for _, a := range p.re.prefix {
				add(a, atomUser{pat: int32(pi), variant: variantPrefix})
			}
			for _, a := range p.re.atoms {
				add(a, atomUser{pat: int32(pi), variant: variantWindow})
			}
		}
	}
	if len(atoms) == 0 {
		return nil
	}
	ac, err := ahocorasick.NewBuilder().AddPatterns(atoms).Build()
	if err != nil {
		return fmt.Errorf("building string automaton: %w", err)
	}
	rs.ac = ac
	return nil
}

// Backend implements Engine.
func (rs *RuleSet) Backend() string { return "builtin" }

// Skipped lists the rules dropped under Options.SkipUnsupported.
func (rs *RuleSet) Skipped() []error { return append([]error(nil), rs.skipped...) }

// Rules implements Engine.
func (rs *RuleSet) Rules() []RuleInfo {
	out := make([]RuleInfo, 0, len(rs.rules))
	for _, r := range rs.rules {
		out = append(out, RuleInfo{Name: r.name, Tags: slices.Clone(r.tags), Meta: slices.Clone(r.meta), Private: r.private, Global: r.global})
	}
	return out
}

// unescapeYARA decodes the escapes YARA allows in text strings and meta values
// (\" \\ \t \n \r \xHH). gyp keeps them escaped and its own decoder panics on
// input it did not expect, so this is done here.
func unescapeYARA(s string) (string, error) {
	if strings.IndexByte(s, '\\') < 0 {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("trailing backslash")
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case '"', '\\':
			b.WriteByte(s[i])
		case 'x':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", fmt.Errorf(`\x needs two hex digits`)
			}
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		default:
			return "", fmt.Errorf(`illegal escape \%c`, s[i])
		}
	}
	return b.String(), nil
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func widen(b []byte) []byte {
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, c, 0)
	}
	return out
}

func xorBytes(b []byte, k byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = c ^ k
	}
	return out
}

func lowerASCII(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = lowerByte(c)
	}
	return out
}

func dedupeVariants(vs []variant) []variant {
	seen := map[string]bool{}
	out := vs[:0]
	for _, v := range vs {
		k := string(v.b)
		if v.wide {
			k = "w" + k
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, v)
	}
	return out
}

const stdBase64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

func newBase64(alphabet string) (enc *base64.Encoding, err error) {
	defer func() {
		// base64.NewEncoding panics on a bad alphabet (repeats, \n, \r).
		if r := recover(); r != nil {
			enc, err = nil, fmt.Errorf("%v", r)
		}
	}()
	return base64.NewEncoding(alphabet).WithPadding(base64.NoPadding), nil
}

// base64Variants follows YARA's base64 modifier: the string is encoded at the
// three possible alignments and the characters that depend on neighbouring
// bytes are cut off at both ends.
func base64Variants(s []byte, enc *base64.Encoding) [][]byte {
	var out [][]byte
	for shift := 0; shift < 3; shift++ {
		buf := append(make([]byte, shift), s...)
		e := enc.EncodeToString(buf)
		lead := [3]int{0, 2, 3}[shift]
		trail := 0
		switch len(buf) % 3 {
		case 1:
			trail = 1 // last char holds 2 bits of the last byte plus padding
		case 2:
			trail = 1 // last char holds 4 bits of the last byte plus padding
		}
		if lead+trail >= len(e) {
			continue
		}
		out = append(out, []byte(e[lead:len(e)-trail]))
	}
	return out
}

func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
