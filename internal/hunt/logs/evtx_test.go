package logs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const evtxDir = "testdata/evtx/"

func readEvents(t *testing.T, path string, opts *EVTXOptions) ([]Event, *Coverage) {
	t.Helper()
	r, err := OpenEVTX(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var evs []Event
	for r.Next() {
		evs = append(evs, *r.Event())
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return evs, r.Coverage()
}

func readEventsBytes(t *testing.T, data []byte) ([]Event, *Coverage) {
	t.Helper()
	r, err := NewEVTXReader(bytes.NewReader(data), int64(len(data)), "mem.evtx", nil)
	if err != nil {
		t.Fatal(err)
	}
	var evs []Event
	for r.Next() {
		evs = append(evs, *r.Event())
	}
	return evs, r.Coverage()
}

// TestEVTXSamples checks what each CC0 sample contains (see
// testdata/evtx/SOURCES.md): counts per event ID, channel, provider and the
// time span, as decoded and checked by hand from the files.
func TestEVTXSamples(t *testing.T) {
	type sum struct {
		Events      int
		IDs         map[uint32]int
		Channels    map[string]int
		Providers   map[string]int
		Computer    string
		First, Last string
		Malformed   int64
		Chunks      int64
	}
	tests := map[string]sum{
		"ID6-Failed_to_install_an_Exchange_transport_agent.evtx": {Events: 4, IDs: map[uint32]int{6: 4},
			Channels: map[string]int{"MSExchange Management": 4}, Providers: map[string]int{"MSExchange CmdletLogs": 4},
			Computer: "exchange01.offsec.lan", First: "2021-06-04T08:41:47.982128Z", Last: "2021-06-04T08:43:08.546589Z", Chunks: 1},
		"ID11-Exchange_transport_config_modified.evtx": {Events: 1, IDs: map[uint32]int{11: 1},
			Channels: map[string]int{"Microsoft-Windows-Sysmon/Operational": 1}, Providers: map[string]int{"Microsoft-Windows-Sysmon": 1},
			Computer: "exchange01.offsec.lan", First: "2021-06-04T09:30:48.170579Z", Last: "2021-06-04T09:30:48.170579Z", Chunks: 1},
		"ID11-LSASS_credentials_dump_via_Task_Manager.evtx": {Events: 1, IDs: map[uint32]int{11: 1},
			Channels: map[string]int{"Microsoft-Windows-Sysmon/Operational": 1}, Providers: map[string]int{"Microsoft-Windows-Sysmon": 1},
			Computer: "fs03vuln.offsec.lan", First: "2021-12-04T21:10:40.7236Z", Last: "2021-12-04T21:10:40.7236Z", Chunks: 1},
		"ID1-LSASS_dump_with_LSASSY__SYSMON_.evtx": {Events: 14, IDs: map[uint32]int{1: 2, 7: 1, 10: 1, 11: 1, 18: 9},
			Channels: map[string]int{"Microsoft-Windows-Sysmon/Operational": 14}, Providers: map[string]int{"Microsoft-Windows-Sysmon": 14},
			Computer: "FS03.offsec.lan", First: "2021-10-20T14:18:43.326381Z", Last: "2021-10-20T14:19:43.347546Z", Chunks: 1},
		"ID4688-4663-4656-LSASS_dump_with_LSASSY__process_.evtx": {Events: 28, IDs: map[uint32]int{4624: 5, 4656: 2, 4663: 2, 4672: 5, 4688: 3, 5145: 11},
			Channels: map[string]int{"Security": 28}, Providers: map[string]int{"Microsoft-Windows-Security-Auditing": 28},
			Computer: "FS03.offsec.lan", First: "2021-10-20T14:29:09.758147Z", Last: "2021-10-20T14:29:25.624989Z", Chunks: 1},
		"ID4756-Exchange_admin_group_change.evtx": {Events: 15, IDs: map[uint32]int{4756: 15},
			Channels: map[string]int{"Security": 15}, Providers: map[string]int{"Microsoft-Windows-Security-Auditing": 15},
			Computer: "rootdc1.offsec.lan", First: "2021-02-02T16:20:48.57405Z", Last: "2021-02-02T16:20:48.633901Z", Chunks: 1},
	}
	files, _ := filepath.Glob(evtxDir + "*.evtx")
	if len(files) != len(tests) {
		t.Fatalf("%d sample files, %d expectations", len(files), len(tests))
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			evs, cov := readEvents(t, evtxDir+name, nil)
			got := sum{Events: len(evs), IDs: map[uint32]int{}, Channels: map[string]int{}, Providers: map[string]int{},
				First: ts(cov.First), Last: ts(cov.Last), Malformed: cov.Malformed, Chunks: cov.Chunks}
			for _, e := range evs {
				got.IDs[e.EventID]++
				got.Channels[e.Channel]++
				got.Providers[e.Provider]++
				got.Computer = e.Computer
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if cov.Records != int64(len(evs)) || len(cov.Issues) != 0 || cov.Kind.Type != TypeEVTX {
				t.Errorf("coverage %+v", cov)
			}
		})
	}
}

func findEvent(t *testing.T, evs []Event, recordID uint64) Event {
	t.Helper()
	for _, e := range evs {
		if e.RecordID == recordID {
			return e
		}
	}
	t.Fatalf("record %d not found", recordID)
	return Event{}
}

// The MSExchange Management channel logs cmdlets as unnamed <Data>
// values: Params[0] the cmdlet, Params[1] its parameters.
func TestEVTXExchangeManagement(t *testing.T) {
	evs, _ := readEvents(t, evtxDir+"ID6-Failed_to_install_an_Exchange_transport_agent.evtx", nil)
	var got [][2]string
	for _, e := range evs {
		got = append(got, [2]string{e.Param(0), e.Param(1)})
	}
	want := [][2]string{
		{"Install-TransportAgent", `-Name "Evil" -AssemblyPath ".\NetshHelperBeacon.dll" -TransportAgentFactory "hack"`},
		{"Install-TransportAgent", `-Name "Evil" -AssemblyPath ".\NetshHelperBeacon.dll" -TransportAgentFactory "hack"`},
		{"Enable-TransportAgent", `-Identity "hack"`},
		{"Enable-TransportAgent", `-Identity "hack"`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cmdlets (-want +got):\n%s", diff)
	}
	e := evs[0]
	if e.RecordID != 7184 || e.EventID != 6 || e.Level != 2 || ts(e.TimeCreated) != "2021-06-04T08:41:47.982128Z" {
		t.Errorf("system fields: %d %d %d %v", e.RecordID, e.EventID, e.Level, e.TimeCreated)
	}
	if len(e.Params) != 27 || e.Param(2) != "offsec.lan/OFFSEC-COMPANY/Administrators/admmig" ||
		e.Param(6) != "8372 w3wp#MSExchangePowerShellAppPool" || e.Param(7) != "" || e.Param(99) != "" || e.Param(-1) != "" {
		t.Errorf("params: %q", e.Params)
	}
	if !strings.HasPrefix(e.Param(11), "System.ArgumentException: The Transport Agent assembly file") || !e.Contains("NetshHelperBeacon.dll") || e.Contains("InvalidCastException") {
		t.Errorf("exception param %q", e.Param(11))
	}
	if len(e.Data) != 0 {
		t.Errorf("unexpected named data %v", e.Data)
	}
}

func TestEVTXSecurity4688(t *testing.T) {
	evs, _ := readEvents(t, evtxDir+"ID4688-4663-4656-LSASS_dump_with_LSASSY__process_.evtx", nil)
	var got []map[string]string
	for _, e := range evs {
		if e.EventID == 4688 {
			got = append(got, map[string]string{"RecordID": "", "NewProcessName": e.Get("NewProcessName"),
				"CommandLine": e.Get("CommandLine"), "SubjectUserName": e.Get("SubjectUserName"), "ParentProcessName": e.Get("ParentProcessName")})
		}
	}
	want := []map[string]string{
		{"RecordID": "", "NewProcessName": `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, "SubjectUserName": "FS03$", "ParentProcessName": "",
			"CommandLine": `powershell.exe -NoP -C "C:\Windows\System32\rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump (Get-Process lsass).Id \Windows\Temp\2V7Be7Gq.dmp full;Wait-Process -Id (Get-Process rundll32).id"`},
		{"RecordID": "", "NewProcessName": `C:\Windows\System32\conhost.exe`, "SubjectUserName": "admmig", "ParentProcessName": "",
			"CommandLine": `\??\C:\Windows\system32\conhost.exe 0xffffffff`},
		{"RecordID": "", "NewProcessName": `C:\Windows\System32\rundll32.exe`, "SubjectUserName": "admmig", "ParentProcessName": "",
			"CommandLine": `"C:\Windows\System32\rundll32.exe"  C:\Windows\System32\comsvcs.dll MiniDump 512 \Windows\Temp\2V7Be7Gq.dmp full`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("4688 (-want +got):\n%s", diff)
	}
	// System/EventRecordID of the source log, not the export's renumbering.
	if e := findEvent(t, evs, 67790); e.Get("NewProcessId") != "4088" || e.Get("ProcessId") != "2456" || e.Get("TokenElevationType") != "%%1936" {
		t.Errorf("67790: %v", e.Data)
	}
}

func TestEVTXSysmon(t *testing.T) {
	evs, _ := readEvents(t, evtxDir+"ID1-LSASS_dump_with_LSASSY__SYSMON_.evtx", nil)
	p := findEvent(t, evs, 71671)
	got := map[string]string{"Image": p.Get("Image"), "CommandLine": p.Get("CommandLine"), "ParentProcessId": p.Get("ParentProcessId"), "User": p.Get("User")}
	want := map[string]string{"Image": `C:\Windows\System32\rundll32.exe`, "ParentProcessId": "2508", "User": `OFFSEC\admmig`,
		"CommandLine": `"C:\Windows\System32\rundll32.exe"  C:\Windows\System32\comsvcs.dll MiniDump 512 \Windows\Temp\76nivOxA.dmp full`}
	if diff := cmp.Diff(want, got); diff != "" || p.EventID != 1 {
		t.Errorf("sysmon 1 (-want +got):\n%s", diff)
	}
	if f := findEvent(t, evs, 71672); f.EventID != 11 || f.Get("TargetFilename") != `C:\Windows\Temp\76nivOxA.dmp` {
		t.Errorf("sysmon 11: %d %v", f.EventID, f.Data)
	}
	ex, _ := readEvents(t, evtxDir+"ID11-Exchange_transport_config_modified.evtx", nil)
	if e := ex[0]; e.RecordID != 98 || e.Get("TargetFilename") != `E:\Exchange2016\TransportRoles\Shared\agents.config` ||
		e.Get("Image") != `C:\Program Files (x86)\Notepad++\notepad++.exe` {
		t.Errorf("agents.config event: %d %v", e.RecordID, e.Data)
	}
}

func TestEVTX4756Groups(t *testing.T) {
	evs, _ := readEvents(t, evtxDir+"ID4756-Exchange_admin_group_change.evtx", nil)
	var groups []string
	for _, e := range evs {
		if e.Get("MemberName") != "CN=admin-hacker,OU=Test-OU,OU=OFFSEC-COMPANY,DC=offsec,DC=lan" {
			t.Errorf("member %q", e.Get("MemberName"))
		}
		groups = append(groups, e.Get("TargetUserName"))
	}
	want := []string{"Compliance Management", "Delegated Setup", "ExchangeLegacyInterop", "Help Desk", "Hygiene Management",
		"Managed Availability Servers", "Organization Management", "Public Folder Management", "Recipient Management",
		"Records Management", "Security Administrator", "Security Reader", "Server Management", "UM Management",
		"View-Only Organization Management"}
	if diff := cmp.Diff(want, groups); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
}

func TestEVTXOptions(t *testing.T) {
	path := evtxDir + "ID4688-4663-4656-LSASS_dump_with_LSASSY__process_.evtx"
	keep := func(e *Event) bool { return e.Channel == "Security" && e.EventID == 4688 }
	evs, cov := readEvents(t, path, &EVTXOptions{Keep: keep})
	if len(evs) != 3 || cov.Records != 3 || cov.Filtered != 25 || ts(cov.First) != "2021-10-20T14:29:09.758147Z" {
		t.Errorf("Keep: %d events, records %d filtered %d first %v", len(evs), cov.Records, cov.Filtered, cov.First)
	}
	evs, _ = readEvents(t, path, &EVTXOptions{MaxValue: 10, MaxFields: 3})
	for _, e := range evs {
		if len(e.Data)+len(e.Params) > 3 {
			t.Errorf("MaxFields: %d values", len(e.Data)+len(e.Params))
		}
		for k, v := range e.Data {
			if len(v) > 10+len("…") {
				t.Errorf("MaxValue: %s=%q", k, v)
			}
		}
	}
}

func TestEVTXDamaged(t *testing.T) {
	orig, err := os.ReadFile(evtxDir + "ID4688-4663-4656-LSASS_dump_with_LSASSY__process_.evtx")
	if err != nil {
		t.Fatal(err)
	}
	clone := func() []byte { return append([]byte(nil), orig...) }
	const chunk0 = 0x1000
	// Offset of the second record: velocidex stops at a bad record
	// signature, so the rest of the chunk is counted as missing.
	second := chunk0 + 0x200 + 4 + bytes.Index(orig[chunk0+0x200+4:], []byte("\x2a\x2a\x00\x00"))

	type res struct {
		Events             int
		Records, Malformed int64
		Chunks             int64
		Issues             []string
	}
	issues := func(c *Coverage) []string {
		var s []string
		for _, is := range c.Issues {
			s = append(s, is.String())
		}
		return s
	}
	tests := []struct {
		name string
		data func() []byte
		want res
	}{
		{"garbage chunk appended", func() []byte { return append(clone(), bytes.Repeat([]byte{0xAA}, 0x10000)...) },
			res{Events: 28, Records: 28, Malformed: 1, Chunks: 1, Issues: []string{"mem.evtx@0x11000: bad-chunk: no chunk signature"}}},
		{"preallocated zero chunk appended", func() []byte { return append(clone(), make([]byte, 0x10000)...) },
			res{Events: 28, Records: 28, Chunks: 1}},
		{"record signature broken", func() []byte { d := clone(); d[second] = 'X'; return d },
			res{Events: 1, Records: 1, Malformed: 27, Chunks: 1, Issues: []string{"mem.evtx@0x1000: bad-record: 27 of 28 records in chunk unreadable"}}},
		{"cut mid-chunk", func() []byte { return clone()[:second+1] },
			res{Events: 1, Records: 1, Malformed: 27, Chunks: 1, Issues: []string{
				fmt.Sprintf("mem.evtx@0x1000: bad-chunk: truncated chunk (%d of 65536 bytes)", second+1-chunk0),
				"mem.evtx@0x1000: bad-record: 27 of 28 records in chunk unreadable"}}},
		// The cut leaves a record signature with a zero size after it:
		// velocidex re-reads that empty record up to the chunk's count;
		// the repeats are dropped.
		{"cut after a record signature", func() []byte { return clone()[:second+4] },
			res{Events: 1, Records: 1, Malformed: 27, Chunks: 1, Issues: []string{
				fmt.Sprintf("mem.evtx@0x1000: bad-chunk: truncated chunk (%d of 65536 bytes)", second+4-chunk0),
				"mem.evtx@0x1000: bad-record: 27 repeated records dropped (corrupt record size)",
				"mem.evtx@0x1000: bad-record: 27 of 28 records in chunk unreadable"}}},
		{"chunk header only", func() []byte { return clone()[:chunk0+0x80] },
			res{Malformed: 28, Chunks: 1, Issues: []string{
				"mem.evtx@0x1000: bad-chunk: truncated chunk (128 of 65536 bytes)",
				"mem.evtx@0x1000: bad-record: 28 of 28 records in chunk unreadable"}}},
		{"header only", func() []byte { return clone()[:chunk0] }, res{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data()
			evs, cov := readEventsBytes(t, data)
			got := res{Events: len(evs), Records: cov.Records, Malformed: cov.Malformed, Chunks: cov.Chunks, Issues: issues(cov)}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// Scribbling over the records must never panic or stop the file.
	for off := chunk0 + 0x200; off < chunk0+0x6000; off += 997 {
		d := clone()
		for i := 0; i < 64; i++ {
			d[off+i] ^= byte(0x5A + i)
		}
		evs, cov := readEventsBytes(t, d)
		if int64(len(evs)) != cov.Records || cov.Records+cov.Malformed == 0 {
			t.Errorf("offset %#x: %d events, coverage %+v", off, len(evs), cov)
		}
	}
	if _, err := NewEVTXReader(bytes.NewReader([]byte("not an evtx file at all, long enough for a header?")), 50, "x", nil); err == nil {
		t.Error("non-EVTX accepted")
	}
	if _, err := NewEVTXReader(bytes.NewReader(orig[:10]), 10, "x", nil); err == nil {
		t.Error("short file accepted")
	}
	dirty := clone()
	dirty[0x78] |= 1 // FileFlags: dirty
	if _, cov := readEventsBytes(t, dirty); len(cov.Issues) != 1 || cov.Issues[0].Kind != IssueEVTXHeader || cov.Records != 28 {
		t.Errorf("dirty: %v", cov.Issues)
	}
}
