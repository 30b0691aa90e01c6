//go:build !unix

package lab

// fdLimit is unknown here (Windows has no per-process descriptor limit of the
// same kind); Start then relies on the listen errors.
func fdLimit() (uint64, bool) { return 0, false }
