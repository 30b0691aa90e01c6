package target_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/exsweep/exsweep/internal/target"
)

func Example() {
	// What "exsweep scan 192.0.2.8/30 -i - --exclude 192.0.2.9" would pass in.
	exclude, err := target.ParseExcludes([]string{"192.0.2.9"})
	if err != nil {
		panic(err)
	}
	stdin := strings.NewReader("open tcp 443 198.51.100.23 1616161616\nhttp://192.0.2.10/owa\n10.0.0.300\n")
	in := target.Input{
		Args:    []string{"192.0.2.8/30"},
		Sources: []target.Source{{Name: "stdin", Reader: stdin}},
	}
	opts := target.Options{
		Ports:       []uint16{443},
		Exclude:     exclude,
		OnLineError: func(err *target.LineError) { fmt.Println("skipped:", err) },
	}
	s, err := target.NewStream(in, opts)
	if err != nil {
		panic(err)
	}
	for t, err := range s.All(context.Background()) {
		if err != nil {
			fmt.Println("fatal:", err)
			break
		}
		fmt.Println(t.Scheme, t, t.Origin)
	}
	st := s.Stats()
	fmt.Printf("lines %d, bad %d, excluded %d, duplicates %d, emitted %d\n",
		st.Lines, st.BadLines, st.Excluded, st.Duplicates, st.Emitted)
	// Output:
	// https 192.0.2.8:443 args:1
	// https 192.0.2.10:443 args:1
	// https 192.0.2.11:443 args:1
	// https 198.51.100.23:443 stdin:1
	// http 192.0.2.10:80 stdin:2
	// skipped: stdin:3: "10.0.0.300": not an IP address, CIDR, range, host or URL
	// lines 4, bad 1, excluded 1, duplicates 0, emitted 5
}
