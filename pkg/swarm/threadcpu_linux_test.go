//go:build linux && !js

package swarm

import (
	"syscall"
	"time"
)

// rusageThread is Linux's RUSAGE_THREAD (not in package syscall).
const rusageThread = 1

// threadCPU returns the CPU time the calling OS thread has used; the caller
// locks its goroutine to the thread. Unlike the wall clock, other processes'
// load barely changes it.
func threadCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
