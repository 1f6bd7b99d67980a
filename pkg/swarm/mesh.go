package swarm

import (
	"cmp"
	"errors"
	"math/rand/v2"
	"slices"
	"time"
)

// The bounded mesh (issue 11): a room keeps between DormantAfterPeers (low)
// and MeshHigh mesh peers, aiming at MeshDegree. Below low it offers
// connections to the trackers (warm-up, then steady announces); at low and
// above it announces passively and only answers the offers of others; at
// MeshHigh it answers none; above MeshHigh (connections set up at the same
// time, or a full mesh lowered) it prunes down to MeshDegree. Mesh peers are
// the active peers, or with DormantNeedsVouch the ones the application
// vouched for: a connection that never passes the application's handshake
// (a plain Trystero peer in a peerset room) never counts, and the
// application ends it (the peerset session's handshake timeout).

// ErrPruned is the reason of a peer closed because the mesh had more than
// MeshHigh peers.
var ErrPruned = errors.New("pruned: the mesh has enough peers")

// ErrNotVouched is the reason of a peer closed because the application did not
// vouch for it within Config.VouchTimeout (DormantNeedsVouch).
var ErrNotVouched = errors.New("not vouched for in time: the peer never passed the application's handshake")

// meshCandidate is what pruning knows of one mesh peer.
type meshCandidate struct {
	p          *Peer
	rtt        time.Duration // 0: not measured yet
	activeAt   time.Time
	violations uint64
}

// choosePrune returns the candidates to close so that keep of them remain:
// peers with violations go first; of the others, half of keep (rounded up)
// are kept by lowest round-trip time (unmeasured last, then the oldest), the
// rest at random. It returns nil when there are keep or fewer.
func choosePrune(cands []meshCandidate, keep int, rng *rand.Rand) []meshCandidate {
	if len(cands) <= keep {
		return nil
	}
	clean := make([]meshCandidate, 0, len(cands))
	var struck []meshCandidate
	for _, c := range cands {
		if c.violations > 0 {
			struck = append(struck, c)
		} else {
			clean = append(clean, c)
		}
	}
	slices.SortFunc(clean, func(a, b meshCandidate) int {
		ra, rb := a.rtt, b.rtt
		if ra <= 0 {
			ra = time.Duration(1<<63 - 1)
		}
		if rb <= 0 {
			rb = time.Duration(1<<63 - 1)
		}
		if c := cmp.Compare(ra, rb); c != 0 {
			return c
		}
		return a.activeAt.Compare(b.activeAt)
	})
	byRTT := min((keep+1)/2, len(clean))
	rest := clean[byRTT:]
	rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	// Struck peers are kept only when the clean ones are too few.
	slices.SortFunc(struck, func(a, b meshCandidate) int { return cmp.Compare(a.violations, b.violations) })
	ordered := append(clean, struck...)
	return ordered[keep:]
}

// meshPeersLocked lists the mesh peers (see activeCountLocked).
func (r *Room) meshPeersLocked() []*Peer {
	var out []*Peer
	for _, p := range r.peers {
		if p.State() == PeerActive && (!r.cfg.DormantNeedsVouch || p.vouched.Load()) {
			out = append(out, p)
		}
	}
	return out
}

// meshFullLocked reports whether the room has MeshHigh peers already, counting
// every connection in progress: it then answers no offer.
func (r *Room) meshFullLocked() bool {
	if r.cfg.MeshHigh < 0 {
		return false
	}
	n := 0
	for _, p := range r.peers {
		switch p.State() {
		case PeerConnecting, PeerHandshaking:
			n++
		case PeerActive:
			if !r.cfg.DormantNeedsVouch || p.vouched.Load() {
				n++
			}
		}
	}
	return n >= r.cfg.MeshHigh
}

// meshLoop checks the mesh every MeshInterval and when a peer becomes a mesh
// peer, until the room closes.
func (r *Room) meshLoop() {
	if r.cfg.MeshHigh < 0 && (!r.cfg.DormantNeedsVouch || r.cfg.VouchTimeout < 0) && !r.meshSignalling() {
		return
	}
	tick := time.NewTicker(r.cfg.MeshInterval)
	defer tick.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-tick.C:
		case <-r.meshKick:
		}
		r.pruneMesh()
		r.meshSignalTick()
	}
}

// kickMesh asks the mesh loop for a check soon.
func (r *Room) kickMesh() {
	select {
	case r.meshKick <- struct{}{}:
	default:
	}
}

// pruneMesh closes mesh peers above MeshHigh, down to MeshDegree (never
// below the low watermark: MeshDegree is at least DormantAfterPeers), and,
// with DormantNeedsVouch, the active peers left unvouched for VouchTimeout.
func (r *Room) pruneMesh() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	peers := r.meshPeersLocked()
	var stale []*Peer
	if r.cfg.DormantNeedsVouch && r.cfg.VouchTimeout > 0 {
		for _, p := range r.peers {
			if p.State() != PeerActive || p.vouched.Load() {
				continue
			}
			p.mu.Lock()
			at := p.activeAt
			p.mu.Unlock()
			if !at.IsZero() && time.Since(at) >= r.cfg.VouchTimeout {
				stale = append(stale, p)
			}
		}
	}
	r.mu.Unlock()
	for _, p := range stale {
		r.log.Debug("closing a peer never vouched for", "peer", p.id, "vouch_timeout", r.cfg.VouchTimeout)
		p.close(ErrNotVouched, true)
	}
	if r.cfg.MeshHigh < 0 || len(peers) <= r.cfg.MeshHigh {
		return
	}
	cands := make([]meshCandidate, 0, len(peers))
	for _, p := range peers {
		p.mu.Lock()
		c := meshCandidate{p: p, rtt: p.rtt, activeAt: p.activeAt, violations: p.violations.Load()}
		p.mu.Unlock()
		cands = append(cands, c)
	}
	r.meshRandMu.Lock()
	victims := choosePrune(cands, r.cfg.MeshDegree, r.meshRand)
	r.meshRandMu.Unlock()
	r.pruned.Add(uint64(len(victims)))
	r.log.Debug("pruning the mesh", "peers", len(peers), "high", r.cfg.MeshHigh, "keep", r.cfg.MeshDegree, "pruned", len(victims))
	for _, c := range victims {
		c.p.close(ErrPruned, true)
	}
}

// MeshStats describes a room's mesh.
type MeshStats struct {
	// Peers counts the mesh peers: active, and vouched for with
	// DormantNeedsVouch.
	Peers int
	// Low, Degree and High are the configured bounds (DormantAfterPeers,
	// MeshDegree, MeshHigh).
	Low, Degree, High int
	// Pruned counts the peers closed because the mesh had more than High.
	Pruned uint64
	// Known counts the members reachable through a mesh peer (peer
	// exchange); MeshDials the offers sent through the mesh, MeshAnswers
	// the answers sent back through it to offers that came that way.
	Known       int
	MeshDials   uint64
	MeshAnswers uint64
}

// Mesh returns the state of the room's mesh.
func (r *Room) Mesh() MeshStats {
	r.mu.Lock()
	n := len(r.meshPeersLocked())
	r.mu.Unlock()
	r.knownMu.Lock()
	known := len(r.known)
	r.knownMu.Unlock()
	return MeshStats{Peers: n, Low: r.cfg.DormantAfterPeers, Degree: r.cfg.MeshDegree, High: r.cfg.MeshHigh, Pruned: r.pruned.Load(),
		Known: known, MeshDials: r.meshDials.Load(), MeshAnswers: r.meshAnswers.Load()}
}
