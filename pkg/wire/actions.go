package wire

import (
	"crypto/sha256"
	"encoding/hex"
)

// Trystero's reserved internal action types (trystero-wire.md §5.4). User
// action types must not start with InternalActionPrefix.
const (
	InternalActionPrefix = "@_"

	ActionPing     = "@_ping"     // payload "" → answered with ActionPong
	ActionPong     = "@_pong"     // payload ""
	ActionLeave    = "@_leave"    // payload "": the peer left this room
	ActionSignal   = "@_signal"   // post-connect renegotiation {type,sdp} (media only)
	ActionStream   = "@_stream"   // media stream metadata
	ActionTrack    = "@_track"    // media track metadata
	ActionHSData   = "@_hsdata"   // handshake data (password challenge/response)
	ActionHSReady  = "@_hsready"  // payload "": the sender's handshake passed
	ActionResponse = "@_response" // replies to request-style actions
)

// Values of the "__trystero_pw" field in ActionHSData payloads.
const (
	PasswordHandshakeChallenge = "challenge"
	PasswordHandshakeResponse  = "response"
)

// PasswordHandshakeMessage is the JSON payload of an ActionHSData message in
// Trystero's password handshake: {"__trystero_pw":"challenge","c":...} from
// the initiator (lower peer id), {"__trystero_pw":"response","h":...} back.
type PasswordHandshakeMessage struct {
	Kind      string `json:"__trystero_pw"`
	Challenge string `json:"c,omitempty"`
	Hash      string `json:"h,omitempty"`
}

// PasswordHandshakeHash is the responder's proof of the room password:
// hex(SHA-256(challenge + ":" + password + ":" + appID + ":" + room)).
func PasswordHandshakeHash(challenge, password, appID, room string) string {
	sum := sha256.Sum256([]byte(challenge + ":" + password + ":" + appID + ":" + room))
	return hex.EncodeToString(sum[:])
}

// IsHandshakeInitiator reports whether the local peer starts the password
// handshake with a remote peer: the one with the lower id (byte order, the
// same as JavaScript's string comparison for ASCII ids).
func IsHandshakeInitiator(selfID, remoteID string) bool {
	return selfID < remoteID
}
