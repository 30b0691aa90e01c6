package rules

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// acChunk is how much input one automaton call sees. The library returns all
// overlapping hits of a call as one slice, so a hostile file full of atoms
// could otherwise allocate without bound.
const acChunk = 64 << 10

type smatch struct {
	off int
	len int
}

type scanState struct {
	rs       *RuleSet
	data     []byte
	filesize int64

	lits   [][]smatch // per pattern, literal hits (unsorted until finalised)
	cands  [][]span   // per regex pattern, candidate windows
	starts [][]int    // per prefix-mode regex pattern, candidate starts
	whole  []bool     // too many candidates: search the whole input once

	highBefore []int32 // per block of highBlockSize: bytes >= 0x80 before it
	latinAll   []byte  // Latin-1 transcoding of data, made on first need
	done       []bool  // pattern's match list is final
	saturated  []bool  // hit MaxMatchesPerString
	ruleRes    []tri
	ruleSeen   []bool
}

type span struct{ lo, hi int }

// bufPool recycles the per-scan copies of the input (lower-cased for the
// automaton, Latin-1 for regexps) so that scanning many files does not churn
// the heap with 16 MiB buffers.
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

// maxPooled keeps unusually large buffers out of the pool.
const maxPooled = 4 * DefaultMaxFileBytes

func putBuf(b []byte) {
	if cap(b) <= maxPooled {
		bufPool.Put(&b)
	}
}

func (s *scanState) release() {
	if s.latinAll != nil {
		putBuf(s.latinAll[:0])
		s.latinAll = nil
	}
}

// Scan implements Engine. filesize is len(data).
func (rs *RuleSet) Scan(data []byte) []Match {
	return rs.scan(data, int64(len(data)), nil)
}

func (rs *RuleSet) scan(data []byte, filesize int64, saturated *[]string) []Match {
	s := &scanState{
		rs:        rs,
		data:      data,
		filesize:  filesize,
		lits:      make([][]smatch, len(rs.pats)),
		cands:     make([][]span, len(rs.pats)),
		starts:    make([][]int, len(rs.pats)),
		whole:     make([]bool, len(rs.pats)),
		done:      make([]bool, len(rs.pats)),
		saturated: make([]bool, len(rs.pats)),
		ruleRes:   make([]tri, len(rs.rules)),
		ruleSeen:  make([]bool, len(rs.rules)),
	}
	s.findAtoms()
	defer s.release()
	var out []Match
	for _, g := range rs.globals {
		if s.ruleResult(g) != triTrue {
			return nil
		}
	}
	for i, r := range rs.rules {
		if r.private || s.ruleResult(i) != triTrue {
			continue
		}
		out = append(out, s.report(r))
	}
	if saturated != nil {
		for i, sat := range s.saturated {
			if sat {
				p := rs.pats[i]
				*saturated = append(*saturated, rs.rules[p.rule].name+":"+p.id)
			}
		}
	}
	return out
}

// ruleResult evaluates a rule once per scan. Rules only reference earlier
// rules (gyp enforces declaration order), so there is no cycle.
func (s *scanState) ruleResult(i int) tri {
	if !s.ruleSeen[i] {
		s.ruleSeen[i] = true
		s.ruleRes[i] = s.rs.rules[i].cond.eval(s)
	}
	return s.ruleRes[i]
}

// findAtoms runs the automaton once over the ASCII-lower-cased input. Literal
// hits are verified on the spot (exact bytes unless nocase, fullword); regex
// atoms only mark windows to check later, if the condition ever asks.
func (s *scanState) findAtoms() {
	rs := s.rs
	if rs.ac == nil || len(s.data) == 0 {
		return
	}
	bp := bufPool.Get().(*[]byte)
	folded := append((*bp)[:0], s.data...)
	for i, c := range folded {
		if c >= 'A' && c <= 'Z' {
			folded[i] = c + 'a' - 'A'
		}
	}
	defer putBuf(folded[:0])
	overlap := rs.atomMax - 1
	for start := 0; start < len(folded); start += acChunk {
		end := min(start+acChunk, len(folded))
		hiEnd := min(end+overlap, len(folded))
		for _, m := range rs.ac.FindAllOverlapping(folded[start:hiEnd]) {
			pos := start + m.Start
			if pos >= end {
				// Starts in the next chunk's territory; it will be seen there.
				continue
			}
			for _, u := range rs.users[m.PatternID] {
				s.atomHit(u, pos)
			}
		}
	}
}

