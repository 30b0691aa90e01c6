package rules

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"

	"github.com/VirusTotal/gyp/ast"
)

// Regular expressions and hex strings are both compiled to Go RE2 programs that
// run in "Latin-1 mode": every byte of the scanned data stands for the rune with
// the same value (U+0000..U+00FF). Go's regexp decodes UTF-8, so `\xFF` in a
// pattern means U+00FF, which as raw input would be the two bytes C3 BF, and a
// lone 0xFF byte would decode to U+FFFD. A window that holds bytes >= 0x80 is
// therefore transcoded (each byte to one rune) before matching, and offsets are
// mapped back; a window of pure ASCII is matched as is because the two views are
// identical. This keeps YARA's byte semantics (`.` is one byte) with RE2's linear
// time guarantee.

// maxRepeat is RE2's limit on a counted repetition; larger counts are rejected
// with a clear message instead of Go's "invalid repeat count".
const maxRepeat = 1000

// scanLimit mirrors YARA's RE_SCAN_LIMIT: YARA never reports a regex match longer
// than 4096 bytes, so verification windows around an atom need not be larger.
const scanLimit = 4096

// minAtomLen is the shortest literal worth feeding to the Aho-Corasick automaton
// for a regex or hex string. Shorter atoms fire everywhere and cost more than a
// straight linear scan with the regexp.
const minAtomLen = 3

// maxAtomAlternatives bounds the atoms taken from an alternation like
// (cmd|powershell|wscript); more than this and a full scan is cheaper.
const maxAtomAlternatives = 32

// translateRegexp turns a YARA regular expression (as written between the
// slashes, escapes intact) into RE2 syntax for Latin-1 mode. It fixes the
// constructs where the two dialects differ and rejects what RE2 cannot do.
func translateRegexp(src string, nocase, dotall bool) (string, error) {
	var b strings.Builder
	b.Grow(len(src) + 16)
	flags := ""
	if nocase {
		flags += "i"
	}
	if dotall {
		flags += "s"
	}
	if flags != "" {
		b.WriteString("(?" + flags + ")")
	}
	// inClass tracks [...] so quantifier and group handling is skipped there.
	inClass := false
	classStart := 0 // index in src just after '[' or '[^'
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\\':
			if i+1 >= len(src) {
				return "", fmt.Errorf("trailing backslash")
			}
			i++
			e := src[i]
			switch {
			case e == 'x':
				if i+2 >= len(src) || !isHex(src[i+1]) || !isHex(src[i+2]) {
					return "", fmt.Errorf(`\x needs two hex digits`)
				}
				v, _ := strconv.ParseUint(src[i+1:i+3], 16, 8)
				writeLatin1(&b, byte(v))
				i += 2
			case e >= '1' && e <= '9':
				return "", fmt.Errorf(`backreference \%c is not supported (RE2 has no backreferences)`, e)
			case e == 'b' || e == 'B':
				if inClass {
					return "", fmt.Errorf(`\%c inside a character class is not supported`, e)
				}
				b.WriteByte('\\')
				b.WriteByte(e)
			case strings.IndexByte("wWsSdD", e) >= 0:
				b.WriteByte('\\')
				b.WriteByte(e)
			case strings.IndexByte("nrtfa", e) >= 0:
				b.WriteByte('\\')
				b.WriteByte(e)
			case e >= 0x80:
				writeLatin1(&b, e)
			case isAlnum(e):
				// YARA would read an unknown escaped letter as the letter itself;
				// RE2 gives many of them a meaning (\A, \z, \pL, \Q). Refuse
				// rather than guess.
				return "", fmt.Errorf(`escape \%c is not supported`, e)
			default:
				// Escaped punctuation is the punctuation itself in both dialects.
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		case inClass:
			switch c {
			case ']':
				if i == classStart {
					// A ']' first in a class is a literal in both dialects.
					b.WriteString(`\]`)
				} else {
					inClass = false
					b.WriteByte(']')
				}
			case '[':
				// RE2 reads "[:alpha:]" inside a class as a POSIX class; YARA
				// reads the characters. Escape to keep YARA's meaning.
				b.WriteString(`\[`)
			default:
				if c >= 0x80 {
					writeLatin1(&b, c)
				} else {
					b.WriteByte(c)
				}
			}
		case c == '[':
			inClass = true
			b.WriteByte('[')
			if i+1 < len(src) && src[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			classStart = i + 1
		case c == '(':
			if i+1 < len(src) && src[i+1] == '?' {
				if i+2 < len(src) && src[i+2] == ':' {
					b.WriteString("(?:")
					i += 2
					continue
				}
				rest := src[i+2:]
				switch {
				case strings.HasPrefix(rest, "="), strings.HasPrefix(rest, "!"):
					return "", fmt.Errorf("lookahead (?%c is not supported (RE2 has no lookarounds)", rest[0])
				case strings.HasPrefix(rest, "<=") || strings.HasPrefix(rest, "<!"):
					return "", fmt.Errorf("lookbehind (?%s is not supported (RE2 has no lookarounds)", rest[:2])
				default:
					return "", fmt.Errorf("group syntax (? is not supported")
				}
			}
			b.WriteByte('(')
		case c == '{':
			q, n, err := translateQuantifier(src[i:])
			if err != nil {
				return "", err
			}
			if n == 0 {
				// Not a quantifier: YARA takes the brace literally.
				b.WriteString(`\{`)
				continue
			}
			b.WriteString(q)
			i += n - 1
		case c == '}':
			b.WriteString(`\}`)
		case c >= 0x80:
			writeLatin1(&b, c)
		default:
			b.WriteByte(c)
		}
	}
	if inClass {
		return "", fmt.Errorf("unterminated character class")
	}
	return b.String(), nil
}

