// Package target turns what a user names as scan targets — addresses, CIDRs,
// ranges, hostnames, host:port pairs, URLs, masscan and ZMap output — into a
// lazy, deduplicated stream of endpoints (IP address and TCP port) for the
// scanner.
//
// # Input syntax
//
// Every command-line argument and every line of a source is one entry:
//
//	192.0.2.7  2001:db8::7               one address (IPv4-mapped IPv6 is treated as IPv4)
//	192.0.2.0/24  2001:db8::/120         CIDR; host bits are ignored (192.0.2.9/24 = 192.0.2.0/24)
//	192.0.2.10-192.0.2.20  192.0.2.10-20 range, full or with a short last IPv4 octet
//	2001:db8::1-2001:db8::ff             IPv6 range (full form only)
//	mail.example.org                     hostname, resolved when the stream reaches it
//	mail.example.org:8443  192.0.2.7:443 host or IPv4 address with a port
//	[2001:db8::7]:443                    IPv6 address with a port (brackets required)
//	https://mail.example.org/owa         URL: scheme and port from the URL, path ignored
//	open tcp 443 192.0.2.7 1616161616    masscan -oL (only "open tcp" records are targets)
//	{ "ip": "192.0.2.7", "ports": [ {"port": 443, ...} ] },  masscan -oJ (also --ndjson, ZMap JSON)
//	saddr,sport,...  then  192.0.2.7,443,...                  ZMap CSV with its header line
//
// '#' starts a comment to the end of the line, except in JSON lines (JSON has
// no comments, and '#' is common inside masscan banners). Blank lines are
// allowed. Entries without a port of their own get every port of
// Options.Ports. The scheme is "http" for http:// URLs and port 80, else
// "https". A UTF-8 byte-order mark is skipped and UTF-16 files (what
// PowerShell's ">" writes) are decoded, because Exchange admins make target
// lists on Windows.
//
// # Streaming, dedup and memory
//
// Ranges are never materialised: a /8 is walked address by address while it
// is being consumed, without allocating. Each ip:port is emitted at most
// once: emitted addresses are remembered per port as merged intervals, so a
// /8 costs one interval, and 1,000,000 scattered single addresses cost 8-16
// MB for IPv4 (13 MB measured) or 32-64 MB for IPv6. Excludes are intervals
// too, subtracted from whole ranges before the walk, so exclusion and dedup
// cost nothing per address of a range and O(log n) per single-address line.
//
// Within one entry the order is port-major (all addresses on the first port,
// then on the next), so one host is not hit on all its ports at once. Entries
// are processed in input order: arguments first, then each source in turn.
package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"go4.org/netipx"
)

// Target is one endpoint to scan.
type Target struct {
	IP   netip.Addr // never zoned; IPv4 is always the 4-byte form
	Port uint16
	// Host is the hostname when the input named one (for TLS SNI and the
	// Host header); empty for address inputs.
	Host string
	// Scheme is "http" when the URL said so or the port is 80, else "https".
	Scheme string
	// Origin is "source:line" of the entry that produced this target, for
	// error messages ("targets.txt:17", "args:2").
	Origin string
}

// String returns the endpoint as "192.0.2.7:443" or "[2001:db8::7]:443".
// It always shows the address, not Host, because the address is what is
// dialled and what makes a target unique.
func (t Target) String() string { return t.AddrPort().String() }

// AddrPort returns the endpoint as a netip.AddrPort.
func (t Target) AddrPort() netip.AddrPort { return netip.AddrPortFrom(t.IP, t.Port) }

// Source is a named reader of target lines: a file, or stdin for "-i -".
type Source struct {
	Name   string // used in Origin and error messages, e.g. "targets.txt" or "stdin"
	Reader io.Reader
}

// Input is everything the user named as targets.
type Input struct {
	Args    []string // command-line targets, one entry each; read before Sources
	Sources []Source // read in order
}

// Resolver looks up hostnames. *net.Resolver satisfies it; tests inject a fake.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DefaultMaxAddresses is the default Options.MaxAddresses: an IPv4 /8 or an
// IPv6 /104.
const DefaultMaxAddresses = 1 << 24

// DefaultMaxLineBytes is the default Options.MaxLineBytes.
const DefaultMaxLineBytes = 4096

// Options configure parsing and expansion. The zero value is usable.
type Options struct {
	// Ports are used for entries that carry no port of their own.
	// Default [443]. Duplicates are dropped; 0 is an error.
	Ports []uint16
	// Exclude lists addresses that are never emitted, whatever the input
	// says (explicit host:port entries and resolved hostnames included).
	// Build it with ParseExcludes. Nil excludes nothing.
	Exclude *netipx.IPSet
	// AllAddresses emits every address a hostname resolves to; by default
	// only the first one the resolver returns.
	AllAddresses bool
	// ResolveNetwork is "ip" (default), "ip4" or "ip6".
	ResolveNetwork string
	// Resolver defaults to net.DefaultResolver.
	Resolver Resolver
	// ResolveTimeout bounds each lookup. Default 10s.
	ResolveTimeout time.Duration
	// MaxAddresses refuses (as a bad line) a range or CIDR with more
	// addresses than this, so a typo like /1 does not start a scan of half
	// the Internet. Default DefaultMaxAddresses (2^24).
	MaxAddresses uint64
	// MaxLineBytes makes longer lines bad lines. Default DefaultMaxLineBytes.
	MaxLineBytes int
	// Strict makes the first bad line a fatal error. Hostname lookup
	// failures are never fatal: they depend on the network, not the input.
	Strict bool
	// OnLineError, when set, is called for every bad line and failed lookup
	// that does not stop the stream. It runs on the consumer's goroutine.
	OnLineError func(*LineError)
}

