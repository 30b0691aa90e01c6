package lab

import (
	"crypto/tls"
	"io"
	"net/http"
	"testing"
	"time"
)

// browserUA is what a non-intrusive scanner sends (and what WAF servers want).
const browserUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"

// scanTLS is the client TLS configuration DESIGN.md asks of the scanner: TLS 1.0
// allowed, RSA-CBC suites listed, verification off.
func scanTLS() *tls.Config {
	return &tls.Config{
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS10,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
			tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA,
		},
	}
}

// newClient is a plain net/http client that does not follow redirects; its idle
// connections are closed at the end of the test (goleak).
func newClient(t testing.TB) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:     scanTLS(),
		DisableCompression:  true,
		MaxIdleConnsPerHost: 4,
		TLSHandshakeTimeout: 3 * time.Second,
		ForceAttemptHTTP2:   false,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type response struct {
	status int
	header http.Header
	body   string
	tls    *tls.ConnectionState
}

func get(t testing.TB, c *http.Client, method, target, path, ua string) response {
	t.Helper()
	req, err := http.NewRequest(method, "https://"+target+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", ua)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, target, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s%s: body: %v", method, target, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b), tls: resp.TLS}
}