func (s *scanState) atomHit(u atomUser, pos int) {
	pi := int(u.pat)
	if s.saturated[pi] {
		return
	}
	p := s.rs.pats[pi]
	if u.variant == variantPrefix {
		if s.whole[pi] {
			return
		}
		s.starts[pi] = append(s.starts[pi], pos)
		if len(s.starts[pi]) > maxStarts {
			// So many candidates that one pass over the input is cheaper
			// and keeps memory flat.
			s.whole[pi], s.starts[pi] = true, nil
		}
		return
	}
	if u.variant == variantWindow {
		w := p.re.window
		lo := max(0, pos-w)
		hi := min(len(s.data), pos+int(u.length)+w)
		c := s.cands[pi]
		if n := len(c); n > 0 && lo <= c[n-1].hi {
			// Hits arrive nearly in order; extend the last window.
			c[n-1].lo = min(c[n-1].lo, lo)
			c[n-1].hi = max(c[n-1].hi, hi)
			return
		}
		s.cands[pi] = append(c, span{lo, hi})
		return
	}
	v := p.variants[u.variant]
	end := pos + len(v.b)
	if !p.nocase && !bytes.Equal(s.data[pos:end], v.b) {
		return
	}
	if p.fullword && !isFullword(s.data, pos, end, v.wide) {
		return
	}
	s.lits[pi] = append(s.lits[pi], smatch{pos, len(v.b)})
	if len(s.lits[pi]) >= s.rs.opts.MaxMatchesPerString {
		s.saturated[pi] = true
	}
}

// isFullword follows YARA: the match must not touch an alphanumeric character;
// for wide strings the neighbouring UTF-16 unit is checked.
func isFullword(data []byte, start, end int, wide bool) bool {
	if wide {
		if start >= 2 && data[start-1] == 0 && isAlnum(data[start-2]) {
			return false
		}
		if end+1 < len(data) && data[end+1] == 0 && isAlnum(data[end]) {
			return false
		}
		return true
	}
	if start >= 1 && isAlnum(data[start-1]) {
		return false
	}
	if end < len(data) && isAlnum(data[end]) {
		return false
	}
	return true
}

// matches returns the sorted matches of pattern i, computing regex matches on
// first use.
func (s *scanState) matches(i int) []smatch {
	if s.done[i] {
		return s.lits[i]
	}
	s.done[i] = true
	p := s.rs.pats[i]
	if p.kind == patLiteral {
		ms := s.lits[i]
		sort.Slice(ms, func(a, b int) bool {
			if ms[a].off != ms[b].off {
				return ms[a].off < ms[b].off
			}
			return ms[a].len > ms[b].len
		})
		// Several variants (ascii and wide, xor keys, base64 shifts) may
		// hit at one offset; YARA reports one match per offset, the
		// longest first.
		s.lits[i] = slices.CompactFunc(ms, func(a, b smatch) bool { return a.off == b.off })
		return s.lits[i]
	}
	limit := s.rs.opts.MaxMatchesPerString
	if p.re.prefix != nil && !s.whole[i] {
		if out, ok := s.verifyStarts(p, i, limit); ok {
			s.lits[i] = out
			return out
		}
		s.whole[i] = true
	}
	var spans []span
	if p.re.atoms == nil || s.whole[i] {
		spans = []span{{0, len(s.data)}}
	} else {
		spans = mergeSpans(s.cands[i])
	}
	s.cands[i] = nil
	var out []smatch
	for _, sp := range spans {
		out = s.runRegexp(p, sp, out, limit)
		if len(out) >= limit {
			s.saturated[i] = true
			out = out[:limit]
			break
		}
	}
	s.lits[i] = out
	return out
}

// maxStarts bounds the candidate starts kept per pattern and file.
const maxStarts = 1 << 16

const highBlockSize = 64

// verifyStarts runs the anchored program at every candidate start. The work is
// budgeted by the bytes offered to the program: past 32 times the input size
// (plus 4 MiB), ok is false and the caller does one linear pass over the whole
// input instead, so a file crafted to hit an atom everywhere costs at most a
// constant factor more than a plain search.
func (s *scanState) verifyStarts(p *pattern, i, limit int) (out []smatch, ok bool) {
	starts := s.starts[i]
	s.starts[i] = nil
	sort.Ints(starts)
	starts = slices.Compact(starts)
	budget := 32*len(s.data) + 4<<20
	spent := 0
	for _, pos := range starts {
		end := min(len(s.data), pos+p.re.window)
		spent += end - pos
		if spent > budget {
			return nil, false
		}
		subject, ascii := s.view(pos, end)
		loc := p.re.atStart.FindIndex(subject)
		if loc == nil {
			continue
		}
		n := loc[1]
		if !ascii {
			n = utf8.RuneCount(subject[:n])
		}
		if p.fullword && !isFullword(s.data, pos, pos+n, false) {
			continue
		}
		out = append(out, smatch{pos, n})
		if len(out) >= limit {
			s.saturated[i] = true
			break
		}
	}
	return out, true
}

