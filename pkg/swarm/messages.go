package swarm

import "github.com/peersetdb/peerset/pkg/wire"

// ActionMessage is one action message that Peer.Send sends and a handler
// registered with Room.Handle receives (pkg/wire has its codecs).
type ActionMessage = wire.ActionMessage

// StringMessage builds a message carrying a JS string (wire.StringMessage).
func StringMessage(typ, s string) ActionMessage { return wire.StringMessage(typ, s) }

// BinaryMessage builds a message carrying bytes (wire.BinaryMessage).
func BinaryMessage(typ string, b []byte) ActionMessage { return wire.BinaryMessage(typ, b) }

// JSONMessage builds a message carrying v as JSON, encoded like
// JSON.stringify (wire.JSONMessage).
func JSONMessage(typ string, v any) (ActionMessage, error) { return wire.JSONMessage(typ, v) }

// Errors of sending and receiving action messages that Peer.Send returns or
// OnViolation reports; they are pkg/wire's, named here for errors.Is. The
// other errors of malformed frames and chunks are pkg/wire's too
// (wire.ErrMalformedFrame, wire.ErrMalformedChunk, …).
var (
	// ErrMessageTooLarge means a message is over Config.MaxMessageBytes.
	ErrMessageTooLarge = wire.ErrMessageTooLarge
	// ErrActionRejected means the peer refused our Trystero 0.26 offer.
	ErrActionRejected = wire.ErrActionRejected
	// ErrActionCancelled means a Trystero 0.26 transfer ended unfinished.
	ErrActionCancelled = wire.ErrActionCancelled
	// ErrIncompatibleActionWire means a peer changed its action framing
	// more than once.
	ErrIncompatibleActionWire = wire.ErrIncompatibleActionWire
	// ErrWrongPassword means a peer's sealed SDP did not open with the
	// room password: it is in the same room under another password.
	ErrWrongPassword = wire.ErrWrongPassword
)
