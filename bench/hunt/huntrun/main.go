// Command huntrun runs the hunt engine the way `exsweep hunt --root DIR
// --format json -o FILE` does, without the CLI and report packages: the
// benchmark falls back to it when cmd/exsweep does not build, so the engine
// can be measured on its own.
//
//	go run ./bench/hunt/huntrun hunt --root TREE --format json -o report.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/exsweep/exsweep/internal/hunt"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "hunt" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("hunt", flag.ExitOnError)
	root := fs.String("root", "", "triage tree")
	out := fs.String("o", "", "report file (default stdout)")
	fs.String("format", "json", "only json")
	workers := fs.Int("workers", 0, "files read in parallel")
	fs.Parse(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := hunt.Run(ctx, hunt.Options{Root: *root, Workers: *workers})
	if err != nil && rep == nil {
		fmt.Fprintln(os.Stderr, "huntrun:", err)
		os.Exit(2)
	}
	w := os.Stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "huntrun:", err)
			os.Exit(2)
		}
		defer f.Close()
		w = f
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		fmt.Fprintln(os.Stderr, "huntrun:", err)
		os.Exit(2)
	}
	fmt.Fprintln(os.Stderr, rep.Summary)
	if rep.Verdict != hunt.VerdictClean {
		os.Exit(1)
	}
}
