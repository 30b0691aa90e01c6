package logs_test

import (
	"bytes"
	"fmt"

	"github.com/exsweep/exsweep/internal/hunt/logs"
)

// A CVE-2021-26855 style check over one HttpProxy file: the filter skips
// every line without "ServerInfo~" before any CSV parsing, the Lookup
// resolves the columns once per header, and the values are copied with Cap
// before they outlive the record.
func Example() {
	f := logs.NewFilter("ServerInfo~")
	rd, err := logs.Open("testdata/exchange/Logging/HttpProxy/Ecp/HttpProxy_2021030503-1.LOG", &logs.Options{Filter: f})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rd.Close()
	cols := logs.NewLookup("AnchorMailbox", "HttpStatus")
	for rd.Next() {
		rec := rd.Record()
		ix := cols.For(rec.Header)
		anchor := rec.Get(ix[0])
		if bytes.HasPrefix(anchor, []byte("ServerInfo~")) && bytes.Contains(anchor, []byte("/ecp/")) {
			fmt.Printf("line %d %s %s %s\n", rec.Line, rec.Time.Format("15:04:05"), rec.Get(ix[1]), logs.Cap(anchor, 60))
		}
	}
	c := rd.Coverage()
	fmt.Printf("%s: %d lines, %d records, %d filtered, %s to %s\n", c.Kind, c.Lines, c.Records, c.Filtered,
		c.First.Format("15:04:05"), c.Last.Format("15:04:05"))
	// Output:
	// line 8 03:06:12 241 ServerInfo~a]@exch01.contoso.local:444/ecp/proxyLogon.ecp?#
	// line 11 03:06:13 200 ServerInfo~a]@exch01.contoso.local:444/ecp/DDI/DDIService.sv…
	// line 12 03:06:14 200 ServerInfo~a]@exch01.contoso.local:444/ecp/DDI/DDIService.sv…
	// httpproxy/Ecp: 13 lines, 5 records, 1 filtered, 03:06:10 to 03:20:00
}

// Events of one channel, selected before their data is flattened.
func ExampleOpenEVTX() {
	rd, err := logs.OpenEVTX("testdata/evtx/ID6-Failed_to_install_an_Exchange_transport_agent.evtx", &logs.EVTXOptions{
		Keep: func(e *logs.Event) bool {
			return e.Channel == "MSExchange Management" && (e.EventID == 1 || e.EventID == 6)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rd.Close()
	for rd.Next() {
		e := rd.Event()
		fmt.Println(e.RecordID, e.TimeCreated.Format("2006-01-02T15:04:05Z"), e.Param(0), e.Param(1))
	}
	// Output:
	// 7184 2021-06-04T08:41:47Z Install-TransportAgent -Name "Evil" -AssemblyPath ".\NetshHelperBeacon.dll" -TransportAgentFactory "hack"
	// 7185 2021-06-04T08:41:48Z Install-TransportAgent -Name "Evil" -AssemblyPath ".\NetshHelperBeacon.dll" -TransportAgentFactory "hack"
	// 7186 2021-06-04T08:43:08Z Enable-TransportAgent -Identity "hack"
	// 7187 2021-06-04T08:43:08Z Enable-TransportAgent -Identity "hack"
}
