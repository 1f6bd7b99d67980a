//go:build !js

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store/bolt"
)

// buildBinaries builds cmd/peerset and cmd/tracker into a temporary folder.
func buildBinaries(t *testing.T) (peersetBin, trackerBin string) {
	t.Helper()
	dir := t.TempDir()
	for _, b := range []struct{ out, pkg string }{{"peerset", "."}, {"tracker", "../tracker"}} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b.out), b.pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return filepath.Join(dir, "peerset"), filepath.Join(dir, "tracker")
}

// startTracker runs cmd/tracker on a free loopback port and returns its URL.
func startTracker(t *testing.T, bin string) string {
	t.Helper()
	cmd := exec.Command(bin, "--addr", "127.0.0.1:0")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ws://") {
		t.Fatalf("tracker printed %q, %v", line, err)
	}
	return strings.TrimSpace(line)
}

// seed writes n signed records into a new database file for room.
func seed(t *testing.T, path, room string, n int) {
	t.Helper()
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	open := moderation.PresetOpen()
	db, err := peerset.Open(context.Background(), peerset.Config{Room: room, Store: st, Moderation: &open})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := db.Put(context.Background(), record.Draft{Text: fmt.Sprintf("%s #%d", filepath.Base(path), i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// sameSet: two status lines report the same set and room view (the sync
// counters are each peer's own).
func sameSet(a, b joinStatus) bool {
	return a.Peers == b.Peers && a.Records == b.Records && a.Root == b.Root && a.RulesDiffer == b.RulesDiffer
}

// caughtUp: every status line reports a finished catch-up with both other
// peers, having stored records from them (each peer lacked 400).
func caughtUp(st ...joinStatus) bool {
	for _, s := range st {
		if !s.Sync.Done || s.Sync.Peers != 2 || s.Sync.RecordsIn == 0 || s.Sync.Progress != 1 {
			return false
		}
	}
	return true
}

type joinProc struct {
	cmd    *exec.Cmd
	status chan joinStatus
	events chan joinEvent
	done   chan error
}

func startJoin(t *testing.T, bin string, args ...string) *joinProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"join", "--json", "--ice-loopback", "--moderation", "open"}, args...)...)
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &joinProc{cmd: cmd, status: make(chan joinStatus, 1000), events: make(chan joinEvent, 10000), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Bytes()
			if strings.Contains(string(line), `"event"`) {
				var ev joinEvent
				if json.Unmarshal(line, &ev) == nil {
					p.events <- ev
				}
				continue
			}
			var st joinStatus
			if err := json.Unmarshal(line, &st); err != nil {
				t.Errorf("join printed a line that is not JSON: %q", line)
				continue
			}
			select {
			case p.status <- st:
			default:
			}
		}
		err := cmd.Wait()
		if err != nil {
			err = fmt.Errorf("%w: %s", err, stderr.String())
		}
		p.done <- err
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return p
}

