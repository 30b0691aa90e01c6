package rules

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompileErrors(t *testing.T) {
	const hint = " is not supported by the built-in engine; build with -tags yara"
	tests := []struct {
		name        string
		src         string
		want        string // full error text
		unsupported bool
	}{
		{"module use", "import \"pe\"\nrule r {\n condition: pe.is_pe }",
			"t.yar:2: rule r: modules (pe.is_pe)" + hint, true},
		{"module function", "import \"math\"\nrule r { condition: math.entropy(0, filesize) > 7 }",
			"t.yar:2: rule r: function calls (math.entropy)" + hint, true},
		{"for in", "rule r { strings: $a = \"x\" condition: for any i in (1..#a) : (@a[i] > 0) }",
			"t.yar:1: rule r: for ... in loops" + hint, true},
		{"for of", "rule r { strings: $a = \"x\" condition: for all of them : ($ at 0) }",
			"t.yar:1: rule r: for ... of loops" + hint, true},
		{"matches", "rule r { condition: \"a\" matches /a/ }",
			"t.yar:1: rule r: the \"matches\" operator" + hint, true},
		{"contains", "rule r { condition: \"abc\" contains \"b\" }",
			"t.yar:1: rule r: the \"contains\" operator" + hint, true},
		{"entrypoint", "rule r { condition: entrypoint == 0 }",
			"t.yar:1: rule r: entrypoint" + hint, true},
		{"external variable", "rule r { condition: ext_var }",
			"t.yar:1: rule r: identifier \"ext_var\" (external variable or module)" + hint, true},
		{"float", "rule r { condition: filesize > 1.5 }",
			"t.yar:1: rule r: floating-point numbers" + hint, true},
		{"wide regexp", "rule r {\n strings:\n  $a = /abc/ wide\n condition: $a }",
			"t.yar:3: rule r: string $a: the wide modifier on a regular expression" + hint, true},
		{"include", "include \"other.yar\"\nrule r { condition: true }",
			"t.yar: include \"other.yar\"" + hint, true},
		{"backreference", "rule r {\n strings:\n  $a = /(a)\\1/\n condition: $a }",
			`t.yar:3: rule r: string $a: regular expression /(a)\1/: backreference \1 is not supported (RE2 has no backreferences)`, false},
		{"lookahead", "rule r { strings: $a = /a(?=b)/ condition: $a }",
			"t.yar:1: rule r: string $a: regular expression /a(?=b)/: lookahead (?= is not supported (RE2 has no lookarounds)", false},
		{"lookbehind", "rule r { strings: $a = /(?<!b)a/ condition: $a }",
			"t.yar:1: rule r: string $a: regular expression /(?<!b)a/: lookbehind (?<! is not supported (RE2 has no lookarounds)", false},
		{"huge repeat", "rule r { strings: $a = /a{,5000}b/ condition: $a }",
			"t.yar:1: rule r: string $a: regular expression /a{,5000}b/: repetition count {,5000} above 1000 is not supported", false},
		{"bad repeat", "rule r { strings: $a = /a{5,2}b/ condition: $a }",
			"t.yar:1: rule r: string $a: regular expression /a{5,2}b/: bad repetition {5,2}: minimum above maximum", false},
		{"bad hex escape", "rule r { strings: $a = /a\\xZZ/ condition: $a }",
			`t.yar:1: rule r: string $a: regular expression /a\xZZ/: \x needs two hex digits`, false},
		{"unknown escape", "rule r { strings: $a = /\\Aabc/ condition: $a }",
			`t.yar:1: rule r: string $a: regular expression /\Aabc/: escape \A is not supported`, false},
		{"RE2 syntax error", "rule r { strings: $a = /a**/ condition: $a }",
			"t.yar:1: rule r: string $a: regular expression /a**/: RE2 rejects it: invalid nested repetition operator", false},
		{"long hex jump", "rule r { strings: $a = { 41 [0-2000] 42 } condition: $a }",
			"t.yar:1: rule r: string $a: hex string: jump [0-2000] longer than 1000 bytes is not supported", false},
		{"parse error", "rule r { condition: }",
			"t.yar:1: syntax error: unexpected '}'", false},
		{"undefined string", "rule r { condition: $nope }",
			"t.yar:1: undefined string identifier: $nope", false},
		{"duplicate rule across files", "rule r { condition: true }",
			"u.yar:1: rule r: duplicate rule name", false},
		{"unreferenced string", "rule r { strings: $a = \"x\" $b = \"y\" $_c = \"z\" condition: $a }",
			"t.yar:1: rule r: unreferenced string $b", false},
		{"base64 with nocase", "rule r { strings: $a = \"abc\" base64 nocase condition: $a }",
			"t.yar:1: rule r: string $a: base64 cannot be combined with nocase, fullword or xor", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srcs := []Source{{Name: "t.yar", Text: tc.src}}
			if strings.HasPrefix(tc.name, "duplicate") {
				srcs = append(srcs, Source{Name: "u.yar", Text: tc.src})
			}
			_, err := CompileSources(Options{}, srcs...)
			if err == nil {
				t.Fatal("compiled; want an error")
			}
			if diff := cmp.Diff(tc.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if got := errors.Is(err, ErrUnsupported); got != tc.unsupported {
				t.Errorf("errors.Is(err, ErrUnsupported) = %v, want %v", got, tc.unsupported)
			}
		})
	}
}

func TestCompileReportsEveryError(t *testing.T) {
	src := `rule a { condition: pe.x }
rule b { strings: $a = /(x)\1/ condition: $a }
rule c { condition: true }`
	_, err := Compile("t.yar", src)
	if err == nil {
		t.Fatal("want errors")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "rule a") || !strings.Contains(lines[1], "rule b") {
		t.Errorf("want one line per bad rule, got:\n%s", err)
	}
}

