package session

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"time"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/moderation"
)

// Defaults of Config. A zero field takes its default; the durations that can be
// switched off (MaxPeerSessionTime, MaxClientSessionTime) are off when negative.
const (
	DefaultHandshakeTimeout     = 10 * time.Second
	DefaultChallengeTimeout     = 10 * time.Second
	DefaultMaxPeerSessionTime   = 6 * time.Hour
	DefaultMaxClientSessionTime = 24 * time.Hour
	DefaultMaxPeers             = 32
	DefaultIdleRootInterval     = 15 * time.Second
	DefaultRootDebounce         = 100 * time.Millisecond
	DefaultRoundTimeout         = 15 * time.Second
	DefaultWantTimeout          = 15 * time.Second
	DefaultWantRetries          = 3
	DefaultFloodRate            = 100 // messages per second
	DefaultFloodBurst           = 400 // messages
	DefaultInboxSize            = 1024
	DefaultMaxBatchRecords      = 100
	DefaultMaxBatchBytes        = 512 * 1024
	DefaultMaxWantIDs           = 256
	DefaultMaxInFlightWants     = 4
	DefaultFrameSizeLimit       = 32 * 1024
	DefaultRefusalMemory        = 10 * time.Minute
	DefaultMaxPushQueue         = 1000
	DefaultMaxPendingSessions   = 32
	DefaultHandshakeGrace       = 2 * time.Second
	DefaultInboxBytes           = 8 << 20
	DefaultIngestBurst          = 20000 // events
	DefaultIngestRate           = 2000  // events per second
	DefaultIngestBurstBytes     = 32 << 20
	DefaultIngestRateBytes      = 4 << 20 // per second
	DefaultUploadBurst          = 16 << 20
	DefaultUploadRate           = 4 << 20 // bytes per second
	DefaultMaxSyncBackoff       = 10 * time.Minute
)

// Bounds of the limits a peer may advertise in its hello (and that a Config may
// set). A hello outside them is a protocol violation.
const (
	MinFrameSizeLimit = merkle.MinFrameSizeLimit // 4096
	MaxFrameSizeLimit = 1 << 20
	MinBatchRecords   = 1
	MaxBatchRecords   = 10000
	MinBatchBytes     = 16 * 1024
	MaxBatchBytes     = 16 << 20
	MinWantIDs        = 1
	MaxWantIDs        = 4096
)

