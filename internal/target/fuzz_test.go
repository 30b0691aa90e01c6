package target

import (
	"bufio"
	"context"
	"hash/fnv"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fuzzSeeds are lines of every syntax, from the testdata files and a few
// edge cases.
func fuzzSeeds(f *testing.F) []string {
	seeds := []string{
		"192.0.2.7", "2001:db8::7", "::ffff:192.0.2.7", "10.0.0.0/24", "2001:db8::/120",
		"10.0.0.1-10.0.0.5", "10.0.0.1-5", "2001:db8::1-2001:db8::ff", "mail.contoso.example",
		"mail.contoso.example:8443", "[2001:db8::7]:443", "https://mail.contoso.example/owa",
		"http://[2001:db8::7]:8080/", "10.0.0.300", "fe80::1%eth0", "saddr", "saddr.", "saddr, sport",
		`{"ip":"192.0.2.7","ports":[{"port":443},{"port":80}]}`, `{"saddr":"192.0.2.7","sport":443,"success":1}`,
		"open tcp 443 192.0.2.7 1616161616", "[", "],", "{finished: 1}", "\xEF\xBB\xBF192.0.2.7",
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			seeds = append(seeds, sc.Text())
		}
		fh.Close()
	}
	return seeds
}

// FuzzParseLine checks that no line makes the parser panic, that every
// target it returns is well-formed, and that formatting a target and
// parsing it again gives the same target.
func FuzzParseLine(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		var p lineParser
		sp, kind, _, err := p.parse(line)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("empty error for %q", line)
			}
			return
		}
		if kind != lineTarget {
			return
		}
		checkSpec(t, line, sp)
		text := sp.String()
		var p2 lineParser
		sp2, kind2, _, err := p2.parse(text)
		if err != nil || kind2 != lineTarget {
			t.Fatalf("%q parsed as %+v, formatted as %q, which does not parse: kind %d, %v", line, sp, text, kind2, err)
		}
		if !sameSpec(sp, sp2) {
			t.Fatalf("%q parsed as %+v, formatted as %q, parsed again as %+v", line, sp, text, sp2)
		}
	})
}

func checkSpec(t *testing.T, line string, sp spec) {
	t.Helper()
	if sp.host != "" {
		if sp.first.IsValid() || sp.last.IsValid() {
			t.Fatalf("%q: host %q with addresses %v-%v", line, sp.host, sp.first, sp.last)
		}
		if h, ok := hostname(sp.host); !ok || h != sp.host {
			t.Fatalf("%q: host %q is not a normalised hostname", line, sp.host)
		}
	} else {
		f, l := sp.first, sp.last
		if !f.IsValid() || !l.IsValid() || f.Is4() != l.Is4() || f.Zone() != "" || l.Zone() != "" ||
			f.Is4In6() || l.Is4In6() || l.Less(f) {
			t.Fatalf("%q: bad range %v-%v", line, f, l)
		}
		if f != l && sp.ports != nil {
			t.Fatalf("%q: range %v-%v with ports %v", line, f, l, sp.ports)
		}
	}
	if slices.Contains(sp.ports, 0) {
		t.Fatalf("%q: port 0 in %v", line, sp.ports)
	}
	switch sp.scheme {
	case "":
	case "http", "https":
		if len(sp.ports) != 1 {
			t.Fatalf("%q: scheme %q with ports %v", line, sp.scheme, sp.ports)
		}
	default:
		t.Fatalf("%q: scheme %q", line, sp.scheme)
	}
}

func sameSpec(a, b spec) bool {
	return a.first == b.first && a.last == b.last && a.host == b.host && a.scheme == b.scheme && slices.Equal(a.ports, b.ports)
}

// hashResolver gives every name one stable address in 198.51.100.0/24, or
// none for names starting with "x".
type hashResolver struct{}

func (hashResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if strings.HasPrefix(host, "x") {
		return nil, ErrUnresolved
	}
	h := fnv.New32a()
	h.Write([]byte(host))
	return []netip.Addr{netip.AddrFrom4([4]byte{198, 51, 100, byte(h.Sum32())})}, nil
}

// FuzzStream runs whole inputs through the stream and checks its promises:
// no panic, no ip:port twice, nothing excluded emitted, stats consistent,
// and Count exact whenever no hostname is involved.
func FuzzStream(f *testing.F) {
	// Small multi-line seeds: one huge seed slows the coverage-guided
	// mutator to a crawl.
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Add("saddr,sport\n192.0.2.1,443\n192.0.2.1,80\n192.0.2.0/30\n10.0.0.1-3\n")
	f.Add("192.0.2.0/20\n192.0.2.5\n[\n{\"ip\":\"192.0.2.9\",\"ports\":[{\"port\":443}]}\n]\n")
	excluded := netip.MustParsePrefix("192.0.2.64/26")
	f.Fuzz(func(t *testing.T, input string) {
		set, err := ParseExcludes([]string{excluded.String()})
		if err != nil {
			t.Fatal(err)
		}
		opts := Options{
			Ports:        []uint16{443, 80},
			Exclude:      set,
			Resolver:     hashResolver{},
			MaxAddresses: 1 << 12, // keeps each input fast
			MaxLineBytes: 512,
		}
		s, err := NewStream(Input{Sources: []Source{{Name: "f", Reader: strings.NewReader(input)}}}, opts)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[netip.AddrPort]bool{}
		for tg, err := range s.All(context.Background()) {
			if err != nil {
				t.Fatalf("fatal error without Strict: %v", err)
			}
			ap := tg.AddrPort()
			if !tg.IP.IsValid() || tg.IP.Zone() != "" || tg.IP.Is4In6() || tg.Port == 0 {
				t.Fatalf("bad target %+v", tg)
			}
			if tg.Scheme != "https" && tg.Scheme != "http" || !strings.HasPrefix(tg.Origin, "f:") {
				t.Fatalf("bad target %+v", tg)
			}
			if seen[ap] {
				t.Fatalf("%v emitted twice", ap)
			}
			if excluded.Contains(tg.IP) {
				t.Fatalf("excluded %v emitted", ap)
			}
			seen[ap] = true
		}
		st := s.Stats()
		if st.Emitted != uint64(len(seen)) {
			t.Fatalf("stats say %d emitted, got %d", st.Emitted, len(seen))
		}
		est, err := Count(context.Background(), Input{Sources: []Source{{Name: "f", Reader: strings.NewReader(input)}}}, opts)
		if err != nil {
			t.Fatal(err)
		}
		if est.Stats.Lines != st.Lines || est.Stats.BadLines != st.BadLines || est.Stats.Ignored != st.Ignored {
			t.Fatalf("Count stats %+v, stream stats %+v", est.Stats, st)
		}
		if est.Exact && est.Endpoints != st.Emitted {
			t.Fatalf("Count says exactly %d, stream emitted %d", est.Endpoints, st.Emitted)
		}
	})
}
