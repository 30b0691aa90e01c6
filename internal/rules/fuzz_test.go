package rules

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzCompile: arbitrary rule text must produce a rule set or an error, never
// a panic or a hang; what compiles must scan without panicking.
func FuzzCompile(f *testing.F) {
	seeds := []string{
		`rule a { condition: true }`,
		`rule a { strings: $a = "x" nocase wide fullword condition: #a > 2 and $a at 0 }`,
		`rule a { strings: $a = { 4D 5A ?? [2-4] ( 01 | 02 03 ) ~0? } condition: $a in (0..100) }`,
		`rule a { strings: $a = /eval\s*\(.{,100}unsafe/is condition: all of them }`,
		`rule a { strings: $a = /(a)\1(?=b)[[:x:]]{,2000}/ condition: $a }`,
		`private rule p { condition: uint32be(0) == 1 } rule b { condition: p and any of (p*) }`,
		`rule a { strings: $a = "x" xor(1-3) $b = "yz" base64 condition: 50% of them }`,
		`rule a { condition: (1 << 70) \ 0 % -1 == ~filesize }`,
		`import "pe" rule a { condition: pe.is_pe }`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	// The shipped rules are not a seed: mutating 15 KB of rules spends the
	// run minimising instead of exploring.
	sample := []byte("<%@ Page Language=\"Jscript\"%><%eval(Request.Item[\"x\"],\"unsafe\");%>MZ\x00\xff")
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 64<<10 {
			return
		}
		rs, err := CompileSources(Options{SkipUnsupported: true}, Source{"fuzz.yar", src})
		if err != nil {
			if rs != nil {
				t.Fatal("error with a rule set")
			}
			return
		}
		rs.Scan(sample)
		rs.Scan(nil)
	})
}

// FuzzScan: arbitrary file content against the shipped rules must never panic,
// and a scan must be deterministic.
func FuzzScan(f *testing.F) {
	rs := builtinForTest(f)
	files, _ := filepath.Glob("testdata/samples/*/*")
	legit, _ := filepath.Glob("testdata/legit/*")
	for _, p := range append(files, legit...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 100))
	f.Fuzz(func(t *testing.T, data []byte) {
		a := ruleNames(rs.Scan(data))
		b := ruleNames(rs.Scan(data))
		if len(a) != len(b) {
			t.Fatalf("non-deterministic: %v vs %v", a, b)
		}
		// The same bytes behind a reader and a cap give the same answer
		// when the cap is not reached.
		res, err := rs.ScanReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		if c := ruleNames(res.Matches); len(c) != len(a) || res.Truncated {
			t.Fatalf("ScanReader %v (truncated %v) vs Scan %v", c, res.Truncated, a)
		}
	})
}
