package hunt

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/exsweep/exsweep/internal/hunt/logs"
)

// The checks are data (DESIGN.md "knowledge is data"): data/checks.json holds
// what a responder reads (titles, severities, grades, CVEs, guidance) and every
// literal a matcher looks for; the Go code of each check (the matchers in
// iis.go, httpproxy.go, cmdlet.go, events.go, disk.go) only holds the logic.
//
//go:embed data/checks.json
var checksJSON []byte

// check is one entry of data/checks.json.
type check struct {
	ID              string              `json:"id"`
	Title           string              `json:"title"`
	Severity        string              `json:"severity"`
	Grade           string              `json:"grade"`
	Grades          []string            `json:"grades"`
	CVE             []string            `json:"cve"`
	Filters         []checkFilter       `json:"filters"`
	Events          []eventSelector     `json:"events"`
	Indicators      map[string][]string `json:"indicators"`
	lower           map[string][]string // Indicators, ASCII lower-cased once
	Guidance        string              `json:"guidance"`
	GuidanceByGrade map[string]string   `json:"guidance_by_grade"`
	References      []string            `json:"references"`
}

// checkFilter lists the pre-filter literals a check needs in one log type.
type checkFilter struct {
	Log   string   `json:"log"`
	Exact []string `json:"exact"`
	Fold  []string `json:"fold"`
}

// eventSelector picks the events a check reads from an event log, before
// their data is flattened (logs.EVTXOptions.Keep).
type eventSelector struct {
	Channel  string   `json:"channel"`
	Provider string   `json:"provider"`
	IDs      []uint32 `json:"ids"`
	Level    uint8    `json:"level"`
}

func (s eventSelector) match(e *logs.Event) bool {
	if !strings.EqualFold(e.Channel, s.Channel) {
		return false
	}
	if s.Provider != "" && !strings.EqualFold(e.Provider, s.Provider) {
		return false
	}
	if s.Level != 0 && e.Level != s.Level {
		return false
	}
	return len(s.IDs) == 0 || slices.Contains(s.IDs, e.EventID)
}

// ind returns the indicator list name; validation guarantees the lists a
// check's code asks for exist.
func (c *check) ind(name string) []string { return c.Indicators[name] }

// lind is ind lower-cased, for case-insensitive comparisons on the hot path
// without lower-casing the indicators per record.
func (c *check) lind(name string) []string { return c.lower[name] }

// guidance returns the guidance for a grade.
func (c *check) guidance(grade string) string {
	if g, ok := c.GuidanceByGrade[grade]; ok && g != "" {
		return g
	}
	return c.Guidance
}

// severity is the check's severity at its default grade; other grades take
// the severity their rank implies, so a probe of a critical check does not
// read as critical in SARIF or a SIEM.
func (c *check) severity(grade string) string {
	if grade == c.Grade {
		return c.Severity
	}
	return gradeSeverity[grade]
}

var gradeSeverity = map[string]string{
	GradeInfo:      "low",
	GradeProbe:     "low",
	GradeAttempt:   "medium",
	GradeExploited: "high",
	GradeBackdoor:  "critical",
}

// Check ids, the keys between the data file and the Go matchers.
const (
	chkSSRF          = "cve-2021-26855-ssrf"
	chkResetVDir     = "cve-2021-27065-resetvdir"
	chkIISSSRF       = "cve-2021-26855-iis"
	chkProxyShell    = "proxyshell-autodiscover"
	chkIISShell      = "iis-webshell-request"
	chkIISScript     = "iis-unexpected-script"
	chkIISUA         = "iis-attacker-ua"
	chkVDirScript    = "cve-2021-27065-vdir-script"
	chkExport        = "proxyshell-mailbox-export"
	chkRole          = "proxyshell-role-assignment"
	chkCertExport    = "exchange-certificate-export"
	chkTransport     = "exchange-transport-agent"
	chkOAB           = "cve-2021-26858-oab"
	chkUM            = "cve-2021-26857-um"
	chkUMChild       = "um-child-process"
	chkW3wpShell     = "w3wp-shell-spawn"
	chkLsassCmd      = "lsass-dump-command"
	chkShellWrite    = "webshell-file-write"
	chkDefender      = "defender-detection"
	chkShellContent  = "webshell-content"
	chkShellHash     = "webshell-hash"
	chkShellName     = "webshell-name"
	chkUnexpected    = "unexpected-script"
	chkTimeOutlier   = "webroot-time-outlier"
	chkDumpFile      = "lsass-dump-file"
	chkArchive       = "programdata-archive"
	chkWER           = "wer-crash-report"
	chkCoverage      = "log-coverage"
	maxIndicatorSize = 200
)

