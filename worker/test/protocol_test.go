//go:build !js

package test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/internal/trackerclient"
	"github.com/peersetdb/peerset/pkg/tracker"
	"github.com/peersetdb/peerset/pkg/tracker/trackertest"
	"github.com/peersetdb/peerset/pkg/wire"
)

// The same protocol checks run against pkg/tracker (in process) and the
// worker (under wrangler dev): the two implementations must answer alike.

func TestGoTrackerProtocol(t *testing.T) {
	tr := trackertest.Start(t)
	checkProtocol(t, tr.URL(), statsURL(tr.URL()))
}

func TestWorkerProtocol(t *testing.T) {
	w := startedWorker(t)
	checkProtocol(t, w.TrackerURL(), w.base+"/stats")
}

// A deployment sets the announce interval with a variable, as cmd/tracker
// does with --interval.
func TestWorkerAnnounceIntervalVariable(t *testing.T) {
	w, err := startWrangler("--var", "ANNOUNCE_INTERVAL_SECONDS:60")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("wrangler dev output:\n%s", w.log.String())
		}
		w.stop()
	})
	a := dial(t, w.TrackerURL(), "a")
	if r := a.Announce(trackerclient.RandomID(), nil); r.Interval != 60 {
		t.Fatalf("reply %+v, want interval 60 from ANNOUNCE_INTERVAL_SECONDS", r)
	}
}

// statsURL turns ws://HOST/announce into http://HOST/stats.
func statsURL(trackerURL string) string {
	host := strings.TrimPrefix(trackerURL, "ws://")
	host, _, _ = strings.Cut(host, "/")
	return "http://" + host + "/stats"
}

