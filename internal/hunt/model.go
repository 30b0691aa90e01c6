// Package hunt answers "was this Exchange server compromised, when, how, and
// what now?" from a triage copy (--root) or the live server: it finds the
// evidence sources, runs the checks (rules as data) over logs, event logs and
// web roots, grades findings and builds one timeline.
//
// This file is the contract other rooms use (internal/report writes it,
// internal/app runs it, notify imports it): keep it small and stable.
package hunt

import "time"

// Grades, lowest to highest. A probe is kept as a low finding, never dropped.
const (
	GradeInfo      = "info"      // context: archives, logs that do not reach back
	GradeProbe     = "probe"     // scanning or a failed attempt (e.g. SSRF reaching only autodiscover/localhost)
	GradeAttempt   = "attempt"   // exploitation attempted, success not shown
	GradeExploited = "exploited" // exploitation succeeded (e.g. SSRF followed by ECP/EWS/OAB actions)
	GradeBackdoor  = "backdoor"  // a web shell, credential dump or persistence
)

// GradeRank orders grades; unknown grades rank lowest.
func GradeRank(g string) int {
	switch g {
	case GradeProbe:
		return 1
	case GradeAttempt:
		return 2
	case GradeExploited:
		return 3
	case GradeBackdoor:
		return 4
	}
	return 0
}

// Verdicts of a hunt.
const (
	VerdictCompromised = "compromised" // a backdoor or successful exploitation
	VerdictAttacked    = "attacked"    // attempts or probes only
	VerdictClean       = "clean"       // nothing above info
)

// Finding is one graded observation with its evidence.
type Finding struct {
	ID       string    `json:"id"`    // stable within a report: F0001…
	Check    string    `json:"check"` // the check id (rules as data)
	Title    string    `json:"title"`
	Severity string    `json:"severity"` // low, medium, high, critical
	Grade    string    `json:"grade"`
	Time     time.Time `json:"time,omitzero"` // first record, or the file's modification time
	// Last is the last record of an aggregated finding (zero when one record).
	Last     time.Time `json:"last,omitzero"`
	Count    int64     `json:"count,omitempty"` // records aggregated into this finding
	Path     string    `json:"path"`            // evidence file (relative to the root when under it)
	Line     int64     `json:"line,omitempty"`  // 1-based line, or 0
	CVE      []string  `json:"cve,omitempty"`
	Evidence string    `json:"evidence"` // capped excerpt, escaped when rendered
	Guidance string    `json:"guidance"`
	// Client is the client address the log gives, for joining and for the verdict sentence.
	Client string `json:"client,omitempty"`
	// RequestID joins HttpProxy, ECP and IIS records of one request where logs have it.
	RequestID string `json:"request_id,omitempty"`
	// SHA256 of a file finding.
	SHA256 string `json:"sha256,omitempty"`
}

// Coverage says how far one log source reaches, so "nothing found" can be told
// from "nothing left to find".
type Coverage struct {
	Source    string    `json:"source"` // e.g. "httpproxy/Ecp", "iis", "evtx/MSExchange Management"
	Files     int       `json:"files"`
	Lines     int64     `json:"lines"`
	Records   int64     `json:"records"`
	Malformed int64     `json:"malformed"`
	First     time.Time `json:"first,omitzero"`
	Last      time.Time `json:"last,omitzero"`
	// Issues are the first malformed-input examples as "file:line: what".
	Issues []string `json:"issues,omitempty"`
}

// Event is one line of the timeline: a finding or a related record.
type Event struct {
	Time      time.Time `json:"time"`
	Source    string    `json:"source"`
	Path      string    `json:"path"`
	Line      int64     `json:"line,omitempty"`
	Grade     string    `json:"grade,omitempty"`
	Finding   string    `json:"finding,omitempty"` // Finding.ID
	Client    string    `json:"client,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	What      string    `json:"what"`
}

// Report is the result of a hunt.
type Report struct {
	Host     string     `json:"host,omitempty"`
	Root     string     `json:"root,omitempty"`
	Started  time.Time  `json:"started"`
	Finished time.Time  `json:"finished"`
	Verdict  string     `json:"verdict"`
	Summary  string     `json:"summary"` // the one-sentence verdict
	Findings []Finding  `json:"findings"`
	Coverage []Coverage `json:"coverage"`
	Timeline []Event    `json:"timeline"`
	// Warnings: logs that do not reach back to the exploitation period,
	// unreadable files, sources not found.
	Warnings []string `json:"warnings,omitempty"`
	// Partial is true when some files could not be read.
	Partial bool  `json:"partial"`
	Bytes   int64 `json:"bytes_read"`
}
