//go:build !js

// WebRTC tests: real pion peers over loopback, real tracker (pkg/tracker) on
// 127.0.0.1. Nothing reaches a public tracker or STUN server: every room gets
// the loopback tracker, no ICE servers and loopback-only candidates.
package swarm_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/tracker/trackertest"
	"github.com/peersetdb/peerset/pkg/wire"
)

// joinTimeout bounds how long a test waits for peers to find each other.
const joinTimeout = 20 * time.Second

func startTracker(t testing.TB) *trackertest.Tracker { return trackertest.Start(t) }

// received is one action message delivered to a test peer.
type received struct {
	from string
	msg  swarm.ActionMessage
}

type leaveEvent struct {
	peer   string
	reason error
}

type joinError struct {
	peer string
	err  error
}

// testPeer is a room with its events on channels.
type testPeer struct {
	room       *swarm.Room
	joins      chan *swarm.Peer
	leaves     chan leaveEvent
	messages   chan received
	violations chan error
	joinErrors chan joinError
}

// testConfig is the loopback-only base configuration of the tests.
func testConfig(t testing.TB, trackerURL, room string) swarm.Config {
	cfg := swarm.Config{
		AppID:               "peerset-test",
		Room:                room,
		Trackers:            []string{trackerURL},
		ICEServers:          []webrtc.ICEServer{},
		LoopbackCandidates:  true,
		TrackerReconnectMin: 100 * time.Millisecond,
		TrackerReconnectMax: 500 * time.Millisecond,
	}
	if os.Getenv("PEERSET_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return cfg
}

// roomName gives each test its own room (and so its own info_hash).
func roomName(t testing.TB) string {
	return strings.ReplaceAll(t.Name(), "/", "-")
}

func newTestPeer(t testing.TB, cfg swarm.Config, actionTypes ...string) *testPeer {
	t.Helper()
	tp := &testPeer{
		joins:      make(chan *swarm.Peer, 16),
		leaves:     make(chan leaveEvent, 16),
		messages:   make(chan received, 64),
		violations: make(chan error, 64),
		joinErrors: make(chan joinError, 64),
	}
	room, err := swarm.NewRoom(cfg)
	if err != nil {
		t.Fatalf("NewRoom: %v", err)
	}
	tp.room = room
	room.OnPeerJoin(func(p *swarm.Peer) { tp.joins <- p })
	room.OnPeerLeave(func(p *swarm.Peer, reason error) { tp.leaves <- leaveEvent{p.ID(), reason} })
	room.OnViolation(func(_ *swarm.Peer, err error) {
		select {
		case tp.violations <- err:
		default:
		}
	})
	room.OnJoinError(func(id string, err error) {
		select {
		case tp.joinErrors <- joinError{id, err}:
		default:
		}
	})
	for _, typ := range actionTypes {
		if err := room.Handle(typ, func(p *swarm.Peer, msg swarm.ActionMessage) {
			tp.messages <- received{from: p.ID(), msg: msg}
		}); err != nil {
			t.Fatalf("Handle(%q): %v", typ, err)
		}
	}
	if err := room.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = room.Close() })
	return tp
}

// waitJoin waits for the next OnPeerJoin.
func (tp *testPeer) waitJoin(t testing.TB) *swarm.Peer {
	t.Helper()
	select {
	case p := <-tp.joins:
		return p
	case <-time.After(joinTimeout):
		t.Fatalf("%s: no peer joined within %v (trackers: %+v)", tp.room.SelfID(), joinTimeout, tp.room.Trackers())
		return nil
	}
}

func (tp *testPeer) waitLeave(t *testing.T, within time.Duration) leaveEvent {
	t.Helper()
	select {
	case ev := <-tp.leaves:
		return ev
	case <-time.After(within):
		t.Fatalf("%s: no peer left within %v", tp.room.SelfID(), within)
		return leaveEvent{}
	}
}

func (tp *testPeer) waitMessage(t *testing.T) received {
	t.Helper()
	select {
	case m := <-tp.messages:
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no message within 10s", tp.room.SelfID())
		return received{}
	}
}

