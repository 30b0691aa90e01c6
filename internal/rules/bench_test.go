package rules

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// benchCorpus is ~50 MB of generated aspx-like files: legitimate page
// fragments (forms reading Request.Form, Response.Write, client scripts with
// eval, config blocks) with a web shell sample planted in about 1 file in 50.
var benchCorpus = sync.OnceValue(func() [][]byte {
	const total = 50 << 20
	r := rand.New(rand.NewPCG(1, 2))
	var legit, shells [][]byte
	for _, g := range []string{"testdata/legit/*"} {
		files, _ := filepath.Glob(g)
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil {
				legit = append(legit, b)
			}
		}
	}
	files, _ := filepath.Glob("testdata/samples/*/match_*.txt")
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			shells = append(shells, b)
		}
	}
	fragments := [][]byte{
		[]byte(`<div class="row"><span class="label">Mailbox</span><input name="mbx" value="<%= Server.HtmlEncode(Request.Form["mbx"]) %>" /></div>` + "\n"),
		[]byte(`<% if (Request.QueryString["lang"] != null) { Response.Write("<!-- lang=" + Server.HtmlEncode(Request.QueryString["lang"]) + " -->"); } %>` + "\n"),
		[]byte(`<script type="text/javascript">var cfg = window.JSON ? JSON.parse(s) : eval("(" + s + ")"); function req(u){var x=new XMLHttpRequest();x.open("GET",u);x.send();}</script>` + "\n"),
		[]byte(`<table class="grid"><tr><td>Server</td><td>EXCH01</td></tr><tr><td>Version</td><td>15.1.2375.7</td></tr></table>` + "\n"),
		[]byte(`    protected void Page_Load(object sender, EventArgs e) { lblUser.Text = User.Identity.Name; lblTime.Text = DateTime.Now.ToString("u"); }` + "\n"),
		[]byte(`<add key="ProxyRequestHandler.Timeout" value="00:02:00" /><add key="OwaVersion" value="15.1.2375.7" />` + "\n"),
		[]byte("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. \n"),
		[]byte(`<link rel="stylesheet" href="/owa/auth/15.1.2375/themes/resources/logon.css" /><img src="/owa/auth/15.1.2375/themes/resources/lgnbotl.gif" />` + "\n"),
	}
	var out [][]byte
	size := 0
	for size < total {
		var b bytes.Buffer
		if len(legit) > 0 {
			b.Write(legit[r.IntN(len(legit))])
		}
		target := 2<<10 + r.IntN(120<<10)
		for b.Len() < target {
			b.Write(fragments[r.IntN(len(fragments))])
			if r.IntN(40) == 0 {
				// Non-ASCII text, as in localised pages.
				b.WriteString("Paramètres de sécurité — Überprüfung 検証\n")
			}
		}
		if len(shells) > 0 && r.IntN(50) == 0 {
			b.Write(shells[r.IntN(len(shells))])
		}
		out = append(out, b.Bytes())
		size += b.Len()
	}
	return out
})

// BenchmarkScanCorpus reports MB/s for all shipped rules over the corpus:
//
//	go test ./internal/rules -run '^$' -bench ScanCorpus -benchtime 3x
func BenchmarkScanCorpus(b *testing.B) {
	rs := builtinForTest(b)
	corpus := benchCorpus()
	var total int64
	for _, f := range corpus {
		total += int64(len(f))
	}
	b.SetBytes(total)
	b.ResetTimer()
	hits := 0
	for range b.N {
		hits = 0
		for _, f := range corpus {
			if len(rs.Scan(f)) > 0 {
				hits++
			}
		}
	}
	b.ReportMetric(float64(len(corpus)), "files")
	b.ReportMetric(float64(hits), "files-matched")
}

// BenchmarkScanShell is the cost of one small positive file, where
// reporting and regex verification dominate.
func BenchmarkScanShell(b *testing.B) {
	rs := builtinForTest(b)
	data, err := os.ReadFile("testdata/samples/EXS_WebShell_ASPX_Command_Exec/match_cmd_shell.txt")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for range b.N {
		if len(rs.Scan(data)) == 0 {
			b.Fatal("no match")
		}
	}
}
