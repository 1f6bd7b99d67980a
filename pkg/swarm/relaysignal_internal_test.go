package swarm

// Tests without the network, run natively and under js/wasm: the rules of
// relay signalling on a room that is not started (its sends fail, which
// does not matter here: the decisions are logged before anything is sent).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peersetdb/peerset/internal/ratelimit"
	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/nostrsignal"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/wire"
)

// logLines records the messages of a room's debug log.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.lines = append(l.lines, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }

func (l *logLines) has(msg string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if strings.Contains(s, msg) {
			return true
		}
	}
	return false
}

func relayTestRoom(t *testing.T, selfID string) (*Room, *logLines) {
	t.Helper()
	n, err := NewMemNet(MemNetConfig{})
	if err != nil {
		t.Fatal(err)
	}
	logs := &logLines{}
	r, err := n.NewRoom(Config{Room: "glare", PeerID: selfID, Relays: []string{"ws://127.0.0.1:1", "ws://127.0.0.1:2"}, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r, logs
}

// TestRelayGlare: an offer from a peer we are offering to ourselves is
// left to the glare rule when our id is the smaller (the peer answers ours)
// and answered otherwise, as Trystero does; without an offer of ours it is
// always answered.
func TestRelayGlare(t *testing.T) {
	low, high := "0"+strings.Repeat("a", 19), "z"+strings.Repeat("a", 19)
	tests := []struct {
		name         string
		self, remote string
		weOffer      bool
		wantAnswer   bool
	}{
		{"we offer too, our id smaller: glare, ignored", low, high, true, false},
		{"we offer too, our id larger: answered", high, low, true, true},
		{"no offer of ours, our id smaller: answered", low, high, false, true},
		{"no offer of ours, our id larger: answered", high, low, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, logs := relayTestRoom(t, tc.self)
			if tc.weOffer {
				r.mu.Lock()
				r.relays.offering[tc.remote] = true
				r.mu.Unlock()
			}
			sealed, err := wire.SealSDP(r.sdpKey, memSDP("remote.1"))
			if err != nil {
				t.Fatal(err)
			}
			r.handleRelaySignal(nostrsignal.Signal{Kind: nostrsignal.Offer, Relay: "ws://127.0.0.1:1", PeerID: tc.remote, Direct: true, OfferID: "offer1", Sealed: sealed})
			answered, glare := logs.has("answering offer"), logs.has("glare rule")
			if answered != tc.wantAnswer || glare == tc.wantAnswer {
				t.Fatalf("answered %v, left to the glare rule %v; want answered %v (log %q)", answered, glare, tc.wantAnswer, logs.lines)
			}
		})
	}
}

// TestRelayAnnouncementRules: the smaller id offers, the larger sends a
// directed announcement; a full room answers no announcement; one peer's
// repeated announcements are answered once.
func TestRelayAnnouncementRules(t *testing.T) {
	low, high := "0"+strings.Repeat("a", 19), "z"+strings.Repeat("a", 19)
	t.Run("smaller id offers", func(t *testing.T) {
		r, logs := relayTestRoom(t, low)
		r.relayAnnounced(nostrsignal.Signal{Kind: nostrsignal.Announce, PeerID: high, Relay: "ws://127.0.0.1:1"})
		r.mu.Lock()
		_, offering := r.relays.offering[high]
		n := len(r.relays.offers)
		r.mu.Unlock()
		// (The room is not started: the offer may already have failed to
		// go out.)
		if !offering && n == 0 && !logs.has("relay offer not sent") && !logs.has("failed to create a relay offer") {
			t.Fatalf("no offer made or being made to the larger id (log %q)", logs.lines)
		}
	})
	t.Run("larger id sends a directed announcement, once", func(t *testing.T) {
		r, logs := relayTestRoom(t, high)
		for range 3 {
			r.relayAnnounced(nostrsignal.Signal{Kind: nostrsignal.Announce, PeerID: low, Relay: "ws://127.0.0.1:1"})
		}
		r.mu.Lock()
		offering, offers := len(r.relays.offering), len(r.relays.offers)
		r.mu.Unlock()
		if offering+offers != 0 {
			t.Fatalf("the larger id offered (%d, %d)", offering, offers)
		}
		// The relay is not connected: the directed announcement fails to
		// go out (off the signal worker), once (the repeats are within the
		// dedupe window).
		count := func() int {
			logs.mu.Lock()
			defer logs.mu.Unlock()
			sent := 0
			for _, l := range logs.lines {
				if strings.Contains(l, "directed announcement") {
					sent++
				}
			}
			return sent
		}
		testwait.For(t, "a directed announcement tried", 5*time.Second, func() bool { return count() > 0 })
		r.wg.Wait() // (the room is not started: only the sends are in it)
		if sent := count(); sent != 1 {
			t.Fatalf("%d directed announcements tried, want 1 (log %q)", sent, logs.lines)
		}
	})
	t.Run("a passive peer is left alone", func(t *testing.T) {
		r, logs := relayTestRoom(t, low)
		r.relayAnnounced(nostrsignal.Signal{Kind: nostrsignal.Announce, PeerID: high, Relay: "ws://127.0.0.1:1", Passive: true})
		r2, logs2 := relayTestRoom(t, high)
		r2.relayAnnounced(nostrsignal.Signal{Kind: nostrsignal.Announce, PeerID: low, Relay: "ws://127.0.0.1:1", Passive: true})
		r.mu.Lock()
		offering, offers := len(r.relays.offering), len(r.relays.offers)
		r.mu.Unlock()
		if offering+offers != 0 || logs.has("directed announcement") || logs2.has("directed announcement") {
			t.Fatalf("answered a passive announcement: %d offers, logs %q %q", offering+offers, logs.lines, logs2.lines)
		}
	})
	t.Run("full room is passive", func(t *testing.T) {
		r, _ := relayTestRoom(t, low)
		r.cfg.MaxPeers = 0 // no slot at all
		r.relayAnnounced(nostrsignal.Signal{Kind: nostrsignal.Announce, PeerID: high, Relay: "ws://127.0.0.1:1"})
		r.mu.Lock()
		offering, offers := len(r.relays.offering), len(r.relays.offers)
		r.mu.Unlock()
		if offering+offers != 0 {
			t.Fatalf("a full room offered (%d, %d)", offering, offers)
		}
	})
}

// TestRelayStaleOfferAllowsAnother: an offer to a peer unanswered for
// relayOfferRetry (maybe dropped by a relay) no longer stops a new offer on
// its next announcement, nor the peer's own offer; a fresh one does.
func TestRelayStaleOfferAllowsAnother(t *testing.T) {
	low, high := "0"+strings.Repeat("a", 19), "z"+strings.Repeat("a", 19)
	for _, tc := range []struct {
		name      string
		age       time.Duration
		wantAgain bool
	}{
		{"fresh offer", 0, false},
		{"stale offer", relayOfferRetry + time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withOldOffer := func() (*Room, *logLines) {
				r, logs := relayTestRoom(t, low)
				pc, err := r.newPeerConnection()
				if err != nil {
					t.Fatal(err)
				}
				r.mu.Lock()
				r.relays.offers["old"] = &pendingOffer{id: "old", pc: pc, to: high, relay: "ws://127.0.0.1:1", created: time.Now().Add(-tc.age)}
				r.mu.Unlock()
				return r, logs
			}
			r, logs0 := withOldOffer()
			r.relayAnnounced(nostrsignal.Signal{Kind: nostrsignal.Announce, PeerID: high, Relay: "ws://127.0.0.1:2"})
			r.mu.Lock()
			again := r.relays.offering[high] || len(r.relays.offers) > 1
			r.mu.Unlock()
			// (The room is not started: the new offer may already have
			// failed to go out.)
			again = again || logs0.has("relay offer not sent") || logs0.has("failed to create a relay offer")
			if again != tc.wantAgain {
				t.Fatalf("offered again: %v, want %v", again, tc.wantAgain)
			}
			r, logs := withOldOffer() // a room that heard no announcement: only the old offer decides
			sealed, err := wire.SealSDP(r.sdpKey, memSDP("remote.9"))
			if err != nil {
				t.Fatal(err)
			}
			r.handleRelaySignal(nostrsignal.Signal{Kind: nostrsignal.Offer, Relay: "ws://127.0.0.1:1", PeerID: high, Direct: true, OfferID: "theirs", Sealed: sealed})
			if answered := logs.has("answering offer"); answered != tc.wantAgain {
				t.Fatalf("their offer answered: %v, want %v (log %q)", answered, tc.wantAgain, logs.lines)
			}
		})
	}
}

