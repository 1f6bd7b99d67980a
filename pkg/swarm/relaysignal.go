package swarm

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peersetdb/peerset/internal/ratelimit"
	"github.com/peersetdb/peerset/pkg/nostrsignal"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/wire"
)

// Signalling through Nostr relays (Config.Relays): a room with relays runs a
// pkg/nostrsignal client beside its tracker clients, speaking Trystero
// 0.25.4's Nostr strategy (docs/nostr-signalling.md §6):
//
//   - on an announcement from P (on the room topic, or directed to us), the
//     peer with the smaller id offers: if ours is smaller we send P a sealed
//     offer through every open relay (one relay may forge P's announcement
//     and drop our offers); otherwise we send P a directed announcement
//     through the relay the announcement came by, so that P offers;
//   - an offer is answered through the relay it came by, unless we offer to
//     P ourselves and our id is smaller (the glare rule: P answers ours);
//   - answers and trickled ICE candidates are applied to the matching offer.
//
// Offers and answers are sealed with the room's key and pass the same
// checks as a tracker's (handleOffer, handleAnswer: dedupe, one SHA-256
// fingerprint bound to the session, MaxConnecting, MaxPeers, MeshHigh), so
// a peer found through a relay is an ordinary peer of the one room. A full
// room (MaxPeers open or the mesh at MeshHigh) is passive: its announcements
// say so and it answers nobody's announcement.
//
// Bounds: relay signals share the room's signal queue (signalQueueSize,
// dropped when full); announcements are answered at most once per peer and
// relay per signalDedupeWindow; each relay has its own reply budget (so a
// relay flooding invented peers spends only its own): relayReplyRate a
// second for directed announcements and peers it announced before (at most
// maxRelayHeard remembered per relay, relayHeardTTL), relayNewRate a second
// for new peers on the room topic; relayOfferRate offers a second are
// taken from each relay (bursts of relayOfferBurst);
// at most maxRelayOffers offers are being made and at most maxRelayOffers
// are out, each for relayOfferTTL (a new one evicts the oldest);
// candidates are taken only for a connection set up through a relay, until
// it opens, at most maxRelayCandidates per connection (maxMDNSCandidates
// .local ones) of which maxPendingCandidates wait for the remote
// description (and for maxEarlyCandidateSets offers not seen yet,
// relayEarlyTTL, the oldest set evicted for a new one); the rest are
// dropped (candidatesDropped).
const (
	maxRelayOffers = 8
	relayOfferTTL  = 30 * time.Second
	// relayOfferRetry: an offer to a peer unanswered for this long no
	// longer stops another (through another relay, maybe: one relay may
	// drop what we send) nor the peer's own offer (Trystero drops an
	// unanswered offer after 0.9 × 5333 ms).
	relayOfferRetry       = 5 * time.Second
	relayReplyRate        = 5 // replies per second and relay: directed announcements, peers heard before
	relayReplyBurst       = 20
	relayNewRate          = 2 // replies per second and relay: new peers on the room topic
	relayNewBurst         = 8
	relayOfferRate        = 5 // offers taken per second and relay
	relayOfferBurst       = 10
	maxRelayHeard         = 256
	relayHeardTTL         = 2 * time.Minute
	maxPendingCandidates  = 16
	maxRelayCandidates    = 32 // trickled candidates taken per connection, in all
	maxMDNSCandidates     = 4  // of which .local (mDNS) ones
	maxEarlyCandidateSets = 32
	relayEarlyTTL         = 10 * time.Second
	relayTick             = time.Second
	relaySendTimeout      = 5 * time.Second
	// relaySendsPerRelay bounds the directed announcements being sent
	// through one relay, off the signal workers (a relay that stopped
	// reading holds each for relaySendTimeout); more are dropped.
	relaySendsPerRelay = 4
)

// RelayStatus describes one relay connection (pkg/nostrsignal).
type RelayStatus = nostrsignal.RelayStatus

// RelayState is the state of a relay connection.
type RelayState = nostrsignal.RelayState

