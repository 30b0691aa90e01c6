package lab

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// truthRow is the part of an Expectation the table pins down.
type truthRow struct {
	Exchange, Reachable, Exact bool
	Product, Build, CU, Update string
	Match, Verdict, Source     string
	Installed                  string
	Webshells                  []string
	Note                       bool // a Note explains an invisible installed build
}

func rowOf(e Expectation) truthRow {
	return truthRow{
		Exchange: e.Exchange, Reachable: e.Reachable, Exact: e.BuildExact,
		Product: e.Product, Build: e.Build, CU: e.CU, Update: e.Update,
		Match: e.Match, Verdict: e.Verdict, Source: e.Source, Installed: e.Installed,
		Webshells: e.Webshells, Note: e.Note != "",
	}
}

// TestExpect pins the truth rules (see Expectation) on one case each. Verdicts
// come from the embedded knowledge base: a build from before the later 2021 CVEs
// is vulnerable even with the March 2021 SU.
func TestExpect(t *testing.T) {
	ex := func(product, build, cu, update, match, verdict, source, installed string, exact bool) truthRow {
		return truthRow{Exchange: true, Reachable: true, Exact: exact, Product: product, Build: build, CU: cu,
			Update: update, Match: match, Verdict: verdict, Source: source, Installed: installed}
	}
	withNote := func(r truthRow) truthRow { r.Note = true; return r }
	withShells := func(r truthRow, s ...string) truthRow { r.Webshells = s; return r }
	tests := []struct {
		name string
		s    Server
		want truthRow
	}{
		{"a: manifest shows the build",
			Server{Build: "15.1.2176.9"},
			ex("Exchange 2016", "15.1.2176.9", "CU19", "Mar21SU", "exact", "vulnerable", SourceManifest, "15.1.2176.9", true)},
		{"a: manifest kept at the CU, ECP folder confirms the SU",
			Server{Build: "15.1.2176.9", ManifestAtCU: true, HeaderMode: HeaderStripped},
			ex("Exchange 2016", "15.1.2176.9", "CU19", "Mar21SU", "exact", "vulnerable", SourceECPFolder, "15.1.2176.9", true)},
		{"a: ECP published beats an X-OWA-Version below the CU",
			Server{Build: "15.2.858.5", OWAVersion: "15.2.858.2"},
			ex("Exchange 2019", "15.2.858.5", "CU9", "", "exact", "vulnerable", SourceManifest, "15.2.858.5", true)},
		{"b: 2019 CU9 header below the CU, ECP blocked",
			Server{Build: "15.2.858.5", OWAVersion: "15.2.858.2", ECP: ECP403},
			withNote(ex("Exchange 2019", "15.2.858.2", "CU9", "", "below-cu", "vulnerable", SourceHeader, "15.2.858.5", true))},
		{"b: header, ECP not published",
			Server{Build: "15.0.1497.12", HeaderMode: HeaderLowercase, ECP: ECP404},
			ex("Exchange 2013", "15.0.1497.12", "CU23", "Mar21SU", "exact", "vulnerable", SourceHeader, "15.0.1497.12", true)},
		{"b: long-form header is normalised",
			Server{Build: "15.2.792.10", HeaderMode: HeaderLongForm, ECP: ECP403},
			ex("Exchange 2019", "15.2.792.10", "CU8", "Mar21SU", "exact", "vulnerable", SourceHeader, "15.2.792.10", true)},
		{"b: unknown build, manifest at CU: only the manifest is visible",
			Server{Build: "15.1.2176.10", ManifestAtCU: true, HeaderMode: HeaderStripped},
			withNote(ex("Exchange 2016", "15.1.2176.2", "CU19", "", "exact", "vulnerable", SourceManifest, "15.1.2176.10", true))},
		{"b: unknown build, manifest at CU, header shows the build",
			Server{Build: "15.1.2176.10", ManifestAtCU: true},
			ex("Exchange 2016", "15.1.2176.10", "CU19", "Mar21SU", "interim", "vulnerable", SourceHeader, "15.1.2176.10", true)},
		{"b: unknown interim build from the manifest",
			Server{Build: "15.1.2242.5", HeaderMode: HeaderStripped},
			ex("Exchange 2016", "15.1.2242.5", "CU20", "", "interim", "vulnerable", SourceManifest, "15.1.2242.5", true)},
		{"b: 2010 header and 4-part path",
			Server{Build: "14.3.513.0"},
			ex("Exchange 2010", "14.3.513.0", "SP3", "RU32", "exact", "patched", SourceHeader, "14.3.513.0", true)},
		{"b: 2010 path only, OWA folder below SP3",
			Server{Build: "14.3.123.4", OWAVersion: "14.3.123.3", HeaderMode: HeaderStripped},
			withNote(ex("Exchange 2010", "14.3.123.3", "SP3", "", "below-cu", "vulnerable", SourceOWAPath4, "14.3.123.4", true))},
		{"b: hidden path, header present",
			Server{Build: "15.1.2044.4", HidePath: true, ECP: ECP404},
			ex("Exchange 2016", "15.1.2044.4", "CU17", "", "exact", "vulnerable", SourceHeader, "15.1.2044.4", true)},
		{"b: off-site OWA redirect, manifest still there",
			Server{Build: "15.2.792.3", Redirect: RedirectOffsite, HeaderMode: HeaderStripped},
			ex("Exchange 2019", "15.2.792.3", "CU8", "", "exact", "vulnerable", SourceManifest, "15.2.792.3", true)},
		{"c: CU from the logon page",
			Server{Build: "15.0.1497.2", HeaderMode: HeaderStripped, ECP: ECP404},
			ex("Exchange 2013", "15.0.1497", "CU23", "", "cu-only", "undetermined", SourceOWAPath3, "15.0.1497.2", false)},
		{"c: empty header is no header",
			Server{Build: "15.1.2106.13", HeaderMode: HeaderEmpty, ECP: ECP403},
			ex("Exchange 2016", "15.1.2106", "CU18", "", "cu-only", "vulnerable", SourceOWAPath3, "15.1.2106.13", false)},
		{"c: huge body still shows the CU",
			Server{Build: "15.1.2176.2", HugeBody: true, HeaderMode: HeaderStripped, ECP: ECP404},
			ex("Exchange 2016", "15.1.2176", "CU19", "", "cu-only", "vulnerable", SourceOWAPath3, "15.1.2176.2", false)},
		{"d: hidden path, no header, ECP blocked",
			Server{Build: "15.2.721.2", HidePath: true, HeaderMode: HeaderStripped, ECP: ECP403},
			truthRow{Exchange: true, Reachable: true, Verdict: "undetermined", Source: SourceFEServer, Installed: "15.2.721.2", Note: true}},
		{"d: redirect loop, no header, ECP blocked",
			Server{Build: "15.1.2176.2", Redirect: RedirectLoop, HeaderMode: HeaderStripped, ECP: ECP404},
			truthRow{Exchange: true, Reachable: true, Verdict: "undetermined", Source: SourceFEServer, Installed: "15.1.2176.2", Note: true}},
		{"web shells behind blocked ECP are not visible",
			Server{Build: "15.0.1497.2", ECP: ECP403, Webshells: []string{"/ecp/auth/help.aspx", "/aspnet_client/shell.aspx"}},
			withShells(ex("Exchange 2013", "15.0.1497.2", "CU23", "", "exact", "vulnerable", SourceHeader, "15.0.1497.2", true), "/aspnet_client/shell.aspx")},
		{"Exchange SE",
			Server{Build: "15.2.2562.17"},
			ex("Exchange SE", "15.2.2562.17", "RTM", "", "exact", "patched", SourceManifest, "15.2.2562.17", true)},
		{"plain IIS with a web shell",
			Server{Kind: KindPlainIIS, Webshells: []string{"/aspnet_client/system_web/web.aspx"}},
			truthRow{Reachable: true, Verdict: VerdictNotExchange, Webshells: []string{"/aspnet_client/system_web/web.aspx"}}},
		{"catch-all 200", Server{Kind: KindCatchAll200}, truthRow{Reachable: true, Verdict: VerdictNotExchange}},
		{"nginx", Server{Kind: KindNginx}, truthRow{Reachable: true, Verdict: VerdictNotExchange}},
		{"tarpit", Server{Kind: KindTarpit}, truthRow{Verdict: VerdictUnreachable}},
		{"reset", Server{Kind: KindReset}, truthRow{Verdict: VerdictUnreachable}},
		{"garbage", Server{Kind: KindGarbage}, truthRow{Verdict: VerdictUnreachable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Expect(tt.s)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, rowOf(e)); diff != "" {
				t.Errorf("truth (-want +got):\n%s\nnote: %s", diff, e.Note)
			}
		})
	}
}

