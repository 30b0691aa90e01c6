package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/exsweep/exsweep/internal/notify"
	"github.com/exsweep/exsweep/internal/report"
	"github.com/exsweep/exsweep/internal/store"
)

type notifyOptions struct {
	db          string
	window      time.Duration
	templates   string
	from        string
	out         string
	send        bool
	smtp        string
	security    string
	user        string
	passwordEnv string
	perMinute   int
	retryAfter  time.Duration
}

func newNotifyCmd(e *env) *cobra.Command {
	o := &notifyOptions{}
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Tell each owner once, with guidance: plan, then send (dry run by default)",
		Long: `Build one message per recipient with all of its open cases (most severe first),
the exact update to install per endpoint, the exsweep hunt command to run, and the
endpoint CSV (Shadowserver columns), in the recipient's language (English and German
built in; --templates DIR overrides or adds languages: DIR/<lang>/subject.txt,
body.txt, body.html).

A recipient told within --window is skipped unless the severity rose or endpoints
appeared that the last message did not list. Endpoints without an owner are listed
apart, by AS.

Without --send this is a dry run: the plan is printed and each message is written as
an .eml file to --out. With --send every message is first recorded in the outbox,
then sent over SMTP; a crash or kill during sending never sends a recorded message
twice, and a re-run sends what is left. 4xx answers are retried later, 5xx are
recorded as failed. A message whose outcome is unknown after a crash is reported,
not resent automatically.`,
		Example: `  exsweep notify --from "CERT <cert@example.org>" --out ./outbox       # dry run
  EXSWEEP_SMTP_PASSWORD=… exsweep notify --send --from "CERT <cert@example.org>" \
      --smtp mail.example.org:587 --smtp-user cert --per-minute 30`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runNotify(cmd.Context(), e, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.db, "db", store.DefaultPath(), "store: SQLite file or postgres:// URL")
	f.DurationVar(&o.window, "window", 7*24*time.Hour, "do not message a recipient again within this time unless something got worse")
	f.StringVar(&o.templates, "templates", "", "folder with templates that override or add languages")
	f.StringVar(&o.from, "from", "", "sender address, e.g. \"CERT <cert@example.org>\" (required)")
	f.StringVar(&o.out, "out", "exsweep-outbox", "dry run: write .eml files here")
	f.BoolVar(&o.send, "send", false, "really send over SMTP")
	f.StringVar(&o.smtp, "smtp", "", "SMTP server host:port")
	f.StringVar(&o.security, "smtp-security", "starttls", "starttls (required), tls (implicit) or none (local relays only)")
	f.StringVar(&o.user, "smtp-user", "", "SMTP user name (AUTH)")
	f.StringVar(&o.passwordEnv, "smtp-password-env", "EXSWEEP_SMTP_PASSWORD", "environment variable holding the SMTP password")
	f.IntVar(&o.perMinute, "per-minute", 60, "messages per minute at most")
	f.DurationVar(&o.retryAfter, "retry-after", 15*time.Minute, "wait this long before retrying a 4xx-deferred message")
	return cmd
}

