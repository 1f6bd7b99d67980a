package wire

// Tests of the mesh signalling codecs.

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
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
