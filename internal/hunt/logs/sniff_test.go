package logs

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSniff(t *testing.T) {
	const (
		iis  = "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: 2021-03-05 00:00:00\r\n#Fields: date time s-ip\r\n"
		hp   = "#Software: Microsoft Exchange Server\r\n#Version: 15.01.2375.007\r\n#Log-type: HttpProxy Logs\r\n#Date: 2023-01-09T19:00:00.130Z\r\n#Fields: DateTime,RequestId,AnchorMailbox,UrlStem\r\n"
		ecp  = "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n#Log-type: ECP Server Log\r\n#Date: 2023-01-11T00:02:33.938Z\r\n#Fields: TimeStamp,ServerName,EventId,EventData\r\n"
		rps  = "DateTime,StartTime,RequestId,Cmdlet,Parameters\r\n#Software: Microsoft Exchange Server\r\n#Log-type: Rps Cmdlet Logs\r\n"
		unkn = "#Software: Microsoft Exchange Server\r\n#Log-type: Message Tracking Log\r\n#Fields: date-time,client-ip\r\n"
	)
	tests := []struct {
		name, path, head string
		want             Kind
	}{
		{"IIS by content", "x/anything.txt", iis, Kind{Type: TypeW3C}},
		{"IIS by path only", `C:\inetpub\logs\LogFiles\W3SVC1\u_ex210305.log`, "", Kind{Type: TypeW3C}},
		{"IIS file name elsewhere", "/triage/iis/u_ex210305.log", "", Kind{Type: TypeW3C}},
		{"IIS data without header", "/x/y.log", "2021-03-05 03:06:27 10.0.0.5 GET /owa/ - 443 - 192.0.2.1 UA - 200 0 0 1\r\n", Kind{Type: TypeW3C}},
		{"W3C by #Fields alone", "/x/y.log", "#Fields: date time cs-uri-stem\n", Kind{Type: TypeW3C}},
		{"HttpProxy: content + protocol from a Windows path",
			`C:\Program Files\Microsoft\Exchange Server\V15\Logging\HttpProxy\Ecp\HttpProxy_2021030503-1.LOG`, hp,
			Kind{Type: TypeHttpProxy, Protocol: "Ecp", LogType: "HttpProxy Logs"}},
		{"HttpProxy protocol from a triage path", "/case/C/Program Files/Microsoft/Exchange Server/V15/logging/httpproxy/RpcHttp/HttpProxy_1.LOG", "",
			Kind{Type: TypeHttpProxy, Protocol: "RpcHttp"}},
		{"relative path", "Logging/HttpProxy/PowerShell/HttpProxy_1.LOG", "", Kind{Type: TypeHttpProxy, Protocol: "PowerShell"}},
		{"content beats path", "/x/inetpub/logs/LogFiles/W3SVC1/renamed.log", hp, Kind{Type: TypeHttpProxy, LogType: "HttpProxy Logs"}},
		{"ECP server", "/x/ECPServer20230111-1.LOG", ecp, Kind{Type: TypeECPServer, LogType: "ECP Server Log"}},
		{"ECP server by path", "/v15/Logging/ECP/Server/ECPServer1.LOG", "", Kind{Type: TypeECPServer}},
		{"ECP activity by path", "/v15/Logging/ECP/Activity/ECPActivity_1.LOG", "", Kind{Type: TypeECPActivity}},
		{"ECP activity by log type", "/x", "#Log-type: ECP Activity Context Log\r\n#Fields: TimeStamp,ServerName,EventId,EventData\r\n", Kind{Type: TypeECPActivity, LogType: "ECP Activity Context Log"}},
		{"OAB by path", "/v15/Logging/OABGeneratorLog/x.LOG", "", Kind{Type: TypeOABGenerator}},
		{"OAB path, CSV content without log type", "/v15/Logging/OABGeneratorLog/x.LOG", "#Fields: DateTime,Message\r\n", Kind{Type: TypeOABGenerator}},
		{"Rps cmdlet: bare header line first", "/x/Rps_Cmdlet_2023110922-1.LOG", rps, Kind{Type: TypeCmdlet}},
		{"CmdletInfra by path", "/v15/Logging/CmdletInfra/Powershell-Proxy/Cmdlet/Rps_Cmdlet_1.LOG", "", Kind{Type: TypeCmdlet}},
		{"CmdletInfra other log", "/v15/Logging/CmdletInfra/Powershell-Proxy/Http/Rps_Http_1.LOG", "", Kind{Type: TypeExchangeCSV}},
		{"other Exchange CSV", "/x/MSGTRK.LOG", unkn, Kind{Type: TypeExchangeCSV, LogType: "Message Tracking Log"}},
		{"HttpProxy by fields only", "/x/y.LOG", "#Fields: DateTime,AnchorMailbox,RoutingHint\r\n", Kind{Type: TypeHttpProxy}},
		{"EVTX by magic", "/x/renamed.bin", "ElfFile\x00rest", Kind{Type: TypeEVTX}},
		{"EVTX by extension", `C:\Windows\System32\winevt\Logs\MSExchange Management.evtx`, "", Kind{Type: TypeEVTX}},
		{"BOM", "/x/y", "\xef\xbb\xbf" + iis, Kind{Type: TypeW3C}},
		{"unknown", "/x/readme.txt", "hello world\n", Kind{}},
		{"empty", "", "", Kind{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Sniff(tt.path, []byte(tt.head))); diff != "" {
				t.Errorf("Sniff (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSniffFileFixtures(t *testing.T) {
	tests := map[string]Kind{
		"inetpub/logs/LogFiles/W3SVC1/u_ex210305.log":                                      {Type: TypeW3C},
		"exchange/Logging/HttpProxy/Ecp/HttpProxy_2021030503-1.LOG":                        {Type: TypeHttpProxy, Protocol: "Ecp", LogType: "HttpProxy Logs"},
		"exchange/Logging/HttpProxy/Owa/HttpProxy_2021030207-1.LOG":                        {Type: TypeHttpProxy, Protocol: "Owa", LogType: "HttpProxy Logs"},
		"exchange/Logging/ECP/Server/ECPServer20210305-1.LOG":                              {Type: TypeECPServer, LogType: "ECP Server Log"},
		"exchange/Logging/OABGeneratorLog/OABGeneratorLog_2021030503-1.LOG":                {Type: TypeOABGenerator, LogType: "OAB Generator Log"},
		"exchange/Logging/CmdletInfra/Powershell-Proxy/Cmdlet/Rps_Cmdlet_2021081310-1.LOG": {Type: TypeCmdlet},
		"evtx/ID6-Failed_to_install_an_Exchange_transport_agent.evtx":                      {Type: TypeEVTX},
	}
	for p, want := range tests {
		got, err := SniffFile(filepath.Join("testdata", p))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", p, diff)
		}
	}
	if _, err := SniffFile("testdata/missing"); err == nil {
		t.Error("missing file: no error")
	}
	if _, err := Open("testdata/evtx/ID6-Failed_to_install_an_Exchange_transport_agent.evtx", nil); err == nil {
		t.Error("Open on EVTX must fail")
	}
}

func TestTypeNames(t *testing.T) {
	var got []string
	for ty := TypeUnknown; ty <= TypeEVTX+1; ty++ {
		got = append(got, ty.String())
	}
	want := []string{"unknown", "iis-w3c", "httpproxy", "ecp-server", "ecp-activity", "oab-generator", "cmdlet", "exchange-csv", "evtx", "type(9)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if (Kind{Type: TypeHttpProxy, Protocol: "Ecp"}).String() != "httpproxy/Ecp" {
		t.Error("Kind.String")
	}
}
