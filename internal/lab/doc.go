// Package lab runs simulated Microsoft Exchange (and non-Exchange) HTTPS servers
// on loopback addresses, for tests, benchmarks and demos of the scanner.
//
// A Server describes one simulated host: the installed build, how the build
// leaks (X-OWA-Version, exporttool manifest, ECP folders, logon-page paths) and
// failure modes (WAF, TLS 1.0 only, expired certificate, tarpit, reset, garbage,
// 10 MB page, redirect loops, plain IIS, catch-all 200, web shells, hostile
// strings). Start binds one listener per server (one loopback address each, or
// one port each on a single address) and serves until Close; every request is
// counted by method and path so tests can assert that a scanner sent only GET
// and HEAD. Expect and Lab.Expectations give the truth: what a correct
// non-intrusive scanner should report for each server (see Expectation for the
// rules). Mix generates populations: realistic (March 2021), uniform, all-modes.
//
// Response texts come from shared/data/exchange/http-examples.md (section
// numbers below) and the public files listed in pages/SOURCES.md.
//
// # HTTP contract of an Exchange 2013/2016/2019/SE server (15.x)
//
// Paths match case-insensitively (IIS); queries are ignored. <host> is the
// request's Host header. Every Exchange response has Server (Microsoft-IIS/8.5
// on 2013, 10.0 otherwise), X-Powered-By: ASP.NET; the Exchange ones (marked FE)
// add X-AspNet-Version: 4.0.30319, request-id: <random GUID>, X-FEServer: <FE>
// and X-CalculatedBETarget: <fe lower-case>.<Hostname's domain>. "OWA-V" means
// X-OWA-Version per HeaderMode: present "X-OWA-Version: <OWAVersion>",
// lowercase "x-owa-version: …", long "X-OWA-Version: 15.02.0858.005", empty
// "X-OWA-Version: " and stripped (absent).
//
//	GET /                         302 Location: https://<host>/owa/           FE, no OWA-V (§C2)
//	GET /owa, /owa/               302 Location: https://<host>/owa/auth/logon.aspx?url=https%3a%2f%2f<host>%2fowa%2f&reason=0
//	                                                                          FE, OWA-V (§C1, §C3)
//	GET /owa/auth/logon.aspx      200 text/html logon page                    FE, no OWA-V (§A)
//	    title "Outlook Web App" (2013) / "Outlook" (2016+); resources at
//	    /owa/auth/<3-part CU>/themes/resources/…; markers
//	    <!-- OwaPage = ASP.auth_logon_aspx -->, flogon.js, IsOwaPremiumBrowser,
//	    "To use Outlook, browser settings must allow scripts to run." (2013:
//	    "To use Outlook Web App, …"); padded in an inline script comment after
//	    the head to LogonPageSize (default 58,714 bytes; HugeBody 10 MiB).
//	GET /owa/auth/errorFE.aspx    200 small error page (X-FEServer, date; no version)   FE
//	GET /owa/auth/<other>.aspx    302 Location: /owa/auth/errorFE.aspx?httpCode=404, "Object moved" body (§C4)  FE
//	GET /owa/auth/<CU>/themes/…   200 tiny static body (the installed CU only)          FE
//	GET /owa/auth/<other>         404 IIS page
//	GET /owa/<other>              302 to the logon page with url=<that path>            FE
//	GET /owa/service(.svc), /EWS/Exchange.asmx, /EWS/, /Microsoft-Server-ActiveSync(/),
//	    /autodiscover/autodiscover.xml, /rpc/rpcproxy.dll, /mapi/nspi/, /oab/
//	                              401, WWW-Authenticate: Negotiate, NTLM, Basic realm="<Hostname>",
//	                              Cache-Control: private, empty body                    FE, OWA-V (§D)
//	GET /ecp, /ecp/               302 to the logon page with url=https%3a%2f%2f<host>%2fecp%2f   FE
//	GET /ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application
//	                              200 application/x-ms-application, ClickOnce XML of
//	                              16,487 bytes (for a 10-character version) with
//	                              ManifestVersion 3× and a per-server publicKeyToken (§E)   FE
//	GET /ecp/<Build>/exporttool/  200 empty (only the installed 4-part Build; the same
//	                              folder also serves the manifest)                      FE
//	GET /ecp/<other build>/exporttool/   404 IIS page
//	GET /ecp/<other>.aspx         302 to the logon page (not /ecp/auth/)                FE
//	GET anything else             404 IIS page (1,245 bytes)
//
// # Exchange 2010 (14.x)
//
// Server: Microsoft-IIS/7.5, X-AspNet-Version: 2.0.50727, no X-FEServer.
// /owa/ 302s to /owa/auth/logon.aspx?replaceCurrent=1&url=https%3a%2f%2f<host>%2fowa%2f
// (no OWA-V); the logon page carries OWA-V and 4-part paths
// /owa/<OWAVersion>/themes/resources/logon.css, <body class="owaLgnBdy">,
// title "Outlook Web App" (§B); the 401 endpoints carry no OWA-V; ECP exists
// (/ecp/ redirects to the logon page) but has no exporttool: every exporttool
// path is 404.
//
// # Modes
//
//	ECP 403 / 404         every /ecp and /ecp/* path: IIS 403 / 404 page (web shells under /ecp too)
//	HidePath              logon page uses /owa/auth/themes/…; versioned static folders 404
//	Redirect loop         /owa/ → logon.aspx → /owa/ … (302s keep FE and OWA-V); no logon page
//	Redirect offsite      every /owa path 302 → RedirectTo (default https://owa.moved.invalid/owa/), no FE
//	WAF                   403 "Request Rejected" (Connection: close) on every path when the
//	                      User-Agent lacks "Mozilla/5.0"
//	TLS10Only             TLS 1.0 only, TLS_RSA_WITH_AES_128_CBC_SHA, RSA certificate
//	ExpiredCert           RSA certificate valid 2019-01-01 … 2021-01-01
//	HostileStrings        logon title HostileTitle, X-FEServer HostileFEServer,
//	                      certificate subject with <script> and control characters
//	Webshells             each planted path: 200, text/html, empty body or a tiny upload form
//	                      (alternating), FE headers on Exchange
//	PlainIIS              / and /iisstart.htm: 200 IIS 10 default page (703 bytes); else 404
//	Nginx                 /: 200 "Welcome to nginx!"; else nginx 404
//	CatchAll200           every path and method: 200 with the same small HTML page
//	Tarpit                TCP accepted, nothing ever sent, held until the client closes,
//	                      Options.TarpitTimeout, or Close
//	Reset                 TCP accepted, closed with RST
//	Garbage               64–512 random non-TLS bytes, then close
//
// Every non-GET/HEAD request is answered as a GET would be and counted as a
// violation (Stats.Violations). HTTP/1.1 with keep-alive only (no HTTP/2), so a
// whole fingerprint is one TCP connection and one TLS handshake.
//
// # Scale
//
// One listener and one accept goroutine per server; an idle server costs about
// 8 KB (10,000 servers: +35 MB heap, +38 MB stacks, started in 2–4 s, closed in
// 0.3 s on 2 shared cores). 10,000 servers need 10,000 file descriptors plus the
// connections (Start refuses when RLIMIT_NOFILE leaves fewer than 512 spare; the
// limit here is 20,000); on Linux every 127/8 address is local, so Network
// "127.10.0.0/16" needs no setup. Bodies are rendered once per variant and
// shared; a 4-request fingerprint allocates about 40 KB.
package lab
