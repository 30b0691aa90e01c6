package hunt

import (
	"testing"

	"github.com/exsweep/exsweep/internal/hunt/logs"
	"github.com/google/go-cmp/cmp"
)

func TestParseECPCmd(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want cmdletCall
	}{
		{"Get-InboxRule", cmdletCall{Name: "Get-InboxRule"}},
		// The HELSE payload after CSV unquoting: doubled single quotes,
		// dots, semicolons and quotes inside the value.
		{`Set-OabVirtualDirectory.ExternalUrl=''http://f/<script language="JScript" runat="server">function Page_Load(){eval(Request["klk123456"],"unsafe");}</script>''.Identity=''3a7f4c2e-1d2b''`,
			cmdletCall{Name: "Set-OabVirtualDirectory", Params: []cmdParam{
				{"ExternalUrl", `http://f/<script language="JScript" runat="server">function Page_Load(){eval(Request["klk123456"],"unsafe");}</script>`},
				{"Identity", "3a7f4c2e-1d2b"}}}},
		{"Set-OabVirtualDirectory.ExternalUrl=$null.Identity='x'",
			cmdletCall{Name: "Set-OabVirtualDirectory", Params: []cmdParam{{"ExternalUrl", "$null"}, {"Identity", "x"}}}},
		{"Get-OabVirtualDirectory.Identity='OAB (Default Web Site)'",
			cmdletCall{Name: "Get-OabVirtualDirectory", Params: []cmdParam{{"Identity", "OAB (Default Web Site)"}}}},
		// A bare URL with dots, ended by the next parameter.
		{"Set-OwaVirtualDirectory.ExternalUrl=https://mail.contoso.com/owa.Identity='EXCH01\\owa'",
			cmdletCall{Name: "Set-OwaVirtualDirectory", Params: []cmdParam{{"ExternalUrl", "https://mail.contoso.com/owa"}, {"Identity", `EXCH01\owa`}}}},
		// A quote inside a quoted value that is not followed by a parameter.
		{"Set-X.A='it's here'.B='c'", cmdletCall{Name: "Set-X", Params: []cmdParam{{"A", "it's here"}, {"B", "c"}}}},
		// Unterminated: the rest is the value.
		{"Set-X.A='never closed", cmdletCall{Name: "Set-X", Params: []cmdParam{{"A", "never closed"}}}},
		{"", cmdletCall{}},
	} {
		got := parseECPCmd(tc.in)
		got.Raw = ""
		if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(cmdletCall{}, cmdParam{})); diff != "" {
			t.Errorf("parseECPCmd(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestParsePSParams(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []cmdParam
	}{
		{`-Role "Mailbox Import Export" -SecurityGroup "Organization Management"`,
			[]cmdParam{{"Role", "Mailbox Import Export"}, {"SecurityGroup", "Organization Management"}}},
		{`-Mailbox "Jones" -Name "x" -ContentFilter "Subject -eq 'x'" -FilePath "\\127.0.0.1\c$\inetpub\wwwroot\aspnet_client\tkevsn.aspx"`,
			[]cmdParam{{"Mailbox", "Jones"}, {"Name", "x"}, {"ContentFilter", "Subject -eq 'x'"}, {"FilePath", `\\127.0.0.1\c$\inetpub\wwwroot\aspnet_client\tkevsn.aspx`}}},
		{`-Identity:EXCH01\OAB -ExternalUrl http://f/x -Force`,
			[]cmdParam{{"Identity", `EXCH01\OAB`}, {"ExternalUrl", "http://f/x"}, {"Force", ""}}},
		{`-Name "say ""hi"" -now"`, []cmdParam{{"Name", `say "hi" -now`}}},
		{`-A 'single -B quoted' -C d e`, []cmdParam{{"A", "single -B quoted"}, {"C", "d e"}}},
		{`-A "unterminated -B x`, []cmdParam{{"A", "unterminated -B x"}}},
		{"-1 -x", []cmdParam{{"x", ""}}},
		{"", nil},
	} {
		got := parsePSParams(tc.in)
		if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(cmdParam{})); diff != "" {
			t.Errorf("parsePSParams(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestMatchCmdlet(t *testing.T) {
	cs := mustChecks(t)
	ps := func(name, params string, failed bool) cmdletCall {
		return cmdletCall{Name: name, Raw: params, Params: parsePSParams(params), Failed: failed}
	}
	for _, tc := range []struct {
		name  string
		call  cmdletCall
		check string // "" = no finding
		grade string
	}{
		{"27065 ECP", parseECPCmd(`Set-OabVirtualDirectory.ExternalUrl=''http://f/<script language="JScript" runat="server">function Page_Load(){eval(Request["k"],"unsafe");}</script>''.Identity=''x''`), chkVDirScript, GradeExploited},
		{"27065 evtx", ps("Set-OabVirtualDirectory", `-Identity "EXCH01\OAB (Default Web Site)" -ExternalUrl "http://f/<script language=""JScript"" runat=""server"">function Page_Load(){eval(Request[""k""],""unsafe"");}</script>"`, false), chkVDirScript, GradeExploited},
		{"27065 failed", ps("Set-OabVirtualDirectory", `-ExternalUrl "http://f/<script>x</script>"`, true), chkVDirScript, GradeAttempt},
		{"27065 InternalUrl of ECP", ps("Set-EcpVirtualDirectory", `-InternalUrl "https://x/ecp<%eval(x)%>"`, false), chkVDirScript, GradeExploited},
		{"27065 unparsed params", cmdletCall{Name: "Set-OabVirtualDirectory", Raw: `ExternalUrl:http://f/<script>x</script>`}, chkVDirScript, GradeExploited},
		{"clean URL", ps("Set-OabVirtualDirectory", `-ExternalUrl "https://mail.contoso.com/OAB"`, false), "", ""},
		{"clean URL null", parseECPCmd("Set-OabVirtualDirectory.ExternalUrl=$null.Identity=''x''"), "", ""},
		{"script outside a URL", ps("Set-OwaVirtualDirectory", `-LogonPageText "<b>Welcome</b>"`, false), "", ""},
		{"not a VD cmdlet", ps("Set-Mailbox", `-CustomAttribute1Url "<script>"`, false), "", ""},
		{"export to web folder", ps("New-MailboxExportRequest", `-Mailbox "Jones" -FilePath "\\127.0.0.1\c$\inetpub\wwwroot\aspnet_client\tkevsn.aspx"`, false), chkExport, GradeExploited},
		{"export aspx on share", ps("New-MailboxExportRequest", `-Mailbox "Jones" -FilePath "\\localhost\C$\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\owa\auth\x.aspx"`, true), chkExport, GradeAttempt},
		{"export to share", ps("New-MailboxExportRequest", `-Mailbox "Smith" -FilePath "\\backup01\pst$\smith.pst"`, false), "", ""},
		{"export ECP style", parseECPCmd(`New-MailboxExportRequest.Mailbox=''x''.FilePath=''\\127.0.0.1\c$\inetpub\wwwroot\aspnet_client\y.aspx''`), chkExport, GradeExploited},
		{"role", ps("New-ManagementRoleAssignment", `-Role "Mailbox Import Export" -User "x"`, false), chkRole, GradeInfo},
		{"other role", ps("New-ManagementRoleAssignment", `-Role "Mail Recipients" -User "x"`, false), "", ""},
		{"cert request aspx", ps("New-ExchangeCertificate", `-GenerateRequest -RequestFile "C:\inetpub\wwwroot\aspnet_client\cert.aspx" -SubjectName "c=US"`, false), chkCertExport, GradeExploited},
		{"cert request txt", ps("New-ExchangeCertificate", `-GenerateRequest -RequestFile "C:\certs\req.txt"`, false), "", ""},
		{"transport agent", ps("Install-TransportAgent", `-Name "Evil" -AssemblyPath ".\NetshHelperBeacon.dll"`, true), chkTransport, GradeInfo},
		{"ordinary", ps("Get-Mailbox", `-ResultSize Unlimited`, false), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := matchCmdlet(cs, &tc.call)
			switch {
			case tc.check == "" && h != nil:
				t.Errorf("flagged as %s %s: %s", h.check.ID, h.grade, h.what)
			case tc.check != "" && h == nil:
				t.Errorf("not flagged, want %s", tc.check)
			case h != nil && (h.check.ID != tc.check || h.grade != tc.grade):
				t.Errorf("got %s %s, want %s %s", h.check.ID, h.grade, tc.check, tc.grade)
			}
		})
	}
}

// ECP and cmdlet log lines of attacks pass their merged pre-filters.
func TestCmdletFiltersKeepAttacks(t *testing.T) {
	cs := mustChecks(t)
	for _, tc := range []struct {
		typ  logs.Type
		line string
	}{
		{logs.TypeECPServer, `2021-03-05T03:06:15.700Z,EXCH01,ECP.Request,"S:CMD=Set-OabVirtualDirectory.ExternalUrl=''http://f/<script>''"`},
		{logs.TypeECPServer, `2021-03-05T03:06:15.700Z,EXCH01,ECP.Request,S:CMD=New-MailboxExportRequest.FilePath='\\x\c$\inetpub\a.aspx'`},
		{logs.TypeCmdlet, `2021-08-13T10:01:02.345Z,,id,,15,1,2176,2,EXCH01,6832,w3wp,5,,,Administrator,S-1,,,True,PowerShell,New-ManagementRoleAssignment,"-Role ""Mailbox Import Export"""`},
		{logs.TypeCmdlet, `x,New-ExchangeCertificate,-RequestFile x.aspx`},
		{logs.TypeCmdlet, `x,Install-TransportAgent,-Name x`},
		{logs.TypeOABGenerator, `2021-03-05T03:10:03.000Z,4242,17,Warning,,\Default Offline Address Book,Download failed and temporary file 'C:\inetpub\wwwroot\aspnet_client\shell.aspx' needs to be removed`},
	} {
		if !cs.filters[tc.typ].Match([]byte(tc.line)) {
			t.Errorf("%s pre-filter skips %q", tc.typ, tc.line)
		}
	}
}

func TestMatchOAB(t *testing.T) {
	ch := mustChecks(t).get(chkOAB)
	for _, tc := range []struct {
		msg, path, grade string
		ok               bool
	}{
		{`Download failed and temporary file 'C:\inetpub\wwwroot\aspnet_client\shell.aspx' needs to be removed`, `C:\inetpub\wwwroot\aspnet_client\shell.aspx`, GradeExploited, true},
		{`Download failed and temporary file '\\127.0.0.1\c$\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\owa\auth\x.aspx' needs to be removed`, `\\127.0.0.1\c$\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\owa\auth\x.aspx`, GradeExploited, true},
		{`Download failed and temporary file 'C:\Users\Public\x.bin' needs to be removed`, `C:\Users\Public\x.bin`, GradeAttempt, true},
		{`Download failed and temporary file 'D:\Exchange\ClientAccess\OAB\..\..\x.bin' needs to be removed`, `D:\Exchange\ClientAccess\OAB\..\..\x.bin`, GradeAttempt, true},
		// A script written into the OAB folder itself is still a script.
		{`Download failed and temporary file 'C:\Program Files\Microsoft\Exchange Server\V15\ClientAccess\OAB\Temp\a.aspx' needs to be removed`, `C:\Program Files\Microsoft\Exchange Server\V15\ClientAccess\OAB\Temp\a.aspx`, GradeExploited, true},
		// Normal.
		{`Download failed and temporary file 'C:\Program Files\Microsoft\Exchange Server\V15\ClientAccess\OAB\Temp\x.tmp' needs to be removed`, "", "", false},
		{`Download failed and temporary file 'E:\Exchange2016\ClientAccess\OAB\Temp\x.lzx' needs to be removed`, "", "", false},
		{`Download completed for 'C:\x.aspx'`, "", "", false},
		{`Download failed and temporary file  needs to be removed`, "", "", false},
	} {
		path, grade, ok := matchOAB(ch, tc.msg)
		if path != tc.path || grade != tc.grade || ok != tc.ok {
			t.Errorf("matchOAB(%q) = %q %q %v, want %q %q %v", tc.msg, path, grade, ok, tc.path, tc.grade, tc.ok)
		}
	}
}
