package rules

import (
	"strings"
	"testing"
	"testing/fstest"
)

// TestEmbeddedIOCListsValid: the lists load (no duplicates, 64-hex hashes, a
// known source for every entry, valid regexes, no shell name that is also a
// legitimate file).
func TestEmbeddedIOCListsValid(t *testing.T) {
	db, err := loadIOCs(embedded)
	if err != nil {
		t.Fatal(err)
	}
	if len(db.hashes) == 0 || len(db.names) == 0 || len(db.legit) == 0 {
		t.Fatalf("empty lists: %d hashes, %d names, %d legit", len(db.hashes), len(db.names), len(db.legit))
	}
	for _, ind := range db.all {
		if ind.Source == "" || !strings.HasPrefix(ind.SourceURL, "https://") {
			t.Errorf("%s %s: no source", ind.Kind, ind.Value)
		}
	}
}

func TestIOCValidationCatchesBadData(t *testing.T) {
	good := map[string]string{
		"data/sources.csv":        "key,title,url\nX,t,https://example.org\n",
		"data/shell_files.csv":    "kind,value,folder,source,note\nname,a.aspx,,X,\n",
		"data/hashes.csv":         "sha256,source,note\n" + strings.Repeat("ab", 32) + ",X,\n",
		"data/legit_exchange.csv": "path,source,note\nowa/auth/logon.aspx,X,\n",
	}
	tests := []struct {
		name, file, content, want string
	}{
		{"ok", "", "", ""},
		{"short hash", "data/hashes.csv", "sha256,source,note\nabc,X,\n", "not 64 lower-case hex"},
		{"upper-case hash", "data/hashes.csv", "sha256,source,note\n" + strings.Repeat("AB", 32) + ",X,\n", "not 64 lower-case hex"},
		{"duplicate hash", "data/hashes.csv", "sha256,source,note\n" + strings.Repeat("ab", 32) + ",X,\n" + strings.Repeat("ab", 32) + ",X,\n", "duplicate hash"},
		{"missing source", "data/hashes.csv", "sha256,source,note\n" + strings.Repeat("ab", 32) + ",,\n", "unknown source"},
		{"unknown source", "data/shell_files.csv", "kind,value,folder,source,note\nname,a.aspx,,Y,\n", `unknown source "Y"`},
		{"duplicate name", "data/shell_files.csv", "kind,value,folder,source,note\nname,a.aspx,,X,\nname,A.ASPX,,X,\n", "duplicate name"},
		{"bad kind", "data/shell_files.csv", "kind,value,folder,source,note\nfile,a.aspx,,X,\n", "kind must be"},
		{"bad regex", "data/shell_files.csv", "kind,value,folder,source,note\nregex,a(,,X,\n", "bad regex"},
		{"name with folder", "data/shell_files.csv", "kind,value,folder,source,note\nname,x/a.aspx,,X,\n", "bare file name"},
		{"bad header", "data/legit_exchange.csv", "file,source,note\nowa/auth/logon.aspx,X,\n", "header must be"},
		{"shell name is legit", "data/shell_files.csv", "kind,value,folder,source,note\nname,logon.aspx,owa/auth,X,\n", "also listed as legitimate"},
		{"duplicate source key", "data/sources.csv", "key,title,url\nX,t,https://a\nX,u,https://b\n", "duplicate key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for k, v := range good {
				fsys[k] = &fstest.MapFile{Data: []byte(v)}
			}
			if tc.file != "" {
				fsys[tc.file] = &fstest.MapFile{Data: []byte(tc.content)}
			}
			_, err := loadIOCs(fsys)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestShellNameLookups(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"shell.aspx", true},
		{"SHELL.ASPX", true},
		{`C:\inetpub\wwwroot\aspnet_client\supp0rt.aspx`, true},
		{"RedirSuiteServerProxy.aspx", true},
		{"RedirSuiteServiceProxy.aspx", false}, // the legitimate file
		{"logon.aspx", false},
		{"mrpuhpskaykvbrul.aspx", false}, // random names are not in any list
		{"", false},
	}
	for _, tc := range tests {
		if got := IsKnownShellName(tc.in); got != tc.want {
			t.Errorf("IsKnownShellName(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	ind, ok := KnownShellName("errorEEE.aspx")
	if !ok || ind.Source != "SCSLABS" || ind.SourceURL == "" {
		t.Errorf("KnownShellName: %+v %v", ind, ok)
	}
}

func TestKnownShellPath(t *testing.T) {
	tests := []struct {
		in   string
		want string // source, "" for no match
	}{
		{`C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\owa\auth\OutlookZH.aspx`, "MSTIC"},
		{`/mnt/image/Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth/default.aspx`, "MSTIC"},
		{`C:\inetpub\wwwroot\default.aspx`, ""}, // default.aspx is only an indicator in owa/auth
		{`C:\inetpub\wwwroot\aspnet_client\system_web\error.aspx`, "HUNTRESS"},
		{`C:\inetpub\wwwroot\errors\error.aspx`, ""},
		{`C:\inetpub\wwwroot\aspnet_client\system_web\Ab3dE9xZ.aspx`, "HUNTRESS"},
		{`C:\inetpub\wwwroot\aspnet_client\system_web\Ab3dE9xZ9.aspx`, ""},
		{`C:\inetpub\wwwroot\aspnet_client\system_web\4_0_30319\Ab3dE9xZ.aspx`, ""},
		{`D:\Exchange\FrontEnd\HttpProxy\OAB\log.aspx`, "MSTIC"},
		{`owa/auth/logon.aspx`, ""},
	}
	for _, tc := range tests {
		ind, ok := KnownShellPath(tc.in)
		got := ""
		if ok {
			got = ind.Source
		}
		if got != tc.want {
			t.Errorf("KnownShellPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestKnownHash(t *testing.T) {
	h := "b75f163ca9b9240bf4b37ad92bc7556b40a17e27c2b8ed5c8991385fe07d17d0"
	ind, ok := KnownHash(strings.ToUpper(h))
	if !ok || ind.Value != h || ind.Kind != KindSHA256 || ind.Source != "MSTIC" {
		t.Errorf("KnownHash: %+v %v", ind, ok)
	}
	if _, ok := KnownHash(strings.Repeat("0", 64)); ok {
		t.Error("zero hash must not be known")
	}
	if _, ok := KnownHash("b75f163c"); ok {
		t.Error("a prefix must not match")
	}
}

func TestIsLegitExchangeFile(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{`C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\owa\auth\logon.aspx`, true},
		{`owa/auth/errorFE.aspx`, true},
		{`OWA\AUTH\ERRORFE.ASPX`, true},
		{`/mnt/x/FrontEnd/HttpProxy/ecp/auth/TimeoutLogout.aspx`, true},
		{`ecp/auth/logon.aspx`, false}, // logon.aspx belongs in owa/auth only
		{`owa/auth/errorFF.aspx`, false},
		{`xowa/auth/logon.aspx`, false}, // component boundary
		{`owa/auth/Current/logon.aspx`, false},
		{`logon.aspx`, false},
	}
	for _, tc := range tests {
		if got := IsLegitExchangeFile(tc.in); got != tc.want {
			t.Errorf("IsLegitExchangeFile(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestNormalizePath(t *testing.T) {
	tests := map[string]string{
		`C:\Inetpub\\wwwroot\X.aspx`: "inetpub/wwwroot/x.aspx",
		`/a//b/`:                     "a/b",
		`owa/auth`:                   "owa/auth",
		``:                           "",
	}
	for in, want := range tests {
		if got := NormalizePath(in); got != want {
			t.Errorf("NormalizePath(%q) = %q, want %q", in, got, want)
		}
	}
}
