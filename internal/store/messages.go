package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"
)

// The outbox. Sending e-mail and writing a database cannot be one atomic
// step, so the outbox fixes the order and makes the unknown case visible:
//
//	EnqueueMessage   → pending   (stored and committed before any send)
//	ClaimNext        → sending   (committed before the SMTP conversation)
//	MarkSent         → sent      (the server accepted it: 250 after DATA)
//	MarkDeferred     → deferred  (4xx or a network error before DATA: retry later)
//	MarkFailed       → failed    (5xx: permanent; a human looks at it)
//	RequeueMessage   → pending   (a human decided to send it again)
//
// ClaimNext only takes pending and deferred messages, never sending ones.
// A process that dies (kill -9, power cut) after ClaimNext and before
// MarkSent leaves its message in sending, and nobody can tell whether the
// recipient got it: the SMTP server may have accepted the DATA just before
// the crash. Such messages are delivered AT MOST ONCE automatically: they
// are never claimed again. StaleSending lists them so the sender can
// report them, and a human decides: RequeueMessage to send again (the
// recipient may get it twice) or MarkSent to record that it went out.
//
// The trade-off: a crash can leave a notification unsent until a human
// looks, but exsweep never mails a victim twice on its own. For a CERT a
// duplicate mail costs credibility and gets its reports filtered; a late one
// is found by the next `notify send`, which reports stale messages first.
// (At-least-once would need the receiving side to de-duplicate by ticket,
// which mail recipients do not.)

// Message states.
const (
	MessagePending  = "pending"
	MessageSending  = "sending"
	MessageSent     = "sent"
	MessageDeferred = "deferred"
	MessageFailed   = "failed"
)

// Attachment is a file sent with a message (the recipient's host list as
// CSV, typically).
type Attachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Data        []byte `json:"data"`
}

// Message is one notification e-mail in the outbox.
type Message struct {
	ID int64 `json:"id"` // set by the store
	// Ticket is YYYYMMDD-NNNNNNNN, unique forever. EnqueueMessage allocates
	// one when it is empty; to put the ticket into the subject or body,
	// allocate it first with NewTicket.
	Ticket string `json:"ticket"`
	// OrgKey is the recipient organisation ("" for a message to an
	// address that belongs to no organisation, e.g. an AS abuse contact).
	OrgKey string `json:"org_key,omitempty"`
	// To and CC are copied at enqueue time: the organisation's addresses
	// may change later, the message keeps whom it was for.
	To          []string     `json:"to"`
	CC          []string     `json:"cc,omitempty"`
	Subject     string       `json:"subject"`
	BodyText    string       `json:"body_text"`
	BodyHTML    string       `json:"body_html,omitempty"` // "" for text only
	Attachments []Attachment `json:"attachments,omitempty"`
	CaseIDs     []int64      `json:"case_ids"` // the cases the message reports
	// Severity is the highest severity of its cases (suppression window).
	Severity int `json:"severity"`

	// Set by the store.
	State         string    `json:"state"`
	Attempts      int       `json:"attempts"` // claims so far, including one that crashed
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	ClaimedAt     time.Time `json:"claimed_at,omitzero"` // last claim; zero if never claimed
	SentAt        time.Time `json:"sent_at,omitzero"`
	SMTPMessageID string    `json:"smtp_message_id,omitempty"`
}

// Caps for what a message may hold; far above what a notification needs,
// low enough that a bug cannot fill the database with one row.
const (
	maxSubject     = 998 // RFC 5322 line length
	maxBody        = 16 << 20
	maxAttachments = 64 << 20
	maxErrorText   = MaxErrorBytes
	ticketFirst    = 10000001 // mailgen's first number of a day
	ticketLast     = 99999999
)

var ticketRE = regexp.MustCompile(`^[0-9]{8}-[0-9]{8}$`)

