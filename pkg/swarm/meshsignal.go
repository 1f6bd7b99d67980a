package swarm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/peersetdb/peerset/pkg/wire"
)

// Signalling through the mesh (issue 11): once a room holds a mesh peer, it
// learns from each mesh peer some of that peer's own mesh peers (a peer
// exchange, @_pex) and can reach those members without a tracker: it sends
// them a sealed offer through the mesh peer (@_msig, relayed at most
// wire.MaxMeshSignalTTL times), and their sealed answer comes back the same way.
// Offers and answers are sealed exactly as on a tracker (wire.SealSDP with the
// room's key) and pass the same checks (one SHA-256 fingerprint, the
// password, the dedupe), so the connection that follows is an ordinary one:
// the Trystero handshake, then the application's (the peerset session binds
// its handshake to the DTLS fingerprints, so a relay that rewrote an SDP
// gets a connection that fails authentication). A room dials through the
// mesh while it has fewer than DormantAfterPeers mesh peers, or fewer than
// MeshDegree when no tracker is open; so with every tracker gone the room
// heals and grows through its members.
//
// It runs only with DormantNeedsVouch (a peerset room) and only between
// vouched mesh peers: messages from other peers are ignored, and plain
// Trystero peers are never sent any. Each peer may send meshSignalRate
// messages per second (bursts of meshSignalBurst); more are dropped, with a
// violation at most once a second.
const (
	meshSignalRate  = 10
	meshSignalBurst = 40
	maxKnownPeers   = 256              // members remembered as reachable
	meshDialBackoff = 30 * time.Second // one dial per member per this
	maxDialsPerTick = 2
	pexSpacing      = 5 * time.Second // at most one peer exchange per this
	meshSendTimeout = 5 * time.Second
)

// ErrMeshSignalFlood is the violation of a peer sending mesh signalling
// messages beyond its budget.
var ErrMeshSignalFlood = errors.New("mesh signalling messages beyond the rate limit")

type knownPeer struct {
	via string // the mesh peer that reported it
	at  time.Time
}

// answerRoute sends our sealed answer back to the peer that offered.
type answerRoute interface {
	sendAnswer(ctx context.Context, remote, offerID, sealed string) error
	kind() routeKind // where the offer came from
}

// routeKind says where an offer came from: the glare rule differs.
type routeKind int

const (
	routeTracker routeKind = iota
	routeMesh
	routeRelay
)

type trackerRoute struct{ t *trackerClient }

func (tr trackerRoute) sendAnswer(ctx context.Context, remote, offerID, sealed string) error {
	r := tr.t.room
	return tr.t.send(ctx, wire.NewAnswerAnnounce(r.infoHash, r.selfID, remote, offerID, wire.SessionDescription{Type: wire.SDPTypeAnswer, SDP: sealed}))
}
func (trackerRoute) kind() routeKind { return routeTracker }

type meshRoute struct {
	r   *Room
	via string
}

func (mr meshRoute) sendAnswer(ctx context.Context, remote, offerID, sealed string) error {
	err := mr.r.sendMeshSignal(ctx, mr.via, wire.MeshSignal{Kind: wire.SDPTypeAnswer, From: mr.r.selfID, To: remote, OfferID: offerID, SDP: sealed, TTL: wire.MaxMeshSignalTTL})
	if err == nil {
		mr.r.meshAnswers.Add(1)
	}
	return err
}
func (meshRoute) kind() routeKind { return routeMesh }

// meshSignalling reports whether the room signals through the mesh.
func (r *Room) meshSignalling() bool {
	return r.cfg.DormantNeedsVouch && !r.cfg.DisableMeshSignalling
}

// isMeshPeer reports whether p is a mesh peer: active, and vouched for with
// DormantNeedsVouch.
func (r *Room) isMeshPeer(p *Peer) bool {
	return p.State() == PeerActive && (!r.cfg.DormantNeedsVouch || p.vouched.Load())
}

