package notify

import (
	"bytes"
	"embed"
	"encoding/csv"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/exsweep/exsweep/internal/exchange"
)

//go:embed templates
var embeddedTemplates embed.FS

// templateSet is one language's subject, text and HTML bodies.
type templateSet struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// Renderer renders planned messages.
type Renderer struct {
	sets   map[string]*templateSet
	kb     *exchange.KB
	sender string

	// guidance caches Guidance per (problem, build, CVEs): a national
	// campaign renders the same few hundred builds tens of thousands of times,
	// and each needs a walk over the CU's builds.
	mu       sync.Mutex
	guidance map[string]string
}

var funcs = map[string]any{
	"add":  func(a, b int) int { return a + b },
	"join": strings.Join,
}

// NewRenderer loads the embedded templates (templates/<lang>/subject.txt,
// body.txt, body.html) and, when dir is not empty, the same layout from dir,
// whose files replace the embedded ones per language. Every template is parsed
// and executed once on sample data, so a broken override fails here, not in
// the middle of a send.
func NewRenderer(kb *exchange.KB, dir, sender string) (*Renderer, error) {
	r := &Renderer{sets: map[string]*templateSet{}, kb: kb, sender: sender, guidance: map[string]string{}}
	sub, _ := fs.Sub(embeddedTemplates, "templates")
	if err := r.load(sub, "embedded"); err != nil {
		return nil, err
	}
	if dir != "" {
		if err := r.load(os.DirFS(dir), dir); err != nil {
			return nil, err
		}
	}
	if r.sets["en"] == nil {
		return nil, fmt.Errorf("templates: no English set (the fallback)")
	}
	sample := Planned{Org: Org{Name: "Example"}, Cases: []Case{{IP: "192.0.2.1", Port: 443, Problem: ProblemCompromised,
		CVEs: []string{"CVE-2021-26855"}, Product: "Exchange 2016", CU: "CU19", Build: "15.1.2176.2", Webshells: []string{"/owa/auth/x.aspx"}}}}
	for lang := range r.sets {
		sample.Org.Language = lang
		if _, err := r.Render(sample, "20210312-00000001", time.Now()); err != nil {
			return nil, fmt.Errorf("templates %s: %w", lang, err)
		}
	}
	return r, nil
}

func (r *Renderer) load(fsys fs.FS, origin string) error {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return fmt.Errorf("templates %s: %w", origin, err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		lang := e.Name()
		set := r.sets[lang]
		if set == nil {
			set = &templateSet{}
		}
		read := func(name string) (string, bool, error) {
			b, err := fs.ReadFile(fsys, lang+"/"+name)
			if err != nil {
				if os.IsNotExist(err) || strings.Contains(err.Error(), "not exist") {
					return "", false, nil
				}
				return "", false, err
			}
			return string(b), true, nil
		}
		where := filepath.Join(origin, lang)
		if s, ok, err := read("subject.txt"); err != nil {
			return err
		} else if ok {
			if set.subject, err = texttemplate.New("subject").Funcs(funcs).Parse(strings.TrimSpace(s)); err != nil {
				return fmt.Errorf("%s/subject.txt: %w", where, err)
			}
		}
		if s, ok, err := read("body.txt"); err != nil {
			return err
		} else if ok {
			if set.text, err = texttemplate.New("text").Funcs(funcs).Parse(s); err != nil {
				return fmt.Errorf("%s/body.txt: %w", where, err)
			}
		}
		if s, ok, err := read("body.html"); err != nil {
			return err
		} else if ok {
			if set.html, err = htmltemplate.New("html").Funcs(funcs).Parse(s); err != nil {
				return fmt.Errorf("%s/body.html: %w", where, err)
			}
		}
		if set.subject == nil || set.text == nil || set.html == nil {
			return fmt.Errorf("templates %s: needs subject.txt, body.txt and body.html", where)
		}
		r.sets[lang] = set
	}
	return nil
}

// Languages lists the template languages available.
func (r *Renderer) Languages() []string {
	var out []string
	for l := range r.sets {
		out = append(out, l)
	}
	return out
}

// Rendered is a message ready for the outbox.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
	CSV     []byte
	CSVName string
}

// caseView is a case as templates see it: with its guidance.
type caseView struct {
	Case
	Guidance string
}

func (c caseView) Endpoint() string { return c.Case.Endpoint() }