// NewTicket allocates a ticket number: YYYYMMDD (UTC, the store's clock)
// and a per-day counter from 10000001, kept in the database, so a number is
// never handed out twice, across restarts and across machines sharing a
// PostgreSQL database. A ticket that is allocated and never used leaves a
// gap, which is harmless.
func (s *Store) NewTicket(ctx context.Context) (string, error) {
	var t string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = s.allocTicket(ctx, tx)
		return err
	})
	return t, err
}

func (s *Store) allocTicket(ctx context.Context, tx *sql.Tx) (string, error) {
	day := s.now().UTC().Format("20060102")
	var n int64
	// The upsert takes the row lock on PostgreSQL (and SQLite's write lock
	// is already held), so two allocations never read the same value.
	err := tx.QueryRowContext(ctx, s.q(`
		INSERT INTO ticket_counters (day, last_seq) VALUES (?, ?)
		ON CONFLICT (day) DO UPDATE SET last_seq = ticket_counters.last_seq + 1
		RETURNING last_seq`), day, ticketFirst).Scan(&n)
	if err != nil {
		return "", fmt.Errorf("allocating a ticket: %w", err)
	}
	if n > ticketLast {
		return "", fmt.Errorf("%w: all ticket numbers of %s are used", ErrInvalid, day)
	}
	return fmt.Sprintf("%s-%08d", day, n), nil
}

// EnqueueMessage stores m as pending and returns its ticket. Once it
// returns, the message exists even if the process dies; nothing is sent
// until ClaimNext hands it out. m.NextAttemptAt, if set, delays the first
// attempt. Every case id must exist, and m.OrgKey, if set, must name an
// organisation.
func (s *Store) EnqueueMessage(ctx context.Context, m Message) (string, error) {
	subject := clean(m.Subject, maxSubject)
	to, err := emailsJSON(m.To)
	if err != nil {
		return "", err
	}
	cc, err := emailsJSON(m.CC)
	if err != nil {
		return "", err
	}
	size := 0
	for _, a := range m.Attachments {
		size += len(a.Data)
	}
	switch {
	case to == "[]":
		return "", fmt.Errorf("%w: message without a recipient address", ErrInvalid)
	case subject == "":
		return "", fmt.Errorf("%w: message without a subject", ErrInvalid)
	case len(m.BodyText) > maxBody || len(m.BodyHTML) > maxBody:
		return "", fmt.Errorf("%w: message body over %d bytes", ErrInvalid, maxBody)
	case size > maxAttachments:
		return "", fmt.Errorf("%w: attachments of %d bytes (max %d)", ErrInvalid, size, maxAttachments)
	case m.Severity < 0:
		return "", fmt.Errorf("%w: message severity %d is negative", ErrInvalid, m.Severity)
	case m.Ticket != "" && !ticketRE.MatchString(m.Ticket):
		return "", fmt.Errorf("%w: ticket %q is not YYYYMMDD-NNNNNNNN", ErrInvalid, m.Ticket)
	}
	caseIDs := slices.Clone(m.CaseIDs)
	slices.Sort(caseIDs)
	caseIDs = slices.Compact(caseIDs)
	now := s.now()
	next := m.NextAttemptAt
	if next.IsZero() {
		next = now
	}

	var ticket string
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var org any
		if m.OrgKey != "" {
			ids := map[string]int64{}
			if err := s.orgIDs(ctx, tx, []string{m.OrgKey}, ids); err != nil {
				return err
			}
			org = ids[m.OrgKey]
		}
		if err := s.checkCases(ctx, tx, caseIDs); err != nil {
			return err
		}
		ticket = m.Ticket
		if ticket == "" {
			var err error
			if ticket, err = s.allocTicket(ctx, tx); err != nil {
				return err
			}
		}
		var id int64
		err := tx.QueryRowContext(ctx, s.q(`
			INSERT INTO messages (ticket, org_id, emails_to, emails_cc, subject, body_text, body_html,
				severity, state, next_attempt_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			RETURNING id`),
			ticket, org, to, cc, subject, clean(m.BodyText, maxBody), clean(m.BodyHTML, maxBody),
			m.Severity, MessagePending, s.tv(next), s.tv(now)).Scan(&id)
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: ticket %s is already used", ErrInvalid, ticket)
		}
		if err != nil {
			return err
		}
		for start := 0; start < len(caseIDs); start += caseChunk {
			chunk := caseIDs[start:min(start+caseChunk, len(caseIDs))]
			args := make([]any, 0, 2*len(chunk))
			for _, c := range chunk {
				args = append(args, id, c)
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO message_cases (message_id, case_id) VALUES `+
				placeholders(len(chunk), 2)), args...); err != nil {
				return err
			}
		}
		for i, a := range m.Attachments {
			data := a.Data
			if data == nil {
				data = []byte{} // NOT NULL: an empty file is still a file
			}
			if _, err := tx.ExecContext(ctx, s.q(`
				INSERT INTO message_attachments (message_id, seq, filename, content_type, data)
				VALUES (?, ?, ?, ?, ?)`),
				id, i, clean(a.Filename, MaxFieldBytes), clean(a.ContentType, MaxFieldBytes), data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return ticket, nil
}

// checkCases fails with ErrNotFound if one of ids is not a case. (The
// foreign key would refuse it too, but without saying which.)
func (s *Store) checkCases(ctx context.Context, tx *sql.Tx, ids []int64) error {
	for start := 0; start < len(ids); start += caseChunk {
		chunk := ids[start:min(start+caseChunk, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT id FROM cases WHERE id IN `+inList(len(chunk))), args...)
		if err != nil {
			return err
		}
		found := make(map[int64]bool, len(chunk))
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			found[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range chunk {
			if !found[id] {
				return fmt.Errorf("case %d: %w", id, ErrNotFound)
			}
		}
	}
	return nil
}

