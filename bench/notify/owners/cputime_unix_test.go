//go:build unix

package ownersbench

import (
	"syscall"
	"time"
)

// cpuTime is the process's user+system CPU time. Reported next to wall
// time because the 2-core machine is shared: wall-clock lookups/s drop
// several-fold when other tests run, CPU-time lookups/s much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