// Relay connection states.
const (
	RelayConnecting = nostrsignal.RelayConnecting
	RelayOpen       = nostrsignal.RelayOpen
	RelayClosed     = nostrsignal.RelayClosed
)

// relaySignals is the relay side of a room; its maps are guarded by Room.mu.
type relaySignals struct {
	client   *nostrsignal.Client
	offers   map[string]*pendingOffer // our offers sent through a relay, by offer id
	offering map[string]bool          // peers an offer is being made for
	early    map[string]*earlyCandidates

	budgetMu sync.Mutex
	budgets  map[string]*relayBudget // by relay URL, one per configured relay

	sending      map[string]chan struct{} // by relay URL: relaySendsPerRelay tokens
	sendsDropped atomic.Uint64            // directed announcements dropped (too many being sent)

	lastActive int // active peers at the last tick (owned by relayLoop)

	candidatesApplied atomic.Uint64 // trickled candidates the platform accepted
	candidatesDropped atomic.Uint64 // trickled candidates refused (route, open, over a bound)
}

// relayBudget is one relay's budget for replies to announcements:
// directed announcements and peers it announced before go first.
type relayBudget struct {
	known, fresh ratelimit.Bucket
	offers       ratelimit.Bucket     // offers taken (each may cost an answer)
	heard        map[string]time.Time // peers announced through this relay (maxRelayHeard)
}

// allow reports whether an announcement from peer (direct: on our own
// topic) may be answered now, and remembers peer.
func (b *relayBudget) allow(peer string, direct bool, now time.Time) bool {
	at, ok := b.heard[peer]
	known := direct || (ok && now.Sub(at) < relayHeardTTL)
	if !ok && len(b.heard) >= maxRelayHeard {
		for id, t := range b.heard {
			if now.Sub(t) >= relayHeardTTL {
				delete(b.heard, id)
			}
		}
		for id := range b.heard {
			if len(b.heard) < maxRelayHeard {
				break
			}
			delete(b.heard, id) // full of live ids (a flood): forget one
		}
	}
	if !ok || known {
		b.heard[peer] = now
	}
	if known {
		return b.known.Allow(now)
	}
	return b.fresh.Allow(now)
}

// earlyCandidates are candidates for an offer we have not handled yet (the
// signal workers may take a candidate before the offer it follows).
type earlyCandidates struct {
	at    time.Time
	key   record.PublicKey // the Nostr key of its first candidate: all must share it
	cands []iceCandidate
}

// relayRoute answers an offer through the relay it came by.
type relayRoute struct {
	r   *Room
	url string
	key record.PublicKey // the Nostr key that signed the offer: its candidates must be signed with it
}

func (rr relayRoute) sendAnswer(ctx context.Context, remote, offerID, sealed string) error {
	return rr.r.relays.client.Send(ctx, rr.url, remote, nostrsignal.Payload{OfferID: offerID, Answer: sealed})
}
func (relayRoute) kind() routeKind { return routeRelay }

// relaySocket adapts a room transport's WebSocket (coder/websocket
// natively, the byte-bounded browser socket in js/wasm) to nostrsignal.Conn.
type relaySocket struct{ s trackerSocket }

func (c relaySocket) Read(ctx context.Context) ([]byte, error) {
	data, text, err := c.s.read(ctx)
	if err != nil {
		return nil, err
	}
	if !text {
		return nil, fmt.Errorf("relay sent a binary message (%d bytes): Nostr relays speak text", len(data))
	}
	return data, nil
}

func (c relaySocket) Write(ctx context.Context, data []byte) error { return c.s.writeText(ctx, data) }
func (c relaySocket) Close() error                                 { return c.s.closeNow() }