// TestExpectFlags: the fields that describe how to reach the server.
func TestExpectFlags(t *testing.T) {
	e, err := Expect(Server{Build: "15.2.792.3", WAF: true, ExpiredCert: true, HostileStrings: true, FEServer: "EX19"})
	if err != nil {
		t.Fatal(err)
	}
	got := struct {
		WAF, Expired, TLS10 bool
		FE, CN              string
		Modes               []string
	}{e.NeedsBrowserUA, e.CertExpired, e.TLS10Only, e.FEServer, e.CertCN, e.Modes}
	want := struct {
		WAF, Expired, TLS10 bool
		FE, CN              string
		Modes               []string
	}{true, true, false, HostileFEServer, "mail<script>alert(1)</script>\x1b[31m\x07.invalid",
		[]string{ModeExchange2019, ModeWAF, ModeExpiredCert, ModeHostileStrings}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestValidate lists configs Start must refuse.
func TestValidate(t *testing.T) {
	bad := map[string]Server{
		"no build":                  {},
		"3-part build":              {Build: "15.1.2176"},
		"2007":                      {Build: "8.3.485.1"},
		"owa of another CU":         {Build: "15.1.2176.9", OWAVersion: "15.1.2242.4"},
		"manifest of another CU":    {Build: "15.1.2176.9", ManifestVersion: "15.1.2242.4"},
		"manifest contradicts":      {Build: "15.1.2176.9", ManifestVersion: "15.1.2176.4", ManifestAtCU: true},
		"2010 manifest":             {Build: "14.3.513.0", ManifestAtCU: true},
		"2010 redirect":             {Build: "14.3.513.0", Redirect: RedirectLoop},
		"bad header mode":           {Build: "15.1.2176.9", HeaderMode: "weird"},
		"bad ecp":                   {Build: "15.1.2176.9", ECP: "500"},
		"bad kind":                  {Kind: "apache"},
		"tarpit with tls":           {Kind: KindTarpit, TLS10Only: true},
		"shell on catch-all":        {Kind: KindCatchAll200, Webshells: []string{"/x.aspx"}},
		"shell without slash":       {Build: "15.1.2176.9", Webshells: []string{"x.aspx"}},
		"shell not aspx":            {Build: "15.1.2176.9", Webshells: []string{"/x.php"}},
		"shell on logon page":       {Build: "15.1.2176.9", Webshells: []string{"/owa/auth/Logon.aspx"}},
		"shell twice":               {Build: "15.1.2176.9", Webshells: []string{"/a.aspx", "/A.aspx"}},
		"huge body on iis":          {Kind: KindPlainIIS, HugeBody: true},
		"negative page size":        {Build: "15.1.2176.9", LogonPageSize: -1},
		"hostname typo as build":    {Build: "mail.contoso.com"},
		"manifest-at-cu unknown CU": {Build: "15.1.9999.1", ManifestAtCU: true},
	}
	for name, s := range bad {
		if err := s.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
