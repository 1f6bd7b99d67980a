package swarm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// pendingOffer is one of our outstanding offers: a peer connection with its
// data channel, waiting for an answer through a tracker.
type pendingOffer struct {
	id      string
	pc      *webrtc.PeerConnection
	dc      *webrtc.DataChannel
	sdp     string // our local SDP, plain
	sealed  string
	created time.Time
}

func (o *pendingOffer) discard() {
	if err := o.pc.Close(); err != nil {
		_ = err // nothing was connected; closing cannot matter
	}
}

// waitGathering waits until ICE gathering of pc is complete, at most
// gatherTimeout (then the SDP carries what was gathered, as in Trystero).
func waitGathering(ctx context.Context, gathered <-chan struct{}) error {
	t := time.NewTimer(gatherTimeout)
	defer t.Stop()
	select {
	case <-gathered:
		return nil
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("failed to gather ICE candidates: %w", ctx.Err())
	}
}

// newOffer creates a peer connection with Trystero's data channel and a
// complete (non-trickle) sealed offer.
func (r *Room) newOffer(ctx context.Context) (*pendingOffer, error) {
	id, err := NewOfferID()
	if err != nil {
		return nil, err
	}
	pc, err := r.newPeerConnection()
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*pendingOffer, error) {
		_ = pc.Close()
		return nil, err
	}
	dc, err := pc.CreateDataChannel("data", nil)
	if err != nil {
		return fail(fmt.Errorf("failed to create data channel: %w", err))
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fail(fmt.Errorf("failed to create offer: %w", err))
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return fail(fmt.Errorf("failed to set local offer: %w", err))
	}
	if err := waitGathering(ctx, gathered); err != nil {
		return fail(err)
	}
	local := pc.LocalDescription()
	if local == nil {
		return fail(errors.New("failed to create offer: no local description"))
	}
	sealed, err := SealSDP(r.sdpKey, local.SDP)
	if err != nil {
		return fail(err)
	}
	return &pendingOffer{id: id, pc: pc, dc: dc, sdp: local.SDP, sealed: sealed, created: time.Now()}, nil
}

// announceOffers prepares an announce: it prunes old offers, tops the pool
// up to offerPoolSize and returns the offers to send, or passive=true when
// the room should announce without offers (dormant or full).
func (r *Room) announceOffers(ctx context.Context) (offers []TrackerOffer, passive bool) {
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
	missing := offerPoolSize - len(r.offers)
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
		offers = append(offers, TrackerOffer{OfferID: o.id, Offer: SessionDescription{Type: SDPTypeOffer, SDP: o.sealed}})
	}
	return offers, false
}

// markSignalSeen records a forwarded offer and reports whether it is new:
// several trackers forward the same offer, and trackers forward it again on
// every re-announce.
func (r *Room) markSignalSeen(kind, offerID, peerID string) bool {
	key := kind + ":" + offerID + ":" + peerID
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if at, ok := r.seenSignals[key]; ok && now.Sub(at) < signalDedupeWindow {
		return false
	}
	r.seenSignals[key] = now
	if len(r.seenSignals) > 256 {
		for k, at := range r.seenSignals {
			if now.Sub(at) > 6*signalDedupeWindow {
				delete(r.seenSignals, k)
			}
		}
	}
	return true
}

// handleOffer answers another peer's forwarded offer, following Trystero's
// rules: never answer a peer we are already connected to or answering, and
// answer only if our id is greater or we have no outstanding offers (the
// glare rule: otherwise the other peer answers ours).
func (r *Room) handleOffer(t *trackerClient, m *ForwardedOffer) {
	remote := m.PeerID
	if remote == r.selfID || !r.markSignalSeen(SDPTypeOffer, m.OfferID, remote) || r.isBanned(remote) {
		return
	}
	remoteSDP, err := OpenSDP(r.sdpKey, m.Offer.SDP)
	if err != nil {
		r.reportJoinError(remote, fmt.Errorf("failed to open offer: %w", err))
		return
	}

	r.mu.Lock()
	switch {
	case r.closed, r.peers[remote] != nil, len(r.peers) >= r.cfg.MaxPeers:
		r.mu.Unlock()
		return
	case r.selfID < remote && len(r.offers) > 0:
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
	p := r.newPeerLocked(remote, false)
	r.mu.Unlock()

	r.log.Debug("answering offer", "peer", remote, "offer", m.OfferID)
	p.run(func(ctx context.Context) error { return p.answer(ctx, t, m.OfferID, remoteSDP) })
}

// handleAnswer connects one of our offers to the peer that answered it.
func (r *Room) handleAnswer(m *ForwardedAnswer) {
	remote := m.PeerID
	if remote == r.selfID {
		return
	}
	r.mu.Lock()
	o := r.offers[m.OfferID]
	r.mu.Unlock()
	if o == nil || r.isBanned(remote) {
		return
	}
	remoteSDP, err := OpenSDP(r.sdpKey, m.Answer.SDP)
	if err != nil {
		r.reportJoinError(remote, fmt.Errorf("failed to open answer: %w", err))
		return
	}

	r.mu.Lock()
	if r.closed || r.offers[m.OfferID] != o {
		r.mu.Unlock()
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
	if len(r.peers) >= r.cfg.MaxPeers {
		r.mu.Unlock()
		return
	}
	delete(r.offers, o.id)
	p := r.newPeerLocked(remote, true)
	r.mu.Unlock()

	if replaced != nil {
		replaced.close(ErrPeerReplaced, false)
	}
	r.log.Debug("offer answered", "peer", remote, "offer", o.id)
	p.run(func(context.Context) error { return p.connectOffer(o, remoteSDP) })
	// Replace the claimed offer soon, while warming up or steady.
	r.kickAnnounce()
}
