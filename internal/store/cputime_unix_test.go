//go:build unix

package store

import "syscall"

// processCPU is the user+system CPU time of this process in seconds. The
// benchmarks report rows per CPU-second next to rows per wall-second because
// on a shared, loaded machine the wall rate mostly measures the neighbours.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
