package app

import (
	"github.com/exsweep/exsweep/internal/lab"
	"github.com/exsweep/exsweep/internal/scan"
)

// scanRecordView adapts a scan record to the lab's comparison.
type scanRecordView struct{ scan.Record }

func (r scanRecordView) observed() lab.Observed {
	o := lab.Observed{Target: r.Target, Reachable: r.Verdict != scan.VerdictUnreachable, Exchange: r.Exchange,
		Build: r.Build, BuildExact: r.BuildExact, Verdict: r.Verdict}
	for _, w := range r.Webshells {
		o.Webshells = append(o.Webshells, w.Path)
	}
	return o
}
