package swarm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/peersetdb/peerset/pkg/wire"
)

// pendingOffer is one of our outstanding offers: a peer connection with its
// data channel, waiting for an answer through a tracker.
type pendingOffer struct {
	id          string
	pc          peerConn
	dc          dataChannel
	fingerprint string // of our local SDP (sdpFingerprint)
	sealed      string
	created     time.Time
	// Offers sent through a relay go to one peer (to) by one relay, and
	// keep the candidates that peer trickles before its answer is handled
	// (at most maxPendingCandidates; guarded by Room.mu).
	to, relay string
	cands     []iceCandidate
}

func (o *pendingOffer) discard() {
	if err := o.pc.close(); err != nil {
		_ = err // nothing was connected; closing cannot matter
	}
}

// newOffer creates a peer connection with Trystero's data channel and a
// complete (non-trickle) sealed offer.
func (r *Room) newOffer(ctx context.Context) (*pendingOffer, error) {
	id, err := wire.NewOfferID()
	if err != nil {
		return nil, err
	}
	pc, err := r.newPeerConnection()
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*pendingOffer, error) {
		_ = pc.close()
		return nil, err
	}
	dc, localSDP, err := pc.createOffer(ctx)
	if err != nil {
		return fail(err)
	}
	fp, err := sdpFingerprint(localSDP)
	if err != nil {
		return fail(fmt.Errorf("failed to create offer: our own %w", err))
	}
	sealed, err := wire.SealSDP(r.sdpKey, localSDP)
	if err != nil {
		return fail(err)
	}
	return &pendingOffer{id: id, pc: pc, dc: dc, fingerprint: fp, sealed: sealed, created: time.Now()}, nil
}

