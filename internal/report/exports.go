package report

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/exsweep/exsweep/internal/scan"
)

// Endpoint is a scan record with what is known of its owner, the input of the
// exchange formats CERTs ingest (notify.md §1.2, §2.1, §5).
type Endpoint struct {
	scan.Record
	ASN          uint32
	ASName       string
	Country      string
	Network      string // BGP prefix
	AbuseContact string // comma-separated e-mail addresses
}

// ExportFormats lists the formats of WriteExport.
var ExportFormats = []string{"intelmq", "shadowserver", "misp", "stix"}

// WriteExport writes endpoints in one of ExportFormats. Only Exchange
// endpoints that are vulnerable or carry a web shell are exported: the formats
// describe problems, not inventories.
func WriteExport(w io.Writer, eps []Endpoint, format string, now time.Time) error {
	var probs []Endpoint
	for _, e := range eps {
		if e.Exchange && (e.Verdict == scan.VerdictVulnerable || len(e.Webshells) > 0) {
			probs = append(probs, e)
		}
	}
	switch format {
	case "intelmq":
		return intelMQ(w, probs, now)
	case "shadowserver":
		return shadowserverCSV(w, probs)
	case "misp":
		return mispEvent(w, probs, now)
	case "stix":
		return stixBundle(w, probs, now)
	}
	return fmt.Errorf("unknown export format %q: want %s", format, strings.Join(ExportFormats, ", "))
}

func vulnCVEs(r scan.Record) []string {
	var out []string
	for _, c := range r.CVEs {
		if c.State == scan.VerdictVulnerable {
			out = append(out, c.ID)
		}
	}
	return out
}

// classification follows IntelMQ's Shadowserver mapping for scan_exchange: a
// web shell is a system compromise, otherwise a vulnerable system.
func classification(e Endpoint) (taxonomy, typ, identifier string) {
	if len(e.Webshells) > 0 {
		return "intrusions", "system-compromise", "exchange-server-webshell"
	}
	return "vulnerable", "vulnerable-system", "vulnerable-exchange-server"
}

func shellURL(e Endpoint, p string) string {
	host := e.Hostname
	if host == "" {
		host = e.IP
		if a, err := netip.ParseAddr(e.IP); err == nil && a.Is6() {
			host = "[" + e.IP + "]"
		}
	}
	if e.Port != 443 {
		host += ":" + strconv.Itoa(e.Port)
	}
	return "https://" + host + p
}

// intelMQ writes one IntelMQ event (harmonization field names) per line.
func intelMQ(w io.Writer, eps []Endpoint, now time.Time) error {
	enc := json.NewEncoder(w)
	for _, e := range eps {
		tax, typ, id := classification(e)
		ev := map[string]any{
			"feed.name":                 "exsweep",
			"feed.provider":             "exsweep",
			"time.source":               e.ObservedAt.UTC().Format("2006-01-02T15:04:05+00:00"),
			"time.observation":          now.UTC().Format("2006-01-02T15:04:05+00:00"),
			"source.ip":                 e.IP,
			"source.port":               e.Port,
			"protocol.application":      "exchange",
			"protocol.transport":        "tcp",
			"classification.taxonomy":   tax,
			"classification.type":       typ,
			"classification.identifier": id,
			"extra.version":             e.Build,
			"extra.product":             e.Product,
			"extra.cu":                  e.CU,
			"extra.build_exact":         e.BuildExact,
		}
		if e.Hostname != "" {
			ev["source.fqdn"] = e.Hostname
		}
		if e.ASN > 0 {
			ev["source.asn"] = e.ASN
		}
		if e.ASName != "" {
			ev["source.as_name"] = e.ASName
		}
		if e.Network != "" {
			ev["source.network"] = e.Network
		}
		if e.Country != "" {
			ev["source.geolocation.cc"] = strings.ToUpper(e.Country)
		}
		if e.AbuseContact != "" {
			ev["source.abuse_contact"] = strings.ToLower(e.AbuseContact)
		}
		if cves := vulnCVEs(e.Record); len(cves) > 0 {
			ev["extra.cve"] = cves
			ev["product.vulnerabilities"] = strings.ToLower(strings.Join(cves, ","))
		}
		if len(e.Webshells) > 0 {
			ev["source.url"] = shellURL(e, e.Webshells[0].Path)
			ev["malware.hash.sha256"] = e.Webshells[0].SHA256
		}
		if err := enc.Encode(ev); err != nil {
			return err
		}
	}
	return nil
}

// shadowserverColumns are the current scan_exchange columns (report_schema
// reports.json), so Shadowserver consumers parse our file unchanged.
var shadowserverColumns = []string{"timestamp", "severity", "ip", "protocol", "port", "hostname", "tag", "asn", "geo",
	"region", "city", "naics", "hostname_source", "sector", "version", "servername", "url"}

