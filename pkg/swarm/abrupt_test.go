//go:build !js

package swarm_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peersetdb/peerset/pkg/swarm"
)

// helperPeerEnv makes the test binary run a room as a child process (see
// TestMain), so that a test can kill a peer without giving it any chance to
// say goodbye.
const helperPeerEnv = "PEERSET_SWARM_HELPER_PEER"

type helperPeerSpec struct {
	Tracker string `json:"tracker"`
	AppID   string `json:"app_id"`
	Room    string `json:"room"`
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperPeerEnv); spec != "" {
		os.Exit(runHelperPeer(spec))
	}
	os.Exit(m.Run())
}

// runHelperPeer joins the room described by spec, prints "joined <id>" for
// every peer that joins and runs until its standard input closes.
func runHelperPeer(spec string) int {
	var s helperPeerSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Fprintln(os.Stderr, "bad helper spec:", err)
		return 2
	}
	cfg := swarm.Config{
		AppID:              s.AppID,
		Room:               s.Room,
		Trackers:           []string{s.Tracker},
		ICEServers:         []webrtc.ICEServer{},
		LoopbackCandidates: true,
	}
	room, err := swarm.NewRoom(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	room.OnPeerJoin(func(p *swarm.Peer) { fmt.Printf("joined %s\n", p.ID()) })
	if err := room.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = room.Close()
	return 0
}

func TestKilledPeerIsDetected(t *testing.T) {
	tr := startTracker(t)
	cfg := testConfig(t, tr.URL(), roomName(t))
	swarm.SetFastFailureDetectionForTest(&cfg)
	a := newTestPeer(t, cfg)

	spec, err := json.Marshal(helperPeerSpec{Tracker: tr.URL(), AppID: cfg.AppID, Room: cfg.Room})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperPeerEnv+"="+string(spec))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("failed to start the helper peer: %v", err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	childJoined := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "joined "); ok {
				childJoined <- id
			}
		}
	}()
	child := a.waitJoin(t)
	select {
	case id := <-childJoined:
		if id != a.room.SelfID() {
			t.Fatalf("helper peer joined %s, want %s", id, a.room.SelfID())
		}
	case <-time.After(joinTimeout):
		t.Fatal("the helper peer did not see us join")
	}

	killed := time.Now()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("failed to kill the helper peer: %v", err)
	}
	ev := a.waitLeave(t, 15*time.Second)
	t.Logf("killed peer noticed after %v: %v", time.Since(killed), ev.reason)
	if ev.peer != child.ID() || !errors.Is(ev.reason, swarm.ErrConnectionLost) {
		t.Fatalf("leave = %+v, want %s with ErrConnectionLost", ev, child.ID())
	}
}
