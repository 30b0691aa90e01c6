package lab

import (
	"io"
	"math/rand/v2"
	"net"
	"time"
)

// Raw servers (tarpit, reset, garbage) never speak TLS. Each runs its own
// accept loop; every connection goroutine is tracked by the lab's WaitGroup and
// every held connection is closed by Lab.Close.

func (l *Lab) serveRaw(in *instance) {
	defer l.wg.Done()
	for {
		c, err := in.ln.Accept()
		if err != nil {
			return // listener closed by Close
		}
		in.stats.addConn()
		switch in.cfg.Kind {
		case KindReset:
			// SO_LINGER 0 turns Close into an RST, like a firewall reject or a
			// crashed service.
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			_ = c.Close()
		case KindTarpit:
			if !l.hold(c) {
				continue
			}
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				defer l.release(c)
				// Read and discard until the client gives up, the timeout
				// passes or Close closes the connection; never write.
				_ = c.SetDeadline(time.Now().Add(l.opts.TarpitTimeout))
				_, _ = io.Copy(io.Discard, c)
			}()
		case KindGarbage:
			if !l.hold(c) {
				continue
			}
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				defer l.release(c)
				_ = c.SetDeadline(time.Now().Add(2 * time.Second))
				_, _ = c.Write(in.garbage)
				// Read what the client sent (its ClientHello) before closing, so
				// the close is a FIN and the client reads the garbage rather than
				// an RST that may discard it.
				buf := make([]byte, 4096)
				_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				_, _ = c.Read(buf)
			}()
		default:
			_ = c.Close()
		}
	}
}

// hold registers a connection so Close can end it; false when the lab is closing.
func (l *Lab) hold(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = c.Close()
		return false
	}
	l.held[c] = struct{}{}
	return true
}

func (l *Lab) release(c net.Conn) {
	_ = c.Close()
	l.mu.Lock()
	delete(l.held, c)
	l.mu.Unlock()
}

// garbageBytes are 64–512 random bytes that are neither TLS nor HTTP: the first
// byte is never 0x16 (TLS handshake) or a letter (an HTTP status line).
func garbageBytes(rng *rand.Rand) []byte {
	b := make([]byte, 64+rng.IntN(449))
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	for b[0] == 0x16 || b[0] >= 'A' && b[0] <= 'z' {
		b[0] = byte(rng.UintN(256))
	}
	return b
}