// TestRelayBudgetDirectAndHeardGoFirst: invented peers flooding one relay's
// room topic exhaust its budget for new peers only; a directed
// announcement, and a peer that relay announced before, are still answered.
func TestRelayBudgetDirectAndHeardGoFirst(t *testing.T) {
	b := &relayBudget{
		known: ratelimit.New(relayReplyRate, relayReplyBurst),
		fresh: ratelimit.New(relayNewRate, relayNewBurst),
		heard: make(map[string]time.Time),
	}
	now := time.Unix(1000, 0)
	if !b.allow("honest", false, now) {
		t.Fatal("the first announcement of a new peer was refused")
	}
	allowed := 0
	for i := range 10 * maxRelayHeard {
		if b.allow(fmt.Sprintf("fake%05d", i), false, now) {
			allowed++
		}
	}
	if allowed != relayNewBurst-1 {
		t.Fatalf("%d invented peers answered at once, want %d", allowed, relayNewBurst-1)
	}
	if len(b.heard) > maxRelayHeard {
		t.Fatalf("%d peers remembered, at most %d", len(b.heard), maxRelayHeard)
	}
	if !b.allow("someone", true, now) {
		t.Fatal("a directed announcement was refused after a flood of new peers")
	}
	if len(b.heard) != maxRelayHeard {
		t.Fatalf("%d peers remembered after the flood, want %d", len(b.heard), maxRelayHeard)
	}
	// Fewer invented peers than it remembers: the peer heard before goes
	// first.
	b = &relayBudget{
		known: ratelimit.New(relayReplyRate, relayReplyBurst),
		fresh: ratelimit.New(relayNewRate, relayNewBurst),
		heard: make(map[string]time.Time),
	}
	b.allow("honest", false, now)
	for i := range maxRelayHeard / 2 {
		b.allow(fmt.Sprintf("fake%05d", i), false, now)
	}
	if b.allow("another", false, now) {
		t.Fatal("a new peer was answered beyond the budget for new peers")
	}
	if !b.allow("honest", false, now) {
		t.Fatal("a peer heard before was refused after a flood of new peers")
	}
}

