/*
   exsweep web-shell and Exchange-compromise rules.

   Written for exsweep from the facts collected in shared/research/host.md; no
   rule text is copied from other rule sets. Each rule names in its meta the
   public report the indicator comes from (reference) and where host.md
   records it (source).

   Every rule uses only the YARA subset of exsweep's built-in engine (see
   internal/rules/doc.go) and must have a matching and a non-matching sample
   under internal/rules/testdata/samples/<rule name>/.

   severity: backdoor = a web shell or proof that one ran; attempt = traces of
   exploitation whose success this file alone does not show; info = worth a
   look, not proof.
*/

rule EXS_ChinaChopper_JScript_Eval : webshell chopper
{
    meta:
        description = "China Chopper server side: JScript eval of a request value in unsafe mode (Request, Request.Item, Request.Form, base64-wrapped, \"un\"+\"safe\")"
        severity = "backdoor"
        reference = "https://www.cisa.gov/news-events/cybersecurity-advisories/aa21-062a"
        source = "host.md 2.3 (CISA China Chopper MARs), 2.6 (one-liner shape), 2.8 (payload seen by helsecert)"
        author = "exsweep"
    strings:
        // "unsafe" may be split into concatenated pieces: "un"+"safe",
        // "u"+"n"+"s"+"a"+"f"+"e".
        $direct = /eval\s*\(\s*Request\s*(\.\s*(Item|Form|QueryString|Params)\s*)?[\[\(][^;]{0,120}["']u(["']\s*\+\s*["'])?n(["']\s*\+\s*["'])?s(["']\s*\+\s*["'])?a(["']\s*\+\s*["'])?f(["']\s*\+\s*["'])?e["']/ nocase
        $b64 = /eval\s*\([^;]{0,160}FromBase64String\s*\(\s*Request[^;]{0,160}["']u(["']\s*\+\s*["'])?n(["']\s*\+\s*["'])?s(["']\s*\+\s*["'])?a(["']\s*\+\s*["'])?f(["']\s*\+\s*["'])?e["']/ nocase
        // The same payload inside an ECP Server log is an exploitation
        // trace, graded by EXS_Log_VirtualDirectory_Url_Script instead. Only
        // the log header near the start counts, so a shell cannot opt out by
        // carrying the text somewhere.
        $ecp_log = "#Log-type: ECP Server Log"
    condition:
        ($direct or $b64) and not $ecp_log in (0..256)
}

rule EXS_ChinaChopper_ASP_Classic : webshell chopper
{
    meta:
        description = "China Chopper for classic ASP: <%eval request(...)%> or <%execute request(...)%>"
        severity = "backdoor"
        reference = "https://www.cisa.gov/news-events/cybersecurity-advisories/aa21-062a"
        source = "host.md 2.3 (China Chopper MARs in AA21-062A); Defender name Trojan:JS/Chopper!dha in 2.1"
        author = "exsweep"
    strings:
        // Bounded gaps keep the verification window small: the regex has
        // no literal prefix ("<%" is too short), so it is checked around
        // each "request" instead.
        $asp = /<%\s{0,16}(eval|execute|executeglobal)\s{0,16}\(?\s{0,16}request\s{0,16}(\.\s{0,16}(item|form|querystring)\s{0,16})?\(/ nocase
    condition:
        $asp
}

rule EXS_ChinaChopper_PageLoad_Injection : webshell chopper proxylogon
{
    meta:
        description = "Server-side JScript block whose Page_Load evals input: the HAFNIUM payload written through the OAB virtual directory (CVE-2021-27065), also injected into legitimate .aspx files"
        severity = "backdoor"
        reference = "https://github.com/helsecert/2021-march-exchange"
        source = "host.md 2.6 (Chopper injection), 2.8 (ECP Server log payload, shell at owa/auth/RedirSuiteServerProxy.aspx), 2.2 (code added to legitimate files)"
        author = "exsweep"
    strings:
        $tag1 = /<script\s+language\s*=\s*["']?jscript["']?\s+runat\s*=\s*["']?server/ nocase
        $tag2 = /<script\s+runat\s*=\s*["']?server["']?\s+language\s*=\s*["']?jscript/ nocase
        $load = /function\s+Page_Load\s*\(\s*\)\s*\{\s*eval\s*\(/ nocase
        $ecp_log = "#Log-type: ECP Server Log"
    condition:
        any of ($tag*) and $load and not $ecp_log in (0..256)
}

rule EXS_OAB_VirtualDirectory_Dump_Script : webshell proxylogon
{
    meta:
        description = "OAB virtual-directory property dump saved as a web page, with a script tag in ExternalUrl/InternalUrl: the file CVE-2021-27065 writes to disk"
        severity = "backdoor"
        reference = "https://www.microsoft.com/security/blog/2021/03/02/hafnium-targeting-exchange-servers/"
        source = "host.md 2.1 (InternalUrl and ExternalUrl should only be valid Uris), 2.6 (MSTIC and CISA 10328929 rules: property names next to the script)"
        author = "exsweep"
    strings:
        $url = /(External|Internal)Url\s*[:=][^\r\n]{0,200}<script/ nocase
        $p1 = "InternalAuthenticationMethods" nocase
        $p2 = "ExtendedProtectionTokenChecking" nocase
        $p3 = "OfflineAddressBooks" nocase
        $p4 = "PollInterval" nocase
        $p5 = "ExternalAuthenticationMethods" nocase
        $ecp_log = "#Log-type: ECP Server Log"
    condition:
        filesize < 1MB and $url and 2 of ($p*) and not $ecp_log in (0..256)
}

rule EXS_Log_VirtualDirectory_Url_Script : log proxylogon
{
    meta:
        description = "Set-*VirtualDirectory with a script tag in a URL property, in an ECP Server log (text) or an MSExchange Management event log (UTF-16): CVE-2021-27065 exploitation"
        severity = "attempt"
        reference = "https://www.microsoft.com/security/blog/2021/03/02/hafnium-targeting-exchange-servers/"
        source = "host.md 1.2 (Test-ProxyLogon 27065 pattern), 2.1, 2.5 (Velociraptor: MSExchange Management.evtx), 2.8 (helsecert ECP line)"
        author = "exsweep"
    strings:
        $text = /Set-[A-Za-z]{2,24}VirtualDirectory[^\r\n]{0,120}(External|Internal)Url[^\r\n]{0,80}<script/ nocase
        $w_cmd = "VirtualDirectory" wide nocase
        $w_url1 = "ExternalUrl" wide nocase
        $w_url2 = "InternalUrl" wide nocase
        $w_script = "<script" wide nocase
    condition:
        $text or ($w_cmd and any of ($w_url*) and $w_script)
}

rule EXS_ChinaChopper_Command_Traces : log chopper
{
    meta:
        description = "China Chopper command wrapper (cd /d ...&...&echo [S]&cd&echo [E]) and the HAFNIUM clean-up commands in aspnet_client, in logs, event logs or scripts: a shell was used"
        severity = "backdoor"
        reference = "https://github.com/SigmaHQ/sigma/blob/master/rules/windows/process_creation/proc_creation_win_webshell_chopper.yml"
        source = "host.md 2.6 (LOG_Exchange_Forensic_Artefacts_CleanUp strings), 2.7 (Sigma webshell_chopper command lines)"
        author = "exsweep"
    strings:
        $s = "&echo [S]" ascii wide nocase
        $e = "&echo [E]" ascii wide nocase
        $cd = /cd \/d "?[a-z]:\\[^&\r\n]{0,200}&/ nocase
        $clean1 = "aspnet_client&del '" ascii wide nocase
        $clean2 = "aspnet_client&attrib +h +s +r " ascii wide nocase
        $clean3 = "cmd.exe /c cd /d C:\\inetpub\\wwwroot\\aspnet_client" ascii wide nocase
    condition:
        ($s and $e) or ($cd and ($s or $e)) or any of ($clean*)
}

rule EXS_WebShell_ASPX_Command_Exec : webshell
{
    meta:
        description = "ASP.NET page that starts cmd.exe or PowerShell with request input and writes the output back"
        severity = "backdoor"
        reference = "https://github.com/cert-lv/exchange_webshell_detection"
        source = "host.md 2.4 (CERT-LV keywords: processstartinfo, cmd.exe, cmd /c, powershell.exe), 2.4 (Elastic: w3wp spawning cmd/powershell)"
        author = "exsweep"
    strings:
        $page1 = /<%@\s*(Page|WebHandler|WebService|Control)\b/ nocase
        $page2 = /runat\s*=\s*["']?server/ nocase
        $proc1 = "ProcessStartInfo" nocase
        $proc2 = /Process\s*\.\s*Start\s*\(/ nocase
        $proc3 = /new\s+(System\.Diagnostics\.)?Process\s*\(/ nocase
        $sh1 = "cmd.exe" nocase
        $sh2 = "powershell" nocase
        $sh3 = /["']cmd["']/ nocase
        $sh4 = /["']\/c\s/ nocase
        $in1 = /Request\s*(\.\s*(Form|QueryString|Item|Params|Headers|Cookies)\s*)?[\[\(]/ nocase
        $in2 = "Request.InputStream" nocase
        $out1 = "StandardOutput" nocase
        $out2 = /Response\s*\.\s*Write\s*\(/ nocase
    condition:
        filesize < 2MB and any of ($page*) and any of ($proc*) and any of ($sh*) and any of ($in*) and any of ($out*)
}

rule EXS_WebShell_ASPX_Assembly_Loader : webshell
{
    meta:
        description = "ASP.NET page that loads a .NET assembly from request data (base64 or encrypted payload loader, the pattern of memory-resident ASPX shells)"
        severity = "backdoor"
        reference = "https://github.com/cert-lv/exchange_webshell_detection"
        source = "host.md 2.4 (CERT-LV keywords: assembly.load, convert.frombase64string, aesenc, request.headers)"
        author = "exsweep"
    strings:
        $page1 = /<%@\s*(Page|WebHandler|WebService|Control)\b/ nocase
        $page2 = /runat\s*=\s*["']?server/ nocase
        $load = /Assembly\s*\.\s*Load\s*\(/ nocase
        $dec1 = /FromBase64String\s*\(/ nocase
        $dec2 = "CreateDecryptor" nocase
        $dec3 = "RijndaelManaged" nocase
        $in1 = /Request\s*(\.\s*(Form|QueryString|Item|Params|Headers|Cookies)\s*)?[\[\(]/ nocase
        $in2 = /Request\s*\.\s*(InputStream|BinaryRead)/ nocase
    condition:
        filesize < 1MB and any of ($page*) and $load and any of ($dec*) and any of ($in*)
}

rule EXS_WebShell_ASPX_Tiny_Dropper : webshell
{
    meta:
        description = "Small ASP.NET page that writes an uploaded or posted file to a path taken from the request: the role of SIMPLESEESHARP, which dropped the larger SPORTSBALL shell"
        severity = "backdoor"
        reference = "https://www.volexity.com/blog/2021/03/02/active-exploitation-of-microsoft-exchange-zero-day-vulnerabilities/"
        source = "host.md 2.2 (Volexity: SIMPLESEESHARP dropped SPORTSBALL), 2.4 (CERT-LV keywords: httppostedfile, system.io.file, writealltext)"
        author = "exsweep"
    strings:
        $page1 = /<%@\s*(Page|WebHandler)\b/ nocase
        $page2 = /runat\s*=\s*["']?server/ nocase
        // Legitimate upload pages choose the destination themselves; a
        // dropper lets the caller name it.
        $save_req = /\.SaveAs\s*\([^;]{0,200}Request\s*(\.\s*(Form|QueryString|Item|Params|Headers)\s*)?[\[\(]/ nocase
        $write_req = /File\s*\.\s*WriteAll(Bytes|Text)\s*\(\s*[^,;]{0,160}Request/ nocase
    condition:
        filesize < 8KB and any of ($page*) and ($save_req or $write_req)
}

rule EXS_WebShell_ASPXSpy : webshell
{
    meta:
        description = "ASPXSpy web shell (file manager, command, SQL, IIS and port-scan panels; page title \"ASPXSpy ... -> Bin:)\")"
        severity = "backdoor"
        reference = "https://www.volexity.com/blog/2021/03/02/active-exploitation-of-microsoft-exchange-zero-day-vulnerabilities/"
        source = "host.md 2.2 (Volexity saw ASPXSPY on exploited Exchange servers); markers from public copies of the tool"
        author = "exsweep"
    strings:
        $name = "ASPXSpy" nocase
        $title = "-> Bin:)"
        $b1 = "Bin_Action"
        $b2 = "Bin_FileList"
        $b3 = "Bin_CmdPanel"
        $b4 = "Bin_Filedel"
        $b5 = "Bin_SQLPanel"
        $go = "goaction"
    condition:
        $title or ($name and (any of ($b*) or $go)) or (3 of ($b*) and $go)
}

rule EXS_WebShell_reGeorg_Tunnel : webshell tunnel
{
    meta:
        description = "reGeorg SOCKS tunnel page (ASPX/ASHX): socket commands CONNECT/DISCONNECT/FORWARD/READ answered in X-STATUS/X-ERROR headers"
        severity = "backdoor"
        reference = "https://github.com/sensepost/reGeorg"
        source = "host.md 2.2 (Volexity webshell_aspx_reGeorgTunnel seen in the Exchange intrusions); markers from the tool's public source"
        author = "exsweep"
    strings:
        $georg = "Georg says" nocase
        $h1 = "X-STATUS"
        $h2 = "X-ERROR"
        $h3 = "X-TARGET"
        $h4 = "X-CMD"
        $sock = "System.Net.Sockets"
        $c1 = "\"CONNECT\""
        $c2 = "\"DISCONNECT\""
        $c3 = "\"FORWARD\""
        $c4 = "\"READ\""
    condition:
        $georg or ($sock and 2 of ($h*) and 3 of ($c*))
}

rule EXS_WER_Exchange_ECP_AppPool_Crash : wer proxylogon
{
    meta:
        description = "Windows Error Report (UTF-16) of a w3wp.exe crash in MSExchangeECPAppPool: what a failed ECP exploit leaves on a patched server"
        severity = "attempt"
        reference = "https://github.com/Neo23x0/signature-base"
        source = "host.md 2.6 (WER rule: AppPath w3wp.exe with w3wp#MSExchangeECPAppPool, UTF-16, under 8 KB), 2.9 (WER reports)"
        author = "exsweep"
    strings:
        $app = "AppPath=c:\\windows\\system32\\inetsrv\\w3wp.exe" wide nocase
        $pool = ".Value=w3wp#MSExchangeECPAppPool" wide nocase
    condition:
        uint16(0) == 0xFEFF and filesize < 8KB and $app and $pool
}

rule EXS_Compiled_JScript_Eval_Page : webshell chopper compiled
{
    meta:
        description = "Compiled ASP.NET page (App_Web_*.dll in Temporary ASP.NET Files) that calls JScript eval in unsafe mode: a China Chopper page that was requested at least once"
        severity = "backdoor"
        reference = "https://www.cisa.gov/news-events/cybersecurity-advisories/aa21-062a"
        source = "host.md 2.6 (compiled-webshell App_Web_*.dll rule), 2.9 (Temporary ASP.NET Files)"
        author = "exsweep"
    strings:
        $jscript = "Microsoft.JScript" ascii
        $eval = "JScriptEvaluate" ascii
        $unsafe = "unsafe" wide fullword
        $appweb = "App_Web_" ascii wide
    condition:
        uint16(0) == 0x5A4D and uint32(uint32(0x3C)) == 0x00004550 and filesize < 2MB and $jscript and $eval and $unsafe and $appweb
}

rule EXS_HAFNIUM_PostExploitation_Commands : log postexploitation
{
    meta:
        description = "Post-exploitation commands reported for the March 2021 Exchange intrusions: LSASS dumps with comsvcs MiniDump, staging to C:\\ProgramData\\it.zip, PowerCat reverse shells, the opera_browser.exe drop"
        severity = "backdoor"
        reference = "https://www.microsoft.com/security/blog/2021/03/02/hafnium-targeting-exchange-servers/"
        source = "host.md 2.2 (Volexity: rundll32 comsvcs.dll MiniDump lsass.dmp), 2.3 (CHIRP MSTIC strings: lsass.exe C:\\windows\\temp\\lsass, C:\\ProgramData\\it.zip, powercat), 2.1 (opera_browser.exe), 2.7 (Sigma HAFNIUM command lines)"
        author = "exsweep"
    strings:
        $minidump = /comsvcs(\.dll)?["']?\s*,?\s*(MiniDump|#24)\b/ nocase
        $lsass = "lsass.exe C:\\windows\\temp\\lsass" ascii wide nocase
        $itzip = "C:\\ProgramData\\it.zip" ascii wide nocase
        $powercat = "powercat.ps1'); powercat -c" ascii wide nocase
        $opera = "\\users\\public\\opera\\opera_browser.exe" ascii wide nocase
        $pst = /-t7z[^\r\n]{0,100}C:\\ProgramData\\pst/ nocase
    condition:
        any of them
}

rule EXS_Suspicious_ASPX_Keywords : webshell heuristic
{
    meta:
        description = "ASP.NET page using three or more capabilities typical of web shells (process start, shell names, base64 decoding, dynamic compilation, sockets, account commands)"
        severity = "info"
        reference = "https://github.com/cert-lv/exchange_webshell_detection"
        source = "host.md 2.4 (CERT-LV keyword list for files under the Exchange FrontEnd folder)"
        author = "exsweep"
    strings:
        $page1 = /<%@\s*(Page|WebHandler|WebService|Control)\b/ nocase
        $page2 = /runat\s*=\s*["']?server/ nocase
        $k1 = "ProcessStartInfo" nocase
        $k2 = "FromBase64String" nocase
        $k3 = "cmd.exe" nocase
        $k4 = "cmd /c" nocase
        $k5 = "powershell.exe" nocase
        $k6 = "net user" nocase fullword
        $k7 = "net group" nocase fullword
        $k8 = "whoami" nocase fullword
        $k9 = "WScript.Shell" nocase
        $k10 = "CompileAssemblyFromSource" nocase
        $k11 = "Assembly.Load" nocase
        $k12 = "new Socket" nocase
        $k13 = "procdump" nocase
        $k14 = "lsass" nocase fullword
        $k15 = /eval\s*\(\s*Request/ nocase
        $k16 = "BinaryWrite" nocase
    condition:
        any of ($page*) and 3 of ($k*)
}