// view returns data[lo:hi] as the regexp programs must see it: the bytes
// themselves when they are all ASCII (ascii true), else the Latin-1
// transcoding, cut from a copy of the whole input made once per scan so that
// many candidates in one file do not each pay for a conversion.
func (s *scanState) view(lo, hi int) (subject []byte, ascii bool) {
	if s.highBefore == nil {
		// highBefore[b] counts bytes >= 0x80 in the blocks before b.
		blocks := (len(s.data) + highBlockSize - 1) / highBlockSize
		s.highBefore = make([]int32, blocks+1)
		for b := range blocks {
			blk := s.data[b*highBlockSize : min(len(s.data), (b+1)*highBlockSize)]
			s.highBefore[b+1] = s.highBefore[b] + int32(countHigh(blk))
		}
	}
	if hi <= lo {
		return s.data[lo:lo], true
	}
	bl, bh := lo/highBlockSize, (hi-1)/highBlockSize
	if s.highBefore[bh+1] == s.highBefore[bl] {
		return s.data[lo:hi], true
	}
	if s.latinAll == nil {
		bp := bufPool.Get().(*[]byte)
		s.latinAll = toLatin1((*bp)[:0], s.data)
	}
	return s.latinAll[s.latinOffset(lo):s.latinOffset(hi)], false
}

// latinOffset maps a byte offset to its offset in the Latin-1 transcoding.
func (s *scanState) latinOffset(pos int) int {
	b := pos / highBlockSize
	return pos + int(s.highBefore[b]) + countHigh(s.data[b*highBlockSize:pos])
}

func countHigh(b []byte) int {
	n := 0
	for len(b) >= 8 {
		n += bits.OnesCount64(binary.LittleEndian.Uint64(b) & highBits)
		b = b[8:]
	}
	for _, c := range b {
		n += int(c >> 7)
	}
	return n
}

// patCost is how much work the matches of pattern i still need: 0 for
// literals (found by the automaton pass) and for verified or candidate-free
// regexes.
func (s *scanState) patCost(i int) int {
	p := s.rs.pats[i]
	if s.done[i] || p.kind == patLiteral {
		return 0
	}
	switch {
	case s.whole[i] || (p.re.prefix == nil && p.re.atoms == nil):
		return len(s.data)/64 + 1
	case p.re.prefix != nil:
		return len(s.starts[i])
	}
	return 4 * len(s.cands[i])
}

// ruleCost: a rule evaluated earlier in this scan is free.
func (s *scanState) ruleCost(r int) int {
	if s.ruleSeen[r] {
		return 0
	}
	return 1
}

// freePatsFirst yields pattern indexes whose matches are already known, then
// the rest in source order.
func (s *scanState) freePatsFirst(pats []int) func(func(int) bool) {
	return func(yield func(int) bool) {
		if len(pats) > 64 {
			for _, p := range pats {
				if !yield(p) {
					return
				}
			}
			return
		}
		var free uint64
		for k, p := range pats {
			if s.patCost(p) == 0 {
				free |= 1 << k
				if !yield(p) {
					return
				}
			}
		}
		for k, p := range pats {
			if free&(1<<k) == 0 && !yield(p) {
				return
			}
		}
	}
}

func mergeSpans(c []span) []span {
	if len(c) < 2 {
		return c
	}
	sort.Slice(c, func(a, b int) bool { return c[a].lo < c[b].lo })
	out := c[:1]
	for _, sp := range c[1:] {
		last := &out[len(out)-1]
		if sp.lo <= last.hi {
			last.hi = max(last.hi, sp.hi)
			continue
		}
		out = append(out, sp)
	}
	return out
}

// runRegexp matches p inside data[sp.lo:sp.hi] and appends matches with file
// offsets.
func (s *scanState) runRegexp(p *pattern, sp span, out []smatch, limit int) []smatch {
	subject, ascii := s.view(sp.lo, sp.hi)
	// Ask for one more than needed so saturation is visible.
	locs := p.re.re.FindAllIndex(subject, limit-len(out)+1)
	// Map transcoded offsets back to byte offsets, walking forward once.
	runePos, bytePos := 0, 0
	toByte := func(off int) int {
		if ascii {
			return off
		}
		for runePos < off {
			_, n := utf8.DecodeRune(subject[runePos:])
			runePos += n
			bytePos++
		}
		return bytePos
	}
	for _, l := range locs {
		st := toByte(l[0])
		en := toByte(l[1])
		if p.fullword && !isFullword(s.data, sp.lo+st, sp.lo+en, false) {
			continue
		}
		out = append(out, smatch{sp.lo + st, en - st})
	}
	return out
}

