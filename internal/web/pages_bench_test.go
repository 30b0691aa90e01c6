package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/exsweep/exsweep/internal/store"
)

// BenchmarkPages measures the server time of each dashboard page and API
// call over an existing store, named by EXSWEEP_BENCH_DB (bench/web/run.sh
// fills one with `exsweep lab --replay march-2021 --scale 0.25`: about
// 100,000 endpoints, 824,000 observations, 107,000 cases). The handler is
// called directly, so the time is the server's: store queries, templates,
// JSON; no network, no client. Nothing is cached in the server between
// requests, so the first request of a page costs what the others do (apart
// from the operating system's file cache).
func BenchmarkPages(b *testing.B) {
	path := os.Getenv("EXSWEEP_BENCH_DB")
	if path == "" {
		b.Skip("EXSWEEP_BENCH_DB is not set (bench/web/run.sh sets it)")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	tok, err := CreateToken(ctx, st, "benchmark", true)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(st, Options{})
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()

	// A real organisation and endpoint of this store.
	orgs, err := st.Organisations(ctx)
	if err != nil || len(orgs) == 0 {
		b.Fatalf("no organisations in %s (%v)", path, err)
	}
	some, err := st.ListCases(ctx, store.CaseFilter{OrgKey: orgs[0].Key, Limit: 1})
	if err != nil || len(some) == 0 {
		b.Fatalf("no cases of %s (%v)", orgs[0].Key, err)
	}
	ep := some[0].Endpoint.String()

	pages := []struct{ name, path string }{
		{"overview", "/"},
		{"cases", "/cases"},
		{"cases-active", "/cases?state=active"},
		{"cases-page10", "/cases?page=10"},
		{"cases-page1000", "/cases?page=1000"},
		{"cases-org", "/cases?org=" + orgs[0].Key},
		{"cases-severity", "/cases?state=active&severity=1000"},
		{"orgs", "/orgs"},
		{"org", "/orgs/" + orgs[0].Key},
		{"endpoint", "/endpoints/" + ep},
		{"scans", "/scans"},
		{"api-curve", "/api/curve"},
		{"api-breakdown", "/api/breakdown"},
		{"api-cases-200", "/api/cases?per_page=200"},
		{"api-cases-deep", "/api/cases?per_page=200&page=250"},
		{"api-endpoint", "/api/endpoints/" + ep},
	}
	get := func(b *testing.B, path string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body.String())
		}
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				get(b, p.path)
			}
		})
	}
}
