//go:build unix

package lab

import "syscall"

// fdLimit is the soft RLIMIT_NOFILE (Go raises it to the hard limit at start-up
// on Linux, so this is usually the hard limit).
func fdLimit() (uint64, bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, false
	}
	return uint64(rl.Cur), true
}
