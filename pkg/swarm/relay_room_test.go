//go:build !js

// Rooms signalling through Nostr relays: real pion peers over loopback, a
// real pkg/nostrrelay relay on 127.0.0.1 (and a hostile one written here).
package swarm_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/nostrrelay"
	"github.com/peersetdb/peerset/pkg/nostrsignal"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/wire"
)

// startRelay serves a pkg/nostrrelay relay on loopback and returns its
// ws:// URL.
func startRelay(t testing.TB) string {
	t.Helper()
	r := nostrrelay.New(nostrrelay.Config{})
	srv := httptest.NewServer(r)
	t.Cleanup(func() {
		srv.Close()
		_ = r.Close()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// relayConfig is testConfig with relays and no tracker.
func relayConfig(t testing.TB, room string, relays ...string) swarm.Config {
	cfg := testConfig(t, "", room)
	cfg.Trackers = nil
	cfg.Relays = relays
	return cfg
}

func TestRelayOnlyRoomsConnectAndExchange(t *testing.T) {
	relay := startRelay(t)
	a := newTestPeer(t, relayConfig(t, roomName(t), relay), "chat", "blob")
	b := newTestPeer(t, relayConfig(t, roomName(t), relay), "chat", "blob")
	if n := len(a.room.Trackers()); n != 0 {
		t.Fatalf("a relay-only room has %d trackers", n)
	}
	pb := a.waitJoin(t)
	pa := b.waitJoin(t)
	if pb.ID() != b.room.SelfID() || pa.ID() != a.room.SelfID() {
		t.Fatalf("peer ids: a sees %s, b sees %s", pb.ID(), pa.ID())
	}
	// The DTLS fingerprints of the sealed SDPs are bound to the peers, as
	// on the tracker path.
	if pb.LocalFingerprint() == "" || pb.LocalFingerprint() != pa.RemoteFingerprint() || pb.RemoteFingerprint() != pa.LocalFingerprint() {
		t.Fatalf("fingerprints do not match: a %q/%q, b %q/%q", pb.LocalFingerprint(), pb.RemoteFingerprint(), pa.LocalFingerprint(), pa.RemoteFingerprint())
	}
	exchange(t, pb, b, a.room.SelfID())
	exchange(t, pa, a, b.room.SelfID())
	st := a.room.Relays()
	if len(st) != 1 || st[0].URL != relay || st[0].State != swarm.RelayOpen || st[0].Announces == 0 || st[0].Received == 0 {
		t.Fatalf("a.Relays() = %+v", st)
	}
	if offers, offering, _ := swarm.RelayQueuesForTest(a.room); offers != 0 || offering != 0 {
		// The one offer was answered (whichever side made it).
		offersB, _, _ := swarm.RelayQueuesForTest(b.room)
		if offers+offersB != 0 {
			t.Fatalf("offers left after connecting: a %d (+%d being made), b %d", offers, offering, offersB)
		}
	}
	if err := b.room.Close(); err != nil {
		t.Fatal(err)
	}
	if ev := a.waitLeave(t, 5*time.Second); ev.peer != b.room.SelfID() {
		t.Fatalf("leave = %+v", ev)
	}
}

// TestRelayPeersAndTrackerPeersShareOneRoom: a room with both a tracker and
// a relay meets a tracker-only peer and a relay-only peer; both are peers of
// its one room (same Peers, same Broadcast).
func TestRelayPeersAndTrackerPeersShareOneRoom(t *testing.T) {
	tr := startTracker(t)
	relay := startRelay(t)
	name := roomName(t)
	bothCfg := testConfig(t, tr.URL(), name)
	bothCfg.Relays = []string{relay}
	both := newTestPeer(t, bothCfg, "chat")
	viaTracker := newTestPeer(t, testConfig(t, tr.URL(), name), "chat")
	viaRelay := newTestPeer(t, relayConfig(t, name, relay), "chat")

	viaTracker.waitJoin(t)
	viaRelay.waitJoin(t)
	testwait.ForState(t, "both peers in the bridging room", joinTimeout, func() bool {
		return len(both.room.Peers()) == 2
	}, func() string { return fmt.Sprintf("%d peers", len(both.room.Peers())) })
	if len(both.room.Trackers()) != 1 || len(both.room.Relays()) != 1 {
		t.Fatalf("trackers %+v, relays %+v", both.room.Trackers(), both.room.Relays())
	}
	if err := both.room.Broadcast(t.Context(), swarm.StringMessage("chat", "to everyone")); err != nil {
		t.Fatal(err)
	}
	for _, tp := range []*testPeer{viaTracker, viaRelay} {
		m := tp.waitMessage(t)
		if m.from != both.room.SelfID() || string(m.msg.Payload) != "to everyone" {
			t.Fatalf("%s got %+v", tp.room.SelfID(), m)
		}
	}
}

// hostileRelay answers a client's REQ with a flood, then keeps the
// connection open: garbage, events with bad signatures, validly signed
// announcements from invented peers (whose ids are all above the victim's,
// so that the victim offers to each) and candidates for offers that do not
// exist, sealed with the room's key, on the victim's own topic.
func hostileRelay(t *testing.T, appID, room, victimID string, fakes int) (url string, sent func() int) {
	t.Helper()
	key, err := record.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cand, err := wire.SealSDP(wire.SDPKey("", appID, room), `{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0"}`)
	if err != nil {
		t.Fatal(err)
	}
	rootTopic := nostrsignal.RootTopic(appID, room)
	victimTopic := nostrsignal.PeerTopic(appID, room, victimID)
	var mu sync.Mutex
	count := 0
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
		go func() { // drain what the victim sends (offers, announcements)
			for {
				if _, _, err := c.Read(ctx); err != nil {
					return
				}
			}
		}()
		send := func(s string) bool {
			if c.Write(ctx, websocket.MessageText, []byte(s)) != nil {
				return false
			}
			mu.Lock()
			count++
			mu.Unlock()
			return true
		}
		event := func(topic, content string) string {
			ev, err := nostrsignal.NewEvent(key, topic, content, time.Now().Unix())
			if err != nil {
				t.Error(err)
				return ""
			}
			return string(append(ev.AppendJSON([]byte(`["EVENT",`+mustJSON(sub)+`,`)), ']'))
		}
		garbage := []string{`not json`, `[]`, `["EVENT"]`, `["EVENT",` + mustJSON(sub) + `,{"kind":"x"}]`, `["OK",1,2,3]`, `{"a":1}`, strings.Repeat("[", 5000)}
		for i := range fakes {
			peer := "z" + randomID(19)
			var msg string
			switch i % 4 {
			case 0:
				msg = event(rootTopic, `{"peerId":"`+peer+`"}`)
			case 1:
				msg = garbage[i/4%len(garbage)]
			case 2: // the id no longer matches the content
				msg = strings.Replace(event(rootTopic, `{"peerId":"`+peer+`"}`), `{\"peerId`, `{ \"peerId`, 1)
			case 3:
				msg = event(victimTopic, `{"peerId":"`+peer+`","offerId":"`+randomID(12)+`","candidate":"`+cand+`"}`)
			}
			if !send(msg) {
				return
			}
		}
		<-ctx.Done()
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), func() int {
		mu.Lock()
		defer mu.Unlock()
		return count
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func randomID(n int) string {
	const alphabet = "0123456789AaBbCcDdEeFfGgHhIiJjKkLlMmNnOoPpQqRrSsTtUuVvWwXxYyZz"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rand.N(len(alphabet))]
	}
	return string(b)
}

// TestHostileRelayIsBounded: a relay that floods a room with garbage and
// with announcements of invented peers gets its garbage dropped and costs
// the room at most maxRelayOffers offers; an honest peer on an honest relay
// still joins.
func TestHostileRelayIsBounded(t *testing.T) {
	const fakes = 400
	name := roomName(t)
	honest := startRelay(t)
	victimID := "0" + randomID(19) // below every invented peer: it offers to them
	hostile, sent := hostileRelay(t, "peerset-test", name, victimID, fakes)
	cfg := relayConfig(t, name, hostile, honest)
	cfg.PeerID = victimID
	victim := newTestPeer(t, cfg, "chat")
	maxOffers, maxEarly := swarm.RelayLimitsForTest()

	testwait.ForState(t, "the flood to be sent", 20*time.Second, func() bool { return sent() >= fakes }, func() string { return fmt.Sprint(sent(), " messages") })
	worst := 0
	testwait.ForState(t, "the victim to have handled the flood", 20*time.Second, func() bool {
		offers, offering, early := swarm.RelayQueuesForTest(victim.room)
		worst = max(worst, offers)
		if offers > maxOffers || offering > maxOffers || early > maxEarly {
			t.Fatalf("%d relay offers out, %d being made, %d early candidate sets; the bounds are %d and %d", offers, offering, early, maxOffers, maxEarly)
		}
		for _, s := range victim.room.Relays() {
			if s.URL == hostile {
				return s.Received+s.Dropped >= fakes
			}
		}
		return false
	}, func() string { return fmt.Sprintf("%+v", victim.room.Relays()) })
	var hs swarm.RelayStatus
	for _, s := range victim.room.Relays() {
		if s.URL == hostile {
			hs = s
		}
	}
	if hs.Dropped < fakes/2 {
		t.Fatalf("hostile relay: %d messages dropped, want at least %d (garbage and bad signatures)", hs.Dropped, fakes/2)
	}
	t.Logf("hostile relay: %+v; at most %d offers out", hs, worst)

	// An honest peer (above the victim: the victim offers to it) still joins.
	hcfg := relayConfig(t, name, honest)
	hcfg.PeerID = "z" + randomID(19)
	h := newTestPeer(t, hcfg, "chat")
	p := victim.waitJoin(t)
	if p.ID() != h.room.SelfID() {
		t.Fatalf("the victim joined %s, want the honest peer %s", p.ID(), h.room.SelfID())
	}
	h.waitJoin(t)
	if offers, offering, early := swarm.RelayQueuesForTest(victim.room); offers > maxOffers || offering > maxOffers || early > maxEarly {
		t.Fatalf("after the flood: %d offers, %d being made, %d early candidate sets", offers, offering, early)
	}
}

// BenchmarkFirstSession measures signalling: the time from two rooms'
// start until both have their session, through a loopback tracker or a
// loopback Nostr relay (pion on loopback, a fresh tracker or relay and room
// each time). It reports ms/session; the README has the table.
func BenchmarkFirstSession(b *testing.B) {
	for _, via := range []string{"tracker", "relay"} {
		b.Run(via, func(b *testing.B) {
			var total time.Duration
			n := 0
			for b.Loop() {
				room := fmt.Sprintf("%s-%d", roomName(b), n)
				var cfg func() swarm.Config
				if via == "tracker" {
					url := startTracker(b).URL()
					cfg = func() swarm.Config { return testConfig(b, url, room) }
				} else {
					url := startRelay(b)
					cfg = func() swarm.Config { return relayConfig(b, room, url) }
				}
				start := time.Now()
				x := newTestPeer(b, cfg())
				y := newTestPeer(b, cfg())
				x.waitJoin(b)
				y.waitJoin(b)
				total += time.Since(start)
				n++
				_ = x.room.Close()
				_ = y.room.Close()
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(n), "ms/session")
		})
	}
}
