package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// WebTorrent WebSocket tracker messages as Trystero uses them
// (trystero-wire.md §2). Every client message is an "announce"; struct field
// order is wire key order: action, info_hash, peer_id, then the payload.

// TrackerActionAnnounce is the only tracker action Trystero uses.
const TrackerActionAnnounce = "announce"

// MaxTrackerMessageSize bounds what the decoders accept.
const MaxTrackerMessageSize = 1 << 20

var (
	// ErrMalformedTrackerMessage means a tracker message is not valid JSON
	// of the expected shape.
	ErrMalformedTrackerMessage = errors.New("malformed tracker message")
	// ErrUnknownTrackerAction means a message names an action other than
	// "announce".
	ErrUnknownTrackerAction = errors.New("invalid action")
	// ErrInvalidInfoHash means info_hash is missing or not 20 ASCII characters.
	ErrInvalidInfoHash = errors.New("invalid info_hash")
	// ErrInvalidPeerID means peer_id is missing or not 20 ASCII characters.
	ErrInvalidPeerID = errors.New("invalid peer_id")
	// ErrInvalidToPeerID means an answer lacks a valid to_peer_id.
	ErrInvalidToPeerID = errors.New("invalid `to_peer_id` (required with `answer`)")
	// ErrInvalidOfferID means an offer or answer lacks a valid offer_id.
	ErrInvalidOfferID = errors.New("invalid offer_id")
	// ErrInvalidSessionDescription means an offer or answer has no SDP.
	ErrInvalidSessionDescription = errors.New("invalid session description")
)

// SessionDescription is an offer or answer as it travels through the
// tracker. SDP is the sealed text (see SealSDP); Type stays in plain text.
type SessionDescription struct {
	Type string `json:"type"`
	SDP  string `json:"sdp"`
}

// Session description types.
const (
	SDPTypeOffer  = "offer"
	SDPTypeAnswer = "answer"
)

// TrackerOffer is one entry of an announce's offers.
type TrackerOffer struct {
	OfferID string             `json:"offer_id"`
	Offer   SessionDescription `json:"offer"`
}

// TrackerMessage is any message of the tracker protocol, in either direction.
type TrackerMessage interface {
	validate() error
}

// OfferAnnounce is a peer's periodic announce carrying its offers
// (trystero-wire.md §2.2). A passive peer sets Left to 0 and sends no offers.
type OfferAnnounce struct {
	Action   string         `json:"action"`
	InfoHash string         `json:"info_hash"`
	PeerID   string         `json:"peer_id"`
	Left     *int64         `json:"left,omitempty"`
	Numwant  int            `json:"numwant"`
	Offers   []TrackerOffer `json:"offers"`
}

// NewOfferAnnounce builds an announce with Trystero's numwant (the number of
// offers).
func NewOfferAnnounce(infoHash, peerID string, offers []TrackerOffer) *OfferAnnounce {
	if offers == nil {
		offers = []TrackerOffer{}
	}
	return &OfferAnnounce{Action: TrackerActionAnnounce, InfoHash: infoHash, PeerID: peerID, Numwant: len(offers), Offers: offers}
}

func (m *OfferAnnounce) validate() error {
	if err := checkEnvelope(m.Action, m.InfoHash, m.PeerID); err != nil {
		return err
	}
	return checkOffers(m.Offers)
}

// AnswerAnnounce answers a forwarded offer (trystero-wire.md §2.4). The
// tracker forwards it to ToPeerID and sends no reply.
type AnswerAnnounce struct {
	Action   string             `json:"action"`
	InfoHash string             `json:"info_hash"`
	PeerID   string             `json:"peer_id"`
	Answer   SessionDescription `json:"answer"`
	OfferID  string             `json:"offer_id"`
	ToPeerID string             `json:"to_peer_id"`
}

// NewAnswerAnnounce builds an answer announce.
func NewAnswerAnnounce(infoHash, peerID, toPeerID, offerID string, answer SessionDescription) *AnswerAnnounce {
	return &AnswerAnnounce{Action: TrackerActionAnnounce, InfoHash: infoHash, PeerID: peerID, Answer: answer, OfferID: offerID, ToPeerID: toPeerID}
}

func (m *AnswerAnnounce) validate() error {
	if err := checkEnvelope(m.Action, m.InfoHash, m.PeerID); err != nil {
		return err
	}
	if !IsValidID(m.ToPeerID) {
		return ErrInvalidToPeerID
	}
	if !IsValidID(m.OfferID) {
		return ErrInvalidOfferID
	}
	return checkSessionDescription(m.Answer)
}

