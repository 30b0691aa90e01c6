package rules

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// matched compiles src and returns the names of the rules that match data.
func matched(t *testing.T, src string, data []byte) []string {
	t.Helper()
	rs, err := Compile("test.yar", src)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	var names []string
	for _, m := range rs.Scan(data) {
		names = append(names, m.Rule)
	}
	return names
}

// conditionData and conditionCases are shared with the libyara cross-check
// (engine_yara_test.go): one rule "r" per case, run over one input.
const conditionData = "<%@ Page Language=\"Jscript\"%><%eval(Request.Item[\"x\"],\"unsafe\");%> eval eval"

var conditionCases = []struct {
	name string
	rule string
	want bool
}{
	{"true", `rule r { condition: true }`, true},
	{"false", `rule r { condition: false }`, false},
	{"string", `rule r { strings: $a = "unsafe" condition: $a }`, true},
	{"string absent", `rule r { strings: $a = "nothere" condition: $a }`, false},
	{"and", `rule r { strings: $a = "eval" $b = "nothere" condition: $a and $b }`, false},
	{"or", `rule r { strings: $a = "eval" $b = "nothere" condition: $a or $b }`, true},
	{"not", `rule r { strings: $b = "nothere" condition: not $b }`, true},
	{"parentheses", `rule r { strings: $a = "eval" $b = "x1" $c = "x2" condition: $a and ($b or not $c) }`, true},
	{"count ==", `rule r { strings: $a = "eval" condition: #a == 3 }`, true},
	{"count >", `rule r { strings: $a = "eval" condition: #a > 3 }`, false},
	{"count in range", `rule r { strings: $a = "eval" condition: #a in (0..40) == 1 }`, true},
	{"at", `rule r { strings: $a = "<%@" condition: $a at 0 }`, true},
	{"at wrong", `rule r { strings: $a = "<%@" condition: $a at 1 }`, false},
	{"in range", `rule r { strings: $a = "unsafe" condition: $a in (50..60) }`, true},
	{"in range miss", `rule r { strings: $a = "unsafe" condition: $a in (0..20) }`, false},
	{"offset", `rule r { strings: $a = "eval" condition: @a[1] == 31 and @a == 31 }`, true},
	{"offset out of range is undefined", `rule r { strings: $a = "eval" condition: @a[9] == 0 or not (@a[9] == 0) }`, false},
	{"length", `rule r { strings: $a = /eval\(Req[a-z]+/ condition: !a[1] == 12 }`, true},
	{"all of them", `rule r { strings: $a = "eval" $b = "unsafe" condition: all of them }`, true},
	{"all of them miss", `rule r { strings: $a = "eval" $b = "nothere" condition: all of them }`, false},
	{"any of them", `rule r { strings: $a = "nothere" $b = "unsafe" condition: any of them }`, true},
	{"none of them", `rule r { strings: $a = "nothere" $b = "nope" condition: none of them }`, true},
	{"N of set", `rule r { strings: $a1 = "eval" $a2 = "nothere" $b = "unsafe" condition: 2 of ($a*, $b) }`, true},
	{"N of set miss", `rule r { strings: $a1 = "eval" $a2 = "nothere" $b = "unsafe" condition: 3 of ($a*, $b) }`, false},
	{"all of wildcard", `rule r { strings: $x1 = "eval" $x2 = "Request" $y = "nothere" condition: all of ($x*) and not $y }`, true},
	{"percent", `rule r { strings: $a = "eval" $b = "unsafe" $c = "nothere" condition: 66% of them }`, true},
	{"percent miss", `rule r { strings: $a = "eval" $b = "unsafe" $c = "nothere" condition: 67% of them }`, false},
	{"of at", `rule r { strings: $a = "<%@" $b = "eval" condition: any of them at 0 }`, true},
	{"of in", `rule r { strings: $a = "<%@" $b = "unsafe" condition: 2 of them in (0..60) }`, true},
	{"anonymous strings", `rule r { strings: $ = "eval" $ = "unsafe" condition: all of them }`, true},
	{"filesize KB", `rule r { condition: filesize < 1KB }`, true},
	{"filesize MB", `rule r { condition: filesize > 1MB }`, false},
	{"filesize exact", `rule r { condition: filesize == 76 }`, true},
	{"uint8", `rule r { condition: uint8(0) == 0x3C }`, true},
	{"uint16", `rule r { condition: uint16(0) == 0x253C }`, true},
	{"uint16be", `rule r { condition: uint16be(0) == 0x3C25 }`, true},
	{"uint32", `rule r { condition: uint32(0) == 0x2050403C }`, false},
	{"uint32 value", `rule r { condition: uint32(0) == 0x2040253C }`, true},
	{"uint32be", `rule r { condition: uint32be(0) == 0x3C254020 }`, true},
	{"int8 negative", `rule r { condition: int8(0) == 60 }`, true},
	{"read past end is undefined", `rule r { condition: uint32(filesize) == 0 or not (uint32(filesize) == 0) }`, false},
	{"arithmetic", `rule r { condition: (2 + 3) * 4 - 20 \ 5 == 16 and 7 % 3 == 1 }`, true},
	{"bitwise", `rule r { condition: (0xF0 | 0x0F) == 0xFF and (0xF0 & 0x3C) == 0x30 and (1 << 4) == 16 and (256 >> 4) == 16 and (5 ^ 1) == 4 and ~0 == -1 }`, true},
	{"division by zero is undefined", `rule r { condition: 1 \ (filesize - 76) == 0 or not (1 \ (filesize - 76) == 0) }`, false},
	{"shift by 64 or more is 0", `rule r { condition: (1 << (filesize - 12)) == 0 }`, true},
	{"integer as bool", `rule r { strings: $a = "eval" condition: #a }`, true},
	{"int comparisons", `rule r { condition: 1 != 2 and 2 >= 2 and 2 <= 3 and 3 > 2 and -1 < 0 }`, true},
	{"offset arithmetic", `rule r { strings: $a = "eval" condition: @a[2] - @a[1] == 36 }`, true},
}

