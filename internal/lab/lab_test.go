package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestAllocate(t *testing.T) {
	tests := []struct {
		network string
		port, n int
		want    []string
		err     bool
	}{
		{network: "127.10.0.0/16", port: 443, n: 3, want: []string{"127.10.0.1:443", "127.10.0.2:443", "127.10.0.3:443"}},
		{network: "127.10.0.0/23", port: 443, n: 256, want: nil}, // fits: .0.1–.0.254 and .1.1–.1.2
		{network: "127.10.0.0/24", port: 443, n: 255, err: true}, // 254 usable
		{network: "127.0.0.1", port: 0, n: 2, want: []string{"127.0.0.1:0", "127.0.0.1:0"}},
		{network: "127.0.0.1/32", port: 8443, n: 3, want: []string{"127.0.0.1:8443", "127.0.0.1:8444", "127.0.0.1:8445"}},
		{network: "::1", port: 9443, n: 1, want: []string{"[::1]:9443"}},
		{network: "0.0.0.0", port: 443, n: 1, err: true},
		{network: "10.0.0.0/8", port: 443, n: 1, err: true},
		{network: "127.0.0.0/7", port: 443, n: 1, err: true},
		{network: "::/0", port: 443, n: 1, err: true},
		{network: "192.168.1.10", port: 443, n: 1, err: true},
		{network: "127.0.0.1", port: 65535, n: 2, err: true},
		{network: "nonsense", port: 1, n: 1, err: true},
	}
	for _, tt := range tests {
		got, err := allocate(tt.network, tt.port, tt.n)
		if (err != nil) != tt.err {
			t.Errorf("%s ×%d: error %v, want error %v", tt.network, tt.n, err, tt.err)
			continue
		}
		if err != nil || tt.want == nil {
			if err == nil && len(got) != tt.n {
				t.Errorf("%s: %d addresses, want %d", tt.network, len(got), tt.n)
			}
			continue
		}
		var s []string
		for _, a := range got {
			s = append(s, a.String())
		}
		if diff := cmp.Diff(tt.want, s); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.network, diff)
		}
	}
	got, _ := allocate("127.10.0.0/16", 443, 600)
	for _, a := range got {
		if last := a.Addr().As4()[3]; last == 0 || last == 255 {
			t.Errorf("allocated %s", a)
		}
	}
}

