package swarm

// Tests without the network, run natively and under js/wasm.

import (
	"strings"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/wire"
)

// TestMeshSignalBudget: a vouched mesh peer sending mesh signals past its
// budget has the surplus dropped (not queued for the signal workers) with one
// violation a second; an unvouched peer's signals and exchanges are ignored
// without a violation; learnt members stay bounded.
func TestMeshSignalBudget(t *testing.T) {
	r := testRoom(t, Config{DormantNeedsVouch: true})
	mk := func(name byte, vouched bool) *Peer {
		p := newPeer(r, strings.Repeat(string(name), wire.IDLength), false)
		p.state.Store(int32(PeerActive))
		p.vouched.Store(vouched)
		return p
	}
	flooder, stranger := mk('f', true), mk('s', false)
	sig, _ := JSONMessage(wire.ActionMeshSignal, wire.MeshSignal{Kind: wire.SDPTypeOffer, From: flooder.id, To: strings.Repeat("z", wire.IDLength),
		OfferID: strings.Repeat("o", wire.IDLength), SDP: "x", TTL: 1})
	for range 3 * meshSignalBurst {
		r.onMeshMessage(flooder, sig)
	}
	if n := len(r.signals); n > meshSignalBurst+1 {
		t.Errorf("%d mesh signals queued, want at most the burst %d", n, meshSignalBurst)
	}
	if v := flooder.violations.Load(); v != 1 {
		t.Errorf("%d violations for one second of flood, want 1", v)
	}
	for len(r.signals) > 0 {
		<-r.signals
	}
	r.onMeshMessage(stranger, sig)
	pex, _ := JSONMessage(wire.ActionPeerExchange, wire.PeerExchange{Peers: []string{strings.Repeat("m", wire.IDLength)}})
	r.onMeshMessage(stranger, pex)
	if len(r.signals) != 0 || stranger.violations.Load() != 0 || len(r.KnownMembers()) != 0 {
		t.Error("an unvouched peer's mesh messages were used or struck")
	}
	// Members learnt from exchanges stay within maxKnownPeers.
	now := time.Now()
	for i := range maxKnownPeers + 50 {
		id := []byte(strings.Repeat("k", wire.IDLength))
		id[0], id[1] = byte('A'+i%26), byte('A'+i/26)
		r.learnPeers(flooder.id, []string{string(id)}, now.Add(time.Duration(i)))
	}
	if n := len(r.KnownMembers()); n != maxKnownPeers {
		t.Errorf("%d known members, want the bound %d", n, maxKnownPeers)
	}
}
