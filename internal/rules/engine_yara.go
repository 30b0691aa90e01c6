//go:build cgo && yara

// The libyara backend: full YARA (modules, loops, every regex feature) for
// Linux runs over triage copies, where cgo and libyara-dev are available. It is
// never part of the default build, which must stay CGO_ENABLED=0 so that a
// static Windows .exe builds. Written against github.com/hillu/go-yara/v4
// v4.2.x with Debian's libyara 4.2.3.
//
// Differences from the built-in engine that callers may see:
//   - filesize is the number of bytes scanned: ScanFile and ScanReader hand
//     libyara at most Options.MaxFileBytes, so for a truncated file filesize
//     is the cap, not the real size (Result.Size still is the real size);
//   - StringMatch.Length is the length of the data libyara reports, which it
//     caps at 512 bytes;
//   - libyara caps matches per string at one million, not at
//     Options.MaxMatchesPerString.

package rules

import (
	"errors"
	"fmt"
	"io"
	"time"

	yara "github.com/hillu/go-yara/v4"
)

// DefaultBackend is the backend NewEngine uses in this build.
const DefaultBackend = "libyara"

// yaraScanTimeout bounds one libyara scan; a rule set from outside could be
// slow enough to stall a hunt otherwise.
const yaraScanTimeout = 60 * time.Second

type yaraEngine struct {
	opts  Options
	rules *yara.Rules
	info  []RuleInfo
}

// NewEngine compiles srcs with libyara.
func NewEngine(opts Options, srcs ...Source) (Engine, error) {
	opts = opts.withDefaults()
	c, err := yara.NewCompiler()
	if err != nil {
		return nil, fmt.Errorf("libyara: %w", err)
	}
	defer c.Destroy()
	// Includes would read files named by the rule text; sources come whole.
	c.DisableIncludes()
	for _, src := range srcs {
		if err := c.AddString(src.Text, ""); err != nil {
			var errs []error
			for _, m := range c.Errors {
				rule := ""
				if m.Rule != nil {
					rule = m.Rule.Identifier()
				}
				errs = append(errs, &CompileError{File: src.Name, Line: m.Line, Rule: rule, Msg: m.Text})
			}
			if len(errs) == 0 {
				errs = append(errs, &CompileError{File: src.Name, Msg: err.Error()})
			}
			return nil, errors.Join(errs...)
		}
	}
	rules, err := c.GetRules()
	if err != nil {
		return nil, fmt.Errorf("libyara: %w", err)
	}
	e := &yaraEngine{opts: opts, rules: rules}
	for _, r := range rules.GetRules() {
		e.info = append(e.info, RuleInfo{
			Name:    r.Identifier(),
			Tags:    r.Tags(),
			Meta:    convertMetas(r.Metas()),
			Private: r.IsPrivate(),
			Global:  r.IsGlobal(),
		})
	}
	return e, nil
}

func (e *yaraEngine) Backend() string { return "libyara" }

func (e *yaraEngine) Rules() []RuleInfo { return append([]RuleInfo(nil), e.info...) }

// Scan implements Engine. A libyara error (timeout, too many matches) yields
// the matches found before it; ScanFile and ScanReader return the error.
func (e *yaraEngine) Scan(data []byte) []Match {
	ms, _ := e.scanMem(data)
	return ms
}

func (e *yaraEngine) scanMem(data []byte) ([]Match, error) {
	var mr yara.MatchRules
	err := e.rules.ScanMem(data, 0, yaraScanTimeout, &mr)
	out := make([]Match, 0, len(mr))
	for _, r := range mr {
		m := Match{Rule: r.Rule, Tags: r.Tags, Meta: convertMetas(r.Metas)}
		per := map[string]int{}
		for _, s := range r.Strings {
			if per[s.Name] >= e.opts.MaxReported {
				continue
			}
			per[s.Name]++
			m.Strings = append(m.Strings, StringMatch{
				ID:      s.Name,
				Offset:  int64(s.Base + s.Offset),
				Length:  len(s.Data),
				Excerpt: Excerpt(s.Data, e.opts.ExcerptBytes),
			})
		}
		out = append(out, m)
	}
	if err != nil {
		return out, fmt.Errorf("libyara: %w", err)
	}
	return out, nil
}

func (e *yaraEngine) ScanFile(path string) (Result, error) { return scanFile(path, e.ScanReader) }

func (e *yaraEngine) ScanReader(r io.Reader, size int64) (Result, error) {
	data, truncated, err := readCapped(r, size, e.opts.MaxFileBytes)
	if err != nil {
		return Result{}, err
	}
	res := Result{Scanned: int64(len(data)), Size: size}
	if size < int64(len(data)) {
		res.Size = int64(len(data))
	}
	res.Truncated = truncated || res.Scanned < res.Size
	res.Matches, err = e.scanMem(data)
	return res, err
}

// convertMetas gives meta values the built-in engine's types (int64, not int).
func convertMetas(ms []yara.Meta) []Meta {
	out := make([]Meta, 0, len(ms))
	for _, m := range ms {
		v := m.Value
		switch x := v.(type) {
		case int:
			v = int64(x)
		case int32:
			v = int64(x)
		}
		out = append(out, Meta{Key: m.Identifier, Value: v})
	}
	return out
}
