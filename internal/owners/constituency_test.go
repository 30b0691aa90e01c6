package owners

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ruleList renders every rule of a constituency as "kind key -> org @ source",
// sorted, so tests can compare whole constituencies.
func ruleList(c *Constituency) []string {
	var out []string
	for p, r := range c.prefixes.All() {
		out = append(out, fmt.Sprintf("prefix %s -> %s @ %s", p, r.org.Name, r.source))
	}
	for d, r := range c.domains {
		out = append(out, fmt.Sprintf("domain %s -> %s @ %s", d, r.org.Name, r.source))
	}
	for a, r := range c.asns {
		out = append(out, fmt.Sprintf("asn AS%d -> %s @ %s", a, r.org.Name, r.source))
	}
	sort.Strings(out)
	return out
}

func stripSources(rules []string) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r[:strings.LastIndex(r, " @ ")]
	}
	return out
}

func parseOne(t *testing.T, name string, f Format, text string) (*Constituency, error) {
	t.Helper()
	return ParseConstituency(Source{Name: name, Format: f, Reader: strings.NewReader(text)})
}

func lineErrors(t *testing.T, err error) []LineError {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	out := make([]LineError, len(ve.Errors))
	for i, e := range ve.Errors {
		out[i] = *e
	}
	return out
}