// Config holds the session limits and sync settings of a Manager. Every field is
// optional; see the Default* constants.
type Config struct {
	// HandshakeTimeout: the peer's hello must arrive within it of Attach.
	HandshakeTimeout time.Duration
	// ChallengeTimeout: the peer's auth (its answer to our nonce) must arrive
	// within it of the peer's hello.
	ChallengeTimeout time.Duration
	// MaxPeerSessionTime closes a session this long after Attach (negative: never).
	MaxPeerSessionTime time.Duration
	// MaxClientSessionTime is the local node's whole stay: this long after
	// NewManager, the Manager closes every session, refuses new ones and reports
	// ErrClientSessionExpired through Done and Err (negative: never).
	MaxClientSessionTime time.Duration
	// MaxPeers bounds the authenticated sessions: a peer that authenticates
	// when MaxPeers others are is refused with ErrTooManyPeers (bye "full").
	MaxPeers int
	// MaxPendingSessions bounds the sessions still in their handshake, apart
	// from MaxPeers, so that connections that never authenticate cannot take
	// the slots of authenticated peers. When it is reached, Attach ends the
	// oldest pending session to make room, once that one had HandshakeGrace
	// to finish (an honest handshake takes a round trip or two); a newcomer
	// that finds every pending session younger is refused.
	MaxPendingSessions int
	HandshakeGrace     time.Duration

	// IdleRootInterval: our root is re-sent to a peer after this long without
	// sending it; a pair of roots already reconciled is retried after it.
	IdleRootInterval time.Duration
	// RootDebounce delays the root announcement (and the fast-path push) after a
	// local change, so that a burst of changes costs one message.
	RootDebounce time.Duration
	// SyncStallTimeout: when roots have differed this long and the designated
	// initiator has sent no reconciliation message, the other side initiates
	// itself (default: 3 × IdleRootInterval).
	SyncStallTimeout time.Duration
	// RoundTimeout: a reply to our reconciliation message must arrive within it,
	// else the reconciliation is abandoned and retried.
	RoundTimeout time.Duration
	// WantTimeout: records asked for must arrive within it; the ids are then
	// released (another peer may serve them) and retried up to WantRetries times.
	WantTimeout time.Duration
	WantRetries int

	// FloodRate and FloodBurst are the token bucket of messages a peer may send:
	// FloodRate messages per second on average, FloodBurst at once.
	FloodRate  float64
	FloodBurst int
	// InboxSize is the number of received messages queued per session, and
	// InboxBytes their payload bytes; a message that finds the queue full counts
	// as a flood.
	InboxSize  int
	InboxBytes int

	// IngestBurst and IngestRate are the budget of events one session may add
	// to the replica (events stored, not merely received): IngestBurst at once,
	// IngestRate per second after that; IngestBurstBytes and IngestRateBytes
	// are the same in bytes of event JSON. Past the budget the session stops
	// asking the peer for records, and records it pushes are not offered (they
	// are asked for again later): one peer cannot fill the store faster than
	// this, however many keys it signs with.
	IngestBurst      int
	IngestRate       float64
	IngestBurstBytes int
	IngestRateBytes  float64
	// UploadBurst and UploadRate are the budget of bytes a session sends the
	// peer on its request (answers to wants and reconciliation messages) and
	// pushes: UploadBurst at once, UploadRate per second after that. Past it,
	// requests wait; a peer that keeps asking meanwhile is flooding.
	UploadBurst int
	UploadRate  float64

	// MaxBatchRecords and MaxBatchBytes bound a records message we accept (the
	// whole payload in bytes); peers learn them from our hello.
	MaxBatchRecords int
	MaxBatchBytes   int
	// MaxWantIDs bounds the ids of a want message we accept.
	MaxWantIDs int
	// MaxInFlightWants bounds the want messages we have sent a peer and that are
	// not fully answered yet.
	MaxInFlightWants int
	// FrameSizeLimit bounds the negentropy messages we accept (and send): the
	// decoded bytes, before base64.
	FrameSizeLimit int
	// Granularity splits our first reconciliation message by UTC time buckets,
	// which also gives SessionInfo.MissingRanges its bucket alignment.
	Granularity merkle.Granularity

	// RefusalMemory is how long an id the replica refused (or did not keep) is
	// neither asked for again nor pushed again to the same peer.
	RefusalMemory time.Duration
	// MaxPushQueue bounds the fast-path records queued per peer between flushes;
	// the rest are left to reconciliation.
	MaxPushQueue int
	// DisableGossip speaks protocol version 1 without gossip: new records
	// are pushed to every peer instead of announced (ihave), and the hello
	// does not offer gossip. For measurements and compatibility tests.
	DisableGossip bool
	// MaxSyncBackoff bounds the pause between reconciliations of a pair of
	// roots that stay different after a full reconciliation (the peers'
	// rules differ): the pause starts at IdleRootInterval and doubles.
	MaxSyncBackoff time.Duration

	// Blobs serves the blobs this node holds (blob.go); nil: the node
	// neither serves nor fetches blobs, and its hello does not offer them.
	Blobs BlobSource
	// BlobUploadRate and BlobUploadBurst are the budget of blob bytes
	// served to one peer (DefaultBlobUploadRate, DefaultBlobUploadBurst).
	BlobUploadRate  float64
	BlobUploadBurst int

	// RulesDigest identifies the local moderation rules
	// (moderation.Config.Digest), sent in the hello so that a peer whose rules
	// differ is reported as such (SessionInfo.RulesDiffer) rather than as
	// forever syncing. Empty: not sent.
	RulesDigest string

	// EphemeralKeys: every session proves a fresh key drawn for it and
	// never kept, instead of the Manager's key (which must then be nil), so
	// that peers learn no long-term key from the handshake. Peers strike and
	// ban that session's key, which a reconnect replaces.
	EphemeralKeys bool

	// Ledger counts strikes and bans; share one between Managers to share bans.
	// Nil: a new ledger with LedgerConfig.
	Ledger       *moderation.Ledger
	LedgerConfig moderation.LedgerConfig

	// Logger receives debug and info logs (nil: discard).
	Logger *slog.Logger
	// OnSessionAuthenticated, when set, is called once per session when the
	// peer's key is proven, on the session's goroutine. It must not block.
	OnSessionAuthenticated func(SessionInfo)
	// OnSessionClosed, when set, is called once per session after it closed, with
	// its final SessionInfo (CloseReason set), on the session's goroutine. It must
	// not block for long and must not call Manager.Close.
	OnSessionClosed func(SessionInfo)
}

