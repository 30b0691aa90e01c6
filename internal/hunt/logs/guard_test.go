package logs

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func sampleChunk(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(evtxDir + name)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), data[0x1000:0x11000]...)
}

func TestChunkGuard(t *testing.T) {
	files, _ := filepath.Glob(evtxDir + "*.evtx")
	for _, p := range files {
		c := sampleChunk(t, filepath.Base(p))
		start := time.Now()
		if why := checkChunk(c); why != "" {
			t.Errorf("%s: real chunk refused: %s", p, why)
		}
		if el := time.Since(start); el > 50*time.Millisecond {
			t.Errorf("%s: guard took %v", p, el)
		}
	}
	const id6 = "ID6-Failed_to_install_an_Exchange_transport_agent.evtx"
	tests := []struct {
		name  string
		patch func([]byte)
		want  string
	}{
		// FuzzEVTX's crasher: the re-read argument count becomes huge and
		// velocidex would append ~2^32 descriptors.
		{"argument count after an inline template", func(c []byte) { copy(c[570:], "00") },
			"corrupt chunk: parse would not terminate in reasonable time"},
		// A record of size 0 is parsed again up to 10,240 times (about a
		// second of velocidex's time for this one).
		{"a record repeats 10,240 times", func(c []byte) {
			binary.LittleEndian.PutUint32(c[0x200+4:], 0)
			binary.LittleEndian.PutUint64(c[16:], ^uint64(0))
		}, "corrupt chunk: parse would not terminate in reasonable time"},
		{"a record repeats 4 times", func(c []byte) {
			binary.LittleEndian.PutUint32(c[0x200+4:], 0)
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sampleChunk(t, id6)
			tt.patch(c)
			start := time.Now()
			if got := checkChunk(c); got != tt.want {
				t.Errorf("checkChunk = %q, want %q", got, tt.want)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("guard took %v", el)
			}
		})
	}
	// The repeats the guard lets through reach the caller once.
	data, _ := os.ReadFile(evtxDir + id6)
	rep := append([]byte(nil), data...)
	binary.LittleEndian.PutUint32(rep[0x1000+0x200+4:], 0)
	evs, cov := readEventsBytes(t, rep)
	if len(evs) != 1 || evs[0].RecordID != 7184 || cov.Records != 1 || cov.Malformed != 3 {
		t.Errorf("size-0 record: %d events, coverage %+v", len(evs), cov)
	}
	if checkChunk(make([]byte, 100)) != "short chunk" {
		t.Error("short chunk accepted")
	}
	// Through the reader: the refused chunk is counted, the run goes on.
	bad := append(append([]byte(nil), data...), data[0x1000:0x11000]...)
	copy(bad[0x11000+570:], "00")
	evs, cov = readEventsBytes(t, bad)
	if len(evs) != 4 || cov.Malformed != 1 || cov.Chunks != 2 || len(cov.Issues) != 1 ||
		!bytes.Contains([]byte(cov.Issues[0].String()), []byte("mem.evtx@0x11000: bad-chunk: corrupt chunk")) {
		t.Errorf("%d events, coverage %+v", len(evs), cov)
	}
}
