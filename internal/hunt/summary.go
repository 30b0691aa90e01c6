package hunt

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

const sumTime = "2006-01-02 15:04"

// verdict decides the verdict and writes the one-sentence summary: what a
// responder must know first (the shell, the CVEs, when), or why "clean" is
// only as good as the logs.
func verdict(e *engine, rep *Report) (string, string) {
	top := 0
	for _, f := range rep.Findings {
		top = max(top, GradeRank(f.Grade))
	}
	switch {
	case top >= GradeRank(GradeExploited):
		return VerdictCompromised, "COMPROMISED: " + compromisedSummary(rep)
	case top >= GradeRank(GradeProbe):
		return VerdictAttacked, "ATTACKED: " + attackedSummary(e, rep)
	}
	return VerdictClean, cleanSummary(e, rep)
}

func compromisedSummary(rep *Report) string {
	var parts []string
	// Web shells first: that is what must be removed now.
	var shells []Finding
	for _, f := range rep.Findings {
		if f.Grade != GradeBackdoor {
			continue
		}
		switch f.Check {
		case chkShellContent, chkShellHash, chkShellWrite, chkIISShell, chkIISScript:
			// A compiled page in Temporary ASP.NET Files proves a shell ran
			// but is not the shell to remove.
			if !strings.Contains(strings.ToLower(f.Path), "temporary asp.net files") {
				shells = append(shells, f)
			}
		}
	}
	// Files on disk name the shell best; IIS requests name it when the
	// file is gone.
	slices.SortStableFunc(shells, func(a, b Finding) int {
		da, db := isDiskCheck(a.Check), isDiskCheck(b.Check)
		if da != db {
			if da {
				return -1
			}
			return 1
		}
		return a.Time.Compare(b.Time)
	})
	seen := map[string]bool{}
	var shellText []string
	for _, f := range shells {
		name := shellName(f)
		if seen[strings.ToLower(name)] {
			continue
		}
		seen[strings.ToLower(name)] = true
		shellText = append(shellText, shellPhrase(f, name))
	}
	if n := len(shellText); n > 0 {
		s := shellText[0]
		if n > 1 {
			s += fmt.Sprintf(" (+%d more)", n-1)
		}
		parts = append(parts, s)
	}
	// Credential theft.
	for _, f := range rep.Findings {
		if f.Grade == GradeBackdoor && (f.Check == chkDumpFile || f.Check == chkLsassCmd) {
			if f.Check == chkDumpFile {
				parts = append(parts, "LSASS dump "+windowsPath(f.Path))
			} else {
				parts = append(parts, "LSASS dumped "+f.Time.UTC().Format(sumTime)+" UTC")
			}
			break
		}
	}
	// Exploited CVEs with their addresses, in order of first use.
	type cveUse struct {
		first   time.Time
		clients map[string]bool
	}
	uses := map[string]*cveUse{}
	var order []string
	for _, f := range rep.Findings {
		if f.Grade != GradeExploited && f.Grade != GradeBackdoor {
			continue
		}
		for _, c := range f.CVE {
			u := uses[c]
			if u == nil {
				u = &cveUse{clients: map[string]bool{}}
				uses[c] = u
				order = append(order, c)
			}
			if earlier(f.Time, u.first) {
				u.first = f.Time
			}
			if f.Client != "" {
				u.clients[f.Client] = true
			}
		}
	}
	slices.SortStableFunc(order, func(a, b string) int { return uses[a].first.Compare(uses[b].first) })
	// CVEs exploited from the same addresses are one step of one attack
	// (ProxyLogon: 26855 then 27065 from one address): say them together.
	for i := 0; i < len(order); {
		j := i + 1
		for j < len(order) && sameSet(uses[order[i]].clients, uses[order[j]].clients) {
			j++
		}
		cl := uses[order[i]].clients
		txt := strings.Join(order[i:j], ", ") + " exploited"
		switch len(cl) {
		case 0:
		case 1:
			for a := range cl {
				txt += " from " + a
			}
		default:
			txt += fmt.Sprintf(" from %d addresses", len(cl))
		}
		parts = append(parts, txt)
		i = j
	}
	if len(parts) == 0 {
		// A compromise shown by something else (a shell spawned by w3wp,
		// a Defender detection): name the strongest finding.
		f := rep.Findings[0]
		parts = append(parts, strings.ToLower(f.Title[:1])+f.Title[1:])
	}
	if first, last := activity(rep, GradeAttempt); !first.IsZero() {
		parts = append(parts, fmt.Sprintf("first attacker activity %s, last %s UTC", first.Format(sumTime), last.Format(sumTime)))
	}
	return strings.Join(parts, "; ")
}

