package logs

import (
	"bytes"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

// repeatReader yields prefix, then n bytes of fill, then suffix, without
// holding the n bytes.
type repeatReader struct {
	prefix, suffix string
	fill           byte
	n              int64
	stage          int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	switch {
	case r.stage == 0:
		r.stage = 1
		return copy(p, r.prefix), nil
	case r.n > 0:
		k := min(int64(len(p)), r.n)
		p[0] = r.fill
		for i := 1; i < int(k); i *= 2 {
			copy(p[i:k], p[:i])
		}
		r.n -= k
		return int(k), nil
	case r.stage == 1:
		r.stage = 2
		return copy(p, r.suffix), nil
	}
	return 0, io.EOF
}

// allocs runs fn and returns the bytes it allocated.
func allocs(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// A line of 64 MiB is skipped as one malformed line without being held:
// the reader allocates its buffers and nothing that grows with the line.
func TestOverlongLineBoundedMemory(t *testing.T) {
	for _, kind := range []Kind{w3cKind, csvKind} {
		for _, fill := range []byte{'a', 0, '"'} {
			var cov *Coverage
			var recs []string
			got := allocs(func() {
				src := &repeatReader{
					prefix: "#Fields: date,time,x\n",
					fill:   fill, n: 64 << 20,
					suffix: "\n#Fields: DateTime,X\n2021-03-05T01:00:00Z,after\n",
				}
				r := NewReader(src, "big", kind, nil)
				for r.Next() {
					recs = append(recs, string(r.Record().Lookup("X")))
				}
				cov = r.Coverage()
			})
			if got > 4<<20 {
				t.Errorf("%v fill %q: allocated %d bytes", kind, fill, got)
			}
			if len(recs) != 1 || recs[0] != "after" || cov.Malformed != 1 || cov.Lines != 4 || cov.Issues[0].Kind != IssueOverlong || cov.Issues[0].Line != 2 {
				t.Errorf("%v fill %q: records %q coverage %+v", kind, fill, recs, cov)
			}
		}
	}
}

// Lines that each open a quote which never closes would make a naive
// "retry from the next line" loop rescan MaxLine bytes per line. The
// rescan budget keeps the work linear.
func TestUnclosedQuotesLinear(t *testing.T) {
	line := "2021-03-05T01:00:00Z,\"b\n"
	n := (16 << 20) / len(line)
	in := "#Fields: DateTime,A\n" + strings.Repeat(line, n)
	start := time.Now()
	r := NewReader(strings.NewReader(in), "q", csvKind, nil)
	for r.Next() {
	}
	el := time.Since(start)
	c := r.Coverage()
	if c.Lines != int64(n+1) || c.Records != 0 || c.Malformed == 0 {
		t.Errorf("coverage %+v", c)
	}
	if r.rescanned > 2*int64(len(in)) {
		t.Errorf("rescanned %d bytes of %d", r.rescanned, len(in))
	}
	t.Logf("16 MiB of unclosed quotes in %v, %d malformed", el, c.Malformed)
}

// Per-record allocation is zero in steady state: the benchmark target
// depends on it.
func TestSteadyStateAllocs(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("#Fields: DateTime,A,B\n")
	for i := 0; i < 20000; i++ {
		b.WriteString("2021-03-05T01:00:00.123Z,\"quoted, \"\"value\"\"\",plain\n")
	}
	data := b.Bytes()
	per := testing.AllocsPerRun(5, func() {
		r := NewReader(bytes.NewReader(data), "a", csvKind, nil)
		for r.Next() {
		}
	})
	if per > 20 {
		t.Errorf("%v allocations for 20000 records", per)
	}
}
