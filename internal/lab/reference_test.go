package lab

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exsweep/exsweep/internal/exchange"
	"github.com/google/go-cmp/cmp"
)

// The reference scanner below is the smallest scanner that follows the request
// set and the rules documented on Expectation. Running it against a lab and
// comparing with Lab.Expectations proves the HTTP contract and the truth agree:
// everything the truth claims is learnable is learnable, with GET only.

var (
	refPath3    = regexp.MustCompile(`/owa/auth/(\d+\.\d+\.\d+)/themes/`)
	refPath4    = regexp.MustCompile(`/owa/(\d+\.\d+\.\d+\.\d+)/themes/`)
	refManifest = regexp.MustCompile(`name="microsoft\.exchange\.ediscovery\.exporttool(?:\.application)?"\s+version="(\d+\.\d+\.\d+\.\d+)"`)
)

type refResult struct {
	Reachable, Exchange, Exact bool
	Build, Source              string
	FE, CN                     string
	Webshells                  []string
}

func refClient(t testing.TB) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:       scanTLS(),
		DisableCompression:    true,
		TLSHandshakeTimeout:   time.Second,
		ResponseHeaderTimeout: 3 * time.Second,
		MaxIdleConnsPerHost:   1,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func refScan(c *http.Client, target string, shellList []string) refResult {
	var res refResult
	type seen struct {
		v      exchange.Version
		source string
	}
	var four []seen
	var cu exchange.Version
	markers := false
	do := func(path string) (int, http.Header, string, bool) {
		req, _ := http.NewRequest("GET", "https://"+target+path, nil)
		req.Header.Set("User-Agent", browserUA)
		resp, err := c.Do(req)
		if err != nil {
			return 0, nil, "", false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
			res.CN = resp.TLS.PeerCertificates[0].Subject.CommonName
		}
		if fe := resp.Header.Get("X-FEServer"); fe != "" {
			res.FE = fe
		}
		if vs := resp.Header.Values("X-OWA-Version"); len(vs) > 0 && vs[0] != "" {
			if v, err := exchange.Parse(vs[0]); err == nil && v.Exact() {
				four = append(four, seen{v, SourceHeader})
			}
		}
		return resp.StatusCode, resp.Header, string(b), true
	}
	if _, _, _, ok := do("/"); !ok {
		return res
	}
	res.Reachable = true
	do("/owa/")
	if st, _, body, _ := do("/owa/auth/logon.aspx?url=https%3a%2f%2f" + target + "%2fowa%2f&reason=0"); st == 200 {
		markers = strings.Contains(body, "<!-- OwaPage = ASP.auth_logon_aspx -->")
		if m := refPath3.FindStringSubmatch(body); m != nil {
			cu = exchange.MustParse(m[1])
		}
		if m := refPath4.FindStringSubmatch(body); m != nil {
			four = append(four, seen{exchange.MustParse(m[1]), SourceOWAPath4})
		}
	}
	var man exchange.Version
	if st, _, body, _ := do(manifest); st == 200 {
		if m := refManifest.FindStringSubmatch(body); m != nil {
			man = exchange.MustParse(m[1])
			four = append([]seen{{man, SourceManifest}}, four...)
		}
	}
	for _, p := range []string{"/EWS/Exchange.asmx", "/Microsoft-Server-ActiveSync", "/autodiscover/autodiscover.xml", "/owa/service"} {
		do(p)
	}
	res.Exchange = markers || len(four) > 0 || res.FE != ""
	var confirmed exchange.Version
	if !man.IsZero() {
		if st, _, _, _ := do("/ecp/" + man.String() + "/exporttool/"); st == 200 {
			confirmed = man
		} else {
			group := kbGroup(man)
			for i := len(group) - 1; i >= 0; i-- {
				if st, _, _, _ := do("/ecp/" + group[i].Version.String() + "/exporttool/"); st == 200 {
					confirmed = group[i].Version
					break
				}
			}
		}
	}
	switch {
	case !confirmed.IsZero():
		res.Build, res.Exact, res.Source = confirmed.String(), true, SourceECPFolder
		if confirmed == man {
			res.Source = SourceManifest
		}
	case len(four) > 0:
		// Preference order on ties: manifest, header, path.
		order := map[string]int{SourceManifest: 0, SourceHeader: 1, SourceOWAPath4: 2}
		slices.SortStableFunc(four, func(a, b seen) int { return order[a.source] - order[b.source] })
		best := four[0]
		for _, s := range four[1:] {
			if s.v.Compare(best.v) > 0 {
				best = s
			}
		}
		res.Build, res.Exact, res.Source = best.v.String(), true, best.source
	case !cu.IsZero():
		res.Build, res.Source = cu.String(), SourceOWAPath3
	case res.Exchange:
		res.Source = SourceFEServer
	}
	// Web shells: compare each path with a random name in the same folder.
	for _, p := range shellList {
		dir := p[:strings.LastIndex(p, "/")+1]
		var rnd [6]byte
		rand.Read(rnd[:])
		base, _, _, _ := do(dir + hex.EncodeToString(rnd[:]) + ".aspx")
		if st, _, _, _ := do(p); st == 200 && base != 200 {
			res.Webshells = append(res.Webshells, p)
		}
	}
	slices.Sort(res.Webshells)
	if !res.Exchange {
		res.FE = ""
	}
	return res
}

func truthResult(e Expectation) refResult {
	r := refResult{Reachable: e.Reachable, Exchange: e.Exchange, Exact: e.BuildExact, Build: e.Build, Source: e.Source,
		FE: e.FEServer, CN: e.CertCN, Webshells: e.Webshells}
	if !e.Exchange {
		r.Source = ""
	}
	return r
}

func TestReferenceScanner(t *testing.T) {
	allModes, err := Mix(MinServers(MixAllModes)+len(AllModes), 11, MixAllModes)
	if err != nil {
		t.Fatal(err)
	}
	realistic, err := Mix(80, 11, MixRealistic)
	if err != nil {
		t.Fatal(err)
	}
	servers := append(allModes, realistic...)
	l, err := Start(t.Context(), servers, Options{Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var shells []string
	for _, s := range servers {
		for _, p := range s.Webshells {
			if !slices.Contains(shells, p) {
				shells = append(shells, p)
			}
		}
	}
	exp := l.Expectations()
	got := make([]refResult, len(exp))
	c := refClient(t)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				got[i] = refScan(c, exp[i].Target, shells)
			}
		})
	}
	for i := range exp {
		work <- i
	}
	close(work)
	wg.Wait()
	for i, e := range exp {
		if diff := cmp.Diff(truthResult(e), got[i]); diff != "" {
			t.Errorf("%s (%s %v): truth (-) vs reference scanner (+):\n%s", e.Name, e.Installed, e.Modes, diff)
		}
	}
	if v := l.Violations(); v != 0 {
		t.Errorf("%d non-GET requests", v)
	}
	sources := map[string]int{}
	for _, e := range exp {
		sources[e.Source]++
	}
	for _, src := range []string{SourceECPFolder, SourceManifest, SourceHeader, SourceOWAPath4, SourceOWAPath3, SourceFEServer} {
		if sources[src] == 0 {
			t.Errorf("no server whose build comes from %s: the comparison does not cover that rule", src)
		}
	}
	t.Logf("%d servers, %d requests, sources %v", len(exp), l.Total().Requests, sources)

}