func attackedSummary(e *engine, rep *Report) string {
	var attempts, probes int
	cves := map[string]bool{}
	var cveList []string
	clients := map[string]bool{}
	for _, f := range rep.Findings {
		switch f.Grade {
		case GradeAttempt:
			attempts++
		case GradeProbe:
			probes++
		default:
			continue
		}
		for _, c := range f.CVE {
			if !cves[c] {
				cves[c] = true
				cveList = append(cveList, c)
			}
		}
		if f.Client != "" {
			clients[f.Client] = true
		}
	}
	slices.Sort(cveList)
	var s []string
	if attempts > 0 {
		s = append(s, plural(attempts, "exploitation attempt"))
	}
	if probes > 0 {
		s = append(s, plural(probes, "probe"))
	}
	out := strings.Join(s, " and ")
	if len(cveList) > 0 {
		out += " (" + strings.Join(cveList, ", ") + ")"
	}
	if len(clients) > 0 {
		out += " from " + plural(len(clients), "address")
	}
	if first, last := activity(rep, GradeProbe); !first.IsZero() {
		out += fmt.Sprintf(", first %s, last %s UTC", first.Format(sumTime), last.Format(sumTime))
	}
	out += "; no sign of success in what was read"
	if gap := lateKeySources(e, rep); gap != "" {
		out += "; " + gap
	}
	return out
}

func cleanSummary(e *engine, rep *Report) string {
	info := 0
	for _, f := range rep.Findings {
		if f.Grade == GradeInfo && f.Check != chkCoverage {
			info++
		}
	}
	note := ""
	if info > 0 {
		note = fmt.Sprintf(" (%s to review)", plural(info, "informational finding"))
	}
	if len(rep.Coverage) == 0 {
		return "CLEAN as far as checked: no logs found, only files on disk were checked" + note
	}
	if gap := lateKeySources(e, rep); gap != "" {
		return "CLEAN as far as the logs reach: " + gap + ", after the exploitation period" + note
	}
	// The weakest guarantee: every source reaches back at least this far.
	// The key sources (HttpProxy, IIS, ECP) decide when there are any; an
	// event log that rolls over faster is in the warnings.
	var reach time.Time
	anyKey := slices.ContainsFunc(rep.Coverage, func(c Coverage) bool { return keySource(c.Source) })
	for _, c := range rep.Coverage {
		if anyKey && !keySource(c.Source) {
			continue
		}
		if !c.First.IsZero() && c.First.After(reach) {
			reach = c.First
		}
	}
	if reach.IsZero() {
		return fmt.Sprintf("CLEAN: nothing found in %s, whose times could not be read", plural(len(rep.Coverage), "log source")) + note
	}
	return fmt.Sprintf("CLEAN: nothing found in %s reaching back to %s", plural(len(rep.Coverage), "log source"), reach.Format("2006-01-02")) + note
}

// lateKeySources names the key log families that start after the window,
// e.g. "HttpProxy logs start 2023-05-01".
func lateKeySources(e *engine, rep *Report) string {
	fam := map[string]time.Time{}
	var order []string
	for _, c := range rep.Coverage {
		if !keySource(c.Source) || c.First.IsZero() {
			continue
		}
		name := familyName(c.Source)
		t, ok := fam[name]
		if !ok {
			order = append(order, name)
		}
		// A family reaches back as far as its latest-starting part
		// (HttpProxy/Ecp matters even if HttpProxy/Owa is older).
		if !ok || c.First.After(t) {
			fam[name] = c.First
		}
	}
	var late []string
	for _, n := range order {
		if e.startsLate(fam[n]) {
			late = append(late, fmt.Sprintf("%s logs start %s", n, fam[n].Format("2006-01-02")))
		}
	}
	return strings.Join(late, ", ")
}

