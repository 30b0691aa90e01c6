package lab

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options says where and how a lab listens.
type Options struct {
	// Network is where servers are placed, loopback only:
	//   - a prefix inside 127.0.0.0/8 ("127.10.0.0/16"): one address per server,
	//     from the first host address up, skipping addresses whose last octet is
	//     0 or 255 (so targets never look like network or broadcast addresses);
	//   - a single address ("127.0.0.1", "127.0.0.1/32", "::1"): every server on
	//     that address, each on its own port.
	// Empty means "127.0.0.1". On Linux every 127/8 address is local without
	// configuration; other systems may need aliases on lo0.
	Network string
	// Port is the TCP port. With one address per server, every server uses it
	// (0: a kernel-chosen port each). With a single address, servers use Port,
	// Port+1, … (0: kernel-chosen ports). Ports below 1024 need root.
	Port int
	// Seed makes per-server random values (publicKeyToken, garbage bytes)
	// reproducible.
	Seed int64
	// TarpitTimeout is how long a tarpit holds an idle connection (default 5 min).
	TarpitTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections (default 120 s, IIS's
	// connectionTimeout).
	IdleTimeout time.Duration
}

func (o *Options) defaults() {
	if o.Network == "" {
		o.Network = "127.0.0.1"
	}
	if o.TarpitTimeout <= 0 {
		o.TarpitTimeout = 5 * time.Minute
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 120 * time.Second
	}
}

// Lab is a set of running servers. Its methods are safe for concurrent use.
type Lab struct {
	opts  Options
	insts []*instance
	index map[string]int // "ip:port" → server index

	wg     sync.WaitGroup // serve loops and connections
	mu     sync.Mutex
	closed bool
	held   map[net.Conn]struct{} // raw-mode connections
	done   chan struct{}
	once   sync.Once
}

// instance is one running server.
type instance struct {
	idx      int
	cfg      resolved
	addr     netip.AddrPort
	ln       net.Listener
	srv      *http.Server
	stats    stats
	fe       string
	beTarget string
	hostname string
	token    string
	garbage  []byte
	flavour  certFlavour
}

// Request is one request that broke the GET/HEAD-only rule.
type Request struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	UserAgent string `json:"user_agent,omitempty"`
}

// Stats is what one server (or the whole lab) received.
type Stats struct {
	// Conns counts accepted TCP connections; with keep-alive a whole
	// fingerprint is one connection (one TLS handshake).
	Conns    int64            `json:"conns"`
	Requests int64            `json:"requests"`
	ByMethod map[string]int64 `json:"by_method,omitempty"`
	// ByPath counts requests by URL path as sent (case kept, no query); at most
	// 4,096 distinct paths per server, the rest under "(other)".
	ByPath map[string]int64 `json:"by_path,omitempty"`
	// Violations counts requests whose method is not GET or HEAD: a
	// non-intrusive scanner must keep it at zero.
	Violations int64 `json:"violations"`
	// ViolationSamples keeps the first 32 violations per server.
	ViolationSamples []Request `json:"violation_samples,omitempty"`
	// NonBrowserUA counts requests whose User-Agent lacks "Mozilla/5.0" (what
	// WAF servers reject).
	NonBrowserUA int64 `json:"non_browser_ua"`
}

func (s *Stats) add(o Stats) {
	s.Conns += o.Conns
	s.Requests += o.Requests
	s.Violations += o.Violations
	s.NonBrowserUA += o.NonBrowserUA
	if s.ByMethod == nil {
		s.ByMethod, s.ByPath = map[string]int64{}, map[string]int64{}
	}
	for k, v := range o.ByMethod {
		s.ByMethod[k] += v
	}
	for k, v := range o.ByPath {
		s.ByPath[k] += v
	}
	s.ViolationSamples = append(s.ViolationSamples, o.ViolationSamples...)
}

// ErrOptions is wrapped by every Options error.
var ErrOptions = errors.New("lab options")