// withDefaults returns the config with defaults filled in, or an error naming the
// first field out of range.
func (c Config) withDefaults() (Config, error) {
	dur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	num := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	dur(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	dur(&c.ChallengeTimeout, DefaultChallengeTimeout)
	dur(&c.MaxPeerSessionTime, DefaultMaxPeerSessionTime)
	dur(&c.MaxClientSessionTime, DefaultMaxClientSessionTime)
	num(&c.MaxPeers, DefaultMaxPeers)
	num(&c.MaxPendingSessions, DefaultMaxPendingSessions)
	dur(&c.HandshakeGrace, DefaultHandshakeGrace)
	dur(&c.IdleRootInterval, DefaultIdleRootInterval)
	dur(&c.RootDebounce, DefaultRootDebounce)
	dur(&c.SyncStallTimeout, 3*c.IdleRootInterval)
	dur(&c.RoundTimeout, DefaultRoundTimeout)
	dur(&c.WantTimeout, DefaultWantTimeout)
	num(&c.WantRetries, DefaultWantRetries)
	if c.FloodRate == 0 {
		c.FloodRate = DefaultFloodRate
	}
	num(&c.FloodBurst, DefaultFloodBurst)
	num(&c.InboxSize, DefaultInboxSize)
	num(&c.InboxBytes, DefaultInboxBytes)
	num(&c.IngestBurst, DefaultIngestBurst)
	num(&c.IngestBurstBytes, DefaultIngestBurstBytes)
	num(&c.UploadBurst, DefaultUploadBurst)
	rate := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	rate(&c.IngestRate, DefaultIngestRate)
	rate(&c.IngestRateBytes, DefaultIngestRateBytes)
	rate(&c.UploadRate, DefaultUploadRate)
	rate(&c.BlobUploadRate, DefaultBlobUploadRate)
	num(&c.BlobUploadBurst, DefaultBlobUploadBurst)
	num(&c.MaxBatchRecords, DefaultMaxBatchRecords)
	num(&c.MaxBatchBytes, DefaultMaxBatchBytes)
	num(&c.MaxWantIDs, DefaultMaxWantIDs)
	num(&c.MaxInFlightWants, DefaultMaxInFlightWants)
	num(&c.FrameSizeLimit, DefaultFrameSizeLimit)
	dur(&c.RefusalMemory, DefaultRefusalMemory)
	num(&c.MaxPushQueue, DefaultMaxPushQueue)
	dur(&c.MaxSyncBackoff, DefaultMaxSyncBackoff)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}

	positive := []struct {
		name string
		v    time.Duration
	}{
		{"HandshakeTimeout", c.HandshakeTimeout}, {"ChallengeTimeout", c.ChallengeTimeout},
		{"IdleRootInterval", c.IdleRootInterval}, {"RootDebounce", c.RootDebounce},
		{"SyncStallTimeout", c.SyncStallTimeout}, {"RoundTimeout", c.RoundTimeout},
		{"WantTimeout", c.WantTimeout}, {"RefusalMemory", c.RefusalMemory},
		{"MaxSyncBackoff", c.MaxSyncBackoff}, {"HandshakeGrace", c.HandshakeGrace},
	}
	for _, p := range positive {
		if p.v < 0 {
			return c, fmt.Errorf("invalid session config: %s is negative", p.name)
		}
	}
	switch {
	case c.MaxPeers < 0:
		return c, fmt.Errorf("invalid session config: MaxPeers %d is negative", c.MaxPeers)
	case c.WantRetries < 0:
		return c, fmt.Errorf("invalid session config: WantRetries %d is negative", c.WantRetries)
	case c.FloodRate < 0 || c.FloodBurst < 1:
		return c, fmt.Errorf("invalid session config: flood limit %v/s burst %d", c.FloodRate, c.FloodBurst)
	case c.InboxSize < 1 || c.InboxBytes < c.MaxBatchBytes:
		return c, fmt.Errorf("invalid session config: InboxSize %d, InboxBytes %d (at least MaxBatchBytes %d)", c.InboxSize, c.InboxBytes, c.MaxBatchBytes)
	case c.MaxPendingSessions < 1:
		return c, fmt.Errorf("invalid session config: MaxPendingSessions %d", c.MaxPendingSessions)
	case c.IngestBurst < 1 || c.IngestRate < 0 || c.IngestBurstBytes < c.MaxBatchBytes || c.IngestRateBytes < 0:
		return c, fmt.Errorf("invalid session config: ingest budget %d events + %v/s, %d bytes + %v/s (at least MaxBatchBytes %d)",
			c.IngestBurst, c.IngestRate, c.IngestBurstBytes, c.IngestRateBytes, c.MaxBatchBytes)
	case c.UploadBurst < c.MaxBatchBytes || c.UploadRate < 0:
		return c, fmt.Errorf("invalid session config: upload budget %d bytes + %v/s (at least MaxBatchBytes %d)", c.UploadBurst, c.UploadRate, c.MaxBatchBytes)
	case c.MaxInFlightWants < 1:
		return c, fmt.Errorf("invalid session config: MaxInFlightWants %d", c.MaxInFlightWants)
	case c.MaxPushQueue < 0:
		return c, fmt.Errorf("invalid session config: MaxPushQueue %d", c.MaxPushQueue)
	}
	if err := c.limits().check(); err != nil {
		return c, fmt.Errorf("invalid session config: %w", err)
	}
	if _, err := merkle.NewResponder(merkle.NewTree(), merkle.Options{FrameSizeLimit: c.FrameSizeLimit, Granularity: c.Granularity}); err != nil {
		return c, fmt.Errorf("invalid session config: %w", err)
	}
	return c, nil
}