// TestManyServers starts 1,000 servers, one per loopback address, talks to a
// sample, and stops them all without leaking a goroutine.
func TestManyServers(t *testing.T) {
	defer goleak.VerifyNone(t)
	const n = 1000
	servers, err := Mix(n, 5, MixRealistic)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	l, err := Start(context.Background(), servers, Options{Network: "127.77.0.0/16", Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	started := time.Since(start)
	addrs := l.Addrs()
	if len(addrs) != n || addrs[0].Addr() != netip.MustParseAddr("127.77.0.1") {
		t.Fatalf("addresses %v…", addrs[:2])
	}
	exp := l.Expectations()
	c := newClient(t)
	checked := 0
	for i := 0; i < n && checked < 20; i++ {
		if !exp[i].Exchange || exp[i].NeedsBrowserUA {
			continue
		}
		r := get(t, c, "GET", exp[i].Target, "/owa/", browserUA)
		if r.status != 302 {
			t.Errorf("%s: /owa/ status %d", exp[i].Target, r.status)
		}
		checked++
	}
	c.Transport.(interface{ CloseIdleConnections() }).CloseIdleConnections()
	start = time.Now()
	l.Close()
	closed := time.Since(start)
	t.Logf("%d servers started in %s, closed in %s", n, started, closed)
	if started > 10*time.Second || closed > 10*time.Second {
		t.Errorf("start %s / close %s: too slow", started, closed)
	}
	if l.Total().Requests != int64(checked) {
		t.Errorf("requests %d, want %d", l.Total().Requests, checked)
	}
}

// TestTenThousand is the 10,000-server check; it needs about 10,500 file
// descriptors and a few seconds, so it runs only when asked.
func TestTenThousand(t *testing.T) {
	if os.Getenv("EXSWEEP_LAB_10K") == "" {
		t.Skip("set EXSWEEP_LAB_10K=1 to start 10,000 servers")
	}
	defer goleak.VerifyNone(t)
	servers, err := Mix(10000, 9, MixRealistic)
	if err != nil {
		t.Fatal(err)
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	l, err := Start(context.Background(), servers, Options{Network: "127.78.0.0/16", Port: 443, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	started := time.Since(start)
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	c := newClient(t)
	for _, e := range l.Expectations()[:200] {
		if e.Exchange && !e.NeedsBrowserUA {
			if r := get(t, c, "GET", e.Target, "/owa/", browserUA); r.status != 302 {
				t.Errorf("%s: %d", e.Target, r.status)
			}
		}
	}
	c.CloseIdleConnections()
	var buf bytes.Buffer
	ts := time.Now()
	if err := l.WriteTruth(&buf); err != nil {
		t.Fatal(err)
	}
	truth := time.Since(ts)
	start = time.Now()
	l.Close()
	t.Logf("10,000 servers: start %s, close %s, truth %s (%d KB), heap +%d MB, stacks +%d MB, goroutines after close %d",
		started, time.Since(start), truth, buf.Len()>>10, (after.HeapInuse-before.HeapInuse)>>20,
		(after.StackInuse-before.StackInuse)>>20, runtime.NumGoroutine())
}

// TestAccounting: methods and paths are counted, non-GET/HEAD requests are
// violations with samples, keep-alive reuses one connection.
func TestAccounting(t *testing.T) {
	l, err := Start(t.Context(), []Server{{Build: "15.1.2176.9"}, {Kind: KindPlainIIS}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c := newClient(t)
	tg := l.Targets()[0]
	for _, m := range []string{"GET", "GET", "HEAD", "POST", "PUT", "OPTIONS"} {
		get(t, c, m, tg, "/owa/", browserUA)
	}
	get(t, c, "GET", tg, "/OWA/auth/logon.aspx?x=1", "curl/8.5.0")
	got := l.Stats(0)
	want := Stats{
		Conns: 1, Requests: 7, Violations: 3, NonBrowserUA: 1,
		ByMethod: map[string]int64{"GET": 3, "HEAD": 1, "POST": 1, "PUT": 1, "OPTIONS": 1},
		ByPath:   map[string]int64{"/owa/": 6, "/OWA/auth/logon.aspx": 1},
		ViolationSamples: []Request{
			{Method: "POST", Path: "/owa/", UserAgent: browserUA},
			{Method: "PUT", Path: "/owa/", UserAgent: browserUA},
			{Method: "OPTIONS", Path: "/owa/", UserAgent: browserUA},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if l.Violations() != 3 || l.Total().Requests != 7 || l.Stats(1).Requests != 0 {
		t.Errorf("violations %d, total %d, other server %d", l.Violations(), l.Total().Requests, l.Stats(1).Requests)
	}
	l.ResetStats()
	if s := l.Stats(0); s.Requests != 0 || s.Violations != 0 || s.ByPath != nil {
		t.Errorf("after reset: %+v", s)
	}
}

// TestConcurrentClose: Close while requests are in flight leaves nothing behind.
func TestConcurrentClose(t *testing.T) {
	defer goleak.VerifyNone(t)
	l, err := Start(context.Background(), []Server{{Build: "15.1.2176.9", HugeBody: true}, {Kind: KindTarpit}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			req, _ := newReq(l.Targets()[0], "/owa/auth/logon.aspx")
			if resp, err := c.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	l.Close()
	wg.Wait()
	c.Transport.(interface{ CloseIdleConnections() }).CloseIdleConnections()
}

// TestContextCancel: cancelling Start's context closes the lab.
func TestContextCancel(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithCancel(context.Background())
	l, err := Start(ctx, []Server{{Build: "15.1.2176.9"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if l.isClosed() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Error("lab still open after cancel")
}

// TestStartErrors: a bad config or a busy address leaves nothing running.
func TestStartErrors(t *testing.T) {
	defer goleak.VerifyNone(t)
	if _, err := Start(context.Background(), []Server{{Build: "15.1.2176.9"}, {Build: "x"}}, Options{}); err == nil {
		t.Error("bad build accepted")
	}
	if _, err := Start(context.Background(), nil, Options{}); err == nil {
		t.Error("no servers accepted")
	}
	a, err := Start(context.Background(), []Server{{Build: "15.1.2176.9"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	busy := a.Addrs()[0]
	_, err = Start(context.Background(), []Server{{Kind: KindNginx}, {Kind: KindNginx}},
		Options{Network: busy.Addr().String(), Port: int(busy.Port()) - 1})
	if err == nil {
		t.Error("second lab bound a busy port")
	}
}

func TestWriteFilesAndRun(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	opts := RunOptions{Servers: 40, Mix: MixAllModes, Seed: 3, Network: "127.79.0.0/24",
		TargetsFile: filepath.Join(dir, "targets.txt"), TruthFile: filepath.Join(dir, "truth.jsonl")}
	go func() { done <- Run(ctx, opts, out) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "serving until interrupted") {
		if time.Now().After(deadline) {
			t.Fatalf("no summary: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	targets, _ := os.ReadFile(opts.TargetsFile)
	lines := strings.Split(strings.TrimSpace(string(targets)), "\n")
	if len(lines) != 40 || lines[0] != "127.79.0.1:0" && !strings.HasPrefix(lines[0], "127.79.0.1:") {
		t.Errorf("targets: %d lines, first %q", len(lines), lines[0])
	}
	truth, _ := os.ReadFile(opts.TruthFile)
	var n int
	for i, line := range strings.Split(strings.TrimSpace(string(truth)), "\n") {
		var e Expectation
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("truth line %d: %v", i+1, err)
		}
		if e.Target != lines[i] {
			t.Errorf("truth line %d target %q, targets file %q", i+1, e.Target, lines[i])
		}
		n++
	}
	if n != 40 {
		t.Errorf("truth has %d lines", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	t.Log(out.String())
	for _, s := range []string{"lab: 40 servers (all-modes mix, seed 3)", "kinds:", "verdicts:", "modes:", "lab stopped:"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("summary lacks %q:\n%s", s, out.String())
		}
	}
}

func newReq(target, path string) (*http.Request, error) {
	req, err := http.NewRequest("GET", "https://"+target+path, nil)
	if err == nil {
		req.Header.Set("User-Agent", browserUA)
	}
	return req, err
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestIPv6Loopback: a lab on ::1, one port per server.
func TestIPv6Loopback(t *testing.T) {
	l, err := Start(t.Context(), []Server{{Build: "15.2.1748.10"}, {Kind: KindNginx}}, Options{Network: "::1"})
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	defer l.Close()
	tg := l.Targets()
	if !strings.HasPrefix(tg[0], "[::1]:") || tg[0] == tg[1] {
		t.Fatalf("targets %v", tg)
	}
	r := get(t, newClient(t), "GET", tg[0], "/owa/", browserUA)
	if want := "https://" + tg[0] + "/owa/auth/logon.aspx?url=https%3a%2f%2f%5b%3a%3a1%5d%3a"; r.status != 302 || !strings.HasPrefix(r.header.Get("Location"), want) {
		t.Errorf("status %d, Location %q, want prefix %q", r.status, r.header.Get("Location"), want)
	}
}
