package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestRoundTrip1000 writes a 1,000-row run and reads every field back.
func TestRoundTrip1000(t *testing.T) { forEachBackend(t, testRoundTrip1000) }

func testRoundTrip1000(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	id := mustRun(t, s)
	var commits []int
	w := s.NewObservationWriter(id, BatchOptions{MaxRows: 300, MaxDelay: -1, OnCommit: func(n int) { commits = append(commits, n) }})
	var want []Observation
	for i := range 1000 {
		o := fakeObservation(i)
		if err := w.Add(ctx, o); err != nil {
			t.Fatal(err)
		}
		o.RunID = id
		o.ObservedAt = b.trunc(o.ObservedAt)
		want = append(want, o)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{300, 300, 300, 100}, commits); diff != "" {
		t.Errorf("commit sizes (-want +got):\n%s", diff)
	}
	if w.Committed() != 1000 {
		t.Errorf("Committed() = %d", w.Committed())
	}
	got, err := s.Observations(ctx, id, ObservationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Observation{}, "ID"), cmpopts.EquateComparable(netip.Addr{}),
		// Compare records as bytes: element-wise reflection over 600 KB is slow.
		cmp.Comparer(func(a, b json.RawMessage) bool { return bytes.Equal(a, b) })); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	for i, o := range got {
		if i > 0 && o.ID <= got[i-1].ID {
			t.Fatalf("observations not in id order at %d", i)
		}
	}

	counts, err := s.CountByVerdict(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int64{"vulnerable": 200, "patched": 200, "undetermined": 200, "not-exchange": 200, "unreachable": 200}, counts); diff != "" {
		t.Errorf("CountByVerdict (-want +got):\n%s", diff)
	}
	run, err := s.GetRun(ctx, id)
	if err != nil || run.Observations != 1000 {
		t.Errorf("GetRun observations = %d, %v", run.Observations, err)
	}
}

func TestObservationsFilter(t *testing.T) { forEachBackend(t, testObservationsFilter) }