// announceOffers prepares an announce: it prunes old offers, tops the pool
// up to offerPoolSize and returns the offers to send, or passive=true when
// the room should announce without offers (dormant or full).
func (r *Room) announceOffers(ctx context.Context) (offers []wire.TrackerOffer, passive bool) {
	r.fillMu.Lock()
	defer r.fillMu.Unlock()

	r.mu.Lock()
	var stale []*pendingOffer
	now := time.Now()
	wants := r.wantsOffersLocked()
	for id, o := range r.offers {
		if !wants || now.Sub(o.created) > offerRetention {
			stale = append(stale, o)
			delete(r.offers, id)
		}
	}
	missing := r.offerPoolLocked() - len(r.offers)
	r.mu.Unlock()
	for _, o := range stale {
		o.discard()
	}
	if !wants {
		return nil, true
	}

	if missing > 0 {
		fresh := make([]*pendingOffer, missing)
		var wg sync.WaitGroup
		for i := range fresh {
			wg.Go(func() {
				o, err := r.newOffer(ctx)
				if err != nil {
					r.log.Debug("failed to create offer", "err", err)
					return
				}
				fresh[i] = o
			})
		}
		wg.Wait()
		r.mu.Lock()
		keep := r.wantsOffersLocked()
		for _, o := range fresh {
			if o == nil {
				continue
			}
			if keep {
				r.offers[o.id] = o
			} else {
				stale = append(stale, o)
			}
		}
		r.mu.Unlock()
		if !keep {
			for _, o := range stale {
				o.discard()
			}
			return nil, true
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.offers {
		offers = append(offers, wire.TrackerOffer{OfferID: o.id, Offer: wire.SessionDescription{Type: wire.SDPTypeOffer, SDP: o.sealed}})
	}
	return offers, false
}

// offerPoolLocked is how many offers the room keeps out: offerPoolSize,
// and no more than the mesh peers it lacks below the low watermark,
// counting the connections being set up, so that offers answered together
// do not overshoot the mesh (each answered offer is a connection the room
// initiated). 0 means none until a connection fails or a peer leaves.
func (r *Room) offerPoolLocked() int {
	if r.cfg.DormantAfterPeers <= 0 {
		return offerPoolSize
	}
	have := r.activeCountLocked()
	for _, p := range r.peers {
		if s := p.State(); s == PeerConnecting || s == PeerHandshaking {
			have++
		}
	}
	return max(0, min(offerPoolSize, r.cfg.DormantAfterPeers-have))
}

// signalDedupe remembers the forwarded offers handled recently: several
// trackers forward the same offer, and trackers forward it again on every
// re-announce. A map answers lookups and a ring keeps the entries in arrival
// order, so that every operation costs O(1) whatever the flood: entries
// older than the window leave from the front, and when the ring is full the
// oldest entry makes room. Forgetting an entry early only means handling a
// duplicate again, which the checks after it catch. It is safe for
// concurrent use.
type signalDedupe struct {
	mu     sync.Mutex
	window time.Duration
	seen   map[string]time.Time
	ring   []dedupeEntry // circular: n entries from head
	head   int
	n      int
}

type dedupeEntry struct {
	key string
	at  time.Time
}

func newSignalDedupe(capacity int, window time.Duration) *signalDedupe {
	return &signalDedupe{window: window, seen: make(map[string]time.Time, capacity), ring: make([]dedupeEntry, capacity)}
}

// mark records key at now and reports whether it is new: not seen within
// the window.
func (d *signalDedupe) mark(key string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.n > 0 && now.Sub(d.ring[d.head].at) >= d.window {
		d.popLocked()
	}
	if at, ok := d.seen[key]; ok && now.Sub(at) < d.window {
		return false
	}
	if d.n == len(d.ring) {
		d.popLocked()
	}
	d.ring[(d.head+d.n)%len(d.ring)] = dedupeEntry{key: key, at: now}
	d.n++
	d.seen[key] = now
	return true
}

func (d *signalDedupe) popLocked() {
	e := d.ring[d.head]
	if at, ok := d.seen[e.key]; ok && at.Equal(e.at) {
		delete(d.seen, e.key)
	}
	d.ring[d.head] = dedupeEntry{}
	d.head = (d.head + 1) % len(d.ring)
	d.n--
}

// has reports whether key was marked within the window, without marking it.
func (d *signalDedupe) has(key string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	at, ok := d.seen[key]
	return ok && now.Sub(at) < d.window
}

// len returns how many entries are remembered.
func (d *signalDedupe) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen)
}