// ClaimNext moves the message that is due first (pending or deferred, next
// attempt at or before now) to sending and returns it with its
// attachments; ok is false when nothing is due. The claim is committed
// before ClaimNext returns, so concurrent senders never get the same
// message: on PostgreSQL the row is taken with FOR UPDATE SKIP LOCKED (other
// senders skip it instead of waiting), on SQLite the single writer
// transaction excludes everyone else.
func (s *Store) ClaimNext(ctx context.Context, now time.Time) (m Message, ok bool, err error) {
	skip := ""
	if s.dialect == dialectPostgres {
		skip = " FOR UPDATE SKIP LOCKED"
	}
	var id int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, s.q(`
			UPDATE messages SET state = ?, attempts = attempts + 1, claimed_at = ?
			WHERE state IN (?, ?) AND id = (
				SELECT id FROM messages
				WHERE state IN (?, ?) AND next_attempt_at <= ?
				ORDER BY next_attempt_at, id
				LIMIT 1`+skip+`)
			RETURNING id`),
			MessageSending, s.tv(s.now()), MessagePending, MessageDeferred,
			MessagePending, MessageDeferred, s.tv(now)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			id = 0
			return nil
		}
		return err
	})
	if err != nil || id == 0 {
		return Message{}, false, err
	}
	m, err = s.GetMessage(ctx, id)
	if err != nil {
		return Message{}, false, err
	}
	return m, true, nil
}

