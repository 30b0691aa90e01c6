package logs

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// benchSize is the size of the generated inputs: large enough that the
// file is read many buffers deep, small enough to generate in a second.
const benchSize = 50 << 20

// The pre-filter benchmarks plant the literal in one line in a thousand,
// the density of a real indicator in a busy server's logs (or more).
const benchHitEvery = 1000

// genW3C writes an IIS log of about size bytes into dir.
func genW3C(tb testing.TB, dir string, size int) string {
	tb.Helper()
	p := filepath.Join(dir, "u_ex210305.log")
	f, err := os.Create(p)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprint(w, "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: 2021-03-01 00:00:00\r\n"+
		"#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\r\n")
	stems := []string{"/owa/", "/owa/auth/logon.aspx", "/EWS/Exchange.asmx", "/mapi/emsmdb/", "/Microsoft-Server-ActiveSync/default.eas", "/owa/service.svc", "/autodiscover/autodiscover.xml"}
	uas := []string{
		"Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+(KHTML,+like+Gecko)+Chrome/89.0.4389.82+Safari/537.36",
		"Microsoft+Office/16.0+(Windows+NT+10.0;+Microsoft+Outlook+16.0.13801;+Pro)",
		"Apple-iPhone12C1/1805.114",
	}
	t0 := time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC)
	written := 0
	for i := 0; written < size; i++ {
		t := t0.Add(time.Duration(i) * 50 * time.Millisecond)
		stem := stems[i%len(stems)]
		if i%benchHitEvery == benchHitEvery/2 {
			stem = "/ecp/y.js"
		}
		n, _ := fmt.Fprintf(w, "%s 10.0.0.5 POST %s &CorrelationID=<empty>;&cafeReqId=%08x-299e-4179-b3e9-de56f5c1d9ee;&encoding=; 443 CONTOSO\\user%d 192.0.2.%d %s - 200 0 0 %d\r\n",
			t.Format("2006-01-02 15:04:05"), stem, i, i%500, i%250, uas[i%len(uas)], i%900)
		written += n
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	return p
}

// genHttpProxy writes an HttpProxy log of about size bytes into dir. One
// line in ten has a quoted user agent, as real logs do.
func genHttpProxy(tb testing.TB, dir string, size int) string {
	tb.Helper()
	p := filepath.Join(dir, "HttpProxy_2021030100-1.LOG")
	f, err := os.Create(p)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fields := strings.Split(httpProxyFields, ",")
	fmt.Fprintf(w, "#Software: Microsoft Exchange Server\r\n#Version: 15.01.2176.002\r\n#Log-type: HttpProxy Logs\r\n#Date: 2021-03-01T00:00:00.000Z\r\n#Fields: %s\r\n", httpProxyFields)
	t0 := time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC)
	vals := make([]string, len(fields))
	written := 0
	for i := 0; written < size; i++ {
		for k := range vals {
			vals[k] = ""
		}
		set := func(name, v string) {
			for k, f := range fields {
				if f == name {
					vals[k] = v
				}
			}
		}
		set("DateTime", t0.Add(time.Duration(i)*20*time.Millisecond).Format("2006-01-02T15:04:05.000Z"))
		set("RequestId", fmt.Sprintf("%08x-0001-4000-8000-000000000001", i))
		set("MajorVersion", "15")
		set("MinorVersion", "1")
		set("BuildVersion", "2176")
		set("RevisionVersion", "2")
		set("Protocol", "Ecp")
		set("UrlHost", "mail.contoso.com")
		set("UrlStem", "/ecp/default.aspx")
		set("AuthenticationType", "Negotiate")
		set("IsAuthenticated", "True")
		set("AuthenticatedUser", fmt.Sprintf("user%d@contoso.com", i%300))
		set("AnchorMailbox", fmt.Sprintf("Smtp:user%d@contoso.com", i%300))
		set("UserAgent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML  like Gecko) Chrome/89.0.4389.82 Safari/537.36")
		if i%10 == 3 {
			set("UserAgent", `"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/89.0.4389.82 Safari/537.36"`)
		}
		set("ClientIpAddress", fmt.Sprintf("192.0.2.%d", i%250))
		set("ServerHostName", "EXCH01")
		set("HttpStatus", "200")
		set("BackEndStatus", "200")
		set("Method", "GET")
		set("ProxyAction", "Proxy")
		set("TargetServer", "exch02.contoso.local")
		set("TargetServerVersion", "Version 15.1 (Build 2176.2)")
		set("RoutingType", "AnchorMailboxHeader")
		set("RoutingHint", "Smtp-UserCache")
		set("BackEndCookie", "Server~exch02.contoso.local~1942062522~2021-03-01T10:00:00")
		set("RequestBytes", "0")
		set("ResponseBytes", fmt.Sprint(1000+i%5000))
		set("TotalRequestTime", fmt.Sprint(i%700))
		set("GenericInfo", "ActivityContextLifeTime=3;CoreLatency=1;RoutingDetail=;S:ServiceCommonMetadata.HttpMethod=GET;")
		if i%benchHitEvery == benchHitEvery/2 {
			set("AnchorMailbox", "ServerInfo~a]@exch01.contoso.local:444/ecp/proxyLogon.ecp?#")
			set("RoutingHint", "X-BEResource-Cookie")
		}
		n, _ := fmt.Fprintf(w, "%s\r\n", strings.Join(vals, ","))
		written += n
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	return p
}

