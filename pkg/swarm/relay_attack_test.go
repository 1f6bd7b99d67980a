//go:build !js

// Attacks by a hostile Nostr relay on a room's relay signalling (the
// hostile relays are written here and served on loopback; honest peers use
// the real pkg/nostrrelay relay).
package swarm_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/nostrsignal"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/wire"
)

// announcingRelay serves a relay that, once subscribed, sends the room a root
// announcement from each id next() returns (nil: none) every period,
// signed with its own key, and swallows everything it is sent, counting the
// offers. It returns its URL and the count of offers swallowed.
func announcingRelay(t *testing.T, appID, room string, period time.Duration, next func() string) (string, *atomic.Int64) {
	t.Helper()
	key, err := record.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	root := nostrsignal.RootTopic(appID, room)
	var offers atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c, err := websocket.Accept(w, req, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := req.Context()
		var sub string
		for sub == "" {
			_, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			var msg []json.RawMessage
			if json.Unmarshal(data, &msg) == nil && len(msg) >= 3 && string(msg[0]) == `"REQ"` {
				_ = json.Unmarshal(msg[1], &sub)
			}
		}
		go func() {
			for {
				_, d, err := c.Read(ctx)
				if err != nil {
					return
				}
				if strings.Contains(string(d), `offer`) {
					offers.Add(1)
				}
			}
		}()
		tk := time.NewTicker(period)
		defer tk.Stop()
		for {
			if id := next(); id != "" {
				ev, err := nostrsignal.NewEvent(key, root, `{"peerId":"`+id+`"}`, time.Now().Unix())
				if err != nil {
					return
				}
				msg := string(append(ev.AppendJSON([]byte(`["EVENT",`+mustJSON(sub)+`,`)), ']'))
				if c.Write(ctx, websocket.MessageText, []byte(msg)) != nil {
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), &offers
}

// waitJoinOf waits up to within for tp to join a peer with the given id.
func waitJoinOf(t *testing.T, tp *testPeer, id string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case p := <-tp.joins:
			if p.ID() == id {
				return
			}
		case <-deadline:
			t.Fatalf("%s did not join %s within %v; relays %+v", tp.room.SelfID(), id, within, tp.room.Relays())
		}
	}
}

// TestRelayForgedAnnouncementDoesNotLockOutPeer: a hostile relay forges the
// announcement of an honest peer H every 250 ms and swallows our offers;
// our offers also go through the honest relay, and we connect to H there.
func TestRelayForgedAnnouncementDoesNotLockOutPeer(t *testing.T) {
	name := roomName(t)
	honest := startRelay(t)
	victimID := "0" + randomID(19) // the smaller id: the victim offers
	hID := "z" + randomID(19)
	hostile, swallowed := announcingRelay(t, "peerset-test", name, 250*time.Millisecond, func() string { return hID })
	cfg := relayConfig(t, name, hostile, honest)
	cfg.PeerID = victimID
	victim := newTestPeer(t, cfg, "chat")
	// The attack is on: the victim offered to the forged H, and the hostile
	// relay swallowed it.
	testwait.For(t, "an offer to the forged peer", 10*time.Second, func() bool { return swallowed.Load() > 0 })

	hcfg := relayConfig(t, name, honest)
	hcfg.PeerID = hID
	_ = newTestPeer(t, hcfg, "chat")
	waitJoinOf(t, victim, hID, 20*time.Second)
}

// TestRelayAnnouncementFloodKeepsHonestPeer: a relay sends about 100
// announcements of invented peers a second for the whole test; it spends
// only its own reply budget (relayNewRate a second, bursts of
// relayNewBurst), and an honest peer on another relay still joins.
func TestRelayAnnouncementFloodKeepsHonestPeer(t *testing.T) {
	for _, prefix := range []string{"z", "0"} { // we offer to the invented peers; they would offer to us
		t.Run("prefix="+prefix, func(t *testing.T) {
			name := roomName(t)
			honest := startRelay(t)
			hostile, offers := announcingRelay(t, "peerset-test", name, 10*time.Millisecond, func() string { return prefix + randomID(19) })
			cfg := relayConfig(t, name, hostile, honest)
			cfg.PeerID = "1" + randomID(19)
			victim := newTestPeer(t, cfg, "chat")
			start := time.Now()
			received := func() uint64 {
				for _, s := range victim.room.Relays() {
					if s.URL == hostile {
						return s.Received
					}
				}
				return 0
			}
			testwait.For(t, "the flood to be under way", 10*time.Second, func() bool { return received() >= 200 })

			hcfg := relayConfig(t, name, honest)
			hcfg.PeerID = "y" + randomID(19) // above the victim: the victim offers
			h := newTestPeer(t, hcfg, "chat")
			waitJoinOf(t, victim, h.room.SelfID(), 20*time.Second)
			// The flood cost at most the hostile relay's budget for new
			// peers (8 at once, 2 a second), and our offer to h.
			elapsed := time.Since(start).Seconds()
			if limit := 8 + 2*elapsed + 2; prefix == "z" && float64(offers.Load()) > limit {
				t.Fatalf("%d offers made to invented peers in %.1f s, want at most %.0f", offers.Load(), elapsed, limit)
			}
			t.Logf("%d announcements received from the hostile relay, %d offers to it, in %.1f s", received(), offers.Load(), elapsed)
		})
	}
}

// pushRelay serves a relay that, once subscribed, sends each content
// pushed on the channel as an event on the peer topic of victim (signed
// with its own key), and reads and ignores what it is sent.
func pushRelay(t *testing.T, appID, room, victim string) (string, chan<- string) {
	t.Helper()
	key, err := record.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	topic := nostrsignal.PeerTopic(appID, room, victim)
	ch := make(chan string, 4096)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c, err := websocket.Accept(w, req, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := req.Context()
		var sub string
		for sub == "" {
			_, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			var msg []json.RawMessage
			if json.Unmarshal(data, &msg) == nil && len(msg) >= 3 && string(msg[0]) == `"REQ"` {
				_ = json.Unmarshal(msg[1], &sub)
			}
		}
		go func() {
			for {
				if _, _, err := c.Read(ctx); err != nil {
					return
				}
			}
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case content := <-ch:
				ev, err := nostrsignal.NewEvent(key, topic, content, time.Now().Unix())
				if err != nil {
					return
				}
				msg := string(append(ev.AppendJSON([]byte(`["EVENT",`+mustJSON(sub)+`,`)), ']'))
				if c.Write(ctx, websocket.MessageText, []byte(msg)) != nil {
					return
				}
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), ch
}

func relayStatus(r *swarm.Room, url string) swarm.RelayStatus {
	for _, s := range r.Relays() {
		if s.URL == url {
			return s
		}
	}
	return swarm.RelayStatus{}
}

// TestRelayCandidatesAfterOpenAreRefused: a relay injects 1,000 trickled
// candidates (sealed with the room's key, for the right offer id) into a
// connection that is open: none is applied, each is counted as dropped,
// and the connection stays up.
func TestRelayCandidatesAfterOpenAreRefused(t *testing.T) {
	const n = 1000
	name := roomName(t)
	honest := startRelay(t)
	victimID := "0" + randomID(19)
	hostile, push := pushRelay(t, "peerset-test", name, victimID)
	cfg := relayConfig(t, name, honest, hostile)
	cfg.PeerID = victimID
	victim := newTestPeer(t, cfg, "chat")
	b := newTestPeer(t, relayConfig(t, name, honest), "chat")
	p := victim.waitJoin(t)
	b.waitJoin(t)
	offerID := swarm.PeerOfferIDForTest(p)
	applied0 := swarm.CandidatesAppliedForTest(victim.room)
	dropped0 := swarm.CandidatesDroppedForTest(victim.room)
	queue0 := swarm.SignalsDroppedForTest(victim.room)
	st0 := relayStatus(victim.room, hostile)

	key := wire.SDPKey("", "peerset-test", name) // no password: anyone can seal
	for i := range n {
		c := fmt.Sprintf(`{"candidate":"candidate:%d 1 udp 2122260223 127.0.0.%d %d typ host","sdpMid":"0"}`, i, 1+i%250, 1024+i)
		if i%2 == 1 {
			c = fmt.Sprintf(`{"candidate":"candidate:%d 1 udp 2122260223 %s.local %d typ host","sdpMid":"0"}`, i, randomID(12), 1024+i)
		}
		sealed, err := wire.SealSDP(key, c)
		if err != nil {
			t.Fatal(err)
		}
		push <- `{"peerId":"` + p.ID() + `","offerId":"` + offerID + `","candidate":"` + sealed + `"}`
	}
	// Every candidate the client delivered was refused or dropped as the
	// signal queue was full; the client may have refused some itself.
	testwait.ForState(t, "every injected candidate to be handled", 20*time.Second, func() bool {
		st := relayStatus(victim.room, hostile)
		if st.Received+st.Dropped-st0.Received-st0.Dropped < n {
			return false
		}
		handled := swarm.CandidatesDroppedForTest(victim.room) - dropped0 + swarm.SignalsDroppedForTest(victim.room) - queue0 +
			swarm.CandidatesAppliedForTest(victim.room) - applied0
		return handled >= st.Received-st0.Received
	}, func() string {
		return fmt.Sprintf("status %+v, %d dropped, %d applied", relayStatus(victim.room, hostile),
			swarm.CandidatesDroppedForTest(victim.room)-dropped0, swarm.CandidatesAppliedForTest(victim.room)-applied0)
	})
	if applied := swarm.CandidatesAppliedForTest(victim.room) - applied0; applied != 0 {
		t.Fatalf("%d candidates applied to an open connection, want 0", applied)
	}
	// The client verifies 100 at once, then 50 a second: at least those
	// reached the room and were refused there.
	if dropped := swarm.CandidatesDroppedForTest(victim.room) - dropped0; dropped < 100 {
		t.Fatalf("%d injected candidates refused by the room, want at least 100", dropped)
	}
	if st := p.State(); st != swarm.PeerActive {
		t.Fatalf("the connection is %v after the injection", st)
	}
}