// handleOffer answers another peer's forwarded offer, following Trystero's
// rules: never answer a peer we are already connected to or answering, and
// answer only if our id is greater or we have no outstanding offers (the
// glare rule: otherwise the other peer answers ours).
//
// It costs O(1) per offer, and an offer that cannot be used (sealed with
// another password, seen already, from a banned peer, with a refused
// fingerprint) is dropped before Room.mu is taken. Answering starts a
// connection: at most MaxConnecting of them are set up at once (the oldest
// makes room) and none when MaxPeers connections are open or the mesh has
// MeshHigh peers (counting the connections being set up).
func (r *Room) handleOffer(route answerRoute, m *wire.ForwardedOffer) {
	remote := m.PeerID
	if remote == r.selfID {
		return
	}
	remoteSDP, err := wire.OpenSDP(r.sdpKey, m.Offer.SDP)
	if err != nil {
		r.reportJoinError(remote, fmt.Errorf("failed to open offer: %w", err))
		return
	}
	if !r.seen.mark(wire.SDPTypeOffer+":"+m.OfferID+":"+remote, time.Now()) || r.isBanned(remote) {
		return
	}
	remoteFP, err := sdpFingerprint(remoteSDP)
	if err != nil {
		r.reportJoinError(remote, fmt.Errorf("refused offer %s: %w", m.OfferID, err))
		return
	}
	if err := r.sdpOrigins.check(remoteFP, sdpICEUfrag(remoteSDP), remote, m.OfferID, time.Now()); err != nil {
		r.reportJoinError(remote, fmt.Errorf("refused offer %s: %w", m.OfferID, err))
		return
	}

	r.mu.Lock()
	switch {
	case r.closed, r.peers[remote] != nil:
		r.mu.Unlock()
		return
	case r.openCountLocked() >= r.cfg.MaxPeers:
		r.mu.Unlock()
		r.log.Debug("room full: not answering offer", "peer", remote)
		return
	case r.meshFullLocked():
		r.mu.Unlock()
		r.log.Debug("mesh full: not answering offer", "peer", remote, "mesh_high", r.cfg.MeshHigh)
		return
	case route.kind() == routeRelay && r.selfID < remote && r.relayOfferToLocked(remote):
		// Glare through a relay: we offered to this peer too, and the
		// smaller id's offer wins (Trystero's rule): it answers ours.
		r.mu.Unlock()
		r.log.Debug("leaving relay offer to the glare rule", "peer", remote)
		return
	case route.kind() == routeTracker && r.selfID < remote && len(r.offers) > 0:
		// The other peer answers our offers: make sure it gets some soon
		// (not too often, whatever the number of newcomers).
		kick := time.Since(r.glareKickAt) >= glareKickSpacing
		if kick {
			r.glareKickAt = time.Now()
		}
		r.mu.Unlock()
		r.log.Debug("leaving offer to the glare rule", "peer", remote, "reannounce", kick)
		if kick {
			r.kickAnnounce()
		}
		return
	}
	preempted := r.makeRoomToConnectLocked()
	p := r.newPeerLocked(remote, false)
	p.offerID = m.OfferID
	if route.kind() == routeRelay {
		p.viaRelay = true
		rr, _ := route.(relayRoute)
		p.relayKey, p.relayKeySet = rr.key, true
		p.cands = r.takeEarlyCandidatesLocked(remote, m.OfferID, rr.key)
		p.candsIn = len(p.cands)
	}
	r.wg.Go(func() {
		p.run(func(ctx context.Context) error { return p.answer(ctx, route, m.OfferID, remoteSDP, remoteFP) })
	})
	r.mu.Unlock()

	if preempted != nil {
		preempted.close(ErrConnectPreempted, false)
	}
	r.log.Debug("answering offer", "peer", remote, "offer", m.OfferID)
}

// handleAnswer connects one of our offers to the peer that answered it.
func (r *Room) handleAnswer(m *wire.ForwardedAnswer) {
	remote := m.PeerID
	if remote == r.selfID {
		return
	}
	r.mu.Lock()
	o := r.offerLocked(m.OfferID)
	r.mu.Unlock()
	if o == nil || (o.to != "" && o.to != remote) || r.isBanned(remote) {
		return
	}
	remoteSDP, err := wire.OpenSDP(r.sdpKey, m.Answer.SDP)
	if err != nil {
		r.reportJoinError(remote, fmt.Errorf("failed to open answer: %w", err))
		return
	}
	remoteFP, err := sdpFingerprint(remoteSDP)
	if err != nil {
		r.reportJoinError(remote, fmt.Errorf("refused answer to offer %s: %w", m.OfferID, err))
		return
	}

	r.mu.Lock()
	if r.closed || r.offerLocked(m.OfferID) != o {
		r.mu.Unlock()
		return
	}
	if r.openCountLocked() >= r.cfg.MaxPeers {
		r.mu.Unlock()
		r.log.Debug("room full: not connecting an answered offer", "peer", remote)
		return
	}
	var replaced *Peer
	if existing := r.peers[remote]; existing != nil {
		// Two connections to one peer (both answered the other's offer):
		// keep the one offered by the lower id, which both sides agree on.
		// An open connection is kept whatever it is.
		if existing.offerer || existing.isOpen() || r.selfID > remote {
			r.mu.Unlock()
			r.log.Debug("ignoring answer from a peer we are connecting to", "peer", remote)
			return
		}
		replaced = existing
		delete(r.peers, remote)
	}
	r.deleteOfferLocked(o)
	preempted := r.makeRoomToConnectLocked()
	p := r.newPeerLocked(remote, true)
	p.offerID = o.id
	p.viaRelay = o.relay != ""
	p.cands, o.cands = o.cands, nil
	p.candsIn = len(p.cands)
	r.wg.Go(func() {
		p.run(func(ctx context.Context) error { return p.connectOffer(ctx, o, remoteSDP, remoteFP) })
	})
	r.mu.Unlock()

	if replaced != nil {
		replaced.close(ErrPeerReplaced, false)
	}
	if preempted != nil {
		preempted.close(ErrConnectPreempted, false)
	}
	r.log.Debug("offer answered", "peer", remote, "offer", o.id)
	if o.to == "" {
		// Replace the claimed offer soon, while warming up or steady.
		r.kickAnnounce()
	}
}