// translateQuantifier reads a "{...}" at the start of s. It returns the RE2
// spelling and the number of bytes consumed, or n == 0 if s does not start with
// a quantifier. YARA's "{,m}" becomes "{0,m}": RE2 would otherwise take
// "{,m}" as the literal text, silently never matching what the rule means.
func translateQuantifier(s string) (string, int, error) {
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return "", 0, nil
	}
	body := s[1:end]
	lo, hi, comma := body, "", false
	if k := strings.IndexByte(body, ','); k >= 0 {
		lo, hi, comma = body[:k], body[k+1:], true
	}
	if !allDigits(lo) || !allDigits(hi) || (lo == "" && hi == "") {
		return "", 0, nil
	}
	if lo == "" {
		lo = "0"
	}
	for _, v := range []string{lo, hi} {
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n > maxRepeat {
			return "", 0, fmt.Errorf("repetition count {%s} above %d is not supported", body, maxRepeat)
		}
	}
	if comma && hi != "" {
		l, _ := strconv.Atoi(lo)
		h, _ := strconv.Atoi(hi)
		if l > h {
			return "", 0, fmt.Errorf("bad repetition {%s}: minimum above maximum", body)
		}
	}
	q := "{" + lo
	if comma {
		q += "," + hi
	}
	return q + "}", end + 1, nil
}

// hexToRegexp renders a YARA hex string as an RE2 pattern in Latin-1 mode.
func hexToRegexp(tokens ast.HexTokens) (string, error) {
	var b strings.Builder
	b.WriteString("(?s)")
	if err := writeHexTokens(&b, tokens); err != nil {
		return "", err
	}
	return b.String(), nil
}

