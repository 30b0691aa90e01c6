package target

import (
	"fmt"
	"strings"

	"go4.org/netipx"
)

// ParseExcludes builds the exclude set for Options.Exclude from --exclude
// values and exclude files. Each entry is an address, CIDR or range in the
// target syntax, with the same comments and blank lines; hostnames, ports
// and URLs are refused because an opt-out names networks, not services.
//
// Unlike target lines, any bad entry is an error: skipping a line of an
// opt-out list would scan someone who asked not to be scanned. Ranges have
// no size limit here.
func ParseExcludes(args []string, sources ...Source) (*netipx.IPSet, error) {
	var b netipx.IPSetBuilder
	add := func(source string, line int, text string) error {
		s := strings.TrimSpace(text)
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = strings.TrimSpace(s[:i])
		}
		if s == "" {
			return nil
		}
		sp, err := parseTarget(s)
		if err == nil && (sp.host != "" || sp.ports != nil || sp.scheme != "") {
			err = ErrNotExcluding
		}
		if err != nil {
			return &LineError{Source: source, Line: line, Input: capText(s), Err: err}
		}
		b.AddRange(netipx.IPRangeFrom(sp.first, sp.last))
		return nil
	}
	for i, a := range args {
		if len(a) > DefaultMaxLineBytes {
			return nil, &LineError{Source: "exclude args", Line: i + 1, Input: a[:previewBytes] + "…", Err: ErrLineTooLong}
		}
		if err := add("exclude args", i+1, a); err != nil {
			return nil, err
		}
	}
	for _, src := range sources {
		if src.Reader == nil {
			return nil, fmt.Errorf("target: exclude source %q has no reader", src.Name)
		}
		lr := newLineReader(src.Reader, DefaultMaxLineBytes)
		for {
			text, tooLong, ok := lr.next()
			if !ok {
				break
			}
			if tooLong {
				return nil, &LineError{Source: src.Name, Line: lr.line, Input: text + "…", Err: ErrLineTooLong}
			}
			if err := add(src.Name, lr.line, text); err != nil {
				return nil, err
			}
		}
		if lr.err != nil {
			return nil, fmt.Errorf("%s:%d: %w", src.Name, lr.line+1, lr.err)
		}
	}
	return b.IPSet()
}