func testObservationsFilter(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	id := mustRun(t, s)
	other := mustRun(t, s)
	for _, run := range []int64{id, other} {
		w := s.NewObservationWriter(run, BatchOptions{})
		for i := range 20 {
			if err := w.Add(ctx, fakeObservation(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// verdicts cycle with period 5: vulnerable rows are 0, 5, 10, 15.
	tests := []struct {
		name string
		f    ObservationFilter
		want []int
	}{
		{"all", ObservationFilter{}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}},
		{"verdict", ObservationFilter{Verdict: "vulnerable"}, []int{0, 5, 10, 15}},
		{"limit", ObservationFilter{Limit: 3}, []int{0, 1, 2}},
		{"page 2", ObservationFilter{Limit: 3, Offset: 3}, []int{3, 4, 5}},
		{"offset only", ObservationFilter{Offset: 17}, []int{17, 18, 19}},
		{"verdict page", ObservationFilter{Verdict: "vulnerable", Limit: 2, Offset: 1}, []int{5, 10}},
		{"no match", ObservationFilter{Verdict: "pwned"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs, err := s.Observations(ctx, id, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, o := range obs {
				if o.RunID != id {
					t.Errorf("row of run %d", o.RunID)
				}
				got = append(got, int(o.IP.As4()[3]))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpsertIsIdempotent(t *testing.T) { forEachBackend(t, testUpsertIsIdempotent) }

func testUpsertIsIdempotent(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	id := mustRun(t, s)
	unresolved := Observation{Target: "mail.gone.example", Port: 443, Verdict: "unreachable", Error: "no such host"}
	w := s.NewObservationWriter(id, BatchOptions{MaxDelay: -1})
	for _, o := range []Observation{fakeObservation(0), fakeObservation(1), unresolved} {
		if err := w.Add(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := s.Observations(ctx, id, ObservationFilter{})
	if err != nil {
		t.Fatal(err)
	}

	// A retry of endpoint 0 with a new result, the same endpoint written as
	// IPv4-mapped IPv6 (same endpoint), and the unresolved target again with
	// a new error: three updates, no new rows.
	retry := fakeObservation(0)
	retry.Verdict, retry.Error, retry.Record = "unreachable", "connection reset", json.RawMessage(`{"retry":true}`)
	mapped := fakeObservation(1)
	mapped.IP = netip.AddrFrom16(mapped.IP.As16())
	mapped.Verdict = "patched"
	unresolved2 := unresolved
	unresolved2.Error = "i/o timeout"
	for _, o := range []Observation{retry, mapped, unresolved2} {
		if err := w.Add(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := s.Observations(ctx, id, ObservationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 3 {
		t.Fatalf("%d rows after retries, want 3: %+v", len(after), after)
	}
	for i := range after {
		if after[i].ID != before[i].ID {
			t.Errorf("row %d changed id %d -> %d; upsert must keep it", i, before[i].ID, after[i].ID)
		}
	}
	if got := after[0]; got.Verdict != "unreachable" || got.Error != "connection reset" || string(got.Record) != `{"retry":true}` {
		t.Errorf("retried row = %+v", got)
	}
	if got := after[1]; got.Verdict != "patched" || !got.IP.Is4() {
		t.Errorf("mapped row = %+v", got)
	}
	if got := after[2]; got.IP.IsValid() || got.Error != "i/o timeout" || got.Target != "mail.gone.example" {
		t.Errorf("unresolved row = %+v", got)
	}
}

func TestUpsertWithinOneBatch(t *testing.T) { forEachBackend(t, testUpsertWithinOneBatch) }

func testUpsertWithinOneBatch(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	id := mustRun(t, s)
	w := s.NewObservationWriter(id, BatchOptions{MaxDelay: -1})
	first, second := fakeObservation(7), fakeObservation(7)
	first.Verdict, second.Verdict = "unreachable", "vulnerable"
	for _, o := range []Observation{fakeObservation(6), first, fakeObservation(8), second} {
		if err := w.Add(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.Observations(ctx, id, ObservationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var summary []string
	for _, o := range got {
		summary = append(summary, o.IP.String()+" "+o.Verdict)
	}
	want := []string{"10.0.0.6 patched", "10.0.0.7 vulnerable", "10.0.0.8 not-exchange"}
	if diff := cmp.Diff(want, summary); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestWriterTimeFlushWithoutNewRows(t *testing.T) {
	forEachBackend(t, testWriterTimeFlushWithoutNewRows)
}

func testWriterTimeFlushWithoutNewRows(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	id := mustRun(t, s)
	committed := make(chan int, 10)
	w := s.NewObservationWriter(id, BatchOptions{MaxRows: 1000, MaxDelay: 50 * time.Millisecond, OnCommit: func(n int) { committed <- n }})
	defer w.Close(ctx)
	for i := range 3 {
		if err := w.Add(ctx, fakeObservation(i)); err != nil {
			t.Fatal(err)
		}
	}
	// No more Adds and no Flush: the timer alone must commit.
	select {
	case n := <-committed:
		if n != 3 {
			t.Errorf("timer committed %d rows, want 3", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("rows were not committed by the MaxDelay timer")
	}
	set, err := s.DoneEndpoints(ctx, id)
	if err != nil || set.Len() != 3 {
		t.Errorf("DoneEndpoints after timer flush: %d, %v", set.Len(), err)
	}
}

func TestWriterErrors(t *testing.T) { forEachBackend(t, testWriterErrors) }

func testWriterErrors(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	id := mustRun(t, s)
	w := s.NewObservationWriter(id, BatchOptions{MaxRows: 2, MaxDelay: -1})

	bad := []struct {
		name string
		o    Observation
	}{
		{"no ip no target", Observation{Port: 443}},
		{"invalid json", Observation{Target: "x", Record: json.RawMessage(`{"a":`)}},
		{"invalid utf-8 in record", Observation{Target: "x", Record: json.RawMessage("\"\xff\"")}},
		{"record too large", Observation{Target: "x", Record: json.RawMessage(`"` + strings.Repeat("a", MaxRecordBytes) + `"`)}},
	}
	for _, tt := range bad {
		if err := w.Add(ctx, tt.o); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Add = %v, want ErrInvalid", tt.name, err)
		}
	}
	// Rejections do not break the writer.
	if err := w.Add(ctx, fakeObservation(0)); err != nil {
		t.Fatal(err)
	}

	// A canceled context refuses the row and keeps the buffer.
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := w.Add(canceled, fakeObservation(1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Add with canceled ctx = %v", err)
	}
	if err := w.Flush(canceled); !errors.Is(err, context.Canceled) {
		t.Errorf("Flush with canceled ctx = %v", err)
	}
	if err := w.Close(ctx); err != nil {
		t.Errorf("Close after canceled flush = %v (buffer should commit)", err)
	}
	if err := w.Add(ctx, fakeObservation(2)); !errors.Is(err, ErrWriterClosed) {
		t.Errorf("Add after Close = %v", err)
	}
	if err := w.Close(ctx); err != nil {
		t.Errorf("second Close = %v", err)
	}
	got, err := s.Observations(ctx, id, ObservationFilter{})
	if err != nil || len(got) != 1 {
		t.Errorf("rows = %d, %v; want the one valid row", len(got), err)
	}

	// A commit that fails for a non-context reason is final: here the run
	// does not exist, so the foreign key refuses the batch.
	w = s.NewObservationWriter(12345, BatchOptions{MaxRows: 1, MaxDelay: -1})
	if err := w.Add(ctx, fakeObservation(0)); err == nil || !strings.Contains(err.Error(), "1 observations lost") {
		t.Errorf("Add to missing run = %v", err)
	}
	if err := w.Add(ctx, fakeObservation(1)); err == nil {
		t.Error("writer kept going after a failed commit")
	}
	if err := w.Close(ctx); err == nil {
		t.Error("Close hid the failed commit")
	}
}

func TestClean(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"Exchange", 100, "Exchange"},
		{"a\x00b", 100, "ab"},
		{"bad\xffutf8", 100, "bad\uFFFDutf8"},
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"}, // é is 2 bytes: do not split it
		{"日本", 4, "日"},
	}
	for _, tt := range tests {
		if got := clean(tt.in, tt.max); got != tt.want {
			t.Errorf("clean(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

func TestLongFieldsAreCapped(t *testing.T) { forEachBackend(t, testLongFieldsAreCapped) }

func testLongFieldsAreCapped(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	id := mustRun(t, s)
	o := fakeObservation(0)
	o.Product = strings.Repeat("P", 10*MaxFieldBytes)
	o.Error = strings.Repeat("E", 10*MaxErrorBytes)
	w := s.NewObservationWriter(id, BatchOptions{})
	if err := w.Add(ctx, o); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.Observations(ctx, id, ObservationFilter{})
	if err != nil || len(got) != 1 {
		t.Fatalf("%d rows, %v", len(got), err)
	}
	if len(got[0].Product) != MaxFieldBytes || len(got[0].Error) != MaxErrorBytes {
		t.Errorf("stored lengths product=%d error=%d", len(got[0].Product), len(got[0].Error))
	}
}

func TestDoneEndpoints(t *testing.T) { forEachBackend(t, testDoneEndpoints) }

func testDoneEndpoints(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	id := mustRun(t, s)
	eps := []netip.AddrPort{
		netip.MustParseAddrPort("10.0.0.9:443"),
		netip.MustParseAddrPort("10.0.0.10:443"), // sorts before .9 as text
		netip.MustParseAddrPort("10.0.0.10:80"),
		netip.MustParseAddrPort("[2001:db8::1]:443"),
		netip.MustParseAddrPort("[::ffff:192.0.2.1]:443"), // stored as 192.0.2.1
	}
	w := s.NewObservationWriter(id, BatchOptions{})
	for _, ep := range eps {
		if err := w.Add(ctx, Observation{Target: ep.String(), IP: ep.Addr(), Port: ep.Port()}); err != nil {
			t.Fatal(err)
		}
	}
	// Unresolved targets are not endpoints.
	if err := w.Add(ctx, Observation{Target: "gone.example", Port: 443}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	set, err := s.DoneEndpoints(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.AddrPort{
		netip.MustParseAddrPort("10.0.0.9:443"),
		netip.MustParseAddrPort("10.0.0.10:80"),
		netip.MustParseAddrPort("10.0.0.10:443"),
		netip.MustParseAddrPort("192.0.2.1:443"),
		netip.MustParseAddrPort("[2001:db8::1]:443"),
	}
	if diff := cmp.Diff(want, slices.Collect(set.All()), cmpopts.EquateComparable(netip.AddrPort{})); diff != "" {
		t.Errorf("All() (-want +got):\n%s", diff)
	}
	has := []struct {
		ep   string
		want bool
	}{
		{"10.0.0.9:443", true},
		{"10.0.0.9:80", false},
		{"10.0.0.10:80", true},
		{"10.0.0.11:443", false},
		{"[::ffff:10.0.0.9]:443", true},
		{"192.0.2.1:443", true},
		{"[2001:db8::1]:443", true},
		{"[2001:db8::2]:443", false},
	}
	for _, tt := range has {
		ap := netip.MustParseAddrPort(tt.ep)
		if got := set.Has(ap.Addr(), ap.Port()); got != tt.want {
			t.Errorf("Has(%s) = %v, want %v", tt.ep, got, tt.want)
		}
	}
	if set.Len() != 5 {
		t.Errorf("Len() = %d", set.Len())
	}
	empty, err := s.DoneEndpoints(ctx, mustRun(t, s))
	if err != nil || empty.Len() != 0 || empty.Has(netip.MustParseAddr("10.0.0.9"), 443) {
		t.Errorf("empty run: %v, %v", empty, err)
	}
}

// TestReadersDuringWrites runs the read API in a loop while the writer
// commits; run with -race. WAL must let every read succeed, and what
// readers see can only grow.
func TestReadersDuringWrites(t *testing.T) { forEachBackend(t, testReadersDuringWrites) }

func testReadersDuringWrites(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	id := mustRun(t, s)
	const rows = 4000

	var done atomic.Bool
	errs := make(chan error, 8)
	for r := range 3 {
		go func() {
			var last int64
			var err error
			for !done.Load() {
				switch r {
				case 0:
					var runs []Run
					if runs, err = s.ListRuns(ctx, 5); err == nil {
						if n := runs[0].Observations; n < last {
							t.Errorf("reader saw count drop %d -> %d", last, n)
						} else {
							last = n
						}
					}
				case 1:
					_, err = s.Observations(ctx, id, ObservationFilter{Verdict: "vulnerable", Limit: 50, Offset: 10})
				case 2:
					_, err = s.CountByVerdict(ctx, id)
					if err == nil {
						_, err = s.DoneEndpoints(ctx, id)
					}
				}
				if err != nil {
					break
				}
			}
			errs <- err
		}()
	}

	w := s.NewObservationWriter(id, BatchOptions{MaxRows: 100, MaxDelay: 5 * time.Millisecond})
	for i := range rows {
		if err := w.Add(ctx, fakeObservation(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Meanwhile, small writes on the same handle must interleave with batches.
	if err := s.SetTargetsTotal(ctx, id, rows); err != nil {
		t.Fatal(err)
	}
	done.Store(true)
	for range 3 {
		if err := <-errs; err != nil {
			t.Errorf("reader: %v", err)
		}
	}
	run, err := s.GetRun(ctx, id)
	if err != nil || run.Observations != rows {
		t.Errorf("final count %d, %v", run.Observations, err)
	}
}

// TestWriterChunks: a batch larger than one multi-row statement, with keys
// repeated inside a chunk and across chunks and rows without an address in
// between, ends exactly as if the rows had been written one by one: each
// endpoint once, with its last values, in the order it was first added.
func TestWriterChunks(t *testing.T) { forEachBackend(t, testWriterChunks) }

func testWriterChunks(t *testing.T, b backend) {
	s := openTest(t, b)
	ctx := context.Background()
	id := mustRun(t, s)
	w := s.NewObservationWriter(id, BatchOptions{MaxRows: 1000, MaxDelay: -1})
	type final struct {
		key, verdict string
	}
	var order []string
	last := map[string]string{}
	add := func(o Observation) {
		t.Helper()
		if err := w.Add(ctx, o); err != nil {
			t.Fatal(err)
		}
		k := o.Target
		if o.IP.IsValid() {
			k = o.IP.String()
		}
		if _, ok := last[k]; !ok {
			order = append(order, k)
		}
		last[k] = o.Verdict
	}
	for i := range 3 * upsertChunk {
		o := fakeObservation(i % 170) // 170 distinct endpoints, repeated
		o.Verdict = fmt.Sprint("v", i)
		add(o)
		if i%37 == 0 {
			add(Observation{Target: fmt.Sprintf("gone%d.example", i%74), Port: 443, Verdict: fmt.Sprint("u", i)})
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.Observations(ctx, id, ObservationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var gotF, wantF []final
	for _, o := range got {
		k := o.Target
		if o.IP.IsValid() {
			k = o.IP.String()
		}
		gotF = append(gotF, final{k, o.Verdict})
	}
	for _, k := range order {
		wantF = append(wantF, final{k, last[k]})
	}
	if diff := cmp.Diff(wantF, gotF, cmp.AllowUnexported(final{})); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}
