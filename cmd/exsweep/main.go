// Command exsweep finds, fingerprints and tracks vulnerable and compromised
// Microsoft Exchange servers. All behaviour lives in internal/app.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/exsweep/exsweep/internal/app"
)

func main() {
	os.Exit(run())
}

// run is main with deferred calls that still run before the exit.
// EXSWEEP_CPUPROFILE=FILE writes a CPU profile of the whole command (for
// the benchmarks in bench/; see the README's Development section).
func run() int {
	if path := os.Getenv("EXSWEEP_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "exsweep: EXSWEEP_CPUPROFILE: %v\n", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "exsweep: EXSWEEP_CPUPROFILE: %v\n", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	return app.Run(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr)
}