// AnnounceRequest is any client announce as a tracker reads it: offers, an
// answer, both or neither. Fields the tracker ignores (numwant, uploaded,
// ...) are dropped.
type AnnounceRequest struct {
	Action   string              `json:"action"`
	InfoHash string              `json:"info_hash"`
	PeerID   string              `json:"peer_id"`
	Event    string              `json:"event,omitempty"`
	Left     json.RawMessage     `json:"left,omitempty"`
	Offers   []TrackerOffer      `json:"offers,omitempty"`
	Answer   *SessionDescription `json:"answer,omitempty"`
	OfferID  string              `json:"offer_id,omitempty"`
	ToPeerID string              `json:"to_peer_id,omitempty"`
}

// Seeding reports whether the peer announced left=0 (a passive Trystero
// peer, a "complete" peer in tracker terms). A number 0 or the string "0"
// counts; anything else, or no "left", does not.
func (m *AnnounceRequest) Seeding() bool {
	left := bytes.TrimSpace(m.Left)
	if len(left) == 0 {
		return false
	}
	if left[0] == '"' {
		var s string
		if json.Unmarshal(left, &s) != nil {
			return false
		}
		left = []byte(s)
	}
	f, err := strconv.ParseFloat(string(left), 64)
	return err == nil && f == 0
}

func (m *AnnounceRequest) validate() error {
	if err := checkEnvelope(m.Action, m.InfoHash, m.PeerID); err != nil {
		return err
	}
	if err := checkOffers(m.Offers); err != nil {
		return err
	}
	if m.Answer != nil {
		if !IsValidID(m.ToPeerID) {
			return ErrInvalidToPeerID
		}
		if !IsValidID(m.OfferID) {
			return ErrInvalidOfferID
		}
	}
	return nil
}

// AnnounceReply is the tracker's reply to an announce that carried no answer.
type AnnounceReply struct {
	Complete       int    `json:"complete"`
	Incomplete     int    `json:"incomplete"`
	Action         string `json:"action"`
	Interval       int    `json:"interval"`
	InfoHash       string `json:"info_hash"`
	WarningMessage string `json:"warning message,omitempty"`
}

func (m *AnnounceReply) validate() error {
	if m.Action != TrackerActionAnnounce {
		return fmt.Errorf("%w: %q", ErrUnknownTrackerAction, m.Action)
	}
	if !IsValidID(m.InfoHash) {
		return ErrInvalidInfoHash
	}
	if m.Complete < 0 || m.Incomplete < 0 || m.Interval < 0 {
		return fmt.Errorf("%w: negative count or interval", ErrMalformedTrackerMessage)
	}
	return nil
}

// ForwardedOffer is another peer's offer, relayed by the tracker. PeerID is
// the offerer.
type ForwardedOffer struct {
	Action   string             `json:"action"`
	Offer    SessionDescription `json:"offer"`
	OfferID  string             `json:"offer_id"`
	PeerID   string             `json:"peer_id"`
	InfoHash string             `json:"info_hash"`
}

func (m *ForwardedOffer) validate() error {
	if err := checkEnvelope(m.Action, m.InfoHash, m.PeerID); err != nil {
		return err
	}
	if !IsValidID(m.OfferID) {
		return ErrInvalidOfferID
	}
	return checkSessionDescription(m.Offer)
}

// ForwardedAnswer is an answer to one of our offers, relayed by the
// tracker. PeerID is the answerer.
type ForwardedAnswer struct {
	Action   string             `json:"action"`
	Answer   SessionDescription `json:"answer"`
	OfferID  string             `json:"offer_id"`
	PeerID   string             `json:"peer_id"`
	InfoHash string             `json:"info_hash"`
}

func (m *ForwardedAnswer) validate() error {
	if err := checkEnvelope(m.Action, m.InfoHash, m.PeerID); err != nil {
		return err
	}
	if !IsValidID(m.OfferID) {
		return ErrInvalidOfferID
	}
	return checkSessionDescription(m.Answer)
}

// TrackerFailure is the tracker's error reply. Action and InfoHash are set
// when the failure concerns a valid request.
type TrackerFailure struct {
	Action        string `json:"action,omitempty"`
	FailureReason string `json:"failure reason"`
	InfoHash      string `json:"info_hash,omitempty"`
}

