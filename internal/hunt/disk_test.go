package hunt

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/exsweep/exsweep/internal/rules"
)

// makeMinidump builds a MiniDump with one stream (the module list) naming
// image, padded to size.
func makeMinidump(image string, stamp uint32, size int) []byte {
	le := binary.LittleEndian
	var b bytes.Buffer
	hdr := make([]byte, 32)
	copy(hdr, "MDMP")
	le.PutUint32(hdr[4:], 0xA793)
	le.PutUint32(hdr[8:], 1)
	le.PutUint32(hdr[12:], 32)
	le.PutUint32(hdr[20:], stamp)
	b.Write(hdr)
	dir := make([]byte, 12)
	le.PutUint32(dir, mdModuleListType)
	le.PutUint32(dir[4:], 4+mdModuleSize)
	le.PutUint32(dir[8:], 44)
	b.Write(dir)
	b.Write([]byte{1, 0, 0, 0})
	mod := make([]byte, mdModuleSize)
	le.PutUint32(mod[20:], 44+4+mdModuleSize)
	b.Write(mod)
	u := utf16.Encode([]rune(image))
	name := make([]byte, 4+2*len(u))
	le.PutUint32(name, uint32(2*len(u)))
	for i, c := range u {
		le.PutUint16(name[4+2*i:], c)
	}
	b.Write(name)
	for b.Len() < size {
		b.WriteByte(0)
	}
	return b.Bytes()
}

func TestReadMinidump(t *testing.T) {
	good := makeMinidump(`C:\Windows\System32\lsass.exe`, 1614850200, 4096)
	info := readMinidump(bytes.NewReader(good), int64(len(good)))
	if info.image != `C:\Windows\System32\lsass.exe` || !info.taken.Equal(time.Unix(1614850200, 0)) {
		t.Errorf("got %+v", info)
	}
	le := binary.LittleEndian
	for name, mut := range map[string]func([]byte) []byte{
		"truncated":      func(b []byte) []byte { return b[:150] },
		"not a dump":     func(b []byte) []byte { copy(b, "MZ\x90\x00"); return b },
		"huge streams":   func(b []byte) []byte { le.PutUint32(b[8:], 1<<30); return b },
		"dir past end":   func(b []byte) []byte { le.PutUint32(b[12:], 1<<31); return b },
		"name past end":  func(b []byte) []byte { le.PutUint32(b[44+4+20:], 1<<31); return b },
		"odd name size":  func(b []byte) []byte { le.PutUint32(b[44+4+mdModuleSize:], 7); return b },
		"huge name":      func(b []byte) []byte { le.PutUint32(b[44+4+mdModuleSize:], 1<<30); return b },
		"zero modules":   func(b []byte) []byte { le.PutUint32(b[44:], 0); return b },
		"header only":    func(b []byte) []byte { return b[:32] },
		"no module list": func(b []byte) []byte { le.PutUint32(b[32:], 7); return b },
	} {
		b := mut(bytes.Clone(good))
		info := readMinidump(bytes.NewReader(b), int64(len(b)))
		if info.image != "" {
			t.Errorf("%s: image %q from a broken dump", name, info.image)
		}
	}
}

