package hunt

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/exsweep/exsweep/internal/rules"
)

// plan is what discovery found to read, plus what it learned from file
// metadata alone (archives, timestamp outliers).
type plan struct {
	jobs     []job
	hits     []hit
	warnings []string
	partial  bool
	seen     map[string]bool
	walked   int
}

func (p *plan) warn(format string, a ...any) {
	p.warnings = append(p.warnings, fmt.Sprintf(format, a...))
}

func (p *plan) add(j job) {
	key := j.path
	if abs, err := filepath.Abs(j.path); err == nil {
		key = abs
	}
	if p.seen[key] {
		return
	}
	p.seen[key] = true
	p.jobs = append(p.jobs, j)
}

// fileEntry is one regular file seen by a walk.
type fileEntry struct {
	path  string
	name  string
	size  int64
	mtime time.Time
}

// The event logs a hunt reads from winevt\Logs, by file name, with what is
// lost when one is missing ("" = optional: Sysmon and Defender are not
// always there).
var eventLogFiles = []struct{ name, missing string }{
	{"Application.evtx", "CVE-2021-26857 (Unified Messaging) errors not checked"},
	{"MSExchange Management.evtx", "Exchange cmdlet history (CVE-2021-27065 URLs, ProxyShell exports) not checked in the event log"},
	{"Security.evtx", "process creation (4688: LSASS dumps, shells started by w3wp.exe) not checked"},
	{"Microsoft-Windows-Sysmon%4Operational.evtx", ""},
	{"Microsoft-Windows-Windows Defender%4Operational.evtx", ""},
}