// offerLocked finds one of our outstanding offers: the tracker pool (and
// mesh dials), or the offers sent through a relay.
func (r *Room) offerLocked(id string) *pendingOffer {
	if o := r.offers[id]; o != nil {
		return o
	}
	if r.relays != nil {
		return r.relays.offers[id]
	}
	return nil
}

// deleteOfferLocked forgets o, wherever it is kept.
func (r *Room) deleteOfferLocked(o *pendingOffer) {
	if r.offers[o.id] == o {
		delete(r.offers, o.id)
	}
	if r.relays != nil && r.relays.offers[o.id] == o {
		delete(r.relays.offers, o.id)
	}
}

// A sealed offer can be lifted from its message and sent again under
// another peer id or offer id (a relay re-signs it with its own Nostr key;
// a tracker forwards what it likes): each answer to it costs a connection
// slot, and the DTLS handshake fails only later. The pair (DTLS
// fingerprint, ICE ufrag) names one offering connection, so an offer SDP
// seen with another peer or offer id within sdpReplayWindow is refused. An
// honest peer sending the same offer again sends it with the same ids.
const (
	sdpReplayWindow = 5 * time.Minute
	maxSDPOrigins   = 4096
)

// errReplayedOffer is the error of an offer SDP seen under other ids.
var errReplayedOffer = errors.New("offer SDP seen before from another peer or offer id (replayed)")

type sdpOrigin struct {
	peer, offerID string
	at            time.Time
}

// sdpOrigins remembers, for maxSDPOrigins offer SDPs at most and
// sdpReplayWindow each, the peer and offer id each came with.
type sdpOrigins struct {
	mu sync.Mutex
	m  map[string]sdpOrigin
}

// check records the origin of an offer SDP and refuses one seen under
// other ids. An SDP without ice-ufrag (MemNet's) is not checked.
func (o *sdpOrigins) check(fp, ufrag, peer, offerID string, now time.Time) error {
	if ufrag == "" {
		return nil
	}
	key := fp + " " + ufrag
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = make(map[string]sdpOrigin)
	}
	if was, ok := o.m[key]; ok && now.Sub(was.at) < sdpReplayWindow {
		if was.peer != peer || was.offerID != offerID {
			return errReplayedOffer
		}
		return nil
	}
	if len(o.m) >= maxSDPOrigins {
		for k, v := range o.m {
			if now.Sub(v.at) >= sdpReplayWindow {
				delete(o.m, k)
			}
		}
		for k := range o.m {
			if len(o.m) < maxSDPOrigins {
				break
			}
			delete(o.m, k) // full of fresh ones (a flood): forget one
		}
	}
	o.m[key] = sdpOrigin{peer: peer, offerID: offerID, at: now}
	return nil
}

// sdpICEUfrag returns the first a=ice-ufrag value of sdp ("" without one).
func sdpICEUfrag(sdp string) string {
	for line := range strings.Lines(sdp) {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "a=ice-ufrag:"); ok {
			return v
		}
	}
	return ""
}
