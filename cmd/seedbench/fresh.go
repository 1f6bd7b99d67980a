//go:build !js

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/store/bolt"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/swarm/session"
)

// freshResult is the line a fresh peer prints once it holds the room.
type freshResult struct {
	FirstSession float64 `json:"first_session_s"` // process start → first authenticated session
	Synced       float64 `json:"synced_s"`        // process start → every record, the seeder's root
	Records      int     `json:"records"`
	Root         string  `json:"root"`
	BytesIn      int64   `json:"bytes_in"` // session payload bytes, every session
	BytesOut     int64   `json:"bytes_out"`
	Rounds       int     `json:"rounds"`
	Sessions     int     `json:"sessions"`
	CPU          float64 `json:"cpu_s"`     // user + system, process start → synced
	CPUSync      float64 `json:"cpu_sync"`  // of it, from the first session on
	WaitSync     float64 `json:"wait_sync"` // from the first session on, time its threads waited for a CPU
	HWM          uint64  `json:"hwm"`       // VmHWM at the end
}

// Lifted ingest budget of a fresh peer: the sync is bounded by the
// machinery, not by the per-peer ingest budget (2,000 records/s and 4 MiB/s
// by default), which guards a peer against one that floods it.
const unlimited = 1 << 40

// runFresh is a fresh peer (the -fresh-peer mode, a process of its own): an
// empty bbolt file opened as peerset.DB with the standard rules, as `peerset
// join` does, joined through trackerURL with the ingest budget lifted, until
// it holds want records and root; then it prints a freshResult and returns.
func runFresh(trackerURL, path string, want int, root string, timeout time.Duration, stdout io.Writer) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		return err
	}
	std := moderation.PresetStandard()
	db, err := peerset.Open(ctx, peerset.Config{Room: roomName, Store: st, Moderation: &std})
	if err != nil {
		st.Close()
		return err
	}
	defer db.Close()
	err = db.Join(ctx, peerset.JoinOptions{Trackers: []string{trackerURL}, ICEServers: []swarm.ICEServer{}, LoopbackCandidates: true,
		Session: session.Config{IngestBurst: unlimited, IngestRate: unlimited, IngestBurstBytes: unlimited, IngestRateBytes: unlimited}})
	if err != nil {
		return err
	}
	var res freshResult
	var cpuAtSession, waitAtSession time.Duration
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s := db.Stats()
			return fmt.Errorf("fresh peer: %d of %d records after %v (root %s, want %s)", s.Records, want, timeout, s.Root, root)
		case <-tick.C:
		}
		if res.FirstSession == 0 {
			for _, s := range db.Sessions() {
				if s.State.Authenticated() {
					res.FirstSession = time.Since(start).Seconds()
					cpuAtSession = selfCPU()
					waitAtSession, _ = procWait(os.Getpid())
				}
			}
		}
		if s := db.Stats(); s.Records == want && s.Root == root {
			res.Synced = time.Since(start).Seconds()
			cpu := selfCPU()
			res.CPU, res.CPUSync = cpu.Seconds(), (cpu - cpuAtSession).Seconds()
			wait, _ := procWait(os.Getpid())
			res.WaitSync = (wait - waitAtSession).Seconds()
			res.Records, res.Root = s.Records, s.Root
			break
		}
	}
	for _, s := range db.Sessions() {
		res.BytesIn += s.BytesIn
		res.BytesOut += s.BytesOut
		res.Rounds += s.Rounds
		res.Sessions++
	}
	res.HWM, _ = procStatus(os.Getpid(), "VmHWM:")
	return json.NewEncoder(stdout).Encode(res)
}

// selfCPU is the CPU time this process used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// freshPeer is a running fresh peer process.
type freshPeer struct {
	cmd    *exec.Cmd
	result chan freshResult
	stderr *strings.Builder
}

// startFresh starts this program in -fresh-peer mode.
func startFresh(trackerURL, path string, want int, root string, timeout time.Duration) (*freshPeer, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-fresh-peer", "-tracker", trackerURL, "-db", path, "-n", strconv.Itoa(want), "-root", root, "-timeout", timeout.String())
	return startFreshCmd(cmd)
}

func startFreshCmd(cmd *exec.Cmd) (*freshPeer, error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	f := &freshPeer{cmd: cmd, result: make(chan freshResult, 1), stderr: &strings.Builder{}}
	cmd.Stderr = f.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var r freshResult
			if json.Unmarshal(sc.Bytes(), &r) == nil && r.Synced > 0 {
				f.result <- r
			}
		}
		close(f.result)
	}()
	return f, nil
}

// wait returns the fresh peer's result, or an error when it exited without one.
func (f *freshPeer) wait() (freshResult, error) {
	r, ok := <-f.result
	err := f.cmd.Wait()
	if !ok {
		return r, fmt.Errorf("the fresh peer ended without syncing (%v): %s", err, strings.TrimSpace(f.stderr.String()))
	}
	return r, nil
}