func TestConditions(t *testing.T) {
	// Negative shift counts are undefined behaviour in libyara's C; here
	// they give undefined, so they stay out of the shared table.
	if got := matched(t, `rule r { condition: (1 << -1) == 0 or not ((1 << -1) == 0) }`, nil); got != nil {
		t.Errorf("negative shift: %v", got)
	}
	for _, tc := range conditionCases {
		t.Run(tc.name, func(t *testing.T) {
			got := len(matched(t, tc.rule, []byte(conditionData))) == 1
			if got != tc.want {
				t.Errorf("matched = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRuleReferencesPrivateGlobal(t *testing.T) {
	src := `
private rule is_aspx { strings: $p = "<%@ Page" nocase condition: $p at 0 }
rule uses_ref { strings: $e = "eval(" condition: is_aspx and $e }
rule of_rules { condition: any of (is_*) }
rule not_ref { condition: not is_aspx }
`
	tests := []struct {
		data string
		want []string
	}{
		{`<%@ Page Language="Jscript"%><%eval(x)%>`, []string{"uses_ref", "of_rules"}},
		{`<html>eval(x)</html>`, []string{"not_ref"}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, matched(t, src, []byte(tc.data))); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.data, diff)
		}
	}

	global := `
global rule small { condition: filesize < 100 }
rule a { strings: $a = "x" condition: $a }
`
	if got := matched(t, global, []byte("x")); !cmp.Equal(got, []string{"small", "a"}) {
		t.Errorf("small input: %v", got)
	}
	if got := matched(t, global, bytes.Repeat([]byte("x"), 200)); got != nil {
		t.Errorf("a failing global rule must silence every rule, got %v", got)
	}
}

func wideStr(s string) string { return string(widen([]byte(s))) }

var modifierCases = []struct {
	name string
	str  string
	data string
	want bool
}{
	{"plain exact", `"Eval"`, "x Eval y", true},
	{"plain is case-sensitive", `"Eval"`, "x eval y", false},
	{"nocase", `"Eval" nocase`, "x eVAL y", true},
	{"wide only", `"cmd" wide`, "a" + wideStr("cmd") + "b", true},
	{"wide does not match ascii", `"cmd" wide`, "a cmd b", false},
	{"wide ascii", `"cmd" wide ascii`, "a cmd b", true},
	{"wide nocase", `"cmd" wide nocase`, wideStr("CMD"), true},
	{"fullword", `"net" fullword`, "run net user", true},
	{"fullword rejects inside word", `"net" fullword`, "dotnet user", false},
	{"fullword rejects before word", `"net" fullword`, "network", false},
	{"fullword punctuation ok", `"net" fullword`, "(net)", true},
	{"fullword at edges", `"net" fullword`, "net", true},
	{"fullword underscore is a boundary", `"net" fullword`, "_net_", true},
	{"wide fullword", `"net" wide fullword`, wideStr("a net b"), true},
	{"wide fullword rejects", `"net" wide fullword`, wideStr("dotnet"), false},
	{"escapes", `"a\"b\\c\x41\t"`, "a\"b\\cA\t", true},
	{"xor", `"eval" xor(1-3)`, string(xorBytes([]byte("eval"), 2)), true},
	{"xor key out of range", `"eval" xor(1-3)`, string(xorBytes([]byte("eval"), 9)), false},
	{"base64", `"eval(Request" base64`, "ZXZhbChSZXF1ZXN0", true},
	{"base64 shifted", `"eval(Request" base64`, "YWV2YWwoUmVxdWVzdA", true},
	{"base64 absent", `"eval(Request" base64`, "ZXZhbCh", false},
	{"base64wide", `"eval" base64wide`, wideStr("ZXZhb"), true},
}

func TestTextModifiers(t *testing.T) {
	for _, tc := range modifierCases {
		t.Run(tc.name, func(t *testing.T) {
			got := len(matched(t, `rule r { strings: $a = `+tc.str+` condition: $a }`, []byte(tc.data))) == 1
			if got != tc.want {
				t.Errorf("matched = %v, want %v", got, tc.want)
			}
		})
	}
}

var hexBin = []byte{0x4D, 0x5A, 0x90, 0x00, 0x03, 0x00, 0xFF, 0xFE, 0x41, 0x0A, 0x42}

var hexRegexpCases = []struct {
	name string
	str  string
	data []byte
	want int // matches of $a
}{
	{"hex exact", `{ 4D 5A 90 00 }`, hexBin, 1},
	{"hex wildcard", `{ 4D 5A ?? 00 }`, hexBin, 1},
	{"hex high nibble", `{ 4D 5? 90 }`, hexBin, 1},
	{"hex low nibble", `{ 4D ?A 90 }`, hexBin, 1},
	{"hex low nibble miss", `{ 4D ?B 90 }`, hexBin, 0},
	{"hex not", `{ 4D ~5B 90 }`, hexBin, 1},
	{"hex not miss", `{ 4D ~5A 90 }`, hexBin, 0},
	{"hex jump", `{ 4D 5A [2-4] 03 }`, hexBin, 1},
	{"hex jump too short", `{ 4D 5A [0-1] 03 }`, hexBin, 0},
	{"hex exact jump", `{ 4D [3] 03 }`, hexBin, 1},
	{"hex unbounded jump", `{ 4D [1-] 42 }`, hexBin, 1},
	{"hex jump over newline", `{ 41 [1] 42 }`, hexBin, 1},
	{"hex alternative", `{ FF ( FE | FD ) 41 }`, hexBin, 1},
	{"hex alternative miss", `{ FF ( FC | FD ) 41 }`, hexBin, 0},
	{"hex alternative lengths", `{ 00 ( 03 00 | 04 ) FF }`, hexBin, 1},
	{"hex high bytes", `{ FF FE 41 }`, hexBin, 1},
	{"regex high byte escape", `/\xFF\xFEA/`, hexBin, 1},
	{"regex dot is one byte", `/\xFF.A/`, hexBin, 1},
	{"regex dot not newline", `/A.B/`, hexBin, 0},
	{"regex dotall", `/A.B/s`, hexBin, 1},
	{"regex nocase flag", `/mz\x90/i`, hexBin, 1},
	{"regex nocase modifier", `/mz\x90/ nocase`, hexBin, 1},
	{"regex {,n}", `/M.{,3}\x03/s`, hexBin, 1},
	{"regex {,n} too short", `/M.{,2}\x03/s`, hexBin, 0},
	{"regex anchored", `/^MZ/`, hexBin, 1},
	{"regex anchored miss", `/^Z/`, hexBin, 0},
	{"regex end anchor", `/\nB$/`, hexBin, 1},
	{"regex count", `/[A-Z]/`, hexBin, 4},
	{"regex fullword", `/net/ fullword`, []byte("dotnet net"), 1},
	{"regex class with slash", `/a[\/]b/`, []byte("xa/b"), 1},
	{"regex escaped brace literal", `/a\{2\}/`, []byte("a{2}"), 1},
	{"regex literal brace", `/a{x/`, []byte("a{x"), 1},
}

func TestHexAndRegexpStrings(t *testing.T) {
	for _, tc := range hexRegexpCases {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := Compile("t.yar", `rule r { strings: $a = `+tc.str+` condition: #a >= 0 }`)
			if err != nil {
				t.Fatal(err)
			}
			s := newTestState(rs, tc.data)
			if got := len(s.matches(0)); got != tc.want {
				t.Errorf("matches = %d, want %d", got, tc.want)
			}
		})
	}
}

func newTestState(rs *RuleSet, data []byte) *scanState {
	s := &scanState{
		rs: rs, data: data, filesize: int64(len(data)),
		lits: make([][]smatch, len(rs.pats)), cands: make([][]span, len(rs.pats)),
		starts: make([][]int, len(rs.pats)), whole: make([]bool, len(rs.pats)),
		done: make([]bool, len(rs.pats)), saturated: make([]bool, len(rs.pats)),
		ruleRes: make([]tri, len(rs.rules)), ruleSeen: make([]bool, len(rs.rules)),
	}
	s.findAtoms()
	return s
}

func TestMatchReport(t *testing.T) {
	src := `rule r : t1 t2 {
	meta:
		description = "a \"quoted\" text"
		severity = "backdoor"
		score = 80
		enabled = true
	strings:
		$a = "eval("
		$b = /unsafe/
		$hidden = "Page" private
	condition:
		all of them
}`
	data := []byte("<%@ Page Language=\"Jscript\"%><%eval(Request.Item[\"x\"],\"unsafe\");%>\x00\xff")
	rs, err := Compile("t.yar", src)
	if err != nil {
		t.Fatal(err)
	}
	want := []Match{{
		Rule: "r",
		Tags: []string{"t1", "t2"},
		Meta: []Meta{
			{"description", `a "quoted" text`},
			{"severity", "backdoor"},
			{"score", int64(80)},
			{"enabled", true},
		},
		Strings: []StringMatch{
			{ID: "$a", Offset: 31, Length: 5, Excerpt: "eval("},
			{ID: "$b", Offset: 55, Length: 6, Excerpt: "unsafe"},
		},
	}}
	got := rs.Scan(data)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got[0].Severity() != "backdoor" || got[0].MetaString("score") != "80" {
		t.Errorf("meta accessors: %q %q", got[0].Severity(), got[0].MetaString("score"))
	}
}

func TestExcerpt(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"abc", 10, "abc"},
		{"a\nb\r\tc\\", 10, `a\nb\r\tc\\`},
		{"\x00\xff\x1b[31m", 10, `\x00\xff\x1b[31m`},
		{"abcdef", 3, "abc..."},
		{"ü", 10, `\xc3\xbc`},
	}
	for _, tc := range tests {
		if got := Excerpt([]byte(tc.in), tc.limit); got != tc.want {
			t.Errorf("Excerpt(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
		}
	}
}

