package hunt

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The false-positive suite: a server with a busy, legitimate life and every
// look-alike the research lists (host.md §2, §6: Autodiscover v2, normal
// routing values, admin ECP edits, exports to shares, vendor archives,
// Windows Error Reporting dumps, legitimate and ordinary pages, crawlers).
// Nothing above info may come out, and the vendor archives must still be
// listed (CSS-Exchange #145: never hidden).
func TestFalsePositives(t *testing.T) {
	root := t.TempDir()
	c := filepath.Join(root, "C")
	w := func(rel, content string) {
		t.Helper()
		p := filepath.Join(c, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	day := time.Date(2021, 1, 4, 0, 0, 0, 0, time.UTC)

	// IIS: a day of ordinary traffic, repeated over several days.
	iisReqs := []string{
		"GET /owa/auth/logon.aspx url=https%3a%2f%2fmail.contoso.com%2fowa%2f&reason=0 - 10.0.0.61 Mozilla/5.0+(Windows+NT+10.0) 200",
		"GET /owa/auth/15.1.2176/themes/resources/logon.css - - 10.0.0.61 Mozilla/5.0 200",
		"GET /owa/auth/Current/themes/resources/owafont_ja.css - - 10.0.0.61 Mozilla/5.0 200",
		"GET /owa/auth/Current/themes/resources/SegoeUI-SemiLight.ttf - - 10.0.0.61 Mozilla/5.0 200",
		"POST /owa/auth.owa - - 10.0.0.61 Mozilla/5.0 302",
		"GET /owa/auth/errorFE.aspx httpCode=500 - 10.0.0.61 Mozilla/5.0 200",
		"GET /owa/auth/logoff.aspx Cmd=logoff&src=exch - 10.0.0.61 Mozilla/5.0 200",
		"GET /owa/auth/expiredpassword.aspx url=/owa - 10.0.0.61 Mozilla/5.0 200",
		"GET /ecp/ - CONTOSO\\exadmin 10.0.0.50 Mozilla/5.0 200",
		"POST /ecp/DDI/DDIService.svc/SetObject msExchEcpCanary=x&schema=OABVirtualDirectory CONTOSO\\exadmin 10.0.0.50 Mozilla/5.0 200",
		"GET /ecp/15.1.2176/scripts/microsoft.exchange.controlpanel.js - CONTOSO\\exadmin 10.0.0.50 Mozilla/5.0 200",
		"GET /ecp/auth/TimeoutLogout.aspx - - 10.0.0.50 Mozilla/5.0 200",
		"POST /EWS/Exchange.asmx - CONTOSO\\svc 10.0.0.70 ExchangeServicesClient/15.00.0913.015 200",
		"POST /mapi/emsmdb/ mailboxId=x CONTOSO\\jones 10.0.0.61 Microsoft+Office/16.0 200",
		"POST /Microsoft-Server-ActiveSync/default.eas Cmd=Sync&User=jones jones 198.51.100.9 Apple-iPhone12C1/1805.114 200",
		"GET /autodiscover/autodiscover.json Email=jones%40contoso.com&Protocol=ActiveSync&RedirectCount=1 - 198.51.100.200 Outlook-iOS-Android/1.0 200",
		"GET /autodiscover/autodiscover.json/v1.0/jones@contoso.com Protocol=AutodiscoverV1 - 198.51.100.201 Microsoft+Office/16.0 200",
		"POST /autodiscover/autodiscover.xml - CONTOSO\\jones 10.0.0.61 Microsoft+Office/16.0 200",
		"GET /owa/ - - 66.249.66.1 Mozilla/5.0+(compatible;+Googlebot/2.1;++http://www.google.com/bot.html) 302",
		"GET /owa/auth/logon.aspx - - 40.77.167.1 Mozilla/5.0+(compatible;+bingbot/2.0;++http://www.bing.com/bingbot.htm) 200",
		"GET /owa/ - - 203.0.113.99 python-requests/2.25.1 302",
		"GET /aspnet_client/system_web/4_0_30319/WebUIValidation.js - - 10.0.0.61 Mozilla/5.0 200",
		"GET /rpc/rpcproxy.dll RPC_IN_DATA - 10.0.0.61 MSRPC 401",
		"GET /OAB/6c1f8a05-0000-0000-0000-000000000000/oab.xml - CONTOSO\\jones 10.0.0.61 Microsoft+Office/16.0 200",
		"GET /contact.aspx - - 198.51.100.5 Mozilla/5.0 200",
		"POST /help.aspx - - 198.51.100.5 Mozilla/5.0 200",
	}
	for d := 0; d < 5; d++ {
		dt := day.AddDate(0, 0, d*20)
		var b strings.Builder
		b.WriteString("#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: " + dt.Format("2006-01-02 15:04:05") + "\r\n")
		b.WriteString("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query cs-username c-ip cs(User-Agent) sc-status\r\n")
		for i, r := range iisReqs {
			fmt.Fprintf(&b, "%s 10.0.0.5 %s\r\n", dt.Add(time.Duration(i)*time.Minute).Format("2006-01-02 15:04:05"), r)
		}
		w("inetpub/logs/LogFiles/W3SVC1/u_ex"+dt.Format("060102")+".log", b.String())
	}

	// HttpProxy: normal routing values, Autodiscover v2, health probes.
	fields := "DateTime,RequestId,Protocol,UrlStem,UrlQuery,IsAuthenticated,AuthenticatedUser,AnchorMailbox,UserAgent,ClientIpAddress,HttpStatus,Method,RoutingHint,BackEndCookie"
	hp := []string{
		"Ecp,/ecp/default.aspx,,True,CONTOSO\\exadmin,Smtp~exadmin@contoso.com,Mozilla/5.0,10.0.0.50,200,GET,Smtp-UserCache,Server~exch02.contoso.local~1942062522~2021-01-04T07:00:00",
		"Ecp,/ecp/DDI/DDIService.svc/SetObject,?msExchEcpCanary=x&schema=OABVirtualDirectory,True,CONTOSO\\exadmin,Smtp~exadmin@contoso.com,Mozilla/5.0,10.0.0.50,200,POST,X-BEResource-Cookie,Server~exch02.contoso.local~1942062522~2021-01-04T07:00:00",
		"Ecp,/ecp/Health/Ping.ecp,,True,NT AUTHORITY\\SYSTEM,ServerInfo~EXCH01,AMProbe/Local/ClientAccessProbe,127.0.0.1,200,GET,ServerInfo-Header,",
		"Owa,/owa/,,True,jones@contoso.com,Sid~S-1-5-21-1004336348-1177238915-682003330-1107,Mozilla/5.0,10.0.0.61,200,GET,,Database~fb7adba2-51f4-47e3-b170-fd39f85aaf35~~2021-01-04T09:00:00",
		"Owa,/owa/service.svc,?action=GetFolder,True,jones@contoso.com,MailboxGuid~3a1e5d0c-8f7b-4c2a-9e61-0d5b7c3f2a10@contoso.com,Mozilla/5.0,10.0.0.61,200,POST,,",
		"Ecp,/ecp/default.aspx,,False,,ServerVersion~Version 15.0 (Build 0.0),Mozilla/5.0 zgrab/0.x,198.51.100.8,200,GET,EDiscoveryExportTool-ServerVersion,",
		"Autodiscover,/autodiscover/autodiscover.json,?Email=jones%40contoso.com&Protocol=ActiveSync,False,,Smtp~jones@contoso.com,Outlook-iOS-Android/1.0,198.51.100.200,200,GET,,",
		"Autodiscover,/autodiscover/autodiscover.json/v1.0/jones@contoso.com,?Protocol=AutodiscoverV1,False,,Smtp~jones@contoso.com,Microsoft Office/16.0,198.51.100.201,200,GET,,",
		"Autodiscover,/autodiscover/autodiscover.xml,,True,CONTOSO\\jones,Sid~S-1-5-21-1,Microsoft Office/16.0,10.0.0.61,200,POST,,",
	}
	var b strings.Builder
	b.WriteString("#Software: Microsoft Exchange Server\r\n#Version: 15.01.2176.002\r\n#Log-type: HttpProxy Logs\r\n#Date: 2021-01-04T07:00:00.000Z\r\n#Fields: " + fields + "\r\n")
	for i, l := range hp {
		fmt.Fprintf(&b, "%s,%08x-0000-4000-8000-000000000000,%s\r\n", day.Add(7*time.Hour+time.Duration(i)*time.Second).Format("2006-01-02T15:04:05.000Z"), i, l)
	}
	w("Program Files/Microsoft/Exchange Server/V15/Logging/HttpProxy/Ecp/HttpProxy_2021010407-1.LOG", b.String())

	// ECP Server, cmdlet and OAB logs of ordinary administration.
	w("Program Files/Microsoft/Exchange Server/V15/Logging/ECP/Server/ECPServer20210104-1.LOG",
		"#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n#Log-type: ECP Server Log\r\n#Date: 2021-01-04T00:00:01.000Z\r\n#Fields: TimeStamp,ServerName,EventId,EventData\r\n"+
			"2021-01-04T08:00:14.300Z,EXCH01,ECP.Request,S:TIME=40;S:CMD=Set-OabVirtualDirectory.ExternalUrl=''https://mail.contoso.com/OAB''.Identity=''x'';S:URL=/ecp/DDI/DDIService.svc/SetObject?msExchEcpCanary=x&schema=OABVirtualDirectory;S:EX=;S:RS=0\r\n"+
			"2021-01-04T08:00:15.300Z,EXCH01,ECP.Request,S:TIME=40;S:CMD=Set-EcpVirtualDirectory.InternalUrl=''https://exch01.contoso.local/ecp''.ExternalUrl=$null;S:EX=;S:RS=0\r\n"+
			"2021-01-04T08:00:16.300Z,EXCH01,ECP.Request,\"S:TIME=40;S:CMD=Set-OwaVirtualDirectory.LogonPageLightSelectionText=''<b>Public</b> computer''.Identity=''x'';S:EX=;S:RS=0\"\r\n"+
			"2021-01-04T08:00:17.300Z,EXCH01,ECP.Request,S:TIME=40;S:CMD=New-ManagementRoleAssignment.Role=''Mail Recipients''.User=''helpdesk'';S:EX=;S:RS=0\r\n")
	w("Program Files/Microsoft/Exchange Server/V15/Logging/CmdletInfra/LocalPowerShell/Cmdlet/LocalPowerShell_Cmdlet_2021010411-1.LOG",
		"#Software: Microsoft Exchange Server\r\n#Version: 15.01.2176.002\r\n#Log-type: Rps Cmdlet Logs\r\n#Date: 2021-01-04T11:00:00.000Z\r\n#Fields: DateTime,RequestId,AuthenticatedUser,Cmdlet,Parameters,ExecutionResult\r\n"+
			"2021-01-04T11:30:00.000Z,r1,CONTOSO\\exadmin,New-MailboxExportRequest,\"-Mailbox \"\"Smith\"\" -FilePath \"\"\\\\backup01\\pst$\\smith.pst\"\"\",Success\r\n"+
			"2021-01-04T11:31:00.000Z,r2,CONTOSO\\exadmin,New-ManagementRoleAssignment,\"-Role \"\"Mailbox Search\"\" -User \"\"legal\"\"\",Success\r\n"+
			"2021-01-04T11:32:00.000Z,r3,CONTOSO\\exadmin,Set-OwaVirtualDirectory,\"-Identity \"\"EXCH01\\owa (Default Web Site)\"\" -ExternalUrl \"\"https://mail.contoso.com/owa\"\"\",Success\r\n"+
			"2021-01-04T11:33:00.000Z,r4,CONTOSO\\exadmin,New-ExchangeCertificate,\"-GenerateRequest -RequestFile \"\"C:\\certs\\mail.req\"\"\",Success\r\n")
	w("Program Files/Microsoft/Exchange Server/V15/Logging/OABGeneratorLog/OABGeneratorLog_2021010402-1.LOG",
		"#Software: Microsoft Exchange Server\r\n#Log-type: OAB Generator Log\r\n#Fields: DateTime,Message\r\n"+
			"2021-01-04T02:05:02.000Z,Download failed and temporary file 'C:\\Program Files\\Microsoft\\Exchange Server\\V15\\ClientAccess\\OAB\\Temp\\x1.tmp' needs to be removed\r\n"+
			"2021-01-04T02:05:03.000Z,Download failed and temporary file 'E:\\Exchange\\V15\\ClientAccess\\OAB\\Temp\\x2.lzx' needs to be removed\r\n")

	// Web folders: Exchange's own pages, ordinary site pages, and the
	// benign counterparts of every rule (rules/testdata).
	for _, f := range []string{"logon.aspx", "errorFE.aspx"} {
		b, err := os.ReadFile(filepath.Join("..", "rules", "testdata", "legit", f))
		if err != nil {
			t.Fatal(err)
		}
		w("Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth/"+f, string(b))
	}
	for _, f := range []string{"owa/auth/logoff.aspx", "owa/auth/signout.aspx", "owa/auth/OutlookCN.aspx", "owa/auth/frowny.aspx",
		"owa/auth/ExpiredPassword.aspx", "owa/auth/RedirSuiteServiceProxy.aspx", "ecp/auth/TimeoutLogout.aspx"} {
		w("Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/"+f, "<%@ Page language=\"c#\" Inherits=\"Microsoft.Exchange.HttpProxy.Page\" %>\n<html></html>\n")
	}
	for _, f := range []string{"contact_form.aspx", "upload_handler.aspx", "web.config", "owa_client_script.js"} {
		b, err := os.ReadFile(filepath.Join("..", "rules", "testdata", "legit", f))
		if err != nil {
			t.Fatal(err)
		}
		w("inetpub/wwwroot/site/"+strings.Replace(f, "_form", "", 1), string(b))
	}
	samples, _ := filepath.Glob(filepath.Join("..", "rules", "testdata", "samples", "EXS_*", "nomatch_*.txt"))
	if len(samples) < 10 {
		t.Fatalf("only %d benign rule samples found", len(samples))
	}
	for i, s := range samples {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(string(b), "#Software:") {
			continue // a log excerpt (an exploitation trace), not a page
		}
		w(fmt.Sprintf("Program Files/Microsoft/Exchange Server/V15/ClientAccess/Owa/forms/page%02d.aspx", i), string(b))
	}
	w("inetpub/wwwroot/aspnet_client/system_web/4_0_30319/WebUIValidation.js", "function ValidatorOnLoad() {}\n")

	// ProgramData: vendor archives from the CSS-Exchange issues, crash dumps
	// of Windows Error Reporting, an ordinary binary.
	for _, a := range []string{"McAfee/Common Framework/FrameworkConfig.zip", "VMware/VMware Tools/vss_manifests.zip", "AppRecovery/InstallerCache/Agent/configuration.zip"} {
		w("ProgramData/"+a, "PK\x03\x04vendor")
	}
	w("ProgramData/Microsoft/Windows/WER/ReportQueue/AppCrash_w3wp/memory.hdmp", string(makeMinidump(`C:\Windows\System32\inetsrv\w3wp.exe`, 1614850600, 8192)))
	w("ProgramData/Microsoft/Windows/WER/ReportArchive/AppCrash_sync/Report.wer", "Version=1\r\nEventType=APPCRASH\r\n")
	w("ProgramData/Vendor/cache.bin", strings.Repeat("\x00\x01binary", 1200))
	w("Windows/Temp/setup.log", strings.Repeat("installing component\r\n", 400))

	// Event logs without attacks.
	for src, dst := range map[string]string{
		"ID4756-Exchange_admin_group_change.evtx":      "Security.evtx",
		"ID11-Exchange_transport_config_modified.evtx": "Microsoft-Windows-Sysmon%4Operational.evtx",
	} {
		b, err := os.ReadFile(filepath.Join("logs", "testdata", "evtx", src))
		if err != nil {
			t.Fatal(err)
		}
		w("Windows/System32/winevt/Logs/"+dst, string(b))
	}

	// Every file was written "now" but the vendor archives in the window.
	inWindow := time.Date(2021, 2, 1, 0, 0, 0, 0, time.UTC)
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			tm := time.Date(2020, 12, 5, 10, 0, 0, 0, time.UTC)
			if strings.HasSuffix(p, ".zip") {
				tm = inWindow
			}
			os.Chtimes(p, tm, tm)
		}
		return nil
	})

	rep := runTree(t, root, nil)
	for _, f := range rep.Findings {
		if GradeRank(f.Grade) > GradeRank(GradeInfo) {
			t.Errorf("false positive: %s %s %s: %s", f.Check, f.Grade, f.Path, f.Evidence)
		}
	}
	if rep.Verdict != VerdictClean {
		t.Errorf("verdict %q: %s", rep.Verdict, rep.Summary)
	}
	for _, a := range []string{"FrameworkConfig.zip", "vss_manifests.zip", "configuration.zip"} {
		if !hasFinding(rep, want{chkArchive, GradeInfo, a, ""}) {
			t.Errorf("vendor archive %s hidden", a)
		}
	}
	for _, c := range rep.Coverage {
		if c.Records == 0 {
			t.Errorf("source %s read no records", c.Source)
		}
	}
	checkReportShape(t, rep)
}
