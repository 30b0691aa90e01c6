package rules

import (
	"io"
	"strconv"
)

// Severity values carried in a rule's "severity" meta. hunt grades a file by the
// highest severity among the rules that matched it.
const (
	// SeverityBackdoor: the content is a web shell or proof that one ran.
	SeverityBackdoor = "backdoor"
	// SeverityAttempt: traces of exploitation whose success is not shown by
	// this file alone (a log line, a crash report).
	SeverityAttempt = "attempt"
	// SeverityInfo: suspicious, worth a look, not proof.
	SeverityInfo = "info"
)

// Defaults for Options fields left at zero.
const (
	DefaultMaxFileBytes        = 16 << 20
	DefaultMaxMatchesPerString = 1000
	DefaultMaxReported         = 8
	DefaultExcerptBytes        = 80
)

// Options bound the work done per file. Zero values take the defaults above.
type Options struct {
	// MaxFileBytes is how much of a file ScanFile/ScanReader read; the rest
	// is not examined and Result.Truncated says so.
	MaxFileBytes int64
	// MaxMatchesPerString caps the matches recorded per string and file
	// (YARA caps at one million). #a and @a[i] see at most this many.
	MaxMatchesPerString int
	// MaxReported caps the matches per string listed in a Match.
	MaxReported int
	// ExcerptBytes caps the bytes of each excerpt.
	ExcerptBytes int
	// SkipUnsupported drops rules that use features the built-in engine
	// lacks instead of failing the whole compile; RuleSet.Skipped lists them.
	SkipUnsupported bool
}

func (o Options) withDefaults() Options {
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = DefaultMaxFileBytes
	}
	if o.MaxMatchesPerString <= 0 {
		o.MaxMatchesPerString = DefaultMaxMatchesPerString
	}
	if o.MaxReported <= 0 {
		o.MaxReported = DefaultMaxReported
	}
	if o.ExcerptBytes <= 0 {
		o.ExcerptBytes = DefaultExcerptBytes
	}
	return o
}

// Source is one rule file.
type Source struct {
	Name string // shown in errors, e.g. "webshells.yar"
	Text string
}

// Meta is one entry of a rule's meta section. Value is a string, int64 or bool.
type Meta struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// StringMatch is one occurrence of a rule string.
type StringMatch struct {
	ID      string `json:"id"`      // "$a"; "$" for anonymous strings
	Offset  int64  `json:"offset"`  // from the start of the file
	Length  int    `json:"length"`  // bytes matched
	Excerpt string `json:"excerpt"` // the matched bytes, escaped and capped
}

// Match is a rule that matched.
type Match struct {
	Rule    string        `json:"rule"`
	Tags    []string      `json:"tags,omitempty"`
	Meta    []Meta        `json:"meta,omitempty"`
	Strings []StringMatch `json:"strings,omitempty"`
}

// MetaString returns the meta value for key as text ("" if absent).
func (m Match) MetaString(key string) string { return metaString(m.Meta, key) }

// Severity is the rule's "severity" meta.
func (m Match) Severity() string { return m.MetaString("severity") }

func metaString(meta []Meta, key string) string {
	for _, e := range meta {
		if e.Key != key {
			continue
		}
		switch v := e.Value.(type) {
		case string:
			return v
		case int64:
			return strconv.FormatInt(v, 10)
		case bool:
			return strconv.FormatBool(v)
		}
	}
	return ""
}

// RuleInfo describes a compiled rule.
type RuleInfo struct {
	Name    string   `json:"name"`
	Tags    []string `json:"tags,omitempty"`
	Meta    []Meta   `json:"meta,omitempty"`
	Private bool     `json:"private,omitempty"`
	Global  bool     `json:"global,omitempty"`
}

// MetaString returns the meta value for key as text ("" if absent).
func (r RuleInfo) MetaString(key string) string { return metaString(r.Meta, key) }

// Result is the outcome of scanning one file.
type Result struct {
	Matches []Match `json:"matches,omitempty"`
	// Size is the file's size: what `filesize` means in conditions.
	Size int64 `json:"size"`
	// Scanned is how many bytes from the start were examined.
	Scanned int64 `json:"scanned"`
	// Truncated is true when Scanned < Size because of MaxFileBytes (or the
	// file shrank while being read). Strings beyond Scanned are not seen.
	Truncated bool `json:"truncated,omitempty"`
	// Saturated names strings that hit MaxMatchesPerString ("RULE:$a").
	Saturated []string `json:"saturated,omitempty"`
}

// Engine is what callers (hunt) use; the built-in RuleSet and the optional
// libyara backend (-tags yara) both implement it.
type Engine interface {
	// Backend names the implementation: "builtin" or "libyara".
	Backend() string
	// Rules lists the compiled rules in source order.
	Rules() []RuleInfo
	// Scan matches data in memory; filesize is len(data).
	Scan(data []byte) []Match
	// ScanFile reads at most Options.MaxFileBytes of path and scans them.
	ScanFile(path string) (Result, error)
	// ScanReader does the same for a stream whose full size is size (-1 if
	// unknown, in which case the bytes read count as the size).
	ScanReader(r io.Reader, size int64) (Result, error)
}
