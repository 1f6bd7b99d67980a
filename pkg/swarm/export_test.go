package swarm

import (
	"context"
	"errors"
	"time"

	"github.com/peersetdb/peerset/pkg/wire"
)

// Hooks for the external tests of this package.

// SetHandshakePasswordForTest makes the password challenge use pw while the
// SDPs stay sealed with c.Password.
func SetHandshakePasswordForTest(c *Config, pw string) { c.handshakePassword = &pw }

// SetFastFailureDetectionForTest shortens ICE and disconnect timeouts so a
// silently dead peer is noticed within about two seconds.
func SetFastFailureDetectionForTest(c *Config) {
	c.iceDisconnectedTimeout = time.Second
	c.iceFailedTimeout = 4 * time.Second
	c.iceKeepaliveInterval = 200 * time.Millisecond
	c.disconnectedTimeout = time.Second
}

// SendRawForTest writes data to the peer's data channel as one binary message.
func SendRawForTest(ctx context.Context, p *Peer, data []byte) error {
	return p.sendFrames(ctx, data)
}

// SendTextForTest writes s to the peer's data channel as a text message.
func SendTextForTest(p *Peer, s string) error {
	p.mu.Lock()
	dc := p.dc
	p.mu.Unlock()
	pc, ok := dc.(platformChannel)
	if !ok {
		return errors.New("not a platform data channel")
	}
	return pc.sendText(s)
}

// RoomTokenOf returns the room token the room frames with.
func RoomTokenOf(r *Room) string { return r.token }

// InjectOfferForTest makes r handle a forwarded offer as if its first
// tracker had relayed it.
func InjectOfferForTest(r *Room, fromPeerID, offerID, sealedSDP string) error {
	data, err := wire.EncodeTrackerMessage(&wire.ForwardedOffer{
		Action:   wire.TrackerActionAnnounce,
		Offer:    wire.SessionDescription{Type: wire.SDPTypeOffer, SDP: sealedSDP},
		OfferID:  offerID,
		PeerID:   fromPeerID,
		InfoHash: r.infoHash,
	})
	if err != nil {
		return err
	}
	r.trackers[0].dispatch(data)
	return nil
}

// ConnectingPeersForTest counts r's connections whose data channel is not
// open yet.
func ConnectingPeersForTest(r *Room) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, p := range r.peers {
		if p.State() == PeerConnecting {
			n++
		}
	}
	return n
}

// PartialBytesForTest returns the bytes p's reassembler holds in partial
// messages.
func PartialBytesForTest(p *Peer) int { return int(p.partialBytes.Load()) }

// RelayQueuesForTest returns what r holds for relay signalling: offers out,
// offers being made, and offers whose candidates came first.
func RelayQueuesForTest(r *Room) (offers, offering, early int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.relays == nil {
		return 0, 0, 0
	}
	return len(r.relays.offers), len(r.relays.offering), len(r.relays.early)
}

// RelayLimitsForTest returns maxRelayOffers and maxEarlyCandidateSets.
func RelayLimitsForTest() (offers, early int) { return maxRelayOffers, maxEarlyCandidateSets }

// CandidatesAppliedForTest counts the trickled candidates r applied.
func CandidatesAppliedForTest(r *Room) uint64 {
	if r.relays == nil {
		return 0
	}
	return r.relays.candidatesApplied.Load()
}

// PeerOfferIDForTest returns the offer id of p's exchange.
func PeerOfferIDForTest(p *Peer) string { return p.offerID }

// CandidatesDroppedForTest counts the trickled candidates r refused.
func CandidatesDroppedForTest(r *Room) uint64 {
	if r.relays == nil {
		return 0
	}
	return r.relays.candidatesDropped.Load()
}

// SignalsDroppedForTest counts the signals r dropped as its queue was full.
func SignalsDroppedForTest(r *Room) uint64 { return r.signalsDropped.Load() }