func familyName(src string) string {
	switch {
	case strings.HasPrefix(src, "httpproxy"):
		return "HttpProxy"
	case src == "iis":
		return "IIS"
	case src == "ecp-server":
		return "ECP Server"
	}
	return src
}

// activity returns the first and last time over findings at or above a grade.
func activity(rep *Report, minGrade string) (first, last time.Time) {
	for _, f := range rep.Findings {
		if GradeRank(f.Grade) < GradeRank(minGrade) || f.Time.IsZero() {
			continue
		}
		if first.IsZero() || f.Time.Before(first) {
			first = f.Time
		}
		l := f.Time
		if !f.Last.IsZero() {
			l = f.Last
		}
		if l.After(last) {
			last = l
		}
	}
	return first.UTC(), last.UTC()
}

func isDiskCheck(id string) bool {
	switch id {
	case chkShellContent, chkShellHash, chkShellName, chkUnexpected, chkTimeOutlier, chkDumpFile, chkArchive, chkWER:
		return true
	}
	return false
}

// shellName is the web path of a shell: from the file path for disk
// findings, from the requested URL (in the evidence) for IIS findings.
func shellName(f Finding) string {
	if isDiskCheck(f.Check) || f.Check == chkShellWrite {
		return shortPath(f.Path)
	}
	if i := strings.IndexByte(f.Evidence, '/'); i >= 0 {
		s := f.Evidence[i:]
		if j := strings.IndexAny(s, " ?|"); j >= 0 {
			s = s[:j]
		}
		return strings.TrimPrefix(s, "/")
	}
	return shortPath(f.Path)
}

func shellPhrase(f Finding, name string) string {
	switch {
	case isDiskCheck(f.Check) && !f.Time.IsZero():
		return fmt.Sprintf("web shell %s written %s UTC", name, f.Time.UTC().Format(sumTime))
	case f.Check == chkShellWrite && !f.Time.IsZero():
		return fmt.Sprintf("web shell %s written %s UTC", name, f.Time.UTC().Format(sumTime))
	case !f.Time.IsZero():
		return fmt.Sprintf("web shell %s answering requests from %s UTC", name, f.Time.UTC().Format(sumTime))
	}
	return "web shell " + name
}

// shortPath cuts a path to the part a web administrator recognises:
// "owa/auth/x.aspx" from "…\FrontEnd\HttpProxy\owa\auth\x.aspx",
// "aspnet_client/x.aspx" from "…\inetpub\wwwroot\aspnet_client\x.aspx".
func shortPath(p string) string {
	s := "/" + strings.ReplaceAll(p, `\`, "/")
	ls := strings.ToLower(s)
	for _, m := range []string{"/frontend/httpproxy/", "/inetpub/wwwroot/", "/clientaccess/"} {
		if i := strings.LastIndex(ls, m); i >= 0 {
			return s[i+len(m):]
		}
	}
	return s[1:]
}

// windowsPath shows a triage-copy path the way it was on the server:
// "C/Windows/Temp/lsass.dmp" (KAPE) or "C%3A/…" (Velociraptor) becomes
// "C:\Windows\Temp\lsass.dmp".
func windowsPath(p string) string {
	s := strings.ReplaceAll(p, `\`, "/")
	for _, pre := range []string{"%3A/", "%3a/", ":/", "/"} {
		if len(s) > 1+len(pre) && isLetter(s[0]) && strings.HasPrefix(s[1:], pre) {
			return strings.ToUpper(s[:1]) + `:\` + strings.ReplaceAll(s[1+len(pre):], "/", `\`)
		}
	}
	return p
}

func sameSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	switch {
	case strings.HasSuffix(what, "ss"):
		return fmt.Sprintf("%d %ses", n, what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}