func runNotify(ctx context.Context, e *env, o *notifyOptions) error {
	if o.from == "" {
		return usageErrorf("--from is required (the sender address)")
	}
	if o.send && o.smtp == "" {
		return usageErrorf("--send needs --smtp host:port")
	}
	var sender *notify.Sender
	if o.send {
		host, portText, err := net.SplitHostPort(o.smtp)
		if err != nil {
			return usageErrorf("--smtp %q: want host:port", o.smtp)
		}
		port, err := strconv.Atoi(portText)
		if err != nil {
			return usageErrorf("--smtp %q: bad port", o.smtp)
		}
		sender, err = notify.NewSender(notify.SMTPOptions{Host: host, Port: port, Security: o.security, Username: o.user,
			Password: e.getenv(o.passwordEnv), PerMinute: o.perMinute})
		if err != nil {
			return usageErrorf("%v", err)
		}
	}
	kb, err := e.loadKB()
	if err != nil {
		return err
	}
	renderer, err := notify.NewRenderer(kb, o.templates, o.from)
	if err != nil {
		return usageErrorf("--templates: %v", err)
	}
	st, err := openStore(ctx, o.db)
	if err != nil {
		return err
	}
	defer st.Close()

	if stale, err := st.StaleSending(ctx, time.Minute); err == nil {
		for _, m := range stale {
			e.log.Warn("message in an unknown state after a crash: check with the recipient's server, then requeue or mark it sent",
				"ticket", m.Ticket, "to", m.To)
		}
	}

	// Plan from the open cases.
	cases, err := st.ListCases(ctx, store.CaseFilter{States: []string{store.CaseOpen, store.CaseReopened, store.CasePersisting, store.CaseNotified}})
	if err != nil {
		return err
	}
	orgList, err := st.Organisations(ctx)
	if err != nil {
		return err
	}
	orgs := map[string]notify.Org{}
	for _, o := range orgList {
		orgs[o.Key] = notify.Org{Key: o.Key, Name: o.Name, To: o.To, CC: o.CC, Language: o.Language}
	}
	lastMsgs, err := st.LastMessages(ctx)
	if err != nil {
		return err
	}
	last := map[string]notify.LastSent{}
	for k, m := range lastMsgs {
		last[k] = notify.LastSent{At: m.At, MaxSeverity: m.Severity, CaseIDs: m.CaseIDs}
	}
	var ncases []notify.Case
	for _, c := range cases {
		ncases = append(ncases, noteCase(c))
	}
	plan := notify.BuildPlan(orgs, ncases, last, o.window, e.now())
	printPlan(e, plan)

	if !o.send {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return usageErrorf("--out: %v", err)
		}
		for i, p := range plan.Messages {
			ticket := fmt.Sprintf("DRYRUN-%04d", i+1)
			r, err := renderer.Render(p, ticket, e.now())
			if err != nil {
				return err
			}
			path := filepath.Join(o.out, ticket+"-"+safeName(p.Org.Key)+".eml")
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			err = outgoing(o, p, r, ticket).WriteEML(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		fmt.Fprintf(e.stdout, "Dry run: %d message(s) written to %s; nothing sent (add --send).\n", len(plan.Messages), o.out)
		return nil
	}

	// Record every message first, then send: a crash leaves them in the outbox.
	for _, p := range plan.Messages {
		ticket, err := st.NewTicket(ctx)
		if err != nil {
			return err
		}
		r, err := renderer.Render(p, ticket, e.now())
		if err != nil {
			return err
		}
		var ids []int64
		sev := 0
		for _, c := range p.Cases {
			ids = append(ids, c.ID)
			sev = max(sev, c.Severity)
		}
		if _, err := st.EnqueueMessage(ctx, store.Message{Ticket: ticket, OrgKey: p.Org.Key, To: p.Org.To, CC: p.Org.CC,
			Subject: r.Subject, BodyText: r.Text, BodyHTML: r.HTML, CaseIDs: ids, Severity: sev,
			Attachments: []store.Attachment{{Filename: r.CSVName, ContentType: "text/csv", Data: r.CSV}}}); err != nil {
			return err
		}
	}
	return drainOutbox(ctx, e, st, sender, o)
}

// drainOutbox sends every due message of the outbox.
func drainOutbox(ctx context.Context, e *env, st *store.Store, sender *notify.Sender, o *notifyOptions) error {
	sent, deferred, failed := 0, 0, 0
	for {
		m, ok, err := st.ClaimNext(ctx, e.now())
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		out := notify.Outgoing{Ticket: m.Ticket, From: o.from, To: m.To, CC: m.CC, Subject: m.Subject, Text: m.BodyText,
			HTML: m.BodyHTML, MessageID: m.Ticket + "@exsweep.invalid"}
		if len(m.Attachments) > 0 {
			out.CSV, out.CSVName = m.Attachments[0].Data, m.Attachments[0].Filename
		}
		err = sender.Send(ctx, out)
		switch {
		case err == nil:
			if err := st.MarkSent(ctx, m.ID, out.MessageID); err != nil {
				return err
			}
			sent++
		case errors.Is(err, notify.ErrPermanent):
			e.log.Error("message failed", "ticket", m.Ticket, "err", err)
			if err := st.MarkFailed(ctx, m.ID, err.Error()); err != nil {
				return err
			}
			failed++
		default:
			e.log.Warn("message deferred", "ticket", m.Ticket, "err", err)
			if err := st.MarkDeferred(ctx, m.ID, err.Error(), e.now().Add(o.retryAfter)); err != nil {
				return err
			}
			deferred++
			if ctx.Err() != nil {
				return ErrInterrupted
			}
		}
	}
	fmt.Fprintf(e.stdout, "Sent %d, deferred %d (retried by the next run after %s), failed %d.\n", sent, deferred, o.retryAfter, failed)
	if failed > 0 {
		return fmt.Errorf("%w: %d message(s) failed permanently", ErrPartial, failed)
	}
	return nil
}

func outgoing(o *notifyOptions, p notify.Planned, r notify.Rendered, ticket string) notify.Outgoing {
	return notify.Outgoing{Ticket: ticket, From: o.from, To: p.Org.To, CC: p.Org.CC, Subject: r.Subject, Text: r.Text,
		HTML: r.HTML, CSV: r.CSV, CSVName: r.CSVName, MessageID: ticket + "@exsweep.invalid"}
}

func noteCase(c store.Case) notify.Case {
	return notify.Case{ID: c.ID, OrgKey: c.OrgKey, IP: c.Endpoint.Addr().String(), Port: int(c.Endpoint.Port()), Hostname: c.Hostname,
		Problem: c.Problem, CVEs: c.CVEs, Severity: c.Severity, ASN: c.ASN, ASName: c.ASName, ObservedAt: c.LastSeen}
}

func printPlan(e *env, p notify.Plan) {
	fmt.Fprintf(e.stdout, "Plan: %d message(s), %d recipient(s) suppressed, %d unowned AS(es)\n", len(p.Messages), len(p.Suppressed), len(p.Unowned))
	for _, m := range p.Messages {
		fmt.Fprintf(e.stdout, "  to %s <%v>: %d endpoint(s), most severe %s %s (%s)\n", report.TableSafe(m.Org.Name), m.Org.To, len(m.Cases),
			m.Cases[0].Problem, m.Cases[0].Endpoint(), m.Reason)
	}
	for _, s := range p.Suppressed {
		fmt.Fprintf(e.stdout, "  not now: %s: %s\n", report.TableSafe(s.Org.Name), s.Reason)
	}
	for _, u := range p.Unowned {
		fmt.Fprintf(e.stdout, "  unowned: AS%d %s: %d endpoint(s)\n", u.ASN, report.TableSafe(u.ASName), len(u.Cases))
	}
	for _, k := range p.MissingOrgs {
		fmt.Fprintf(e.stdout, "  warning: cases name organisation %q, which the store does not have\n", k)
	}
}

func safeName(s string) string {
	b := []rune{}
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			b = append(b, r)
		} else {
			b = append(b, '_')
		}
		if len(b) >= 40 {
			break
		}
	}
	return string(b)
}