func TestJudgeFile(t *testing.T) {
	cs := mustChecks(t)
	eng, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	legitLogon, err := os.ReadFile("../rules/testdata/legit/logon.aspx")
	if err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2021, 3, 3, 2, 14, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, rel string
		content   string
		check     string // "" = nothing
		grade     string
	}{
		{"chopper in owa/auth", "C/Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth/x.aspx",
			`<%@ Page Language="Jscript"%><%eval(Request.Item["p"],"unsafe");%>`, chkShellContent, GradeBackdoor},
		{"chopper injected into a legitimate page", "C/Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth/logon.aspx",
			string(legitLogon) + `<script language="JScript" runat="server">function Page_Load(){eval(Request["k"],"unsafe");}</script>`, chkShellContent, GradeBackdoor},
		{"legitimate logon page", "C/Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth/logon.aspx", string(legitLogon), "", ""},
		{"known name, unknown content", "C/inetpub/wwwroot/aspnet_client/supp0rt.aspx", "<%@ Page Language=\"C#\" %>\n<html></html>", chkShellName, GradeAttempt},
		{"unexpected page in aspnet_client", "C/inetpub/wwwroot/aspnet_client/report.aspx", "<%@ Page Language=\"C#\" %>\n<html></html>", chkUnexpected, GradeAttempt},
		{"unexpected page in owa/auth/Current", "C/Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth/Current/z.aspx", "<html></html>", chkUnexpected, GradeAttempt},
		{"weak name outside the shell folders", "C/inetpub/wwwroot/help.aspx", "<html>help</html>", "", ""},
		{"weak name in owa/auth", "C/Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth/default.aspx", "<html>x</html>", chkUnexpected, GradeAttempt},
		{"site page", "C/inetpub/wwwroot/contact.aspx", "<%@ Page Language=\"C#\" %>\n<form runat=\"server\"></form>", "", ""},
		{"ClientAccess page", "C/Program Files/Microsoft/Exchange Server/V15/ClientAccess/Owa/auth/15.1/x.aspx", "<html></html>", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := rules.Result{Matches: eng.Scan([]byte(tc.content)), Size: int64(len(tc.content)), Scanned: int64(len(tc.content))}
			j := job{kind: jobScript, path: filepath.FromSlash(tc.rel), size: int64(len(tc.content)), mtime: mt}
			h := judgeFile(cs, j, filepath.FromSlash(tc.rel), "00", res)
			switch {
			case tc.check == "" && h != nil:
				t.Errorf("flagged %s %s: %s", h.check.ID, h.grade, h.what)
			case tc.check != "" && h == nil:
				t.Errorf("not flagged, want %s", tc.check)
			case h != nil && (h.check.ID != tc.check || h.grade != tc.grade):
				t.Errorf("got %s %s, want %s %s (%s)", h.check.ID, h.grade, tc.check, tc.grade, h.what)
			}
		})
	}
	// A known hash wins over everything.
	sum := ""
	for _, ind := range rules.Indicators() {
		if ind.Kind == rules.KindSHA256 {
			sum = ind.Value
			break
		}
	}
	h := judgeFile(cs, job{kind: jobScript, path: "x.aspx", mtime: mt}, "x.aspx", sum, rules.Result{})
	if h == nil || h.check.ID != chkShellHash || h.grade != GradeBackdoor {
		t.Errorf("known hash: %+v", h)
	}
}

func TestDumpCandidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int64
		want bool
	}{
		{"lsass.dmp", 10, true},
		{"LSASS (4).DMP", 0, true},
		{"debug.bin", 64 << 10, true},
		{"x.tmp", 3 << 10, false},
		{"MpEngine.dll", 50 << 20, false},
		{"mpavbase.vdm", 50 << 20, false},
		{"report.log", 8 << 10, true},
	} {
		if got := dumpCandidate(fileEntry{name: tc.name, size: tc.size}); got != tc.want {
			t.Errorf("dumpCandidate(%s, %d) = %v", tc.name, tc.size, got)
		}
	}
}