// spec is what the Go side of a check requires from its data entry.
type spec struct {
	logs       []string // log types the check reads (filters required for each)
	events     bool     // reads event logs (event selectors required)
	indicators []string // indicator lists that must be present and non-empty
}

var specs = map[string]spec{
	chkSSRF:         {logs: []string{"httpproxy"}, indicators: []string{"anchor_prefixes", "cookie_prefixes", "localhost", "probe_paths", "action_paths"}},
	chkResetVDir:    {logs: []string{"httpproxy"}, indicators: []string{"anchor_prefixes", "reset_markers"}},
	chkIISSSRF:      {logs: []string{"iis"}, indicators: []string{"ssrf_stems", "theme_dirs", "theme_files", "short_js_dirs", "static_dirs", "static_ext", "cookies"}},
	chkProxyShell:   {logs: []string{"iis", "httpproxy"}, indicators: []string{"endpoints", "backend_paths", "email_markers", "exploit_paths"}},
	chkIISShell:     {logs: []string{"iis"}, indicators: []string{"script_ext"}},
	chkIISScript:    {logs: []string{"iis"}, indicators: []string{"web_folders", "script_ext"}},
	chkIISUA:        {logs: []string{"iis"}, indicators: []string{"user_agents", "shell_clients", "paths"}},
	chkVDirScript:   {logs: []string{"ecp-server", "cmdlet"}, events: true, indicators: []string{"cmdlet_suffixes", "param_suffixes", "script_markers"}},
	chkExport:       {logs: []string{"ecp-server", "cmdlet"}, events: true, indicators: []string{"cmdlets", "path_params", "web_ext", "web_folders"}},
	chkRole:         {logs: []string{"ecp-server", "cmdlet"}, events: true, indicators: []string{"cmdlets", "roles"}},
	chkCertExport:   {logs: []string{"ecp-server", "cmdlet"}, events: true, indicators: []string{"cmdlets", "web_ext", "web_folders"}},
	chkTransport:    {logs: []string{"ecp-server", "cmdlet"}, events: true, indicators: []string{"cmdlets"}},
	chkOAB:          {logs: []string{"oab-generator"}, indicators: []string{"message", "message_end", "allowed_dirs", "script_ext", "web_folders"}},
	chkUM:           {events: true, indicators: []string{"markers"}},
	chkUMChild:      {events: true, indicators: []string{"parents", "allowed_children"}},
	chkW3wpShell:    {events: true, indicators: []string{"parents", "children"}},
	chkLsassCmd:     {events: true, indicators: []string{"comsvcs", "minidump", "dump_tools", "lsass", "dump_ext"}},
	chkShellWrite:   {events: true, indicators: []string{"writers", "script_ext", "web_folders"}},
	chkDefender:     {events: true, indicators: []string{"backdoor_names", "exploit_names"}},
	chkShellContent: {indicators: []string{"script_ext"}},
	chkShellHash:    {},
	chkShellName:    {indicators: []string{"weak_notes"}},
	chkUnexpected:   {indicators: []string{"web_folders", "script_ext"}},
	chkTimeOutlier:  {},
	chkDumpFile:     {indicators: []string{"name_prefixes", "dump_ext", "wer_dirs", "lsass_images"}},
	chkArchive:      {indicators: []string{"archive_ext", "staging_names"}},
	chkWER:          {},
	chkCoverage:     {},
}

// logTypes maps the log names used in the data file to reader types.
var logTypes = map[string]logs.Type{
	"iis":           logs.TypeW3C,
	"httpproxy":     logs.TypeHttpProxy,
	"ecp-server":    logs.TypeECPServer,
	"oab-generator": logs.TypeOABGenerator,
	"cmdlet":        logs.TypeCmdlet,
}

// checkSet is the loaded, validated data file.
type checkSet struct {
	list     []*check
	byID     map[string]*check
	filters  map[logs.Type]*logs.Filter // merged per log type
	literals map[logs.Type]*literalSet
	events   []eventSelector // union of all selectors
}

func (cs *checkSet) get(id string) *check { return cs.byID[id] }

