package hunt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/exsweep/exsweep/internal/rules"
)

// scanScript judges a web file by content (rules), hash, name and folder,
// and makes at most one finding of it: the strongest reason, with the
// others in the evidence.
func (e *engine) scanScript(ctx context.Context, j job, s *sink) message {
	rel := e.rel(j.path)
	f, err := e.vol.Open(j.path)
	if err != nil {
		return message{warning: e.openWarning(j.path, err), partial: true}
	}
	defer f.Close()
	if j.size > 1<<20 {
		select {
		case e.bigScans <- struct{}{}:
			defer func() { <-e.bigScans }()
		case <-ctx.Done():
			return message{}
		}
	}
	h := sha256.New()
	cr := &countingReader{ctx: ctx, r: f, e: e}
	res, err := e.opts.Rules.ScanReader(io.TeeReader(cr, h), j.size)
	if err == nil {
		// Hash the whole file even past the rules' read cap.
		buf := copyBufs.Get().(*[]byte)
		_, err = io.CopyBuffer(struct{ io.Writer }{h}, struct{ io.Reader }{cr}, *buf)
		copyBufs.Put(buf)
	}
	if err != nil {
		if ctx.Err() != nil {
			return message{}
		}
		return message{warning: fmt.Sprintf("%s: cannot read: %v", rel, unwrapPathError(err)), partial: true}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if ht := judgeFile(e.cs, j, rel, sum, res); ht != nil {
		if ht.grade != GradeBackdoor && !e.inWindow(j.mtime) {
			return message{}
		}
		s.hit(*ht)
	}
	return message{}
}

// copyBufs saves a 32 KiB buffer per scanned file (thousands of small pages).
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// reason is one ground for flagging a file.
type reason struct {
	check *check
	grade string
	what  string
}

// judgeFile decides on one scanned file. Legitimate Exchange files are
// never flagged by name or folder (attackers also injected code into them,
// which the content rules still see).
func judgeFile(cs *checkSet, j job, rel, sum string, res rules.Result) *hit {
	var rs []reason
	if ind, ok := rules.KnownHash(sum); ok {
		rs = append(rs, reason{cs.get(chkShellHash), GradeBackdoor, "SHA-256 listed by " + ind.Source + noteText(ind.Note)})
	}
	contentCheck := cs.get(chkShellContent)
	if j.kind == jobWER {
		contentCheck = cs.get(chkWER)
	}
	if len(res.Matches) > 0 {
		grade := GradeInfo
		var names []string
		excerpt := ""
		for _, m := range res.Matches {
			g := ruleGrade(m.Severity())
			if GradeRank(g) > GradeRank(grade) {
				grade = g
			}
			names = append(names, m.Rule)
			if excerpt == "" && len(m.Strings) > 0 {
				// A UTF-16 match (WER reports, event logs) reads better
				// without its escaped zero bytes.
				excerpt = strings.ReplaceAll(m.Strings[0].Excerpt, `\x00`, "")
			}
		}
		what := "rules " + strings.Join(names, ", ")
		if excerpt != "" {
			what += ": " + excerpt
		}
		rs = append(rs, reason{contentCheck, grade, what})
	}
	legit := rules.IsLegitExchangeFile(rel)
	ext := strings.ToLower(path.Ext(j.path))
	if !legit && j.kind == jobScript {
		if ind, ok := rules.KnownShellPath(rel); ok {
			sensitive := inSensitiveDiskFolder(cs, rel)
			if !weakIndicator(cs, ind) {
				rs = append(rs, reason{cs.get(chkShellName), GradeAttempt, "name on the " + ind.Source + " web-shell list" + noteText(ind.Note)})
			} else if sensitive {
				rs = append(rs, reason{cs.get(chkShellName), GradeInfo, "name on the " + ind.Source + " web-shell list" + noteText(ind.Note)})
			}
		}
		us := cs.get(chkUnexpected)
		if slices.Contains(us.lind("script_ext"), ext) && inSensitiveDiskFolder(cs, rel) {
			rs = append(rs, reason{us, GradeAttempt, "a page Exchange does not ship in this folder"})
		}
	}
	if len(rs) == 0 {
		return nil
	}
	best := 0
	for i, r := range rs {
		if GradeRank(r.grade) > GradeRank(rs[best].grade) {
			best = i
		}
	}
	what := fmt.Sprintf("%s (%s, modified %s): %s", filepath.Base(j.path), sizeText(j.size), j.mtime.UTC().Format(sumTime+" UTC"), rs[best].what)
	for i, r := range rs {
		if i != best {
			what += "; " + r.what
		}
	}
	if res.Truncated {
		what += fmt.Sprintf("; only the first %d bytes were scanned", res.Scanned)
	}
	return &hit{check: rs[best].check, grade: rs[best].grade, time: j.mtime.UTC(), path: rel, source: "disk",
		what: capString(what, maxEvidence), sha256: sum}
}

func noteText(n string) string {
	if n == "" {
		return ""
	}
	return " (" + n + ")"
}

// ruleGrade maps a rule's severity meta to a grade (unknown: info).
func ruleGrade(sev string) string {
	switch sev {
	case rules.SeverityBackdoor:
		return GradeBackdoor
	case rules.SeverityAttempt:
		return GradeAttempt
	}
	return GradeInfo
}

func inSensitiveDiskFolder(cs *checkSet, rel string) bool {
	np := "/" + rules.NormalizePath(rel) + "/"
	_, ok := containsAnyFold(np, cs.get(chkUnexpected).lind("web_folders"))
	return ok
}

// scanWER runs the rules on a Windows Error Report.
func (e *engine) scanWER(ctx context.Context, j job, s *sink) message {
	return e.scanScript(ctx, j, s)
}

// scanDump looks at a possible memory dump: the MiniDump header, and the
// first module of its module list, which is the dumped program.
func (e *engine) scanDump(ctx context.Context, j job, s *sink) message {
	rel := e.rel(j.path)
	f, err := e.vol.Open(j.path)
	if err != nil {
		return message{warning: e.openWarning(j.path, err), partial: true}
	}
	defer f.Close()
	ra := &countingReaderAt{ctx: ctx, r: f, e: e}
	var hdr [4]byte
	n, _ := ra.ReadAt(hdr[:], 0)
	isMDMP := n == 4 && string(hdr[:]) == "MDMP"
	ch := e.cs.get(chkDumpFile)
	ln := strings.ToLower(filepath.Base(j.path))
	named := hasAnyPrefix(ln, ch.lind("name_prefixes")) && hasAnySuffixFold(ln, ch.lind("dump_ext"))
	if !isMDMP && !named {
		return message{}
	}
	var md minidumpInfo
	if isMDMP {
		md = readMinidump(ra, j.size)
	}
	lsass := named || (md.image != "" && slices.Contains(ch.lind("lsass_images"), exeName(md.image)))
	np := "/" + rules.NormalizePath(rel) + "/"
	_, wer := containsAnyFold(np, ch.lind("wer_dirs"))
	grade := ""
	var why string
	switch {
	case lsass:
		grade, why = GradeBackdoor, "LSASS memory dump"
		if !isMDMP {
			why = "file named like an LSASS dump (no MiniDump header: truncated, compressed or renamed)"
		}
	case wer:
		return message{} // crash dumps kept by Windows Error Reporting
	case j.area == "web":
		grade, why = GradeBackdoor, "memory dump in a web folder, where IIS serves it for download"
	default:
		grade, why = GradeAttempt, "memory dump outside the error-reporting folders"
	}
	if grade != GradeBackdoor && !e.inWindow(j.mtime) {
		return message{}
	}
	what := fmt.Sprintf("%s (%s, modified %s): %s", filepath.Base(j.path), sizeText(j.size), j.mtime.UTC().Format(sumTime+" UTC"), why)
	if md.image != "" {
		what += "; dumped process " + capString(md.image, 120)
	}
	if !md.taken.IsZero() {
		what += "; dump taken " + md.taken.UTC().Format(sumTime+" UTC")
	}
	t := j.mtime.UTC()
	if !md.taken.IsZero() {
		t = md.taken.UTC()
	}
	s.hit(hit{check: ch, grade: grade, time: t, path: rel, source: "disk", what: capString(what, maxEvidence)})
	return message{}
}
