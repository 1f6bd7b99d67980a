package session

import (
	"time"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/record"
)

// State is where a session is in the protocol.
type State int

// Session states, in order. A session only moves forward, except between
// Syncing and Idle.
const (
	// StateConnecting: the link is being attached (before our hello is sent).
	StateConnecting State = iota
	// StateOpen: our hello is sent; waiting for the peer's hello (HandshakeTimeout).
	StateOpen
	// StateHello: the peer's hello is accepted and our auth sent; waiting for the
	// peer's auth (ChallengeTimeout).
	StateHello
	// StateAuthenticated: the peer proved its key; our root is sent, theirs has
	// not arrived yet.
	StateAuthenticated
	// StateSyncing: a reconciliation we started is running, or records we asked
	// for (or still need to ask for) are outstanding.
	StateSyncing
	// StateIdle: nothing outstanding on our side; roots are re-announced every
	// IdleRootInterval.
	StateIdle
	// StateClosing: the session is ending (bye sent or received); messages are
	// ignored.
	StateClosing
	// StateClosed: the session is over.
	StateClosed
)

var stateNames = [...]string{"connecting", "open", "hello", "authenticated", "syncing", "idle", "closing", "closed"}

// String returns the state's name as the UI shows it.
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// MarshalText writes the state's name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Authenticated reports whether the peer has proved its key and the session is
// not ending.
func (s State) Authenticated() bool { return s >= StateAuthenticated && s <= StateIdle }

// Actions lists every action of the protocol, in handshake order.
var Actions = []string{ActionHello, ActionAuth, ActionRoot, ActionNeg, ActionNegReply, ActionWant, ActionRecords, ActionIHave, ActionIWant, ActionBlobWant, ActionBlobData, ActionBlobNone, ActionBye}

// Allowed reports whether a peer may send action to a session in state:
//
//	action           open  hello  authenticated/syncing/idle
//	hello             ✓
//	auth                     ✓
//	root, neg, want,                    ✓
//	records, neg-reply,
//	ihave, iwant, blob-want,
//	blob-data, blob-none
//	bye               ✓      ✓          ✓
//
// Anything else is a protocol violation and earns a strike. In Connecting,
// Closing and Closed every message is ignored without a strike (it was in
// flight). A neg-reply for a reconciliation we already abandoned is ignored
// too; one for a reconciliation we never started is a violation.
func Allowed(state State, action string) bool {
	switch action {
	case ActionHello:
		return state == StateOpen
	case ActionAuth:
		return state == StateHello
	case ActionRoot, ActionNeg, ActionNegReply, ActionWant, ActionRecords, ActionIHave, ActionIWant, ActionBlobWant, ActionBlobData, ActionBlobNone:
		return state.Authenticated()
	case ActionBye:
		return state >= StateOpen && state <= StateIdle
	}
	return false
}

// SessionInfo is a snapshot of one session for the UI and for tests.
type SessionInfo struct {
	PeerID    string           // transport id
	PubKey    record.PublicKey // from the peer's hello; proven once State is authenticated
	State     State
	Initiator bool // we start reconciliations with this peer (the lower hello nonce)

	AttachedAt      time.Time
	AuthenticatedAt time.Time

	LocalRoot   merkle.Fingerprint // the root we last announced to this peer
	LocalCount  int
	RemoteRoot  merkle.Fingerprint // the root the peer last announced
	RemoteCount int

	MessagesIn, MessagesOut int
	BytesIn, BytesOut       int64 // payload bytes
	RecordsIn               int   // events received (answers and pushes)
	RecordsStored           int   // of those, stored by the replica
	RecordsRefused          int   // of those, refused (policy, invalid)
	RecordsThrottled        int   // of those, not offered: the peer's ingest budget was spent (asked for again later)
	RecordsOut              int   // events sent
	IHavesIn, IHavesOut     int   // gossip announcements received (within budget) and sent
	IWantsOut               int   // gossip requests sent
	IWantsRepeated          int   // ids the peer asked for again, already sent over this link (not answered)
	Reconciliations         int   // reconciliations we started
	Rounds                  int   // negentropy round trips of those
	WantsInFlight           int   // ids asked for and not yet answered
	Pending                 int   // ids we know the peer has and we still need
	Strikes                 int   // strikes this session earned
	UploadDeferred          int   // requests of the peer that waited for upload budget
	BlobBytesOut            int64 // blob bytes served to the peer (chunks and hash lists)
	LastSyncDuration        time.Duration
	LastSyncAt              time.Time // when the last sync finished
	// MissingRanges are the time ranges where the last reconciliation that found
	// a difference saw it (merkle.Initiator.MissingRanges), aligned to
	// Config.Granularity; empty once the roots are equal.
	MissingRanges []merkle.TimeRange
	// RulesDiffer: the peer's moderation rules differ from ours (its hello's
	// rules digest), or, when a side sent none, reconciliation keeps leaving
	// the roots different. Such peers never reach equal roots; sync with them
	// backs off (SyncBackoff) instead of running forever.
	RulesDiffer bool
	// SyncBackoff is the pause before the same pair of roots is reconciled
	// again, when a reconciliation left them different (0: none).
	SyncBackoff time.Duration

	CloseReason error // why the session ended (closed sessions only)
}