// MarkSent records that the SMTP server accepted message id (smtpID is the
// Message-ID header or the server's queue id). In the same transaction the
// message's cases get its ticket, and those that were open, reopened or
// persisting become notified (with history, actor "outbox"); cases that
// moved on meanwhile (remediated, accepted) keep their state. It also
// accepts a stale sending message that a human confirmed as sent.
func (s *Store) MarkSent(ctx context.Context, id int64, smtpID string) error {
	now := s.now()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.moveMessage(ctx, tx, id, "mark sent", []string{MessageSending},
			`state = ?, sent_at = ?, smtp_message_id = ?, last_error = ''`,
			MessageSent, s.tv(now), clean(smtpID, MaxFieldBytes)); err != nil {
			return err
		}
		var ticket string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT ticket FROM messages WHERE id = ?`), id).Scan(&ticket); err != nil {
			return err
		}
		// Lock the cases (PostgreSQL) before reading their states, so a
		// concurrent rescan cannot remediate one between read and write.
		rows, err := tx.QueryContext(ctx, s.q(`
			SELECT id, state FROM cases
			WHERE id IN (SELECT case_id FROM message_cases WHERE message_id = ?)
			ORDER BY id`+s.forUpdate()), id)
		if err != nil {
			return err
		}
		var ts []CaseTransition
		for rows.Next() {
			var cid int64
			var state string
			if err := rows.Scan(&cid, &state); err != nil {
				rows.Close()
				return err
			}
			if CaseTransitionAllowed(state, CaseNotified) {
				ts = append(ts, CaseTransition{CaseID: cid, To: CaseNotified, Reason: "notified, ticket " + ticket,
					Actor: "outbox", At: now})
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`
			UPDATE cases SET ticket = ?
			WHERE id IN (SELECT case_id FROM message_cases WHERE message_id = ?)`), ticket, id); err != nil {
			return err
		}
		return s.transitionTx(ctx, tx, ts, now)
	})
}

// MarkDeferred records a temporary failure (4xx, or a connection that
// failed before the message was handed over) and schedules the next
// attempt at next (zero: at once).
func (s *Store) MarkDeferred(ctx context.Context, id int64, errText string, next time.Time) error {
	if next.IsZero() {
		next = s.now()
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		return s.moveMessage(ctx, tx, id, "defer", []string{MessageSending},
			`state = ?, last_error = ?, next_attempt_at = ?`,
			MessageDeferred, clean(errText, maxErrorText), s.tv(next))
	})
}

// MarkFailed records a permanent failure (5xx). The message is not tried
// again unless a human requeues it.
func (s *Store) MarkFailed(ctx context.Context, id int64, errText string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		return s.moveMessage(ctx, tx, id, "mark failed", []string{MessageSending},
			`state = ?, last_error = ?`, MessageFailed, clean(errText, maxErrorText))
	})
}

// RequeueMessage puts a failed, deferred or stale sending message back to
// pending, due now: the human decision that it should be (re)sent. For a
// sending message the recipient may then get it twice.
func (s *Store) RequeueMessage(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		return s.moveMessage(ctx, tx, id, "requeue", []string{MessageSending, MessageFailed, MessageDeferred},
			`state = ?, next_attempt_at = ?`, MessagePending, s.tv(s.now()))
	})
}

// moveMessage updates message id with set (its arguments first) if it is in
// one of the states from; otherwise ErrNotFound or ErrTransition.
func (s *Store) moveMessage(ctx context.Context, tx *sql.Tx, id int64, what string, from []string, set string, args ...any) error {
	args = append(args, id)
	for _, f := range from {
		args = append(args, f)
	}
	res, err := tx.ExecContext(ctx, s.q(`UPDATE messages SET `+set+` WHERE id = ? AND state IN `+inList(len(from))), args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 1 {
		return nil
	}
	var state string
	err = tx.QueryRowContext(ctx, s.q(`SELECT state FROM messages WHERE id = ?`), id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("message %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("message %d: %w: cannot %s a %s message", id, ErrTransition, what, state)
}

// StaleSending returns the messages claimed more than olderThan ago and
// still in sending: their sender died or hung, and whether they reached
// the recipient is unknown. They are never claimed again automatically
// (at most once, see above); report them and let a human choose between
// RequeueMessage and MarkSent. olderThan should exceed the longest SMTP
// conversation (a few minutes), or a live sender's message shows up.
func (s *Store) StaleSending(ctx context.Context, olderThan time.Duration) ([]Message, error) {
	return s.messages(ctx, ` WHERE m.state = ? AND m.claimed_at <= ? ORDER BY m.claimed_at, m.id`,
		MessageSending, s.tv(s.now().Add(-olderThan)))
}

// GetMessage returns one message with its case ids and attachments;
// ErrNotFound if there is none with that id.
func (s *Store) GetMessage(ctx context.Context, id int64) (Message, error) {
	ms, err := s.messages(ctx, ` WHERE m.id = ?`, id)
	if err != nil {
		return Message{}, err
	}
	if len(ms) == 0 {
		return Message{}, fmt.Errorf("message %d: %w", id, ErrNotFound)
	}
	m := ms[0]
	rows, err := s.r.QueryContext(ctx, s.q(`
		SELECT filename, content_type, data FROM message_attachments WHERE message_id = ? ORDER BY seq`), id)
	if err != nil {
		return Message{}, s.explain(fmt.Errorf("reading attachments of message %d: %w", id, err))
	}
	defer rows.Close()
	for rows.Next() {
		var a Attachment
		if err := rows.Scan(&a.Filename, &a.ContentType, &a.Data); err != nil {
			return Message{}, s.explain(err)
		}
		m.Attachments = append(m.Attachments, a)
	}
	if err := rows.Err(); err != nil {
		return Message{}, s.explain(fmt.Errorf("reading attachments of message %d: %w", id, err))
	}
	return m, nil
}

// MessageFilter selects messages. Zero fields do not filter.
type MessageFilter struct {
	States []string
	OrgKey string
	CaseID int64 // messages that report this case
	Ticket string
	Limit  int // <= 0: no limit
	Offset int
}

// Messages returns the messages f selects, newest first, with their case
// ids but without attachments (GetMessage loads those).
func (s *Store) Messages(ctx context.Context, f MessageFilter) ([]Message, error) {
	where := ` WHERE 1 = 1`
	var args []any
	if len(f.States) > 0 {
		where += ` AND m.state IN ` + inList(len(f.States))
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	if f.OrgKey != "" {
		where += ` AND o.key = ?`
		args = append(args, f.OrgKey)
	}
	if f.CaseID != 0 {
		where += ` AND m.id IN (SELECT message_id FROM message_cases WHERE case_id = ?)`
		args = append(args, f.CaseID)
	}
	if f.Ticket != "" {
		where += ` AND m.ticket = ?`
		args = append(args, f.Ticket)
	}
	where, args = s.pageClause(where+` ORDER BY m.id DESC`, args, f.Limit, f.Offset)
	return s.messages(ctx, where, args...)
}

const messageColumns = `m.id, m.ticket, COALESCE(o.key, ''), m.emails_to, m.emails_cc, m.subject,
	m.body_text, m.body_html, m.severity, m.state, m.attempts, m.next_attempt_at, m.last_error,
	m.created_at, m.claimed_at, m.sent_at, m.smtp_message_id`

// messages runs a message query (tail: WHERE … ORDER BY …) and loads the
// case ids of what it found.
func (s *Store) messages(ctx context.Context, tail string, args ...any) ([]Message, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT `+messageColumns+`
		FROM messages m LEFT JOIN organisations o ON o.id = m.org_id`+tail), args...)
	if err != nil {
		return nil, s.explain(fmt.Errorf("reading messages: %w", err))
	}
	defer rows.Close()
	var out []Message
	index := map[int64]int{}
	for rows.Next() {
		var (
			m                              Message
			to, cc                         string
			next, created, claimed, sentAt dbTime
			severity, attempts             int64
		)
		if err := rows.Scan(&m.ID, &m.Ticket, &m.OrgKey, &to, &cc, &m.Subject, &m.BodyText, &m.BodyHTML,
			&severity, &m.State, &attempts, &next, &m.LastError, &created, &claimed, &sentAt, &m.SMTPMessageID); err != nil {
			return nil, s.explain(fmt.Errorf("reading messages: %w", err))
		}
		if m.To, err = parseStrings(to); err != nil {
			return nil, err
		}
		if m.CC, err = parseStrings(cc); err != nil {
			return nil, err
		}
		m.Severity, m.Attempts = int(severity), int(attempts)
		m.NextAttemptAt, m.CreatedAt, m.ClaimedAt, m.SentAt = next.T, created.T, claimed.T, sentAt.T
		index[m.ID] = len(out)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, s.explain(fmt.Errorf("reading messages: %w", err))
	}
	rows.Close()
	ids := make([]int64, 0, len(out))
	for _, m := range out {
		ids = append(ids, m.ID)
	}
	cases, err := s.messageCases(ctx, ids)
	if err != nil {
		return nil, err
	}
	for id, cs := range cases {
		out[index[id]].CaseIDs = cs
	}
	return out, nil
}