// TestRelayCandidatesBoundedPerConnection: a connection being set up
// through a relay takes at most maxPendingCandidates waiting candidates,
// maxMDNSCandidates of them .local; one set up another way (a tracker, the
// mesh) takes no relay candidate. The rest are counted as dropped.
func TestRelayCandidatesBoundedPerConnection(t *testing.T) {
	low, high := "0"+strings.Repeat("a", 19), "z"+strings.Repeat("a", 19)
	for _, viaRelay := range []bool{true, false} {
		r, _ := relayTestRoom(t, low)
		r.mu.Lock()
		p := r.newPeerLocked(high, false)
		p.offerID, p.viaRelay = "the-offer", viaRelay
		r.mu.Unlock()
		t.Cleanup(func() { // (p never ran: Close must not wait for it)
			r.mu.Lock()
			delete(r.peers, high)
			r.mu.Unlock()
		})
		const n = 500
		for i := range n {
			c := fmt.Sprintf(`{"candidate":"candidate:%d 1 udp 2122260223 %s %d typ host","sdpMid":"0"}`, i, map[bool]string{true: "x.local", false: "127.0.0.1"}[i%2 == 0], 1024+i)
			sealed, err := wire.SealSDP(r.sdpKey, c)
			if err != nil {
				t.Fatal(err)
			}
			r.relayCandidate(nostrsignal.Signal{Kind: nostrsignal.Candidate, PeerID: high, Direct: true, OfferID: "the-offer", Sealed: sealed, Relay: "ws://127.0.0.1:1"})
		}
		p.mu.Lock()
		kept, mdns := len(p.cands), countMDNS(p.cands)
		p.mu.Unlock()
		want := 0
		if viaRelay {
			want = maxPendingCandidates
		}
		if kept != want || mdns > maxMDNSCandidates {
			t.Fatalf("via relay %v: %d candidates kept (%d .local), want %d (at most %d .local)", viaRelay, kept, mdns, want, maxMDNSCandidates)
		}
		if d := r.relays.candidatesDropped.Load(); d != uint64(n-kept) {
			t.Fatalf("via relay %v: %d dropped, want %d", viaRelay, d, n-kept)
		}
	}
}

