package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/exsweep/exsweep/internal/exchange"
	"github.com/exsweep/exsweep/internal/scan"
)

var exportNow = time.Date(2021, 3, 12, 10, 0, 0, 0, time.UTC)

func sampleEndpoints() []Endpoint {
	obs := time.Date(2021, 3, 12, 9, 0, 0, 0, time.UTC)
	vuln := []exchange.CVEState{{ID: "CVE-2021-26855", State: "vulnerable"}, {ID: "CVE-2020-0688", State: "patched"}}
	return []Endpoint{
		{Record: scan.Record{Target: "198.51.100.7:443", IP: "198.51.100.7", Port: 443, Exchange: true, Product: "Exchange 2016",
			CU: "CU19", Build: "15.1.2176.2", BuildExact: true, Verdict: "vulnerable", CVEs: vuln, ObservedAt: obs,
			Evidence:  []scan.Evidence{{Technique: scan.TechFEServer, Value: "EX01"}},
			Webshells: []scan.Webshell{{Path: "/aspnet_client/system_web/x1a2b3c4.aspx", SHA256: strings.Repeat("b", 64)}}},
			ASN: 64500, ASName: "EXAMPLE-AS", Country: "nl", Network: "198.51.100.0/24", AbuseContact: "Abuse@Example.NET"},
		{Record: scan.Record{Target: "[2001:db8::5]:8443", IP: "2001:db8::5", Port: 8443, Exchange: true, Product: "Exchange 2013",
			CU: "CU23", Build: "15.0.1497", Verdict: "vulnerable", CVEs: vuln, ObservedAt: obs}},
		{Record: scan.Record{Target: "192.0.2.9:443", IP: "192.0.2.9", Port: 443, Exchange: true, Verdict: "patched", ObservedAt: obs}},
		{Record: scan.Record{Target: "192.0.2.10:443", IP: "192.0.2.10", Port: 443, Verdict: "not-exchange", ObservedAt: obs}},
	}
}

