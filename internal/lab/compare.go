package lab

import (
	"fmt"
	"slices"
	"sort"
)

// Observed is what a scanner reported for one target, in the fields the truth
// can judge. Scanners other than exsweep can be measured by filling it from
// their own output.
type Observed struct {
	Target     string
	Reachable  bool
	Exchange   bool
	Build      string
	BuildExact bool
	Verdict    string
	Webshells  []string
}

// Compare lists how obs differs from the expectation; empty means correct.
// Web shells are compared only when the scanner looked for them.
func Compare(want Expectation, obs Observed, checkWebshells bool) []string {
	var diffs []string
	add := func(field string, w, g any) {
		if fmt.Sprint(w) != fmt.Sprint(g) {
			diffs = append(diffs, fmt.Sprintf("%s: want %v, got %v", field, w, g))
		}
	}
	add("reachable", want.Reachable, obs.Reachable)
	add("exchange", want.Exchange, obs.Exchange)
	if want.Exchange {
		add("build", want.Build, obs.Build)
		add("build_exact", want.BuildExact, obs.BuildExact)
	}
	add("verdict", want.Verdict, obs.Verdict)
	if checkWebshells {
		w := slices.Clone(want.Webshells)
		g := slices.Clone(obs.Webshells)
		sort.Strings(w)
		sort.Strings(g)
		if !slices.Equal(w, g) {
			diffs = append(diffs, fmt.Sprintf("webshells: want %v, got %v", w, g))
		}
	}
	return diffs
}