// expectNoJoin fails if a peer joins within d.
func (tp *testPeer) expectNoJoin(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case p := <-tp.joins:
		t.Fatalf("%s: peer %s joined, want none", tp.room.SelfID(), p.ID())
	case <-time.After(d):
	}
}

func testPayloads(t *testing.T) []swarm.ActionMessage {
	t.Helper()
	big := make([]byte, 40<<10) // > 16 KiB: three chunks
	for i := range big {
		big[i] = byte(i * 7)
	}
	jsonMsg, err := swarm.JSONMessage("chat", map[string]any{"n": 1, "s": "<x&y>"})
	if err != nil {
		t.Fatal(err)
	}
	return []swarm.ActionMessage{
		swarm.StringMessage("chat", "hello, peer ✓"),
		jsonMsg,
		swarm.BinaryMessage("blob", big),
	}
}

func checkSame(t *testing.T, got, want swarm.ActionMessage) {
	t.Helper()
	if got.Type != want.Type || got.Kind != want.Kind || !bytes.Equal(got.Payload, want.Payload) {
		t.Fatalf("got %s %s message of %d bytes, want %s %s of %d bytes", got.Type, got.Kind, len(got.Payload), want.Type, want.Kind, len(want.Payload))
	}
}

// exchange sends every test payload from a to b and checks what arrives.
func exchange(t *testing.T, from *swarm.Peer, to *testPeer, fromID string) {
	t.Helper()
	for _, want := range testPayloads(t) {
		if err := from.Send(t.Context(), want); err != nil {
			t.Fatalf("Send %s: %v", want.Kind, err)
		}
		got := to.waitMessage(t)
		if got.from != fromID {
			t.Fatalf("message from %s, want %s", got.from, fromID)
		}
		checkSame(t, got.msg, want)
	}
}

func TestTwoRoomsConnectExchangeAndLeave(t *testing.T) {
	tr := startTracker(t)
	start := time.Now()
	a := newTestPeer(t, testConfig(t, tr.URL(), roomName(t)), "chat", "blob")
	b := newTestPeer(t, testConfig(t, tr.URL(), roomName(t)), "chat", "blob")
	pb := a.waitJoin(t) // a's view of b
	pa := b.waitJoin(t)
	t.Logf("joined in %v", time.Since(start))
	if pb.ID() != b.room.SelfID() || pa.ID() != a.room.SelfID() {
		t.Fatalf("peer ids: a sees %s, b sees %s; want %s and %s", pb.ID(), pa.ID(), b.room.SelfID(), a.room.SelfID())
	}
	if pb.LocalFingerprint() == "" || pb.LocalFingerprint() != pa.RemoteFingerprint() || pb.RemoteFingerprint() != pa.LocalFingerprint() {
		t.Fatalf("fingerprints do not match: a local %q remote %q, b local %q remote %q",
			pb.LocalFingerprint(), pb.RemoteFingerprint(), pa.LocalFingerprint(), pa.RemoteFingerprint())
	}
	if !strings.HasPrefix(pb.LocalFingerprint(), "sha-256 ") {
		t.Fatalf("fingerprint %q is not sha-256", pb.LocalFingerprint())
	}

	exchange(t, pb, b, a.room.SelfID())
	exchange(t, pa, a, b.room.SelfID())

	rtt, err := pb.Ping(t.Context())
	if err != nil || rtt <= 0 || pb.RTT() != rtt {
		t.Fatalf("Ping = %v, %v; RTT() = %v", rtt, err, pb.RTT())
	}
	if got := a.room.Peers(); len(got) != 1 || got[0] != pb {
		t.Fatalf("a.Peers() = %v, want [%s]", got, pb.ID())
	}
	if st := pb.Stats(); st.MessagesOut < 3 || st.BytesOut < 40<<10 || st.MessagesIn < 3 || st.ConnectedAt.IsZero() {
		t.Fatalf("stats look wrong: %+v", st)
	}
	if err := pb.Send(t.Context(), swarm.StringMessage(wire.ActionLeave, "")); !errors.Is(err, swarm.ErrReservedAction) {
		t.Fatalf("sending an internal type: %v, want ErrReservedAction", err)
	}

	if err := b.room.Close(); err != nil {
		t.Fatal(err)
	}
	ev := a.waitLeave(t, 5*time.Second)
	if ev.peer != b.room.SelfID() || !errors.Is(ev.reason, swarm.ErrPeerLeft) {
		t.Fatalf("leave = %+v, want %s with ErrPeerLeft", ev, b.room.SelfID())
	}
	if len(a.room.Peers()) != 0 {
		t.Fatalf("a still has peers after b left: %v", a.room.Peers())
	}
	if err := pb.Send(t.Context(), swarm.StringMessage("chat", "late")); !errors.Is(err, swarm.ErrPeerNotActive) {
		t.Fatalf("send after leave: %v, want ErrPeerNotActive", err)
	}
}

