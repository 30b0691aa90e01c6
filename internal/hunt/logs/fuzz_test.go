package logs

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fuzzMaxLine is small so that fuzzed inputs reach the caps.
const fuzzMaxLine = 256

// checkStream reads data and checks what must hold for any input: no
// panic, records in line order and within the caps, field values inside
// the record, memory bounded by the options, and a filter that only
// removes records (compared with an unfiltered read of the same bytes).
func checkStream(t *testing.T, data []byte, kind Kind, lits []string) {
	var f *Filter
	if len(lits) > 0 {
		f = &Filter{}
		for i, l := range lits {
			if i%2 == 0 {
				f.Add(l)
			} else {
				f.AddFold(l)
			}
		}
	}
	read := func(f *Filter) ([]rawRec, *Coverage) {
		r := NewReader(bytes.NewReader(data), "fuzz", kind, &Options{Filter: f, MaxLine: fuzzMaxLine})
		bufCap := cap(r.buf)
		var out []rawRec
		last := int64(0)
		for r.Next() {
			rec := r.Record()
			if rec.Line <= last || rec.Line > r.cov.Lines {
				t.Fatalf("record line %d after %d, %d lines read", rec.Line, last, r.cov.Lines)
			}
			last = rec.Line
			if len(rec.Raw) > fuzzMaxLine {
				t.Fatalf("record of %d bytes > MaxLine", len(rec.Raw))
			}
			if rec.NumFields() != len(rec.Header.Fields) || rec.NumFields() > maxHeaderFields {
				t.Fatalf("%d values for %d fields", rec.NumFields(), len(rec.Header.Fields))
			}
			for i := 0; i < rec.NumFields(); i++ {
				if len(rec.Get(i)) > len(rec.Raw) {
					t.Fatalf("field %d longer than the record", i)
				}
			}
			if !rec.Time.IsZero() && rec.Time.Location().String() != "UTC" {
				t.Fatalf("time not UTC: %v", rec.Time)
			}
			out = append(out, rawRec{rec.Line, string(rec.Raw)})
		}
		if cap(r.buf) != bufCap || cap(r.scratch) > fuzzMaxLine {
			t.Fatalf("buffers grew: buf %d->%d scratch %d", bufCap, cap(r.buf), cap(r.scratch))
		}
		c := r.Coverage()
		if c.Records != int64(len(out)) || c.Records+c.Filtered > c.Lines || len(c.Issues) > DefaultMaxIssues {
			t.Fatalf("coverage: %+v with %d records", c, len(out))
		}
		if c.Bytes != int64(len(data)) {
			t.Fatalf("read %d of %d bytes", c.Bytes, len(data))
		}
		return out, c
	}
	all, covAll := read(nil)
	if f == nil {
		return
	}
	got, cov := read(f)
	var want []rawRec
	for _, r := range all {
		if f.Match([]byte(r.Raw)) {
			want = append(want, r)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("filter changed the records (-want +got):\n%s", diff)
	}
	if cov.Lines != covAll.Lines || cov.Records+cov.Filtered+cov.Malformed != covAll.Records+covAll.Malformed {
		t.Fatalf("filter changed the accounting: %+v vs %+v", cov, covAll)
	}
}

func addFixtureSeeds(f *testing.F, glob string) {
	files, _ := filepath.Glob(glob)
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "ServerInfo~", "/ECP/")
	}
}

func FuzzW3C(f *testing.F) {
	addFixtureSeeds(f, "testdata/inetpub/logs/LogFiles/W3SVC1/*.log")
	f.Add([]byte(iisField+"2021-03-05 01:02:03 a b c d 443 - e f - 200 0 0 1\n"), "a", "")
	f.Add([]byte("2021-03-05 01:02:03 10.0.0.5 GET / - 443 - 1.2.3.4 UA 200 0 0 1\r\n#Fields: time\n"), "", "")
	f.Add([]byte("#Fields: date time cs-uri-query x\n2021-03-05 01:02:03   \n#Date: 2021-03-05\n#Fields: time\n\x00\x00"), "-", "\x00")
	f.Fuzz(func(t *testing.T, data []byte, lit1, lit2 string) {
		checkStream(t, data, w3cKind, []string{lit1, lit2})
	})
}