// newRelaySignals prepares the relay client of r (nil without relays).
func newRelaySignals(r *Room) (*relaySignals, error) {
	if len(r.cfg.Relays) == 0 {
		return nil, nil
	}
	rs := &relaySignals{
		offers:   make(map[string]*pendingOffer),
		offering: make(map[string]bool),
		early:    make(map[string]*earlyCandidates),
		budgets:  make(map[string]*relayBudget, len(r.cfg.Relays)),
		sending:  make(map[string]chan struct{}, len(r.cfg.Relays)),
	}
	for _, u := range r.cfg.Relays {
		rs.sending[u] = make(chan struct{}, relaySendsPerRelay)
		rs.budgets[u] = &relayBudget{
			known:  ratelimit.New(relayReplyRate, relayReplyBurst),
			fresh:  ratelimit.New(relayNewRate, relayNewBurst),
			offers: ratelimit.New(relayOfferRate, relayOfferBurst),
			heard:  make(map[string]time.Time),
		}
	}
	c, err := nostrsignal.New(nostrsignal.Config{
		Relays: r.cfg.Relays,
		AppID:  r.cfg.AppID,
		Room:   r.cfg.Room,
		PeerID: r.selfID,
		OnSignal: func(s nostrsignal.Signal) {
			r.enqueueSignal(func() { r.handleRelaySignal(s) })
		},
		Dial: func(ctx context.Context, url string, readLimit int64) (nostrsignal.Conn, error) {
			dctx, cancel := context.WithTimeout(ctx, trackerDialTimeout)
			defer cancel()
			s, err := r.net.dial(dctx, url, readLimit)
			if err != nil {
				return nil, err
			}
			return relaySocket{s}, nil
		},
		Warmup:     r.cfg.AnnounceWarmup,
		MinBackoff: r.cfg.TrackerReconnectMin,
		MaxBackoff: r.cfg.TrackerReconnectMax,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	rs.client = c
	return rs, nil
}

// Relays returns the status of every relay connection (none without
// Config.Relays).
func (r *Room) Relays() []RelayStatus {
	if r.relays == nil {
		return []RelayStatus{}
	}
	return r.relays.client.Status()
}

// anyRelayOpen reports whether some relay connection is open.
func (r *Room) anyRelayOpen() bool {
	if r.relays == nil {
		return false
	}
	for _, s := range r.relays.client.Status() {
		if s.State == RelayOpen {
			return true
		}
	}
	return false
}

// relayLoop expires relay offers and early candidates, keeps the passive
// mark in step with the room's slots, and announces again (warm-up) after an
// active peer left, as Trystero does.
func (r *Room) relayLoop() {
	rs := r.relays
	tick := time.NewTicker(relayTick)
	defer tick.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		var stale []*pendingOffer
		r.mu.Lock()
		for id, o := range rs.offers {
			if now.Sub(o.created) > relayOfferTTL {
				stale = append(stale, o)
				delete(rs.offers, id)
			}
		}
		for k, e := range rs.early {
			if now.Sub(e.at) > relayEarlyTTL {
				delete(rs.early, k)
			}
		}
		full := r.relayPassiveLocked()
		active := r.activeCountLocked()
		r.mu.Unlock()
		for _, o := range stale {
			o.discard()
		}
		rs.client.SetPassive(full)
		if active < rs.lastActive && !full {
			rs.client.Reannounce()
		}
		rs.lastActive = active
	}
}

// relayPassiveLocked reports whether the room takes no new peer: MaxPeers
// connections open, or the mesh at MeshHigh.
func (r *Room) relayPassiveLocked() bool {
	return r.openCountLocked() >= r.cfg.MaxPeers || r.meshFullLocked()
}

// relayOfferToLocked reports whether we are making an offer to peer, or
// have one out to it sent less than relayOfferRetry ago.
func (r *Room) relayOfferToLocked(peer string) bool {
	if r.relays == nil {
		return false
	}
	if r.relays.offering[peer] {
		return true
	}
	now := time.Now()
	for _, o := range r.relays.offers {
		if o.to == peer && now.Sub(o.created) < relayOfferRetry {
			return true
		}
	}
	return false
}

// handleRelaySignal handles one verified relay signal on a signal worker.
func (r *Room) handleRelaySignal(s nostrsignal.Signal) {
	if s.PeerID == r.selfID || !wire.IsValidID(s.PeerID) || r.isBanned(s.PeerID) {
		return
	}
	switch s.Kind {
	case nostrsignal.Announce:
		r.relayAnnounced(s)
	case nostrsignal.Offer:
		// Each relay's offers have their own budget: one relay's flood
		// of offers (from invented peers) cannot crowd out another's.
		rs := r.relays
		rs.budgetMu.Lock()
		ok := false
		if b := rs.budgets[s.Relay]; b != nil {
			ok = b.offers.Allow(time.Now())
		}
		rs.budgetMu.Unlock()
		if !ok {
			r.signalsDropped.Add(1)
			r.log.Debug("relay offers beyond the relay's budget: ignoring one", "peer", s.PeerID, "relay", s.Relay)
			return
		}
		r.handleOffer(relayRoute{r: r, url: s.Relay, key: s.PubKey}, &wire.ForwardedOffer{
			Offer: wire.SessionDescription{Type: wire.SDPTypeOffer, SDP: s.Sealed}, OfferID: s.OfferID, PeerID: s.PeerID})
	case nostrsignal.Answer:
		r.handleAnswer(&wire.ForwardedAnswer{
			Answer: wire.SessionDescription{Type: wire.SDPTypeAnswer, SDP: s.Sealed}, OfferID: s.OfferID, PeerID: s.PeerID})
		// The answerer's later candidates must be signed with the key
		// that signed its answer (Trystero uses one key per session).
		r.mu.Lock()
		if p := r.peers[s.PeerID]; p != nil && p.offerID == s.OfferID && p.viaRelay {
			p.mu.Lock()
			if !p.relayKeySet {
				p.relayKey, p.relayKeySet = s.PubKey, true
			}
			p.mu.Unlock()
		}
		r.mu.Unlock()
	case nostrsignal.Candidate:
		r.relayCandidate(s)
	}
}

// relayAnnounced answers an announcement: an offer when our id is the
// smaller, else a directed announcement so that the peer offers. A passive
// peer (full) is left alone: it would answer nobody.
func (r *Room) relayAnnounced(s nostrsignal.Signal) {
	rs := r.relays
	remote := s.PeerID
	if s.Passive {
		return
	}
	r.mu.Lock()
	if r.closed || r.peers[remote] != nil || r.relayOfferToLocked(remote) || r.relayPassiveLocked() {
		r.mu.Unlock()
		return
	}
	lead := r.selfID < remote
	if lead && len(rs.offering) >= maxRelayOffers {
		r.mu.Unlock()
		r.log.Debug("too many relay offers being made: not offering", "peer", remote, "max", maxRelayOffers)
		return
	}
	r.mu.Unlock()
	// Per relay: a relay that forges remote's announcements and drops our
	// replies must not silence the real ones through another relay.
	key := "relay-announce:" + s.Relay + "\x00" + remote
	if r.seen.has(key, time.Now()) {
		return // answered within the window (the warm-up)
	}
	rs.budgetMu.Lock()
	ok := false
	if b := rs.budgets[s.Relay]; b != nil {
		ok = b.allow(remote, s.Direct, time.Now())
	}
	rs.budgetMu.Unlock()
	if !ok {
		r.signalsDropped.Add(1)
		r.log.Debug("relay announcements beyond the relay's reply budget: ignoring one", "peer", remote, "relay", s.Relay)
		return
	}
	r.seen.mark(key, time.Now())
	if !lead {
		// Off the signal worker: a relay that stopped reading must not
		// hold up the tracker's and the mesh's signals.
		sem := rs.sending[s.Relay]
		select {
		case sem <- struct{}{}:
		default:
			rs.sendsDropped.Add(1)
			r.log.Debug("too many directed announcements being sent through a relay: dropping one", "peer", remote, "relay", s.Relay)
			return
		}
		r.wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(r.ctx, relaySendTimeout)
			defer cancel()
			if err := rs.client.Send(ctx, s.Relay, remote, nostrsignal.Payload{}); err != nil {
				r.log.Debug("directed announcement not sent", "peer", remote, "relay", s.Relay, "err", err)
			}
		})
		return
	}
	r.mu.Lock()
	if r.closed || r.peers[remote] != nil || r.relayOfferToLocked(remote) || len(rs.offering) >= maxRelayOffers {
		r.mu.Unlock()
		return
	}
	rs.offering[remote] = true
	r.mu.Unlock()
	r.wg.Go(func() { r.offerThroughRelay(remote, s.Relay) })
}