type view struct {
	Org              Org
	Ticket           string
	Cases            []caseView
	Compromised      bool
	CompromisedCount int
	CSVName          string
	Sender           string
}

// Render renders one planned message with its ticket number.
func (r *Renderer) Render(p Planned, ticket string, now time.Time) (Rendered, error) {
	set := r.sets[p.Org.Language]
	if set == nil {
		set = r.sets["en"]
	}
	v := view{Org: p.Org, Ticket: ticket, Sender: r.sender,
		CSVName: now.UTC().Format("2006-01-02") + "-scan_exchange-" + safeFileName(ticket) + ".csv"}
	for _, c := range p.Cases {
		if c.Problem == ProblemCompromised {
			v.Compromised = true
			v.CompromisedCount++
		}
		v.Cases = append(v.Cases, caseView{Case: c, Guidance: r.guidanceFor(c, p.Org.Language)})
	}
	var out Rendered
	var b bytes.Buffer
	if err := set.subject.Execute(&b, v); err != nil {
		return out, err
	}
	// A subject is one line: a hostile org name must not add headers.
	out.Subject = strings.Join(strings.Fields(b.String()), " ")
	b.Reset()
	if err := set.text.Execute(&b, v); err != nil {
		return out, err
	}
	out.Text = b.String()
	b.Reset()
	if err := set.html.Execute(&b, v); err != nil {
		return out, err
	}
	out.HTML = b.String()
	out.CSV, out.CSVName = endpointCSV(p.Cases), v.CSVName
	return out, nil
}

func (r *Renderer) guidanceFor(c Case, lang string) string {
	ph, ok := guidancePhrases[lang]
	if !ok {
		lang, ph = "en", guidancePhrases["en"]
	}
	key := lang + "|" + c.Problem + "|" + c.Product + "|" + c.CU + "|" + c.Build + "|" + strings.Join(c.CVEs, ",")
	r.mu.Lock()
	g, ok := r.guidance[key]
	r.mu.Unlock()
	if ok {
		return g
	}
	g = guidance(r.kb, c, ph)
	r.mu.Lock()
	if len(r.guidance) < 100000 {
		r.guidance[key] = g
	}
	r.mu.Unlock()
	return g
}

func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// endpointCSV uses Shadowserver's scan_exchange columns (notify.md §2.1), so
// recipients' existing parsers read it.
func endpointCSV(cases []Case) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"timestamp", "severity", "ip", "protocol", "port", "hostname", "tag", "asn", "geo", "region", "city",
		"naics", "hostname_source", "sector", "version", "servername", "url"})
	for _, c := range cases {
		tags := []string{"exchange"}
		url := ""
		if c.Problem == ProblemCompromised {
			tags = append(tags, "webshell")
			if len(c.Webshells) > 0 {
				url = "https://" + c.Endpoint() + c.Webshells[0]
			}
		}
		for _, cve := range c.CVEs {
			tags = append(tags, strings.ToLower(cve))
		}
		asn := ""
		if c.ASN > 0 {
			asn = strconv.FormatUint(uint64(c.ASN), 10)
		}
		ts := ""
		if !c.ObservedAt.IsZero() {
			ts = c.ObservedAt.UTC().Format("2006-01-02 15:04:05")
		}
		w.Write([]string{ts, "critical", c.IP, "tcp", strconv.Itoa(c.Port), defuse(c.Hostname), strings.Join(tags, ";"), asn,
			"", "", "", "", "", "", c.Build, "", defuse(url)})
	}
	w.Flush()
	return b.Bytes()
}

func defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// phrases are the sentences of the guidance in one language. The built-in
// templates' languages have them; a language added with --templates gets
// the English guidance inside its own text.
type phrases struct {
	compromised, hunt, then, thisCU string
	install                         string // label of the build
	installAtLeast                  string // minimal build, CU, latest build
	noFix                           string // product, CU, latest build
	supportedCU                     string // product
	endOfLife                       string // product, end of support
}