func checkProtocol(t *testing.T, url, stats string) {
	rules := loadRules(t)

	t.Run("reply counts peers and seeders and tells the interval", func(t *testing.T) {
		hash := trackerclient.RandomID()
		a, b := dial(t, url, "a"), dial(t, url, "b")
		r := a.Announce(hash, nil)
		if r.Incomplete != 1 || r.Complete != 0 || r.Interval != rules.IntervalSeconds || r.Action != "announce" {
			t.Fatalf("first reply %+v, want 1 incomplete, 0 complete, interval %d", r, rules.IntervalSeconds)
		}
		zero := int64(0)
		b.Send(&wire.OfferAnnounce{Action: "announce", InfoHash: hash, PeerID: b.ID, Left: &zero, Offers: []wire.TrackerOffer{}})
		if r := trackerclient.RecvAs[*wire.AnnounceReply](b); r.Incomplete != 1 || r.Complete != 1 {
			t.Fatalf("reply to a seeder %+v, want 1 incomplete and 1 complete", r)
		}
	})

	t.Run("an offer reaches the other peer and never comes back", func(t *testing.T) {
		hash := trackerclient.RandomID()
		a, b := dial(t, url, "a"), dial(t, url, "b")
		a.Announce(hash, nil)
		offers := trackerclient.Offers(trackerclient.RandomID(), 3)
		if r := b.Announce(hash, offers); r.Incomplete != 2 {
			t.Fatalf("reply %+v, want 2 incomplete", r)
		}
		got := trackerclient.RecvAs[*wire.ForwardedOffer](a)
		want := wire.ForwardedOffer{Action: "announce", Offer: offers[0].Offer, OfferID: offers[0].OfferID, PeerID: b.ID, InfoHash: hash}
		if *got != want {
			t.Errorf("forwarded %+v, want %+v", *got, want)
		}
		// One other peer: only the first offer goes out, to a; b gets none.
		a.ExpectQuiet(trackerclient.RandomID())
		b.ExpectQuiet(trackerclient.RandomID())
	})

	t.Run("offers go to distinct other peers", func(t *testing.T) {
		hash := trackerclient.RandomID()
		a, b, c := dial(t, url, "a"), dial(t, url, "b"), dial(t, url, "c")
		a.Announce(hash, nil)
		b.Announce(hash, nil)
		for round := range 4 {
			offers := trackerclient.Offers(trackerclient.RandomID(), 3)
			if r := c.Announce(hash, offers); r.Incomplete != 3 {
				t.Fatalf("round %d: reply %+v, want 3 incomplete", round, r)
			}
			oa, ob := trackerclient.RecvAs[*wire.ForwardedOffer](a), trackerclient.RecvAs[*wire.ForwardedOffer](b)
			if oa.PeerID != c.ID || ob.PeerID != c.ID {
				t.Errorf("round %d: offers from %q and %q, want %q", round, oa.PeerID, ob.PeerID, c.ID)
			}
			ids := []string{oa.OfferID, ob.OfferID}
			slices.Sort(ids)
			// Two others, three offers: offers 0 and 1 go out, one each.
			if wantIDs := []string{offers[0].OfferID, offers[1].OfferID}; !slices.Equal(ids, wantIDs) {
				t.Errorf("round %d: offer ids %v, want %v", round, ids, wantIDs)
			}
		}
		a.ExpectQuiet(trackerclient.RandomID())
		b.ExpectQuiet(trackerclient.RandomID())
		c.ExpectQuiet(trackerclient.RandomID())
	})

	t.Run("an answer reaches exactly to_peer_id and gets no reply", func(t *testing.T) {
		hash := trackerclient.RandomID()
		a, b, c := dial(t, url, "a"), dial(t, url, "b"), dial(t, url, "c")
		for _, p := range []*client{a, b, c} {
			p.Announce(hash, nil)
		}
		offerID := trackerclient.RandomID()
		answer := wire.SessionDescription{Type: wire.SDPTypeAnswer, SDP: "sealed-answer"}
		c.Send(wire.NewAnswerAnnounce(hash, c.ID, a.ID, offerID, answer))
		got := trackerclient.RecvAs[*wire.ForwardedAnswer](a)
		want := wire.ForwardedAnswer{Action: "announce", Answer: answer, OfferID: offerID, PeerID: c.ID, InfoHash: hash}
		if *got != want {
			t.Errorf("forwarded %+v, want %+v", *got, want)
		}
		// An answer to a peer the swarm does not know goes nowhere.
		c.Send(wire.NewAnswerAnnounce(hash, c.ID, trackerclient.RandomID(), trackerclient.RandomID(), answer))
		a.ExpectQuiet(trackerclient.RandomID())
		b.ExpectQuiet(trackerclient.RandomID())
		c.ExpectQuiet(trackerclient.RandomID())
	})

	t.Run("bad messages get a failure reason and the connection stays usable", func(t *testing.T) {
		a := dial(t, url, "a")
		hash := trackerclient.RandomID()
		r := rules.Reasons
		offer := map[string]any{"offer_id": trackerclient.RandomID(), "offer": map[string]any{"type": "offer", "sdp": "x"}}
		answer := map[string]any{"type": "answer", "sdp": "x"}
		cases := []struct {
			name, raw, want string
		}{
			{"not JSON", `{"action":"announce",`, r["malformed"] + ": …"},
			{"not an object", `[1,2,3]`, r["malformed"] + ": …"},
			{"a number for action", `{"action":1}`, r["malformed"] + ": …"},
			{"offers not a list", `{"action":"announce","info_hash":"` + hash + `","peer_id":"` + a.ID + `","offers":{}}`, r["malformed"] + ": …"},
			{"another action", `{"action":"scrape","info_hash":"` + hash + `","peer_id":"` + a.ID + `"}`, r["invalidAction"] + `: "scrape"`},
			{"null", `null`, r["invalidAction"] + `: ""`},
		}
		for _, tc := range cases {
			a.SendRaw([]byte(tc.raw))
			a.ExpectFailure(tc.want, "", "")
		}
		jsonCases := []struct {
			name string
			msg  map[string]any
			want string
		}{
			{"short info_hash", map[string]any{"action": "announce", "info_hash": "short", "peer_id": a.ID}, r["invalidInfoHash"]},
			{"non-ASCII info_hash", map[string]any{"action": "announce", "info_hash": "é" + hash[1:], "peer_id": a.ID}, r["invalidInfoHash"]},
			{"no peer_id", map[string]any{"action": "announce", "info_hash": hash}, r["invalidPeerId"]},
			{"bad offer_id", map[string]any{"action": "announce", "info_hash": hash, "peer_id": a.ID,
				"offers": []any{offer, map[string]any{"offer_id": "x", "offer": offer["offer"]}}}, r["invalidOfferId"] + " in offer 1"},
			{"offer without sdp", map[string]any{"action": "announce", "info_hash": hash, "peer_id": a.ID,
				"offers": []any{map[string]any{"offer_id": trackerclient.RandomID(), "offer": map[string]any{"type": "offer"}}}}, r["invalidSessionDescription"] + ": needs type and sdp in offer 0"},
			{"answer without to_peer_id", map[string]any{"action": "announce", "info_hash": hash, "peer_id": a.ID, "answer": answer, "offer_id": trackerclient.RandomID()}, r["invalidToPeerId"]},
			{"answer without offer_id", map[string]any{"action": "announce", "info_hash": hash, "peer_id": a.ID, "answer": answer, "to_peer_id": trackerclient.RandomID()}, r["invalidOfferId"]},
		}
		for _, tc := range jsonCases {
			a.SendJSON(tc.msg)
			a.ExpectFailure(tc.want, "", "")
		}
		// Too many offers: a failure about this announce, and no membership.
		a.Send(wire.NewOfferAnnounce(hash, a.ID, trackerclient.Offers(trackerclient.RandomID(), rules.MaxOffersPerAnnounce+1)))
		a.ExpectFailure(r["tooManyOffers"], "announce", hash)
		if reply := a.Announce(hash, trackerclient.Offers(trackerclient.RandomID(), rules.MaxOffersPerAnnounce)); reply.Incomplete != 1 {
			t.Errorf("reply after the failures %+v, want 1 incomplete", reply)
		}
	})

	t.Run("one connection keeps one peer_id per swarm", func(t *testing.T) {
		a := dial(t, url, "a")
		hash := trackerclient.RandomID()
		a.Announce(hash, nil)
		a.Send(wire.NewOfferAnnounce(hash, trackerclient.RandomID(), nil))
		a.ExpectFailure(rules.Reasons["peerIdMismatch"], "announce", hash)
	})

	t.Run("one connection joins a bounded number of swarms", func(t *testing.T) {
		a := dial(t, url, "a")
		for range rules.MaxSwarmsPerConnection {
			a.Announce(trackerclient.RandomID(), nil)
		}
		hash := trackerclient.RandomID()
		a.Send(wire.NewOfferAnnounce(hash, a.ID, nil))
		a.ExpectFailure(rules.Reasons["tooManySwarms"], "announce", hash)
	})

	t.Run("message size limits", func(t *testing.T) {
		a := dial(t, url, "a")
		hash := trackerclient.RandomID()
		msg, _ := wire.EncodeTrackerMessage(wire.NewOfferAnnounce(hash, a.ID, nil))
		padded := append(slices.Clone(msg), []byte(strings.Repeat(" ", int(rules.MaxMessageBytes)+1-len(msg)))...)
		a.SendRaw(padded)
		a.ExpectFailure(rules.Reasons["messageTooLarge"], "", "")
		// Exactly the limit is fine.
		a.SendRaw(padded[:rules.MaxMessageBytes])
		if r := trackerclient.RecvAs[*wire.AnnounceReply](a); r.InfoHash != hash {
			t.Fatalf("reply %+v", r)
		}
		// Past the hard limit the tracker closes the connection (1009).
		huge := append(slices.Clone(msg), []byte(strings.Repeat(" ", int(rules.HardMessageBytes)+1))...)
		_ = a.WS.Write(a.Ctx, websocket.MessageText, huge)
		ctx, cancel := context.WithTimeout(a.Ctx, 10*time.Second)
		defer cancel()
		_, data, err := a.WS.Read(ctx)
		if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
			t.Fatalf("after a %d-byte message: read %q, %v; want the connection closed with status 1009", len(huge), data, err)
		}
	})

	t.Run("a stopped peer leaves the swarm", func(t *testing.T) {
		hash := trackerclient.RandomID()
		a, b := dial(t, url, "a"), dial(t, url, "b")
		a.Announce(hash, nil)
		b.Announce(hash, nil)
		a.Send(&wire.AnnounceRequest{Action: "announce", InfoHash: hash, PeerID: a.ID, Event: "stopped"})
		if r := trackerclient.RecvAs[*wire.AnnounceReply](a); r.Incomplete != 1 {
			t.Fatalf("reply to stopped %+v, want 1 incomplete (b)", r)
		}
		b.Announce(hash, trackerclient.Offers(trackerclient.RandomID(), 3))
		a.ExpectQuiet(trackerclient.RandomID())
	})

	t.Run("a peer_id stays with its connection: a takeover is refused", func(t *testing.T) {
		// The review's M6: B announces A's peer_id from another socket to
		// get the answers meant for A.
		hash := trackerclient.RandomID()
		a, c := dial(t, url, "a"), dial(t, url, "c")
		a.Announce(hash, nil)
		c.Announce(hash, nil)
		thief := dial(t, url, "thief")
		thief.ID = a.ID
		thief.Send(wire.NewOfferAnnounce(hash, thief.ID, trackerclient.Offers(trackerclient.RandomID(), 2)))
		thief.ExpectFailure(rules.Reasons["peerIdTaken"], "announce", hash)
		if r := c.Announce(hash, nil); r.Incomplete != 2 {
			t.Fatalf("reply %+v, want 2 incomplete (a and c)", r)
		}
		answer := wire.SessionDescription{Type: wire.SDPTypeAnswer, SDP: "sealed-answer-for-a"}
		offerID := trackerclient.RandomID()
		c.Send(wire.NewAnswerAnnounce(hash, c.ID, a.ID, offerID, answer))
		got := trackerclient.RecvAs[*wire.ForwardedAnswer](a)
		if want := (wire.ForwardedAnswer{Action: "announce", Answer: answer, OfferID: offerID, PeerID: c.ID, InfoHash: hash}); *got != want {
			t.Errorf("a got %+v, want %+v", *got, want)
		}
		a.ExpectQuiet(trackerclient.RandomID())
		thief.ExpectQuiet(trackerclient.RandomID())
		// Once a's socket closes, its peer_id is free again.
		_ = a.WS.Close(websocket.StatusNormalClosure, "")
		waitFor(t, "a's peer_id to be free", func() (bool, string) {
			thief.Send(wire.NewOfferAnnounce(hash, thief.ID, nil))
			switch m := thief.Recv().(type) {
			case *wire.AnnounceReply:
				return m.Incomplete == 2, "incomplete " + itoa(m.Incomplete)
			case *wire.TrackerFailure:
				return false, m.FailureReason
			default:
				t.Fatalf("thief got %T %+v", m, m)
				return false, ""
			}
		})
	})

	t.Run("closed connections leave their swarms", func(t *testing.T) {
		hash := trackerclient.RandomID()
		a, b, c := dial(t, url, "a"), dial(t, url, "b"), dial(t, url, "c")
		for _, p := range []*client{a, b, c} {
			p.Announce(hash, nil)
		}
		if err := a.WS.Close(websocket.StatusNormalClosure, "bye"); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("a: close: %v", err)
		}
		_ = c.WS.CloseNow() // no close handshake: a dropped connection
		waitFor(t, "a and c to leave the swarm", func() (bool, string) {
			r := b.Announce(hash, nil)
			return r.Incomplete == 1, "incomplete " + itoa(r.Incomplete)
		})
		// b's offers now have nobody to go to.
		b.Announce(hash, trackerclient.Offers(trackerclient.RandomID(), 3))
		b.ExpectQuiet(trackerclient.RandomID())
	})

	t.Run("stats count connections, swarms, peers and seeders", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var st tracker.Stats
		waitFor(t, "the connections of the earlier checks to close", func() (bool, string) {
			if err := getJSON(ctx, stats, &st); err != nil {
				t.Fatal(err)
			}
			return st == tracker.Stats{}, statsString(st)
		})
		hash := trackerclient.RandomID()
		a, b := dial(t, url, "a"), dial(t, url, "b")
		a.Announce(hash, nil)
		zero := int64(0)
		b.Send(&wire.OfferAnnounce{Action: "announce", InfoHash: hash, PeerID: b.ID, Left: &zero, Offers: []wire.TrackerOffer{}})
		trackerclient.RecvAs[*wire.AnnounceReply](b)
		if err := getJSON(ctx, stats, &st); err != nil {
			t.Fatal(err)
		}
		if want := (tracker.Stats{Connections: 2, Swarms: 1, Peers: 2, Seeders: 1}); st != want {
			t.Errorf("stats %s, want %s", statsString(st), statsString(want))
		}
		_ = a.WS.Close(websocket.StatusNormalClosure, "")
		_ = b.WS.Close(websocket.StatusNormalClosure, "")
		waitFor(t, "stats to drop to zero after both closed", func() (bool, string) {
			if err := getJSON(ctx, stats, &st); err != nil {
				t.Fatal(err)
			}
			return st == tracker.Stats{}, statsString(st)
		})
	})
}

// waitFor polls check for up to 10 s (internal/testwait); it fails with the
// last state seen.
func waitFor(t *testing.T, what string, check func() (bool, string)) {
	t.Helper()
	var last string
	testwait.ForState(t, what, 10*time.Second, func() bool {
		ok, state := check()
		last = state
		return ok
	}, func() string { return last })
}
