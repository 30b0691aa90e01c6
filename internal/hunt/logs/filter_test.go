package logs

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type rawRec struct {
	Line int64
	Raw  string
}

// readRaw returns every record's line and raw bytes, and the coverage.
func readRaw(t testing.TB, r *Reader) ([]rawRec, *Coverage) {
	t.Helper()
	var out []rawRec
	for r.Next() {
		out = append(out, rawRec{r.Record().Line, string(r.Record().Raw)})
	}
	return out, r.Coverage()
}

// checkFilter reads the same input with and without f and checks that the
// filter only removes what it should: the filtered records are exactly the
// unfiltered ones containing a literal, and coverage is unchanged.
func checkFilter(t testing.TB, open func(*Filter) *Reader, f *Filter) {
	t.Helper()
	all, covAll := readRaw(t, open(nil))
	got, cov := readRaw(t, open(f))
	var want []rawRec
	for _, r := range all {
		if f.Match([]byte(r.Raw)) {
			want = append(want, r)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("filtered records (-want +got):\n%s", diff)
	}
	if cov.Lines != covAll.Lines || !cov.First.Equal(covAll.First) || !cov.Last.Equal(covAll.Last) {
		t.Errorf("coverage changed by the filter: lines %d/%d first %v/%v last %v/%v",
			cov.Lines, covAll.Lines, cov.First, covAll.First, cov.Last, covAll.Last)
	}
	if cov.Records+cov.Filtered+cov.Malformed != covAll.Records+covAll.Malformed {
		t.Errorf("records %d+%d+%d, unfiltered %d+%d", cov.Records, cov.Filtered, cov.Malformed, covAll.Records, covAll.Malformed)
	}
}

func TestFilterOnFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/*/*/*/*/*")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("testdata/exchange/Logging/*/*/*.LOG")
	more2, _ := filepath.Glob("testdata/exchange/Logging/*/*/*/*.LOG")
	files = append(append(files, more...), more2...)
	filters := map[string]*Filter{
		"ServerInfo~":    NewFilter("ServerInfo~"),
		"script":         NewFilter("<script", "Download failed and temporary file"),
		"fold":           (&Filter{}).AddFold("/ECP/").AddFold("set-oabvirtualdirectory"),
		"mixed":          NewFilter("New-MailboxExportRequest").AddFold("POST /OWA/"),
		"none-match":     NewFilter("no such literal anywhere"),
		"multi-line hit": NewFilter("continued", "two lines, with"),
	}
	seen := 0
	for _, p := range files {
		k, err := SniffFile(p)
		if err != nil || !k.Type.IsText() {
			continue
		}
		seen++
		for name, f := range filters {
			t.Run(filepath.Base(p)+"/"+name, func(t *testing.T) {
				checkFilter(t, func(f *Filter) *Reader {
					r, err := Open(p, &Options{Filter: f})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { r.Close() })
					return r
				}, f)
			})
		}
	}
	if seen < 6 {
		t.Fatalf("only %d fixtures found", seen)
	}
}

// TestFilterAcrossBuffers exercises the filter's per-literal position cache
// across many buffer refills, with hits at random places, records that
// span lines and case variants.
func TestFilterAcrossBuffers(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString("#Fields: DateTime,A,B\r\n")
	for i := 0; b.Len() < 3<<20; i++ {
		pad := strings.Repeat("p", rng.IntN(400))
		a := "a" + pad
		switch rng.IntN(40) {
		case 0:
			a = "x" + pad + "ServerInfo~" + pad
		case 1:
			a = "x" + pad + "serverINFO~" + pad
		case 2:
			a = "\"multi\r\nline ServerInfo~\r\nend\""
		case 3:
			a = "\"multi\nline\""
		case 4:
			a = strings.Repeat("q", 2*DefaultMaxLine) // overlong
		}
		fmt.Fprintf(&b, "2021-03-05T01:%02d:%02d.%03dZ,%s,b%d\r\n", i/60%60, i%60, i%1000, a, i)
	}
	in := b.String()
	open := func(f *Filter) *Reader {
		return NewReader(strings.NewReader(in), "gen.log", csvKind, &Options{Filter: f})
	}
	t.Run("exact", func(t *testing.T) { checkFilter(t, open, NewFilter("ServerInfo~")) })
	t.Run("fold", func(t *testing.T) { checkFilter(t, open, (&Filter{}).AddFold("SERVERinfo~")) })
	t.Run("several", func(t *testing.T) { checkFilter(t, open, NewFilter("b17", "b999", "ServerInfo~").AddFold("MULTI")) })
	t.Run("common", func(t *testing.T) { checkFilter(t, open, NewFilter("pp")) })
}

func TestFilterSemantics(t *testing.T) {
	in := iisHead + iisField +
		"2021-03-05 01:00:00 10.0.0.5 POST /ecp/y.js - 443 - 192.0.2.1 UA - 200 0 0 1\n" +
		"2021-03-05 02:00:00 10.0.0.5 GET /owa/ - 443 - 192.0.2.1 UA - 200 0 0 1\n"
	count := func(f *Filter) (int64, int64) {
		r := NewReader(strings.NewReader(in), "t", w3cKind, &Options{Filter: f})
		for r.Next() {
		}
		c := r.Coverage()
		if c.First.IsZero() || c.Last.IsZero() {
			t.Errorf("coverage times lost under filter")
		}
		return c.Records, c.Filtered
	}
	tests := []struct {
		name              string
		f                 *Filter
		records, filtered int64
	}{
		{"nil reads everything", nil, 2, 0},
		{"empty filter reads nothing (coverage only)", &Filter{}, 0, 2},
		{"exact literal", NewFilter("/ecp/y.js"), 1, 1},
		{"exact is case-sensitive", NewFilter("/ECP/Y.JS"), 0, 2},
		{"fold literal", (&Filter{}).AddFold("/ECP/Y.JS"), 1, 1},
		{"merge is a union", Merge(NewFilter("/ecp/"), NewFilter("/owa/")), 2, 0},
		{"merge with nil is nil", Merge(NewFilter("/ecp/"), nil), 2, 0},
		{"empty literal ignored", NewFilter(""), 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, filt := count(tt.f)
			if rec != tt.records || filt != tt.filtered {
				t.Errorf("records %d filtered %d, want %d %d", rec, filt, tt.records, tt.filtered)
			}
		})
	}
	if Merge(NewFilter("a"), nil) != nil {
		t.Error("Merge with nil must be nil")
	}
	var nilF *Filter
	if !nilF.Match([]byte("x")) || (&Filter{}).Match([]byte("x")) {
		t.Error("Match on nil/empty")
	}
	if !(&Filter{}).AddFold("ServerINFO~").Match([]byte("serverinfo~")) {
		t.Error("fold Match")
	}
}

func TestLowerInto(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 100; n++ {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(rng.UintN(256))
		}
		want := make([]byte, n)
		for i, c := range src {
			if 'A' <= c && c <= 'Z' {
				c += 32
			}
			want[i] = c
		}
		if got := lowerASCII(nil, src); !bytes.Equal(got, want) {
			t.Fatalf("lowerASCII(%q) = %q, want %q", src, got, want)
		}
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for i, c := range lowerASCII(nil, all) {
		w := byte(i)
		if 'A' <= w && w <= 'Z' {
			w += 32
		}
		if c != w {
			t.Fatalf("byte %#x -> %#x", i, c)
		}
	}
}
