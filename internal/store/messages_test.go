package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// testMessage is a message to org with the given cases.
func testMessage(org string, cases ...int64) Message {
	return Message{
		OrgKey:   org,
		To:       []string{"abuse@" + org + ".example"},
		CC:       []string{"cert@example.org"},
		Subject:  "[EX-Report] Vulnerable Exchange servers in your network",
		BodyText: "Dear " + org + ",\n\nsee the attached list.\n",
		BodyHTML: "<p>Dear " + org + ",</p>",
		Attachments: []Attachment{
			{Filename: "hosts.csv", ContentType: "text/csv", Data: []byte("ip,port\n192.0.2.1,443\n")},
			{Filename: "raw.bin", ContentType: "application/octet-stream", Data: []byte{0, 0xff, 0x10, 0}},
		},
		CaseIDs:  cases,
		Severity: 7,
	}
}

func mustEnqueue(t testing.TB, s *Store, m Message) Message {
	t.Helper()
	ctx := context.Background()
	ticket, err := s.EnqueueMessage(ctx, m)
	if err != nil {
		t.Fatalf("EnqueueMessage: %v", err)
	}
	ms, err := s.Messages(ctx, MessageFilter{Ticket: ticket})
	if err != nil || len(ms) != 1 {
		t.Fatalf("Messages(ticket %s) = %d, %v", ticket, len(ms), err)
	}
	return ms[0]
}

var ticketFormat = regexp.MustCompile(`^\d{8}-\d{8}$`)

func TestEnqueueMessage(t *testing.T) { forEachBackend(t, testEnqueueMessage) }