func TestScanFileCapAndTruncation(t *testing.T) {
	dir := t.TempDir()
	// The marker sits beyond the cap: it must not be seen, and the result
	// must say the file was truncated; filesize still means the real size.
	data := append(bytes.Repeat([]byte("A"), 5000), []byte("MARKER")...)
	p := filepath.Join(dir, "big.aspx")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	src := `rule marker { strings: $m = "MARKER" condition: $m }
rule size { condition: filesize == 5006 }
rule head { strings: $a = "AAAA" condition: $a at 0 }`
	rs, err := CompileSources(Options{MaxFileBytes: 4096}, Source{"t.yar", src})
	if err != nil {
		t.Fatal(err)
	}
	res, err := rs.ScanFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range res.Matches {
		names = append(names, m.Rule)
	}
	got := struct {
		Names     []string
		Size      int64
		Scanned   int64
		Truncated bool
	}{names, res.Size, res.Scanned, res.Truncated}
	want := struct {
		Names     []string
		Size      int64
		Scanned   int64
		Truncated bool
	}{[]string{"size", "head"}, 5006, 4096, true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	// Without the cap the marker is found and nothing is truncated.
	rs2, _ := Compile("t.yar", src)
	res, err = rs2.ScanFile(p)
	if err != nil || res.Truncated || len(res.Matches) != 3 {
		t.Errorf("uncapped: %+v, %v", res, err)
	}

	// Unknown size (a pipe): the bytes read count as the size.
	res, err = rs.ScanReader(strings.NewReader("MARKER"), -1)
	if err != nil || res.Size != 6 || res.Truncated || len(res.Matches) != 1 {
		t.Errorf("reader: %+v, %v", res, err)
	}
	if _, err := rs.ScanFile(dir); err == nil {
		t.Error("scanning a directory must fail")
	}
	if _, err := rs.ScanFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("scanning a missing file must fail")
	}
}

