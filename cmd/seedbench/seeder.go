//go:build !js

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// seeder is the `peerset join` process serving the room.
type seeder struct {
	cmd     *exec.Cmd
	started time.Time
	stderr  *strings.Builder

	mu      sync.Mutex
	selfID  string
	records int
	root    string
	peers   int
	exited  bool
	changed chan struct{} // closed and replaced on every line
}

// seederStatus is what the seeder's `--json` lines say.
type seederLine struct {
	Event   string `json:"event"`
	Peer    string `json:"peer"`
	Records *int   `json:"records"`
	Root    string `json:"root"`
	Peers   int    `json:"peers"`
}

// startSeeder runs `peerset join` on the room's file with room for maxPeers
// peers, a mesh bounded only by them, and the per-peer upload budget
// lifted (uploadRate bytes/s).
func startSeeder(bin, path string, trackers []string, maxPeers int, uploadRate float64) (*seeder, error) {
	args := []string{"join", "--db", path, "--room", roomName, "--ice-loopback", "--json",
		"--max-peers", strconv.Itoa(maxPeers), "--mesh-high", "-1", "--upload-rate", strconv.FormatFloat(uploadRate, 'f', -1, 64)}
	for _, t := range trackers {
		args = append(args, "--tracker", t)
	}
	s := &seeder{cmd: exec.Command(bin, args...), stderr: &strings.Builder{}, changed: make(chan struct{})}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s.cmd.Stderr = s.stderr
	s.started = time.Now()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("failed to start the seeder (%s): %w", bin, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var l seederLine
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				continue
			}
			s.mu.Lock()
			switch {
			case l.Event == "joined":
				s.selfID = l.Peer
			case l.Event == "" && l.Records != nil:
				s.records, s.root, s.peers = *l.Records, l.Root, l.Peers
			}
			close(s.changed)
			s.changed = make(chan struct{})
			s.mu.Unlock()
		}
		s.mu.Lock()
		s.exited = true
		close(s.changed)
		s.mu.Unlock()
	}()
	return s, nil
}

func (s *seeder) pid() int { return s.cmd.Process.Pid }

// status returns the seeder's last status line.
func (s *seeder) status() (selfID string, records int, root string, peers int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.selfID, s.records, s.root, s.peers
}

// waitFor waits until ok holds for the seeder's status, the seeder exits or
// timeout passes.
func (s *seeder) waitFor(timeout time.Duration, what string, ok func(selfID string, records int, root string, peers int) bool) error {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		done, exited, changed := ok(s.selfID, s.records, s.root, s.peers), s.exited, s.changed
		s.mu.Unlock()
		switch {
		case done:
			return nil
		case exited:
			return fmt.Errorf("the seeder exited before %s: %s", what, strings.TrimSpace(s.stderr.String()))
		}
		select {
		case <-changed:
		case <-deadline:
			return fmt.Errorf("the seeder did not reach %s in %v", what, timeout)
		}
	}
}

func (s *seeder) stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}