func export(t *testing.T, format string) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteExport(&b, sampleEndpoints(), format, exportNow); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestShadowserverCSV: the header is Shadowserver's scan_exchange column list and
// the tag follows its form (exchange;webshell / exchange;cve-…), as in the
// 2021 sample in notify.md §2.1.
func TestShadowserverCSV(t *testing.T) {
	rows, err := csv.NewReader(strings.NewReader(export(t, "shadowserver"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split("timestamp,severity,ip,protocol,port,hostname,tag,asn,geo,region,city,naics,hostname_source,sector,version,servername,url", ",")
	if d := cmp.Diff(want, rows[0]); d != "" {
		t.Errorf("header (-want +got):\n%s", d)
	}
	if len(rows) != 3 {
		t.Fatalf("%d data rows, want 2 (patched and non-Exchange endpoints are not exported)", len(rows)-1)
	}
	got := map[string]string{}
	for i, c := range rows[0] {
		got[c] = rows[1][i]
	}
	if got["timestamp"] != "2021-03-12 09:00:00" || got["tag"] != "exchange;webshell;cve-2021-26855" || got["version"] != "15.1.2176.2" ||
		got["servername"] != "EX01" || got["asn"] != "64500" || got["geo"] != "NL" ||
		got["url"] != "https://198.51.100.7/aspnet_client/system_web/x1a2b3c4.aspx" {
		t.Errorf("row: %v", got)
	}
}

var intelmqKey = regexp.MustCompile(`^[a-z_][a-z_0-9]+(\.[a-z_0-9]+)*$`)

func TestIntelMQ(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(export(t, "intelmq")), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d events, want 2", len(lines))
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil {
		t.Fatal(err)
	}
	for k := range ev {
		if !intelmqKey.MatchString(k) {
			t.Errorf("key %q breaks IntelMQ's harmonization key rule", k)
		}
	}
	for k, v := range map[string]any{"source.ip": "198.51.100.7", "source.port": 443.0, "source.asn": 64500.0,
		"classification.type": "system-compromise", "classification.identifier": "exchange-server-webshell",
		"source.abuse_contact": "abuse@example.net", "time.source": "2021-03-12T09:00:00+00:00", "source.geolocation.cc": "NL"} {
		if ev[k] != v {
			t.Errorf("%s = %v, want %v", k, ev[k], v)
		}
	}
	var ev2 map[string]any
	json.Unmarshal([]byte(lines[1]), &ev2)
	if ev2["classification.type"] != "vulnerable-system" || ev2["classification.taxonomy"] != "vulnerable" {
		t.Errorf("vulnerable endpoint classified %v/%v", ev2["classification.taxonomy"], ev2["classification.type"])
	}
}

// TestMISP checks the core-format fields (misp-rfc): categories and types are
// from MISP's lists, the event has its mandatory fields.
func TestMISP(t *testing.T) {
	var doc struct {
		Event struct {
			UUID, Info, Date, ThreatLevelID, Analysis, Distribution string
			Attribute                                               []mispAttribute
		}
	}
	out := export(t, "misp")
	out = strings.NewReplacer(`"threat_level_id"`, `"ThreatLevelID"`).Replace(out)
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	e := doc.Event
	if e.UUID == "" || e.Date != "2021-03-12" || e.ThreatLevelID != "1" || e.Analysis != "2" || e.Distribution != "0" {
		t.Errorf("event header: %+v", e)
	}
	allowed := map[string]string{"ip-dst": "Network activity", "url": "Network activity", "filename": "Payload installation",
		"sha256": "Payload installation", "vulnerability": "External analysis"}
	types := map[string]int{}
	for _, a := range e.Attribute {
		if allowed[a.Type] != a.Category {
			t.Errorf("attribute type %s in category %s", a.Type, a.Category)
		}
		types[a.Type]++
	}
	if d := cmp.Diff(map[string]int{"ip-dst": 2, "url": 1, "filename": 1, "sha256": 1, "vulnerability": 2}, types); d != "" {
		t.Errorf("attributes (-want +got):\n%s", d)
	}
}

var stixIDRe = regexp.MustCompile(`^([a-z0-9-]+)--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestSTIX checks STIX 2.1 common properties (id form, spec_version, SDO
// timestamps), that every reference resolves inside the bundle, and that ids
// are stable across exports.
func TestSTIX(t *testing.T) {
	out := export(t, "stix")
	var b struct {
		Type    string
		ID      string
		Objects []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatal(err)
	}
	if b.Type != "bundle" || !stixIDRe.MatchString(b.ID) {
		t.Fatalf("bundle header %s %s", b.Type, b.ID)
	}
	ids := map[string]bool{}
	kinds := map[string]int{}
	for _, o := range b.Objects {
		id, _ := o["id"].(string)
		m := stixIDRe.FindStringSubmatch(id)
		if m == nil || m[1] != o["type"] || o["spec_version"] != "2.1" {
			t.Errorf("object %v: bad id/type/spec_version", o)
			continue
		}
		ids[id] = true
		kinds[m[1]]++
		switch m[1] {
		case "identity", "vulnerability", "indicator", "relationship":
			for _, k := range []string{"created", "modified"} {
				if _, err := time.Parse(time.RFC3339, o[k].(string)); err != nil {
					t.Errorf("%s: %s not RFC 3339: %v", id, k, o[k])
				}
			}
		}
		if m[1] == "indicator" && !strings.HasPrefix(o["pattern"].(string), "[url:value = '") {
			t.Errorf("indicator pattern %v", o["pattern"])
		}
	}
	for _, o := range b.Objects {
		for _, k := range []string{"source_ref", "target_ref", "created_by_ref"} {
			if ref, ok := o[k].(string); ok && !ids[ref] {
				t.Errorf("%s %s points outside the bundle", k, ref)
			}
		}
	}
	if d := cmp.Diff(map[string]int{"identity": 1, "ipv4-addr": 1, "ipv6-addr": 1, "vulnerability": 1, "relationship": 2, "indicator": 1}, kinds); d != "" {
		t.Errorf("objects (-want +got):\n%s", d)
	}
	if again := export(t, "stix"); again != out {
		t.Error("STIX ids are not stable across exports")
	}
}
