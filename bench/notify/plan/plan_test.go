// Package plan benchmarks the notification plan of issue 5: 100,000
// observations over 20,000 organisations, through the real store (SQLite):
// cases upserted from observations, the plan built, every message rendered.
//
//	go test -run '^$' -bench Plan -benchtime 1x ./bench/notify/plan/
package plan

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/exsweep/exsweep/internal/exchange"
	"github.com/exsweep/exsweep/internal/notify"
	"github.com/exsweep/exsweep/internal/store"
)

func BenchmarkPlan(b *testing.B) {
	const nOrgs, nObs = 20000, 100000
	ctx := context.Background()
	kb := exchange.Default()
	for range b.N {
		st, err := store.Open(ctx, filepath.Join(b.TempDir(), "plan.db"))
		if err != nil {
			b.Fatal(err)
		}
		var orgs []store.Organisation
		for i := range nOrgs {
			orgs = append(orgs, store.Organisation{Key: fmt.Sprintf("org%05d", i), Name: fmt.Sprintf("Org %d", i),
				To: []string{fmt.Sprintf("cert@org%d.example", i)}, Language: []string{"en", "de"}[i%2]})
		}
		var ins []store.CaseInput
		for i := range nObs {
			ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
			prob, sev := store.ProblemVulnerable, notify.Severity(notify.ProblemVulnerable, 4)
			if i%25 == 0 {
				prob, sev = store.ProblemCompromised, notify.Severity(notify.ProblemCompromised, 4)
			}
			ins = append(ins, store.CaseInput{OrgKey: orgs[i%nOrgs].Key, Endpoint: netip.AddrPortFrom(ip, 443), Problem: prob,
				Severity: sev, CVEs: []string{"CVE-2021-26855", "CVE-2021-26857", "CVE-2021-26858", "CVE-2021-27065"}})
		}
		runtime.GC()
		start := time.Now()
		if err := st.UpsertOrganisations(ctx, orgs); err != nil {
			b.Fatal(err)
		}
		if _, err := st.UpsertCases(ctx, ins); err != nil {
			b.Fatal(err)
		}
		upserted := time.Since(start)

		cases, err := st.ListCases(ctx, store.CaseFilter{States: []string{store.CaseOpen}})
		if err != nil {
			b.Fatal(err)
		}
		stOrgs, _ := st.Organisations(ctx)
		om := map[string]notify.Org{}
		for _, o := range stOrgs {
			om[o.Key] = notify.Org{Key: o.Key, Name: o.Name, To: o.To, Language: o.Language}
		}
		var ncs []notify.Case
		for _, c := range cases {
			ncs = append(ncs, notify.Case{ID: c.ID, OrgKey: c.OrgKey, IP: c.Endpoint.Addr().String(), Port: int(c.Endpoint.Port()),
				Problem: c.Problem, CVEs: c.CVEs, Severity: c.Severity, Product: "Exchange 2016", CU: "CU19", Build: "15.1.2176.2"})
		}
		plan := notify.BuildPlan(om, ncs, nil, 7*24*time.Hour, time.Now())
		planned := time.Since(start)
		r, err := notify.NewRenderer(kb, "", "CERT <cert@cert.example>")
		if err != nil {
			b.Fatal(err)
		}
		bytes := 0
		for i, p := range plan.Messages {
			m, err := r.Render(p, fmt.Sprintf("20210312-%08d", 10000001+i), time.Now())
			if err != nil {
				b.Fatal(err)
			}
			bytes += len(m.Text) + len(m.HTML) + len(m.CSV)
		}
		total := time.Since(start)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		st.Close()
		if len(plan.Messages) != nOrgs {
			b.Fatalf("%d messages, want %d", len(plan.Messages), nOrgs)
		}
		b.ReportMetric(upserted.Seconds(), "upsert-s")
		b.ReportMetric(planned.Seconds(), "plan-s")
		b.ReportMetric(total.Seconds(), "plan+render-s")
		b.ReportMetric(float64(ms.Sys)/(1<<20), "sys-MiB")
		b.ReportMetric(float64(bytes)/(1<<20), "rendered-MiB")
	}
}