func TestThreeRoomsFormOneMesh(t *testing.T) {
	tr := startTracker(t)
	var peers []*testPeer
	for range 3 {
		peers = append(peers, newTestPeer(t, testConfig(t, tr.URL(), roomName(t)), "chat"))
	}
	for _, tp := range peers {
		seen := map[string]bool{}
		for range 2 {
			p := tp.waitJoin(t)
			if seen[p.ID()] {
				t.Fatalf("%s: %s joined twice", tp.room.SelfID(), p.ID())
			}
			seen[p.ID()] = true
		}
	}
	// No duplicate connection was opened and then dropped.
	for _, tp := range peers {
		tp.expectNoJoin(t, 0)
		select {
		case ev := <-tp.leaves:
			t.Fatalf("%s: unexpected leave %+v", tp.room.SelfID(), ev)
		default:
		}
		if n := len(tp.room.Peers()); n != 2 {
			t.Fatalf("%s has %d peers, want 2", tp.room.SelfID(), n)
		}
	}
	for i, tp := range peers {
		msg := swarm.StringMessage("chat", fmt.Sprintf("from %d", i))
		if err := tp.room.Broadcast(t.Context(), msg); err != nil {
			t.Fatalf("Broadcast: %v", err)
		}
		for j, other := range peers {
			if j == i {
				continue
			}
			got := other.waitMessage(t)
			if got.from != tp.room.SelfID() || string(got.msg.Payload) != string(msg.Payload) {
				t.Fatalf("peer %d got %q from %s, want %q from %s", j, got.msg.Payload, got.from, msg.Payload, tp.room.SelfID())
			}
		}
	}
}

func TestPassword(t *testing.T) {
	t.Run("same password connects", func(t *testing.T) {
		tr := startTracker(t)
		cfg := testConfig(t, tr.URL(), roomName(t))
		cfg.Password = "s3cret"
		a := newTestPeer(t, cfg, "chat", "blob")
		b := newTestPeer(t, cfg, "chat", "blob")
		pb := a.waitJoin(t)
		b.waitJoin(t)
		exchange(t, pb, b, a.room.SelfID())
	})
	t.Run("wrong password is refused at the SDP", func(t *testing.T) {
		tr := startTracker(t)
		cfgA := testConfig(t, tr.URL(), roomName(t))
		cfgA.Password = "right"
		cfgB := cfgA
		cfgB.Password = "wrong"
		a := newTestPeer(t, cfgA)
		b := newTestPeer(t, cfgB)
		for _, tp := range []*testPeer{a, b} {
			select {
			case je := <-tp.joinErrors:
				if !errors.Is(je.err, swarm.ErrWrongPassword) {
					t.Fatalf("%s: join error %v, want ErrWrongPassword", tp.room.SelfID(), je.err)
				}
			case <-time.After(joinTimeout):
				t.Fatalf("%s: no join error", tp.room.SelfID())
			}
		}
		a.expectNoJoin(t, time.Second)
		b.expectNoJoin(t, 0)
	})
	t.Run("wrong password is refused by the challenge", func(t *testing.T) {
		// Same SDP key, different challenge passwords: what a Trystero
		// peer sharing a connection across rooms would meet.
		tr := startTracker(t)
		base := testConfig(t, tr.URL(), roomName(t))
		base.Password = "sdp-key"
		base.HandshakeTimeout = 3 * time.Second
		cfgA, cfgB := base, base
		swarm.SetHandshakePasswordForTest(&cfgA, "right")
		swarm.SetHandshakePasswordForTest(&cfgB, "wrong")
		a := newTestPeer(t, cfgA)
		b := newTestPeer(t, cfgB)
		initiator := a
		if b.room.SelfID() < a.room.SelfID() {
			initiator = b
		}
		deadline := time.After(joinTimeout)
		for {
			select {
			case je := <-initiator.joinErrors:
				if !errors.Is(je.err, swarm.ErrPasswordMismatch) {
					t.Logf("join error before the challenge: %v", je.err)
					continue
				}
			case <-deadline:
				t.Fatal("the challenger did not refuse the peer")
			}
			break
		}
		a.expectNoJoin(t, 500*time.Millisecond)
		b.expectNoJoin(t, 0)
	})
}

