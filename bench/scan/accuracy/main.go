// Command accuracy compares a scan's JSONL output with a lab's truth file and
// prints one line: how many endpoints match (build, exact, verdict, Exchange,
// reachable). Used by bench/scan/run.sh.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/exsweep/exsweep/internal/lab"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: accuracy TRUTH.jsonl SCAN.jsonl")
		os.Exit(2)
	}
	truth := map[string]lab.Expectation{}
	each(os.Args[1], func(b []byte) {
		var e lab.Expectation
		if json.Unmarshal(b, &e) == nil {
			truth[e.Target] = e
		}
	})
	checked, wrong := 0, 0
	each(os.Args[2], func(b []byte) {
		var r struct {
			Target     string `json:"target"`
			Exchange   bool   `json:"exchange"`
			Build      string `json:"build"`
			BuildExact bool   `json:"build_exact"`
			Verdict    string `json:"verdict"`
		}
		if json.Unmarshal(b, &r) != nil {
			return
		}
		want, ok := truth[r.Target]
		if !ok {
			return
		}
		checked++
		obs := lab.Observed{Target: r.Target, Reachable: r.Verdict != "unreachable", Exchange: r.Exchange, Build: r.Build,
			BuildExact: r.BuildExact, Verdict: r.Verdict}
		if len(lab.Compare(want, obs, false)) > 0 {
			wrong++
		}
	})
	fmt.Printf("accuracy %d/%d endpoints match the lab's truth\n", checked-wrong, checked)
}

func each(path string, fn func([]byte)) {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		fn(sc.Bytes())
	}
}
