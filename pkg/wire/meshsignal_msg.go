package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Messages of signalling through the mesh (docs/protocol.md 2, "Signalling
// through the mesh"), internal actions of peerset rooms sent only to mesh
// peers the application vouched for. Both are JSON payloads.
const (
	// ActionMeshSignal carries a sealed offer or answer for a room member
	// over the mesh: {"kind","from","to","offer_id","sdp","ttl"}.
	ActionMeshSignal = "@_msig"
	// ActionPeerExchange lists some of the sender's mesh peers, members the
	// receiver can reach through it: {"peers":[id…]}.
	ActionPeerExchange = "@_pex"
)

// Bounds of the mesh signalling messages.
const (
	// MaxMeshSignalTTL is the most relays a mesh signal may still pass.
	MaxMeshSignalTTL = 2
	// MaxMeshSDPBytes bounds the sealed SDP of a mesh signal.
	MaxMeshSDPBytes = 32 << 10
	// MaxExchangePeers bounds the ids of a peer exchange.
	MaxExchangePeers = 16
	// maxMeshSignalBytes and maxExchangeBytes bound the payloads.
	maxMeshSignalBytes = MaxMeshSDPBytes + 512
	maxExchangeBytes   = 64 + MaxExchangePeers*(IDLength+3)
)

// ErrBadMeshSignal wraps every refusal of a malformed mesh signal or peer
// exchange.
var ErrBadMeshSignal = errors.New("malformed mesh signalling message")

// MeshSignal is a sealed offer or answer travelling through the mesh: From
// is the peer that made it, To the peer it is for, TTL the relays it may
// still pass. SDP is sealed exactly as on a tracker (SealSDP).
type MeshSignal struct {
	Kind    string `json:"kind"` // SDPTypeOffer or SDPTypeAnswer
	From    string `json:"from"`
	To      string `json:"to"`
	OfferID string `json:"offer_id"`
	SDP     string `json:"sdp"`
	TTL     int    `json:"ttl"`
}

// PeerExchange lists members reachable through the sender.
type PeerExchange struct {
	Peers []string `json:"peers"`
}

func decodeStrict(payload []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}

// DecodeMeshSignal reads and checks a mesh signal payload.
func DecodeMeshSignal(payload []byte) (MeshSignal, error) {
	var m MeshSignal
	if len(payload) > maxMeshSignalBytes {
		return m, fmt.Errorf("%w: %d bytes, over %d", ErrBadMeshSignal, len(payload), maxMeshSignalBytes)
	}
	if err := decodeStrict(payload, &m); err != nil {
		return m, fmt.Errorf("%w: %w", ErrBadMeshSignal, err)
	}
	switch {
	case m.Kind != SDPTypeOffer && m.Kind != SDPTypeAnswer:
		return m, fmt.Errorf("%w: kind %.16q", ErrBadMeshSignal, m.Kind)
	case !IsValidID(m.From) || !IsValidID(m.To) || !IsValidID(m.OfferID):
		return m, fmt.Errorf("%w: from, to and offer_id must be %d-character ids", ErrBadMeshSignal, IDLength)
	case m.From == m.To:
		return m, fmt.Errorf("%w: from and to are the same peer", ErrBadMeshSignal)
	case m.SDP == "" || len(m.SDP) > MaxMeshSDPBytes:
		return m, fmt.Errorf("%w: sealed SDP of %d bytes (1..%d)", ErrBadMeshSignal, len(m.SDP), MaxMeshSDPBytes)
	case m.TTL < 0 || m.TTL > MaxMeshSignalTTL:
		return m, fmt.Errorf("%w: ttl %d outside 0..%d", ErrBadMeshSignal, m.TTL, MaxMeshSignalTTL)
	}
	return m, nil
}

// DecodePeerExchange reads and checks a peer exchange payload.
func DecodePeerExchange(payload []byte) (PeerExchange, error) {
	var m PeerExchange
	if len(payload) > maxExchangeBytes {
		return m, fmt.Errorf("%w: peer exchange of %d bytes, over %d", ErrBadMeshSignal, len(payload), maxExchangeBytes)
	}
	if err := decodeStrict(payload, &m); err != nil {
		return m, fmt.Errorf("%w: %w", ErrBadMeshSignal, err)
	}
	if len(m.Peers) > MaxExchangePeers {
		return m, fmt.Errorf("%w: %d peers, over %d", ErrBadMeshSignal, len(m.Peers), MaxExchangePeers)
	}
	for i, id := range m.Peers {
		if !IsValidID(id) || slices.Contains(m.Peers[:i], id) {
			return m, fmt.Errorf("%w: peer %d is not a distinct %d-character id", ErrBadMeshSignal, i, IDLength)
		}
	}
	return m, nil
}