func TestSkipUnsupported(t *testing.T) {
	src := `import "pe"
rule uses_pe { condition: pe.number_of_sections > 2 }
rule depends { condition: uses_pe }
rule fine { strings: $a = "x" condition: $a }`
	rs, err := CompileSources(Options{SkipUnsupported: true}, Source{"t.yar", src})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rs.Rules() {
		names = append(names, r.Name)
	}
	if diff := cmp.Diff([]string{"fine"}, names); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	var skipped []string
	for _, e := range rs.Skipped() {
		skipped = append(skipped, e.Error())
	}
	want := []string{
		"t.yar:2: rule uses_pe: modules (pe.number_of_sections) is not supported by the built-in engine; build with -tags yara",
		"t.yar:3: rule depends: a reference to skipped rule uses_pe is not supported by the built-in engine; build with -tags yara",
	}
	if diff := cmp.Diff(want, skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	// A syntax error is never skipped.
	if _, err := CompileSources(Options{SkipUnsupported: true}, Source{"t.yar", "rule x { strings: $a = /(a)\\1/ condition: $a }"}); err == nil {
		t.Error("a bad regex must fail even with SkipUnsupported")
	}
}

func TestTranslateRegexp(t *testing.T) {
	tests := []struct {
		in     string
		nocase bool
		dotall bool
		want   string
	}{
		{`abc`, false, false, `abc`},
		{`a.{,100}b`, false, false, `a.{0,100}b`},
		{`a.{2,}b`, false, false, `a.{2,}b`},
		{`a{3}`, false, false, `a{3}`},
		{`a{x}`, false, false, `a\{x\}`},
		{`a}`, false, false, `a\}`},
		{`\x41\xff`, false, false, `A\x{ff}`},
		{`\x2e`, false, false, `\x{2e}`},
		{`[\x00-\x1f]`, false, false, `[\x{00}-\x{1f}]`},
		{`[]a]`, false, false, `[\]a]`},
		{`[^]a]`, false, false, `[^\]a]`},
		{`[[:alpha:]]`, false, false, `[\[:alpha:]]`},
		{`\/\.\-`, false, false, `\/\.\-`},
		{`\w+\s\d\b`, false, false, `\w+\s\d\b`},
		{`(?:ab)+`, false, false, `(?:ab)+`},
		{`ab`, true, false, `(?i)ab`},
		{`a.b`, true, true, `(?is)a.b`},
		{"é", false, false, `\x{c3}\x{a9}`},
		{`a+?b*?`, false, false, `a+?b*?`},
	}
	for _, tc := range tests {
		got, err := translateRegexp(tc.in, tc.nocase, tc.dotall)
		if err != nil {
			t.Errorf("translateRegexp(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("translateRegexp(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAtoms(t *testing.T) {
	tests := []struct {
		re     string
		prefix []string // every match starts with one of these
		atoms  []string // every match contains one of these (used without prefix)
	}{
		{`eval\s*\(\s*Request`, []string{"eval"}, nil},
		{`(?i)Page_Load`, []string{"page_load"}, nil},
		{`<%@\s*(Page|WebHandler)`, []string{"<%@"}, nil},
		{`(External|Internal)Url`, []string{"externalurl", "internalurl"}, nil},
		{`(cmd|powershell)\.exe`, []string{"cmd.exe", "powershell.exe"}, nil},
		{`["']cmd["']`, []string{`"cmd"`, `"cmd'`, `'cmd"`, `'cmd'`}, nil},
		{`(abc)+x`, []string{"abc"}, nil},
		{`(?s)\x{ff}\x{fe}AB`, []string{"\xff\xfeab"}, nil},
		{`(abc)?xyz`, nil, []string{"xyz"}},
		{`[a-z]{8}\.aspx`, nil, []string{".aspx"}},
		{`\bnet\b`, nil, []string{"net"}},
		{`[a-z]+`, nil, nil},
		{`ab`, nil, nil},
		{`(abc)*`, nil, nil},
		{`^MZ`, nil, nil}, // anchored: whole file
	}
	str := func(set [][]byte) []string {
		var out []string
		for _, a := range set {
			out = append(out, string(a))
		}
		return out
	}
	for _, tc := range tests {
		c, err := compileRE2(tc.re)
		if err != nil {
			t.Fatalf("%s: %v", tc.re, err)
		}
		if diff := cmp.Diff(tc.prefix, str(c.prefix)); diff != "" {
			t.Errorf("prefix(%s) (-want +got):\n%s", tc.re, diff)
		}
		if diff := cmp.Diff(tc.atoms, str(c.atoms)); diff != "" {
			t.Errorf("atoms(%s) (-want +got):\n%s", tc.re, diff)
		}
	}
}

func TestHexToRegexp(t *testing.T) {
	rs, err := Compile("t.yar", `rule r { strings: $a = { 4D 5A ?? ?1 F? ~00 [2-4] ( 01 | 02 03 ) [5] 41 [6-] 42 } condition: $a }`)
	if err != nil {
		t.Fatal(err)
	}
	want := `(?s)MZ.[\x{01}\x{11}\x{21}\x{31}\x{41}\x{51}\x{61}\x{71}\x{81}\x{91}\x{a1}\x{b1}\x{c1}\x{d1}\x{e1}\x{f1}][\x{f0}-\x{ff}][^\x{00}].{2,4}(?:\x{01}|\x{02}\x{03}).{5}A.{6,}B`
	if got := rs.pats[0].re.re.String(); got != want {
		t.Errorf("hex regexp\n got %s\nwant %s", got, want)
	}
}