// offerThroughRelay sends remote a fresh offer through the relay at url.
func (r *Room) offerThroughRelay(remote, url string) {
	rs := r.relays
	ctx, cancel := context.WithTimeout(r.ctx, gatherTimeout+relaySendTimeout)
	defer cancel()
	o, err := r.newOffer(ctx)
	r.mu.Lock()
	delete(rs.offering, remote)
	if err == nil && (r.closed || r.peers[remote] != nil) {
		r.mu.Unlock()
		o.discard()
		return
	}
	var evicted *pendingOffer
	if err == nil {
		o.to, o.relay = remote, url
		if len(rs.offers) >= maxRelayOffers {
			// Full (peers that never answer, maybe invented by a relay):
			// the oldest offer makes room, so that a flood delays honest
			// peers but cannot lock them out.
			for _, x := range rs.offers {
				if evicted == nil || x.created.Before(evicted.created) {
					evicted = x
				}
			}
			delete(rs.offers, evicted.id)
		}
		rs.offers[o.id] = o
	}
	r.mu.Unlock()
	if evicted != nil {
		evicted.discard()
	}
	if err != nil {
		r.log.Debug("failed to create a relay offer", "peer", remote, "err", err)
		return
	}
	sctx, scancel := context.WithTimeout(r.ctx, relaySendTimeout)
	defer scancel()
	// Through every open relay, not only the one the announcement came by:
	// a hostile relay can forge remote's announcement and drop what we
	// send, and must not keep us from reaching remote through another. The
	// sealed offer is the same everywhere; the receiver keeps the first
	// copy (handleOffer's dedupe by offer id, as Trystero's by peer).
	if err := rs.client.Send(sctx, "", remote, nostrsignal.Payload{OfferID: o.id, Offer: o.sealed}); err != nil {
		r.log.Debug("relay offer not sent", "peer", remote, "relay", url, "err", err)
		r.mu.Lock()
		drop := rs.offers[o.id] == o
		delete(rs.offers, o.id)
		r.mu.Unlock()
		if drop {
			o.discard()
		}
		return
	}
	r.log.Debug("offer sent through a relay", "peer", remote, "relay", url, "offer", o.id)
}

