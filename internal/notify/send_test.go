package notify

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"
)

// smtpSink is an in-process SMTP server: it keeps every message and answers
// 451 or 550 for chosen recipients.
type smtpSink struct {
	mu       sync.Mutex
	messages [][]byte
	temp     string // recipient answered 451
	perm     string // recipient answered 550
}

func (s *smtpSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }

type sinkSession struct{ s *smtpSink }

func (x *sinkSession) Reset()        {}
func (x *sinkSession) Logout() error { return nil }
func (x *sinkSession) Mail(string, *smtp.MailOptions) error {
	return nil
}
func (x *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	switch to {
	case x.s.temp:
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	case x.s.perm:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	return nil
}
func (x *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	x.s.mu.Lock()
	x.s.messages = append(x.s.messages, b)
	x.s.mu.Unlock()
	return err
}

func startSink(t *testing.T) (*smtpSink, int) {
	t.Helper()
	sink := &smtpSink{temp: "later@example.org", perm: "nobody@example.org"}
	srv := smtp.NewServer(sink)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sink, ln.Addr().(*net.TCPAddr).Port
}

func TestSendAndParseBack(t *testing.T) {
	sink, port := startSink(t)
	s, err := NewSender(SMTPOptions{Host: "127.0.0.1", Port: port, Security: "none", PerMinute: 6000})
	if err != nil {
		t.Fatal(err)
	}
	o := Outgoing{Ticket: "20210312-10000001", From: "CERT <cert@cert.example>", To: []string{"cert@acme.example"},
		CC: []string{"soc@acme.example"}, Subject: "[20210312-10000001] Vulnerable Microsoft Exchange servers in your network (1)",
		Text: "Dear ACME,\nGrüße", HTML: "<p>Dear ACME</p>", CSV: []byte("timestamp,ip\n2021-03-12,192.0.2.1\n"),
		CSVName: "2021-03-12-scan_exchange-20210312-10000001.csv", MessageID: "20210312-10000001@exsweep.invalid"}
	if err := s.Send(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if len(sink.messages) != 1 {
		t.Fatalf("%d messages received", len(sink.messages))
	}
	mr, err := mail.CreateReader(bytes.NewReader(sink.messages[0]))
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := mr.Header.Subject()
	id, _ := mr.Header.MessageID()
	if subj != o.Subject || id != "20210312-10000001@exsweep.invalid" {
		t.Errorf("subject %q, message-id %q", subj, id)
	}
	var text, csv string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p.Body)
		switch h := p.Header.(type) {
		case *mail.InlineHeader:
			if ct, _, _ := h.ContentType(); ct == "text/plain" {
				text = string(b)
			}
		case *mail.AttachmentHeader:
			name, _ := h.Filename()
			if name == o.CSVName {
				csv = string(b)
			}
		}
	}
	if !strings.Contains(text, "Grüße") || csv != string(o.CSV) {
		t.Errorf("text %q, csv %q", text, csv)
	}

	o.To = []string{"later@example.org"}
	if err := s.Send(context.Background(), o); !errors.Is(err, ErrTemporary) {
		t.Errorf("451: %v, want temporary", err)
	}
	o.To = []string{"nobody@example.org"}
	if err := s.Send(context.Background(), o); !errors.Is(err, ErrPermanent) {
		t.Errorf("550: %v, want permanent", err)
	}
}

func TestSendRateLimit(t *testing.T) {
	_, port := startSink(t)
	s, _ := NewSender(SMTPOptions{Host: "127.0.0.1", Port: port, Security: "none", PerMinute: 600}) // one per 100 ms
	start := time.Now()
	for i := 0; i < 4; i++ {
		if err := s.Send(context.Background(), Outgoing{From: "a@b.example", To: []string{"c@d.example"}, Subject: "x", Text: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Errorf("4 messages at 600/min took %v, want >= 300ms", el)
	}
}

func TestEML(t *testing.T) {
	var b bytes.Buffer
	if err := (Outgoing{From: "a@b.example", To: []string{"c@d.example"}, Subject: "s", Text: "t"}).WriteEML(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "Subject: s") {
		t.Errorf("eml:\n%s", b.String())
	}
	if err := (Outgoing{From: "not an address", To: []string{"c@d.example"}}).WriteEML(&b); err == nil {
		t.Error("bad From accepted")
	}
}
