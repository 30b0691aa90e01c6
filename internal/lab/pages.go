package lab

import (
	"embed"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Bodies are pre-rendered once per variant (template × build × title) and shared
// by every server; only the parts that differ per request or per server (the
// host in the logon form, the padding length, the manifest's publicKeyToken) are
// filled in when the response is written. That keeps memory flat with 10,000
// servers and the per-request cost to a copy.

//go:embed pages/*.html pages/*.htm pages/*.application
var pageFS embed.FS

func pageText(name string) string {
	b, err := pageFS.ReadFile("pages/" + name)
	if err != nil {
		panic(err) // embedded; a missing file is a build defect
	}
	return string(b)
}

// crlf converts an LF text to the CRLF line ends IIS static files have.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// Static bodies.
var (
	// IIS custom error pages (pages/SOURCES.md); 1,245 bytes for 404 as on IIS.
	iis404Body = []byte(crlf(pageText("iis404.html")))
	iis403Body = []byte(crlf(pageText("iis403.html")))
	// IIS 10 default document, 703 bytes (no CRLF after </html>).
	iisStartBody = []byte(strings.TrimSuffix(crlf(pageText("iisstart.htm")), "\r\n"))

	// nginx's default index page and error page (nginx 1.18 as shipped in
	// Debian/Ubuntu; same text in several public GitHub fixtures).
	nginxIndexBody = []byte(`<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
    body {
        width: 35em;
        margin: 0 auto;
        font-family: Tahoma, Verdana, Arial, sans-serif;
    }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
`)
	nginx404Body = []byte("<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")

	// A single-page-app shell: the same 200 for every path (KindCatchAll200).
	catchAllBody = []byte(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Welcome</title><meta name="viewport" content="width=device-width,initial-scale=1"><link href="/static/css/main.3f2a1c.css" rel="stylesheet"></head><body><noscript>You need to enable JavaScript to run this app.</noscript><div id="root"></div><script src="/static/js/main.8d1e4b.js"></script></body></html>`)

	// Exchange's "Object moved" body for 302s to errorFE.aspx (§C4; 152 bytes
	// for httpCode=500, the same length for 404).
	errorFEMovedBody = []byte("<html><head><title>Object moved</title></head><body>\r\n<h2>Object moved to <a href=\"/owa/auth/errorFE.aspx?httpCode=404\">here</a>.</h2>\r\n</body></html>\r\n")

	// Web-shell bodies: a China Chopper one-liner renders nothing on a GET
	// without parameters; simple upload shells show a tiny form.
	webshellBodies = [][]byte{
		nil,
		[]byte("<html><body><form method=\"post\" enctype=\"multipart/form-data\"><input type=\"file\" name=\"f\"><input type=\"text\" name=\"p\"><input type=\"submit\" value=\"upload\"></form></body></html>"),
	}

	// F5 ASM-style block page (WAF).
	wafBody = "<html><head><title>Request Rejected</title></head><body>The requested URL was rejected. Please consult with your administrator.<br><br>Your support ID is: %d<br><br><a href='javascript:history.back();'>[Go Back]</a></body></html>"

	// Tiny stand-in for OWA static resources under the right build folder.
	staticBody = []byte("/* exsweep lab static resource */\n")
)

// errorFEPage is OWA's generic error page (/owa/auth/errorFE.aspx). It carries
// X-FEServer and the date like the real diagnostic block (§C2) but, on purpose,
// no version: the lab keeps every version source in the contract table.
func errorFEPage(fe, reqID, date string) []byte {
	return []byte(`<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><title>Outlook</title></head><body><div id="errMsg">:-( Something went wrong</div><div id="errDesc">We couldn't find the page you're looking for.</div><div id="diag">X-ClientId: ` + reqID[:8] + `<br>request-id ` + reqID + `<br>X-FEServer ` + htmlEscape(fe) + `<br>Date:` + date + `</div></body></html>`)
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;")

func htmlEscape(s string) string { return htmlEscaper.Replace(s) }

// slot is a value filled in per response.
type slot int

const (
	slotHost  slot = iota // request host, HTML-escaped (logon form destination)
	slotPad               // padding bytes (length per server)
	slotToken             // manifest publicKeyToken (per server)
)

var slotNames = map[string]slot{"@HOST@": slotHost, "@PAD@": slotPad, "@TOKEN@": slotToken}

// page is a pre-rendered body: literal parts with slots between them
// (len(parts) == len(slots)+1).
type page struct {
	parts [][]byte
	slots []slot
	fixed int // total length of the parts
}

// compile fills the static placeholders (vars) and splits at the slots.
func compile(text string, vars map[string]string) *page {
	for k, v := range vars {
		text = strings.ReplaceAll(text, k, v)
	}
	p := &page{}
	for {
		at, name := -1, ""
		for n := range slotNames {
			if i := strings.Index(text, n); i >= 0 && (at < 0 || i < at) {
				at, name = i, n
			}
		}
		if at < 0 {
			p.parts = append(p.parts, []byte(text))
			break
		}
		p.parts = append(p.parts, []byte(text[:at]))
		p.slots = append(p.slots, slotNames[name])
		text = text[at+len(name):]
	}
	for _, b := range p.parts {
		p.fixed += len(b)
	}
	return p
}

// fill holds the per-response slot values.
type fill struct {
	host  string
	pad   int
	token string
}

func (f fill) value(s slot) string {
	switch s {
	case slotHost:
		return f.host
	case slotToken:
		return f.token
	}
	return ""
}

// size is the body length for these slot values.
func (p *page) size(f fill) int {
	n := p.fixed
	for _, s := range p.slots {
		if s == slotPad {
			n += f.pad
		} else {
			n += len(f.value(s))
		}
	}
	return n
}

// padFor is the padding that makes the page total bytes (0 if it is already larger).
func (p *page) padFor(total int, f fill) int {
	f.pad = 0
	return max(0, total-p.size(f))
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 128<<10); return &b }}

// assembleLimit: bodies up to this size are assembled and written in one call
// (one TLS record burst); larger ones (HugeBody) are streamed.
const assembleLimit = 256 << 10

// write sends the page as the body with Content-Length set. HEAD requests get
// the headers only (net/http discards the body).
func (p *page) write(w http.ResponseWriter, r *http.Request, f fill) {
	n := p.size(f)
	w.Header()["Content-Length"] = []string{strconv.Itoa(n)}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	if n <= assembleLimit {
		bp := bufPool.Get().(*[]byte)
		b := (*bp)[:0]
		for i, part := range p.parts {
			b = append(b, part...)
			if i < len(p.slots) {
				if p.slots[i] == slotPad {
					b = appendPad(b, f.pad)
				} else {
					b = append(b, f.value(p.slots[i])...)
				}
			}
		}
		_, _ = w.Write(b)
		*bp = b
		bufPool.Put(bp)
		return
	}
	for i, part := range p.parts {
		if _, err := w.Write(part); err != nil {
			return
		}
		if i < len(p.slots) {
			if p.slots[i] == slotPad {
				if writePad(w, f.pad) != nil {
					return
				}
			} else if _, err := io.WriteString(w, f.value(p.slots[i])); err != nil {
				return
			}
		}
	}
}

// padChunk is the padding text: whitespace-indented comment lines that contain
// no markers, no digits-and-dots and no comment terminator, so any prefix of it
// is inert inside the /* */ of the templates.
var padChunk = func() []byte {
	line := "    // ............................................................................ \n"
	b := make([]byte, 0, 64<<10)
	for len(b)+len(line) <= 64<<10 {
		b = append(b, line...)
	}
	return b
}()

func appendPad(b []byte, n int) []byte {
	for n > 0 {
		k := min(n, len(padChunk))
		b = append(b, padChunk[:k]...)
		n -= k
	}
	return b
}

func writePad(w io.Writer, n int) error {
	for n > 0 {
		k := min(n, len(padChunk))
		if _, err := w.Write(padChunk[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// Templates.
var (
	logon2016Text = pageText("logon2016.html")
	logon2013Text = pageText("logon2013.html")
	logon2010Text = pageText("logon2010.html")
	manifestText  = func() string {
		// Fixed pseudo-random digests and signature: the manifest looks signed,
		// and the bytes are identical run to run.
		rng := rand.New(rand.NewPCG(2021, 3))
		b64 := func(n int) string {
			raw := make([]byte, n)
			for i := range raw {
				raw[i] = byte(rng.UintN(256))
			}
			return base64.StdEncoding.EncodeToString(raw)
		}
		issuer := fmt.Sprintf("%016x%016x%08x", rng.Uint64(), rng.Uint64(), rng.Uint32())
		t := strings.NewReplacer("@DIGEST@", b64(32), "@SIGNATURE@", b64(256), "@ISSUER@", issuer).Replace(pageText("exporttool.application"))
		// The X509Certificate padding brings the manifest to 16,487 bytes for a
		// 10-character version and 16-character token, the size in §E1.
		probe := compile(strings.ReplaceAll(t, "@VERSION@", "15.1.2375.7"), nil)
		pad := probe.padFor(16487, fill{token: "b1d1a6c45aa418ce"})
		pad -= pad % 4
		return strings.Replace(t, "@PAD@", b64(pad/4*3), 1)
	}()
)

type pageKey struct {
	tmpl  string // "2010", "2013", "2016", "manifest"
	build string // folder in the page, or manifest version
	title string
}

var (
	pageMu    sync.Mutex
	pageCache = map[pageKey]*page{}
)

// cachedPage returns the compiled page of a variant, compiling it once.
func cachedPage(k pageKey) *page {
	pageMu.Lock()
	defer pageMu.Unlock()
	if p, ok := pageCache[k]; ok {
		return p
	}
	var p *page
	switch k.tmpl {
	case "manifest":
		p = compile(manifestText, map[string]string{"@VERSION@": k.build})
	default:
		text := logon2016Text
		switch k.tmpl {
		case "2013":
			text = logon2013Text
		case "2010":
			text = logon2010Text
		}
		vars := map[string]string{"@TITLE@": k.title, "@BUILD@/": k.build + "/"}
		if k.build == "" {
			// HidePath: the outbound rewrite maps /owa/auth/15.1.2176/ to /owa/auth/.
			vars["@BUILD@/"] = ""
		}
		p = compile(text, vars)
	}
	pageCache[k] = p
	return p
}

// logonPage is the logon page variant of a resolved Exchange server.
func logonPage(r resolved) *page {
	k := pageKey{tmpl: "2016", title: "Outlook"}
	switch {
	case r.legacy:
		k = pageKey{tmpl: "2010", title: "Outlook Web App", build: r.owa.String()}
	case r.build.Minor == 0:
		k = pageKey{tmpl: "2013", title: "Outlook Web App", build: r.build.CU().String()}
	default:
		k.build = r.build.CU().String()
	}
	if r.HidePath {
		k.build = ""
	}
	if r.HostileStrings {
		k.title = HostileTitle
	}
	return cachedPage(k)
}

// manifestPage is the exporttool manifest of a resolved 15.x server.
func manifestPage(r resolved) *page {
	return cachedPage(pageKey{tmpl: "manifest", build: r.manifest.String()})
}

// logonSize is the configured logon page size of a resolved Exchange server.
func logonSize(r resolved) int {
	switch {
	case r.HugeBody:
		return HugeBodySize
	case r.LogonPageSize > 0:
		return r.LogonPageSize
	case r.legacy:
		return 0 // no public size for the 2010 page: the template as it is
	}
	return DefaultLogonPageSize
}