// discover lists the files to read. Each missing expected source is a
// warning: a triage copy that lacks the HttpProxy logs cannot show
// CVE-2021-26855, and the report must say so rather than look clean.
func (e *engine) discover(ctx context.Context) *plan {
	p := &plan{seen: map[string]bool{}}
	for _, l := range e.opts.Logs {
		e.addLogPath(p, l)
	}
	// Without a root only what was named is read (--logs and the
	// overrides); nothing is searched for and nothing reported missing.
	search := e.root != ""
	var drives []string
	if search {
		drives = e.driveRoots(p)
	}

	// Exchange installations.
	installs := e.opts.ExchangeDirs
	if len(installs) == 0 && e.live != nil {
		installs = e.live.installs
	}
	if len(installs) == 0 && search {
		installs = e.findInstalls(drives)
		if len(installs) == 0 {
			p.warn("no Exchange installation found under %s (looked for Program Files/Microsoft/Exchange Server/V15 and V14 on each drive): HttpProxy, ECP, OAB and cmdlet logs and the Exchange web folders were not checked; name the folder with --exchange-dir", e.opts.Root)
		}
	}
	for _, inst := range installs {
		if !isDir(inst) {
			p.warn("Exchange folder %s not found", inst)
			p.partial = true
			continue
		}
		e.installLogs(p, inst)
	}

	// IIS logs.
	iisDirs := e.opts.IISLogDirs
	if len(iisDirs) == 0 && search {
		for _, d := range drives {
			if lf, ok := ciJoin(d, "inetpub", "logs", "LogFiles"); ok {
				for _, ent := range readDirCapped(lf, 1000) {
					if ent.IsDir() && strings.HasPrefix(strings.ToUpper(ent.Name()), "W3SVC") {
						iisDirs = append(iisDirs, filepath.Join(lf, ent.Name()))
					}
				}
			}
		}
		if len(iisDirs) == 0 {
			p.warn("no IIS logs found (inetpub/logs/LogFiles/W3SVC*): requests to web shells and SSRF entry points cannot be seen; name the folder with --iis-logs if the logs were moved")
		}
	}
	for _, d := range iisDirs {
		e.addLogDir(p, d, nil)
	}

	// Event logs.
	if len(e.opts.EventLogDirs) > 0 {
		for _, d := range e.opts.EventLogDirs {
			e.addLogDir(p, d, func(name string) bool { return strings.EqualFold(filepath.Ext(name), ".evtx") })
		}
	} else if search {
		var evDirs []string
		for _, d := range drives {
			if ld, ok := ciJoin(d, "Windows", "System32", "winevt", "Logs"); ok {
				evDirs = append(evDirs, ld)
			}
		}
		if len(evDirs) == 0 {
			p.warn("no event logs found (Windows/System32/winevt/Logs): Unified Messaging errors, the MSExchange Management cmdlet log and process creation not checked; give exported .evtx files as logs")
		}
		for _, want := range eventLogFiles {
			found := false
			for _, ld := range evDirs {
				if f, ok := ciJoin(ld, want.name); ok {
					found = true
					if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
						p.add(job{kind: jobLog, path: f, size: st.Size(), mtime: st.ModTime(), evtxHint: want.name})
					}
				}
			}
			if !found && len(evDirs) > 0 && want.missing != "" {
				p.warn("event log %s not found: %s", want.name, want.missing)
			}
		}
	}

	// Web folders.
	webRoots := e.opts.WebRoots
	if len(webRoots) == 0 {
		www := false
		for _, d := range drives {
			if w, ok := ciJoin(d, "inetpub", "wwwroot"); ok {
				webRoots = append(webRoots, w)
				www = true
			}
		}
		if !www && search {
			p.warn("inetpub/wwwroot not found: web shells in aspnet_client not checked")
		}
		for _, inst := range installs {
			found := false
			for _, sub := range [][]string{{"FrontEnd", "HttpProxy"}, {"ClientAccess"}} {
				if w, ok := ciJoin(inst, sub...); ok {
					webRoots = append(webRoots, w)
					found = true
				}
			}
			if !found {
				p.warn("%s: neither FrontEnd/HttpProxy nor ClientAccess found: web shells in owa/auth and ecp/auth not checked", e.rel(inst))
			}
		}
	}
	for _, w := range webRoots {
		e.walkWebRoot(ctx, p, w)
	}

	// Where dumps and staged archives were found in 2021 (host.md §1.2,
	// §2.2, §2.3): ProgramData, Windows\Temp, user temp folders, C:\root,
	// Users\Public.
	pd := false
	for _, d := range drives {
		if dir, ok := ciJoin(d, "ProgramData"); ok {
			pd = true
			e.walkProgramData(ctx, p, dir)
		}
		var others []string
		if dir, ok := ciJoin(d, "Windows", "Temp"); ok {
			others = append(others, dir)
		}
		if dir, ok := ciJoin(d, "root"); ok {
			others = append(others, dir)
		}
		if users, ok := ciJoin(d, "Users"); ok {
			if pub, ok := ciJoin(users, "Public"); ok {
				others = append(others, pub)
			}
			for _, u := range readDirCapped(users, 5000) {
				if u.IsDir() {
					if t, ok := ciJoin(filepath.Join(users, u.Name()), "AppData", "Local", "Temp"); ok {
						others = append(others, t)
					}
				}
			}
		}
		for _, dir := range others {
			e.walkDumpArea(ctx, p, dir, "temp")
		}
		for _, fw := range []string{"Framework64", "Framework"} {
			if net, ok := ciJoin(d, "Windows", "Microsoft.NET", fw); ok {
				for _, v := range readDirCapped(net, 200) {
					if t, ok := ciJoin(filepath.Join(net, v.Name()), "Temporary ASP.NET Files"); ok && v.IsDir() {
						e.walkCompiled(ctx, p, t)
					}
				}
			}
		}
	}
	if !pd && search {
		p.warn("ProgramData not found: LSASS dumps and archives staged there not checked")
	}
	sortJobs(p.jobs)
	return p
}

var reDrive = regexp.MustCompile(`(?i)^(?:%5C%5C\.%5C)?[a-z](?:%3A|:|\$)?$`)