// Start validates every server, binds one listener each and serves until Close
// is called or ctx is done. On error nothing is left running.
func Start(ctx context.Context, servers []Server, opts Options) (*Lab, error) {
	opts.defaults()
	if len(servers) == 0 {
		return nil, fmt.Errorf("%w: no servers", ErrOptions)
	}
	cfgs := make([]resolved, len(servers))
	for i, s := range servers {
		r, err := resolve(s)
		if err != nil {
			return nil, fmt.Errorf("server %d (%s): %w", i, s.Name, err)
		}
		cfgs[i] = r
	}
	addrs, err := allocate(opts.Network, opts.Port, len(servers))
	if err != nil {
		return nil, err
	}
	if err := checkFDs(len(servers)); err != nil {
		return nil, err
	}
	l := &Lab{opts: opts, index: map[string]int{}, held: map[net.Conn]struct{}{}, done: make(chan struct{})}
	type tlsKey struct {
		f     certFlavour
		tls10 bool
	}
	tlsCfgs := map[tlsKey]*tls.Config{}
	var lc net.ListenConfig
	for i, r := range cfgs {
		in := newInstance(i, r, opts.Seed)
		ln, err := lc.Listen(ctx, "tcp", addrs[i].String())
		if err != nil {
			l.abort()
			return nil, fmt.Errorf("lab: server %d: %w", i, err)
		}
		in.ln = ln
		in.addr = ln.Addr().(*net.TCPAddr).AddrPort()
		in.addr = netip.AddrPortFrom(in.addr.Addr().Unmap(), in.addr.Port())
		l.insts = append(l.insts, in)
		l.index[in.addr.String()] = i
		if r.Kind.raw() {
			l.wg.Add(1)
			go l.serveRaw(in)
			continue
		}
		key := tlsKey{in.flavour, r.TLS10Only}
		cfg, ok := tlsCfgs[key]
		if !ok {
			if cfg, err = tlsConfig(r); err != nil {
				l.abort()
				return nil, err
			}
			tlsCfgs[key] = cfg
		}
		in.srv = l.newHTTPServer(in)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			_ = in.srv.Serve(tls.NewListener(in.ln, cfg))
		}()
	}
	go func() {
		select {
		case <-ctx.Done():
			l.Close()
		case <-l.done:
		}
	}()
	return l, nil
}

// abort undoes a partial Start.
func (l *Lab) abort() {
	close(l.done)
	l.once.Do(func() {})
	l.shutdown()
}

func newInstance(i int, r resolved, seed int64) *instance {
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(i)+1))
	in := &instance{idx: i, cfg: r, flavour: flavourOf(r)}
	in.fe, in.hostname = defaultNames(i, r.Server)
	if r.HostileStrings && !r.legacy {
		in.fe = HostileFEServer
	}
	in.beTarget = strings.ToLower(in.fe) + "." + domainOf(in.hostname)
	in.token = fmt.Sprintf("%016x", rng.Uint64())
	if r.Kind == KindGarbage {
		in.garbage = garbageBytes(rng)
	}
	return in
}

// defaultNames gives the front-end and host names of server i when the config
// leaves them empty. They depend only on the index, so the truth file can list
// them without a running lab.
func defaultNames(i int, s Server) (fe, host string) {
	fe, host = s.FEServer, s.Hostname
	if fe == "" {
		fe = fmt.Sprintf("EXLAB%05d", i+1)
	}
	if host == "" {
		host = fmt.Sprintf("mail.org%05d.lab.invalid", i+1)
	}
	return fe, host
}

// domainOf drops the first label: mail.contoso.test → contoso.test.
func domainOf(host string) string {
	if i := strings.IndexByte(host, '.'); i >= 0 && i < len(host)-1 {
		return host[i+1:]
	}
	return host
}

func (l *Lab) newHTTPServer(in *instance) *http.Server {
	return &http.Server{
		Handler:           newHandler(in),
		ReadHeaderTimeout: 20 * time.Second,
		IdleTimeout:       l.opts.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		// TLS handshake failures from scanners are expected, not news.
		ErrorLog: log.New(io.Discard, "", 0),
		// A non-nil empty map keeps net/http from adding HTTP/2.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ConnState: func(c net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				// Runs on the Serve goroutine, which holds a WaitGroup count,
				// so this Add never races with Close's Wait reaching zero.
				l.wg.Add(1)
				in.stats.addConn()
			case http.StateClosed, http.StateHijacked:
				l.wg.Done()
			}
		},
	}
}

// Close stops every server, closes every connection and waits for every
// goroutine the lab started. It is idempotent.
func (l *Lab) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.shutdown()
	})
	return nil
}

func (l *Lab) shutdown() {
	l.mu.Lock()
	l.closed = true
	held := slices.Collect(maps.Keys(l.held))
	l.mu.Unlock()
	for _, in := range l.insts {
		if in.srv != nil {
			_ = in.srv.Close()
		}
		_ = in.ln.Close()
	}
	for _, c := range held {
		_ = c.Close()
	}
	l.wg.Wait()
}

// isClosed reports whether Close has run (for tests).
func (l *Lab) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// Len is the number of servers.
func (l *Lab) Len() int { return len(l.insts) }

// Addrs lists the listening address of every server, in config order.
func (l *Lab) Addrs() []netip.AddrPort {
	out := make([]netip.AddrPort, len(l.insts))
	for i, in := range l.insts {
		out[i] = in.addr
	}
	return out
}

// Targets lists "ip:port" (IPv6 as "[::1]:port") for every server, in config order.
func (l *Lab) Targets() []string {
	out := make([]string, len(l.insts))
	for i, in := range l.insts {
		out[i] = in.addr.String()
	}
	return out
}

