package target

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

// lineReader reads lines of at most max bytes (without "\n" or "\r\n").
// A longer line is reported as too long with a short preview, and skipped
// without ever being held in memory as a whole.
type lineReader struct {
	br   *bufio.Reader
	max  int
	line int // number of the line last returned
	done bool
	err  error // read error other than io.EOF
}

const previewBytes = 64

func newLineReader(r io.Reader, max int) *lineReader {
	br := bufio.NewReaderSize(r, max+2)
	// Windows tools write byte-order marks; PowerShell's ">" writes UTF-16.
	if b, _ := br.Peek(2); len(b) == 2 && (b[0] == 0xFF && b[1] == 0xFE || b[0] == 0xFE && b[1] == 0xFF) {
		br.Discard(2)
		br = bufio.NewReaderSize(&utf16Reader{r: br, bigEndian: b[0] == 0xFE}, max+2)
	}
	if b, _ := br.Peek(3); bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3)
	}
	return &lineReader{br: br, max: max}
}

// next returns the next line. ok is false at the end of input or after a
// read error (then r.err is set).
func (r *lineReader) next() (text string, tooLong, ok bool) {
	if r.done {
		return "", false, false
	}
	b, err := r.br.ReadSlice('\n')
	switch {
	case err == nil:
	case errors.Is(err, bufio.ErrBufferFull):
		preview := string(b[:min(len(b), previewBytes)])
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = r.br.ReadSlice('\n')
		}
		if err != nil {
			r.finish(err)
		}
		r.line++
		return preview, true, true
	case err == io.EOF:
		r.done = true
		if len(b) == 0 {
			return "", false, false
		}
	default:
		// A partial line before a read error may be cut anywhere; drop it.
		r.finish(err)
		return "", false, false
	}
	r.line++
	b = bytes.TrimSuffix(b, []byte{'\n'})
	b = bytes.TrimSuffix(b, []byte{'\r'})
	if len(b) > r.max {
		return string(b[:min(len(b), previewBytes)]), true, true
	}
	return string(b), false, true
}

func (r *lineReader) finish(err error) {
	r.done = true
	if err != io.EOF {
		r.err = err
	}
}

// utf16Reader decodes UTF-16 (after its byte-order mark) to UTF-8.
type utf16Reader struct {
	r         io.Reader
	bigEndian bool
	in        [4096]byte
	n         int    // undecoded bytes at the start of in
	buf       []byte // decoded bytes; out is the unread tail
	out       []byte
	err       error
}

func (u *utf16Reader) Read(p []byte) (int, error) {
	for len(u.out) == 0 {
		if u.err != nil {
			return 0, u.err
		}
		m, err := u.r.Read(u.in[u.n:])
		u.n += m
		if err != nil {
			u.err = err
		}
		u.decode(err != nil)
	}
	n := copy(p, u.out)
	u.out = u.out[n:]
	return n, nil
}

// decode converts the complete code units in u.in to u.out, keeping an odd
// byte or a lone high surrogate for the next read unless final.
func (u *utf16Reader) decode(final bool) {
	out := u.buf[:0]
	i := 0
	unit := func(j int) rune {
		if u.bigEndian {
			return rune(u.in[j])<<8 | rune(u.in[j+1])
		}
		return rune(u.in[j+1])<<8 | rune(u.in[j])
	}
	for i+2 <= u.n {
		r := unit(i)
		if utf16.IsSurrogate(r) {
			if i+4 > u.n && !final {
				break
			}
			if i+4 <= u.n {
				if d := utf16.DecodeRune(r, unit(i+2)); d != utf8.RuneError {
					out = utf8.AppendRune(out, d)
					i += 4
					continue
				}
			}
			r = utf8.RuneError
		}
		out = utf8.AppendRune(out, r)
		i += 2
	}
	if final && i < u.n {
		out = utf8.AppendRune(out, utf8.RuneError) // odd trailing byte
		i = u.n
	}
	u.n = copy(u.in[:], u.in[i:u.n])
	u.buf, u.out = out, out
}
