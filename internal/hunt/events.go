package hunt

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/exsweep/exsweep/internal/hunt/logs"
	"github.com/exsweep/exsweep/internal/rules"
)

// eventHit is what the event checks found in one event.
type eventHit struct {
	check *check
	grade string
	key   string
	what  string
}

// selects reports whether one of the check's selectors takes the event.
func (c *check) selects(ev *logs.Event) bool {
	for _, s := range c.Events {
		if s.match(ev) {
			return true
		}
	}
	return false
}

func (e *engine) matchEvent(fc *fileCtx, ev *logs.Event) {
	for _, h := range matchEvent(e.cs, e.opts.Rules, ev) {
		fc.out.hit(hit{check: h.check, grade: h.grade, key: h.key, time: ev.TimeCreated, path: fc.rel, source: fc.source,
			what: capString(fmt.Sprintf("event %d record %d: %s", ev.EventID, ev.RecordID, h.what), maxEvidence)})
	}
}

// cmdletChecks read MSExchange Management events through matchCmdlet.
var cmdletChecks = []string{chkVDirScript, chkExport, chkRole, chkCertExport, chkTransport}

// matchEvent runs the event checks whose selectors take ev. eng (may be
// nil) scans command lines for web-shell traces.
func matchEvent(cs *checkSet, eng rules.Engine, ev *logs.Event) []eventHit {
	var out []eventHit
	for _, id := range cmdletChecks {
		if cs.get(id).selects(ev) {
			// MSExchange Management: Data[0] the cmdlet, Data[1] its
			// parameters, Data[2] the user; event 6 is a failure (host.md §3.5).
			call := cmdletCall{Name: ev.Param(0), Raw: ev.Param(1), Failed: ev.EventID == 6, User: ev.Param(2)}
			call.Params = parsePSParams(call.Raw)
			if h := matchCmdlet(cs, &call); h != nil {
				what := h.what
				if call.User != "" {
					what += " by " + call.User
				}
				if call.Failed {
					what += " (failed)"
				}
				out = append(out, eventHit{h.check, h.grade, "", what})
			}
			break
		}
	}
	if um := cs.get(chkUM); um.selects(ev) {
		for _, m := range um.ind("markers") {
			if ev.Contains(m) {
				out = append(out, eventHit{um, GradeAttempt, "um", ev.Provider + " error with " + m})
				break
			}
		}
	}
	if p, ok := processEvent(ev); ok {
		out = append(out, matchProcess(cs, eng, ev, p)...)
	}
	if ev.EventID == 11 && cs.get(chkShellWrite).selects(ev) {
		out = append(out, matchFileCreate(cs, ev)...)
	}
	if d := cs.get(chkDefender); d.selects(ev) {
		name := ev.Get("Threat Name")
		where := ev.Get("Path")
		ln := strings.ToLower(name)
		grade := ""
		if _, ok := containsAnyFold(ln, d.lind("backdoor_names")); ok {
			grade = GradeBackdoor
		} else if _, ok := containsAnyFold(ln, d.lind("exploit_names")); ok {
			grade = GradeExploited
		}
		if grade != "" {
			out = append(out, eventHit{d, grade, "", "Defender: " + capString(name, 100) + " in " + capString(where, 160)})
		}
	}
	return out
}

// proc is a process creation from Security 4688 or Sysmon 1.
type proc struct {
	image, cmdline, parent, parentCmd, user string
}

func processEvent(ev *logs.Event) (proc, bool) {
	switch {
	case ev.EventID == 4688 && strings.EqualFold(ev.Channel, "Security"):
		return proc{image: ev.Get("NewProcessName"), cmdline: ev.Get("CommandLine"), parent: ev.Get("ParentProcessName"),
			user: ev.Get("SubjectUserName")}, true
	case ev.EventID == 1 && strings.EqualFold(ev.Channel, "Microsoft-Windows-Sysmon/Operational"):
		return proc{image: ev.Get("Image"), cmdline: ev.Get("CommandLine"), parent: ev.Get("ParentImage"),
			parentCmd: ev.Get("ParentCommandLine"), user: ev.Get("User")}, true
	}
	return proc{}, false
}

// exeName is the lower-case file name of a Windows image path.
func exeName(p string) string {
	p = strings.ReplaceAll(strings.TrimSpace(p), `\`, "/")
	return strings.ToLower(path.Base(strings.Trim(p, `"`)))
}

func matchProcess(cs *checkSet, eng rules.Engine, ev *logs.Event, p proc) []eventHit {
	var out []eventHit
	lc := strings.ToLower(p.cmdline)
	child, parent := exeName(p.image), exeName(p.parent)
	desc := capString(p.cmdline, 200)
	if desc == "" {
		desc = p.image
	}
	if p.parent != "" {
		desc += " (parent " + parent + ")"
	}
	if l := cs.get(chkLsassCmd); l.selects(ev) {
		_, comsvcs := containsAnyFold(lc, l.lind("comsvcs"))
		_, minidump := containsAnyFold(lc, l.lind("minidump"))
		_, tool := containsAnyFold(lc, l.lind("dump_tools"))
		_, lsass := containsAnyFold(lc, l.lind("lsass"))
		if (comsvcs && minidump) || (tool && lsass) {
			out = append(out, eventHit{l, GradeBackdoor, "", "LSASS dump command: " + desc})
		}
	}
	if w := cs.get(chkW3wpShell); w.selects(ev) && slices.Contains(w.lind("parents"), parent) && slices.Contains(w.lind("children"), child) {
		grade, why := GradeExploited, ""
		if eng != nil && p.cmdline != "" {
			for _, m := range eng.Scan([]byte(p.cmdline)) {
				if m.Severity() == rules.SeverityBackdoor {
					grade, why = GradeBackdoor, " (rule "+m.Rule+")"
					break
				}
			}
		}
		out = append(out, eventHit{w, grade, "", child + " started by " + parent + why + ": " + desc})
	}
	if u := cs.get(chkUMChild); u.selects(ev) && slices.Contains(u.lind("parents"), parent) && !slices.Contains(u.lind("allowed_children"), child) {
		out = append(out, eventHit{u, GradeExploited, "", child + " started by " + parent + ": " + desc})
	}
	return out
}

// matchFileCreate handles Sysmon 11: a dump named like LSASS, or a page
// written into a web folder by an Exchange/IIS worker.
func matchFileCreate(cs *checkSet, ev *logs.Event) []eventHit {
	var out []eventHit
	target := ev.Get("TargetFilename")
	img := exeName(ev.Get("Image"))
	nt := strings.ToLower(strings.ReplaceAll(target, `\`, "/"))
	base := path.Base(nt)
	if l := cs.get(chkLsassCmd); l.selects(ev) {
		_, lsass := containsAnyFold(base, l.lind("lsass"))
		if lsass && hasAnySuffixFold(base, l.lind("dump_ext")) {
			out = append(out, eventHit{l, GradeBackdoor, "", "LSASS dump file created: " + capString(target, 200) + " by " + img})
		}
	}
	w := cs.get(chkShellWrite)
	if slices.Contains(w.ind("writers"), img) && hasAnySuffixFold(base, w.lind("script_ext")) {
		if _, ok := containsAnyFold(nt, w.lind("web_folders")); ok {
			out = append(out, eventHit{w, GradeBackdoor, "", img + " wrote " + capString(target, 200)})
		}
	}
	return out
}
