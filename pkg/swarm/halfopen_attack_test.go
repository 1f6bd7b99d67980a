//go:build !js

package swarm_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/wire"
)

// abandonedOfferSDP is a real offer whose peer connection is closed at
// once: an answer to it never completes ICE.
func abandonedOfferSDP(t *testing.T) string {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.CreateDataChannel("data", nil); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	sdp := pc.LocalDescription().SDP
	if err := pc.Close(); err != nil {
		t.Fatal(err)
	}
	return sdp
}

// TestHalfOpenOfferFloodCannotLockOutHonestPeers is the slot exhaustion of
// the security review (M5): anyone who can seal an offer for the room (every
// room member, or everyone in a room without a password) sends offers with
// fresh peer ids whose connections never complete. Each answered offer used
// to hold one of MaxPeers slots until the connect timeout (23 s), so 32
// offers, kept up at about 1.4 per second, locked honest peers out. Here 32
// such offers arrive, the flood goes on at 2 per second, and 3 s later an
// honest peer joins: it must connect well before the first fake connections
// could have timed out under the old rules.
func TestHalfOpenOfferFloodCannotLockOutHonestPeers(t *testing.T) {
	const within = 15 * time.Second // the old connect timeout was 23.3 s
	tr := startTracker(t)
	room := roomName(t)
	cfgV := testConfig(t, tr.URL(), room)
	cfgV.PeerID = "zzzzVictim0000000000" // above every fake and the honest peer: it answers them
	cfgV.AnnounceSteady = time.Second
	victim := newTestPeer(t, cfgV)

	sdp := abandonedOfferSDP(t)
	i := strings.Index(sdp, "a=ice-ufrag:")
	if i < 0 {
		t.Fatal("no ice-ufrag in the offer")
	}
	fakes := 0
	fake := func() {
		fakes++
		id := fmt.Sprintf("0fake%015d", fakes)
		// Each with its own ufrag: the same SDP under other ids is refused
		// as a replay (TestRelayReplayedOfferSDPRefused).
		fresh := sdp[:i] + fmt.Sprintf("a=ice-ufrag:f%07d\r\na=x-old-", fakes) + sdp[i+2:]
		sealed, err := wire.SealSDP(wire.SDPKey(cfgV.Password, cfgV.AppID, cfgV.Room), fresh)
		if err != nil {
			t.Fatal(err)
		}
		if err := swarm.InjectOfferForTest(victim.room, id, id, sealed); err != nil {
			t.Fatal(err)
		}
	}
	for range swarm.DefaultMaxPeers {
		fake()
	}
	testwait.ForState(t, "the victim to answer 8 fake offers", 10*time.Second, func() bool {
		return swarm.ConnectingPeersForTest(victim.room) >= 8
	}, func() string { return fmt.Sprintf("%d answered", swarm.ConnectingPeersForTest(victim.room)) })
	stop := make(chan struct{})
	flooded := make(chan int) // the most connections seen being set up
	go func() {
		peak := 0
		defer func() { flooded <- peak }()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		sample := time.NewTicker(10 * time.Millisecond)
		defer sample.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				fake()
			case <-sample.C:
				peak = max(peak, swarm.ConnectingPeersForTest(victim.room))
			}
		}
	}()
	defer func() {
		close(stop)
		if peak := <-flooded; peak > swarm.DefaultMaxConnecting {
			t.Errorf("%d connections were being set up at once, cap %d", peak, swarm.DefaultMaxConnecting)
		}
		preempted := 0
		for len(victim.joinErrors) > 0 {
			if je := <-victim.joinErrors; errors.Is(je.err, swarm.ErrConnectPreempted) {
				preempted++
			}
		}
		if preempted == 0 {
			t.Error("no connection being set up was preempted")
		}
	}()

	time.Sleep(3 * time.Second) // the flood goes on before the honest peer comes

	start := time.Now()
	cfgH := testConfig(t, tr.URL(), room)
	cfgH.PeerID = "honest00000000000000"
	cfgH.AnnounceSteady = time.Second
	honest := newTestPeer(t, cfgH)
	select {
	case p := <-honest.joins:
		if p.ID() != cfgV.PeerID {
			t.Fatalf("honest peer joined %s, want the victim", p.ID())
		}
		t.Logf("the honest peer connected after %v, with %d connections being set up at the victim",
			time.Since(start), swarm.ConnectingPeersForTest(victim.room))
	case <-time.After(within):
		t.Fatalf("the honest peer could not connect within %v: the victim has %d connections being set up",
			within, swarm.ConnectingPeersForTest(victim.room))
	}
}

// TestOpenPeersAreNeverDroppedForNewcomers: MaxPeers bounds the open
// connections; a newcomer waits for a free slot and never pushes an open
// peer out.
func TestOpenPeersAreNeverDroppedForNewcomers(t *testing.T) {
	tr := startTracker(t)
	room := roomName(t)
	cfgV := testConfig(t, tr.URL(), room)
	cfgV.MaxPeers = 1
	cfgV.AnnounceSteady = time.Second
	victim := newTestPeer(t, cfgV)
	cfg := testConfig(t, tr.URL(), room)
	cfg.AnnounceSteady = time.Second
	first := newTestPeer(t, cfg)
	if p := victim.waitJoin(t); p.ID() != first.room.SelfID() {
		t.Fatalf("victim joined %s, want the first peer", p.ID())
	}
	second := newTestPeer(t, cfg)
	victim.expectNoJoin(t, 4*time.Second)
	select {
	case ev := <-victim.leaves:
		t.Fatalf("the open peer was dropped for a newcomer: %+v", ev)
	default:
	}
	if n := len(victim.room.Peers()); n != 1 {
		t.Fatalf("victim has %d active peers, MaxPeers 1", n)
	}
	// Once the slot is free, the newcomer gets in.
	if err := first.room.Close(); err != nil {
		t.Fatal(err)
	}
	victim.waitLeave(t, 10*time.Second)
	if p := victim.waitJoin(t); p.ID() != second.room.SelfID() {
		t.Fatalf("victim joined %s, want the second peer", p.ID())
	}
}