// Stats count what a Stream has done so far. Endpoint counts are address × port.
type Stats struct {
	Lines      uint64 // lines and arguments read, blank and comment lines included
	BadLines   uint64 // lines skipped: unparsable or over a limit
	Unresolved uint64 // hostnames whose lookup failed or returned no usable address
	// Ignored counts lines understood but naming no target: masscan closed,
	// banner and non-TCP records, ZMap headers and failed probes, JSON brackets.
	Ignored    uint64
	Excluded   uint64 // endpoints dropped by Options.Exclude
	Duplicates uint64 // endpoints skipped because they were already emitted
	Emitted    uint64 // endpoints handed to the consumer
}

// Estimate is what Count found.
type Estimate struct {
	// Endpoints is how many targets the stream would emit, after excludes
	// and dedup. Each hostname line counts as one address per port, since
	// lookups are not done; saturates at math.MaxUint64.
	Endpoints uint64
	// HostLines is the number of hostname entries counted that way.
	HostLines uint64
	// Exact is true when Endpoints is exact: no hostname entries. (It also
	// assumes the sources do not change before they are streamed.)
	Exact bool
	Stats Stats // Lines, BadLines, Ignored, Excluded and Duplicates as counted
}

// Sentinels for the problems a caller may want to tell apart (errors.Is on a
// LineError). Other problems (a bad port, a reversed range, an unsupported
// URL scheme, a malformed masscan or ZMap record) carry only a message.
var (
	ErrSyntax       = errors.New("not an IP address, CIDR, range, host or URL")
	ErrTooLarge     = errors.New("range too large")
	ErrLineTooLong  = errors.New("line too long")
	ErrUnresolved   = errors.New("hostname not resolved")
	ErrNotExcluding = errors.New("excludes take addresses, CIDRs or ranges only")
)

// LineError is a problem with one entry.
type LineError struct {
	Source string // Source.Name, or "args"
	Line   int    // 1-based line or argument number
	Input  string // the entry, trimmed and capped for display
	Err    error
}

func (e *LineError) Error() string {
	return fmt.Sprintf("%s:%d: %q: %v", e.Source, e.Line, e.Input, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// OpenSource opens a "-i" argument: "-" is stdin (named "stdin"), anything
// else a file. The caller must call closeSource when done.
func OpenSource(path string, stdin io.Reader) (src Source, closeSource func() error, err error) {
	if path == "-" {
		return Source{Name: "stdin", Reader: stdin}, func() error { return nil }, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return Source{}, nil, err
	}
	return Source{Name: path, Reader: f}, f.Close, nil
}

// normalize fills defaults and validates opts.
func (opts Options) normalize() (Options, error) {
	if len(opts.Ports) == 0 {
		opts.Ports = []uint16{443}
	} else {
		// Copy before dropping duplicates: the caller's slice stays theirs.
		ports := make([]uint16, 0, len(opts.Ports))
		seen := map[uint16]bool{}
		for _, p := range opts.Ports {
			if p == 0 {
				return opts, errors.New("target: port 0 in Options.Ports")
			}
			if !seen[p] {
				seen[p] = true
				ports = append(ports, p)
			}
		}
		opts.Ports = ports
	}
	switch opts.ResolveNetwork {
	case "":
		opts.ResolveNetwork = "ip"
	case "ip", "ip4", "ip6":
	default:
		return opts, fmt.Errorf("target: ResolveNetwork %q, want ip, ip4 or ip6", opts.ResolveNetwork)
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	if opts.ResolveTimeout <= 0 {
		opts.ResolveTimeout = 10 * time.Second
	}
	if opts.MaxAddresses == 0 {
		opts.MaxAddresses = DefaultMaxAddresses
	}
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = DefaultMaxLineBytes
	}
	return opts, nil
}

// describeLimit says what a limit of n addresses means in prefix lengths,
// for the "split it" advice.
func describeLimit(n uint64) string {
	bits := 0
	for v := n; v > 1; v >>= 1 {
		bits++
	}
	if n != 1<<bits {
		return strconv.FormatUint(n, 10)
	}
	s := strconv.FormatUint(n, 10) + " (an IPv6 /" + strconv.Itoa(128-bits)
	if bits <= 32 {
		s += " or an IPv4 /" + strconv.Itoa(32-bits)
	}
	return s + ")"
}
