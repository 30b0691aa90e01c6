package owners

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// MatchKind says which kind of rule decided a Result.
type MatchKind uint8

const (
	MatchNone     MatchKind = iota // no owner found
	MatchPrefix                    // constituency CIDR
	MatchDomain                    // constituency domain
	MatchASN                       // constituency AS number
	MatchRDAP                      // RDAP abuse contact
	MatchRIPEstat                  // RIPEstat abuse-contact-finder
)

func (k MatchKind) String() string {
	switch k {
	case MatchNone:
		return "none"
	case MatchPrefix:
		return "prefix"
	case MatchDomain:
		return "domain"
	case MatchASN:
		return "asn"
	case MatchRDAP:
		return "rdap"
	case MatchRIPEstat:
		return "ripestat"
	}
	return fmt.Sprintf("MatchKind(%d)", uint8(k))
}

// MarshalText makes the kind readable in JSON output.
func (k MatchKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Result is the owner of one address and the reason.
//
// When Match is MatchNone, Org is empty and the AS fields still describe
// the network, so unowned addresses can be listed per AS.
type Result struct {
	Match MatchKind `json:"match"`
	Org   Org       `json:"org,omitzero"`
	// Rule explains the decision for humans and logs, e.g.
	// "prefix 192.0.2.0/24 of constituency.yaml:12",
	// "asn AS64500 of constituency.csv:4",
	// "domain example.org of constituency.yaml:20",
	// "rdap abuse contact of 192.0.2.0/24 (RIPE)",
	// "ripestat abuse contact of 192.0.2.7 (RIPE)". Empty when no owner.
	Rule string `json:"rule,omitempty"`
	// Source is where the owner data came from: "file:line" for a
	// constituency rule, the RDAP or RIPEstat URL for their contacts.
	Source string `json:"source,omitempty"`
	// Prefix is the owning network: the constituency CIDR or the RDAP
	// network that contains the address. Invalid for domain and AS rules
	// and for RIPEstat contacts (RIPEstat does not name the network).
	Prefix netip.Prefix `json:"prefix,omitzero"`

	// From the IP→ASN data, whatever decided the owner.
	ASN     uint32       `json:"asn,omitempty"`
	ASName  string       `json:"as_name,omitempty"`
	Country string       `json:"country,omitempty"`
	Network netip.Prefix `json:"network,omitzero"` // routed prefix containing the address
}

// Owned reports whether an owner was found.
func (r Result) Owned() bool { return r.Match != MatchNone }

// Config assembles a Directory. Every part is optional.
type Config struct {
	Constituency *Constituency
	ASNs         *ASNTable
	// RDAP, when set, lets Resolve ask the registries for the abuse contact
	// of addresses that no constituency rule covers. Off by default: it is
	// slow, rate-limited and sends our targets to third parties.
	RDAP *RDAPClient
	// RIPEstat, when set, is asked before RDAP (see the package
	// documentation for the precedence). Off by default for the same
	// reason: it sends our targets to RIPE NCC.
	RIPEstat *RIPEstatClient
}

// Directory answers "who must be told about this address". It is immutable
// after New and safe for concurrent use.
type Directory struct {
	cons *Constituency
	asns *ASNTable
	rdap *RDAPClient
	stat *RIPEstatClient
}

// New builds a Directory. It refuses a constituency with AS rules when no
// IP→ASN data is loaded, since those rules could never match and the
// organisations behind them would silently not be told.
func New(cfg Config) (*Directory, error) {
	if cfg.Constituency.HasASNRules() && cfg.ASNs == nil {
		asns := cfg.Constituency.asnRules()
		r := cfg.Constituency.asns[asns[0]]
		return nil, fmt.Errorf("%s: AS rules (%d, e.g. AS%d) need IP→ASN data; load an iptoasn, ip-location-db or MMDB file", r.source, len(asns), asns[0])
	}
	return &Directory{cons: cfg.Constituency, asns: cfg.ASNs, rdap: cfg.RDAP, stat: cfg.RIPEstat}, nil
}

// Lookup finds the owner of ip from local data only (constituency and
// IP→ASN table), applying the precedence documented on the package:
// prefix, then domain (when hostname is not empty), then AS. It never
// touches the network and does not allocate.
func (d *Directory) Lookup(ip netip.Addr, hostname string) Result {
	var r Result
	if !ip.IsValid() {
		return r
	}
	ip = ip.Unmap()
	if as, network, ok := d.asns.Lookup(ip); ok {
		r.ASN, r.ASName, r.Country, r.Network = as.Number, as.Name, as.Country, network
	}
	c := d.cons
	if c == nil {
		return r
	}
	if ru, ok := c.matchPrefix(ip); ok {
		r.Match, r.Prefix = MatchPrefix, ru.prefix
		r.set(ru)
		return r
	}
	if ru, ok := c.matchDomain(hostname); ok {
		r.Match = MatchDomain
		r.set(ru)
		return r
	}
	if r.ASN != 0 {
		if ru, ok := c.asns[r.ASN]; ok {
			r.Match = MatchASN
			r.set(ru)
			return r
		}
	}
	return r
}

func (r *Result) set(ru *rule) {
	r.Org, r.Rule, r.Source = *ru.org, ru.text, ru.source
}

// Resolve is Lookup followed, when no constituency rule matched, by the
// online sources that are configured: RIPEstat's abuse-contact-finder
// first, then RDAP when RIPEstat is off, has no contact or fails.
//
// The error says the answer may be incomplete and the caller may retry
// later; the result then is the best one found (the local result, which
// says "no owner" but still carries the AS, unless RDAP found a contact).
// It is nil when a source found a contact, or when every configured source
// answered that it has none. A RIPEstat failure alone does not stop RDAP:
// it is returned only if RDAP is off or has no contact either; when both
// fail, both errors are returned (errors.Join).
func (d *Directory) Resolve(ctx context.Context, ip netip.Addr, hostname string) (Result, error) {
	r := d.Lookup(ip, hostname)
	if r.Owned() || (d.rdap == nil && d.stat == nil) || !ip.IsValid() {
		return r, nil
	}
	ip = ip.Unmap()
	var statErr error
	if d.stat != nil {
		c, err := d.stat.AbuseContact(ctx, ip)
		if err == nil && len(c.Emails) > 0 {
			r.Match = MatchRIPEstat
			r.Org = Org{Key: "ripestat:" + strings.Join(c.Emails, ","), Name: strings.Join(c.Emails, ", "), To: c.Emails}
			r.Source = c.URL
			r.Rule = "ripestat abuse contact of " + c.Resource
			if c.Registry != "" {
				r.Rule += " (" + c.Registry + ")"
			}
			return r, nil
		}
		if err != nil && ctx.Err() != nil {
			return r, err
		}
		statErr = err
	}
	if d.rdap == nil {
		return r, statErr
	}
	c, err := d.rdap.AbuseContact(ctx, ip, r.Network, r.ASN)
	if err != nil {
		if statErr != nil {
			return r, errors.Join(statErr, err)
		}
		return r, err
	}
	if len(c.Emails) == 0 {
		return r, statErr
	}
	r.Match = MatchRDAP
	r.Org = Org{Key: "rdap:" + strings.Join(c.Emails, ","), Name: c.Name, To: c.Emails}
	r.Prefix = c.Prefix
	r.Source = c.URL
	what := c.Prefix.String()
	if c.ViaASN != 0 {
		what = fmt.Sprintf("AS%d", c.ViaASN)
	}
	r.Rule = "rdap abuse contact of " + what + " (" + c.Registry + ")"
	if r.Org.Name == "" {
		r.Org.Name = strings.Join(c.Emails, ", ")
	}
	return r, nil
}
