package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"time"

	"github.com/wneessen/go-mail"
	"golang.org/x/time/rate"
)

// Outgoing is one message as the outbox holds it.
type Outgoing struct {
	Ticket    string
	From      string
	To, CC    []string
	Subject   string
	Text      string
	HTML      string
	CSV       []byte
	CSVName   string
	MessageID string // stable per ticket, so a resend is recognisably the same message
	Date      time.Time
}

// Build makes the MIME message (text and HTML alternatives, the CSV attached).
func (o Outgoing) Build() (*mail.Msg, error) {
	m := mail.NewMsg()
	if err := m.From(o.From); err != nil {
		return nil, fmt.Errorf("from %q: %w", o.From, err)
	}
	if err := m.To(o.To...); err != nil {
		return nil, fmt.Errorf("to %v: %w", o.To, err)
	}
	if len(o.CC) > 0 {
		if err := m.Cc(o.CC...); err != nil {
			return nil, fmt.Errorf("cc %v: %w", o.CC, err)
		}
	}
	m.Subject(o.Subject)
	if o.MessageID != "" {
		m.SetMessageIDWithValue(o.MessageID)
	} else {
		m.SetMessageID()
	}
	if o.Date.IsZero() {
		m.SetDate()
	} else {
		m.SetDateWithValue(o.Date)
	}
	m.SetBodyString(mail.TypeTextPlain, o.Text)
	if o.HTML != "" {
		m.AddAlternativeString(mail.TypeTextHTML, o.HTML)
	}
	if len(o.CSV) > 0 {
		if err := m.AttachReader(o.CSVName, bytes.NewReader(o.CSV)); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// WriteEML writes the message as an .eml file (the dry run).
func (o Outgoing) WriteEML(w io.Writer) error {
	m, err := o.Build()
	if err != nil {
		return err
	}
	_, err = m.WriteTo(w)
	return err
}

// SMTPOptions configure delivery.
type SMTPOptions struct {
	Host      string
	Port      int
	Security  string // "starttls" (default: required), "tls" (implicit, port 465), "none" (tests, local relays)
	Username  string
	Password  string
	PerMinute int           // rate limit; 0 means 60
	Timeout   time.Duration // per connection; 0 means 30s
	// TLSConfig overrides the TLS settings (tests use a self-signed server).
	TLSConfig *tls.Config
}

// ErrTemporary wraps a delivery error worth retrying later (4xx, network).
var ErrTemporary = errors.New("temporary delivery failure")

// ErrPermanent wraps a delivery error that will not go away (5xx, bad address).
var ErrPermanent = errors.New("permanent delivery failure")

// Sender delivers messages over SMTP, one connection per message (a relay
// that drops idle connections costs no retries), at most PerMinute a minute.
type Sender struct {
	opts    SMTPOptions
	limiter *rate.Limiter
}

// NewSender checks the options.
func NewSender(o SMTPOptions) (*Sender, error) {
	if o.Host == "" {
		return nil, errors.New("smtp: no host")
	}
	switch o.Security {
	case "", "starttls", "tls", "none":
	default:
		return nil, fmt.Errorf("smtp: security %q: want starttls, tls or none", o.Security)
	}
	if o.PerMinute <= 0 {
		o.PerMinute = 60
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Port == 0 {
		o.Port = map[string]int{"tls": 465, "none": 25}[o.Security]
		if o.Port == 0 {
			o.Port = 587
		}
	}
	return &Sender{opts: o, limiter: rate.NewLimiter(rate.Limit(float64(o.PerMinute)/60), 1)}, nil
}

// Send delivers one message. The error wraps ErrTemporary or ErrPermanent.
func (s *Sender) Send(ctx context.Context, o Outgoing) error {
	if err := s.limiter.Wait(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrTemporary, err)
	}
	m, err := o.Build()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPermanent, err)
	}
	opts := []mail.Option{mail.WithPort(s.opts.Port), mail.WithTimeout(s.opts.Timeout)}
	switch s.opts.Security {
	case "tls":
		opts = append(opts, mail.WithSSL())
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if s.opts.TLSConfig != nil {
		opts = append(opts, mail.WithTLSConfig(s.opts.TLSConfig))
	}
	if s.opts.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(s.opts.Username), mail.WithPassword(s.opts.Password))
	}
	c, err := mail.NewClient(s.opts.Host, opts...)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPermanent, err)
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		return classify(err)
	}
	return nil
}

// classify maps an SMTP error to temporary or permanent: 4xx and network
// errors are retried, 5xx are not.
func classify(err error) error {
	var se *mail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		switch {
		case code >= 500:
			return fmt.Errorf("%w: %v", ErrPermanent, err)
		case code >= 400 || se.IsTemp():
			return fmt.Errorf("%w: %v", ErrTemporary, err)
		}
	}
	// Errors during the dial (EHLO, STARTTLS, AUTH) carry the server's
	// reply as a textproto error: 535 bad credentials will not get better.
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return fmt.Errorf("%w: %v", ErrPermanent, err)
	}
	return fmt.Errorf("%w: %v", ErrTemporary, err)
}
