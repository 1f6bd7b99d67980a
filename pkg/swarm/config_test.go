package swarm

// Tests without the network, run natively and under js/wasm.

import (
	"errors"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/wire"
)

func TestConfigDefaults(t *testing.T) {
	c, err := Config{Room: "r"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case c.AppID != DefaultAppID:
		t.Errorf("AppID = %q", c.AppID)
	case len(c.Trackers) != 3 || c.Trackers[0] != "wss://open.ftorrent.com":
		t.Errorf("Trackers = %v", c.Trackers)
	case len(c.ICEServers) != 4:
		t.Errorf("ICEServers = %v", c.ICEServers)
	case !wire.IsValidID(c.PeerID):
		t.Errorf("PeerID = %q", c.PeerID)
	case c.MaxPeers != DefaultMaxPeers || c.MaxMessageBytes != DefaultMaxMessageBytes:
		t.Errorf("limits = %d, %d", c.MaxPeers, c.MaxMessageBytes)
	case len(c.AnnounceWarmup) != 3 || c.AnnounceDormant != DefaultAnnounceDormant || c.DormantAfterPeers != DefaultDormantAfterPeers:
		t.Errorf("announce phases = %v, %v, %d", c.AnnounceWarmup, c.AnnounceDormant, c.DormantAfterPeers)
	case c.MaxConnecting != DefaultMaxConnecting || c.MaxPartialMessages != DefaultMaxPartialMessages || c.MaxPartialBytes != DefaultMaxPartialBytes:
		t.Errorf("limits = %d, %d, %d", c.MaxConnecting, c.MaxPartialMessages, c.MaxPartialBytes)
	case c.HandshakeTimeout != DefaultHandshakeTimeout || c.ConnectTimeout != DefaultConnectTimeout || c.PartialTimeout != DefaultPartialTimeout:
		t.Errorf("timeouts = %v, %v, %v", c.HandshakeTimeout, c.ConnectTimeout, c.PartialTimeout)
	case c.Logger == nil:
		t.Error("no logger")
	}
	// An empty non-nil ICE server list stays empty (host candidates only).
	c, err = Config{Room: "r", ICEServers: []ICEServer{}}.withDefaults()
	if err != nil || len(c.ICEServers) != 0 || c.ICEServers == nil {
		t.Errorf("empty ICEServers became %v (%v)", c.ICEServers, err)
	}
}

// TestConfigSignallers: trackers only is the default; relays only, and both,
// are valid.
func TestConfigSignallers(t *testing.T) {
	tests := []struct {
		name             string
		cfg              Config
		trackers, relays int
	}{
		{"default: trackers only", Config{Room: "r"}, 3, 0},
		{"relays only", Config{Room: "r", Relays: []string{"ws://127.0.0.1:1", "wss://relay.example.org/"}}, 0, 2},
		{"relays, explicitly no trackers", Config{Room: "r", Trackers: []string{}, Relays: []string{"ws://127.0.0.1:1"}}, 0, 1},
		{"both", Config{Room: "r", Trackers: []string{"ws://127.0.0.1:2"}, Relays: []string{"ws://127.0.0.1:1"}}, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.cfg.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Trackers) != tc.trackers || len(c.Relays) != tc.relays {
				t.Errorf("trackers %v, relays %v; want %d and %d", c.Trackers, c.Relays, tc.trackers, tc.relays)
			}
		})
	}
}

func TestConfigRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no room", Config{}},
		{"no trackers", Config{Room: "r", Trackers: []string{}}},
		{"http tracker", Config{Room: "r", Trackers: []string{"http://127.0.0.1:8000"}}},
		{"tracker without host", Config{Room: "r", Trackers: []string{"ws://"}}},
		{"no trackers, empty relays", Config{Room: "r", Trackers: []string{}, Relays: []string{}}},
		{"http relay", Config{Room: "r", Relays: []string{"https://relay.example.org"}}},
		{"relay without host", Config{Room: "r", Relays: []string{"wss://"}}},
		{"relay not a URL", Config{Room: "r", Relays: []string{"relay.example.org"}}},
		{"good relay, bad tracker", Config{Room: "r", Relays: []string{"ws://127.0.0.1:1"}, Trackers: []string{"udp://127.0.0.1:1"}}},
		{"short peer id", Config{Room: "r", PeerID: "abc"}},
		{"non-ASCII peer id", Config{Room: "r", PeerID: "ééééééééééaaaaaaaaaa"[:20]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.cfg.withDefaults(); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func testRoom(t *testing.T, cfg Config) *Room {
	t.Helper()
	if cfg.Room == "" {
		cfg.Room = "r"
	}
	if cfg.Trackers == nil {
		cfg.Trackers = []string{"ws://127.0.0.1:1"}
	}
	r, err := NewRoom(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func TestTrackerBackoffGrowsWithJitterAndCaps(t *testing.T) {
	r := testRoom(t, Config{TrackerReconnectMin: 100 * time.Millisecond, TrackerReconnectMax: time.Second})
	tc := r.trackers[0]
	for attempt := range 12 {
		base := min(100*time.Millisecond<<attempt, time.Second)
		for range 20 {
			d := tc.backoff(attempt)
			if d < base/2 || d > min(base*3/2, time.Second) {
				t.Fatalf("attempt %d: delay %v outside [%v, %v]", attempt, d, base/2, min(base*3/2, time.Second))
			}
		}
	}
}

func TestAnnouncePhases(t *testing.T) {
	r := testRoom(t, Config{DormantAfterPeers: 1})
	tc := r.trackers[0]
	want := []struct {
		d     time.Duration
		phase AnnouncePhase
	}{
		{233 * time.Millisecond, PhaseWarmup},
		{533 * time.Millisecond, PhaseWarmup},
		{1333 * time.Millisecond, PhaseWarmup},
		{10 * time.Second, PhaseSteady},
		{10 * time.Second, PhaseSteady},
	}
	for i, w := range want {
		if d := tc.nextDelay(i); d != w.d || tc.status().Phase != w.phase {
			t.Errorf("announce %d: next in %v (%s), want %v (%s)", i, d, tc.status().Phase, w.d, w.phase)
		}
	}
	// The tracker's interval, clamped to 10–120 s.
	for _, c := range []struct {
		seconds int64
		want    time.Duration
	}{{1, 10 * time.Second}, {30, 30 * time.Second}, {1000, 120 * time.Second}} {
		tc.interval.Store(c.seconds)
		if d := tc.nextDelay(10); d != c.want {
			t.Errorf("interval %ds: next in %v, want %v", c.seconds, d, c.want)
		}
	}
	// Dormant with an active peer.
	p := newPeer(r, "x", false)
	p.state.Store(int32(PeerActive))
	r.mu.Lock()
	r.peers["x"] = p
	r.mu.Unlock()
	if d := tc.nextDelay(0); d != DefaultAnnounceDormant || tc.status().Phase != PhaseDormant {
		t.Errorf("dormant: next in %v (%s)", d, tc.status().Phase)
	}
	r.mu.Lock()
	delete(r.peers, "x")
	r.mu.Unlock()

	// A fixed steady interval overrides the tracker's.
	r2 := testRoom(t, Config{AnnounceSteady: 2 * time.Second, AnnounceWarmup: []time.Duration{}})
	if d := r2.trackers[0].nextDelay(0); d != 2*time.Second {
		t.Errorf("AnnounceSteady: next in %v", d)
	}
}

func TestRoomWithoutNetwork(t *testing.T) {
	r := testRoom(t, Config{})
	if err := r.Handle("@_ping", func(*Peer, ActionMessage) {}); !errors.Is(err, ErrReservedAction) {
		t.Errorf("Handle(@_ping) = %v, want ErrReservedAction", err)
	}
	if err := r.Handle("this-action-type-is-longer-than-32-bytes", func(*Peer, ActionMessage) {}); !errors.Is(err, wire.ErrInvalidActionType) {
		t.Errorf("Handle(long type) = %v, want ErrInvalidActionType", err)
	}
	if err := r.Handle("chat", func(*Peer, ActionMessage) {}); err != nil {
		t.Errorf("Handle(chat) = %v", err)
	}
	if len(r.Peers()) != 0 {
		t.Error("a new room has peers")
	}
	if st := r.Trackers(); len(st) != 1 || st[0].State != TrackerClosed || st[0].URL != "ws://127.0.0.1:1" {
		t.Errorf("Trackers() = %+v", st)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := r.Start(t.Context()); !errors.Is(err, ErrRoomClosed) {
		t.Errorf("Start after Close = %v, want ErrRoomClosed", err)
	}
}