// relayCandidate applies a trickled candidate to the connection of its
// offer, or keeps it (bounded) until that connection is ready.
func (r *Room) relayCandidate(s nostrsignal.Signal) {
	text, err := wire.OpenSDP(r.sdpKey, s.Sealed)
	if err != nil {
		return // another password: the offer or answer it follows fails the same way, reported there
	}
	c, err := parseCandidate(text)
	if err != nil {
		r.log.Debug("ignoring a relay candidate", "peer", s.PeerID, "err", err)
		return
	}
	rs := r.relays
	r.mu.Lock()
	if p := r.peers[s.PeerID]; p != nil {
		r.mu.Unlock()
		// Only for a connection set up through a relay (not one a
		// tracker or a mesh peer brought), for its offer, until it opens.
		if !p.viaRelay || p.offerID != s.OfferID || !p.addRemoteCandidate(c, s.PubKey) {
			rs.candidatesDropped.Add(1)
		}
		return
	}
	defer r.mu.Unlock()
	if o := rs.offers[s.OfferID]; o != nil {
		if o.to == s.PeerID && len(o.cands) < maxPendingCandidates && (!c.isMDNS() || countMDNS(o.cands) < maxMDNSCandidates) {
			o.cands = append(o.cands, c)
		} else {
			rs.candidatesDropped.Add(1)
		}
		return
	}
	key := s.PeerID + "\x00" + s.OfferID
	e := rs.early[key]
	if e != nil && e.key != s.PubKey {
		rs.candidatesDropped.Add(1) // signed by another key than the set's first
		return
	}
	if e == nil {
		if len(rs.early) >= maxEarlyCandidateSets {
			// Full (candidates for offers that never come, maybe
			// invented by a relay): the oldest set makes room, so that a
			// flood cannot keep an honest peer's candidates out.
			var oldest string
			for k, x := range rs.early {
				if oldest == "" || x.at.Before(rs.early[oldest].at) {
					oldest = k
				}
			}
			rs.candidatesDropped.Add(uint64(len(rs.early[oldest].cands)))
			delete(rs.early, oldest)
		}
		e = &earlyCandidates{at: time.Now(), key: s.PubKey}
		rs.early[key] = e
	}
	if len(e.cands) < maxPendingCandidates && (!c.isMDNS() || countMDNS(e.cands) < maxMDNSCandidates) {
		e.cands = append(e.cands, c)
	} else {
		rs.candidatesDropped.Add(1)
	}
}