// toLatin1 appends src to dst with every byte >= 0x80 written as the UTF-8 of
// the rune with that value; ASCII runs are copied whole.
func toLatin1(dst, src []byte) []byte {
	for len(src) > 0 {
		i := firstHigh(src)
		dst = append(dst, src[:i]...)
		if i == len(src) {
			break
		}
		c := src[i]
		dst = append(dst, 0xC0|c>>6, 0x80|c&0x3F)
		src = src[i+1:]
	}
	return dst
}

const highBits = 0x8080808080808080

// firstHigh returns the index of the first byte >= 0x80, or len(b).
func firstHigh(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if binary.LittleEndian.Uint64(b[i:])&highBits != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if b[i] >= 0x80 {
			return i
		}
	}
	return len(b)
}

// report builds the Match for a rule that matched, listing its public strings.
func (s *scanState) report(r *rule) Match {
	// Copies: a caller may keep or edit a Match; the rule set is shared.
	m := Match{Rule: r.name, Tags: slices.Clone(r.tags), Meta: slices.Clone(r.meta)}
	o := s.rs.opts
	for _, pi := range r.pats {
		p := s.rs.pats[pi]
		if p.private {
			continue
		}
		for k, sm := range s.matches(pi) {
			if k >= o.MaxReported {
				break
			}
			m.Strings = append(m.Strings, StringMatch{
				ID:      p.id,
				Offset:  int64(sm.off),
				Length:  sm.len,
				Excerpt: Excerpt(s.data[sm.off:sm.off+sm.len], o.ExcerptBytes),
			})
		}
	}
	return m
}

// Excerpt renders hostile bytes for a terminal, log or report: printable ASCII
// stays, everything else becomes \n, \r, \t or \xHH, and the text is cut at
// limit input bytes with "..." appended.
func Excerpt(b []byte, limit int) string {
	cut := false
	if limit > 0 && len(b) > limit {
		b, cut = b[:limit], true
	}
	var sb strings.Builder
	const hex = "0123456789abcdef"
	for _, c := range b {
		switch {
		case c == '\\':
			sb.WriteString(`\\`)
		case c == '\n':
			sb.WriteString(`\n`)
		case c == '\r':
			sb.WriteString(`\r`)
		case c == '\t':
			sb.WriteString(`\t`)
		case c >= 0x20 && c < 0x7f:
			sb.WriteByte(c)
		default:
			sb.WriteString(`\x`)
			sb.WriteByte(hex[c>>4])
			sb.WriteByte(hex[c&0xF])
		}
	}
	if cut {
		sb.WriteString("...")
	}
	return sb.String()
}

// ScanFile implements Engine. It reads at most Options.MaxFileBytes; filesize in
// conditions is still the file's real size.
func (rs *RuleSet) ScanFile(path string) (Result, error) { return scanFile(path, rs.ScanReader) }

// scanFile opens a regular file and hands it with its size to scan; both
// engines (built-in and libyara) read files this way.
func scanFile(path string, scan func(io.Reader, int64) (Result, error)) (Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	size := int64(-1)
	if fi, err := f.Stat(); err == nil {
		if !fi.Mode().IsRegular() {
			return Result{}, fmt.Errorf("%s: not a regular file", path)
		}
		size = fi.Size()
	}
	res, err := scan(f, size)
	if err != nil {
		return res, fmt.Errorf("%s: %w", path, err)
	}
	return res, nil
}

// ScanReader implements Engine.
func (rs *RuleSet) ScanReader(r io.Reader, size int64) (Result, error) {
	data, truncated, err := readCapped(r, size, rs.opts.MaxFileBytes)
	if err != nil {
		return Result{}, err
	}
	res := Result{Scanned: int64(len(data)), Size: size}
	if size < int64(len(data)) {
		// Unknown size, or the file grew while we read it.
		res.Size = int64(len(data))
	}
	res.Truncated = truncated || res.Scanned < res.Size
	res.Matches = rs.scan(data, res.Size, &res.Saturated)
	return res, nil
}

// readCapped reads up to limit bytes. truncated reports that more data was
// available. The buffer is sized from the declared size when known, so a lying
// size costs at most limit bytes.
func readCapped(r io.Reader, size, limit int64) ([]byte, bool, error) {
	n := limit
	if size >= 0 && size < n {
		n = size
	}
	buf := make([]byte, 0, n+1)
	lr := io.LimitReader(r, limit+1)
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(int64(cap(buf))+1, limit+1-int64(len(buf)))))
		}
		k, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, false, err
		}
		if int64(len(buf)) > limit {
			break
		}
	}
	if int64(len(buf)) > limit {
		return buf[:limit], true, nil
	}
	return buf, false, nil
}