var loadChecks = sync.OnceValues(func() (*checkSet, error) { return parseChecks(checksJSON) })

var (
	reCheckID = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	reCVE     = regexp.MustCompile(`^CVE-\d{4}-\d{4,7}$`)
)

// parseChecks decodes and validates a checks file: unknown fields, ids
// without Go code (or Go code without an entry), invalid grades and
// severities, missing guidance, filters and indicator lists are errors.
func parseChecks(b []byte) (*checkSet, error) {
	var doc struct {
		About  string   `json:"about"`
		Checks []*check `json:"checks"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("checks.json: %w", err)
	}
	var errs []error
	fail := func(id, format string, a ...any) {
		errs = append(errs, fmt.Errorf("checks.json: %s: %s", id, fmt.Sprintf(format, a...)))
	}
	cs := &checkSet{byID: map[string]*check{}, filters: map[logs.Type]*logs.Filter{}}
	perType := map[logs.Type]*literalSet{}
	for _, c := range doc.Checks {
		id := c.ID
		if !reCheckID.MatchString(id) {
			fail(id, "id must be lower-case words joined by '-'")
		}
		if _, dup := cs.byID[id]; dup {
			fail(id, "duplicate id")
		}
		cs.byID[id] = c
		cs.list = append(cs.list, c)
		sp, ok := specs[id]
		if !ok {
			fail(id, "no Go matcher for this id")
			continue
		}
		if strings.TrimSpace(c.Title) == "" || len(c.Title) > 160 {
			fail(id, "title must be 1-160 characters")
		}
		if !slices.Contains([]string{"low", "medium", "high", "critical"}, c.Severity) {
			fail(id, "severity %q is not low, medium, high or critical", c.Severity)
		}
		if !validGrade(c.Grade) {
			fail(id, "grade %q is unknown", c.Grade)
		}
		if len(c.Grades) == 0 || !slices.Contains(c.Grades, c.Grade) {
			fail(id, "grades must list the default grade %q", c.Grade)
		}
		for _, g := range c.Grades {
			if !validGrade(g) {
				fail(id, "grade %q is unknown", g)
			}
		}
		for g, txt := range c.GuidanceByGrade {
			if !slices.Contains(c.Grades, g) {
				fail(id, "guidance for grade %q the check never gives", g)
			}
			if strings.TrimSpace(txt) == "" {
				fail(id, "empty guidance for grade %q", g)
			}
		}
		if len(strings.TrimSpace(c.Guidance)) < 40 {
			fail(id, "guidance must say what to do (40 characters at least)")
		}
		for _, cve := range c.CVE {
			if !reCVE.MatchString(cve) {
				fail(id, "bad CVE id %q", cve)
			}
		}
		if len(c.References) == 0 {
			fail(id, "give at least one reference")
		}
		seenLog := map[string]bool{}
		for _, f := range c.Filters {
			t, ok := logTypes[f.Log]
			if !ok {
				fail(id, "filter for unknown log type %q", f.Log)
				continue
			}
			if !slices.Contains(sp.logs, f.Log) {
				fail(id, "filter for %s, which the check does not read", f.Log)
			}
			seenLog[f.Log] = true
			if len(f.Exact)+len(f.Fold) == 0 {
				fail(id, "filter for %s has no literals", f.Log)
			}
			ls := perType[t]
			if ls == nil {
				ls = &literalSet{}
				perType[t] = ls
			}
			for _, l := range append(slices.Clone(f.Exact), f.Fold...) {
				if len(l) < 3 || len(l) > maxIndicatorSize {
					fail(id, "literal %q must be 3-%d bytes (short literals defeat the pre-filter)", l, maxIndicatorSize)
				}
			}
			ls.exact = append(ls.exact, f.Exact...)
			ls.fold = append(ls.fold, f.Fold...)
		}
		for _, l := range sp.logs {
			if !seenLog[l] {
				fail(id, "no filter for %s, which the check reads", l)
			}
		}
		if sp.events != (len(c.Events) > 0) {
			if sp.events {
				fail(id, "the check reads event logs: give events")
			} else {
				fail(id, "the check does not read event logs: remove events")
			}
		}
		for _, e := range c.Events {
			if e.Channel == "" {
				fail(id, "event selector without channel")
			}
			cs.events = append(cs.events, e)
		}
		c.lower = map[string][]string{}
		for name, vals := range c.Indicators {
			for _, v := range vals {
				c.lower[name] = append(c.lower[name], strings.ToLower(v))
			}
		}
		for _, name := range sp.indicators {
			vals := c.Indicators[name]
			if len(vals) == 0 {
				fail(id, "indicator list %q is missing or empty", name)
			}
			for _, v := range vals {
				if v == "" || len(v) > maxIndicatorSize {
					fail(id, "indicator %q in %s must be 1-%d bytes", v, name, maxIndicatorSize)
				}
			}
		}
		for name := range c.Indicators {
			if !slices.Contains(sp.indicators, name) {
				fail(id, "indicator list %q is not used by the check's code", name)
			}
		}
	}
	for id := range specs {
		if _, ok := cs.byID[id]; !ok {
			fail(id, "Go matcher without an entry in the data file")
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	cs.literals = perType
	for t, ls := range perType {
		cs.filters[t] = ls.filter()
	}
	return cs, nil
}

// literalSet collects the literals of all checks for one log type.
type literalSet struct{ exact, fold []string }

// minimal returns the literals left once redundant ones are removed: the
// reader searches its buffer once per literal, so every literal costs a
// pass over the data. A literal is redundant when it duplicates another or
// contains one that matches at least as much (any line holding
// "/owa/auth/current/" also holds "/owa/auth/").
func (ls *literalSet) minimal() (exact, fold []string) {
	type lit struct {
		s    string
		fold bool
	}
	var all []lit
	for _, s := range ls.exact {
		all = append(all, lit{s, false})
	}
	for _, s := range ls.fold {
		all = append(all, lit{s, true})
	}
	covers := func(m, l lit) bool { // every line containing l contains m
		if m.fold {
			return strings.Contains(strings.ToLower(l.s), strings.ToLower(m.s))
		}
		return !l.fold && strings.Contains(l.s, m.s)
	}
	for i, l := range all {
		redundant := false
		for j, m := range all {
			if i == j || !covers(m, l) {
				continue
			}
			// Of two literals that cover each other keep the first.
			if !covers(l, m) || j < i {
				redundant = true
				break
			}
		}
		if redundant {
			continue
		}
		if l.fold {
			fold = append(fold, l.s)
		} else {
			exact = append(exact, l.s)
		}
	}
	return exact, fold
}

func (ls *literalSet) filter() *logs.Filter {
	exact, fold := ls.minimal()
	f := logs.NewFilter(exact...)
	for _, l := range fold {
		f.AddFold(l)
	}
	return f
}

func validGrade(g string) bool {
	switch g {
	case GradeInfo, GradeProbe, GradeAttempt, GradeExploited, GradeBackdoor:
		return true
	}
	return false
}

// keepEvent reports whether any check wants the event (System fields only).
func (cs *checkSet) keepEvent(e *logs.Event) bool {
	for _, s := range cs.events {
		if s.match(e) {
			return true
		}
	}
	return false
}

// CheckInfo describes one shipped check, for `exsweep hunt --list-checks`
// and documentation.
type CheckInfo struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Severity string   `json:"severity"`
	Grade    string   `json:"grade"`
	Grades   []string `json:"grades"`
	CVE      []string `json:"cve,omitempty"`
	Guidance string   `json:"guidance"`
}

// Checks lists the shipped checks in data-file order.
func Checks() ([]CheckInfo, error) {
	cs, err := loadChecks()
	if err != nil {
		return nil, err
	}
	out := make([]CheckInfo, 0, len(cs.list))
	for _, c := range cs.list {
		out = append(out, CheckInfo{ID: c.ID, Title: c.Title, Severity: c.Severity, Grade: c.Grade,
			Grades: slices.Clone(c.Grades), CVE: slices.Clone(c.CVE), Guidance: c.Guidance})
	}
	return out, nil
}

// Literals returns the pre-filter literals the readers search for (after
// the per-log-type reduction), sorted and de-duplicated: case-sensitive
// ones and ASCII case-insensitive ones. The benchmark greps a tree for
// them with ripgrep to compare exsweep with a plain literal search.
func Literals() (exact, fold []string, err error) {
	cs, err := loadChecks()
	if err != nil {
		return nil, nil, err
	}
	for _, ls := range cs.literals {
		e, f := ls.minimal()
		exact = append(exact, e...)
		fold = append(fold, f...)
	}
	slices.Sort(exact)
	slices.Sort(fold)
	return slices.Compact(exact), slices.Compact(fold), nil
}