func writeHexTokens(b *strings.Builder, tokens ast.HexTokens) error {
	for _, t := range tokens {
		switch t := t.(type) {
		case *ast.HexBytes:
			if len(t.Masks) != len(t.Bytes) || len(t.Nots) != len(t.Bytes) {
				return fmt.Errorf("malformed hex bytes")
			}
			for i, v := range t.Bytes {
				writeHexByte(b, v, t.Masks[i], t.Nots[i])
			}
		case *ast.HexJump:
			if t.Start < 0 || t.End < 0 || (t.End != 0 && t.End < t.Start) {
				return fmt.Errorf("bad jump [%d-%d]", t.Start, t.End)
			}
			if t.Start > maxRepeat || t.End > maxRepeat {
				return fmt.Errorf("jump [%d-%d] longer than %d bytes is not supported", t.Start, t.End, maxRepeat)
			}
			switch {
			case t.End == 0:
				// gyp encodes [n-] (and [-]) as End == 0: unbounded.
				fmt.Fprintf(b, ".{%d,}", t.Start)
			case t.Start == t.End:
				fmt.Fprintf(b, ".{%d}", t.Start)
			default:
				fmt.Fprintf(b, ".{%d,%d}", t.Start, t.End)
			}
		case *ast.HexOr:
			b.WriteString("(?:")
			for i, alt := range t.Alternatives {
				if i > 0 {
					b.WriteByte('|')
				}
				toks, ok := alt.(ast.HexTokens)
				if !ok {
					return fmt.Errorf("malformed hex alternative")
				}
				if err := writeHexTokens(b, toks); err != nil {
					return err
				}
			}
			b.WriteByte(')')
		case ast.HexTokens:
			if err := writeHexTokens(b, t); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown hex token %T", t)
		}
	}
	return nil
}

func writeHexByte(b *strings.Builder, v, mask byte, not bool) {
	neg := ""
	if not {
		neg = "^"
	}
	switch mask {
	case 0x00:
		if not {
			// "~??" can never match; gyp rejects it, but be safe.
			b.WriteString(`[^\x00-\x{ff}]`)
		} else {
			b.WriteByte('.')
		}
	case 0xF0: // "A?": high nibble fixed
		hi := v & 0xF0
		fmt.Fprintf(b, `[%s\x{%02x}-\x{%02x}]`, neg, hi, hi|0x0F)
	case 0x0F: // "?A": low nibble fixed
		b.WriteString("[" + neg)
		for h := 0; h < 16; h++ {
			fmt.Fprintf(b, `\x{%02x}`, byte(h<<4)|(v&0x0F))
		}
		b.WriteByte(']')
	default:
		if not {
			fmt.Fprintf(b, `[^\x{%02x}]`, v)
		} else {
			writeLatin1(b, v)
		}
	}
}

// writeLatin1 writes byte v as a pattern element matching exactly that byte in
// Latin-1 mode.
func writeLatin1(b *strings.Builder, v byte) {
	if v >= 0x80 || v < 0x20 || strings.IndexByte(`\.+*?()|[]{}^$`, v) >= 0 {
		fmt.Fprintf(b, `\x{%02x}`, v)
		return
	}
	b.WriteByte(v)
}

// compiledRegexp is the result of compiling a regex or hex string. It is
// verified in one of three ways, cheapest first:
//   - prefix: every match starts with one of a few literals; each hit of one
//     runs the anchored program from there (what YARA does), which fails
//     within a few bytes on benign text;
//   - atoms: every match contains one of a few literals; the unanchored
//     program runs over windows around the hits;
//   - neither: the unanchored program runs over the whole input.
type compiledRegexp struct {
	re      *regexp.Regexp // unanchored
	atStart *regexp.Regexp // \A(?:re), for prefix verification
	// prefix are lower-cased literals one of which starts every match.
	prefix [][]byte
	// atoms are lower-cased literals of which every match contains at least
	// one; nil (and no prefix) means the whole input must be searched.
	atoms [][]byte
	// window is how far a match may reach from an atom, in bytes.
	window int
	// anchored is true if the pattern uses ^, $, \A or \z: those only mean
	// the start or end of the file when run over the whole input.
	anchored bool
}