// messageCases returns the case ids of each message, ascending.
func (s *Store) messageCases(ctx context.Context, ids []int64) (map[int64][]int64, error) {
	out := map[int64][]int64{}
	for start := 0; start < len(ids); start += caseChunk {
		chunk := ids[start:min(start+caseChunk, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := s.r.QueryContext(ctx, s.q(`
			SELECT message_id, case_id FROM message_cases
			WHERE message_id IN `+inList(len(chunk))+` ORDER BY message_id, case_id`), args...)
		if err != nil {
			return nil, s.explain(fmt.Errorf("reading message cases: %w", err))
		}
		for rows.Next() {
			var m, c int64
			if err := rows.Scan(&m, &c); err != nil {
				rows.Close()
				return nil, s.explain(err)
			}
			out[m] = append(out[m], c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, s.explain(fmt.Errorf("reading message cases: %w", err))
		}
	}
	return out, nil
}

// LastMessage is what the planner's suppression window needs to know about
// the newest message to an organisation.
type LastMessage struct {
	Ticket string
	State  string
	// At is when it was sent, or when it was enqueued if it is not sent
	// yet (a queued message counts: it will be sent).
	At       time.Time
	Severity int
	CaseIDs  []int64
}

// lastMessageQuery finds, per organisation, its newest message that is not
// failed (a failed message told nobody anything).
const lastMessageQuery = `
	SELECT o.key, m.id, m.ticket, m.state, m.severity, m.created_at, m.sent_at
	FROM messages m JOIN organisations o ON o.id = m.org_id
	WHERE m.id = (SELECT MAX(m2.id) FROM messages m2 WHERE m2.org_id = m.org_id AND m2.state <> 'failed')`

// LastMessageTo returns the newest message to organisation orgKey that did
// not fail; ok is false if there is none.
func (s *Store) LastMessageTo(ctx context.Context, orgKey string) (LastMessage, bool, error) {
	all, err := s.lastMessages(ctx, ` AND o.key = ?`, orgKey)
	if err != nil {
		return LastMessage{}, false, err
	}
	lm, ok := all[orgKey]
	return lm, ok, nil
}

// LastMessages is LastMessageTo for every organisation at once (keyed by
// organisation key), for planning a whole constituency with one query.
func (s *Store) LastMessages(ctx context.Context) (map[string]LastMessage, error) {
	return s.lastMessages(ctx, "")
}

func (s *Store) lastMessages(ctx context.Context, and string, args ...any) (map[string]LastMessage, error) {
	rows, err := s.r.QueryContext(ctx, s.q(lastMessageQuery+and), args...)
	if err != nil {
		return nil, s.explain(fmt.Errorf("reading last messages: %w", err))
	}
	defer rows.Close()
	out := map[string]LastMessage{}
	byID := map[int64]string{}
	var ids []int64
	for rows.Next() {
		var (
			key           string
			id, severity  int64
			lm            LastMessage
			created, sent dbTime
		)
		if err := rows.Scan(&key, &id, &lm.Ticket, &lm.State, &severity, &created, &sent); err != nil {
			return nil, s.explain(fmt.Errorf("reading last messages: %w", err))
		}
		lm.Severity = int(severity)
		lm.At = created.T
		if !sent.T.IsZero() {
			lm.At = sent.T
		}
		out[key] = lm
		byID[id] = key
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, s.explain(fmt.Errorf("reading last messages: %w", err))
	}
	rows.Close()
	cases, err := s.messageCases(ctx, ids)
	if err != nil {
		return nil, err
	}
	for id, cs := range cases {
		lm := out[byID[id]]
		lm.CaseIDs = cs
		out[byID[id]] = lm
	}
	return out, nil
}
