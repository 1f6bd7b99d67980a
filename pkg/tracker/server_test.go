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
	"github.com/peersetdb/peerset/pkg/swarm"
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

// client is a test WebSocket client speaking the tracker protocol.
type client struct {
	t    *testing.T
	ctx  context.Context
	ws   *websocket.Conn
	name string
	id   string
}

func (tt *testTracker) dial(t *testing.T, name string) *client {
	t.Helper()
	ctx := testContext(t)
	ws, _, err := websocket.Dial(ctx, tt.url, nil)
	if err != nil {
		t.Fatalf("failed to dial %s: %v", tt.url, err)
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return &client{t: t, ctx: ctx, ws: ws, name: name, id: peerID(name)}
}

func (c *client) sendRaw(data string) {
	c.t.Helper()
	if err := c.ws.Write(c.ctx, websocket.MessageText, []byte(data)); err != nil {
		c.t.Fatalf("%s: failed to send: %v", c.name, err)
	}
}

func (c *client) send(m swarm.TrackerMessage) {
	c.t.Helper()
	data, err := swarm.EncodeTrackerMessage(m)
	if err != nil {
		c.t.Fatalf("%s: %v", c.name, err)
	}
	c.sendRaw(string(data))
}

func (c *client) recv() swarm.TrackerMessage {
	c.t.Helper()
	_, data, err := c.ws.Read(c.ctx)
	if err != nil {
		c.t.Fatalf("%s: failed to read: %v", c.name, err)
	}
	m, err := swarm.DecodeTrackerReply(data)
	if err != nil {
		c.t.Fatalf("%s: bad message %s: %v", c.name, data, err)
	}
	return m
}

func recvAs[T swarm.TrackerMessage](c *client) T {
	c.t.Helper()
	m := c.recv()
	v, ok := m.(T)
	if !ok {
		c.t.Fatalf("%s: got %T %+v, want %T", c.name, m, m, *new(T))
	}
	return v
}

func offers(ids ...int) []swarm.TrackerOffer {
	var out []swarm.TrackerOffer
	for _, id := range ids {
		out = append(out, swarm.TrackerOffer{OfferID: offerID(id), Offer: swarm.SessionDescription{Type: swarm.SDPTypeOffer, SDP: fmt.Sprintf("sealed-%d", id)}})
	}
	return out
}

// announce sends an announce with the given offers and returns the reply.
// Offers are queued for the other peers before the reply, so once it is
// read, they are on their way.
func (c *client) announce(infoHash string, offerIDs ...int) *swarm.AnnounceReply {
	c.t.Helper()
	c.send(swarm.NewOfferAnnounce(infoHash, c.id, offers(offerIDs...)))
	r := recvAs[*swarm.AnnounceReply](c)
	if r.InfoHash != infoHash {
		c.t.Fatalf("%s: reply for %q, want %q", c.name, r.InfoHash, infoHash)
	}
	return r
}

// expectQuiet checks that nothing is waiting for c: a fresh announce on a
// barrier swarm must be answered by the very next message.
func (c *client) expectQuiet() {
	c.t.Helper()
	c.send(swarm.NewOfferAnnounce(hashC, c.id, nil))
	m := c.recv()
	if r, ok := m.(*swarm.AnnounceReply); !ok || r.InfoHash != hashC {
		c.t.Fatalf("%s: expected nothing pending, got %T %+v", c.name, m, m)
	}
	c.send(&swarm.AnnounceRequest{Action: "announce", InfoHash: hashC, PeerID: c.id, Event: "stopped"})
	recvAs[*swarm.AnnounceReply](c)
}

func TestTwoPeersOfferReachesTheOther(t *testing.T) {
	tt := startTracker(t, Config{})
	a, b := tt.dial(t, "a"), tt.dial(t, "b")

	if r := a.announce(hashA); r.Incomplete != 1 || r.Complete != 0 || r.Interval != 10 {
		t.Fatalf("first reply %+v", r)
	}
	if r := b.announce(hashA, 1, 2, 3); r.Incomplete != 2 {
		t.Fatalf("second reply %+v", r)
	}
	got := recvAs[*swarm.ForwardedOffer](a)
	want := &swarm.ForwardedOffer{Action: "announce", Offer: offers(1)[0].Offer, OfferID: offerID(1), PeerID: b.id, InfoHash: hashA}
	if *got != *want {
		t.Errorf("forwarded %+v, want %+v", got, want)
	}
	// One other peer: only offer 0 is forwarded, and never to the sender.
	a.expectQuiet()
	b.expectQuiet()
}

func TestThreePeersOffersGoToDistinctOthers(t *testing.T) {
	tt := startTracker(t, Config{})
	a, b, c := tt.dial(t, "a"), tt.dial(t, "b"), tt.dial(t, "c")
	a.announce(hashA)
	b.announce(hashA)
	for round := range 5 {
		if r := c.announce(hashA, 10*round+1, 10*round+2, 10*round+3); r.Incomplete != 3 {
			t.Fatalf("reply %+v", r)
		}
		oa, ob := recvAs[*swarm.ForwardedOffer](a), recvAs[*swarm.ForwardedOffer](b)
		if oa.PeerID != c.id || ob.PeerID != c.id {
			t.Errorf("offers from %q and %q, want %q", oa.PeerID, ob.PeerID, c.id)
		}
		ids := []string{oa.OfferID, ob.OfferID}
		slices.Sort(ids)
		// Two others, three offers: offers 0 and 1 go out, one each.
		if want := []string{offerID(10*round + 1), offerID(10*round + 2)}; !slices.Equal(ids, want) {
			t.Errorf("round %d: offer ids %v, want %v", round, ids, want)
		}
	}
	a.expectQuiet()
	b.expectQuiet()
	c.expectQuiet()
}

func TestAnswerReachesOnlyToPeer(t *testing.T) {
	tt := startTracker(t, Config{})
	a, b, c := tt.dial(t, "a"), tt.dial(t, "b"), tt.dial(t, "c")
	a.announce(hashA)
	b.announce(hashA)
	c.announce(hashA)

	answer := swarm.SessionDescription{Type: swarm.SDPTypeAnswer, SDP: "sealed-answer"}
	c.send(swarm.NewAnswerAnnounce(hashA, c.id, a.id, offerID(7), answer))
	got := recvAs[*swarm.ForwardedAnswer](a)
	want := &swarm.ForwardedAnswer{Action: "announce", Answer: answer, OfferID: offerID(7), PeerID: c.id, InfoHash: hashA}
	if *got != *want {
		t.Errorf("forwarded %+v, want %+v", got, want)
	}
	// No reply to an answer, nothing for the bystander.
	a.expectQuiet()
	b.expectQuiet()
	c.expectQuiet()

	// An answer to an unknown peer is dropped silently.
	c.send(swarm.NewAnswerAnnounce(hashA, c.id, peerID("nobody"), offerID(8), answer))
	c.expectQuiet()
}

func TestSwarmsAreIsolated(t *testing.T) {
	tt := startTracker(t, Config{})
	a, b := tt.dial(t, "a"), tt.dial(t, "b")
	a.announce(hashA)
	if r := b.announce(hashB, 1, 2); r.Incomplete != 1 {
		t.Fatalf("reply %+v: b should be alone in its swarm", r)
	}
	// An answer names a peer of another swarm: not forwarded.
	b.send(swarm.NewAnswerAnnounce(hashB, b.id, a.id, offerID(1), swarm.SessionDescription{Type: "answer", SDP: "x"}))
	a.expectQuiet()
	b.expectQuiet()
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
	a.announce(hashA)
	a.announce(hashB)
	if r := b.announce(hashA); r.Incomplete != 2 {
		t.Fatalf("reply %+v", r)
	}
	if err := a.ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	st := waitForStats(t, tt, func(s Stats) bool { return s.Connections == 1 })
	if st.Peers != 1 || st.Swarms != 1 {
		t.Errorf("stats after close %+v, want one peer in one swarm", st)
	}
	if r := b.announce(hashA, 1); r.Incomplete != 1 {
		t.Errorf("reply %+v after a left", r)
	}
	b.expectQuiet()
}

func TestStoppedEventLeavesSwarm(t *testing.T) {
	tt := startTracker(t, Config{})
	a, b := tt.dial(t, "a"), tt.dial(t, "b")
	a.announce(hashA)
	b.announce(hashA)
	a.send(&swarm.AnnounceRequest{Action: "announce", InfoHash: hashA, PeerID: a.id, Event: "stopped"})
	if r := recvAs[*swarm.AnnounceReply](a); r.Incomplete != 1 {
		t.Errorf("reply to stopped %+v", r)
	}
	b.announce(hashA, 1)
	a.expectQuiet()
}

func TestSeedersAreComplete(t *testing.T) {
	tt := startTracker(t, Config{Interval: 1500 * time.Millisecond})
	a, b := tt.dial(t, "a"), tt.dial(t, "b")
	a.sendRaw(fmt.Sprintf(`{"action":"announce","info_hash":%q,"peer_id":%q,"left":0,"numwant":3,"offers":[]}`, hashA, a.id))
	if r := recvAs[*swarm.AnnounceReply](a); r.Complete != 1 || r.Incomplete != 0 || r.Interval != 2 {
		t.Errorf("passive reply %+v, want complete 1 and interval 2", r)
	}
	if r := b.announce(hashA); r.Complete != 1 || r.Incomplete != 1 {
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
	a.announce(hashA)
	c.announce(hashA)
	thief := tt.dial(t, "thief")
	thief.id = a.id // announces A's peer_id from its own socket
	for _, offerIDs := range [][]int{nil, {1, 2}} {
		thief.send(swarm.NewOfferAnnounce(hashA, thief.id, offers(offerIDs...)))
		f := recvAs[*swarm.TrackerFailure](thief)
		if f.FailureReason != reasonPeerIDTaken || f.InfoHash != hashA {
			t.Fatalf("thief got %+v, want failure %q for %s", f, reasonPeerIDTaken, hashA)
		}
	}
	// The thief is no member: its offers went nowhere, and the swarm still
	// counts A and C only.
	if r := c.announce(hashA); r.Incomplete != 2 {
		t.Errorf("reply %+v, want 2 incomplete (a and c)", r)
	}
	answer := swarm.SessionDescription{Type: swarm.SDPTypeAnswer, SDP: "sealed-answer-for-a"}
	c.send(swarm.NewAnswerAnnounce(hashA, c.id, a.id, offerID(9), answer))
	if got := recvAs[*swarm.ForwardedAnswer](a); got.Answer != answer || got.PeerID != c.id {
		t.Errorf("a got %+v, want c's answer", got)
	}
	a.expectQuiet()
	thief.expectQuiet()
	// A "stopped" from the thief's socket does not remove A either.
	thief.send(&swarm.AnnounceRequest{Action: "announce", InfoHash: hashA, PeerID: a.id, Event: "stopped"})
	recvAs[*swarm.AnnounceReply](thief)
	if r := c.announce(hashA); r.Incomplete != 2 {
		t.Errorf("reply %+v after the thief's stopped, want 2 incomplete", r)
	}
	// Once A's socket closes, its peer_id is free again.
	_ = a.ws.Close(websocket.StatusNormalClosure, "")
	waitForStats(t, tt, func(s Stats) bool { return s.Connections == 2 && s.Peers == 1 })
	if r := thief.announce(hashA); r.Incomplete != 2 {
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
			send:   func(c *client) { c.send(swarm.NewOfferAnnounce(hashA, c.id, offers(1, 2, 3))) },
			reason: reasonTooManyOffers,
		},
		{
			name: "too many swarms on one connection",
			cfg:  Config{MaxSwarmsPerConn: 2},
			send: func(c *client) {
				c.announce(hashA)
				c.announce(hashB)
				c.send(swarm.NewOfferAnnounce("dddddddddddddddddddd", c.id, nil))
			},
			reason: reasonTooManySwarms,
			retry:  hashA,
		},
		{
			name: "swarm full",
			cfg:  Config{MaxPeersPerSwarm: 2},
			setup: func(t *testing.T, tt *testTracker) {
				tt.dial(t, "x").announce(hashA)
				tt.dial(t, "y").announce(hashA)
			},
			send:   func(c *client) { c.send(swarm.NewOfferAnnounce(hashA, c.id, nil)) },
			reason: reasonSwarmFull,
		},
		{
			name: "message too large",
			cfg:  Config{MaxMessageBytes: 1024},
			send: func(c *client) {
				c.sendRaw(fmt.Sprintf(`{"action":"announce","info_hash":%q,"peer_id":%q,"pad":%q}`, hashA, c.id, strings.Repeat("x", 2000)))
			},
			reason: reasonMessageTooLarge,
		},
		{
			name: "second peer_id in one swarm",
			send: func(c *client) {
				c.announce(hashA)
				c.send(swarm.NewOfferAnnounce(hashA, peerID("other"), nil))
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
			f := recvAs[*swarm.TrackerFailure](c)
			if f.FailureReason != tc.reason {
				t.Errorf("failure reason %q, want %q", f.FailureReason, tc.reason)
			}
			// The same connection and other clients are still served.
			retry := tc.retry
			if retry == "" {
				retry = hashC
			}
			c.announce(retry)
			bystander.announce(hashB)
		})
	}
}

func TestHardMessageLimitClosesOnlyThatConnection(t *testing.T) {
	tt := startTracker(t, Config{MaxMessageBytes: 1024})
	other := tt.dial(t, "other")
	c := tt.dial(t, "c")
	c.sendRaw(strings.Repeat(" ", int(hardReadLimit(1024))+10))
	_, _, err := c.ws.Read(c.ctx)
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Errorf("read error %v, want close status 1009", err)
	}
	other.announce(hashA)
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
			c.t = t
			c.sendRaw(tc.data)
			f := recvAs[*swarm.TrackerFailure](c)
			if !strings.HasPrefix(f.FailureReason, tc.reason) {
				t.Errorf("failure reason %q, want prefix %q", f.FailureReason, tc.reason)
			}
		})
	}
	c.t = t
	c.announce(hashA)
	if st := tt.srv.Stats(); st.Peers != 1 {
		t.Errorf("stats %+v: bad requests must not join swarms", st)
	}
}

func TestHTTPEndpoints(t *testing.T) {
	tt := startTracker(t, Config{})
	tt.dial(t, "a").announce(hashA)
	tt.dial(t, "b").announce(hashA)

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
	c.announce(hashA)
	tt.srv.Close()
	if _, _, err := c.ws.Read(c.ctx); err == nil {
		t.Fatal("read succeeded after Close")
	}
	if st := tt.srv.Stats(); st.Connections != 0 || st.Peers != 0 {
		t.Errorf("stats after Close %+v", st)
	}
}
