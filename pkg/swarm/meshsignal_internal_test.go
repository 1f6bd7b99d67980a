package swarm

// Tests without the network, run natively and under js/wasm.

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecodeMeshSignal(t *testing.T) {
	a, b, o := strings.Repeat("a", IDLength), strings.Repeat("b", IDLength), strings.Repeat("o", IDLength)
	good := MeshSignal{Kind: SDPTypeOffer, From: a, To: b, OfferID: o, SDP: "1,2$abc", TTL: 1}
	enc := func(m any) []byte { b, _ := json.Marshal(m); return b }
	if got, err := DecodeMeshSignal(enc(good)); err != nil || got != good {
		t.Fatalf("good signal: %+v, %v", got, err)
	}
	with := func(f func(m *MeshSignal)) []byte { m := good; f(&m); return enc(m) }
	bad := map[string][]byte{
		"kind":          with(func(m *MeshSignal) { m.Kind = "pranswer" }),
		"short from":    with(func(m *MeshSignal) { m.From = "x" }),
		"to self":       with(func(m *MeshSignal) { m.To = m.From }),
		"bad offer id":  with(func(m *MeshSignal) { m.OfferID = strings.Repeat("é", 10) }),
		"empty sdp":     with(func(m *MeshSignal) { m.SDP = "" }),
		"huge sdp":      with(func(m *MeshSignal) { m.SDP = strings.Repeat("x", MaxMeshSDPBytes+1) }),
		"ttl too high":  with(func(m *MeshSignal) { m.TTL = MaxMeshSignalTTL + 1 }),
		"negative ttl":  with(func(m *MeshSignal) { m.TTL = -1 }),
		"unknown field": []byte(`{"kind":"offer","x":1}`),
		"not JSON":      []byte(`offer`),
		"trailing data": append(enc(good), []byte(`{}`)...),
	}
	for name, p := range bad {
		if _, err := DecodeMeshSignal(p); !errors.Is(err, ErrBadMeshSignal) {
			t.Errorf("%s: %v, want ErrBadMeshSignal", name, err)
		}
	}
}

func TestDecodePeerExchange(t *testing.T) {
	id := func(c byte) string { return strings.Repeat(string(c), IDLength) }
	if m, err := DecodePeerExchange([]byte(`{"peers":["` + id('a') + `","` + id('b') + `"]}`)); err != nil || len(m.Peers) != 2 {
		t.Fatalf("good exchange: %+v, %v", m, err)
	}
	var many []string
	for i := range MaxExchangePeers + 1 {
		many = append(many, id(byte('A'+i)))
	}
	manyJSON, _ := json.Marshal(PeerExchange{Peers: many})
	for name, p := range map[string][]byte{
		"duplicate":     []byte(`{"peers":["` + id('a') + `","` + id('a') + `"]}`),
		"bad id":        []byte(`{"peers":["short"]}`),
		"too many":      manyJSON,
		"unknown field": []byte(`{"peers":[],"more":1}`),
	} {
		if _, err := DecodePeerExchange(p); !errors.Is(err, ErrBadMeshSignal) {
			t.Errorf("%s: %v, want ErrBadMeshSignal", name, err)
		}
	}
}

// TestMeshSignalBudget: a vouched mesh peer sending mesh signals past its
// budget has the surplus dropped (not queued for the signal workers) with one
// violation a second; an unvouched peer's signals and exchanges are ignored
// without a violation; learnt members stay bounded.
func TestMeshSignalBudget(t *testing.T) {
	r := testRoom(t, Config{DormantNeedsVouch: true})
	mk := func(name byte, vouched bool) *Peer {
		p := newPeer(r, strings.Repeat(string(name), IDLength), false)
		p.state.Store(int32(PeerActive))
		p.vouched.Store(vouched)
		return p
	}
	flooder, stranger := mk('f', true), mk('s', false)
	sig, _ := JSONMessage(ActionMeshSignal, MeshSignal{Kind: SDPTypeOffer, From: flooder.id, To: strings.Repeat("z", IDLength),
		OfferID: strings.Repeat("o", IDLength), SDP: "x", TTL: 1})
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
	pex, _ := JSONMessage(ActionPeerExchange, PeerExchange{Peers: []string{strings.Repeat("m", IDLength)}})
	r.onMeshMessage(stranger, pex)
	if len(r.signals) != 0 || stranger.violations.Load() != 0 || len(r.KnownMembers()) != 0 {
		t.Error("an unvouched peer's mesh messages were used or struck")
	}
	// Members learnt from exchanges stay within maxKnownPeers.
	now := time.Now()
	for i := range maxKnownPeers + 50 {
		id := []byte(strings.Repeat("k", IDLength))
		id[0], id[1] = byte('A'+i%26), byte('A'+i/26)
		r.learnPeers(flooder.id, []string{string(id)}, now.Add(time.Duration(i)))
	}
	if n := len(r.KnownMembers()); n != maxKnownPeers {
		t.Errorf("%d known members, want the bound %d", n, maxKnownPeers)
	}
}