func testEnqueueMessage(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	now := time.Date(2021, 3, 7, 10, 0, 0, 0, time.UTC)
	s.now = fixedClock(&now)
	mustOrgs(t, s, "acme")
	c1 := mustCase(t, s, vulnInput("acme", "192.0.2.1:443", t0)).ID
	c2 := mustCase(t, s, vulnInput("acme", "192.0.2.2:443", t0)).ID

	in := testMessage("acme", c2, c1, c2)
	ticket, err := s.EnqueueMessage(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if ticket != "20210307-10000001" {
		t.Errorf("first ticket of the day = %q", ticket)
	}
	ms, err := s.Messages(ctx, MessageFilter{})
	if err != nil || len(ms) != 1 {
		t.Fatalf("Messages = %d, %v", len(ms), err)
	}
	got, err := s.GetMessage(ctx, ms[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	want := in
	want.ID, want.Ticket, want.State = ms[0].ID, ticket, MessagePending
	want.CaseIDs = []int64{c1, c2} // de-duplicated, sorted
	want.NextAttemptAt, want.CreatedAt = now, now
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("GetMessage (-want +got):\n%s", diff)
	}
	// Messages leaves attachments out.
	if ms[0].Attachments != nil || len(ms[0].CaseIDs) != 2 {
		t.Errorf("Messages row: %d attachments, cases %v", len(ms[0].Attachments), ms[0].CaseIDs)
	}
	// Enqueueing does not touch the cases: they are notified when sent.
	if c, _ := s.GetCase(ctx, c1); c.State != CaseOpen || c.Ticket != "" {
		t.Errorf("case after enqueue: %s %q", c.State, c.Ticket)
	}

	bad := []struct {
		name string
		m    Message
		want error
	}{
		{"no recipient", Message{Subject: "s", To: []string{""}}, ErrInvalid},
		{"no subject", Message{To: []string{"a@b.example"}, Subject: "\x00"}, ErrInvalid},
		{"bad ticket", Message{To: []string{"a@b.example"}, Subject: "s", Ticket: "2021-1"}, ErrInvalid},
		{"used ticket", Message{To: []string{"a@b.example"}, Subject: "s", Ticket: ticket}, ErrInvalid},
		{"unknown case", Message{To: []string{"a@b.example"}, Subject: "s", CaseIDs: []int64{c1, 999}}, ErrNotFound},
		{"unknown org", Message{To: []string{"a@b.example"}, Subject: "s", OrgKey: "nobody"}, ErrNotFound},
		{"negative severity", Message{To: []string{"a@b.example"}, Subject: "s", Severity: -1}, ErrInvalid},
	}
	for _, tt := range bad {
		if _, err := s.EnqueueMessage(ctx, tt.m); !errors.Is(err, tt.want) {
			t.Errorf("%s: EnqueueMessage = %v, want %v", tt.name, err, tt.want)
		}
	}
	if ms, _ := s.Messages(ctx, MessageFilter{}); len(ms) != 1 {
		t.Errorf("refused messages were stored: %d", len(ms))
	}
	// A message to an address outside any organisation, with a ticket
	// allocated first so the subject can carry it.
	pre, err := s.NewTicket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := mustEnqueue(t, s, Message{Ticket: pre, To: []string{"abuse@as64500.example"}, Subject: "[EX-Report#" + pre + "]", BodyText: "x"})
	if m.OrgKey != "" || m.Ticket != pre || !strings.Contains(m.Subject, pre) {
		t.Errorf("message with a pre-allocated ticket: %+v", m)
	}
}

// TestTicketsNeverRepeat: the counter lives in the database, so closing and
// reopening it (a restart) continues the sequence, and a new day starts a
// new one.
func TestTicketsNeverRepeat(t *testing.T) { forEachBackend(t, testTicketsNeverRepeat) }

func testTicketsNeverRepeat(t *testing.T, b backend) {
	ctx := context.Background()
	dsn := b.newDSN(t)
	day1 := time.Date(2021, 3, 7, 23, 59, 0, 0, time.UTC)
	seen := map[string]bool{}
	var order []string
	for round := range 3 {
		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		now := day1
		if round == 2 {
			now = day1.Add(2 * time.Minute) // the next UTC day
		}
		s.now = fixedClock(&now)
		for i := range 3 {
			var tk string
			if i == 0 {
				tk, err = s.NewTicket(ctx)
			} else {
				tk, err = s.EnqueueMessage(ctx, Message{To: []string{"a@b.example"}, Subject: "s"})
			}
			if err != nil {
				t.Fatal(err)
			}
			if !ticketFormat.MatchString(tk) || seen[tk] {
				t.Fatalf("ticket %q (seen before: %v)", tk, seen[tk])
			}
			seen[tk] = true
			order = append(order, tk)
		}
		s.Close()
	}
	want := []string{
		"20210307-10000001", "20210307-10000002", "20210307-10000003",
		"20210307-10000004", "20210307-10000005", "20210307-10000006",
		"20210308-10000001", "20210308-10000002", "20210308-10000003",
	}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("tickets (-want +got):\n%s", diff)
	}
}

func TestOutboxLifecycle(t *testing.T) { forEachBackend(t, testOutboxLifecycle) }

func testOutboxLifecycle(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	now := time.Date(2021, 3, 7, 10, 0, 0, 0, time.UTC)
	s.now = fixedClock(&now)
	mustOrgs(t, s, "acme", "beta")
	open := mustCase(t, s, vulnInput("acme", "192.0.2.1:443", t0)).ID
	persisting := driveTo(t, s, "192.0.2.2:443", CasePersisting)
	remediated := driveTo(t, s, "192.0.2.3:443", CaseRemediated)

	later := testMessage("beta")
	later.NextAttemptAt = now.Add(time.Hour)
	mLater := mustEnqueue(t, s, later)
	mAcme := mustEnqueue(t, s, testMessage("acme", open, persisting, remediated))

	// Not due yet: only mAcme is claimable now.
	got, ok, err := s.ClaimNext(ctx, now)
	if err != nil || !ok || got.ID != mAcme.ID {
		t.Fatalf("ClaimNext = %d, %v, %v; want message %d", got.ID, ok, err, mAcme.ID)
	}
	if got.State != MessageSending || got.Attempts != 1 || !got.ClaimedAt.Equal(now) || len(got.Attachments) != 2 {
		t.Errorf("claimed message: %+v", got)
	}
	if _, ok, err := s.ClaimNext(ctx, now); ok || err != nil {
		t.Fatalf("second ClaimNext = %v, %v; nothing else is due", ok, err)
	}

	// A 4xx: deferred, due again at the given time.
	if err := s.MarkDeferred(ctx, mAcme.ID, "451 4.7.1 greylisted", now.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.ClaimNext(ctx, now.Add(5*time.Minute)); ok {
		t.Fatal("deferred message claimed before its time")
	}
	got, ok, err = s.ClaimNext(ctx, now.Add(10*time.Minute))
	if err != nil || !ok || got.ID != mAcme.ID || got.Attempts != 2 || got.LastError != "451 4.7.1 greylisted" {
		t.Fatalf("reclaim after deferral: %+v, %v, %v", got, ok, err)
	}

	// Sent: the cases learn the ticket; open and persisting become
	// notified, remediated stays remediated.
	now = now.Add(11 * time.Minute)
	if err := s.MarkSent(ctx, mAcme.ID, "<ticket@exsweep>"); err != nil {
		t.Fatal(err)
	}
	sent, err := s.GetMessage(ctx, mAcme.ID)
	if err != nil || sent.State != MessageSent || !sent.SentAt.Equal(now) || sent.SMTPMessageID != "<ticket@exsweep>" || sent.LastError != "" {
		t.Errorf("sent message: %+v, %v", sent, err)
	}
	for id, want := range map[int64]string{open: CaseNotified, persisting: CaseNotified, remediated: CaseRemediated} {
		c, err := s.GetCase(ctx, id)
		if err != nil || c.State != want || c.Ticket != mAcme.Ticket {
			t.Errorf("case %d after MarkSent: %s ticket %q (%v); want %s ticket %s", id, c.State, c.Ticket, err, want, mAcme.Ticket)
		}
	}
	h, err := s.CaseHistory(ctx, open)
	if err != nil {
		t.Fatal(err)
	}
	if last := h[len(h)-1]; last.To != CaseNotified || last.Actor != "outbox" || !strings.Contains(last.Reason, mAcme.Ticket) {
		t.Errorf("notified entry: %+v", last)
	}

	// Moves from the wrong state are refused and name the state.
	for name, err := range map[string]error{
		"MarkSent twice":       s.MarkSent(ctx, mAcme.ID, "x"),
		"MarkFailed sent":      s.MarkFailed(ctx, mAcme.ID, "x"),
		"MarkDeferred pending": s.MarkDeferred(ctx, mLater.ID, "x", time.Time{}),
		"requeue sent":         s.RequeueMessage(ctx, mAcme.ID),
	} {
		if !errors.Is(err, ErrTransition) {
			t.Errorf("%s: %v, want ErrTransition", name, err)
		}
	}
	if err := s.MarkSent(ctx, 4242, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkSent(missing) = %v", err)
	}

	// A 5xx: failed, never claimed again until requeued.
	got, ok, err = s.ClaimNext(ctx, now.Add(2*time.Hour))
	if err != nil || !ok || got.ID != mLater.ID {
		t.Fatalf("claim later message: %v, %v", ok, err)
	}
	if err := s.MarkFailed(ctx, mLater.ID, "550 5.1.1 no such user"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.ClaimNext(ctx, now.Add(3*time.Hour)); ok {
		t.Fatal("failed message claimed")
	}
	if err := s.RequeueMessage(ctx, mLater.ID); err != nil {
		t.Fatal(err)
	}
	got, ok, err = s.ClaimNext(ctx, now)
	if err != nil || !ok || got.ID != mLater.ID || got.Attempts != 2 {
		t.Errorf("requeued message: %+v, %v, %v", got, ok, err)
	}

	// Filters.
	for _, tt := range []struct {
		name string
		f    MessageFilter
		want []int64
	}{
		{"all, newest first", MessageFilter{}, []int64{mAcme.ID, mLater.ID}},
		{"sent", MessageFilter{States: []string{MessageSent}}, []int64{mAcme.ID}},
		{"org", MessageFilter{OrgKey: "beta"}, []int64{mLater.ID}},
		{"case", MessageFilter{CaseID: persisting}, []int64{mAcme.ID}},
		{"page", MessageFilter{Limit: 1, Offset: 1}, []int64{mLater.ID}},
		{"none", MessageFilter{Ticket: "19990101-10000001"}, nil},
	} {
		ms, err := s.Messages(ctx, tt.f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
		if diff := cmp.Diff(tt.want, ids); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestStaleSending: a message left in sending is reported, never claimed
// again by itself, and a human can requeue it.
func TestStaleSending(t *testing.T) { forEachBackend(t, testStaleSending) }

func testStaleSending(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	now := time.Date(2021, 3, 7, 10, 0, 0, 0, time.UTC)
	s.now = fixedClock(&now)
	m := mustEnqueue(t, s, Message{To: []string{"a@b.example"}, Subject: "s"})
	if _, ok, err := s.ClaimNext(ctx, now); !ok || err != nil {
		t.Fatal(ok, err)
	}
	now = now.Add(2 * time.Minute)
	stale, err := s.StaleSending(ctx, 5*time.Minute)
	if err != nil || len(stale) != 0 {
		t.Errorf("StaleSending before the threshold: %d, %v", len(stale), err)
	}
	now = now.Add(10 * time.Minute)
	stale, err = s.StaleSending(ctx, 5*time.Minute)
	if err != nil || len(stale) != 1 || stale[0].ID != m.ID {
		t.Fatalf("StaleSending: %+v, %v", stale, err)
	}
	if _, ok, _ := s.ClaimNext(ctx, now.Add(24*time.Hour)); ok {
		t.Fatal("a sending message was claimed again")
	}
	if err := s.RequeueMessage(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.ClaimNext(ctx, now)
	if err != nil || !ok || got.ID != m.ID || got.Attempts != 2 {
		t.Errorf("after requeue: %+v, %v, %v", got, ok, err)
	}
	// A human can also confirm a stale message as sent.
	now = now.Add(time.Hour)
	if err := s.MarkSent(ctx, m.ID, ""); err != nil {
		t.Errorf("MarkSent of a stale message: %v", err)
	}
}

// TestClaimNextConcurrent: senders racing for the outbox get every message
// exactly once: goroutines on one Store, and two Stores (two connections
// pools, as two processes or machines would have).
func TestClaimNextConcurrent(t *testing.T) { forEachBackend(t, testClaimNextConcurrent) }

func testClaimNextConcurrent(t *testing.T, b backend) {
	ctx := context.Background()
	dsn := b.newDSN(t)
	s1 := openTestDSN(t, dsn)
	s2 := openTestDSN(t, dsn)
	const n = 60
	for i := range n {
		if _, err := s1.EnqueueMessage(ctx, Message{To: []string{"a@b.example"}, Subject: fmt.Sprint("m", i)}); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu      sync.Mutex
		claimed = map[int64]int{}
		wg      sync.WaitGroup
	)
	far := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	for w, s := range []*Store{s1, s1, s2, s2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, ok, err := s.ClaimNext(ctx, far)
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				if !ok {
					return
				}
				mu.Lock()
				claimed[m.ID]++
				mu.Unlock()
				if err := s.MarkSent(ctx, m.ID, ""); err != nil {
					t.Errorf("worker %d: MarkSent: %v", w, err)
				}
			}
		}()
	}
	wg.Wait()
	if len(claimed) != n {
		t.Errorf("%d messages claimed, want %d", len(claimed), n)
	}
	for id, k := range claimed {
		if k != 1 {
			t.Errorf("message %d claimed %d times", id, k)
		}
	}
}

func TestLastMessages(t *testing.T) { forEachBackend(t, testLastMessages) }

func testLastMessages(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	now := time.Date(2021, 3, 7, 10, 0, 0, 0, time.UTC)
	s.now = fixedClock(&now)
	mustOrgs(t, s, "a", "b", "c")
	ca := mustCase(t, s, vulnInput("a", "192.0.2.1:443", t0)).ID
	cb := mustCase(t, s, vulnInput("b", "192.0.2.2:443", t0)).ID

	// a: one sent message, then a newer one that failed (does not count).
	ma := testMessage("a", ca)
	ma.Severity = 8
	sentA := mustEnqueue(t, s, ma)
	if m, ok, err := s.ClaimNext(ctx, now); !ok || err != nil || m.ID != sentA.ID {
		t.Fatal(ok, err)
	}
	now = now.Add(time.Minute)
	sentAt := now
	if err := s.MarkSent(ctx, sentA.ID, ""); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	failed := mustEnqueue(t, s, testMessage("a", ca))
	if _, ok, err := s.ClaimNext(ctx, now); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := s.MarkFailed(ctx, failed.ID, "550"); err != nil {
		t.Fatal(err)
	}
	// b: a queued message counts, from when it was enqueued.
	now = now.Add(time.Hour)
	queuedAt := now
	queued := mustEnqueue(t, s, testMessage("b", cb))

	got, err := s.LastMessages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]LastMessage{
		"a": {Ticket: sentA.Ticket, State: MessageSent, At: sentAt, Severity: 8, CaseIDs: []int64{ca}},
		"b": {Ticket: queued.Ticket, State: MessagePending, At: queuedAt, Severity: 7, CaseIDs: []int64{cb}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LastMessages (-want +got):\n%s", diff)
	}
	lm, ok, err := s.LastMessageTo(ctx, "b")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if diff := cmp.Diff(want["b"], lm); diff != "" {
		t.Errorf("LastMessageTo(b) (-want +got):\n%s", diff)
	}
	if _, ok, err := s.LastMessageTo(ctx, "c"); ok || err != nil {
		t.Errorf("LastMessageTo(c) = %v, %v; c has no messages", ok, err)
	}
}

// The claim child: ClaimNext, report the id on stdout, then wait to be
// killed, so the claim is committed and MarkSent never runs.
const claimChildEnv = "EXSWEEP_STORE_CLAIM_DB"

func claimChild() int {
	ctx := context.Background()
	s, err := Open(ctx, os.Getenv(claimChildEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	m, ok, err := s.ClaimNext(ctx, time.Now())
	if err != nil || !ok {
		fmt.Fprintln(os.Stderr, "claim:", ok, err)
		return 3
	}
	fmt.Fprintf(os.Stdout, "claimed %d\n", m.ID)
	time.Sleep(2 * time.Minute) // the "SMTP conversation" the kill interrupts
	fmt.Fprintln(os.Stderr, "child was not killed")
	return 4
}

// TestKillBetweenClaimAndMarkSent: a sender killed -9 after ClaimNext and
// before MarkSent leaves its message in sending, and no later ClaimNext
// hands it out again (at most once); StaleSending reports it.
func TestKillBetweenClaimAndMarkSent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	forEachBackend(t, testKillBetweenClaimAndMarkSent)
}

func testKillBetweenClaimAndMarkSent(t *testing.T, b backend) {
	ctx := context.Background()
	dsn := b.newDSN(t)
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.EnqueueMessage(ctx, Message{To: []string{"a@b.example"}, Subject: "first", NextAttemptAt: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.EnqueueMessage(ctx, Message{To: []string{"a@b.example"}, Subject: "second"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), claimChildEnv+"="+dsn)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said nothing (%v): %s", err, stderr.String())
	}
	claimedID, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, "claimed ")), 10, 64)
	if err != nil {
		t.Fatalf("child said %q", line)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("killed child exited cleanly")
	}

	s = openTestDSN(t, dsn)
	s.now = time.Now // the child's claim used the real clock too
	ms, err := s.Messages(ctx, MessageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]string{}
	var firstID int64
	for _, m := range ms {
		state[m.Ticket] = m.State
		if m.Ticket == first {
			firstID = m.ID
		}
	}
	if claimedID != firstID {
		t.Fatalf("child claimed %d, want the due-first message %d", claimedID, firstID)
	}
	if diff := cmp.Diff(map[string]string{first: MessageSending, second: MessagePending}, state); diff != "" {
		t.Errorf("states after the kill (-want +got):\n%s", diff)
	}
	// The next sender gets the second message, never the first again.
	far := time.Now().Add(24 * time.Hour)
	m, ok, err := s.ClaimNext(ctx, far)
	if err != nil || !ok || m.Ticket != second {
		t.Fatalf("ClaimNext after the kill = %q, %v, %v; want %s", m.Ticket, ok, err, second)
	}
	if _, ok, err := s.ClaimNext(ctx, far); ok || err != nil {
		t.Fatalf("ClaimNext handed out more: %v, %v", ok, err)
	}
	// With a threshold of zero every sending message is stale: the one the
	// dead child left, and the one just claimed.
	stale, err := s.StaleSending(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var staleTickets []string
	for _, m := range stale {
		staleTickets = append(staleTickets, m.Ticket)
	}
	if diff := cmp.Diff([]string{first, second}, staleTickets); diff != "" {
		t.Errorf("StaleSending (-want +got):\n%s", diff)
	}
}
