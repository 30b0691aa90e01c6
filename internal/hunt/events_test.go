package hunt

import (
	"testing"

	"github.com/exsweep/exsweep/internal/hunt/logs"
	"github.com/exsweep/exsweep/internal/rules"
)

const (
	chSysmon   = "Microsoft-Windows-Sysmon/Operational"
	chMgmt     = "MSExchange Management"
	chDefender = "Microsoft-Windows-Windows Defender/Operational"
)

func TestMatchEvent(t *testing.T) {
	cs := mustChecks(t)
	eng, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	type res struct{ check, grade string }
	for _, tc := range []struct {
		name string
		ev   logs.Event
		want []res
	}{
		{"27065 in MSExchange Management", logs.Event{Channel: chMgmt, Provider: "MSExchange CmdletLogs", EventID: 1,
			Params: []string{"Set-OabVirtualDirectory", `-Identity "EXCH01\OAB (Default Web Site)" -ExternalUrl "http://f/<script language=""JScript"" runat=""server"">function Page_Load(){eval(Request[""k""],""unsafe"");}</script>"`, "contoso.com/Users/x"}},
			[]res{{chkVDirScript, GradeExploited}}},
		{"27065 failed (event 6)", logs.Event{Channel: chMgmt, EventID: 6, Params: []string{"Set-OabVirtualDirectory", `-ExternalUrl "http://f/<script>x</script>"`}},
			[]res{{chkVDirScript, GradeAttempt}}},
		{"ProxyShell export", logs.Event{Channel: chMgmt, EventID: 1, Params: []string{"New-MailboxExportRequest", `-Mailbox "Jones" -FilePath "\\127.0.0.1\c$\inetpub\wwwroot\aspnet_client\a.aspx"`}},
			[]res{{chkExport, GradeExploited}}},
		{"ordinary cmdlet", logs.Event{Channel: chMgmt, EventID: 1, Params: []string{"Get-Mailbox", `-Identity "x"`}}, nil},
		{"other channel with the same id", logs.Event{Channel: "Application", EventID: 1, Params: []string{"Set-OabVirtualDirectory", `-ExternalUrl "http://f/<script>"`}}, nil},
		{"26857 UM crash", logs.Event{Channel: "Application", Provider: "MSExchange Unified Messaging", EventID: 1000, Level: 2,
			Params: []string{"System.InvalidCastException: Unable to cast object of type 'System.Windows.Data.ObjectDataProvider'"}},
			[]res{{chkUM, GradeAttempt}}},
		{"UM warning, not error", logs.Event{Channel: "Application", Provider: "MSExchange Unified Messaging", Level: 3,
			Params: []string{"System.InvalidCastException"}}, nil},
		{"UM error without the exception", logs.Event{Channel: "Application", Provider: "MSExchange Unified Messaging", Level: 2,
			Params: []string{"System.OutOfMemoryException"}}, nil},
		{"comsvcs 4688", logs.Event{Channel: "Security", EventID: 4688, Data: map[string]string{
			"NewProcessName": `C:\Windows\System32\rundll32.exe`,
			"CommandLine":    `"C:\Windows\System32\rundll32.exe"  C:\Windows\System32\comsvcs.dll MiniDump 512 \Windows\Temp\2V7Be7Gq.dmp full`}},
			[]res{{chkLsassCmd, GradeBackdoor}}},
		{"comsvcs #24", logs.Event{Channel: chSysmon, EventID: 1, Data: map[string]string{
			"Image": `C:\Windows\System32\rundll32.exe`, "CommandLine": `rundll32 comsvcs.dll #24 624 C:\ProgramData\x.bin full`}},
			[]res{{chkLsassCmd, GradeBackdoor}}},
		{"procdump lsass", logs.Event{Channel: chSysmon, EventID: 1, Data: map[string]string{
			"Image": `C:\ProgramData\p64.exe`, "CommandLine": `p64.exe -accepteula -ma lsass.exe C:\ProgramData\l.dmp`}},
			[]res{{chkLsassCmd, GradeBackdoor}}},
		{"procdump of another process", logs.Event{Channel: chSysmon, EventID: 1, Data: map[string]string{
			"Image": `C:\Tools\procdump.exe`, "CommandLine": `procdump.exe -ma w3wp.exe C:\dumps\w3wp.dmp`}}, nil},
		{"w3wp cmd (Sysmon)", logs.Event{Channel: chSysmon, EventID: 1, Data: map[string]string{
			"Image": `C:\Windows\System32\cmd.exe`, "ParentImage": `c:\windows\system32\inetsrv\w3wp.exe`,
			"CommandLine": `cmd.exe /c net user`}},
			[]res{{chkW3wpShell, GradeExploited}}},
		{"w3wp cmd with Chopper wrapper", logs.Event{Channel: "Security", EventID: 4688, Data: map[string]string{
			"NewProcessName": `C:\Windows\System32\cmd.exe`, "ParentProcessName": `C:\Windows\System32\inetsrv\w3wp.exe`,
			"CommandLine": `cmd /c cd /d "C:\inetpub\wwwroot\aspnet_client"&whoami&echo [S]&cd&echo [E]`}},
			[]res{{chkW3wpShell, GradeBackdoor}}},
		{"w3wp csc (compilation)", logs.Event{Channel: chSysmon, EventID: 1, Data: map[string]string{
			"Image": `C:\Windows\Microsoft.NET\Framework64\v4.0.30319\csc.exe`, "ParentImage": `C:\Windows\System32\inetsrv\w3wp.exe`}}, nil},
		{"UM worker child", logs.Event{Channel: "Security", EventID: 4688, Data: map[string]string{
			"NewProcessName": `C:\Windows\System32\cmd.exe`, "ParentProcessName": `C:\Program Files\Microsoft\Exchange Server\V15\Bin\UMWorkerProcess.exe`}},
			[]res{{chkUMChild, GradeExploited}}},
		{"UM worker WerFault", logs.Event{Channel: "Security", EventID: 4688, Data: map[string]string{
			"NewProcessName": `C:\Windows\System32\WerFault.exe`, "ParentProcessName": `C:\Program Files\Microsoft\Exchange Server\V15\Bin\UMWorkerProcess.exe`}}, nil},
		{"shell written by w3wp", logs.Event{Channel: chSysmon, EventID: 11, Data: map[string]string{
			"Image": `c:\windows\system32\inetsrv\w3wp.exe`, "TargetFilename": `C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\owa\auth\x.aspx`}},
			[]res{{chkShellWrite, GradeBackdoor}}},
		{"temp file by w3wp", logs.Event{Channel: chSysmon, EventID: 11, Data: map[string]string{
			"Image": `c:\windows\system32\inetsrv\w3wp.exe`, "TargetFilename": `C:\Windows\Microsoft.NET\Framework64\v4.0.30319\Temporary ASP.NET Files\owa\x.cmdline`}}, nil},
		{"lsass dump by Task Manager", logs.Event{Channel: chSysmon, EventID: 11, Data: map[string]string{
			"Image": `C:\Windows\System32\Taskmgr.exe`, "TargetFilename": `C:\Users\admmig\AppData\Local\Temp\lsass (4).DMP`}},
			[]res{{chkLsassCmd, GradeBackdoor}}},
		{"Defender Chopper", logs.Event{Channel: chDefender, EventID: 1116, Data: map[string]string{
			"Threat Name": "Backdoor:JS/Chopper.F!dha", "Path": `file:_C:\inetpub\wwwroot\aspnet_client\s.aspx`}},
			[]res{{chkDefender, GradeBackdoor}}},
		{"Defender Exmann", logs.Event{Channel: chDefender, EventID: 1116, Data: map[string]string{"Threat Name": "Exploit:Script/Exmann.A!dha"}},
			[]res{{chkDefender, GradeExploited}}},
		{"Defender other", logs.Event{Channel: chDefender, EventID: 1116, Data: map[string]string{"Threat Name": "PUA:Win32/Presenoker"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.ev
			if !cs.keepEvent(&ev) && len(tc.want) > 0 {
				t.Fatalf("no selector keeps the event")
			}
			got := matchEvent(cs, eng, &ev)
			if len(got) != len(tc.want) {
				var s []res
				for _, h := range got {
					s = append(s, res{h.check.ID, h.grade})
				}
				t.Fatalf("got %v, want %v", s, tc.want)
			}
			for i, h := range got {
				if h.check.ID != tc.want[i].check || h.grade != tc.want[i].grade {
					t.Errorf("got %s %s, want %+v (%s)", h.check.ID, h.grade, tc.want[i], h.what)
				}
			}
		})
	}
}
