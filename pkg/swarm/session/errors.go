package session

import (
	"errors"
	"fmt"
)

// Errors that callers may test with errors.Is. A session's close reason and the
// errors returned by Manager methods wrap one of them.
var (
	// ErrBanned: the peer (by transport id or by public key) is banned by the
	// strike ledger, so it is disconnected and refused until the ban ends.
	ErrBanned = errors.New("peer is banned")
	// ErrProtocolViolation marks a message that breaks the protocol: an action
	// not allowed in the session's state, a payload that does not decode, an
	// out-of-range field.
	ErrProtocolViolation = errors.New("protocol violation")
	// ErrMessageTooLarge marks a payload over the action's size cap.
	ErrMessageTooLarge = errors.New("message too large")
	// ErrFlood marks a message over the peer's rate limit (token bucket) or one
	// that found the session's inbox full.
	ErrFlood = errors.New("message flood")
	// ErrHandshakeTimeout: the peer's hello did not arrive in time.
	ErrHandshakeTimeout = errors.New("handshake timeout: no hello")
	// ErrChallengeTimeout: the peer's auth did not arrive in time after its hello.
	ErrChallengeTimeout = errors.New("challenge timeout: no auth")
	// ErrAuthFailed: the peer's auth signature does not verify for its hello's key
	// over this connection's transcript (garbage, replayed or spliced).
	ErrAuthFailed = errors.New("authentication failed")
	// ErrVersionMismatch: the peer speaks another protocol version.
	ErrVersionMismatch = errors.New("protocol version mismatch")
	// ErrWrongRoom: the peer's hello names another room.
	ErrWrongRoom = errors.New("peer is in another room")
	// ErrTooManyPeers: the session would exceed Config.MaxPeers.
	ErrTooManyPeers = errors.New("too many peers")
	// ErrPeerSessionExpired: the session reached Config.MaxPeerSessionTime.
	ErrPeerSessionExpired = errors.New("peer session time is over")
	// ErrClientSessionExpired: the local node reached Config.MaxClientSessionTime;
	// the Manager closed every session and refuses new ones.
	ErrClientSessionExpired = errors.New("client session time is over")
	// ErrManagerClosed: the Manager was closed.
	ErrManagerClosed = errors.New("session manager closed")
	// ErrRemoteClosed: the peer said bye (see ByeError for its code and reason).
	ErrRemoteClosed = errors.New("peer closed the session")
	// ErrDetached: the transport reported that the peer is gone.
	ErrDetached = errors.New("transport detached the peer")
	// ErrReplaced: a new link with the same transport id replaced the session.
	ErrReplaced = errors.New("session replaced by a new link")
	// ErrUnknownPeer: Deliver or Detach named a link that has no session.
	ErrUnknownPeer = errors.New("no session for this link")
	// ErrForeignAction: the action does not start with ActionPrefix; it belongs to
	// another protocol sharing the transport and is ignored (no strike).
	ErrForeignAction = errors.New("not a peerset action")
)

// ByeError is the close reason of a session that the peer ended with a bye.
type ByeError struct {
	Code   string // one of the Bye* codes, or whatever the peer sent
	Reason string // the peer's human-readable reason
}

func (e *ByeError) Error() string {
	return fmt.Sprintf("%v: %s: %s", ErrRemoteClosed, e.Code, e.Reason)
}

// Unwrap makes errors.Is(err, ErrRemoteClosed) true.
func (e *ByeError) Unwrap() error { return ErrRemoteClosed }