const httpProxyFields = "DateTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,Protocol,UrlHost,UrlStem,ProtocolAction,AuthenticationType,IsAuthenticated,AuthenticatedUser,Organization,AnchorMailbox,UserAgent,ClientIpAddress,ServerHostName,HttpStatus,BackEndStatus,ErrorCode,Method,ProxyAction,TargetServer,TargetServerVersion,RoutingType,RoutingHint,BackEndCookie,ServerLocatorHost,ServerLocatorLatency,RequestBytes,ResponseBytes,TargetOutstandingRequests,AuthModulePerfContext,HttpPipelineLatency,CalculateTargetBackEndLatency,GlsLatencyBreakup,TotalGlsLatency,AccountForestLatencyBreakup,TotalAccountForestLatency,ResourceForestLatencyBreakup,TotalResourceForestLatency,ADLatency,SharedCacheLatencyBreakup,TotalSharedCacheLatency,ActivityContextLifeTime,ModuleToHandlerSwitchingLatency,ClientReqStreamLatency,BackendReqInitLatency,BackendReqStreamLatency,BackendProcessingLatency,BackendRespInitLatency,BackendRespStreamLatency,ClientRespStreamLatency,KerberosAuthHeaderLatency,HandlerCompletionLatency,RequestHandlerLatency,HandlerToModuleSwitchingLatency,ProxyTime,CoreLatency,RoutingLatency,HttpProxyOverhead,TotalRequestTime,RouteRefresherLatency,UrlQuery,BackEndGenericInfo,GenericInfo,GenericErrors,EdgeTraceId,DatabaseGuid,UserADObjectGuid,PartitionEndpointLookupLatency,RoutingStatus"

// benchRead reads the file once per iteration the way a check would: for
// every record it looks one field up through a Lookup.
func benchRead(b *testing.B, p string, f *Filter, field string, wantHits int64) {
	st, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	lk := NewLookup(field)
	b.ResetTimer()
	for b.Loop() {
		r, err := Open(p, &Options{Filter: f})
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		for r.Next() {
			rec := r.Record()
			n += int64(len(rec.Get(lk.For(rec.Header)[0])))
		}
		cov := r.Coverage()
		r.Close()
		if cov.Malformed != 0 || (f != nil && cov.Records != wantHits) || n == 0 {
			b.Fatalf("records %d malformed %d sum %d, want %d hits", cov.Records, cov.Malformed, n, wantHits)
		}
	}
}

func BenchmarkW3C(b *testing.B) {
	p := genW3C(b, b.TempDir(), benchSize)
	hits := countLines(b, p, "/ecp/y.js")
	b.Run("full", func(b *testing.B) { benchRead(b, p, nil, "cs-uri-stem", 0) })
	b.Run("filter", func(b *testing.B) { benchRead(b, p, NewFilter("/ecp/y.js"), "cs-uri-stem", hits) })
	b.Run("filter-fold", func(b *testing.B) { benchRead(b, p, (&Filter{}).AddFold("/ECP/Y.JS"), "cs-uri-stem", hits) })
}

func BenchmarkHttpProxy(b *testing.B) {
	p := genHttpProxy(b, b.TempDir(), benchSize)
	hits := countLines(b, p, "ServerInfo~")
	b.Run("full", func(b *testing.B) { benchRead(b, p, nil, "AnchorMailbox", 0) })
	b.Run("filter", func(b *testing.B) { benchRead(b, p, NewFilter("ServerInfo~"), "AnchorMailbox", hits) })
	b.Run("filter-4", func(b *testing.B) {
		benchRead(b, p, NewFilter("ServerInfo~", "X-AnonResource-Backend", "/ecp/y.js", "Reset"), "AnchorMailbox", hits)
	})
}

func countLines(tb testing.TB, p, lit string) int64 {
	data, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	return int64(strings.Count(string(data), lit))
}