func shadowserverCSV(w io.Writer, eps []Endpoint) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(shadowserverColumns); err != nil {
		return err
	}
	for _, e := range eps {
		tags := []string{"exchange"}
		url := ""
		if len(e.Webshells) > 0 {
			tags = append(tags, "webshell")
			url = shellURL(e, e.Webshells[0].Path)
		}
		for _, c := range vulnCVEs(e.Record) {
			tags = append(tags, strings.ToLower(c))
		}
		asn := ""
		if e.ASN > 0 {
			asn = strconv.FormatUint(uint64(e.ASN), 10)
		}
		server := ""
		for _, ev := range e.Evidence {
			if ev.Technique == scan.TechFEServer {
				server = ev.Value
				break
			}
		}
		if err := cw.Write([]string{e.ObservedAt.UTC().Format("2006-01-02 15:04:05"), "critical", e.IP, "tcp", strconv.Itoa(e.Port),
			csvSafe(e.Hostname), strings.Join(tags, ";"), asn, strings.ToUpper(e.Country), "", "", "", "", "", e.Build,
			csvSafe(server), csvSafe(url)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

type mispAttribute struct {
	Category string `json:"category"`
	Type     string `json:"type"`
	Value    string `json:"value"`
	ToIDS    bool   `json:"to_ids"`
	Comment  string `json:"comment,omitempty"`
}

// mispEvent writes one MISP event (core format) holding every endpoint.
func mispEvent(w io.Writer, eps []Endpoint, now time.Time) error {
	var attrs []mispAttribute
	shells := 0
	for _, e := range eps {
		attrs = append(attrs, mispAttribute{Category: "Network activity", Type: "ip-dst", Value: e.IP,
			Comment: fmt.Sprintf("%s %s build %s port %d", e.Product, e.CU, e.Build, e.Port)})
		for _, s := range e.Webshells {
			shells++
			attrs = append(attrs,
				mispAttribute{Category: "Network activity", Type: "url", Value: shellURL(e, s.Path), ToIDS: true},
				mispAttribute{Category: "Payload installation", Type: "filename", Value: path.Base(s.Path)},
				mispAttribute{Category: "Payload installation", Type: "sha256", Value: s.SHA256, ToIDS: true})
		}
		for _, c := range vulnCVEs(e.Record) {
			attrs = append(attrs, mispAttribute{Category: "External analysis", Type: "vulnerability", Value: c, Comment: e.IP})
		}
	}
	info := fmt.Sprintf("exsweep: %d vulnerable or compromised Exchange endpoints", len(eps))
	threat := "2" // medium
	if shells > 0 {
		info = fmt.Sprintf("exsweep: %d Exchange endpoints, %d web shells observed", len(eps), shells)
		threat = "1"
	}
	ev := map[string]any{"Event": map[string]any{
		"uuid": uuid.New().String(), "info": info, "date": now.UTC().Format("2006-01-02"),
		"threat_level_id": threat, "analysis": "2", "distribution": "0", "published": false,
		"Attribute": attrs,
	}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(ev)
}

// stixID makes a deterministic STIX id: the same endpoint and object give the
// same id in every export (UUIDv5 from a fixed namespace), so re-exports dedupe.
func stixID(kind, key string) string {
	ns := uuid.MustParse("6f3a1d7e-2c1b-4f6a-9a7e-3b5c1e0d2f10")
	return kind + "--" + uuid.NewSHA1(ns, []byte(kind+"|"+key)).String()
}

// stixBundle writes a STIX 2.1 bundle: an identity for exsweep, per endpoint
// an ipv4/ipv6-addr, a vulnerability per CVE with a relationship, and an
// indicator for each web-shell URL.
func stixBundle(w io.Writer, eps []Endpoint, now time.Time) error {
	ts := now.UTC().Format("2006-01-02T15:04:05.000Z")
	identity := stixID("identity", "exsweep")
	objects := []map[string]any{{
		"type": "identity", "spec_version": "2.1", "id": identity, "created": ts, "modified": ts,
		"name": "exsweep", "identity_class": "system",
	}}
	seenVuln := map[string]bool{}
	for _, e := range eps {
		addrType := "ipv4-addr"
		if a, err := netip.ParseAddr(e.IP); err == nil && a.Is6() {
			addrType = "ipv6-addr"
		}
		addr := stixID(addrType, e.IP)
		objects = append(objects, map[string]any{"type": addrType, "spec_version": "2.1", "id": addr, "value": e.IP})
		for _, c := range vulnCVEs(e.Record) {
			vid := stixID("vulnerability", c)
			if !seenVuln[c] {
				seenVuln[c] = true
				objects = append(objects, map[string]any{"type": "vulnerability", "spec_version": "2.1", "id": vid,
					"created": ts, "modified": ts, "name": c, "created_by_ref": identity,
					"external_references": []map[string]string{{"source_name": "cve", "external_id": c}}})
			}
			objects = append(objects, map[string]any{"type": "relationship", "spec_version": "2.1",
				"id": stixID("relationship", e.IP+"|"+c), "created": ts, "modified": ts, "created_by_ref": identity,
				"relationship_type": "related-to", "source_ref": vid, "target_ref": addr,
				"description": fmt.Sprintf("%s:%d runs %s %s (build %s), vulnerable to %s", e.IP, e.Port, e.Product, e.CU, e.Build, c)})
		}
		for _, s := range e.Webshells {
			u := shellURL(e, s.Path)
			objects = append(objects, map[string]any{"type": "indicator", "spec_version": "2.1",
				"id": stixID("indicator", u), "created": ts, "modified": ts, "created_by_ref": identity,
				"indicator_types": []string{"compromised"}, "pattern_type": "stix",
				"pattern":    "[url:value = '" + strings.ReplaceAll(strings.ReplaceAll(u, `\`, `\\`), `'`, `\'`) + "']",
				"valid_from": e.ObservedAt.UTC().Format("2006-01-02T15:04:05Z"),
				"name":       "Exchange web shell " + path.Base(s.Path)})
		}
	}
	h := sha256.New()
	for _, o := range objects {
		fmt.Fprint(h, o["id"])
	}
	bundle := map[string]any{"type": "bundle", "id": "bundle--" + uuid.NewSHA1(uuid.NameSpaceOID, h.Sum(nil)).String(), "objects": objects}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(bundle)
}
