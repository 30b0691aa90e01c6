package lab

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// Certificates are generated once per process and shared by every server (and
// every Lab): key generation is the slow part (RSA 2048 takes a noticeable
// fraction of a second on the 2 shared cores), and one certificate per flavour is
// all a scanner needs to record. SNI is ignored, like a default IIS binding.

// certFlavour selects one of the shared certificates.
type certFlavour struct {
	rsa     bool // RSA key (TLS10Only needs RSA key exchange; ExpiredCert mimics an old host)
	expired bool
	hostile bool
}

func flavourOf(r resolved) certFlavour {
	return certFlavour{rsa: r.TLS10Only || r.ExpiredCert, expired: r.ExpiredCert, hostile: r.HostileStrings}
}

// Expired certificates carry fixed dates so the truth file is reproducible.
var (
	expiredNotBefore = time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	expiredNotAfter  = time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
)

// subject is the certificate subject of a flavour; the truth records its
// String() form so tests can check what the scanner stored.
func (f certFlavour) subject() pkix.Name {
	n := pkix.Name{CommonName: "mail.lab.exsweep.invalid", Organization: []string{"exsweep lab"}}
	switch {
	case f.hostile:
		n.CommonName = "mail<script>alert(1)</script>\x1b[31m\x07.invalid"
		n.Organization = []string{`"><img src=x onerror=alert(1)>` + "\u202e"}
	case f.expired:
		n.OrganizationalUnit = []string{"expired"}
	case f.rsa:
		n.OrganizationalUnit = []string{"rsa"}
	}
	return n
}

var (
	keyOnce  sync.Once
	ecKey    *ecdsa.PrivateKey
	rsaOnce  sync.Once
	rsaKey   *rsa.PrivateKey
	keyErr   error
	certMu   sync.Mutex
	certMemo = map[certFlavour]*tls.Certificate{}
)

// certificate returns the shared certificate of a flavour, creating it on first use.
func certificate(f certFlavour) (*tls.Certificate, error) {
	certMu.Lock()
	defer certMu.Unlock()
	if c, ok := certMemo[f]; ok {
		return c, nil
	}
	var key crypto.Signer
	if f.rsa {
		rsaOnce.Do(func() {
			var err error
			if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				keyErr = err
			}
		})
		if rsaKey == nil {
			return nil, fmt.Errorf("lab: RSA key: %v", keyErr)
		}
		key = rsaKey
	} else {
		keyOnce.Do(func() {
			var err error
			if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
				keyErr = err
			}
		})
		if ecKey == nil {
			return nil, fmt.Errorf("lab: ECDSA key: %v", keyErr)
		}
		key = ecKey
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               f.subject(),
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"mail.lab.exsweep.invalid", "autodiscover.lab.exsweep.invalid"},
	}
	if f.expired {
		tmpl.NotBefore, tmpl.NotAfter = expiredNotBefore, expiredNotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("lab: certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("lab: certificate: %v", err)
	}
	c := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	certMemo[f] = c
	return c, nil
}

// tlsConfig builds the server TLS configuration of a resolved server. Configs are
// cached per (flavour, TLS10Only) by the caller.
func tlsConfig(r resolved) (*tls.Config, error) {
	cert, err := certificate(flavourOf(r))
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{*cert},
		// HTTP/1.1 only: X-OWA-Version's header-name case (HeaderLowercase) only
		// exists on HTTP/1.1, and it keeps one code path for keep-alive accounting.
		NextProtos: []string{"http/1.1"},
		MinVersion: tls.VersionTLS12,
	}
	if r.TLS10Only {
		// An unpatched 2010/2013 host: TLS 1.0 with RSA key exchange and CBC.
		// Go's server allows both when they are listed explicitly.
		cfg.MinVersion = tls.VersionTLS10
		cfg.MaxVersion = tls.VersionTLS10
		cfg.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}
	}
	return cfg, nil
}