func TestExampleFiles(t *testing.T) {
	y, err := LoadConstituency("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadConstituency("testdata/example.csv")
	if err != nil {
		t.Fatal(err)
	}
	wantOrgs := []*Org{
		{Key: "example hosting gmbh", Name: "Example Hosting GmbH", To: []string{"abuse@example.net"}, CC: []string{"soc@example.net"}, Language: "de"},
		{Key: "example university", Name: "Example University", To: []string{"cert@example.edu"}, Language: "en"},
		{Key: "example city council", Name: "Example City Council", To: []string{"it-security@example.org"}, CC: []string{"abuse@example.net"}},
	}
	if diff := cmp.Diff(wantOrgs, y.Orgs()); diff != "" {
		t.Errorf("yaml orgs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantOrgs, c.Orgs()); diff != "" {
		t.Errorf("csv orgs (-want +got):\n%s", diff)
	}
	wantYAML := []string{
		"asn AS64500 -> Example Hosting GmbH @ testdata/example.yaml:19",
		"domain example.edu -> Example University @ testdata/example.yaml:25",
		"domain example.org -> Example City Council @ testdata/example.yaml:31",
		"prefix 192.0.2.0/24 -> Example Hosting GmbH @ testdata/example.yaml:16",
		"prefix 192.0.2.128/25 -> Example City Council @ testdata/example.yaml:30",
		"prefix 198.51.100.0/24 -> Example University @ testdata/example.yaml:24",
		"prefix 2001:db8:100::/40 -> Example Hosting GmbH @ testdata/example.yaml:18",
		"prefix 203.0.113.0/24 -> Example Hosting GmbH @ testdata/example.yaml:17",
	}
	if diff := cmp.Diff(wantYAML, ruleList(y)); diff != "" {
		t.Errorf("yaml rules (-want +got):\n%s", diff)
	}
	wantCSV := []string{
		"asn AS64500 -> Example Hosting GmbH @ testdata/example.csv:7",
		"domain example.edu -> Example University @ testdata/example.csv:8",
		"domain example.org -> Example City Council @ testdata/example.csv:9",
		"prefix 192.0.2.0/24 -> Example Hosting GmbH @ testdata/example.csv:7",
		"prefix 192.0.2.128/25 -> Example City Council @ testdata/example.csv:9",
		"prefix 198.51.100.0/24 -> Example University @ testdata/example.csv:8",
		"prefix 2001:db8:100::/40 -> Example Hosting GmbH @ testdata/example.csv:10",
		"prefix 203.0.113.0/24 -> Example Hosting GmbH @ testdata/example.csv:7",
	}
	if diff := cmp.Diff(wantCSV, ruleList(c)); diff != "" {
		t.Errorf("csv rules (-want +got):\n%s", diff)
	}
	// The two example files describe the same constituency.
	if diff := cmp.Diff(stripSources(ruleList(y)), stripSources(ruleList(c))); diff != "" {
		t.Errorf("yaml and csv examples differ (-yaml +csv):\n%s", diff)
	}
}

func TestParseYAMLForms(t *testing.T) {
	// Scalars for lists, block lists, numeric ASNs, display names, case,
	// trailing dots and bare addresses are all accepted and normalised.
	in := `organisations:
- name: "  Spaced Org  "
  to: Abuse Desk <Abuse@Example.NET>
  cc:
    - soc@example.net
    - SOC@example.net
  language: pt_br
  cidrs: 192.0.2.7
  asns:
    - 64500
    - as64501
  domains: Mail.Example.ORG.
- name: Empty Lists
  to: [x@example.com]
  cc:
  cidrs: []
  domains: ~
`
	c, err := parseOne(t, "c.yaml", FormatYAML, in)
	if err != nil {
		t.Fatal(err)
	}
	wantOrgs := []*Org{
		{Key: "spaced org", Name: "Spaced Org", To: []string{"abuse@example.net"}, CC: []string{"soc@example.net"}, Language: "pt-br"},
		{Key: "empty lists", Name: "Empty Lists", To: []string{"x@example.com"}},
	}
	if diff := cmp.Diff(wantOrgs, c.Orgs()); diff != "" {
		t.Errorf("orgs (-want +got):\n%s", diff)
	}
	want := []string{
		"asn AS64500 -> Spaced Org @ c.yaml:10",
		"asn AS64501 -> Spaced Org @ c.yaml:11",
		"domain mail.example.org -> Spaced Org @ c.yaml:12",
		"prefix 192.0.2.7/32 -> Spaced Org @ c.yaml:8",
	}
	if diff := cmp.Diff(want, ruleList(c)); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
}

func TestYAMLErrors(t *testing.T) {
	const org = "organisations:\n- name: A\n  to: a@example.com\n"
	tests := []struct {
		name string
		in   string
		want []LineError
	}{
		{"empty file", "", []LineError{{"c.yaml", 0, `empty file (want a top-level "organisations:" list)`}}},
		{"comment only", "# nothing\n", []LineError{{"c.yaml", 0, `empty file (want a top-level "organisations:" list)`}}},
		// yaml.v3 reports the line where the unclosed flow list's context
		// starts, which for this input is one line early; we pass it on.
		{"syntax", "organisations:\n- name: A\n  to: [a@example.com\n", []LineError{{"c.yaml", 2, "YAML: did not find expected ',' or ']'"}}},
		{"bad indentation", "organisations:\n- name: A\n  to: a@example.com\n   cc: b@example.com\n", []LineError{{"c.yaml", 4, "YAML: mapping values are not allowed in this context"}}},
		{"top level list", "- name: A\n", []LineError{{"c.yaml", 1, `top level must be a mapping with an "organisations:" list`}}},
		{"unknown top key", "orgs: []\n", []LineError{
			{"c.yaml", 1, `unknown key "orgs" (want "organisations")`},
			{"c.yaml", 1, `missing "organisations:" list`},
		}},
		{"both spellings", "organisations: []\norganizations: []\n", []LineError{{"c.yaml", 2, `both "organisations" and "organizations"; use one`}}},
		{"not a list", "organisations: {name: A}\n", []LineError{{"c.yaml", 1, `"organisations" must be a list`}}},
		{"org not a mapping", "organisations:\n- just a string\n", []LineError{{"c.yaml", 2, "organisation must be a mapping with name, to, ..."}}},
		{"unknown org key", org + "  cidr: 192.0.2.0/24\n", []LineError{{"c.yaml", 4, `unknown key "cidr" (want name, to, cc, language, cidrs, asns, domains)`}}},
		{"repeated key", org + "  to: b@example.com\n", []LineError{{"c.yaml", 4, `key "to" repeated (first at line 3)`}}},
		{"no name", "organisations:\n- to: a@example.com\n", []LineError{{"c.yaml", 2, "organisation has no name"}}},
		{"empty name", "organisations:\n- name: \"\"\n  to: a@example.com\n", []LineError{{"c.yaml", 2, "name is empty"}}},
		{"long name", "organisations:\n- name: " + strings.Repeat("n", 201) + "\n  to: a@example.com\n", []LineError{{"c.yaml", 2, "name is longer than 200 bytes"}}},
		{"control char in name", "organisations:\n- name: \"A\\x07B\"\n  to: a@example.com\n", []LineError{{"c.yaml", 2, "name contains a control character"}}},
		{"name is a list", "organisations:\n- name: [A]\n  to: a@example.com\n", []LineError{{"c.yaml", 2, "name must be a single value"}}},
		{"no to", "organisations:\n- name: A\n  cc: a@example.com\n", []LineError{{"c.yaml", 2, `organisation "A" has no "to" address`}}},
		{"empty to", "organisations:\n- name: A\n  to: []\n", []LineError{{"c.yaml", 2, `organisation "A" has no "to" address`}}},
		{"bad email", "organisations:\n- name: A\n  to: [a@example.com, not-an-address]\n", []LineError{{"c.yaml", 3, `to: invalid e-mail address "not-an-address": missing '@' or angle-addr`}}},
		{"dotless email domain", "organisations:\n- name: A\n  to: root@localhost\n", []LineError{{"c.yaml", 3, `to: invalid e-mail address "root@localhost": domain "localhost" has no dot`}}},
		{"non-ascii email", "organisations:\n- name: A\n  to: a@example.com\n  cc: [\"büro@example.com\"]\n", []LineError{{"c.yaml", 4, `cc: invalid e-mail address "büro@example.com": non-ASCII address`}}},
		{"too many addresses", "organisations:\n- name: A\n  to: [" + manyAddrs(33) + "]\n", []LineError{{"c.yaml", 3, "to: more than 32 addresses"}}},
		{"bad language", org + "  language: english\n", []LineError{{"c.yaml", 4, `invalid language "english" (want a tag like en, de or pt-BR)`}}},
		{"bad cidr", org + "  cidrs:\n  - 192.0.2.0/24\n  - 192.0.2.0/33\n", []LineError{{"c.yaml", 6, `invalid CIDR "192.0.2.0/33"`}}},
		{"host bits", org + "  cidrs: [192.0.2.1/24]\n", []LineError{{"c.yaml", 4, `CIDR "192.0.2.1/24" has host bits set (did you mean 192.0.2.0/24?)`}}},
		{"4in6", org + "  cidrs: [\"::ffff:192.0.2.0/120\"]\n", []LineError{{"c.yaml", 4, `invalid CIDR "::ffff:192.0.2.0/120": IPv4-mapped IPv6, write the IPv4 form`}}},
		{"nested list", org + "  cidrs: [[192.0.2.0/24]]\n", []LineError{{"c.yaml", 4, "cidrs: entries must be single values"}}},
		{"cidrs mapping", org + "  cidrs: {a: b}\n", []LineError{{"c.yaml", 4, "cidrs must be a list"}}},
		{"bad asn", org + "  asns: [AS0, ASX, 23456, 4294967296]\n", []LineError{
			{"c.yaml", 4, `AS number "AS0" does not identify a network`},
			{"c.yaml", 4, `invalid AS number "ASX"`},
			{"c.yaml", 4, `AS number "23456" does not identify a network`},
			{"c.yaml", 4, `invalid AS number "4294967296"`},
		}},
		{"bad domains", org + "  domains:\n  - \"*.example.org\"\n  - localhost\n  - exa_mple.org\n  - -bad.example.org\n  - 192.0.2.1\n  - ex@mple.org\n", []LineError{
			{"c.yaml", 5, `domain "*.example.org": write "example.org", subdomains are included`},
			{"c.yaml", 6, `domain "localhost" has no dot`},
			{"c.yaml", 8, `domain "-bad.example.org": label "-bad" starts or ends with '-'`},
			{"c.yaml", 9, `domain "192.0.2.1" looks like an IP address; list it under cidrs`},
			{"c.yaml", 10, `domain "ex@mple.org": invalid character '@' (use punycode for IDNs)`},
		}},
		{"merge key", "base: &b {to: a@example.com}\norganisations:\n- name: A\n  <<: *b\n", []LineError{
			{"c.yaml", 1, `unknown key "base" (want "organisations")`},
			{"c.yaml", 4, "unsupported key (anchors, aliases and merge keys are not supported)"},
			{"c.yaml", 3, `organisation "A" has no "to" address`},
		}},
		{"two documents", org + "---\n" + org, []LineError{{"c.yaml", 4, `more than one YAML document (remove the "---")`}}},
		{"duplicate org", org + "- name: a\n  to: b@example.com\n", []LineError{{"c.yaml", 4, `organisation "a" is already defined at c.yaml:2`}}},
		{"same prefix twice in one org", org + "  cidrs: [192.0.2.0/24, 192.0.2.0/24]\n", []LineError{{"c.yaml", 4, "prefix 192.0.2.0/24 is already claimed by the same organisation at c.yaml:4"}}},
		{"prefix tie", org + "  cidrs: [192.0.2.0/24]\n- name: B\n  to: b@example.com\n  cidrs:\n  - 192.0.2.0/24\n", []LineError{{"c.yaml", 8, `prefix 192.0.2.0/24 is already claimed by "A" at c.yaml:4`}}},
		{"prefix tie written differently", org + "  cidrs: [\"2001:db8::/32\"]\n- name: B\n  to: b@example.com\n  cidrs: [\"2001:0DB8:0::/32\"]\n", []LineError{{"c.yaml", 7, `prefix 2001:db8::/32 is already claimed by "A" at c.yaml:4`}}},
		{"domain tie", org + "  domains: [example.org]\n- name: B\n  to: b@example.com\n  domains: [EXAMPLE.org.]\n", []LineError{{"c.yaml", 7, `domain example.org is already claimed by "A" at c.yaml:4`}}},
		{"asn tie", org + "  asns: [64500]\n- name: B\n  to: b@example.com\n  asns: [AS64500]\n", []LineError{{"c.yaml", 7, `AS64500 is already claimed by "A" at c.yaml:4`}}},
		{"long line", org + "  cc: [" + strings.Repeat("x", MaxConstituencyLine) + "]\n", []LineError{{"c.yaml", 4, "line longer than 65536 bytes"}}},
		{"invalid utf-8", "organisations:\n- name: \xff\n", []LineError{{"c.yaml", 2, "invalid UTF-8 (save the file as UTF-8)"}}},
		{"nul byte", "organisations:\n- name: A\x00\n", []LineError{{"c.yaml", 2, "NUL byte (binary file?)"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseOne(t, "c.yaml", FormatYAML, tt.in)
			if diff := cmp.Diff(tt.want, lineErrors(t, err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func manyAddrs(n int) string {
	var b []string
	for i := range n {
		b = append(b, fmt.Sprintf("a%d@example.com", i))
	}
	return strings.Join(b, ", ")
}

func TestParseCSVForms(t *testing.T) {
	in := "\xef\xbb\xbf# comment\n" +
		"Domains,TO,name,cidrs\n" +
		"example.org; example.com,\"a@example.com, b@example.com\",A,192.0.2.0/25\n" +
		"\n" +
		",,,\n" +
		",a@example.com,A,192.0.2.128/25\r\n"
	c, err := parseOne(t, "c.csv", FormatCSV, in)
	if err == nil {
		t.Fatalf("want error for the conflicting continuation row, got %v", ruleList(c))
	}
	// Row 6 continues "A" but lists fewer "to" addresses.
	want0 := []LineError{{"c.csv", 6, `organisation "A" is already defined at c.csv:3 with different to/cc/language (leave them empty on continuation rows)`}}
	if diff := cmp.Diff(want0, lineErrors(t, err)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	in = strings.Replace(in, ",a@example.com,A,", "example.net,a@example.com b@example.com,a,", 1)
	c, err = parseOne(t, "c.csv", FormatCSV, in)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*Org{{Key: "a", Name: "A", To: []string{"a@example.com", "b@example.com"}}}, c.Orgs()); diff != "" {
		t.Errorf("orgs (-want +got):\n%s", diff)
	}
	want := []string{
		"domain example.com -> A @ c.csv:3",
		"domain example.net -> A @ c.csv:6",
		"domain example.org -> A @ c.csv:3",
		"prefix 192.0.2.0/25 -> A @ c.csv:3",
		"prefix 192.0.2.128/25 -> A @ c.csv:6",
	}
	if diff := cmp.Diff(want, ruleList(c)); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
}

func TestCSVErrors(t *testing.T) {
	const hdr = "name,to,cc,language,cidrs,asns,domains\n"
	tests := []struct {
		name string
		in   string
		want []LineError
	}{
		{"empty file", "", []LineError{{"c.csv", 0, "empty file (want a header row: name,to,cc,language,cidrs,asns,domains)"}}},
		{"no to column", "name,cidrs\nA,192.0.2.0/24\n", []LineError{{"c.csv", 1, `header has no "to" column (want name,to,cc,language,cidrs,asns,domains)`}}},
		{"unknown column", "name,to,prefix\n", []LineError{{"c.csv", 1, `unknown column "prefix" (want name,to,cc,language,cidrs,asns,domains)`}}},
		{"repeated column", "# c\nname,to,TO\n", []LineError{{"c.csv", 2, `column "to" repeated`}}},
		{"field count", hdr + "A,a@example.com\n", []LineError{{"c.csv", 2, "row has 2 fields, the header has 7"}}},
		{"bad quoting", hdr + "A,a@example.com,,,\"192.0.2.0/24,,\n", []LineError{{"c.csv", 2, "CSV: extraneous or missing \" in quoted-field"}}},
		{"bare quote", hdr + "A\"B,a@example.com,,,,,\n", []LineError{{"c.csv", 2, "CSV: bare \" in non-quoted-field"}}},
		{"no to", hdr + "A,,,,192.0.2.0/24,,\n", []LineError{{"c.csv", 2, `organisation "A" has no "to" address`}}},
		{"several errors in one row", hdr + "A,a@,x,e1,192.0.2.1/24,AS,-x.org\n", []LineError{
			{"c.csv", 2, `to: invalid e-mail address "a@": missing '@' or angle-addr`},
			{"c.csv", 2, `cc: invalid e-mail address "x": missing '@' or angle-addr`},
			{"c.csv", 2, `invalid language "e1" (want a tag like en, de or pt-BR)`},
			{"c.csv", 2, `CIDR "192.0.2.1/24" has host bits set (did you mean 192.0.2.0/24?)`},
			{"c.csv", 2, `invalid AS number "AS"`},
			{"c.csv", 2, `domain "-x.org": label "-x" starts or ends with '-'`},
		}},
		{"continuation conflict", hdr + "A,a@example.com,,,,,\nA,b@example.com,,,192.0.2.0/24,,\n", []LineError{
			{"c.csv", 3, `organisation "A" is already defined at c.csv:2 with different to/cc/language (leave them empty on continuation rows)`},
		}},
		{"continuation same contact", hdr + "A,a@example.com,,de,,,\nA,A@example.com,,DE,192.0.2.0/24,,\n", nil},
		{"prefix tie", hdr + "A,a@example.com,,,192.0.2.0/24,,\nB,b@example.com,,,198.51.100.0/24 192.0.2.0/24,,\n", []LineError{
			{"c.csv", 3, `prefix 192.0.2.0/24 is already claimed by "A" at c.csv:2`},
		}},
		{"asn tie", hdr + "A,a@example.com,,,,64500,\nB,b@example.com,,,,AS64500,\n", []LineError{
			{"c.csv", 3, `AS64500 is already claimed by "A" at c.csv:2`},
		}},
		{"long line", hdr + "A,a@example.com,,,," + strings.Repeat("1", MaxConstituencyLine) + ",\n", []LineError{{"c.csv", 2, "line longer than 65536 bytes"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseOne(t, "c.csv", FormatCSV, tt.in)
			if diff := cmp.Diff(tt.want, lineErrors(t, err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTieAcrossFiles(t *testing.T) {
	_, err := ParseConstituency(
		Source{Name: "a.yaml", Format: FormatYAML, Reader: strings.NewReader("organisations:\n- name: A\n  to: a@example.com\n  cidrs: [192.0.2.0/24]\n  domains: [example.org]\n")},
		Source{Name: "b.csv", Format: FormatCSV, Reader: strings.NewReader("name,to,cidrs,domains\nB,b@example.com,192.0.2.0/24,example.org\nA,c@example.com,,\n")},
	)
	want := []LineError{
		{"b.csv", 2, `prefix 192.0.2.0/24 is already claimed by "A" at a.yaml:4`},
		{"b.csv", 2, `domain example.org is already claimed by "A" at a.yaml:5`},
		{"b.csv", 3, `organisation "A" is already defined at a.yaml:2`},
	}
	if diff := cmp.Diff(want, lineErrors(t, err)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if got := err.Error(); !strings.HasPrefix(got, "b.csv:2: prefix 192.0.2.0/24 is already claimed") {
		t.Errorf("Error() = %q, want file:line: prefix", got)
	}
}

func TestErrorCap(t *testing.T) {
	var b strings.Builder
	b.WriteString("name,to\n")
	for i := range 150 {
		fmt.Fprintf(&b, "Org %d,bad\n", i)
	}
	_, err := parseOne(t, "c.csv", FormatCSV, b.String())
	errs := lineErrors(t, err)
	if len(errs) != maxErrors+1 {
		t.Fatalf("got %d errors, want %d", len(errs), maxErrors+1)
	}
	if last := errs[len(errs)-1]; last != (LineError{"c.csv", 0, "50 more errors not shown"}) {
		t.Errorf("last error = %v", last)
	}
}

func TestFormatOf(t *testing.T) {
	for name, want := range map[string]Format{"a.yaml": FormatYAML, "B.YML": FormatYAML, "x/c.csv": FormatCSV} {
		if got, err := FormatOf(name); err != nil || got != want {
			t.Errorf("FormatOf(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	if _, err := FormatOf("c.json"); err == nil {
		t.Error("FormatOf(c.json): want error")
	}
}
