//go:build !(cgo && yara)

package rules

// DefaultBackend is the backend NewEngine uses in this build.
const DefaultBackend = "builtin"

// NewEngine compiles srcs with the backend chosen at build time: the built-in
// pure-Go engine here, libyara when built with cgo and -tags yara.
func NewEngine(opts Options, srcs ...Source) (Engine, error) {
	rs, err := CompileSources(opts, srcs...)
	if err != nil {
		return nil, err
	}
	return rs, nil
}
