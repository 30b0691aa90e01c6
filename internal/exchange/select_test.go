package exchange

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSelectCVEs(t *testing.T) {
	kb := Default()
	tests := []struct {
		spec    string
		want    []string
		wantErr bool
	}{
		{spec: "", want: nil},
		{spec: "all", want: nil},
		{spec: " ALL ", want: nil},
		{spec: "proxylogon", want: []string{"CVE-2021-26855", "CVE-2021-26857", "CVE-2021-26858", "CVE-2021-27065"}},
		{spec: "ProxyLogon,cve-2021-26855,", want: []string{"CVE-2021-26855", "CVE-2021-26857", "CVE-2021-26858", "CVE-2021-27065"}},
		{spec: "proxynotshell, CVE-2020-0688", want: []string{"CVE-2020-0688", "CVE-2022-41040", "CVE-2022-41082"}},
		{spec: "CVE-2021-99999", wantErr: true},
		{spec: "proxylogin", wantErr: true},
		{spec: "all,proxylogon", wantErr: true},
	}
	for _, tt := range tests {
		got, err := kb.SelectCVEs(tt.spec)
		if (err != nil) != tt.wantErr {
			t.Errorf("SelectCVEs(%q) error = %v; want error %v", tt.spec, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("SelectCVEs(%q) (-want +got):\n%s", tt.spec, diff)
		}
	}
}

// TestOnlyDecidesOnTheSelection: Exchange 2016 CU19 with the March 2021
// update is patched for ProxyLogon but vulnerable to later CVEs; the
// verdict follows the selection.
func TestOnlyDecidesOnTheSelection(t *testing.T) {
	kb := Default()
	v := MustParse("15.1.2176.9") // 2016 CU19 Mar21SU
	r := kb.Lookup(v, time.Date(2021, 3, 10, 0, 0, 0, 0, time.UTC))
	if got := r.Verdict(); got != StateVulnerable {
		t.Fatalf("all CVEs: verdict %s; want vulnerable", got)
	}
	pl, _ := kb.SelectCVEs("proxylogon")
	only := r.Only(pl)
	if got := only.Verdict(); got != StatePatched {
		t.Errorf("proxylogon: verdict %s; want patched (%+v)", got, only.CVEs)
	}
	if len(only.CVEs) != 4 {
		t.Errorf("proxylogon: %d CVE states; want 4", len(only.CVEs))
	}
	ps, _ := kb.SelectCVEs("proxyshell")
	if got := r.Only(ps).Verdict(); got != StateVulnerable {
		t.Errorf("proxyshell: verdict %s; want vulnerable", got)
	}
	if got := len(r.Only(nil).CVEs); got != len(r.CVEs) {
		t.Errorf("Only(nil) kept %d of %d CVEs", got, len(r.CVEs))
	}
}
