//go:build !unix

package ownersbench

import "time"

func cpuTime() time.Duration { return 0 }