// onMeshMessage handles @_msig and @_pex on the peer's goroutine: budget,
// decode, then learn the members or queue the signal for a signal worker.
func (r *Room) onMeshMessage(p *Peer, msg ActionMessage) {
	if !r.meshSignalling() || !r.isMeshPeer(p) {
		return // like any other internal action a data-only peer does not use
	}
	now := time.Now()
	if !p.meshBudget.Allow(now) {
		if now.Sub(p.meshFloodAt) >= time.Second {
			p.meshFloodAt = now
			p.violation(ErrMeshSignalFlood)
		}
		return
	}
	switch msg.Type {
	case wire.ActionPeerExchange:
		m, err := wire.DecodePeerExchange(msg.Payload)
		if err != nil {
			p.violation(err)
			return
		}
		r.learnPeers(p.id, m.Peers, now)
	case wire.ActionMeshSignal:
		m, err := wire.DecodeMeshSignal(msg.Payload)
		if err != nil {
			p.violation(err)
			return
		}
		via := p.id
		r.enqueueSignal(func() { r.handleMeshSignal(via, m) })
	}
}

// learnPeers remembers members reachable through via.
func (r *Room) learnPeers(via string, ids []string, now time.Time) {
	r.knownMu.Lock()
	defer r.knownMu.Unlock()
	for _, id := range ids {
		if id == r.selfID || id == via {
			continue
		}
		if _, ok := r.known[id]; !ok && len(r.known) >= maxKnownPeers {
			oldest, oldestAt := "", now
			for k, v := range r.known {
				if v.at.Before(oldestAt) || oldest == "" {
					oldest, oldestAt = k, v.at
				}
			}
			delete(r.known, oldest)
		}
		r.known[id] = knownPeer{via: via, at: now}
	}
}

// handleMeshSignal takes a signal for us, or relays it one hop closer.
func (r *Room) handleMeshSignal(via string, m wire.MeshSignal) {
	if m.From == r.selfID || !r.seen.mark("mesh:"+m.Kind+":"+m.OfferID+":"+m.From, time.Now()) || r.isBanned(m.From) {
		return
	}
	if m.To == r.selfID {
		sd := wire.SessionDescription{Type: m.Kind, SDP: m.SDP}
		if m.Kind == wire.SDPTypeOffer {
			r.handleOffer(meshRoute{r: r, via: via}, &wire.ForwardedOffer{Offer: sd, OfferID: m.OfferID, PeerID: m.From})
		} else {
			r.handleAnswer(&wire.ForwardedAnswer{Answer: sd, OfferID: m.OfferID, PeerID: m.From})
		}
		return
	}
	if m.TTL == 0 || m.To == via {
		return
	}
	m.TTL--
	ctx, cancel := context.WithTimeout(r.ctx, meshSendTimeout)
	defer cancel()
	if err := r.sendMeshSignal(ctx, m.To, m); err != nil {
		r.log.Debug("mesh signal not relayed", "from", m.From, "to", m.To, "err", err)
	}
}

// sendMeshSignal sends m to the mesh peer to.
func (r *Room) sendMeshSignal(ctx context.Context, to string, m wire.MeshSignal) error {
	r.mu.Lock()
	p := r.peers[to]
	r.mu.Unlock()
	if p == nil || !r.isMeshPeer(p) {
		return fmt.Errorf("%s is no mesh peer of ours", to)
	}
	msg, err := JSONMessage(wire.ActionMeshSignal, m)
	if err != nil {
		return err
	}
	return p.sendMessage(ctx, msg)
}