func TestMatchLimits(t *testing.T) {
	// A hostile file full of atoms: counts stop at the cap, the result says
	// so, and the report lists only MaxReported matches.
	src := `rule r { strings: $a = "ab" $b = /a[b]/ condition: #a > 10 and #b > 10 }`
	rs, err := CompileSources(Options{MaxMatchesPerString: 50, MaxReported: 2}, Source{"t.yar", src})
	if err != nil {
		t.Fatal(err)
	}
	res, err := rs.ScanReader(bytes.NewReader(bytes.Repeat([]byte("ab"), 10000)), -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Matches) != 1 || len(res.Matches[0].Strings) != 4 {
		t.Fatalf("matches: %+v", res.Matches)
	}
	if diff := cmp.Diff([]string{"r:$a", "r:$b"}, res.Saturated); diff != "" {
		t.Errorf("saturated (-want +got):\n%s", diff)
	}
}

func TestAtomsAcrossChunks(t *testing.T) {
	// Literals and regex atoms straddling the automaton's chunk boundary.
	data := bytes.Repeat([]byte("."), acChunk-3)
	data = append(data, []byte("eval(Request.Item")...)
	data = append(data, bytes.Repeat([]byte("."), acChunk)...)
	src := `rule lit { strings: $a = "eval(Request" condition: $a at 65533 }
rule re { strings: $a = /eval\(Request\.[A-Z]tem/ condition: @a[1] == 65533 }`
	if got := matched(t, src, data); !cmp.Equal(got, []string{"lit", "re"}) {
		t.Errorf("got %v", got)
	}
}