// Acceptance 1 through the real binaries: cmd/tracker and three
// `peerset join` peers, each with 200 records stored before joining,
// converge to 600 records and one root; SIGINT shuts each down cleanly with
// its store closed and complete.
func TestJoinThreeProcessesConverge(t *testing.T) {
	peersetBin, trackerBin := buildBinaries(t)
	url := startTracker(t, trackerBin)
	dir := t.TempDir()
	var procs []*joinProc
	var paths []string
	for _, name := range []string{"a.db", "b.db", "c.db"} {
		path := filepath.Join(dir, name)
		seed(t, path, "cli-room", 200)
		paths = append(paths, path)
	}
	for i, path := range paths {
		args := []string{"--db", path, "--room", "cli-room", "--tracker", url}
		if i == 2 {
			args = append(args, "--ephemeral") // a fresh key per connection syncs like any peer
		}
		procs = append(procs, startJoin(t, peersetBin, args...))
	}
	deadline := time.After(120 * time.Second)
	last := make([]joinStatus, len(procs))
	for {
		for i, p := range procs {
			select {
			case st := <-p.status:
				last[i] = st
			case err := <-p.done:
				t.Fatalf("peer %d exited early: %v", i, err)
			default:
			}
		}
		if last[0].Records == 600 && last[0].Peers == 2 && sameSet(last[1], last[0]) && sameSet(last[2], last[0]) && caughtUp(last...) {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("no convergence: %+v", last)
		case <-time.After(200 * time.Millisecond):
		}
	}
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGINT)
	}
	for i, p := range procs {
		select {
		case err := <-p.done:
			if err != nil {
				t.Fatalf("peer %d did not shut down cleanly: %v", i, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("peer %d ignored SIGINT", i)
		}
	}
	// The stores were closed (the lock is free) and hold the whole set.
	for _, path := range paths {
		st, err := bolt.Open(path, bolt.Options{LockTimeout: time.Second})
		if err != nil {
			t.Fatalf("reopen %s: %v", path, err)
		}
		n, _ := st.Count(context.Background())
		st.Close()
		if n != 600 {
			t.Fatalf("%s holds %d events after shutdown, want 600", path, n)
		}
	}
}

// TestOneAuthorOnThreeDevicesConverges is the attack of issue "a room that
// holds under attack" item 1, through the real binaries: one author (the same
// nsec) writes 5 records on each of three devices while offline (`peerset
// put`), then the three `peerset join` under the standard preset (5 live
// records per author). They must reach one root holding the author's 5 newest
// records, instead of each keeping its own 5 and reconciling forever.
func TestOneAuthorOnThreeDevicesConverges(t *testing.T) {
	peersetBin, trackerBin := buildBinaries(t)
	url := startTracker(t, trackerBin)
	dir := t.TempDir()
	sk, err := record.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	var written []*record.Event
	for _, device := range []string{"phone", "laptop", "tablet"} {
		path := filepath.Join(dir, device+".db")
		paths = append(paths, path)
		for i := range 5 {
			out, err := exec.Command(peersetBin, "put", "--db", path, "--room", "devices", "--nsec", sk.Nsec(),
				"--text", fmt.Sprintf("note %d written on the %s", i, device)).Output()
			if err != nil {
				t.Fatalf("put on %s: %v", device, err)
			}
			var e record.Event
			if err := json.Unmarshal(out, &e); err != nil {
				t.Fatalf("put printed %q: %v", out, err)
			}
			written = append(written, &e)
		}
	}
	var procs []*joinProc
	for _, path := range paths {
		procs = append(procs, startJoin(t, peersetBin, "--db", path, "--room", "devices", "--tracker", url, "--moderation", "standard"))
	}
	last := make([]joinStatus, len(procs))
	converged := func() bool {
		return last[0].Records == 5 && last[0].Peers == 2 && sameSet(last[1], last[0]) && sameSet(last[2], last[0])
	}
	deadline := time.After(120 * time.Second)
	var stableSince time.Time
	for {
		for i, p := range procs {
			select {
			case st := <-p.status:
				last[i] = st
			case err := <-p.done:
				t.Fatalf("device %d exited early: %v", i, err)
			default:
			}
		}
		switch {
		case !converged():
			stableSince = time.Time{}
		case stableSince.IsZero():
			stableSince = time.Now()
		case time.Since(stableSince) > 3*time.Second: // one root, and it stays
			for _, p := range procs {
				_ = p.cmd.Process.Signal(syscall.SIGINT)
				<-p.done
			}
			checkNewestKept(t, paths, written, 5)
			return
		}
		select {
		case <-deadline:
			t.Fatalf("no convergence: %+v", last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// checkNewestKept checks that every store holds exactly the keep newest of
// written (newer created_at first, then the lower id).
func checkNewestKept(t *testing.T, paths []string, written []*record.Event, keep int) {
	t.Helper()
	newest := append([]*record.Event(nil), written...)
	slices.SortFunc(newest, func(a, b *record.Event) int {
		if record.Supersedes(a, b) {
			return -1
		}
		return 1
	})
	for _, path := range paths {
		st, err := bolt.Open(path, bolt.Options{LockTimeout: time.Second})
		if err != nil {
			t.Fatalf("reopen %s: %v", path, err)
		}
		for _, e := range newest[:keep] {
			if _, err := st.Get(context.Background(), e.ID); err != nil {
				t.Errorf("%s lacks one of the author's %d newest records (%q): %v", filepath.Base(path), keep, e.Content, err)
			}
		}
		n, _ := st.Count(context.Background())
		st.Close()
		if n != keep {
			t.Errorf("%s holds %d events, want %d", filepath.Base(path), n, keep)
		}
	}
}