func compileRE2(pattern string) (*compiledRegexp, error) {
	tree, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, cleanRE2Error(err)
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, cleanRE2Error(err)
	}
	c := &compiledRegexp{re: re}
	c.anchored = hasTextAnchor(tree)
	ml := maxLen(tree)
	if ml < 0 || ml > scanLimit {
		ml = scanLimit
	}
	c.window = ml
	if c.anchored {
		return c, nil
	}
	if set, _, ok := prefixSet(tree); ok && usableAtoms(set) {
		if c.atStart, err = regexp.Compile(`\A(?:` + pattern + `)`); err == nil {
			c.prefix = set
			return c, nil
		}
	}
	if set, ok := atomSet(tree); ok {
		c.atoms = set
	}
	return c, nil
}

func usableAtoms(set [][]byte) bool {
	if len(set) == 0 || len(set) > maxAtomAlternatives {
		return false
	}
	for _, a := range set {
		if len(a) < minAtomLen {
			return false
		}
	}
	return true
}

// maxClassExpand is the largest character class turned into alternative
// prefixes (["'] or [Cc] are worth it, [a-z] is not).
const maxClassExpand = 4

// prefixSet returns lower-cased literals one of which begins every match of re.
// exact reports that re matches exactly one of them and nothing more, so a
// following element may extend the prefixes.
func prefixSet(re *syntax.Regexp) (set [][]byte, exact, ok bool) {
	switch re.Op {
	case syntax.OpLiteral:
		var b []byte
		for _, r := range re.Rune {
			if r > 0xFF || (r >= 0x80 && re.Flags&syntax.FoldCase != 0) {
				return trimSet(b), false, len(b) > 0
			}
			b = append(b, lowerByte(byte(r)))
		}
		return [][]byte{b}, true, len(b) > 0
	case syntax.OpCharClass:
		var out [][]byte
		n := 0
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			n += int(hi-lo) + 1
			if n > 2*maxClassExpand || hi > 0xFF {
				return nil, false, false
			}
			for r := lo; r <= hi; r++ {
				out = append(out, []byte{lowerByte(byte(r))})
			}
		}
		out = dedupeBytes(out)
		if len(out) == 0 || len(out) > maxClassExpand {
			return nil, false, false
		}
		return out, true, true
	case syntax.OpCapture:
		return prefixSet(re.Sub[0])
	case syntax.OpPlus:
		set, _, ok := prefixSet(re.Sub[0])
		return set, false, ok
	case syntax.OpRepeat:
		if re.Min < 1 {
			return nil, false, false
		}
		set, ex, ok := prefixSet(re.Sub[0])
		return set, ex && re.Min == 1 && re.Max == 1, ok
	case syntax.OpAlternate:
		var all [][]byte
		exact := true
		for _, s := range re.Sub {
			sub, ex, ok := prefixSet(s)
			if !ok {
				return nil, false, false
			}
			exact = exact && ex
			all = append(all, sub...)
			if len(all) > maxAtomAlternatives {
				return nil, false, false
			}
		}
		return dedupeBytes(all), exact, true
	case syntax.OpConcat:
		set, exact, ok := prefixSet(re.Sub[0])
		if !ok {
			return nil, false, false
		}
		for _, s := range re.Sub[1:] {
			if !exact || shortest(set) >= 16 {
				break
			}
			next, ex, ok := prefixSet(s)
			if !ok || len(set)*len(next) > maxAtomAlternatives {
				exact = false
				break
			}
			var prod [][]byte
			for _, a := range set {
				for _, b := range next {
					prod = append(prod, append(append([]byte(nil), a...), b...))
				}
			}
			set, exact = dedupeBytes(prod), ex
		}
		return set, exact, true
	}
	return nil, false, false
}

func trimSet(b []byte) [][]byte {
	if len(b) == 0 {
		return nil
	}
	return [][]byte{b}
}

func shortest(set [][]byte) int {
	m := -1
	for _, a := range set {
		if m < 0 || len(a) < m {
			m = len(a)
		}
	}
	return m
}

func dedupeBytes(set [][]byte) [][]byte {
	seen := map[string]bool{}
	out := set[:0]
	for _, a := range set {
		if !seen[string(a)] {
			seen[string(a)] = true
			out = append(out, a)
		}
	}
	return out
}