func (m *TrackerFailure) validate() error {
	if m.FailureReason == "" {
		return fmt.Errorf("%w: empty failure reason", ErrMalformedTrackerMessage)
	}
	return nil
}

// TrackerWarning is a tracker warning that comes without a reply.
type TrackerWarning struct {
	Action         string `json:"action,omitempty"`
	WarningMessage string `json:"warning message"`
	InfoHash       string `json:"info_hash,omitempty"`
}

func (m *TrackerWarning) validate() error {
	if m.WarningMessage == "" {
		return fmt.Errorf("%w: empty warning message", ErrMalformedTrackerMessage)
	}
	return nil
}

func checkEnvelope(action, infoHash, peerID string) error {
	if action != TrackerActionAnnounce {
		return fmt.Errorf("%w: %q", ErrUnknownTrackerAction, action)
	}
	if !IsValidID(infoHash) {
		return ErrInvalidInfoHash
	}
	if !IsValidID(peerID) {
		return ErrInvalidPeerID
	}
	return nil
}

func checkOffers(offers []TrackerOffer) error {
	for i, o := range offers {
		if !IsValidID(o.OfferID) {
			return fmt.Errorf("%w in offer %d", ErrInvalidOfferID, i)
		}
		if err := checkSessionDescription(o.Offer); err != nil {
			return fmt.Errorf("%w in offer %d", err, i)
		}
	}
	return nil
}

func checkSessionDescription(d SessionDescription) error {
	if d.Type == "" || d.SDP == "" {
		return fmt.Errorf("%w: needs type and sdp", ErrInvalidSessionDescription)
	}
	return nil
}

// EncodeTrackerMessage validates m and encodes it as the JSON text of one
// WebSocket message.
func EncodeTrackerMessage(m TrackerMessage) ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("failed to encode tracker message: %w", err)
	}
	out, err := MarshalJSValue(m)
	if err != nil {
		return nil, fmt.Errorf("failed to encode tracker message: %w", err)
	}
	return out, nil
}

// DecodeAnnounceRequest decodes and validates a client → tracker message.
// Errors wrap one of the Err* sentinels of this file; their text is
// suitable as a "failure reason".
func DecodeAnnounceRequest(data []byte) (*AnnounceRequest, error) {
	if len(data) > MaxTrackerMessageSize {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformedTrackerMessage, MaxTrackerMessageSize)
	}
	var m AnnounceRequest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedTrackerMessage, err)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// trackerEnvelope has the discriminating keys of tracker → client messages.
type trackerEnvelope struct {
	FailureReason  *string          `json:"failure reason"`
	WarningMessage *string          `json:"warning message"`
	Offer          *json.RawMessage `json:"offer"`
	Answer         *json.RawMessage `json:"answer"`
	Interval       *json.RawMessage `json:"interval"`
	Complete       *json.RawMessage `json:"complete"`
	Incomplete     *json.RawMessage `json:"incomplete"`
}

// DecodeTrackerReply decodes and validates a tracker → client message. The
// result is one of *TrackerFailure, *ForwardedOffer, *ForwardedAnswer,
// *AnnounceReply or *TrackerWarning.
func DecodeTrackerReply(data []byte) (TrackerMessage, error) {
	if len(data) > MaxTrackerMessageSize {
		return nil, fmt.Errorf("failed to decode tracker reply: %w: longer than %d bytes", ErrMalformedTrackerMessage, MaxTrackerMessageSize)
	}
	var env trackerEnvelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("failed to decode tracker reply: %w: %v", ErrMalformedTrackerMessage, err)
	}
	var m TrackerMessage
	switch {
	case env.FailureReason != nil:
		m = &TrackerFailure{}
	case env.Offer != nil:
		m = &ForwardedOffer{}
	case env.Answer != nil:
		m = &ForwardedAnswer{}
	case env.Interval != nil || env.Complete != nil || env.Incomplete != nil:
		m = &AnnounceReply{}
	case env.WarningMessage != nil:
		m = &TrackerWarning{}
	default:
		return nil, fmt.Errorf("failed to decode tracker reply: %w: unknown message shape", ErrMalformedTrackerMessage)
	}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("failed to decode tracker reply: %w: %v", ErrMalformedTrackerMessage, err)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("failed to decode tracker reply: %w", err)
	}
	return m, nil
}
