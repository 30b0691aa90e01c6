package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// TestSlash8StreamsInBoundedMemory walks all 16,777,216 addresses of a /8
// and checks the heap never grows with it.
func TestSlash8StreamsInBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("walks 16M addresses")
	}
	s, err := NewStream(args("10.0.0.0/8"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before, now runtime.MemStats
	runtime.ReadMemStats(&before)
	var n, maxHeap uint64
	start := time.Now()
	for tg, err := range s.All(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n&(1<<20-1) == 0 {
			runtime.ReadMemStats(&now)
			maxHeap = max(maxHeap, now.HeapAlloc)
		}
		_ = tg
	}
	runtime.ReadMemStats(&now)
	if n != 1<<24 || s.Stats().Emitted != 1<<24 {
		t.Fatalf("emitted %d (stats %d), want %d", n, s.Stats().Emitted, 1<<24)
	}
	allocated := now.TotalAlloc - before.TotalAlloc
	t.Logf("/8: %d targets in %v; max heap %d KiB, allocated %d KiB in total", n, time.Since(start), maxHeap>>10, allocated>>10)
	// Per-address work must not allocate: a few KiB total, whatever the size.
	if allocated > 1<<20 {
		t.Errorf("allocated %d bytes while streaming a /8; want no per-address allocation", allocated)
	}
	if maxHeap > before.HeapAlloc+4<<20 {
		t.Errorf("heap grew from %d to %d bytes while streaming a /8", before.HeapAlloc, maxHeap)
	}
}

// randomIPLines is a reader of n lines, each a distinct-ish random IPv4
// address, generated on the fly so the test input itself takes no memory.
type randomIPLines struct {
	rng  *rand.Rand
	left int
	buf  []byte
}

func newRandomIPLines(n int, seed uint64) *randomIPLines {
	return &randomIPLines{rng: rand.New(rand.NewPCG(seed, seed)), left: n}
}

func (r *randomIPLines) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) && r.left > 0 {
		v := r.rng.Uint32()
		r.buf = fmt.Appendf(r.buf, "%d.%d.%d.%d\n", byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
		r.left--
	}
	if len(r.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.buf)
	r.buf = r.buf[:copy(r.buf, r.buf[n:])]
	return n, nil
}

// TestMillionSingleLines checks the dedup memory for 1,000,000 scattered
// single addresses (a masscan or zmap result file), the case that cannot
// merge into few intervals.
func TestMillionSingleLines(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 1M lines")
	}
	const lines = 1_000_000
	s, err := NewStream(Input{Sources: []Source{{Name: "big.txt", Reader: newRandomIPLines(lines, 7)}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before, now runtime.MemStats
	runtime.ReadMemStats(&before)
	var n, maxHeap, live uint64
	start := time.Now()
	for _, err := range s.All(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n&(1<<16-1) == 0 {
			runtime.ReadMemStats(&now)
			maxHeap = max(maxHeap, now.HeapAlloc)
		}
		if n == 990_000 {
			// Nearly all intervals are held now: what survives a GC is
			// the dedup state.
			runtime.GC()
			runtime.ReadMemStats(&now)
			live = now.HeapAlloc - min(now.HeapAlloc, before.HeapAlloc)
		}
	}
	elapsed := time.Since(start)
	st := s.Stats()
	if st.Lines != lines || st.Emitted+st.Duplicates != lines || st.Emitted != n {
		t.Fatalf("stats %+v, %d received", st, n)
	}
	runtime.ReadMemStats(&now)
	t.Logf("1M lines: %d emitted in %v (incl. generating the input); live heap near the end %d KiB, max heap seen %d KiB, sys %d MiB",
		n, elapsed, live>>10, maxHeap>>10, now.Sys>>20)
	// 8 bytes per interval plus slack; far below the scanner's 200 MB budget.
	if live == 0 || live > 24<<20 {
		t.Errorf("live heap %d bytes after 1M single lines", live)
	}
	if maxHeap > 64<<20 {
		t.Errorf("heap reached %d bytes during 1M single lines", maxHeap)
	}
}

func TestCancellation(t *testing.T) {
	t.Run("cancel mid-range stops within one check interval", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s, _ := NewStream(args("10.0.0.0/8", "192.0.2.1"), Options{})
		var n int
		var final error
		for _, err := range s.All(ctx) {
			if err != nil {
				final = err
				continue
			}
			n++
			if n == 1000 {
				cancel()
			}
		}
		if !errors.Is(final, context.Canceled) || n > 1000+1024 {
			t.Errorf("after cancel: %d targets, final error %v", n, final)
		}
	})
	t.Run("cancelled before start", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s, _ := NewStream(Input{Sources: []Source{{Name: "big", Reader: newRandomIPLines(10, 1)}}}, Options{})
		var got []error
		for tg, err := range s.All(ctx) {
			if err == nil {
				t.Errorf("target %v after cancel", tg)
			}
			got = append(got, err)
		}
		if len(got) != 1 || !errors.Is(got[0], context.Canceled) {
			t.Errorf("errors %v", got)
		}
	})
	t.Run("cancel between lines of a big file", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s, _ := NewStream(Input{Sources: []Source{{Name: "big", Reader: newRandomIPLines(100000, 1)}}}, Options{})
		n := 0
		var final error
		for _, err := range s.All(ctx) {
			if err != nil {
				final = err
				continue
			}
			if n++; n == 10 {
				cancel()
			}
		}
		if !errors.Is(final, context.Canceled) || n != 10 {
			t.Errorf("%d targets, final %v; want 10 and Canceled", n, final)
		}
	})
	t.Run("consumer break ends the stream without an error", func(t *testing.T) {
		s, _ := NewStream(args("10.0.0.0/8"), Options{})
		n := 0
		for range s.All(context.Background()) {
			if n++; n == 5 {
				break
			}
		}
		if st := s.Stats(); st.Emitted != 5 {
			t.Errorf("emitted %d after break at 5", st.Emitted)
		}
	})
	t.Run("Count honours cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Count(ctx, args("10.0.0.0/8"), Options{}); !errors.Is(err, context.Canceled) {
			t.Errorf("Count err = %v", err)
		}
	})
	t.Run("cancel during a lookup", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s, _ := NewStream(args("slow.contoso.example", "192.0.2.1"), Options{Resolver: blockingResolver{cancel}})
		var got []error
		for _, err := range s.All(ctx) {
			got = append(got, err)
		}
		if len(got) != 1 || !errors.Is(got[0], context.Canceled) {
			t.Errorf("got %v, want only Canceled", got)
		}
	})
}

// blockingResolver cancels the stream and waits for the lookup's context.
type blockingResolver struct{ cancel func() }

func (r blockingResolver) LookupNetIP(ctx context.Context, _, _ string) ([]netip.Addr, error) {
	r.cancel()
	<-ctx.Done()
	return nil, ctx.Err()
}
