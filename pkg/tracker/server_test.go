//go:build !js

package tracker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/internal/trackerclient"
	"github.com/peersetdb/peerset/pkg/wire"
)

// Test ids: 20 ASCII characters each.
const (
	hashA = "2c412m6x5k1c2y383j6o" // InfoHash("test-app", "room1")
	hashB = "bbbbbbbbbbbbbbbbbbbb"
	hashC = "cccccccccccccccccccc"
)

func peerID(name string) string { return fmt.Sprintf("%-20s", "peer-"+name)[:20] }
func offerID(n int) string      { return fmt.Sprintf("offer-%014d", n) }

// testTracker is a tracker on a loopback listener.
type testTracker struct {
	srv  *Server
	http *httptest.Server
	url  string
}

func startTracker(t *testing.T, cfg Config) *testTracker {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv := New(cfg)
	hs := httptest.NewServer(srv) // listens on 127.0.0.1
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
	})
	return &testTracker{srv: srv, http: hs, url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/announce"}
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// client is the shared test client (internal/trackerclient).
type client = trackerclient.Client

func (tt *testTracker) dial(t *testing.T, name string) *client {
	t.Helper()
	return trackerclient.Dial(testContext(t), t, tt.url, name, peerID(name))
}

func offers(ids ...int) []wire.TrackerOffer {
	var out []wire.TrackerOffer
	for _, id := range ids {
		out = append(out, wire.TrackerOffer{OfferID: offerID(id), Offer: wire.SessionDescription{Type: wire.SDPTypeOffer, SDP: fmt.Sprintf("sealed-%d", id)}})
	}
	return out
}

func TestTwoPeersOfferReachesTheOther(t *testing.T) {
	tt := startTracker(t, Config{})
	a, b := tt.dial(t, "a"), tt.dial(t, "b")

	if r := a.Announce(hashA, nil); r.Incomplete != 1 || r.Complete != 0 || r.Interval != 10 {
		t.Fatalf("first reply %+v", r)
	}
	if r := b.Announce(hashA, offers(1, 2, 3)); r.Incomplete != 2 {
		t.Fatalf("second reply %+v", r)
	}
	got := trackerclient.RecvAs[*wire.ForwardedOffer](a)
	want := &wire.ForwardedOffer{Action: "announce", Offer: offers(1)[0].Offer, OfferID: offerID(1), PeerID: b.ID, InfoHash: hashA}
	if *got != *want {
		t.Errorf("forwarded %+v, want %+v", got, want)
	}
	// One other peer: only offer 0 is forwarded, and never to the sender.
	a.ExpectQuiet(hashC)
	b.ExpectQuiet(hashC)
}

func TestThreePeersOffersGoToDistinctOthers(t *testing.T) {
	tt := startTracker(t, Config{})
	a, b, c := tt.dial(t, "a"), tt.dial(t, "b"), tt.dial(t, "c")
	a.Announce(hashA, nil)
	b.Announce(hashA, nil)
	for round := range 5 {
		if r := c.Announce(hashA, offers(10*round+1, 10*round+2, 10*round+3)); r.Incomplete != 3 {
			t.Fatalf("reply %+v", r)
		}
		oa, ob := trackerclient.RecvAs[*wire.ForwardedOffer](a), trackerclient.RecvAs[*wire.ForwardedOffer](b)
		if oa.PeerID != c.ID || ob.PeerID != c.ID {
			t.Errorf("offers from %q and %q, want %q", oa.PeerID, ob.PeerID, c.ID)
		}
		ids := []string{oa.OfferID, ob.OfferID}
		slices.Sort(ids)
		// Two others, three offers: offers 0 and 1 go out, one each.
		if want := []string{offerID(10*round + 1), offerID(10*round + 2)}; !slices.Equal(ids, want) {
			t.Errorf("round %d: offer ids %v, want %v", round, ids, want)
		}
	}
	a.ExpectQuiet(hashC)
	b.ExpectQuiet(hashC)
	c.ExpectQuiet(hashC)
}

func TestAnswerReachesOnlyToPeer(t *testing.T) {
	tt := startTracker(t, Config{})
	a, b, c := tt.dial(t, "a"), tt.dial(t, "b"), tt.dial(t, "c")
	a.Announce(hashA, nil)
	b.Announce(hashA, nil)
	c.Announce(hashA, nil)

	answer := wire.SessionDescription{Type: wire.SDPTypeAnswer, SDP: "sealed-answer"}
	c.Send(wire.NewAnswerAnnounce(hashA, c.ID, a.ID, offerID(7), answer))
	got := trackerclient.RecvAs[*wire.ForwardedAnswer](a)
	want := &wire.ForwardedAnswer{Action: "announce", Answer: answer, OfferID: offerID(7), PeerID: c.ID, InfoHash: hashA}
	if *got != *want {
		t.Errorf("forwarded %+v, want %+v", got, want)
	}
	// No reply to an answer, nothing for the bystander.
	a.ExpectQuiet(hashC)
	b.ExpectQuiet(hashC)
	c.ExpectQuiet(hashC)

	// An answer to an unknown peer is dropped silently.
	c.Send(wire.NewAnswerAnnounce(hashA, c.ID, peerID("nobody"), offerID(8), answer))
	c.ExpectQuiet(hashC)
}

func TestSwarmsAreIsolated(t *testing.T) {
	tt := startTracker(t, Config{})
	a, b := tt.dial(t, "a"), tt.dial(t, "b")
	a.Announce(hashA, nil)
	if r := b.Announce(hashB, offers(1, 2)); r.Incomplete != 1 {
		t.Fatalf("reply %+v: b should be alone in its swarm", r)
	}
	// An answer names a peer of another swarm: not forwarded.
	b.Send(wire.NewAnswerAnnounce(hashB, b.ID, a.ID, offerID(1), wire.SessionDescription{Type: "answer", SDP: "x"}))
	a.ExpectQuiet(hashC)
	b.ExpectQuiet(hashC)
	if st := tt.srv.Stats(); st.Swarms != 2 || st.Peers != 2 || st.Connections != 2 {
		t.Errorf("stats %+v", st)
	}
}

func waitForStats(t *testing.T, tt *testTracker, ok func(Stats) bool) Stats {
	t.Helper()
	var st Stats
	testwait.ForState(t, "the tracker's stats to match", 5*time.Second, func() bool {
		st = tt.srv.Stats()
		return ok(st)
	}, func() string { return fmt.Sprintf("last %+v", st) })
	return st
}

func TestClosedSocketRemovesPeer(t *testing.T) {
	tt := startTracker(t, Config{})
	a, b := tt.dial(t, "a"), tt.dial(t, "b")
	a.Announce(hashA, nil)
	a.Announce(hashB, nil)
	if r := b.Announce(hashA, nil); r.Incomplete != 2 {
		t.Fatalf("reply %+v", r)
	}
	if err := a.WS.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	st := waitForStats(t, tt, func(s Stats) bool { return s.Connections == 1 })
	if st.Peers != 1 || st.Swarms != 1 {
		t.Errorf("stats after close %+v, want one peer in one swarm", st)
	}
	if r := b.Announce(hashA, offers(1)); r.Incomplete != 1 {
		t.Errorf("reply %+v after a left", r)
	}
	b.ExpectQuiet(hashC)
}

func TestStoppedEventLeavesSwarm(t *testing.T) {
	tt := startTracker(t, Config{})
	a, b := tt.dial(t, "a"), tt.dial(t, "b")
	a.Announce(hashA, nil)
	b.Announce(hashA, nil)
	a.Send(&wire.AnnounceRequest{Action: "announce", InfoHash: hashA, PeerID: a.ID, Event: "stopped"})
	if r := trackerclient.RecvAs[*wire.AnnounceReply](a); r.Incomplete != 1 {
		t.Errorf("reply to stopped %+v", r)
	}
	b.Announce(hashA, offers(1))
	a.ExpectQuiet(hashC)
}

func TestSeedersAreComplete(t *testing.T) {
	tt := startTracker(t, Config{Interval: 1500 * time.Millisecond})
	a, b := tt.dial(t, "a"), tt.dial(t, "b")
	a.SendRaw([]byte(fmt.Sprintf(`{"action":"announce","info_hash":%q,"peer_id":%q,"left":0,"numwant":3,"offers":[]}`, hashA, a.ID)))
	if r := trackerclient.RecvAs[*wire.AnnounceReply](a); r.Complete != 1 || r.Incomplete != 0 || r.Interval != 2 {
		t.Errorf("passive reply %+v, want complete 1 and interval 2", r)
	}
	if r := b.Announce(hashA, nil); r.Complete != 1 || r.Incomplete != 1 {
		t.Errorf("reply %+v", r)
	}
	if st := tt.srv.Stats(); st.Seeders != 1 {
		t.Errorf("stats %+v", st)
	}
}

// The attack of the security review (M6): B announces A's peer_id from
// another socket to steal the answers meant for A. The tracker must refuse
// B, and C's answer to A must still reach A's socket and never B's.
func TestPeerIDTakeoverIsRefused(t *testing.T) {
	tt := startTracker(t, Config{})
	a, c := tt.dial(t, "a"), tt.dial(t, "c")
	a.Announce(hashA, nil)
	c.Announce(hashA, nil)
	thief := tt.dial(t, "thief")
	thief.ID = a.ID // announces A's peer_id from its own socket
	for _, offerIDs := range [][]int{nil, {1, 2}} {
		thief.Send(wire.NewOfferAnnounce(hashA, thief.ID, offers(offerIDs...)))
		f := trackerclient.RecvAs[*wire.TrackerFailure](thief)
		if f.FailureReason != reasonPeerIDTaken || f.InfoHash != hashA {
			t.Fatalf("thief got %+v, want failure %q for %s", f, reasonPeerIDTaken, hashA)
		}
	}
	// The thief is no member: its offers went nowhere, and the swarm still
	// counts A and C only.
	if r := c.Announce(hashA, nil); r.Incomplete != 2 {
		t.Errorf("reply %+v, want 2 incomplete (a and c)", r)
	}
	answer := wire.SessionDescription{Type: wire.SDPTypeAnswer, SDP: "sealed-answer-for-a"}
	c.Send(wire.NewAnswerAnnounce(hashA, c.ID, a.ID, offerID(9), answer))
	if got := trackerclient.RecvAs[*wire.ForwardedAnswer](a); got.Answer != answer || got.PeerID != c.ID {
		t.Errorf("a got %+v, want c's answer", got)
	}
	a.ExpectQuiet(hashC)
	thief.ExpectQuiet(hashC)
	// A "stopped" from the thief's socket does not remove A either.
	thief.Send(&wire.AnnounceRequest{Action: "announce", InfoHash: hashA, PeerID: a.ID, Event: "stopped"})
	trackerclient.RecvAs[*wire.AnnounceReply](thief)
	if r := c.Announce(hashA, nil); r.Incomplete != 2 {
		t.Errorf("reply %+v after the thief's stopped, want 2 incomplete", r)
	}
	// Once A's socket closes, its peer_id is free again.
	_ = a.WS.Close(websocket.StatusNormalClosure, "")
	waitForStats(t, tt, func(s Stats) bool { return s.Connections == 2 && s.Peers == 1 })
	if r := thief.Announce(hashA, nil); r.Incomplete != 2 {
		t.Errorf("reply %+v to the freed peer_id, want 2 incomplete", r)
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		setup  func(t *testing.T, tt *testTracker)
		send   func(c *client)
		reason string
		// retry is an info_hash the client may still announce to (default hashC).
		retry string
	}{
		{
			name:   "too many offers",
			cfg:    Config{MaxOffersPerAnnounce: 2},
			send:   func(c *client) { c.Send(wire.NewOfferAnnounce(hashA, c.ID, offers(1, 2, 3))) },
			reason: reasonTooManyOffers,
		},
		{
			name: "too many swarms on one connection",
			cfg:  Config{MaxSwarmsPerConn: 2},
			send: func(c *client) {
				c.Announce(hashA, nil)
				c.Announce(hashB, nil)
				c.Send(wire.NewOfferAnnounce("dddddddddddddddddddd", c.ID, nil))
			},
			reason: reasonTooManySwarms,
			retry:  hashA,
		},
		{
			name: "swarm full",
			cfg:  Config{MaxPeersPerSwarm: 2},
			setup: func(t *testing.T, tt *testTracker) {
				tt.dial(t, "x").Announce(hashA, nil)
				tt.dial(t, "y").Announce(hashA, nil)
			},
			send:   func(c *client) { c.Send(wire.NewOfferAnnounce(hashA, c.ID, nil)) },
			reason: reasonSwarmFull,
		},
		{
			name: "message too large",
			cfg:  Config{MaxMessageBytes: 1024},
			send: func(c *client) {
				c.SendRaw([]byte(fmt.Sprintf(`{"action":"announce","info_hash":%q,"peer_id":%q,"pad":%q}`, hashA, c.ID, strings.Repeat("x", 2000))))
			},
			reason: reasonMessageTooLarge,
		},
		{
			name: "second peer_id in one swarm",
			send: func(c *client) {
				c.Announce(hashA, nil)
				c.Send(wire.NewOfferAnnounce(hashA, peerID("other"), nil))
			},
			reason: reasonPeerIDMismatch,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tt := startTracker(t, tc.cfg)
			if tc.setup != nil {
				tc.setup(t, tt)
			}
			bystander := tt.dial(t, "bystander")
			c := tt.dial(t, "c")
			tc.send(c)
			f := trackerclient.RecvAs[*wire.TrackerFailure](c)
			if f.FailureReason != tc.reason {
				t.Errorf("failure reason %q, want %q", f.FailureReason, tc.reason)
			}
			// The same connection and other clients are still served.
			retry := tc.retry
			if retry == "" {
				retry = hashC
			}
			c.Announce(retry, nil)
			bystander.Announce(hashB, nil)
		})
	}
}