// volumeMarkers are top-level folders of a Windows system drive.
var volumeMarkers = []string{"Windows", "Program Files", "inetpub", "ProgramData", "Users"}

// driveRoots finds the folders laid out like a drive: the root itself, or
// one folder per drive as KAPE (C, D) and Velociraptor
// (uploads/auto/C%3A, uploads/ntfs/%5C%5C.%5CC%3A) write them, up to three
// levels down. The search lists at most a few thousand folders and does not
// descend into a drive or a system folder.
func (e *engine) driveRoots(p *plan) []string {
	root := e.opts.Root
	var out []string
	if hasAnyChild(root, volumeMarkers...) {
		out = append(out, root)
	}
	type dir struct {
		path  string
		depth int
	}
	queue := []dir{{root, 0}}
	budget := 2000
	for len(queue) > 0 && budget > 0 {
		d := queue[0]
		queue = queue[1:]
		budget--
		for _, ent := range readDirCapped(d.path, 500) {
			if !ent.IsDir() {
				continue
			}
			sub := filepath.Join(d.path, ent.Name())
			switch {
			case reDrive.MatchString(ent.Name()) && hasAnyChild(sub, volumeMarkers...):
				out = append(out, sub)
			case d.depth+1 < 3 && !equalFoldAny(ent.Name(), volumeMarkers):
				queue = append(queue, dir{sub, d.depth + 1})
			}
		}
	}
	if len(out) == 0 {
		// No volume layout: the root may be an Exchange folder or a bare
		// collection; the standard paths are tried on it anyway.
		out = append(out, root)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// findInstalls looks for Exchange installations: the default path on each
// drive, folders named like Exchange near a drive's top (E:\Exchange2016),
// and the root itself when it is an install folder.
func (e *engine) findInstalls(drives []string) []string {
	var out []string
	add := func(d string) {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	for _, d := range drives {
		if looksLikeInstall(d) {
			add(d)
		}
		if es, ok := ciJoin(d, "Program Files", "Microsoft", "Exchange Server"); ok {
			for _, v := range readDirCapped(es, 100) {
				if v.IsDir() && looksLikeInstall(filepath.Join(es, v.Name())) {
					add(filepath.Join(es, v.Name()))
				}
			}
		}
		for _, c := range readDirCapped(d, 500) {
			if !c.IsDir() || !strings.Contains(strings.ToLower(c.Name()), "exchange") {
				continue
			}
			cp := filepath.Join(d, c.Name())
			if looksLikeInstall(cp) {
				add(cp)
				continue
			}
			for _, v := range []string{"V15", "V14"} {
				if vp, ok := ciJoin(cp, v); ok && looksLikeInstall(vp) {
					add(vp)
				}
			}
		}
	}
	return out
}

func looksLikeInstall(d string) bool {
	return hasAnyChild(d, "Logging", "FrontEnd", "ClientAccess", "TransportRoles")
}

// installLogs queues the Exchange logs of one install (host.md §1.2, §2.9).
func (e *engine) installLogs(p *plan, inst string) {
	logging, ok := ciJoin(inst, "Logging")
	if !ok {
		p.warn("%s: no Logging folder: HttpProxy, ECP, OAB generator and cmdlet logs not checked", e.rel(inst))
		return
	}
	type want struct {
		path    []string
		missing string
		pick    func(string) bool
	}
	for _, w := range []want{
		{[]string{"HttpProxy"}, "CVE-2021-26855 and ProxyShell requests cannot be seen in HttpProxy logs", nil},
		{[]string{"ECP", "Server"}, "CVE-2021-27065 (Set-*VirtualDirectory) not checked in ECP logs", nil},
		{[]string{"OABGeneratorLog"}, "CVE-2021-26858 not checked", nil},
		{[]string{"CmdletInfra"}, "", func(n string) bool { return strings.Contains(strings.ToLower(n), "cmdlet") }},
	} {
		d, ok := ciJoin(logging, w.path...)
		if !ok {
			if w.missing != "" {
				p.warn("%s not found: %s", filepath.Join(e.rel(logging), filepath.Join(w.path...)), w.missing)
			}
			continue
		}
		e.addLogDir(p, d, w.pick)
	}
}

// addLogPath queues a --logs argument: a file or every file under a folder.
func (e *engine) addLogPath(p *plan, l string) {
	st, err := os.Stat(l)
	if err != nil {
		p.warn("%s: cannot read: %v", l, unwrapPathError(err))
		p.partial = true
		return
	}
	if st.Mode().IsRegular() {
		p.add(job{kind: jobLog, path: l, size: st.Size(), mtime: st.ModTime(), explicit: true})
		return
	}
	e.walk(p, l, func(_ string, files []fileEntry) {
		for _, f := range files {
			p.add(job{kind: jobLog, path: f.path, size: f.size, mtime: f.mtime, explicit: true})
		}
	})
}

// addLogDir queues the files under a log folder (pick filters names).
func (e *engine) addLogDir(p *plan, d string, pick func(string) bool) {
	if !isDir(d) {
		p.warn("log folder %s not found", d)
		return
	}
	e.walk(p, d, func(_ string, files []fileEntry) {
		for _, f := range files {
			if f.size == 0 || (pick != nil && !pick(f.name)) {
				continue
			}
			p.add(job{kind: jobLog, path: f.path, size: f.size, mtime: f.mtime})
		}
	})
}

// walk lists the regular files under root one folder at a time, without
// following links, and stops after maxWalkFiles files.
func (e *engine) walk(p *plan, root string, visit func(dir string, files []fileEntry)) {
	stack := []string{root}
	count := 0
	for len(stack) > 0 {
		dir := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		ents, err := os.ReadDir(dir)
		if err != nil {
			p.warn("%s: cannot list: %v", e.rel(dir), unwrapPathError(err))
			p.partial = true
			continue
		}
		var files []fileEntry
		for _, ent := range ents {
			if ent.IsDir() {
				stack = append(stack, filepath.Join(dir, ent.Name()))
				continue
			}
			if !ent.Type().IsRegular() {
				continue
			}
			info, err := ent.Info()
			if err != nil {
				continue
			}
			count++
			if count > maxWalkFiles {
				p.warn("%s: more than %d files; the rest were not checked", e.rel(root), maxWalkFiles)
				p.partial = true
				visit(dir, files)
				return
			}
			files = append(files, fileEntry{path: filepath.Join(dir, ent.Name()), name: ent.Name(), size: info.Size(), mtime: info.ModTime()})
		}
		visit(dir, files)
	}
}

// walkWebRoot queues the web pages of a web folder for content scanning,
// the possible dumps for a header check, reports archives, and compares
// each page's time with its folder's.
func (e *engine) walkWebRoot(ctx context.Context, p *plan, root string) {
	if !isDir(root) {
		p.warn("web folder %s not found", root)
		return
	}
	scriptExt := e.cs.get(chkShellContent).lind("script_ext")
	e.walk(p, root, func(dir string, files []fileEntry) {
		if ctx.Err() != nil {
			return
		}
		for _, f := range files {
			ext := strings.ToLower(filepath.Ext(f.name))
			switch {
			case slices.Contains(scriptExt, ext) || rules.IsKnownShellName(f.name):
				p.add(job{kind: jobScript, path: f.path, size: f.size, mtime: f.mtime, area: "web"})
			case e.isArchive(f.name):
				e.archiveHit(p, f, "web")
			case dumpCandidate(f):
				p.add(job{kind: jobDump, path: f.path, size: f.size, mtime: f.mtime, area: "web"})
			}
		}
		e.timeOutliers(p, files, scriptExt)
	})
}

// walkProgramData reports archives, queues possible dumps and the error
// reports of crashed Exchange workers.
func (e *engine) walkProgramData(ctx context.Context, p *plan, root string) {
	e.walk(p, root, func(dir string, files []fileEntry) {
		if ctx.Err() != nil {
			return
		}
		ldir := strings.ToLower(filepath.ToSlash(dir)) + "/"
		wer := strings.Contains(ldir, "/microsoft/windows/wer/")
		for _, f := range files {
			switch {
			case e.isArchive(f.name):
				area := "programdata"
				if filepath.Clean(dir) == filepath.Clean(root) {
					area = "programdata-root"
				}
				e.archiveHit(p, f, area)
			case wer && strings.EqualFold(filepath.Ext(f.name), ".wer"):
				p.add(job{kind: jobWER, path: f.path, size: f.size, mtime: f.mtime, area: "wer"})
			case dumpCandidate(f):
				p.add(job{kind: jobDump, path: f.path, size: f.size, mtime: f.mtime, area: "programdata"})
			}
		}
	})
}

// walkDumpArea queues possible dumps in a temp-like folder.
func (e *engine) walkDumpArea(ctx context.Context, p *plan, root, area string) {
	e.walk(p, root, func(_ string, files []fileEntry) {
		if ctx.Err() != nil {
			return
		}
		for _, f := range files {
			if dumpCandidate(f) {
				p.add(job{kind: jobDump, path: f.path, size: f.size, mtime: f.mtime, area: area})
			}
		}
	})
}

// walkCompiled queues compiled pages (App_Web_*.dll): a China Chopper page
// that was requested once stays there after the .aspx is deleted.
func (e *engine) walkCompiled(ctx context.Context, p *plan, root string) {
	e.walk(p, root, func(_ string, files []fileEntry) {
		if ctx.Err() != nil {
			return
		}
		for _, f := range files {
			ln := strings.ToLower(f.name)
			if strings.HasPrefix(ln, "app_web_") && strings.HasSuffix(ln, ".dll") && f.size < 2<<20 {
				p.add(job{kind: jobCompiled, path: f.path, size: f.size, mtime: f.mtime, area: "compiled"})
			}
		}
	})
}

// Binary types that are plentiful in ProgramData and cannot be a MiniDump:
// skipping them keeps the header check from opening every file.
var notDumpExt = []string{".dll", ".exe", ".sys", ".mui", ".cat", ".etl", ".evtx", ".msi", ".msp", ".pdb", ".nls", ".vdm", ".png", ".gif", ".jpg", ".ico", ".css", ".js", ".htm", ".html", ".xml", ".config", ".resx"}

// dumpCandidate reports whether a file may be a memory dump worth opening:
// named like an LSASS dump, or big enough for a MiniDump and not of a type
// that cannot be one. A MiniDump of LSASS is tens of megabytes; 4 KiB is a
// floor that still catches truncated copies.
func dumpCandidate(f fileEntry) bool {
	ln := strings.ToLower(f.name)
	if strings.HasPrefix(ln, "lsass") {
		return true
	}
	return f.size >= 4<<10 && !slices.Contains(notDumpExt, strings.ToLower(filepath.Ext(ln)))
}

func (e *engine) isArchive(name string) bool {
	return slices.Contains(e.cs.get(chkArchive).lind("archive_ext"), strings.ToLower(filepath.Ext(name)))
}

var reStagingName = regexp.MustCompile(`(?i)^\w{1,6}\.(zip|7z|rar)$`)

// archiveHit reports an archive written in the window: info with its
// context, never hidden (CSS-Exchange #145 refused an allow-list "so
// attackers don't use those names"); an attempt when it sits where the
// 2021 attackers staged data: ProgramData itself with a short name
// (C:\ProgramData\it.zip), or a web folder.
func (e *engine) archiveHit(p *plan, f fileEntry, area string) {
	ch := e.cs.get(chkArchive)
	ws := e.windowStart()
	if f.mtime.Before(ws) || (!e.opts.Until.IsZero() && f.mtime.After(e.opts.Until)) {
		return
	}
	rel := e.rel(f.path)
	grade := GradeInfo
	where := "in " + filepath.ToSlash(filepath.Dir(rel))
	switch area {
	case "programdata-root":
		if reStagingName.MatchString(f.name) || equalFoldAny(f.name, ch.ind("staging_names")) {
			grade = GradeAttempt
			where = "directly in ProgramData with a short name, as the 2021 attackers staged data"
		}
	case "web":
		grade = GradeAttempt
		where = "in a web folder, where IIS serves it for download"
	}
	what := fmt.Sprintf("archive %s (%s, modified %s) %s", f.name, sizeText(f.size), f.mtime.UTC().Format(sumTime+" UTC"), where)
	p.hits = append(p.hits, hit{check: ch, grade: grade, time: f.mtime.UTC(), path: rel, source: "disk", what: capString(what, maxEvidence)})
}

// timeOutliers reports pages modified weeks away from the files of their
// folder, in folders whose files were otherwise installed together: the
// sign of a page added or edited later. Folders updated piecemeal (more
// than two outliers) say nothing and are skipped.
func (e *engine) timeOutliers(p *plan, files []fileEntry, scriptExt []string) {
	if len(files) < 4 {
		return
	}
	ts := make([]time.Time, len(files))
	for i, f := range files {
		ts[i] = f.mtime
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	med := ts[len(ts)/2]
	near := 0
	for _, t := range ts {
		if absDur(t.Sub(med)) <= 24*time.Hour {
			near++
		}
	}
	if near*4 < len(ts)*3 && len(ts)-near > 2 {
		return // files of many times: nothing stands out
	}
	var out []fileEntry
	for _, f := range files {
		if absDur(f.mtime.Sub(med)) > 7*24*time.Hour && slices.Contains(scriptExt, strings.ToLower(filepath.Ext(f.name))) {
			out = append(out, f)
		}
	}
	if len(out) == 0 || len(out) > 2 {
		return
	}
	ch := e.cs.get(chkTimeOutlier)
	for _, f := range out {
		if !e.inWindow(f.mtime) {
			continue
		}
		days := int(absDur(f.mtime.Sub(med)).Hours() / 24)
		what := fmt.Sprintf("%s modified %s, %d days from the other %d files of its folder (median %s)",
			f.name, f.mtime.UTC().Format(sumTime+" UTC"), days, len(files)-1, med.UTC().Format("2006-01-02"))
		p.hits = append(p.hits, hit{check: ch, grade: GradeInfo, time: f.mtime.UTC(), path: e.rel(f.path), source: "disk", what: what})
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func sizeText(n int64) string {
	switch {
	case n >= 10<<20:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 10<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// ciJoin resolves elems under base, each component case-insensitively:
// triage copies made on Linux keep whatever case the collector wrote
// ("program files", "PROGRAMDATA").
func ciJoin(base string, elems ...string) (string, bool) {
	cur := base
	for _, el := range elems {
		exact := filepath.Join(cur, el)
		if _, err := os.Lstat(exact); err == nil {
			cur = exact
			continue
		}
		found := ""
		for _, ent := range readDirCapped(cur, 100000) {
			if strings.EqualFold(ent.Name(), el) {
				found = ent.Name()
				break
			}
		}
		if found == "" {
			return "", false
		}
		cur = filepath.Join(cur, found)
	}
	return cur, true
}

func hasAnyChild(dir string, names ...string) bool {
	for _, n := range names {
		if p, ok := ciJoin(dir, n); ok && isDir(p) {
			return true
		}
	}
	return false
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// readDirCapped lists a folder, returning at most n entries (nil on error).
func readDirCapped(dir string, n int) []fs.DirEntry {
	f, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer f.Close()
	ents, _ := f.ReadDir(n)
	return ents
}
