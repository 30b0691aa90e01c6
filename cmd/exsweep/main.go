// Command exsweep finds, fingerprints and tracks vulnerable and compromised
// Microsoft Exchange servers. All behaviour lives in internal/app.
package main

import (
	"context"
	"os"

	"github.com/exsweep/exsweep/internal/app"
)

func main() {
	os.Exit(app.Run(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr))
}