// Index finds the server listening on target ("ip:port").
func (l *Lab) Index(target string) (int, bool) {
	i, ok := l.index[target]
	return i, ok
}

// Servers returns the configs with defaults filled in (kind, header and ECP
// modes, OWA and manifest versions, FEServer, Hostname, RedirectTo).
func (l *Lab) Servers() []Server {
	out := make([]Server, len(l.insts))
	for i, in := range l.insts {
		s := in.cfg.Server
		s.FEServer, s.Hostname = in.fe, in.hostname
		s.Webshells = slices.Clone(s.Webshells)
		out[i] = s
	}
	return out
}

// Stats is a snapshot of what server i received.
func (l *Lab) Stats(i int) Stats {
	s := &l.insts[i].stats
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Conns: s.conns, Requests: s.requests, Violations: s.violations, NonBrowserUA: s.nonBrowser,
		ByMethod: maps.Clone(s.byMethod), ByPath: maps.Clone(s.byPath),
		ViolationSamples: slices.Clone(s.samples),
	}
}

// Total sums the stats of every server.
func (l *Lab) Total() Stats {
	t := Stats{ByMethod: map[string]int64{}, ByPath: map[string]int64{}}
	for i := range l.insts {
		t.add(l.Stats(i))
	}
	return t
}

// Violations is the number of non-GET/HEAD requests the whole lab received.
func (l *Lab) Violations() int64 {
	var n int64
	for _, in := range l.insts {
		in.stats.mu.Lock()
		n += in.stats.violations
		in.stats.mu.Unlock()
	}
	return n
}

// ResetStats zeroes every counter (between benchmark rounds, for example).
func (l *Lab) ResetStats() {
	for _, in := range l.insts {
		in.stats.mu.Lock()
		in.stats.conns, in.stats.requests, in.stats.violations, in.stats.nonBrowser = 0, 0, 0, 0
		in.stats.byMethod, in.stats.byPath, in.stats.samples = nil, nil, nil
		in.stats.mu.Unlock()
	}
}

// allocate places n servers in network (see Options.Network).
func allocate(network string, port, n int) ([]netip.AddrPort, error) {
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("%w: port %d", ErrOptions, port)
	}
	var pfx netip.Prefix
	if strings.Contains(network, "/") {
		p, err := netip.ParsePrefix(network)
		if err != nil {
			return nil, fmt.Errorf("%w: network %q: %v", ErrOptions, network, err)
		}
		pfx = p.Masked()
	} else {
		a, err := netip.ParseAddr(network)
		if err != nil {
			return nil, fmt.Errorf("%w: network %q: %v", ErrOptions, network, err)
		}
		pfx = netip.PrefixFrom(a, a.BitLen())
	}
	a := pfx.Addr()
	switch {
	case a.Is4() && pfx.Bits() >= 8 && a.IsLoopback():
	case a.Is6() && !a.Is4In6() && a.IsLoopback() && pfx.Bits() == 128:
	default:
		// Never bind anything but loopback: the lab is for tests and demos on
		// this machine, and scanners pointed at it must not reach a network.
		return nil, fmt.Errorf("%w: network %s is not loopback (127.0.0.0/8 or ::1)", ErrOptions, pfx)
	}
	out := make([]netip.AddrPort, 0, n)
	if pfx.IsSingleIP() {
		if port != 0 && port+n-1 > 65535 {
			return nil, fmt.Errorf("%w: %d servers from port %d run past 65535", ErrOptions, n, port)
		}
		for i := range n {
			p := 0
			if port != 0 {
				p = port + i
			}
			out = append(out, netip.AddrPortFrom(a, uint16(p)))
		}
		return out, nil
	}
	for ip := a.Next(); len(out) < n; ip = ip.Next() {
		if !ip.IsValid() || !pfx.Contains(ip) {
			return nil, fmt.Errorf("%w: network %s has room for %d servers, %d asked", ErrOptions, pfx, len(out), n)
		}
		if last := ip.As4()[3]; last == 0 || last == 255 {
			continue
		}
		out = append(out, netip.AddrPortFrom(ip, uint16(port)))
	}
	return out, nil
}

// fdReserve is what the lab leaves for everything else in the process (the
// scanner's sockets, files, the server side of accepted connections).
const fdReserve = 512

func checkFDs(n int) error {
	limit, ok := fdLimit()
	if !ok {
		return nil
	}
	if need := uint64(n) + fdReserve; need > limit {
		return fmt.Errorf("%w: %d servers need about %d file descriptors (one listener each plus %d for connections), but the limit is %d: raise `ulimit -n` or start fewer servers",
			ErrOptions, n, need, fdReserve, limit)
	}
	return nil
}
