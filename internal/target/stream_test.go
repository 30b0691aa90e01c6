package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go4.org/netipx"
)

// fakeResolver answers from a table; a missing name fails like DNS does.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	list, ok := f[host]
	if !ok {
		return nil, fmt.Errorf("lookup %s: no such host", host)
	}
	var out []netip.Addr
	for _, s := range list {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

var contoso = fakeResolver{
	"mail.contoso.example":         {"198.51.100.10", "2001:db8::10"},
	"owa.contoso.example":          {"198.51.100.11"},
	"autodiscover.contoso.example": {"198.51.100.12"},
	"dual.contoso.example":         {"2001:db8::20", "::ffff:198.51.100.20", "198.51.100.20"},
}

// show renders a target compactly for diffs: "scheme ip:port host @origin".
func show(t Target) string {
	s := t.Scheme + " " + t.String()
	if t.Host != "" {
		s += " " + t.Host
	}
	return s + " @" + t.Origin
}

type result struct {
	Targets []string
	Errors  []string // reported bad lines, in order
	Fatal   string
	Stats   Stats
}

// run streams in with opts (Resolver defaults to contoso) and collects
// everything.
func run(t *testing.T, in Input, opts Options) result {
	t.Helper()
	if opts.Resolver == nil {
		opts.Resolver = contoso
	}
	var res result
	opts.OnLineError = func(le *LineError) { res.Errors = append(res.Errors, le.Error()) }
	s, err := NewStream(in, opts)
	if err != nil {
		t.Fatalf("NewStream: %v", err)
	}
	for tg, err := range s.All(context.Background()) {
		if err != nil {
			res.Fatal = err.Error()
			continue
		}
		res.Targets = append(res.Targets, show(tg))
	}
	res.Stats = s.Stats()
	return res
}

func args(a ...string) Input { return Input{Args: a} }

func text(name, body string) Input {
	return Input{Sources: []Source{{Name: name, Reader: strings.NewReader(body)}}}
}

func file(t *testing.T, names ...string) Input {
	t.Helper()
	var in Input
	for _, n := range names {
		f, err := os.Open(filepath.Join("testdata", n))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		in.Sources = append(in.Sources, Source{Name: n, Reader: f})
	}
	return in
}

func excludes(t *testing.T, entries ...string) *netipx.IPSet {
	t.Helper()
	set, err := ParseExcludes(entries)
	if err != nil {
		t.Fatalf("ParseExcludes: %v", err)
	}
	return set
}

func TestStreamSyntaxes(t *testing.T) {
	tests := []struct {
		name string
		in   Input
		opts Options
		want []string
	}{
		{
			name: "address gets the default port",
			in:   args("192.0.2.7"),
			want: []string{"https 192.0.2.7:443 @args:1"},
		},
		{
			name: "ports option, port 80 is http, port-major order",
			in:   args("192.0.2.6-7"),
			opts: Options{Ports: []uint16{443, 80, 443}},
			want: []string{
				"https 192.0.2.6:443 @args:1", "https 192.0.2.7:443 @args:1",
				"http 192.0.2.6:80 @args:1", "http 192.0.2.7:80 @args:1",
			},
		},
		{
			name: "CIDRs and ranges",
			in:   args("192.0.2.4/30", "2001:db8::fe-2001:db8::101", "192.0.2.255-192.0.3.0"),
			want: []string{
				"https 192.0.2.4:443 @args:1", "https 192.0.2.5:443 @args:1", "https 192.0.2.6:443 @args:1", "https 192.0.2.7:443 @args:1",
				"https [2001:db8::fe]:443 @args:2", "https [2001:db8::ff]:443 @args:2", "https [2001:db8::100]:443 @args:2", "https [2001:db8::101]:443 @args:2",
				"https 192.0.2.255:443 @args:3", "https 192.0.3.0:443 @args:3",
			},
		},
		{
			name: "explicit ports override the ports option",
			in:   args("192.0.2.7:8443", "[2001:db8::7]:80", "owa.contoso.example:4443"),
			opts: Options{Ports: []uint16{443, 444}},
			want: []string{
				"https 192.0.2.7:8443 @args:1",
				"http [2001:db8::7]:80 @args:2",
				"https 198.51.100.11:4443 owa.contoso.example @args:3",
			},
		},
		{
			name: "URLs set scheme and port",
			in:   args("https://owa.contoso.example/owa/", "http://owa.contoso.example:8080/x", "http://192.0.2.7/", "https://192.0.2.7:8080/"),
			want: []string{
				"https 198.51.100.11:443 owa.contoso.example @args:1",
				"http 198.51.100.11:8080 owa.contoso.example @args:2",
				"http 192.0.2.7:80 @args:3",
				"https 192.0.2.7:8080 @args:4",
			},
		},
		{
			name: "hostname: first address only",
			in:   args("mail.contoso.example"),
			want: []string{"https 198.51.100.10:443 mail.contoso.example @args:1"},
		},
		{
			name: "hostname: every address, mapped and repeated ones folded",
			in:   args("mail.contoso.example", "dual.contoso.example"),
			opts: Options{AllAddresses: true},
			want: []string{
				"https 198.51.100.10:443 mail.contoso.example @args:1",
				"https [2001:db8::10]:443 mail.contoso.example @args:1",
				"https [2001:db8::20]:443 dual.contoso.example @args:2",
				"https 198.51.100.20:443 dual.contoso.example @args:2",
			},
		},
		{
			name: "hostname: IPv4 only",
			in:   args("dual.contoso.example"),
			opts: Options{ResolveNetwork: "ip4"},
			want: []string{"https 198.51.100.20:443 dual.contoso.example @args:1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, tt.in, tt.opts)
			if diff := cmp.Diff(tt.want, got.Targets); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
			if got.Errors != nil || got.Fatal != "" {
				t.Errorf("errors %q, fatal %q", got.Errors, got.Fatal)
			}
		})
	}
}

func TestStreamFiles(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		opts  Options
		want  result
	}{
		{
			name:  "masscan -oL",
			files: []string{"masscan-oL.txt"},
			want: result{
				Targets: []string{
					"https 198.51.100.23:443 @masscan-oL.txt:2",
					"https 203.0.113.7:443 @masscan-oL.txt:3",
					"http 198.51.100.23:80 @masscan-oL.txt:5",
					"https [2001:db8::25]:443 @masscan-oL.txt:8",
				},
				Stats: Stats{Lines: 10, Ignored: 3, Duplicates: 1, Emitted: 4},
			},
		},
		{
			name:  "masscan -oJ",
			files: []string{"masscan-oJ.json"},
			want: result{
				Targets: []string{
					"https 198.51.100.23:443 @masscan-oJ.json:2",
					"https 203.0.113.7:8443 @masscan-oJ.json:4",
					"https [2001:db8::25]:443 @masscan-oJ.json:10",
				},
				Stats: Stats{Lines: 11, Ignored: 7, Duplicates: 1, Emitted: 3},
			},
		},
		{
			name:  "masscan -oJ, old style",
			files: []string{"masscan-oJ-old.json"},
			want: result{
				Targets: []string{
					"https 198.51.100.23:443 @masscan-oJ-old.json:2",
					"http 198.51.100.24:80 @masscan-oJ-old.json:3",
				},
				Stats: Stats{Lines: 5, Ignored: 3, Emitted: 2},
			},
		},
		{
			name:  "masscan --ndjson",
			files: []string{"masscan.ndjson"},
			want: result{
				Targets: []string{"https 198.51.100.23:443 @masscan.ndjson:1"},
				Stats:   Stats{Lines: 3, Ignored: 1, Duplicates: 1, Emitted: 1},
			},
		},
		{
			name:  "zmap IP list with the ports option",
			files: []string{"zmap-ips.txt"},
			opts:  Options{Ports: []uint16{443, 8443}},
			want: result{
				Targets: []string{
					"https 198.51.100.23:443 @zmap-ips.txt:1", "https 198.51.100.23:8443 @zmap-ips.txt:1",
					"https 203.0.113.7:443 @zmap-ips.txt:2", "https 203.0.113.7:8443 @zmap-ips.txt:2",
					"https 198.51.100.24:443 @zmap-ips.txt:3", "https 198.51.100.24:8443 @zmap-ips.txt:3",
				},
				Stats: Stats{Lines: 3, Emitted: 6},
			},
		},
		{
			name:  "zmap CSV with sport and success",
			files: []string{"zmap.csv"},
			want: result{
				Targets: []string{
					"https 198.51.100.23:443 @zmap.csv:2",
					"https 203.0.113.7:8443 @zmap.csv:4",
				},
				Stats: Stats{Lines: 4, Ignored: 2, Emitted: 2},
			},
		},
		{
			name:  "zmap CSV with dport only: ports option",
			files: []string{"zmap-dport.csv"},
			opts:  Options{Ports: []uint16{444}},
			want: result{
				Targets: []string{"https 198.51.100.23:444 @zmap-dport.csv:2"},
				Stats:   Stats{Lines: 2, Ignored: 1, Emitted: 1},
			},
		},
		{
			name:  "hand-written list with a bad line and a repeat",
			files: []string{"targets.txt"},
			want: result{
				Targets: []string{
					"https 192.0.2.10:443 @targets.txt:2",
					"https 192.0.2.16:443 @targets.txt:3", "https 192.0.2.17:443 @targets.txt:3",
					"https 192.0.2.18:443 @targets.txt:3", "https 192.0.2.19:443 @targets.txt:3",
					"https 192.0.2.40:443 @targets.txt:4", "https 192.0.2.41:443 @targets.txt:4", "https 192.0.2.42:443 @targets.txt:4",
					"https [2001:db8::1]:443 @targets.txt:5", "https [2001:db8::2]:443 @targets.txt:5",
					"https 198.51.100.10:443 mail.contoso.example @targets.txt:7",
					"https 198.51.100.11:8443 owa.contoso.example @targets.txt:8",
					"https 198.51.100.12:443 autodiscover.contoso.example @targets.txt:9",
					"http 192.0.2.80:80 @targets.txt:10",
					"https [2001:db8::443]:4443 @targets.txt:11",
				},
				Errors: []string{`targets.txt:12: "10.0.0.300": not an IP address, CIDR, range, host or URL`},
				Stats:  Stats{Lines: 13, BadLines: 1, Duplicates: 1, Emitted: 15},
			},
		},
		{
			name:  "several sources in order, dedup across them",
			files: []string{"zmap-ips.txt", "masscan-oL.txt"},
			want: result{
				Targets: []string{
					"https 198.51.100.23:443 @zmap-ips.txt:1",
					"https 203.0.113.7:443 @zmap-ips.txt:2",
					"https 198.51.100.24:443 @zmap-ips.txt:3",
					"http 198.51.100.23:80 @masscan-oL.txt:5",
					"https [2001:db8::25]:443 @masscan-oL.txt:8",
				},
				Stats: Stats{Lines: 13, Ignored: 3, Duplicates: 3, Emitted: 5},
			},
		},
		{
			name:  "exclude file applied",
			files: []string{"targets.txt"},
			opts:  Options{Exclude: excludeFile(t, "exclude.txt")},
			want: result{
				Targets: []string{
					"https 192.0.2.10:443 @targets.txt:2",
					"https 192.0.2.16:443 @targets.txt:3",
					"https 192.0.2.18:443 @targets.txt:3", "https 192.0.2.19:443 @targets.txt:3",
					"https 192.0.2.40:443 @targets.txt:4", "https 192.0.2.42:443 @targets.txt:4",
					"https [2001:db8::1]:443 @targets.txt:5",
					"https 198.51.100.10:443 mail.contoso.example @targets.txt:7",
					"https 198.51.100.11:8443 owa.contoso.example @targets.txt:8",
					"https 198.51.100.12:443 autodiscover.contoso.example @targets.txt:9",
					"http 192.0.2.80:80 @targets.txt:10",
					"https [2001:db8::443]:4443 @targets.txt:11",
				},
				Errors: []string{`targets.txt:12: "10.0.0.300": not an IP address, CIDR, range, host or URL`},
				Stats:  Stats{Lines: 13, BadLines: 1, Excluded: 3, Duplicates: 1, Emitted: 12},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, file(t, tt.files...), tt.opts)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func excludeFile(t *testing.T, name string) *netipx.IPSet {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set, err := ParseExcludes(nil, Source{Name: name, Reader: f})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestExcludesWin(t *testing.T) {
	tests := []struct {
		name    string
		in      Input
		exclude []string
		opts    Options
		want    []string
		stats   Stats
	}{
		{
			name:    "CIDR minus excluded range and address",
			in:      args("192.0.2.0/29"),
			exclude: []string{"192.0.2.1-3", "192.0.2.6"},
			want:    []string{"https 192.0.2.0:443 @args:1", "https 192.0.2.4:443 @args:1", "https 192.0.2.5:443 @args:1", "https 192.0.2.7:443 @args:1"},
			stats:   Stats{Lines: 1, Excluded: 4, Emitted: 4},
		},
		{
			name:    "excluded on every port",
			in:      args("192.0.2.0/31"),
			exclude: []string{"192.0.2.1"},
			opts:    Options{Ports: []uint16{443, 80}},
			want:    []string{"https 192.0.2.0:443 @args:1", "http 192.0.2.0:80 @args:1"},
			stats:   Stats{Lines: 1, Excluded: 2, Emitted: 2},
		},
		{
			name:    "wins over explicit host:port, URL and masscan record",
			in:      args("192.0.2.7:8443", "https://192.0.2.7:4443/owa", "open tcp 443 192.0.2.7 1616161616", "[2001:db8::7]:443"),
			exclude: []string{"192.0.2.0/24", "2001:db8::/64"},
			stats:   Stats{Lines: 4, Excluded: 4},
		},
		{
			name:    "wins over resolved hostnames",
			in:      args("mail.contoso.example", "owa.contoso.example:8443"),
			exclude: []string{"198.51.100.10", "198.51.100.11"},
			opts:    Options{AllAddresses: true},
			want:    []string{"https [2001:db8::10]:443 mail.contoso.example @args:1"},
			stats:   Stats{Lines: 2, Excluded: 2, Emitted: 1},
		},
		{
			name:    "mapped IPv4 in the exclude list excludes IPv4",
			in:      args("192.0.2.7", "::ffff:192.0.2.8"),
			exclude: []string{"::ffff:192.0.2.0/120"},
			stats:   Stats{Lines: 2, Excluded: 2},
		},
		{
			name:    "everything excluded",
			in:      args("0.0.0.0/8"),
			exclude: []string{"0.0.0.0/0"},
			stats:   Stats{Lines: 1, Excluded: 1 << 24},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Exclude = excludes(t, tt.exclude...)
			got := run(t, tt.in, tt.opts)
			if diff := cmp.Diff(tt.want, got.Targets); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.stats, got.Stats); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExcludeSetBuiltByCaller(t *testing.T) {
	// A caller-built set may hold IPv4-mapped ranges straddling the
	// mapped block; their IPv4 part must still be excluded.
	var b netipx.IPSetBuilder
	b.AddRange(netipx.IPRangeFrom(netip.MustParseAddr("::fffe:ffff:ffff"), netip.MustParseAddr("::ffff:192.0.2.1")))
	b.Add(netip.MustParseAddr("::ffff:192.0.2.3"))
	set, err := b.IPSet()
	if err != nil {
		t.Fatal(err)
	}
	got := run(t, args("192.0.2.0/30", "0.0.0.0"), Options{Exclude: set})
	want := []string{"https 192.0.2.2:443 @args:1"}
	if diff := cmp.Diff(want, got.Targets); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
}

func TestParseExcludes(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		file    string
		want    []string // prefixes of the set
		wantErr string
	}{
		{
			name: "flags and file with comments",
			args: []string{"192.0.2.0/25", "192.0.2.128-255", " # nothing"},
			file: "# opt-out\n\n2001:db8::/48 # them\n198.51.100.7\n",
			want: []string{"192.0.2.0/24", "198.51.100.7/32", "2001:db8::/48"},
		},
		{
			name:    "hostname refused",
			file:    "192.0.2.0/24\nmail.contoso.example\n",
			wantErr: `exclude.txt:2: "mail.contoso.example": excludes take addresses, CIDRs or ranges only`,
		},
		{
			name:    "port refused",
			args:    []string{"192.0.2.7:443"},
			wantErr: `exclude args:1: "192.0.2.7:443": excludes take addresses, CIDRs or ranges only`,
		},
		{
			name:    "bad line is fatal",
			file:    "192.0.2.0/24\n\n192.0.2.300\n",
			wantErr: `exclude.txt:3: "192.0.2.300": not an IP address, CIDR, range, host or URL`,
		},
		{
			name:    "long line is fatal",
			file:    strings.Repeat("1", 5000) + "\n",
			wantErr: `exclude.txt:1: "` + strings.Repeat("1", 64) + `…": line too long`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var srcs []Source
			if tt.file != "" {
				srcs = append(srcs, Source{Name: "exclude.txt", Reader: strings.NewReader(tt.file)})
			}
			set, err := ParseExcludes(tt.args, srcs...)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range set.Prefixes() {
				got = append(got, p.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("prefixes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDedup(t *testing.T) {
	tests := []struct {
		name  string
		in    Input
		opts  Options
		want  int
		stats Stats
	}{
		{
			name:  "repeated lines",
			in:    text("t.txt", "192.0.2.7\n192.0.2.7\n192.0.2.7:443\nhttps://192.0.2.7/\nopen tcp 443 192.0.2.7 1\n"),
			want:  1,
			stats: Stats{Lines: 5, Duplicates: 4, Emitted: 1},
		},
		{
			name:  "same address on other ports is not a duplicate",
			in:    args("192.0.2.7", "192.0.2.7:8443", "http://192.0.2.7/"),
			want:  3,
			stats: Stats{Lines: 3, Emitted: 3},
		},
		{
			name:  "overlapping CIDRs and ranges",
			in:    args("10.0.0.0/24", "10.0.0.128/25", "10.0.0.250-10.0.1.9", "10.0.1.0/28", "10.0.0.0/23"),
			want:  512,
			stats: Stats{Lines: 5, Duplicates: 128 + 6 + 16 + 256 + 16 - 6, Emitted: 512},
		},
		{
			name:  "singles then the CIDR that covers them",
			in:    args("10.0.0.5", "10.0.0.9", "10.0.0.0/28", "10.0.0.9"),
			want:  16,
			stats: Stats{Lines: 4, Duplicates: 3, Emitted: 16},
		},
		{
			name:  "IPv6 overlaps",
			in:    args("2001:db8::/120", "2001:db8::80-2001:db8::17f", "[2001:db8::100]:443"),
			want:  384,
			stats: Stats{Lines: 3, Duplicates: 128 + 1, Emitted: 384},
		},
		{
			name:  "hostname resolving to a listed address",
			in:    args("198.51.100.10", "mail.contoso.example"),
			want:  1,
			stats: Stats{Lines: 2, Duplicates: 1, Emitted: 1},
		},
		{
			name:  "edges of the address space",
			in:    args("255.255.255.254-255.255.255.255", "255.255.255.255", "0.0.0.0-0.0.0.1", "0.0.0.0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/127", "::"),
			want:  8,
			stats: Stats{Lines: 8, Duplicates: 4, Emitted: 8},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, tt.in, tt.opts)
			if len(got.Targets) != tt.want {
				t.Errorf("got %d targets, want %d", len(got.Targets), tt.want)
			}
			seen := map[string]bool{}
			for _, s := range got.Targets {
				k := strings.Fields(s)[1]
				if seen[k] {
					t.Errorf("%s emitted twice", k)
				}
				seen[k] = true
			}
			if diff := cmp.Diff(tt.stats, got.Stats); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBadLines(t *testing.T) {
	input := strings.Join([]string{
		"# targets",
		"192.0.2.1",
		"10.0.0.300",
		"10.0.0.0/7",
		"192.0.2.9-1",
		"ftp://mail.contoso.example/",
		strings.Repeat("x", 5000),
		"192.0.2.2:99999",
		"nosuch.contoso.example",
		"192.0.2.3",
	}, "\n")
	want := result{
		Targets: []string{"https 192.0.2.1:443 @list.txt:2", "https 192.0.2.3:443 @list.txt:10"},
		Errors: []string{
			`list.txt:3: "10.0.0.300": not an IP address, CIDR, range, host or URL`,
			`list.txt:4: "10.0.0.0/7": range too large: 33554432 addresses, more than the limit of 16777216 (an IPv6 /104 or an IPv4 /8); split it into smaller ranges or raise the limit`,
			`list.txt:5: "192.0.2.9-1": range start 192.0.2.9 is after its end 192.0.2.1`,
			`list.txt:6: "ftp://mail.contoso.example/": unsupported URL scheme "ftp" (want http or https)`,
			`list.txt:7: "` + strings.Repeat("x", 64) + `…": line too long: more than 4096 bytes`,
			`list.txt:8: "192.0.2.2:99999": invalid port "99999" (want 1-65535)`,
			`list.txt:9: "nosuch.contoso.example": hostname not resolved: lookup nosuch.contoso.example: no such host`,
		},
		Stats: Stats{Lines: 10, BadLines: 6, Unresolved: 1, Emitted: 2},
	}
	got := run(t, text("list.txt", input), Options{})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestStrict(t *testing.T) {
	tests := []struct {
		name      string
		in        Input
		want      []string
		wantFatal string
		wantLine  int
	}{
		{
			name:      "first bad line stops the stream",
			in:        text("t.txt", "192.0.2.1\n\n192.0.2.300\n192.0.2.2\nalso bad!\n"),
			want:      []string{"https 192.0.2.1:443 @t.txt:1"},
			wantFatal: `t.txt:3: "192.0.2.300": not an IP address, CIDR, range, host or URL`,
			wantLine:  3,
		},
		{
			name:      "bad argument",
			in:        Input{Args: []string{"192.0.2.1", "192.0.2.0/7"}, Sources: []Source{{Name: "t.txt", Reader: strings.NewReader("192.0.2.2\n")}}},
			want:      []string{"https 192.0.2.1:443 @args:1"},
			wantFatal: `args:2: "192.0.2.0/7": range too large: 33554432 addresses, more than the limit of 16777216 (an IPv6 /104 or an IPv4 /8); split it into smaller ranges or raise the limit`,
			wantLine:  2,
		},
		{
			name: "lookup failure is not fatal",
			in:   text("t.txt", "nosuch.contoso.example\n192.0.2.2\n"),
			want: []string{"https 192.0.2.2:443 @t.txt:2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewStream(tt.in, Options{Strict: true, Resolver: contoso})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			var fatal error
			for tg, err := range s.All(context.Background()) {
				if err != nil {
					fatal = err
					continue
				}
				got = append(got, show(tg))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
			if tt.wantFatal == "" {
				if fatal != nil {
					t.Fatalf("fatal error %v", fatal)
				}
				return
			}
			var le *LineError
			if !errors.As(fatal, &le) || fatal.Error() != tt.wantFatal || le.Line != tt.wantLine {
				t.Fatalf("fatal = %v, want %q at line %d", fatal, tt.wantFatal, tt.wantLine)
			}
			// Count reports the same error, so the app can fail before scanning.
			if tt.in.Sources != nil {
				return // readers consumed
			}
			if _, err := Count(context.Background(), tt.in, Options{Strict: true}); err == nil || err.Error() != tt.wantFatal {
				t.Errorf("Count error = %v, want %q", err, tt.wantFatal)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name    string
		entry   string
		max     uint64
		wantErr string // "" = accepted
	}{
		{name: "IPv4 /8 accepted", entry: "10.0.0.0/8"},
		{name: "IPv4 /7 refused", entry: "10.0.0.0/7", wantErr: "range too large: 33554432 addresses"},
		{name: "IPv6 /104 accepted", entry: "2001:db8::/104"},
		{name: "IPv6 /103 refused", entry: "2001:db8::/103", wantErr: "range too large: 33554432 addresses"},
		{name: "IPv6 /0 refused without overflow", entry: "::/0", wantErr: "range too large: 18446744073709551615 addresses"},
		{name: "range over the limit", entry: "10.0.0.0-11.0.0.0", wantErr: "range too large: 16777217 addresses"},
		{name: "lower limit", entry: "10.0.0.0/24", max: 100, wantErr: "more than the limit of 100;"},
		{name: "lower power-of-two limit", entry: "10.0.0.0/24", max: 128, wantErr: "more than the limit of 128 (an IPv6 /121 or an IPv4 /25)"},
		{name: "higher limit", entry: "10.0.0.0/7", max: 1 << 25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			est, err := Count(context.Background(), args(tt.entry), Options{Strict: true, MaxAddresses: tt.max})
			if tt.wantErr == "" {
				if err != nil || est.Endpoints == 0 {
					t.Fatalf("Count = %+v, %v; want accepted", est, err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want ErrTooLarge containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestLineLengthCap(t *testing.T) {
	long := strings.Repeat("9", 4097)
	input := "192.0.2.1\n" + strings.Repeat("1", 4096) + "\n" + long + "\r\n" + long + "\n192.0.2.2"
	got := run(t, text("t.txt", input), Options{})
	want := []string{"https 192.0.2.1:443 @t.txt:1", "https 192.0.2.2:443 @t.txt:5"}
	if diff := cmp.Diff(want, got.Targets); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	// Line 2 is exactly at the cap, so it is parsed (and is no target);
	// lines 3 and 4 are over it.
	if got.Stats.BadLines != 3 || len(got.Errors) != 3 ||
		!strings.Contains(got.Errors[0], "t.txt:2:") || !strings.Contains(got.Errors[0], ErrSyntax.Error()) ||
		!strings.Contains(got.Errors[1], "t.txt:3:") || !strings.Contains(got.Errors[1], "line too long") ||
		!strings.Contains(got.Errors[2], "t.txt:4:") || !strings.Contains(got.Errors[2], "line too long") {
		t.Errorf("errors = %q, stats %+v", got.Errors, got.Stats)
	}
	// Arguments are capped too, and a small cap still works.
	got = run(t, args(strings.Repeat("a", 20)+".example", "192.0.2.3"), Options{MaxLineBytes: 16})
	if len(got.Targets) != 1 || len(got.Errors) != 1 || !strings.Contains(got.Errors[0], "more than 16 bytes") {
		t.Errorf("small cap: targets %q errors %q", got.Targets, got.Errors)
	}
}

func TestEncodings(t *testing.T) {
	utf16le := func(s string, bom []byte, bigEndian bool) string {
		b := append([]byte{}, bom...)
		for _, r := range s {
			if bigEndian {
				b = append(b, byte(r>>8), byte(r))
			} else {
				b = append(b, byte(r), byte(r>>8))
			}
		}
		return string(b)
	}
	body := "# list\r\n192.0.2.1\r\nmail.contoso.example\r\n"
	want := []string{"https 192.0.2.1:443 @f:2", "https 198.51.100.10:443 mail.contoso.example @f:3"}
	tests := []struct {
		name string
		data string
	}{
		{"UTF-8", body},
		{"UTF-8 with BOM", "\xEF\xBB\xBF" + body},
		{"UTF-16LE (PowerShell >)", utf16le(body, []byte{0xFF, 0xFE}, false)},
		{"UTF-16BE", utf16le(body, []byte{0xFE, 0xFF}, true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte at a time, so decoding across reads is exercised.
			in := Input{Sources: []Source{{Name: "f", Reader: &oneByteReader{s: tt.data}}}}
			got := run(t, in, Options{})
			if diff := cmp.Diff(want, got.Targets); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
			if got.Errors != nil {
				t.Errorf("errors %q", got.Errors)
			}
		})
	}
}

type oneByteReader struct{ s string }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.s[0]
	r.s = r.s[1:]
	return 1, nil
}

func TestUTF16Surrogates(t *testing.T) {
	// "😀\n" as UTF-16LE: a surrogate pair split across reads, then a lone
	// surrogate and an odd trailing byte, which become U+FFFD.
	data := []byte{0xFF, 0xFE, 0x3D, 0xD8, 0x00, 0xDE, '\n', 0, 0x3D, 0xD8, 'a', 0, 0x41}
	lr := newLineReader(&oneByteReader{s: string(data)}, 100)
	var got []string
	for {
		text, _, ok := lr.next()
		if !ok {
			break
		}
		got = append(got, text)
	}
	want := []string{"😀", "\uFFFDa\uFFFD"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

type failingReader struct{ data string }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, errors.New("disk on fire")
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadError(t *testing.T) {
	got := run(t, Input{Sources: []Source{{Name: "t.txt", Reader: &failingReader{data: "192.0.2.1\n192.0.2.2\n192.0.2."}}}}, Options{})
	want := result{
		Targets: []string{"https 192.0.2.1:443 @t.txt:1", "https 192.0.2.2:443 @t.txt:2"},
		Fatal:   "t.txt:3: disk on fire",
		Stats:   Stats{Lines: 2, Emitted: 2},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestCount(t *testing.T) {
	tests := []struct {
		name string
		in   Input
		opts Options
		want Estimate
	}{
		{
			name: "CIDRs with overlap, excludes and ports, exact",
			in:   args("10.0.0.0/8", "10.1.0.0/16", "192.0.2.0/24", "192.0.2.7:8443", "2001:db8::/120", "bad entry"),
			opts: Options{Ports: []uint16{443, 80}, Exclude: excludes(t, "10.2.0.0/16", "192.0.2.0/25")},
			want: Estimate{
				// 192.0.2.7:8443 is excluded too.
				Endpoints: 2*(1<<24-1<<16) + 2*128 + 2*256,
				Exact:     true,
				Stats:     Stats{Lines: 6, BadLines: 1, Excluded: 2*1<<16 + 2*128 + 1, Duplicates: 2 * 1 << 16},
			},
		},
		{
			name: "hostnames are estimates",
			in:   args("mail.contoso.example", "owa.contoso.example:8443", "192.0.2.1"),
			opts: Options{Ports: []uint16{443, 80}},
			want: Estimate{Endpoints: 2 + 1 + 2, HostLines: 2, Stats: Stats{Lines: 3}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Count(context.Background(), tt.in, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCountMatchesStream checks Count against the stream on inputs with
// every kind of overlap.
func TestCountMatchesStream(t *testing.T) {
	in := []string{
		"192.0.2.0/24", "192.0.2.128/25", "192.0.2.100-192.0.3.20", "192.0.2.5", "192.0.2.5:80",
		"open tcp 443 192.0.3.1 1", "2001:db8::/120", "2001:db8::f0-2001:db8::1ff", "https://[2001:db8::1]/",
	}
	opts := Options{Ports: []uint16{443, 80}, Exclude: excludes(t, "192.0.2.64/26", "2001:db8::100-2001:db8::17f")}
	est, err := Count(context.Background(), args(in...), opts)
	if err != nil {
		t.Fatal(err)
	}
	got := run(t, args(in...), opts)
	if !est.Exact || est.Endpoints != uint64(len(got.Targets)) || est.Endpoints != got.Stats.Emitted {
		t.Errorf("Count = %+v, stream emitted %d (%d collected)", est, got.Stats.Emitted, len(got.Targets))
	}
	if est.Stats.Excluded != got.Stats.Excluded || est.Stats.Duplicates != got.Stats.Duplicates {
		t.Errorf("Count stats %+v, stream stats %+v", est.Stats, got.Stats)
	}
}

func TestOptionsValidation(t *testing.T) {
	if _, err := NewStream(Input{}, Options{Ports: []uint16{443, 0}}); err == nil {
		t.Error("port 0 accepted")
	}
	if _, err := NewStream(Input{}, Options{ResolveNetwork: "tcp"}); err == nil {
		t.Error("ResolveNetwork tcp accepted")
	}
	ports := []uint16{80, 443, 80}
	if _, err := NewStream(Input{}, Options{Ports: ports}); err != nil || ports[2] != 80 {
		t.Errorf("err %v, caller's ports changed to %v", err, ports)
	}
	s, _ := NewStream(Input{Sources: []Source{{Name: "nil"}}}, Options{})
	for _, err := range s.All(context.Background()) {
		if err == nil || !strings.Contains(err.Error(), `source "nil" has no reader`) {
			t.Errorf("nil reader: %v", err)
		}
	}
}

func TestIterateOnce(t *testing.T) {
	s, err := NewStream(args("192.0.2.1"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range s.All(context.Background()) {
	}
	n := 0
	for _, err := range s.All(context.Background()) {
		n++
		if err == nil {
			t.Error("second iteration yielded a target")
		}
	}
	if n != 1 {
		t.Errorf("second iteration yielded %d times, want one error", n)
	}
}

func TestOpenSource(t *testing.T) {
	stdin := strings.NewReader("192.0.2.1\n")
	src, closeFn, err := OpenSource("-", stdin)
	if err != nil || src.Name != "stdin" || src.Reader != stdin {
		t.Fatalf("OpenSource(-) = %+v, %v", src, err)
	}
	closeFn()
	src, closeFn, err = OpenSource(filepath.Join("testdata", "zmap-ips.txt"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := run(t, Input{Sources: []Source{src}}, Options{})
	closeFn()
	if len(got.Targets) != 3 || !strings.HasSuffix(got.Targets[0], "@testdata/zmap-ips.txt:1") {
		t.Errorf("targets %q", got.Targets)
	}
	if _, _, err := OpenSource(filepath.Join("testdata", "missing"), nil); err == nil {
		t.Error("missing file opened")
	}
}
