package interop

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The Node side of the Trystero interop test: interop/node/trystero-peer.mjs
// in a child process, driven with JSON lines.

const trysteroPeerScript = "node/trystero-peer.mjs"

// trysteroNodeDeps are the npm packages the Node peer imports.
var trysteroNodeDeps = []string{"@trystero-p2p/torrent", "@trystero-p2p/nostr", "werift", "ws"}

// requireNodeDeps fails the test, with the way out, when Node or the npm
// packages are missing: the interop test must not pass by skipping.
func requireNodeDeps(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not installed: install Node.js 20+ and run `make test`, which installs the npm packages of interop/node")
	}
	for _, pkg := range trysteroNodeDeps {
		manifest := filepath.Join("node", "node_modules", filepath.FromSlash(pkg), "package.json")
		if _, err := os.Stat(manifest); errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("npm package %s is missing from interop/node/node_modules: run `make test`, which installs them (or `cd interop/node && npm ci`)", pkg)
		} else if err != nil {
			t.Fatal(err)
		}
	}
}

type nodePeerConfig struct {
	AppID    string   `json:"appId"`
	RoomID   string   `json:"roomId"`
	Trackers []string `json:"trackers"`
	Password string   `json:"password,omitempty"`
	Actions  []string `json:"actions"`
	// Strategy is "torrent" (the default) or "nostr" (Trackers are then
	// Nostr relays).
	Strategy string `json:"strategy,omitempty"`
}

// nodeEvent is one line the Node peer prints.
type nodeEvent struct {
	Event  string          `json:"event"`
	SelfID string          `json:"selfId"`
	PeerID string          `json:"peerId"`
	Action string          `json:"action"`
	Kind   string          `json:"kind"`
	Data   json.RawMessage `json:"data"`
	Error  string          `json:"error"`
}

// nodeCommand is one line the Node peer reads.
type nodeCommand struct {
	Cmd    string `json:"cmd"`
	Action string `json:"action,omitempty"`
	Kind   string `json:"kind,omitempty"`
	Data   any    `json:"data,omitempty"`
	Target string `json:"target,omitempty"`
}

type nodePeer struct {
	selfID string
	stdin  io.WriteCloser

	mu       sync.Mutex
	events   []nodeEvent
	consumed []bool
	notify   chan struct{} // closed and replaced on every event
	exited   bool
}

// startNodePeer runs the Node peer and waits until its room is joined.
func startNodePeer(t *testing.T, cfg nodePeerConfig) *nodePeer {
	t.Helper()
	arg, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", trysteroPeerScript, string(arg))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("failed to start the Trystero peer: %v", err)
	}
	n := &nodePeer{stdin: stdin, notify: make(chan struct{})}
	var readers sync.WaitGroup
	readers.Go(func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		for sc.Scan() {
			var e nodeEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Logf("trystero stdout: %s", sc.Text())
				continue
			}
			if e.Event == "error" {
				t.Errorf("the Trystero peer failed a command: %s", e.Error)
			}
			n.add(e)
		}
		n.mu.Lock()
		n.exited = true
		close(n.notify)
		n.notify = make(chan struct{})
		n.mu.Unlock()
	})
	readers.Go(func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			t.Logf("trystero stderr: %s", sc.Text())
		}
	})
	t.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() {
			readers.Wait()
			_ = cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	ready := n.waitFor(t, "ready", func(e nodeEvent) bool { return e.Event == "ready" })
	n.selfID = ready.SelfID
	return n
}

func (n *nodePeer) add(e nodeEvent) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.events = append(n.events, e)
	n.consumed = append(n.consumed, false)
	close(n.notify)
	n.notify = make(chan struct{})
}

// waitFor returns the first event not returned before that matches.
func (n *nodePeer) waitFor(t *testing.T, what string, match func(nodeEvent) bool) nodeEvent {
	t.Helper()
	deadline := time.After(trysteroEventWait)
	for {
		n.mu.Lock()
		for i, e := range n.events {
			if !n.consumed[i] && match(e) {
				n.consumed[i] = true
				n.mu.Unlock()
				return e
			}
		}
		notify, exited := n.notify, n.exited
		n.mu.Unlock()
		if exited {
			t.Fatalf("the Trystero peer exited while we waited for %s", what)
		}
		select {
		case <-notify:
		case <-deadline:
			t.Fatalf("the Trystero peer sent no %s within %v", what, trysteroEventWait)
		}
	}
}

// seen reports whether any event so far matches.
func (n *nodePeer) seen(match func(nodeEvent) bool) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, e := range n.events {
		if match(e) {
			return true
		}
	}
	return false
}

func (n *nodePeer) send(t *testing.T, c nodeCommand) {
	t.Helper()
	line, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.stdin.Write(append(line, '\n')); err != nil {
		t.Fatalf("failed to write to the Trystero peer: %v", err)
	}
}
