package notify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// authSink accepts PLAIN with one user and counts whether TLS was on.
type authSink struct {
	smtpSink
	authed int
}

func (s *authSink) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &authSession{sinkSession: sinkSession{s: &s.smtpSink}, parent: s}, nil
}

type authSession struct {
	sinkSession
	parent *authSink
	ok     bool
}

func (a *authSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (a *authSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "cert" || pass != "s3cret" {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		a.ok = true
		a.parent.authed++
		return nil
	}), nil
}
func (a *authSession) Mail(from string, o *smtp.MailOptions) error {
	if !a.ok {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	return nil
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestSendTLSAndAuth: STARTTLS and implicit TLS, each with AUTH PLAIN; a wrong
// password is a permanent failure.
func TestSendTLSAndAuth(t *testing.T) {
	cert := selfSigned(t)
	for _, mode := range []string{"starttls", "tls"} {
		t.Run(mode, func(t *testing.T) {
			sink := &authSink{}
			srv := smtp.NewServer(sink)
			srv.Domain = "localhost"
			srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
			var ln net.Listener
			var err error
			if mode == "tls" {
				ln, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
			} else {
				ln, err = net.Listen("tcp", "127.0.0.1:0")
			}
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(ln)
			defer srv.Close()
			port := ln.Addr().(*net.TCPAddr).Port
			opts := SMTPOptions{Host: "127.0.0.1", Port: port, Security: mode, Username: "cert", Password: "s3cret", PerMinute: 6000,
				TLSConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}}
			s, _ := NewSender(opts)
			msg := Outgoing{From: "cert@cert.example", To: []string{"a@b.example"}, Subject: "s", Text: "t"}
			if err := s.Send(context.Background(), msg); err != nil {
				t.Fatal(err)
			}
			if sink.authed != 1 || len(sink.messages) != 1 {
				t.Errorf("authed %d, messages %d", sink.authed, len(sink.messages))
			}
			opts.Password = "wrong"
			s, _ = NewSender(opts)
			if err := s.Send(context.Background(), msg); !errors.Is(err, ErrPermanent) {
				t.Errorf("wrong password: %v, want permanent", err)
			}
		})
	}
}
