package exchange

import (
	"fmt"
	"slices"
	"strings"
)

// cveGroups names the campaigns a response is usually about, so a CERT can
// say `--cves proxylogon` instead of four CVE ids. Each id must be in the
// knowledge base (SelectCVEs checks), so a replaced knowledge base without
// them fails loudly instead of deciding on nothing.
var cveGroups = map[string][]string{
	// March 2021 (HAFNIUM): the SSRF and the three post-authentication
	// flaws chained with it, all fixed by KB5000871.
	"proxylogon": {"CVE-2021-26855", "CVE-2021-26857", "CVE-2021-26858", "CVE-2021-27065"},
	// August 2021.
	"proxyshell": {"CVE-2021-34473", "CVE-2021-34523", "CVE-2021-31207"},
	// September 2022.
	"proxynotshell": {"CVE-2022-41040", "CVE-2022-41082"},
}

// CVEGroups returns the group names SelectCVEs understands, sorted.
func CVEGroups() []string {
	names := make([]string, 0, len(cveGroups))
	for n := range cveGroups {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// SelectCVEs parses a comma-separated list of CVE ids and group names
// (proxylogon, proxyshell, proxynotshell; "all" or "" for every CVE) into
// the sorted ids it means. An id the knowledge base does not know is an
// error: a typo must not silently leave a CVE out of the verdict.
func (kb *KB) SelectCVEs(spec string) ([]string, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" || strings.EqualFold(spec, "all") {
		return nil, nil
	}
	var out []string
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		g, isGroup := cveGroups[strings.ToLower(item)]
		switch {
		case item == "": // "a,,b" or a trailing comma
		case strings.EqualFold(item, "all"):
			return nil, fmt.Errorf("%q: \"all\" cannot be combined with other CVEs", spec)
		case isGroup:
			for _, id := range g {
				if _, known := kb.cveNames[id]; !known {
					return nil, fmt.Errorf("group %s: %s is not in the knowledge base", item, id)
				}
			}
			out = append(out, g...)
		default:
			id := strings.ToUpper(item)
			if _, known := kb.cveNames[id]; !known {
				return nil, fmt.Errorf("%q is neither a CVE of the knowledge base nor a group (%s, all)",
					item, strings.Join(CVEGroups(), ", "))
			}
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Only returns r with just the CVEs in ids (sorted, as SelectCVEs gives
// them); the verdict is then decided on those alone. Nil ids keep every CVE.
func (r Result) Only(ids []string) Result {
	if ids == nil {
		return r
	}
	kept := make([]CVEState, 0, len(ids))
	for _, c := range r.CVEs {
		if _, ok := slices.BinarySearch(ids, c.ID); ok {
			kept = append(kept, c)
		}
	}
	r.CVEs = kept
	return r
}