func TestHardMessageLimitClosesOnlyThatConnection(t *testing.T) {
	tt := startTracker(t, Config{MaxMessageBytes: 1024})
	other := tt.dial(t, "other")
	c := tt.dial(t, "c")
	c.SendRaw([]byte(strings.Repeat(" ", int(hardReadLimit(1024))+10)))
	_, _, err := c.WS.Read(c.Ctx)
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Errorf("read error %v, want close status 1009", err)
	}
	other.Announce(hashA, nil)
}

func TestMalformedRequestsGetFailureReasons(t *testing.T) {
	tests := []struct {
		name, data, reason string
	}{
		{"bad JSON", `{"action":`, "malformed tracker message"},
		{"not an object", `"announce"`, "malformed tracker message"},
		{"binary garbage", "\x00\xff\x10", "malformed tracker message"},
		{"unknown action", fmt.Sprintf(`{"action":"scrape","info_hash":%q}`, hashA), "invalid action"},
		{"missing info_hash", fmt.Sprintf(`{"action":"announce","peer_id":%q}`, peerID("c")), "invalid info_hash"},
		{"short peer_id", fmt.Sprintf(`{"action":"announce","info_hash":%q,"peer_id":"abc"}`, hashA), "invalid peer_id"},
		{"non-ASCII info_hash", fmt.Sprintf(`{"action":"announce","info_hash":"\u00e9bbbbbbbbbbbbbbbbbbb","peer_id":%q}`, peerID("c")), "invalid info_hash"},
		{"answer without to_peer_id", fmt.Sprintf(`{"action":"announce","info_hash":%q,"peer_id":%q,"answer":{"type":"answer","sdp":"x"},"offer_id":%q}`, hashA, peerID("c"), offerID(1)), "invalid `to_peer_id` (required with `answer`)"},
		{"bare string offer", fmt.Sprintf(`{"action":"announce","info_hash":%q,"peer_id":%q,"offers":[{"offer_id":%q,"offer":"x"}]}`, hashA, peerID("c"), offerID(1)), "malformed tracker message"},
	}
	tt := startTracker(t, Config{})
	c := tt.dial(t, "c")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.T = t
			c.SendRaw([]byte(tc.data))
			f := trackerclient.RecvAs[*wire.TrackerFailure](c)
			if !strings.HasPrefix(f.FailureReason, tc.reason) {
				t.Errorf("failure reason %q, want prefix %q", f.FailureReason, tc.reason)
			}
		})
	}
	c.T = t
	c.Announce(hashA, nil)
	if st := tt.srv.Stats(); st.Peers != 1 {
		t.Errorf("stats %+v: bad requests must not join swarms", st)
	}
}

func TestHTTPEndpoints(t *testing.T) {
	tt := startTracker(t, Config{})
	tt.dial(t, "a").Announce(hashA, nil)
	tt.dial(t, "b").Announce(hashA, nil)

	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(testContext(t), http.MethodGet, tt.http.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}

	resp, body := get("/stats")
	var st Stats
	if err := json.Unmarshal(body, &st); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/stats: %d %s %v", resp.StatusCode, body, err)
	}
	if st != (Stats{Connections: 2, Swarms: 1, Peers: 2}) {
		t.Errorf("/stats = %+v", st)
	}
	if resp, body := get("/healthz"); resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"ok":true`) {
		t.Errorf("/healthz: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get("/announce"); resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("plain GET /announce: %d, want 426", resp.StatusCode)
	}
}

func TestCloseDisconnectsClients(t *testing.T) {
	tt := startTracker(t, Config{})
	c := tt.dial(t, "c")
	c.Announce(hashA, nil)
	tt.srv.Close()
	if _, _, err := c.WS.Read(c.Ctx); err == nil {
		t.Fatal("read succeeded after Close")
	}
	if st := tt.srv.Stats(); st.Connections != 0 || st.Peers != 0 {
		t.Errorf("stats after Close %+v", st)
	}
}