func cleanRE2Error(err error) error {
	if se, ok := err.(*syntax.Error); ok {
		return fmt.Errorf("RE2 rejects it: %s", se.Code)
	}
	return err
}

// maxLen returns the longest match of re in Latin-1 runes (= input bytes), or
// -1 when unbounded.
func maxLen(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune)
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1
	case syntax.OpCapture, syntax.OpQuest:
		return maxLen(re.Sub[0])
	case syntax.OpConcat:
		n := 0
		for _, s := range re.Sub {
			m := maxLen(s)
			if m < 0 {
				return -1
			}
			n += m
			if n > scanLimit {
				return -1
			}
		}
		return n
	case syntax.OpAlternate:
		n := 0
		for _, s := range re.Sub {
			m := maxLen(s)
			if m < 0 {
				return -1
			}
			n = max(n, m)
		}
		return n
	case syntax.OpStar, syntax.OpPlus:
		return -1
	case syntax.OpRepeat:
		if re.Max < 0 {
			return -1
		}
		m := maxLen(re.Sub[0])
		if m < 0 || m*re.Max > scanLimit {
			return -1
		}
		return m * re.Max
	default:
		// Empty-width assertions and empty matches.
		return 0
	}
}

func hasTextAnchor(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpBeginText, syntax.OpEndText, syntax.OpBeginLine, syntax.OpEndLine:
		return true
	}
	for _, s := range re.Sub {
		if hasTextAnchor(s) {
			return true
		}
	}
	return false
}

// atomSet returns a set of lower-cased literals such that every match of re
// contains at least one of them, or ok == false if no useful set exists.
func atomSet(re *syntax.Regexp) (set [][]byte, ok bool) {
	switch re.Op {
	case syntax.OpLiteral:
		return bestRun([]*syntax.Regexp{re})
	case syntax.OpCapture, syntax.OpPlus:
		return atomSet(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return atomSet(re.Sub[0])
		}
		return nil, false
	case syntax.OpConcat:
		return bestRun(re.Sub)
	case syntax.OpAlternate:
		var all [][]byte
		for _, s := range re.Sub {
			sub, ok := atomSet(s)
			if !ok {
				return nil, false
			}
			all = append(all, sub...)
			if len(all) > maxAtomAlternatives {
				return nil, false
			}
		}
		return all, len(all) > 0
	}
	return nil, false
}

// bestRun looks at a concatenation: runs of adjacent literal nodes form one
// atom each, and sub-expressions may offer their own sets; the set whose
// shortest atom is longest wins (ties: fewer atoms).
func bestRun(subs []*syntax.Regexp) ([][]byte, bool) {
	var best [][]byte
	score := func(set [][]byte) int {
		if len(set) == 0 {
			return -1
		}
		m := len(set[0])
		for _, a := range set[1:] {
			m = min(m, len(a))
		}
		// A single atom beats a set of slightly longer ones: "<%@" is a
		// better filter than {page, handler, service, control}.
		return m*100 - 150*(len(set)-1)
	}
	consider := func(set [][]byte) {
		if len(set) == 0 {
			return
		}
		for _, a := range set {
			if len(a) < minAtomLen {
				return
			}
		}
		if best == nil || score(set) > score(best) {
			best = set
		}
	}
	var run []byte
	flush := func() {
		if len(run) > 0 {
			consider([][]byte{run})
			run = nil
		}
	}
	for _, s := range subs {
		if s.Op == syntax.OpLiteral {
			for _, r := range s.Rune {
				if r > 0xFF || (r >= 0x80 && s.Flags&syntax.FoldCase != 0) {
					// Non-ASCII case folding is not mirrored by the ASCII
					// folding of the scan buffer; break the atom here.
					flush()
					continue
				}
				run = append(run, lowerByte(byte(r)))
			}
			continue
		}
		flush()
		if sub, ok := atomSet(s); ok {
			consider(sub)
		}
	}
	flush()
	return best, best != nil
}

func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