func TestTrackerRestartReconnects(t *testing.T) {
	tr := startTracker(t)
	url := tr.URL()
	a := newTestPeer(t, testConfig(t, url, roomName(t)), "chat", "blob")
	waitTrackerState(t, a.room, swarm.TrackerOpen)

	tr.Stop()
	waitTrackerState(t, a.room, swarm.TrackerClosed, swarm.TrackerConnecting)
	tr.Restart() // on the same port
	waitTrackerState(t, a.room, swarm.TrackerOpen)

	b := newTestPeer(t, testConfig(t, url, roomName(t)), "chat", "blob")
	pb := a.waitJoin(t)
	b.waitJoin(t)
	exchange(t, pb, b, a.room.SelfID())
	if st := a.room.Trackers()[0]; st.Announces < 2 {
		t.Fatalf("tracker status after restart: %+v", st)
	}
}

func waitTrackerState(t *testing.T, r *swarm.Room, want ...swarm.TrackerState) {
	t.Helper()
	testwait.ForState(t, fmt.Sprintf("the tracker state to be one of %v", want), 10*time.Second, func() bool {
		return slices.Contains(want, r.Trackers()[0].State)
	}, func() string { return fmt.Sprintf("%+v", r.Trackers()[0]) })
}

func TestViolationsAreReportedAndTheRoomKeepsWorking(t *testing.T) {
	tr := startTracker(t)
	cfgA := testConfig(t, tr.URL(), roomName(t))
	cfgB := cfgA
	cfgB.MaxMessageBytes = 32 << 10
	a := newTestPeer(t, cfgA, "chat")
	b := newTestPeer(t, cfgB, "chat")
	pb := a.waitJoin(t)
	b.waitJoin(t)
	token := swarm.RoomTokenOf(a.room)
	otherToken := wire.RoomToken("other-app", "other-room")

	chunk := func(typ string, flags wire.ChunkFlags, payload []byte) []byte {
		c, err := wire.AppendChunk(nil, wire.Chunk{Type: typ, Flags: flags, Progress: 255, Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	frame := func(token string, c []byte) []byte {
		f, err := wire.EncodeRoomFrame(token, c)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	presenceOther, err := wire.EncodePresenceFrame(otherToken, true)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		send func() error
		want error // nil: no violation expected
	}{
		{"unknown frame kind", func() error { return swarm.SendRawForTest(t.Context(), pb, []byte{9, 9, 9, 9}) }, wire.ErrMalformedFrame},
		{"short frame", func() error { return swarm.SendRawForTest(t.Context(), pb, []byte{1}) }, wire.ErrMalformedFrame},
		{"text message", func() error { return swarm.SendTextForTest(pb, "hello") }, swarm.ErrTextMessage},
		{"data for another room", func() error {
			return swarm.SendRawForTest(t.Context(), pb, frame(otherToken, chunk("chat", wire.FlagLast, []byte("x"))))
		}, swarm.ErrUnknownRoomToken},
		{"truncated chunk", func() error { return swarm.SendRawForTest(t.Context(), pb, frame(token, []byte("short"))) }, wire.ErrMalformedChunk},
		{"JSON that is not JSON", func() error {
			return swarm.SendRawForTest(t.Context(), pb, frame(token, chunk("chat", wire.FlagLast|wire.FlagJSON, []byte("{nope"))))
		}, wire.ErrInvalidPayload},
		{"message over the receiver's limit", func() error {
			return pb.Send(t.Context(), swarm.BinaryMessage("chat", make([]byte, 48<<10)))
		}, swarm.ErrMessageTooLarge},
		{"presence for another room is fine", func() error { return swarm.SendRawForTest(t.Context(), pb, presenceOther) }, nil},
	}
	for _, tc := range tests {
		if err := tc.send(); err != nil {
			t.Fatalf("%s: send: %v", tc.name, err)
		}
		// A normal message after each bad one proves the room still works
		// and orders the checks.
		if err := pb.Send(t.Context(), swarm.StringMessage("chat", tc.name)); err != nil {
			t.Fatalf("%s: Send: %v", tc.name, err)
		}
		got := b.waitMessage(t)
		if string(got.msg.Payload) != tc.name {
			t.Fatalf("%s: got message %q", tc.name, got.msg.Payload)
		}
		select {
		case err := <-b.violations:
			if tc.want == nil || !errors.Is(err, tc.want) {
				t.Fatalf("%s: violation %v, want %v", tc.name, err, tc.want)
			}
		default:
			if tc.want != nil {
				t.Fatalf("%s: no violation reported, want %v", tc.name, tc.want)
			}
		}
	}
	if st := b.room.Peers()[0].Stats(); st.Violations != uint64(len(tests)-1) {
		t.Fatalf("violations counted: %d, want %d", st.Violations, len(tests)-1)
	}
}

func TestDormantRoomAnnouncesPassivelyAndStillAnswers(t *testing.T) {
	tr := startTracker(t)
	cfgA := testConfig(t, tr.URL(), roomName(t))
	cfgA.DormantAfterPeers = 1
	a := newTestPeer(t, cfgA, "chat")
	b := newTestPeer(t, testConfig(t, tr.URL(), roomName(t)), "chat")
	a.waitJoin(t)
	b.waitJoin(t)

	// One active peer makes a dormant: its next announce is passive
	// (left=0, no offers), which the tracker counts as a seeder.
	testwait.ForState(t, "a to go dormant", 10*time.Second, func() bool {
		return a.room.Trackers()[0].Phase == swarm.PhaseDormant && tr.Stats().Seeders == 1
	}, func() string { return fmt.Sprintf("status %+v, tracker %+v", a.room.Trackers()[0], tr.Stats()) })

	// A newcomer still gets in: a dormant room has no offers of its own, so
	// it answers every offer whatever the ids.
	c := newTestPeer(t, testConfig(t, tr.URL(), roomName(t)), "chat")
	seen := map[string]bool{}
	for range 2 {
		seen[c.waitJoin(t).ID()] = true
	}
	if !seen[a.room.SelfID()] || !seen[b.room.SelfID()] {
		t.Fatalf("c joined %v, want a and b", seen)
	}
	if p := a.waitJoin(t); p.ID() != c.room.SelfID() {
		t.Fatalf("a saw %s join, want c", p.ID())
	}
}

// TestUnvouchedPeersDoNotSilenceTheRoom is the attack of connections that
// open and never get past the application's handshake: with
// DormantNeedsVouch they do not make the room dormant (which would stop its
// offers and keep it from meeting honest peers); once the application
// vouches for a peer, it counts.
func TestUnvouchedPeersDoNotSilenceTheRoom(t *testing.T) {
	tr := startTracker(t)
	cfgA := testConfig(t, tr.URL(), roomName(t))
	cfgA.DormantAfterPeers, cfgA.DormantNeedsVouch = 1, true
	a := newTestPeer(t, cfgA, "chat")
	b := newTestPeer(t, testConfig(t, tr.URL(), roomName(t)), "chat")
	p := a.waitJoin(t)
	b.waitJoin(t)
	time.Sleep(500 * time.Millisecond) // announces go on
	if st := a.room.Trackers()[0]; st.Phase == swarm.PhaseDormant {
		t.Fatalf("an unvouched peer made the room dormant: %+v", st)
	}
	p.Vouch()
	testwait.ForState(t, "a vouched peer to make the room dormant", 10*time.Second, func() bool {
		return a.room.Trackers()[0].Phase == swarm.PhaseDormant
	}, func() string { return fmt.Sprintf("%+v", a.room.Trackers()[0]) })
}
