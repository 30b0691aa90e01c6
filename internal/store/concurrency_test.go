package store

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestUpsertCasesConcurrent: two processes (two Stores, on PostgreSQL two
// machines) plan the same scan at once. Every case must be opened exactly
// once, with one opening in its history, and neither plan may fail.
func TestUpsertCasesConcurrent(t *testing.T) { forEachBackend(t, testUpsertCasesConcurrent) }

func testUpsertCasesConcurrent(t *testing.T, b backend) {
	ctx := context.Background()
	dsn := b.newDSN(t)
	stores := []*Store{openTestDSN(t, dsn), openTestDSN(t, dsn)}
	mustOrgs(t, stores[0], "o0", "o1", "o2")
	const n = 1200
	var ins []CaseInput
	for i := range n {
		org := []string{"o0", "o1", "o2", ""}[i%4]
		ins = append(ins, vulnInput(org, endpoint(i).String(), t0.Add(time.Duration(i)*time.Millisecond)))
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created = map[int64]int{}
	)
	for w, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := slices.Clone(ins)
			if w == 1 {
				slices.Reverse(batch) // opposite lock order: deadlocks get resolved by retries
			}
			for round := range 3 {
				res, err := s.UpsertCases(ctx, batch)
				if err != nil {
					t.Errorf("store %d round %d: %v", w, round, err)
					return
				}
				mu.Lock()
				for _, r := range res {
					if r.Created {
						created[r.ID]++
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(created) != n {
		t.Errorf("%d cases created, want %d", len(created), n)
	}
	for id, k := range created {
		if k != 1 {
			t.Errorf("case %d reported created %d times", id, k)
		}
	}
	var cases, events int
	if err := stores[0].r.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM cases), (SELECT COUNT(*) FROM case_history)`).Scan(&cases, &events); err != nil {
		t.Fatal(err)
	}
	if cases != n || events != n {
		t.Errorf("%d cases, %d history entries; want %d of each", cases, events, n)
	}
}

// TestWritersConcurrent: two scanners (two machines on PostgreSQL) write
// overlapping endpoints of one run in opposite orders. The upserts stay
// idempotent: one row per endpoint, no error.
func TestWritersConcurrent(t *testing.T) { forEachBackend(t, testWritersConcurrent) }

func testWritersConcurrent(t *testing.T, b backend) {
	ctx := context.Background()
	dsn := b.newDSN(t)
	stores := []*Store{openTestDSN(t, dsn), openTestDSN(t, dsn)}
	id := mustRun(t, stores[0])
	const n = 2000
	var wg sync.WaitGroup
	for w, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wr := s.NewObservationWriter(id, BatchOptions{MaxRows: 250, MaxDelay: -1})
			for k := range n {
				i := k
				if w == 1 {
					i = n - 1 - k
				}
				if err := wr.Add(ctx, fakeObservation(i)); err != nil {
					t.Errorf("writer %d: %v", w, err)
					break
				}
			}
			if err := wr.Close(ctx); err != nil {
				t.Errorf("writer %d: Close: %v", w, err)
			}
		}()
	}
	wg.Wait()
	run, err := stores[0].GetRun(ctx, id)
	if err != nil || run.Observations != n {
		t.Errorf("run has %d observations (%v), want %d", run.Observations, err, n)
	}
}
