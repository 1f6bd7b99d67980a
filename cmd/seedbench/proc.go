//go:build !js

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Linux only: the seeder's memory and CPU come from /proc.

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100
// on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// procStatus reads one kB field of /proc/PID/status ("VmRSS:", "VmHWM:") in bytes.
func procStatus(pid int, field string) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("failed to read the memory of process %d (Linux only): %w", pid, err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s line in /proc/%d/status", field, pid)
}

// procCPU returns the CPU time (user + system) process pid used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("failed to read the CPU time of process %d (Linux only): %w", pid, err)
	}
	// The command name may hold spaces: the fields start after its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	// Fields 14 and 15 of stat (utime, stime) are 12 and 13 after the name.
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// loadAvg returns the 1-minute load average, or -1 when unknown.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// rss is a process's resident set: its total, and the anonymous (heap,
// stacks) and file-backed (the bbolt file's mapped pages, the binary) parts.
type rss struct{ total, anon, file uint64 }

func readRSS(pid int) (rss, error) {
	var r rss
	var err error
	if r.total, err = procStatus(pid, "VmRSS:"); err != nil {
		return r, err
	}
	r.anon, _ = procStatus(pid, "RssAnon:")
	r.file, _ = procStatus(pid, "RssFile:")
	return r, nil
}

func (r rss) String() string {
	return fmt.Sprintf("%.0f MiB (anonymous %.0f, file-backed %.0f)", float64(r.total)/(1<<20), float64(r.anon)/(1<<20), float64(r.file)/(1<<20))
}

// sampler polls a process's RSS until stopped and keeps the largest of
// each part.
type sampler struct {
	stop chan struct{}
	done chan rss
}

func sampleRSS(pid int, every time.Duration) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan rss, 1)}
	go func() {
		var peak rss
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if r, err := readRSS(pid); err == nil {
				peak = rss{max(peak.total, r.total), max(peak.anon, r.anon), max(peak.file, r.file)}
			}
			select {
			case <-s.stop:
				s.done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Peak stops the sampler and returns the largest RSS seen (each part's
// own peak: they need not be simultaneous).
func (s *sampler) Peak() rss {
	close(s.stop)
	return <-s.done
}

// procWait returns how long the threads of process pid were runnable but
// waited for a CPU (the run delay of /proc/PID/task/*/schedstat; threads
// that exited are not counted): on a shared machine, the time the process
// lost to others.
func procWait(pid int) (time.Duration, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, fmt.Errorf("failed to read the threads of process %d (Linux only): %w", pid, err)
	}
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue // the thread exited meanwhile
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		if ns, err := strconv.ParseInt(f[1], 10, 64); err == nil {
			total += time.Duration(ns)
		}
	}
	return total, nil
}