// takeEarlyCandidatesLocked returns (and forgets) the candidates that came
// for the offer offerID of peer before the offer did, if signed with key
// (the offer's).
func (r *Room) takeEarlyCandidatesLocked(peer, offerID string, key record.PublicKey) []iceCandidate {
	if r.relays == nil {
		return nil
	}
	k := peer + "\x00" + offerID
	e := r.relays.early[k]
	if e == nil {
		return nil
	}
	delete(r.relays.early, k)
	if e.key != key {
		r.relays.candidatesDropped.Add(uint64(len(e.cands)))
		return nil
	}
	return e.cands
}

// addRemoteCandidate applies c once the remote description is set; until
// then at most maxPendingCandidates wait. It refuses c (false) once the
// connection is open, or past maxRelayCandidates (maxMDNSCandidates .local
// ones) for the connection.
func (p *Peer) addRemoteCandidate(c iceCandidate, key record.PublicKey) bool {
	p.mu.Lock()
	mdns := c.isMDNS()
	if p.relayKeySet && p.relayKey != key {
		p.mu.Unlock()
		return false // not signed by the key of the peer's offer or answer
	}
	if p.isOpen() || p.candsIn >= maxRelayCandidates || (mdns && p.mdnsIn >= maxMDNSCandidates) {
		p.mu.Unlock()
		return false
	}
	pc := p.pc
	if pc == nil || !p.remoteSet {
		ok := len(p.cands) < maxPendingCandidates
		if ok {
			p.cands = append(p.cands, c)
			p.candsIn++
			if mdns {
				p.mdnsIn++
			}
		}
		p.mu.Unlock()
		return ok
	}
	p.candsIn++
	if mdns {
		p.mdnsIn++
	}
	p.mu.Unlock()
	p.applyCandidates(pc, []iceCandidate{c})
	return true
}

// remoteApplied marks the remote description set and applies the
// candidates that waited for it.
func (p *Peer) remoteApplied() {
	p.mu.Lock()
	p.remoteSet = true
	cands := p.cands
	p.cands = nil
	pc := p.pc
	p.mu.Unlock()
	if len(cands) > 0 && pc != nil {
		p.applyCandidates(pc, cands)
	}
}

func (p *Peer) applyCandidates(pc peerConn, cands []iceCandidate) {
	ctx, cancel := context.WithTimeout(p.ctx, relaySendTimeout)
	defer cancel()
	for _, c := range cands {
		if err := pc.addCandidate(ctx, c); err != nil {
			p.room.log.Debug("remote candidate not applied", "peer", p.id, "err", err)
		} else if rs := p.room.relays; rs != nil {
			rs.candidatesApplied.Add(1)
		}
	}
}
