// Package notify turns open cases into one message per recipient, with
// guidance per endpoint, rendered from templates (embedded, overridable), and
// decides who is told now and who was told recently enough.
//
// It does not touch the store: internal/app loads cases and organisations,
// builds a Plan here, renders it, and records the messages in the outbox.
package notify

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"time"
)

// Problems a case can have.
const (
	ProblemCompromised = "compromised"
	ProblemVulnerable  = "vulnerable"
)

// Org is a recipient organisation.
type Org struct {
	Key      string
	Name     string
	To, CC   []string
	Language string // "en", "de"; unknown languages fall back to English
}

// Case is an open problem on one endpoint of one organisation.
type Case struct {
	ID         int64
	OrgKey     string // empty: no owner known
	IP         string
	Port       int
	Hostname   string
	Problem    string
	CVEs       []string
	Severity   int // higher is worse
	Product    string
	CU         string
	Build      string
	BuildExact bool
	Webshells  []string
	ASN        uint32
	ASName     string
	ObservedAt time.Time
}

// Endpoint is ip:port.
func (c Case) Endpoint() string { return net.JoinHostPort(c.IP, strconv.Itoa(c.Port)) }

// LastSent is what an organisation was last told.
type LastSent struct {
	At          time.Time
	MaxSeverity int
	CaseIDs     []int64
}

// Planned is one message to send.
type Planned struct {
	Org    Org
	Cases  []Case // most severe first
	Reason string // why now: first message, severity rose, new endpoints, window passed
}

// Suppressed is an organisation not messaged now, and why.
type Suppressed struct {
	Org    Org
	Cases  int
	Reason string
}

// UnownedAS groups cases without an owner by autonomous system.
type UnownedAS struct {
	ASN    uint32
	ASName string
	Cases  []Case
}

// Plan is the result of BuildPlan.
type Plan struct {
	Messages   []Planned
	Suppressed []Suppressed
	Unowned    []UnownedAS
	// MissingOrgs lists organisation keys that cases name but orgs lacks.
	MissingOrgs []string
}

// BuildPlan groups open cases into one message per organisation. An
// organisation messaged within window is skipped unless the severity rose or
// endpoints appeared that the last message did not list (mailgen's interval
// rule, made explicit).
func BuildPlan(orgs map[string]Org, cases []Case, last map[string]LastSent, window time.Duration, now time.Time) Plan {
	var p Plan
	byOrg := map[string][]Case{}
	byAS := map[uint32]*UnownedAS{}
	missing := map[string]bool{}
	for _, c := range cases {
		if c.OrgKey == "" {
			u := byAS[c.ASN]
			if u == nil {
				u = &UnownedAS{ASN: c.ASN, ASName: c.ASName}
				byAS[c.ASN] = u
			}
			u.Cases = append(u.Cases, c)
			continue
		}
		if _, ok := orgs[c.OrgKey]; !ok {
			missing[c.OrgKey] = true
			continue
		}
		byOrg[c.OrgKey] = append(byOrg[c.OrgKey], c)
	}
	keys := make([]string, 0, len(byOrg))
	for k := range byOrg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cs := byOrg[k]
		sortCases(cs)
		org := orgs[k]
		prev, told := last[k]
		reason := ""
		switch {
		case !told:
			reason = "first message"
		case now.Sub(prev.At) >= window:
			reason = fmt.Sprintf("last message %s ago, window %s", now.Sub(prev.At).Round(time.Hour), window)
		case cs[0].Severity > prev.MaxSeverity:
			reason = "severity rose since the last message"
		default:
			if n := newCases(cs, prev.CaseIDs); n > 0 {
				reason = fmt.Sprintf("%d endpoint(s) not in the last message", n)
			}
		}
		if reason == "" {
			p.Suppressed = append(p.Suppressed, Suppressed{Org: org, Cases: len(cs),
				Reason: fmt.Sprintf("told %s ago (window %s); nothing new or more severe", now.Sub(prev.At).Round(time.Minute), window)})
			continue
		}
		p.Messages = append(p.Messages, Planned{Org: org, Cases: cs, Reason: reason})
	}
	for _, u := range byAS {
		sortCases(u.Cases)
		p.Unowned = append(p.Unowned, *u)
	}
	sort.Slice(p.Unowned, func(i, j int) bool {
		if len(p.Unowned[i].Cases) != len(p.Unowned[j].Cases) {
			return len(p.Unowned[i].Cases) > len(p.Unowned[j].Cases)
		}
		return p.Unowned[i].ASN < p.Unowned[j].ASN
	})
	for k := range missing {
		p.MissingOrgs = append(p.MissingOrgs, k)
	}
	sort.Strings(p.MissingOrgs)
	return p
}

func sortCases(cs []Case) {
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].Severity != cs[j].Severity {
			return cs[i].Severity > cs[j].Severity
		}
		if cs[i].IP != cs[j].IP {
			return cs[i].IP < cs[j].IP
		}
		return cs[i].Port < cs[j].Port
	})
}

func newCases(cs []Case, told []int64) int {
	n := 0
	for _, c := range cs {
		if !slices.Contains(told, c.ID) {
			n++
		}
	}
	return n
}

// Severity ranks a problem for ordering and for the suppression rule: a web
// shell outranks any vulnerability, more vulnerable CVEs rank higher.
func Severity(problem string, cves int) int {
	if problem == ProblemCompromised {
		return 1000 + cves
	}
	return 100 + cves
}
