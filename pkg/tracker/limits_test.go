//go:build !js

package tracker

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/internal/trackerclient"
	"github.com/peersetdb/peerset/pkg/wire"
)

// fakeClock is a Server.now that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_800_000_000, 0)} }

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// startTrackerWithClock is startTracker with a fake clock for the buckets
// and idle memberships.
func startTrackerWithClock(t *testing.T, cfg Config) (*testTracker, *fakeClock) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	clock := newFakeClock()
	srv := New(cfg)
	srv.now = clock.now
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
	})
	return &testTracker{srv: srv, http: hs, url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/announce"}, clock
}

// dialFrom dials the tracker from a local loopback address of the 127/8
// block, so that tests can be several clients to the per-address cap.
func (tt *testTracker) dialFrom(t *testing.T, name, localIP string) (*client, int, error) {
	t.Helper()
	return trackerclient.DialFrom(testContext(t), t, tt.url, name, peerID(name), localIP)
}

func TestConnectionCaps(t *testing.T) {
	tests := []struct {
		name       string
		cfg        Config
		from       []string // local addresses of the connections that fit
		refused    string   // then a connection from here is refused ...
		wantStatus int      // ... with this status
		other      string   // and one from here still gets in ("" : none does)
	}{
		{
			name:       "global cap",
			cfg:        Config{MaxConns: 3, MaxConnsPerIP: -1},
			from:       []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"},
			refused:    "127.0.0.4",
			wantStatus: http.StatusServiceUnavailable,
		},
		{
			name:       "per-address cap",
			cfg:        Config{MaxConnsPerIP: 2},
			from:       []string{"127.0.0.1", "127.0.0.1"},
			refused:    "127.0.0.1",
			wantStatus: http.StatusTooManyRequests,
			other:      "127.0.0.2",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tt := startTracker(t, tc.cfg)
			var open []*client
			for i, ip := range tc.from {
				c, status, err := tt.dialFrom(t, fmt.Sprintf("c%d", i), ip)
				if err != nil {
					t.Fatalf("connection %d from %s refused (%d): %v", i, ip, status, err)
				}
				c.Announce(hashA, nil)
				open = append(open, c)
			}
			_, status, err := tt.dialFrom(t, "over", tc.refused)
			if err == nil || status != tc.wantStatus {
				t.Fatalf("connection past the cap: status %d, err %v; want a refused upgrade with %d", status, err, tc.wantStatus)
			}
			if tc.other != "" {
				c, status, err := tt.dialFrom(t, "other", tc.other)
				if err != nil {
					t.Fatalf("connection from another address refused (%d): %v", status, err)
				}
				c.Announce(hashA, nil)
			}
			// Those connected are still served; a closed one frees its slot.
			open[0].Announce(hashB, nil)
			_ = open[0].WS.Close(websocket.StatusNormalClosure, "")
			waitForStats(t, tt, func(s Stats) bool { return s.Connections == len(open)-1+boolInt(tc.other != "") })
			if _, status, err := tt.dialFrom(t, "again", tc.refused); err != nil {
				t.Fatalf("connection after one closed refused (%d): %v", status, err)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// The attack of the review (M6): one client opens sockets until a swarm is
// full, and honest peers are locked out of the room. With the per-address
// cap the attacker's sockets stop well short of filling the swarm; without
// it (the old tracker) the honest peer gets "swarm is full".
func TestSwarmFloodFromOneAddressDoesNotLockOutHonestPeers(t *testing.T) {
	tests := []struct {
		name        string
		perIP       int
		honestJoins bool
	}{
		{"per-address cap", 4, true},
		{"no per-address cap (the attack works)", -1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tt := startTracker(t, Config{MaxPeersPerSwarm: 8, MaxConnsPerIP: tc.perIP})
			attackers := 0
			for i := range 20 { // the attacker: as many sockets as it gets
				c, status, err := tt.dialFrom(t, fmt.Sprintf("x%d", i), "127.0.0.1")
				if err != nil {
					if status != http.StatusTooManyRequests {
						t.Fatalf("attacker socket %d: status %d, %v", i, status, err)
					}
					break
				}
				c.Send(wire.NewOfferAnnounce(hashA, c.ID, nil))
				if _, ok := c.Recv().(*wire.AnnounceReply); ok {
					attackers++
				}
			}
			honest, status, err := tt.dialFrom(t, "honest", "127.0.0.2")
			if err != nil {
				t.Fatalf("honest peer refused (%d): %v", status, err)
			}
			honest.Send(wire.NewOfferAnnounce(hashA, honest.ID, nil))
			switch m := honest.Recv().(type) {
			case *wire.AnnounceReply:
				if !tc.honestJoins {
					t.Fatalf("honest peer joined beside %d attacker sockets; the unprotected case should reproduce the lock-out", attackers)
				}
				if m.Incomplete != attackers+1 {
					t.Errorf("reply %+v, want %d incomplete", m, attackers+1)
				}
			case *wire.TrackerFailure:
				if tc.honestJoins || m.FailureReason != reasonSwarmFull {
					t.Fatalf("honest peer refused with %q after %d attacker sockets", m.FailureReason, attackers)
				}
			default:
				t.Fatalf("honest peer got %T %+v", m, m)
			}
			t.Logf("attacker sockets in the swarm: %d of 8", attackers)
		})
	}
}

// Sockets that joined a swarm and went silent hold their places only until
// MemberIdleTimeout: a full swarm of them lets a new peer in, while members
// that keep announcing stay.
func TestIdleMembersMakeRoomInAFullSwarm(t *testing.T) {
	tests := []struct {
		name        string
		wait        time.Duration
		honestJoins bool
	}{
		{"members idle past the timeout", 61 * time.Second, true},
		{"members idle less than the timeout", 59 * time.Second, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tt, clock := startTrackerWithClock(t, Config{MaxPeersPerSwarm: 3, MemberIdleTimeout: time.Minute})
			x, y, z := tt.dial(t, "x"), tt.dial(t, "y"), tt.dial(t, "z")
			for _, c := range []*client{x, y, z} {
				c.Announce(hashA, nil)
			}
			clock.advance(30 * time.Second)
			x.Announce(hashA, nil) // x keeps announcing; y and z went silent
			clock.advance(tc.wait - 30*time.Second)
			honest := tt.dial(t, "honest")
			honest.Send(wire.NewOfferAnnounce(hashA, honest.ID, nil))
			m := honest.Recv()
			if !tc.honestJoins {
				if f, ok := m.(*wire.TrackerFailure); !ok || f.FailureReason != reasonSwarmFull {
					t.Fatalf("got %T %+v, want %q", m, m, reasonSwarmFull)
				}
				return
			}
			if r, ok := m.(*wire.AnnounceReply); !ok || r.Incomplete != 2 {
				t.Fatalf("got %T %+v, want a reply counting x and the new peer", m, m)
			}
			if st := tt.srv.Stats(); st.Peers != 2 || st.Connections != 4 {
				t.Errorf("stats %+v, want 2 peers on 4 open connections", st)
			}
			// An idle member that announces again simply rejoins.
			if r := y.Announce(hashA, nil); r.Incomplete != 3 {
				t.Errorf("y's reply %+v, want 3 incomplete", r)
			}
		})
	}
}

func TestMessageRateLimit(t *testing.T) {
	tt, clock := startTrackerWithClock(t, Config{AnnounceRate: 1, AnnounceBurst: 3})
	c := tt.dial(t, "c")
	for range 3 {
		c.Announce(hashA, nil)
	}
	c.Send(wire.NewOfferAnnounce(hashA, c.ID, nil))
	if f := trackerclient.RecvAs[*wire.TrackerFailure](c); f.FailureReason != reasonRateLimited {
		t.Fatalf("failure %q, want %q", f.FailureReason, reasonRateLimited)
	}
	// More in the same second are dropped without another failure.
	c.Send(wire.NewOfferAnnounce(hashB, c.ID, nil))
	c.SendRaw([]byte("garbage"))
	testwait.For(t, "the tracker to drop both", 5*time.Second, func() bool { return tt.srv.rateDropped.Load() == 3 })
	clock.advance(time.Second) // one token
	if r := c.Announce(hashC, nil); r.InfoHash != hashC {
		t.Fatalf("reply %+v", r)
	}
	if st := tt.srv.Stats(); st.Swarms != 2 || st.Peers != 2 {
		t.Errorf("stats %+v, want hashA and hashC only: the dropped announce to hashB must not have joined", st)
	}
	// Other connections have buckets of their own.
	tt.dial(t, "other").Announce(hashA, nil)
}

// A client that never reads while offers for it pile up is cut off once
// SendQueueBytes are queued, however many messages that is.
func TestSendQueueIsBoundedInBytes(t *testing.T) {
	tt := startTracker(t, Config{
		SendQueueLen: 1 << 20, SendQueueBytes: 64 << 10, WriteTimeout: time.Hour,
		AnnounceRate: 1e6, AnnounceBurst: 1e6, MaxMessageBytes: 64 << 10,
	})
	victim, sender := tt.dial(t, "victim"), tt.dial(t, "sender")
	victim.Announce(hashA, nil) // and then never reads again
	sdp := strings.Repeat("s", 32<<10)
	for i := 0; ; i++ {
		if i == 4000 { // 128 MiB: far past any socket buffer
			t.Fatalf("victim still connected after %d offers of %d bytes: %+v", i, len(sdp), tt.srv.Stats())
		}
		o := []wire.TrackerOffer{{OfferID: offerID(i), Offer: wire.SessionDescription{Type: "offer", SDP: sdp}}}
		sender.Send(wire.NewOfferAnnounce(hashA, sender.ID, o))
		trackerclient.RecvAs[*wire.AnnounceReply](sender)
		if tt.srv.Stats().Connections == 1 {
			t.Logf("victim cut off after %d offers of %d bytes", i+1, len(sdp))
			return
		}
	}
}

// A client that reconnects after its old connection died without a close
// gets its peer_id back as soon as the tracker notices: asking for a held
// peer_id pings the holder at once.
func TestDeadHolderIsProbedAndItsPeerIDFreed(t *testing.T) {
	tt := startTracker(t, Config{PingInterval: time.Hour, PingTimeout: 200 * time.Millisecond})
	old := tt.dial(t, "a")
	old.Announce(hashA, nil) // then it never reads: pings go unanswered
	fresh := tt.dial(t, "a")
	fresh.Send(wire.NewOfferAnnounce(hashA, fresh.ID, nil))
	if f := trackerclient.RecvAs[*wire.TrackerFailure](fresh); f.FailureReason != reasonPeerIDTaken {
		t.Fatalf("failure %q, want %q", f.FailureReason, reasonPeerIDTaken)
	}
	waitForStats(t, tt, func(s Stats) bool { return s.Connections == 1 && s.Peers == 0 })
	if r := fresh.Announce(hashA, nil); r.Incomplete != 1 {
		t.Fatalf("reply %+v after the dead holder left", r)
	}
}

func TestIPKey(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"127.0.0.1:1234", "127.0.0.1"},
		{"[::ffff:10.0.0.1]:80", "10.0.0.1"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"not an address", "not an address"},
	}
	for _, tc := range tests {
		if got := ipKey(tc.addr); got != tc.want {
			t.Errorf("ipKey(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// A socket that joins nothing and says nothing holds a connection slot only
// until the idle timeout; one that keeps announcing stays.
func TestSilentConnectionsAreClosed(t *testing.T) {
	tt, clock := startTrackerWithClock(t, Config{PingInterval: 10 * time.Millisecond, MemberIdleTimeout: time.Minute})
	silent, talker := tt.dial(t, "silent"), tt.dial(t, "talker")
	// The server registers a connection (and starts its silence clock) a
	// moment after the client's handshake: wait for both before moving time.
	waitForStats(t, tt, func(s Stats) bool { return s.Connections == 2 })
	talker.Announce(hashA, nil)
	clock.advance(40 * time.Second)
	talker.Announce(hashA, nil)
	clock.advance(30 * time.Second) // silent: 70 s; talker: 30 s
	waitForStats(t, tt, func(s Stats) bool { return s.Connections == 1 })
	if _, _, err := silent.WS.Read(silent.Ctx); err == nil {
		t.Error("the silent socket is still open")
	}
	if r := talker.Announce(hashA, nil); r.Incomplete != 1 {
		t.Errorf("talker's reply %+v", r)
	}
}