// TestRelayEarlyCandidatesEvictOldest: candidates for offers not seen yet
// fill at most maxEarlyCandidateSets sets; a flood of candidates for
// invented offers evicts the oldest sets and cannot keep out the
// candidates of an offer that then arrives.
func TestRelayEarlyCandidatesEvictOldest(t *testing.T) {
	low, high := "0"+strings.Repeat("a", 19), "z"+strings.Repeat("a", 19)
	r, _ := relayTestRoom(t, low)
	send := func(offerID string) {
		sealed, err := wire.SealSDP(r.sdpKey, `{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 9 typ host","sdpMid":"0"}`)
		if err != nil {
			t.Fatal(err)
		}
		r.relayCandidate(nostrsignal.Signal{Kind: nostrsignal.Candidate, PeerID: high, Direct: true, OfferID: offerID, Sealed: sealed, Relay: "ws://127.0.0.1:1"})
	}
	for i := range 10 * maxEarlyCandidateSets {
		send(fmt.Sprint("invented-", i))
	}
	send("honest")
	r.mu.Lock()
	sets := len(r.relays.early)
	got := r.takeEarlyCandidatesLocked(high, "honest", record.PublicKey{})
	r.mu.Unlock()
	if sets > maxEarlyCandidateSets || len(got) != 1 {
		t.Fatalf("%d early candidate sets (at most %d); the honest offer's: %d candidates, want 1", sets, maxEarlyCandidateSets, len(got))
	}
}

// TestRelayOfferBudgetPerRelay: a relay flooding offers from invented
// peers gets at most its own budget answered; an offer through another
// relay is still answered.
func TestRelayOfferBudgetPerRelay(t *testing.T) {
	r, logs := relayTestRoom(t, "z"+strings.Repeat("a", 19))
	answered := func() int {
		logs.mu.Lock()
		defer logs.mu.Unlock()
		n := 0
		for _, l := range logs.lines {
			if strings.Contains(l, "answering offer") {
				n++
			}
		}
		return n
	}
	offer := func(relay, peer string) {
		sealed, err := wire.SealSDP(r.sdpKey, memSDP(peer+".1"))
		if err != nil {
			t.Fatal(err)
		}
		r.handleRelaySignal(nostrsignal.Signal{Kind: nostrsignal.Offer, Relay: relay, PeerID: peer, Direct: true, OfferID: "o-" + peer, Sealed: sealed})
	}
	start := time.Now()
	for i := range 100 {
		offer("ws://127.0.0.1:1", fmt.Sprintf("0%019d", i))
	}
	limit := relayOfferBurst + int(time.Since(start).Seconds()*relayOfferRate) + 1
	if n := answered(); n > limit || n == 0 {
		t.Fatalf("%d of 100 offers through one relay answered, want 1 to %d", n, limit)
	}
	before := answered()
	offer("ws://127.0.0.1:2", "1"+strings.Repeat("b", 19))
	if answered() != before+1 {
		t.Fatalf("an offer through another relay was not answered after one relay's flood (log %q)", logs.lines)
	}
}