// limits returns what we advertise in our hello.
func (c *Config) limits() Limits {
	return Limits{Frame: c.FrameSizeLimit, Records: c.MaxBatchRecords, Bytes: c.MaxBatchBytes, Want: c.MaxWantIDs}
}

// MaxMessageBytes returns the largest payload accepted for action under this
// config (with defaults applied), or 0 for an unknown action:
//
//	hello, auth, root, bye:  MaxControlBytes (4096)
//	neg, neg-reply:          base64 length of FrameSizeLimit + 64
//	want:                    base64 length of 32 × MaxWantIDs + 64
//	records:                 MaxBatchBytes
//	ihave:                   base64 length of 32 × MaxIHaveIDs + 64
//	iwant:                   base64 length of 32 × MaxWantIDs + 64
//	blob-want:               32 + 4 × MaxBlobWantChunks
//	blob-data:               36 + 32 × MaxBlobListChunks (512 KiB + 36)
//	blob-none:               32
func (c Config) MaxMessageBytes(action string) int {
	if d, err := c.withDefaults(); err == nil {
		c = d
	}
	return c.limits().messageCap(action)
}

// messageCap is MaxMessageBytes for advertised limits.
func (l Limits) messageCap(action string) int {
	switch action {
	case ActionHello, ActionAuth, ActionRoot, ActionBye:
		return MaxControlBytes
	case ActionNeg, ActionNegReply:
		return base64.StdEncoding.EncodedLen(l.Frame) + envelopeBytes
	case ActionWant:
		return base64.StdEncoding.EncodedLen(l.Want*32) + envelopeBytes
	case ActionRecords:
		return l.Bytes
	case ActionIHave:
		return idsMsgCap(MaxIHaveIDs)
	case ActionIWant:
		return idsMsgCap(l.Want)
	case ActionBlobWant:
		return blobWantCap
	case ActionBlobData:
		return blobDataCap
	case ActionBlobNone:
		return blobNoneCap
	}
	return 0
}

// envelopeBytes is the room left for the JSON around a base64 field.
const envelopeBytes = 64
