package logs

import (
	"bytes"
	"encoding/binary"
)

// Filter is the cheap pre-filter: a Reader given a Filter returns only the
// records whose raw bytes contain at least one of the literals, and skips
// the others before splitting fields or unquoting anything. Directives are
// always processed and coverage (lines, first/last time) stays complete.
//
// Literals are matched against the bytes as written on disk: CSV quotes
// doubled (""), IIS spaces written as '+'. Literals added with AddFold
// match ASCII-case-insensitively (URLs: /ECP/Y.JS reaches the same
// handler as /ecp/y.js, so an attacker may vary case).
//
// A nil *Filter means "every record". A Filter with no literals matches
// nothing, which gives a coverage-only pass. A Filter must not be changed
// once a Reader uses it; one Filter may be shared by many Readers.
type Filter struct {
	exact [][]byte
	fold  [][]byte // stored lower-case
}

// NewFilter returns a Filter matching any of the case-sensitive literals.
func NewFilter(literals ...string) *Filter {
	f := &Filter{}
	for _, l := range literals {
		f.Add(l)
	}
	return f
}

// Add adds a case-sensitive literal. Empty literals are ignored.
func (f *Filter) Add(lit string) *Filter {
	if lit != "" {
		f.exact = append(f.exact, []byte(lit))
	}
	return f
}

// AddFold adds an ASCII-case-insensitive literal. Empty literals are ignored.
func (f *Filter) AddFold(lit string) *Filter {
	if lit != "" {
		f.fold = append(f.fold, []byte(lowerASCIIString(lit)))
	}
	return f
}

// Merge returns a Filter matching what any of fs matches. If any of fs is
// nil (a check that wants every record) the result is nil.
func Merge(fs ...*Filter) *Filter {
	out := &Filter{}
	for _, f := range fs {
		if f == nil {
			return nil
		}
		out.exact = append(out.exact, f.exact...)
		out.fold = append(out.fold, f.fold...)
	}
	return out
}

// Match reports whether b contains one of the literals. Readers use a
// faster buffer-wide search; Match is for callers filtering other data.
func (f *Filter) Match(b []byte) bool {
	if f == nil {
		return true
	}
	for _, l := range f.exact {
		if bytes.Contains(b, l) {
			return true
		}
	}
	if len(f.fold) > 0 {
		lb := lowerASCII(nil, b)
		for _, l := range f.fold {
			if bytes.Contains(lb, l) {
				return true
			}
		}
	}
	return false
}

// Position states for filterState.next.
const (
	posUnknown = -1 // not searched since the buffer changed
	posNone    = -2 // no occurrence between the last search start and the end of data
)

// filterState makes a Filter cheap over a stream: for every literal it
// remembers the next occurrence in the reader's buffer, so the buffer is
// scanned about once per literal instead of once per literal per line.
type filterState struct {
	f     *Filter
	next  []int // per literal (exact then fold): position in buf, or posUnknown/posNone
	lower []byte
}

func newFilterState(f *Filter, bufLen int) *filterState {
	if f == nil {
		return nil
	}
	fs := &filterState{f: f, next: make([]int, len(f.exact)+len(f.fold))}
	if len(f.fold) > 0 {
		fs.lower = make([]byte, bufLen)
	}
	fs.reset()
	return fs
}

func (fs *filterState) reset() {
	for i := range fs.next {
		fs.next[i] = posUnknown
	}
}

// shifted is called after the reader moved buf[shift:w] to buf[0:].
func (fs *filterState) shifted(shift, w int) {
	for i, p := range fs.next {
		if p >= 0 {
			p -= shift
			if p < 0 {
				p = posUnknown
			}
			fs.next[i] = p
		}
	}
	if len(fs.f.fold) > 0 && shift > 0 {
		copy(fs.lower, fs.lower[shift:w])
	}
}

// filled is called after new data arrived in buf[oldW:w]. An occurrence
// already found stays the first one; "none" is no longer known.
func (fs *filterState) filled(buf []byte, oldW, w int) {
	for i, p := range fs.next {
		if p == posNone {
			fs.next[i] = posUnknown
		}
	}
	if len(fs.f.fold) > 0 {
		lowerInto(fs.lower[oldW:w], buf[oldW:w])
	}
}

// match reports whether buf[s:e] contains a literal; w is the end of valid
// data in buf (searches run to w so that one search serves many lines).
func (fs *filterState) match(buf []byte, s, e, w int) bool {
	n := len(fs.f.exact)
	for i := range fs.next {
		var lit, hay []byte
		if i < n {
			lit, hay = fs.f.exact[i], buf
		} else {
			lit, hay = fs.f.fold[i-n], fs.lower
		}
		p := fs.next[i]
		if p == posUnknown || (p >= 0 && p < s) {
			j := bytes.Index(hay[s:w], lit)
			if j < 0 {
				p = posNone
			} else {
				p = s + j
			}
			fs.next[i] = p
		}
		if p >= 0 && p+len(lit) <= e {
			return true
		}
	}
	return false
}

// lowerASCII appends the ASCII-lower-cased b to dst[:0].
func lowerASCII(dst, b []byte) []byte {
	if cap(dst) < len(b) {
		dst = make([]byte, len(b))
	}
	dst = dst[:len(b)]
	lowerInto(dst, b)
	return dst
}

func lowerASCIIString(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return string(lowerASCII(nil, []byte(s)))
		}
	}
	return s
}

// lowerInto writes the ASCII lower case of src to dst (same length), eight
// bytes at a time: case-insensitive literals cost one pass over the data
// instead of a per-byte fold in every comparison.
func lowerInto(dst, src []byte) {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(src); i += 8 {
		w := binary.LittleEndian.Uint64(src[i:])
		h := w &^ high
		ge := h + (0x80-'A')*ones   // high bit set where byte >= 'A'
		gt := h + (0x80-'Z'-1)*ones // high bit set where byte > 'Z'
		mask := ge &^ gt & high &^ w
		binary.LittleEndian.PutUint64(dst[i:], w|mask>>2)
	}
	for ; i < len(src); i++ {
		c := src[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst[i] = c
	}
}