// TestRelayCandidatesBoundToOfferKey: trickled candidates count only if
// signed with the Nostr key of the offer or answer of their connection; a
// relay forging them with its own key gets them dropped, before and after
// the offer arrives.
func TestRelayCandidatesBoundToOfferKey(t *testing.T) {
	low, high := "0"+strings.Repeat("a", 19), "z"+strings.Repeat("a", 19)
	newKey := func() record.PublicKey {
		k, err := record.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		return k.Public()
	}
	peerKey, forger := newKey(), newKey()
	r, _ := relayTestRoom(t, low)
	cand := func(offerID string, key record.PublicKey) {
		sealed, err := wire.SealSDP(r.sdpKey, `{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 9 typ host","sdpMid":"0"}`)
		if err != nil {
			t.Fatal(err)
		}
		r.relayCandidate(nostrsignal.Signal{Kind: nostrsignal.Candidate, PeerID: high, Direct: true, OfferID: offerID, Sealed: sealed, Relay: "ws://127.0.0.1:1", PubKey: key})
	}
	// Before the offer: a forged set is not handed to the offer.
	cand("early", forger)
	cand("early", peerKey) // another key than the set's first: dropped
	r.mu.Lock()
	got := r.takeEarlyCandidatesLocked(high, "early", peerKey)
	r.mu.Unlock()
	if len(got) != 0 {
		t.Fatalf("%d candidates signed by another key handed to the offer", len(got))
	}
	// A connection set up by an offer signed with peerKey.
	r.mu.Lock()
	p := r.newPeerLocked(high, false)
	p.offerID, p.viaRelay, p.relayKey, p.relayKeySet = "the-offer", true, peerKey, true
	r.mu.Unlock()
	t.Cleanup(func() {
		r.mu.Lock()
		delete(r.peers, high)
		r.mu.Unlock()
	})
	for range 10 {
		cand("the-offer", forger)
	}
	cand("the-offer", peerKey)
	p.mu.Lock()
	kept := len(p.cands)
	p.mu.Unlock()
	if kept != 1 {
		t.Fatalf("%d candidates kept, want 1 (only the one signed with the offer's key)", kept)
	}
	if d := r.relays.candidatesDropped.Load(); d != 12 {
		t.Fatalf("%d candidates dropped, want 12", d)
	}
}

// TestRelayReplayedOfferSDPRefused: a sealed offer lifted from its message
// and sent again under another peer id or offer id is refused; the same
// offer again under its own ids (an honest resend) is not.
func TestRelayReplayedOfferSDPRefused(t *testing.T) {
	r, logs := relayTestRoom(t, "z"+strings.Repeat("a", 19))
	sealed, err := wire.SealSDP(r.sdpKey, memSDP("remote.1")+"a=ice-ufrag:abcd\r\n")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var joinErrs []error
	r.OnJoinError(func(_ string, err error) {
		mu.Lock()
		joinErrs = append(joinErrs, err)
		mu.Unlock()
	})
	offer := func(peer, offerID string) {
		r.handleRelaySignal(nostrsignal.Signal{Kind: nostrsignal.Offer, Relay: "ws://127.0.0.1:1", PeerID: peer, Direct: true, OfferID: offerID, Sealed: sealed})
	}
	honest := "0" + strings.Repeat("b", 19)
	offer(honest, "first")
	if !logs.has("answering offer") {
		t.Fatalf("the first offer was not answered (log %q)", logs.lines)
	}
	offer("1"+strings.Repeat("c", 19), "first") // another peer id
	offer(honest, "second")                     // another offer id
	n := 0
	mu.Lock()
	for _, err := range joinErrs {
		if errors.Is(err, errReplayedOffer) {
			n++
		}
	}
	mu.Unlock()
	if n != 2 {
		t.Fatalf("%d replays refused, want 2 (join errors %v)", n, joinErrs)
	}
	if err := r.sdpOrigins.check("fp", "abcd", honest, "first", time.Now()); err != nil {
		t.Fatalf("an honest resend (same ids) refused: %v", err)
	}
}