func FuzzCSV(f *testing.F) {
	addFixtureSeeds(f, "testdata/exchange/Logging/*/*/*.LOG")
	addFixtureSeeds(f, "testdata/exchange/Logging/*/*.LOG")
	f.Add([]byte("#Fields: DateTime,A\n2021-03-05T01:00:00Z,\"a\n\"\"b\",c\n\"\n"), "b", "A")
	f.Add([]byte("DateTime,A\n2021-03-05T01:00:00Z,x\"y\",\"\"\"\n,\n"), "\"", ",")
	f.Fuzz(func(t *testing.T, data []byte, lit1, lit2 string) {
		checkStream(t, data, csvKind, []string{lit1, lit2})
	})
}

// FuzzCSVRoundTrip writes fields with encoding/csv, as Exchange's writer
// quotes them, and checks the reader gives the same values back.
func FuzzCSVRoundTrip(f *testing.F) {
	f.Add("plain", "with,comma", `with "quotes"`, "multi\r\nline")
	f.Add("", "\"", "\n", " lead")
	f.Add("#hash", "a\"b", "\r", "x,\"\r\n\"")
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		vals := []string{a, b, c, d}
		var buf bytes.Buffer
		buf.WriteString("#Fields: DateTime,A,B,C,D\r\n")
		w := csv.NewWriter(&buf)
		w.UseCRLF = !slices.ContainsFunc(vals, func(s string) bool { return strings.Contains(s, "\r") })
		rec := append([]string{"2021-03-05T01:00:00Z"}, vals...)
		if err := w.Write(rec); err != nil {
			return
		}
		w.Flush()
		if buf.Len() > DefaultMaxLine || w.Error() != nil {
			return
		}
		if w.UseCRLF {
			// UseCRLF turns \n inside fields into \r\n: compare with that.
			for i, v := range vals {
				vals[i] = strings.ReplaceAll(v, "\n", "\r\n")
			}
		}
		r := NewReader(bytes.NewReader(buf.Bytes()), "rt", csvKind, nil)
		if !r.Next() {
			t.Fatalf("no record from %q: %+v", buf.String(), r.Coverage())
		}
		var got []string
		for i := 1; i < r.Record().NumFields(); i++ {
			got = append(got, string(r.Record().Get(i)))
		}
		if diff := cmp.Diff(vals, got); diff != "" {
			t.Fatalf("round trip of %q (-want +got):\n%s", buf.String(), diff)
		}
		if r.Next() {
			t.Fatalf("extra record from %q", buf.String())
		}
	})
}

// FuzzEVTX mutates the chunk of a real sample: the velocidex parser must
// never take the process down and every chunk is accounted for.
func FuzzEVTX(f *testing.F) {
	orig, err := os.ReadFile(evtxDir + "ID6-Failed_to_install_an_Exchange_transport_agent.evtx")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint16(0x200), []byte{0xff, 0xff})
	f.Add(uint16(0x230), []byte("\x0c\x01\x00\x00\x00\x00"))
	f.Add(uint16(0x30), []byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, off uint16, patch []byte) {
		if len(patch) > 256 {
			patch = patch[:256]
		}
		data := append([]byte(nil), orig[:0x1000+0x10000]...)
		copy(data[0x1000+int(off)%0x10000:], patch)
		r, err := NewEVTXReader(bytes.NewReader(data), int64(len(data)), "fuzz.evtx", nil)
		if err != nil {
			t.Fatal(err)
		}
		n := int64(0)
		for r.Next() {
			n++
			e := r.Event()
			for k, v := range e.Data {
				if len(k) > maxFieldName || len(v) > 16<<10+len("…") {
					t.Fatalf("uncapped value %q", k)
				}
			}
		}
		c := r.Coverage()
		if c.Records != n || c.Records+c.Malformed == 0 && binary.LittleEndian.Uint64(data[0x1000+8:]) <= binary.LittleEndian.Uint64(data[0x1000+16:]) && c.Chunks > 0 {
			t.Fatalf("coverage %+v after %d events", c, n)
		}
	})
}