// meshSignalTick runs with every mesh check: a peer exchange when the mesh
// changed (or every pexInterval), and dials through the mesh when the room
// has too few mesh peers.
func (r *Room) meshSignalTick() {
	if !r.meshSignalling() {
		return
	}
	now := time.Now()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	mesh := r.meshPeersLocked()
	connected := make(map[string]bool, len(r.peers))
	for id := range r.peers {
		connected[id] = true
	}
	r.mu.Unlock()
	if len(mesh) == 0 {
		return
	}
	ids := make([]string, len(mesh))
	for i, p := range mesh {
		ids[i] = p.id
	}
	slices.Sort(ids)
	r.exchangePeers(now, mesh, ids)

	need := r.cfg.DormantAfterPeers - len(mesh)
	if !r.anyTrackerOpen() {
		need = r.cfg.MeshDegree - len(mesh)
	}
	if need <= 0 {
		return
	}
	inMesh := make(map[string]bool, len(ids))
	for _, id := range ids {
		inMesh[id] = true
	}
	type cand struct{ id, via string }
	var cands []cand
	r.knownMu.Lock()
	for id, k := range r.known {
		switch {
		case !inMesh[k.via]:
			delete(r.known, id) // unreachable: the peer that reported it is gone
		case connected[id] || now.Sub(r.dialed[id]) < meshDialBackoff:
		default:
			cands = append(cands, cand{id, k.via})
		}
	}
	for id, at := range r.dialed {
		if now.Sub(at) >= meshDialBackoff {
			delete(r.dialed, id)
		}
	}
	r.meshRandMu.Lock()
	r.meshRand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	r.meshRandMu.Unlock()
	cands = cands[:min(len(cands), need, maxDialsPerTick)]
	for _, c := range cands {
		r.dialed[c.id] = now
	}
	r.knownMu.Unlock()
	for _, c := range cands {
		if r.isBanned(c.id) {
			continue
		}
		r.wg.Go(func() { r.dialViaMesh(c.id, c.via) })
	}
}

// exchangePeers tells every mesh peer some of our other mesh peers when the
// mesh changed since the last exchange, at most once per pexSpacing: a
// settled room exchanges nothing.
func (r *Room) exchangePeers(now time.Time, mesh []*Peer, ids []string) {
	sig := strings.Join(ids, ",")
	r.knownMu.Lock()
	due := sig != r.pexSig && now.Sub(r.lastPex) >= pexSpacing
	if due {
		r.pexSig, r.lastPex = sig, now
	}
	r.knownMu.Unlock()
	if !due || len(mesh) < 2 {
		return
	}
	for _, p := range mesh {
		others := make([]string, 0, len(ids)-1)
		for _, id := range ids {
			if id != p.id {
				others = append(others, id)
			}
		}
		r.meshRandMu.Lock()
		r.meshRand.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
		r.meshRandMu.Unlock()
		msg, err := JSONMessage(wire.ActionPeerExchange, wire.PeerExchange{Peers: others[:min(len(others), wire.MaxExchangePeers)]})
		if err != nil {
			continue
		}
		r.wg.Go(func() {
			ctx, cancel := context.WithTimeout(p.ctx, meshSendTimeout)
			defer cancel()
			_ = p.sendMessage(ctx, msg)
		})
	}
}

// anyTrackerOpen reports whether some tracker or relay connection is open.
func (r *Room) anyTrackerOpen() bool {
	if r.anyRelayOpen() {
		return true
	}
	for _, t := range r.trackers {
		if t.status().State == TrackerOpen {
			return true
		}
	}
	return false
}

// dialViaMesh offers a connection to target through the mesh peer via.
func (r *Room) dialViaMesh(target, via string) {
	ctx, cancel := context.WithTimeout(r.ctx, gatherTimeout)
	defer cancel()
	o, err := r.newOffer(ctx)
	if err != nil {
		r.log.Debug("failed to create a mesh offer", "err", err)
		return
	}
	r.mu.Lock()
	if r.closed || r.peers[target] != nil {
		r.mu.Unlock()
		o.discard()
		return
	}
	r.offers[o.id] = o
	r.mu.Unlock()
	r.meshDials.Add(1)
	if err := r.sendMeshSignal(ctx, via, wire.MeshSignal{Kind: wire.SDPTypeOffer, From: r.selfID, To: target, OfferID: o.id, SDP: o.sealed, TTL: 1}); err != nil {
		r.log.Debug("mesh offer not sent", "to", target, "via", via, "err", err)
		return // the offer is replaced after offerRetention like any other
	}
	r.log.Debug("offer sent through the mesh", "to", target, "via", via, "offer", o.id)
}

// KnownMembers returns the ids of the members the room can reach through a
// mesh peer (peer exchange), sorted.
func (r *Room) KnownMembers() []string {
	r.knownMu.Lock()
	out := make([]string, 0, len(r.known))
	for id := range r.known {
		out = append(out, id)
	}
	r.knownMu.Unlock()
	slices.Sort(out)
	return out
}
