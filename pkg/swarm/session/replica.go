package session

import (
	"context"
	"errors"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/record"
)

// Link is one transport connection to a remote peer. pkg/swarm's peers are
// adapted to it by the facade; tests use in-memory pipes.
//
// The transport must deliver a link's messages in order (a reliable, ordered
// data channel), report each received message with Manager.Deliver, and report
// the peer's departure with Manager.Detach.
type Link interface {
	// ID is the remote peer's transport id, unique within the room.
	ID() string
	// Send sends one action message. It may block for backpressure until ctx ends.
	Send(ctx context.Context, action string, payload []byte) error
	// LocalFingerprint is the DTLS fingerprint of our side of this connection,
	// as written in our SDP ("sha-256 AB:CD:…"); "" when there is none.
	LocalFingerprint() string
	// RemoteFingerprint is the DTLS fingerprint of the peer's side, from its SDP.
	RemoteFingerprint() string
	// Close closes the connection; reason says why (for logs). It must not call
	// back into the Manager synchronously.
	Close(reason error)
}

// PeerInfo identifies the authenticated peer that sent records.
type PeerInfo struct {
	ID     string           // transport id
	PubKey record.PublicKey // key proven in the handshake
}

// Verdict is what the replica did with one offered event.
type Verdict struct {
	// Stored: the event was new, passed verification and moderation, and is now
	// held (the tree changed).
	Stored bool
	// Err says why the event was not stored; nil when it was stored. The session
	// strikes the sender when IsIntegrityFailure(Err). A *moderation.Rejection
	// tells the rest: a refusal by rule "duplicate" means the event was not new
	// (already held, an older version, covered by a deletion); only a Verified
	// refusal is remembered by id, and one that DependsOnSet only until the
	// author's events change (Replica.AuthorEpoch).
	Err error
}

// Replica is the local record set of a room (store, tree and moderation),
// provided by the facade. It must be safe for concurrent use. The session never
// calls it while holding a lock of its own, and never calls Offer from inside
// ReadTree.
type Replica interface {
	// ReadTree runs fn with the room's tree under a read lock. It must pass the
	// same *merkle.Tree every time (a reconciliation keeps using it between calls).
	ReadTree(fn func(t *merkle.Tree) error) error
	// Has reports whether the event with this id is held.
	Has(id [32]byte) bool
	// Events returns the held events among ids, in any order; ids not held are
	// left out.
	Events(ctx context.Context, ids [][32]byte) ([]*record.Event, error)
	// Offer verifies, moderates and stores events received from a peer, and
	// returns one verdict per event, in order.
	Offer(ctx context.Context, from PeerInfo, events []*record.Event) []Verdict
	// AuthorEpoch returns a number that changes whenever the held events of
	// author change (see moderation.MemoryIndex.AuthorEpoch).
	AuthorEpoch(author record.PublicKey) uint64
}

// HoldingsObserver is implemented by a Replica that wants to know which
// peers hold which events (a "held by N peers" view). Its methods run on a
// session's goroutine and must not block. Events a peer sent are reported by
// Offer, whose PeerInfo names the peer.
type HoldingsObserver interface {
	// PeerReceived: these events were sent to the peer (answers to its
	// wants, or pushes), over a reliable ordered channel.
	PeerReceived(peer record.PublicKey, ids [][32]byte)
	// PeerInSync: the peer announced the root we hold: it holds every event
	// we held at root. Called again whenever the roots are compared equal.
	PeerInSync(peer record.PublicKey, root merkle.Fingerprint)
}

// integrityErrors are the record failures that no honest peer sends: the event
// is forged, corrupted or replayed from another room.
var integrityErrors = []error{
	record.ErrIDMismatch, record.ErrBadSignature, record.ErrWrongRoom,
	record.ErrMalformedEvent, record.ErrInvalidUTF8, record.ErrKindOutOfRange,
	record.ErrNegativeTime, record.ErrEmptyTag, record.ErrNotARecord,
	record.ErrInvalidRecord, record.ErrInvalidDeletion, record.ErrInvalidUUID,
	record.ErrInvalidGeo,
}

// IsIntegrityFailure reports whether err (from Verdict.Err or record parsing)
// means the event is invalid whoever judges it: a bad id or signature, another
// room, a malformed event. Those earn the sender a strike. Policy rejections
// (moderation rules such as bad words or a stricter size limit, where peers
// with other presets disagree), stale or duplicate versions, and retention are
// not integrity failures: honest peers send those.
func IsIntegrityFailure(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, record.ErrRecordTooLarge) {
		return false // our limit may be stricter than the sender's
	}
	for _, target := range integrityErrors {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