var guidancePhrases = map[string]phrases{
	"en": {
		compromised:    "treat the server as compromised: isolate it, keep the evidence, run `exsweep hunt` on it and reset the credentials used on it",
		hunt:           "run `exsweep hunt` on the server",
		then:           "; then ",
		thisCU:         "this CU",
		install:        "install %s",
		installAtLeast: "install at least %s for the CVEs listed; %s gets no fixes for later CVEs, so plan the upgrade to %s",
		noFix:          "%s %s received no fix for these CVEs: upgrade to %s",
		supportedCU:    "install a supported CU of %s with its latest security update",
		endOfLife:      "; %s is past its end of support (%s): plan a migration",
	},
	"de": {
		compromised:    "behandeln Sie den Server als kompromittiert: isolieren, Beweise sichern, `exsweep hunt` darauf ausführen und die dort verwendeten Zugangsdaten zurücksetzen",
		hunt:           "führen Sie `exsweep hunt` auf dem Server aus",
		then:           "; danach ",
		thisCU:         "dieses CU",
		install:        "installieren Sie %s",
		installAtLeast: "installieren Sie mindestens %s für die genannten CVEs; %s erhält keine Korrekturen für spätere CVEs, planen Sie daher das Upgrade auf %s",
		noFix:          "%s %s hat für diese CVEs keine Korrektur erhalten: aktualisieren Sie auf %s",
		supportedCU:    "installieren Sie ein unterstütztes CU von %s mit dem neuesten Sicherheitsupdate",
		endOfLife:      "; der Support für %s ist beendet (%s): planen Sie eine Migration",
	},
}

// guidance says what to do for one endpoint in the language of ph: the
// exact update to install for its CU, or the CU to move to when its CU gets
// no more fixes, and for a compromised server, that patching is not enough.
func guidance(kb *exchange.KB, c Case, ph phrases) string {
	var steps []string
	if c.Problem == ProblemCompromised {
		steps = append(steps, ph.compromised)
	}
	if upd := updateAdvice(kb, c, ph); upd != "" {
		steps = append(steps, upd)
	}
	if len(steps) == 0 {
		steps = append(steps, ph.hunt)
	}
	s := strings.Join(steps, ph.then)
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

func updateAdvice(kb *exchange.KB, c Case, ph phrases) string {
	if kb == nil || c.Build == "" {
		return ""
	}
	v, err := exchange.Parse(c.Build)
	if err != nil {
		return ""
	}
	now := time.Now()
	cur := kb.Lookup(v, now)
	want := c.CVEs
	if len(want) == 0 {
		for _, s := range cur.CVEs {
			if s.State == exchange.StateVulnerable {
				want = append(want, s.ID)
			}
		}
	}
	fixes := func(r exchange.Result, ids []string) bool {
		for _, s := range r.CVEs {
			if s.State == exchange.StateVulnerable && (ids == nil || containsString(ids, s.ID)) {
				return false
			}
		}
		return true
	}
	label := func(b exchange.BuildInfo) string {
		return fmt.Sprintf("%s %s (build %s)", b.Product, strings.TrimSpace(b.CU+" "+b.Update), b.Version)
	}
	// The first build of this CU that fixes the CVEs of the case, and whether
	// the CU's newest build fixes every known CVE.
	var minimal, newest exchange.BuildInfo
	for _, b := range kb.CUBuilds(v) {
		if b.Kind == exchange.KindInterim || b.Version.Compare(v) < 0 {
			continue
		}
		r := kb.Lookup(b.Version, now)
		if minimal.Version.IsZero() && fixes(r, want) {
			minimal = b
		}
		newest = b
	}
	latest := newestOfProduct(kb, cur.Product)
	var advice string
	switch {
	case !newest.Version.IsZero() && fixes(kb.Lookup(newest.Version, now), nil):
		advice = fmt.Sprintf(ph.install, label(newest))
	case !minimal.Version.IsZero():
		advice = fmt.Sprintf(ph.installAtLeast, label(minimal), c.CU, label(latest))
	case !latest.Version.IsZero():
		advice = fmt.Sprintf(ph.noFix, cur.Product, nonEmptyStr(cur.CU, ph.thisCU), label(latest))
	default:
		advice = fmt.Sprintf(ph.supportedCU, c.Product)
	}
	if cur.EndOfLife {
		advice += fmt.Sprintf(ph.endOfLife, cur.Product, cur.EndOfSupport)
	}
	return advice
}

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func nonEmptyStr(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func newestOfProduct(kb *exchange.KB, product string) exchange.BuildInfo {
	var out exchange.BuildInfo
	for _, b := range kb.Builds(product) {
		if b.Kind == exchange.KindRelease || b.Kind == exchange.KindUpdate {
			out = b
		}
	}
	return out
}
