package hunt

import (
	"path"
	"slices"
	"strings"

	"github.com/exsweep/exsweep/internal/rules"
)

// reqHit is what the IIS checks found in one request.
type reqHit struct {
	check  *check
	grade  string
	key    string
	what   string
	target string
}

// matchIIS runs the IIS checks on one request, most specific first; a
// published attacker user agent is added to whichever check fires and is a
// finding of its own only on an exploitation path.
func matchIIS(cs *checkSet, r *webReq) *reqHit {
	stem := strings.ToLower(percentDecode(r.stem))
	post := strings.EqualFold(r.method, "POST")
	ok2xx := r.status >= 200 && r.status < 300
	ua, shellClient := attackerUA(cs.get(chkIISUA), r.ua)
	note := ""
	if ua != "" {
		note = " (user agent " + ua + " published with the 2021 attacks)"
	}
	// The description is built only for a hit: most records reaching the
	// matchers are ordinary.
	what := func() string { return r.describe() + note }

	// ProxyShell: autodiscover.json smuggling a back-end path.
	if ps := cs.get(chkProxyShell); containsAny(stem+"?"+strings.ToLower(r.query), ps.lind("endpoints")) {
		if target, ok := proxyShellTarget(ps, strings.ToLower(percentDecode(r.stem+"?"+r.query))); ok {
			return &reqHit{ps, proxyShellGrade(ps, target, r.status), "ip:" + r.client, what(), target}
		}
	}

	// CVE-2021-26855 entry points.
	is := cs.get(chkIISSSRF)
	entry := slices.Contains(is.lind("ssrf_stems"), stem) || isShortECPScript(is, stem)
	theme := false
	for _, d := range is.lind("theme_dirs") {
		if strings.HasPrefix(stem, d) && slices.Contains(is.lind("theme_files"), path.Base(stem)) {
			theme = true
		}
	}
	// A POST to a static file is never a page being used: it is how the
	// SSRF was delivered (Volexity: .css/.gif/.eot under
	// owa/auth/Current/themes/resources; Metasploit: /ecp/<x>.js).
	staticPost := post && slices.Contains(is.lind("static_ext"), path.Ext(stem)) && hasAnyPrefix(stem, is.lind("static_dirs"))
	if entry || (theme && post) || staticPost {
		grade := GradeProbe
		if post {
			grade = GradeAttempt
		}
		lc := strings.ToLower(r.cookie)
		for i, c := range is.lind("cookies") {
			if strings.Contains(lc, c) {
				note += " with an " + strings.TrimSuffix(is.ind("cookies")[i], "=") + " cookie"
				break
			}
		}
		return &reqHit{is, grade, "ip:" + r.client, what(), stem}
	}

	// Pages: published shell paths, then any page that Exchange does not
	// ship in the folders attackers used.
	ext := path.Ext(stem)
	if ws := cs.get(chkIISShell); slices.Contains(ws.lind("script_ext"), ext) && !rules.IsLegitExchangeFile(stem) {
		if ind, ok := rules.KnownShellPath(stem); ok && (!weakIndicator(cs, ind) || inWebFolder(cs, stem)) {
			grade := GradeAttempt
			switch {
			case ok2xx:
				grade = GradeBackdoor
			case r.status == 404:
				grade = GradeProbe
			}
			return &reqHit{ws, grade, "path:" + stem, what() + " (" + ind.Source + " web-shell list)", stem}
		}
		if inWebFolder(cs, stem) {
			us := cs.get(chkIISScript)
			grade := GradeProbe
			switch {
			case ok2xx && post:
				grade = GradeBackdoor
			case ok2xx, post && r.status != 404:
				grade = GradeAttempt
			}
			return &reqHit{us, grade, "path:" + stem, what(), stem}
		}
	}

	// A published user agent on an exploitation path, or a web-shell
	// client anywhere.
	if ua != "" {
		u := cs.get(chkIISUA)
		onPath := false
		for _, p := range u.lind("paths") {
			if strings.HasPrefix(stem, p) {
				onPath = true
			}
		}
		if shellClient || (post && onPath) {
			return &reqHit{u, GradeAttempt, "ip:" + r.client, what(), ""}
		}
	}
	return nil
}

// isShortECPScript matches /ecp/<1-3 characters>.js, the Metasploit and
// HAFNIUM SSRF entry (/ecp/y.js); ECP's own scripts live in versioned
// sub-folders.
func isShortECPScript(is *check, stem string) bool {
	for _, d := range is.lind("short_js_dirs") {
		if !strings.HasPrefix(stem, d) {
			continue
		}
		name := stem[len(d):]
		if strings.HasSuffix(name, ".js") && !strings.Contains(name, "/") {
			if n := len(name) - 3; n >= 1 && n <= 3 {
				return true
			}
		}
	}
	return false
}

func inWebFolder(cs *checkSet, stem string) bool {
	for _, f := range cs.get(chkIISScript).lind("web_folders") {
		if strings.HasPrefix(stem, f) {
			return true
		}
	}
	return false
}

// weakIndicator reports list entries the lists themselves call weak
// (help.aspx, default.aspx, single letters): only meaningful in the
// folders attackers used.
func weakIndicator(cs *checkSet, ind rules.Indicator) bool {
	n := strings.ToLower(ind.Note)
	for _, w := range cs.get(chkShellName).lind("weak_notes") {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// attackerUA returns the published user agent found in ua (compared with
// spaces and '+' alike, case-insensitively) and whether it is a web-shell
// client.
func attackerUA(u *check, ua string) (string, bool) {
	if ua == "" {
		return "", false
	}
	l := strings.ToLower(strings.ReplaceAll(ua, "+", " "))
	for i, x := range u.lind("user_agents") {
		if strings.Contains(l, x) {
			name := u.ind("user_agents")[i]
			return name, slices.Contains(u.lind("shell_clients"), x)
		}
	}
	return "", false
}