func TestTimeOutliers(t *testing.T) {
	e := &engine{cs: mustChecks(t), opts: Options{ExploitStart: DefaultExploitStart}}
	inst := time.Date(2020, 12, 5, 10, 0, 0, 0, time.UTC)
	files := func(odd ...time.Time) []fileEntry {
		fs := []fileEntry{
			{path: "a/logon.aspx", name: "logon.aspx", mtime: inst},
			{path: "a/errorFE.aspx", name: "errorFE.aspx", mtime: inst.Add(time.Minute)},
			{path: "a/logoff.aspx", name: "logoff.aspx", mtime: inst.Add(2 * time.Minute)},
			{path: "a/signout.aspx", name: "signout.aspx", mtime: inst.Add(3 * time.Minute)},
			{path: "a/x.css", name: "x.css", mtime: inst},
		}
		for i, t := range odd {
			fs = append(fs, fileEntry{path: "a/new" + itoa(i) + ".aspx", name: "new" + itoa(i) + ".aspx", mtime: t})
		}
		return fs
	}
	march := time.Date(2021, 3, 3, 2, 14, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		files []fileEntry
		want  int
	}{
		{"one late page", files(march), 1},
		{"two late pages", files(march, march.Add(time.Hour)), 2},
		{"a patch touched many", files(march, march, march), 0},
		{"all together", files(inst.Add(time.Hour)), 0},
		{"too few files", files(march)[3:], 0},
	} {
		p := &plan{}
		e.timeOutliers(p, tc.files, e.cs.get(chkShellContent).lind("script_ext"))
		if len(p.hits) != tc.want {
			t.Errorf("%s: %d outliers, want %d", tc.name, len(p.hits), tc.want)
		}
	}
}

func TestArchiveHit(t *testing.T) {
	e := &engine{cs: mustChecks(t), opts: Options{ExploitStart: DefaultExploitStart}}
	in := time.Date(2021, 3, 4, 9, 40, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, area string
		mtime      time.Time
		want       string // "" = not reported
	}{
		{"it.zip", "programdata-root", in, GradeAttempt},
		{"pst.7z", "programdata-root", in, GradeAttempt},
		{"installer_backup.zip", "programdata-root", in, GradeInfo},
		{"vss_manifests.zip", "programdata", in, GradeInfo},
		{"FrameworkConfig.zip", "programdata", time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{"mail.rar", "web", in, GradeAttempt},
	} {
		p := &plan{}
		e.archiveHit(p, fileEntry{path: tc.name, name: tc.name, size: 100, mtime: tc.mtime}, tc.area)
		got := ""
		if len(p.hits) == 1 {
			got = p.hits[0].grade
		}
		if got != tc.want {
			t.Errorf("%s in %s: %q, want %q", tc.name, tc.area, got, tc.want)
		}
	}
}

func TestPaths(t *testing.T) {
	for in, want := range map[string]string{
		"C/Windows/Temp/lsass.dmp":     `C:\Windows\Temp\lsass.dmp`,
		"c%3A/ProgramData/x.bin":       `C:\ProgramData\x.bin`,
		`D\Exchange\x.aspx`:            `D:\Exchange\x.aspx`,
		"Windows/Temp/lsass.dmp":       "Windows/Temp/lsass.dmp",
		"/abs/ProgramData/debug.bin":   "/abs/ProgramData/debug.bin",
		"uploads/auto/C%3A/x/lsass.dm": "uploads/auto/C%3A/x/lsass.dm",
	} {
		if got := windowsPath(in); got != want {
			t.Errorf("windowsPath(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"C/Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth/x.aspx": "owa/auth/x.aspx",
		`C\inetpub\wwwroot\aspnet_client\system_web\a.aspx`:                                "aspnet_client/system_web/a.aspx",
		"FrontEnd/HttpProxy/ecp/auth/y.aspx":                                               "ecp/auth/y.aspx",
		"other/z.aspx":                                                                     "other/z.aspx",
	} {
		if got := shortPath(in); got != want {
			t.Errorf("shortPath(%q) = %q, want %q", in, got, want)
		}
	}
	for _, tc := range []struct {
		n    int
		what string
		want string
	}{{1, "address", "1 address"}, {3, "address", "3 addresses"}, {2, "probe", "2 probes"}} {
		if got := plural(tc.n, tc.what); got != tc.want {
			t.Errorf("plural(%d, %q) = %q", tc.n, tc.what, got)
		}
	}
}