func TestRegexpWithoutAtomsScansWholeFile(t *testing.T) {
	src := `rule r { strings: $a = /[0-9]{2}x/ condition: #a == 2 }`
	data := append(bytes.Repeat([]byte("-"), 100000), []byte("12x 34x")...)
	if got := matched(t, src, data); len(got) != 1 {
		t.Errorf("got %v", got)
	}
}

// TestOffsetsWithHighBytes: all three verification modes report byte offsets
// and lengths of the original input even where the regexp ran over the
// Latin-1 transcoding.
func TestOffsetsWithHighBytes(t *testing.T) {
	prefix := "\xff\xfe\xc3\xa9 caf\xe9 "
	data := []byte(prefix + "eval(Request) <% execute request a\xffb 12x" + strings.Repeat("\x80", 70) + "eval(Request)")
	base := int64(len(prefix))
	tests := []struct {
		name    string
		str     string
		offsets []int64
		lengths []int
	}{
		{"prefix mode", `/eval\(Req[a-z]+\)/`, []int64{base, base + 110}, []int{13, 13}},
		{"window mode", `/<%\s{0,4}(eval|execute)\s{0,4}request/`, []int64{base + 14}, []int{18}},
		{"whole-file mode", `/[0-9]{2}x/`, []int64{base + 37}, []int{3}},
		{"high byte inside match", `/a\xffb/`, []int64{base + 33}, []int{3}},
		{"dot matches one high byte", `/a.b 1/`, []int64{base + 33}, []int{5}},
		{"hex across high bytes", `{ 80 80 65 76 }`, []int64{base + 108}, []int{4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := Compile("t.yar", `rule r { strings: $a = `+tc.str+` condition: $a }`)
			if err != nil {
				t.Fatal(err)
			}
			var offs []int64
			var lens []int
			for _, m := range rs.Scan(data) {
				for _, sm := range m.Strings {
					offs = append(offs, sm.Offset)
					lens = append(lens, sm.Length)
				}
			}
			if diff := cmp.Diff(tc.offsets, offs); diff != "" {
				t.Errorf("offsets (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.lengths, lens); diff != "" {
				t.Errorf("lengths (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPrefixModeFallbacks: a file crafted to hit an atom everywhere switches
// to one linear pass (candidate cap, then work budget) and still finds the
// match.
func TestPrefixModeFallbacks(t *testing.T) {
	rs, err := Compile("t.yar", `rule r { strings: $a = /eval\s*\(\s*Request[^;]{0,50}unsafe/ condition: $a }`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		n         int
		wantWhole bool
	}{
		{"few candidates", 10, false},
		{"budget exceeded", 5000, true},
		{"too many candidates", maxStarts + 10, true},
	}
	for _, tc := range tests {
		data := []byte(strings.Repeat("eval(", tc.n) + "eval(Request.Item[1],\"unsafe\")")
		s := newTestState(rs, data)
		ms := s.matches(0)
		if len(ms) != 1 || ms[0].off != 5*tc.n {
			t.Errorf("%s: matches %v", tc.name, ms)
		}
		if s.whole[0] != tc.wantWhole {
			t.Errorf("%s: whole-input pass = %v, want %v", tc.name, s.whole[0], tc.wantWhole)
		}
	}
}

func TestOverlappingRegexpMatches(t *testing.T) {
	// Matches are reported per start position, as YARA does.
	src := `rule r { strings: $a = /abab/ condition: #a == 3 }`
	if got := matched(t, src, []byte("abababab")); len(got) != 1 {
		t.Errorf("got %v", got)
	}
}
