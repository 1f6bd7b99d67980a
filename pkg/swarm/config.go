package swarm

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"time"

	"github.com/peersetdb/peerset/pkg/wire"
)

// Defaults of Config (trystero-wire.md §2.6, §4, §5.4 for the Trystero ones).
const (
	// DefaultAppID is the app id of peerset rooms.
	DefaultAppID = "peerset"
	// DefaultMaxPeers bounds the open connections of a room.
	DefaultMaxPeers = 32
	// DefaultMaxConnecting bounds the connections of a room that are being
	// set up (answered offers whose data channel is not open yet).
	DefaultMaxConnecting = 8
	// DefaultConnectTimeout bounds the time from the offer/answer exchange
	// to an open data channel.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultMaxMessageBytes bounds one reassembled action message: the
	// peerset session's largest message (a records batch, 512 KiB by
	// default) with room to spare.
	DefaultMaxMessageBytes = wire.DefaultMaxMessageBytes
	// DefaultMaxPartialMessages bounds the action messages of one peer that
	// may be partially received at once.
	DefaultMaxPartialMessages = wire.DefaultMaxPartialMessages
	// DefaultMaxPartialBytes bounds the bytes that the partially received
	// messages of one peer may hold together.
	DefaultMaxPartialBytes = wire.DefaultMaxPartialBytes
	// DefaultPartialTimeout: a partially received message that gets no
	// chunk for this long is dropped.
	DefaultPartialTimeout = wire.DefaultPartialTimeout
	// DefaultDormantAfterPeers is how many active peers make a room dormant:
	// the mesh's low watermark (gossipsub's D_low). Below it the room offers
	// connections to the trackers; at it and above it only answers.
	DefaultDormantAfterPeers = 4
	// DefaultMeshDegree is the number of mesh peers a room prunes down to
	// (gossipsub's D).
	DefaultMeshDegree = 6
	// DefaultMeshHigh is the mesh's high watermark (gossipsub's D_high): at
	// it the room stops answering offers, above it it prunes down to
	// MeshDegree.
	DefaultMeshHigh = 12
	// DefaultVouchTimeout bounds how long an active peer may stay unvouched
	// with DormantNeedsVouch: the peerset session's handshake and challenge
	// timeouts (10 s each) with room to spare.
	DefaultVouchTimeout = 30 * time.Second
	// DefaultMeshInterval is how often the room checks its mesh (prunes).
	DefaultMeshInterval = 2 * time.Second
	// DefaultAnnounceDormant is the announce interval of a dormant room.
	DefaultAnnounceDormant = 120 * time.Second
	// DefaultHandshakeTimeout is Trystero's handshakeTimeoutMs.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultPingInterval is how often active peers are pinged for their RTT.
	DefaultPingInterval = 30 * time.Second
	// DefaultTrackerReconnectMin is the first reconnect delay of a tracker.
	DefaultTrackerReconnectMin = time.Second
	// DefaultTrackerReconnectMax caps the reconnect delay of a tracker.
	DefaultTrackerReconnectMax = time.Minute
)

// Protocol constants: Trystero's, or limits of this implementation.
const (
	offerPoolSize       = 3                 // offers per announce
	offerRetention      = 120 * time.Second // an unanswered offer is replaced after this
	gatherTimeout       = 15 * time.Second  // non-trickle ICE: wait at most this for gathering
	defaultDisconnected = 5 * time.Second   // "disconnected" for this long means gone
	steadyIntervalMin   = 10 * time.Second  // clamp of the tracker's interval
	steadyIntervalMax   = 120 * time.Second
	signalDedupeWindow  = 5 * time.Second  // the same forwarded offer within this is ignored
	maxSeenSignals      = 1024             // forwarded offers remembered for the dedupe
	signalQueueSize     = 256              // forwarded offers and answers waiting to be handled
	signalWorkers       = 4                // goroutines handling them
	trackerReadLimit    = 256 << 10        // sealed SDPs with candidates fit easily
	trackerDialTimeout  = 10 * time.Second // one WebSocket dial
	trackerWriteTimeout = 10 * time.Second // one WebSocket write
	kickSpacing         = time.Second      // minimum gap between two announces to one tracker
	glareKickSpacing    = 5 * time.Second  // minimum gap between re-announces asked for by the glare rule
	leaveFlushTimeout   = 250 * time.Millisecond
	// maxSCTPMessageSize bounds one incoming data-channel message (native
	// pion otherwise accepts up to 1 GiB). Trystero frames are at most
	// 3 + 64 + 16384 bytes.
	maxSCTPMessageSize = 64 << 10
	// sendHighWater and sendLowWater drive send backpressure: above the high
	// mark a sender waits until the channel drains below the low mark.
	sendHighWater = 1 << 20
	sendLowWater  = 256 << 10
	inboxSize     = 64
	// maxQueuedInbound bounds the bytes received from one peer and not yet
	// handled where the platform gives no backpressure (the browser): past
	// it the peer is closed.
	maxQueuedInbound = 4 << 20
	// maxPendingPings bounds the unanswered pings of the room's RTT timer.
	maxPendingPings = 8
)

var (
	// ErrInvalidConfig means a Config cannot be used.
	ErrInvalidConfig = errors.New("invalid swarm config")
	// ErrRoomClosed means the room was closed.
	ErrRoomClosed = errors.New("room closed")
	// ErrPeerNotActive means the peer has not finished the Trystero handshake
	// or is gone.
	ErrPeerNotActive = errors.New("peer is not active")
	// ErrReservedAction means a user action type starts with "@_".
	ErrReservedAction = errors.New("action type is reserved")
	// ErrPeerLeft means the remote peer left the room (@_leave or a
	// presence(0) frame).
	ErrPeerLeft = errors.New("peer left the room")
	// ErrConnectionLost means the data channel closed or the WebRTC
	// connection failed, closed, or stayed disconnected too long.
	ErrConnectionLost = errors.New("peer connection lost")
	// ErrConnectTimeout means the data channel did not open in time after
	// the offer/answer exchange.
	ErrConnectTimeout = errors.New("peer did not connect in time")
	// ErrConnectPreempted means a connection still being set up was dropped
	// for a newer one: Config.MaxConnecting connections were being set up.
	ErrConnectPreempted = errors.New("connection attempt dropped for a newer one (too many connections being set up)")
	// ErrRoomFull means a connection opened while Config.MaxPeers
	// connections were open already.
	ErrRoomFull = errors.New("room full: no slot for another open connection")
	// ErrHandshakeTimeout means the Trystero handshake did not finish in time.
	ErrHandshakeTimeout = errors.New("handshake timed out")
	// ErrPasswordMismatch means the peer failed the room password challenge.
	ErrPasswordMismatch = errors.New("incorrect password for overlapping room")
	// ErrHandshakeProtocol means a peer sent handshake data of the wrong shape.
	ErrHandshakeProtocol = errors.New("malformed handshake data")
	// ErrPeerBanned means the peer was disconnected by Room.Ban.
	ErrPeerBanned = errors.New("peer banned")
	// ErrPeerReplaced means a better connection to the same peer won.
	ErrPeerReplaced = errors.New("connection replaced by another connection to the same peer")
	// ErrUnknownRoomToken means a peer sent room data for a room we are not in.
	ErrUnknownRoomToken = errors.New("room data for an unknown room token")
	// ErrTextMessage means a peer sent a text data-channel message; Trystero
	// sends binary messages only.
	ErrTextMessage = errors.New("text data-channel message")
)

// DefaultTrackers returns Trystero 0.25.4's default trackers: the first three
// of its list, which is what a Trystero app uses unless configured otherwise.
func DefaultTrackers() []string {
	return []string{
		"wss://open.ftorrent.com",
		"wss://tracker.webtorrent.dev",
		"wss://tracker.openwebtorrent.com",
	}
}

// DefaultICEServers returns Trystero's STUN servers.
func DefaultICEServers() []ICEServer {
	return []ICEServer{
		{URLs: []string{"stun:stun.l.google.com:19302"}},
		{URLs: []string{"stun:stun1.l.google.com:19302"}},
		{URLs: []string{"stun:stun2.l.google.com:19302"}},
		{URLs: []string{"stun:stun.cloudflare.com:3478"}},
	}
}

// DefaultAnnounceWarmup returns Trystero's warm-up announce delays: after the
// first announce, the next ones follow these delays before the steady
// interval takes over.
func DefaultAnnounceWarmup() []time.Duration {
	return []time.Duration{233 * time.Millisecond, 533 * time.Millisecond, 1333 * time.Millisecond}
}

// Config describes a room to join. Zero fields take the defaults named in
// their comments.
type Config struct {
	// AppID namespaces rooms; default DefaultAppID. Trystero peers must use
	// the same appId.
	AppID string
	// Room is the room name (Trystero's roomId). Required.
	Room string
	// Password, when set, seals the SDPs and runs Trystero's password
	// challenge. Peers with another password never become active.
	Password string
	// Trackers are ws:// or wss:// WebTorrent tracker URLs, all used at once.
	// nil means DefaultTrackers when no Relays are given, and none when
	// some are (a room signalling through relays only).
	Trackers []string
	// Relays are ws:// or wss:// Nostr relay URLs, all used at once beside
	// the trackers: the room signals through them with Trystero's Nostr
	// strategy (docs/nostr-signalling.md). Peers found through a relay,
	// a tracker or the mesh join the same room. Default none.
	Relays []string
	// PeerID is this peer's 20-character id; default a fresh wire.NewPeerID.
	// Use a different id per room: Trystero multiplexes the rooms of one
	// (app, peer id) over one connection, which this package does not.
	PeerID string
	// ICEServers for WebRTC; nil means DefaultICEServers, an empty non-nil
	// slice means none (host candidates only).
	ICEServers []ICEServer
	// LoopbackCandidates (native only; ignored in the browser) gathers ICE
	// candidates on the loopback interface only and only pairs them with
	// loopback remote candidates: for tests in loopback-only namespaces.
	LoopbackCandidates bool

	// MaxPeers bounds the open connections (data channel open: handshaking
	// or active); default DefaultMaxPeers. At the limit the room stops
	// offering and answering, and a connection that opens is closed with
	// ErrRoomFull. An open connection is never dropped for a new one.
	MaxPeers int
	// MaxConnecting bounds the connections being set up (offer and answer
	// exchanged, data channel not open yet); default DefaultMaxConnecting.
	// At the limit a new connection replaces the oldest one being set up
	// (which ends with ErrConnectPreempted), so that offers which never
	// connect cannot keep honest peers out.
	MaxConnecting int
	// ConnectTimeout bounds the time from the offer/answer exchange to an
	// open data channel (then ErrConnectTimeout); default
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// MaxMessageBytes bounds one reassembled action message, payload plus
	// metadata, in both directions; default DefaultMaxMessageBytes. Set it
	// to the largest message of the protocol above (a peerset session:
	// session.Config.MaxBatchBytes).
	MaxMessageBytes int
	// MaxPartialMessages bounds the messages of one peer being reassembled
	// at once; default DefaultMaxPartialMessages. More is a violation.
	MaxPartialMessages int
	// MaxPartialBytes bounds the bytes that the messages of one peer being
	// reassembled hold together; default DefaultMaxPartialBytes, and never
	// less than MaxMessageBytes. More is a violation.
	MaxPartialBytes int
	// PartialTimeout: a message being reassembled that gets no chunk for
	// this long is dropped; default DefaultPartialTimeout.
	PartialTimeout time.Duration
	// ActionWire is the action framing sent to a peer until it shows its
	// own (then we speak that): ActionWireAuto (the default), ActionWire025
	// or ActionWire026. See ActionWire.
	ActionWire ActionWire

	// AnnounceWarmup are the delays between the first announces after a
	// tracker connection opens; nil means DefaultAnnounceWarmup.
	AnnounceWarmup []time.Duration
	// AnnounceSteady, when positive, replaces the steady announce interval,
	// which is otherwise the tracker's interval clamped to 10–120 s.
	AnnounceSteady time.Duration
	// AnnounceDormant is the announce interval once the room is dormant;
	// default DefaultAnnounceDormant.
	AnnounceDormant time.Duration
	// DormantAfterPeers: with at least this many active peers the room is
	// dormant: it drops its offers and announces passively (left=0, no
	// offers), still answering the offers of newcomers. It is the bounded
	// mesh's low watermark: pruning never goes below it. Default
	// DefaultDormantAfterPeers (at most MeshDegree); negative means never
	// dormant.
	DormantAfterPeers int
	// MeshDegree is the number of mesh peers (active peers; the vouched ones
	// with DormantNeedsVouch) the room prunes down to when it has more than
	// MeshHigh. Default DefaultMeshDegree (at most MeshHigh).
	MeshDegree int
	// MeshHigh bounds the mesh: with MeshHigh mesh peers the room answers no
	// more offers, and above it (connections set up at the same time) it
	// prunes down to MeshDegree, keeping half by round-trip time (then age)
	// and the rest at random, peers with protocol violations last. Default
	// DefaultMeshHigh (at most MaxPeers, the hard cap on open connections);
	// negative means no bound but MaxPeers (a full mesh).
	MeshHigh int
	// MeshInterval is how often the room checks its mesh; default
	// DefaultMeshInterval.
	MeshInterval time.Duration
	// DisableMeshSignalling turns off signalling through the mesh (peer
	// exchange and offers/answers relayed by mesh peers), which a room
	// otherwise runs with DormantNeedsVouch: among vouched peers only.
	DisableMeshSignalling bool
	// VouchTimeout, with DormantNeedsVouch, closes an active peer the
	// application has not vouched for after this long (ErrNotVouched): a
	// peer that never speaks the application's protocol (a plain Trystero
	// peer in a peerset room) holds a connection slot for no longer. Default
	// DefaultVouchTimeout; negative disables.
	VouchTimeout time.Duration
	// DormantNeedsVouch counts toward DormantAfterPeers only the peers the
	// application vouched for (Peer.Vouch: the peerset session authenticated
	// them), so that connections that never get past the application's
	// handshake cannot make the room stop offering (and so keep it from
	// meeting honest peers). Off: every active peer counts.
	DormantNeedsVouch bool

	// TrackerReconnectMin and TrackerReconnectMax bound the jittered
	// exponential delay before reconnecting to a tracker. Reconnection
	// never stops while the room is open. Defaults DefaultTrackerReconnectMin
	// and DefaultTrackerReconnectMax.
	TrackerReconnectMin time.Duration
	TrackerReconnectMax time.Duration

	// HandshakeTimeout bounds the Trystero handshake after the data channel
	// opens; default DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// PingInterval is how often active peers are pinged (@_ping) to refresh
	// Peer.RTT; default DefaultPingInterval, negative disables.
	PingInterval time.Duration

	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger

	// Test knobs, settable from this package's tests only.
	disconnectedTimeout time.Duration // default defaultDisconnected
	// ICE timeouts (native only; zero: pion's defaults of 5 s, 25 s, 2 s).
	iceDisconnectedTimeout time.Duration
	iceFailedTimeout       time.Duration
	iceKeepaliveInterval   time.Duration
	// handshakePassword, when non-nil, replaces Password in the password
	// challenge only (the SDPs stay sealed with Password), so that tests can
	// reach the challenge with mismatching passwords.
	handshakePassword *string
}

// withDefaults validates c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	if c.AppID == "" {
		c.AppID = DefaultAppID
	}
	if c.Room == "" {
		return c, fmt.Errorf("%w: Room is required", ErrInvalidConfig)
	}
	if c.Trackers == nil && len(c.Relays) == 0 {
		c.Trackers = DefaultTrackers()
	}
	if len(c.Trackers) == 0 && len(c.Relays) == 0 {
		return c, fmt.Errorf("%w: no trackers and no relays: give at least one tracker or relay URL", ErrInvalidConfig)
	}
	c.Trackers = slices.Clone(c.Trackers)
	c.Relays = slices.Clone(c.Relays)
	for _, raw := range c.Trackers {
		if !isWebSocketURL(raw) {
			return c, fmt.Errorf("%w: tracker %q is not a ws:// or wss:// URL", ErrInvalidConfig, raw)
		}
	}
	for _, raw := range c.Relays {
		if !isWebSocketURL(raw) {
			return c, fmt.Errorf("%w: relay %q is not a ws:// or wss:// URL (a Nostr relay, e.g. wss://relay.example.org)", ErrInvalidConfig, raw)
		}
	}
	if c.PeerID == "" {
		id, err := wire.NewPeerID()
		if err != nil {
			return c, fmt.Errorf("failed to create a peer id: %w", err)
		}
		c.PeerID = id
	}
	if !wire.IsValidID(c.PeerID) {
		return c, fmt.Errorf("%w: PeerID must be %d ASCII characters", ErrInvalidConfig, wire.IDLength)
	}
	if c.ICEServers == nil {
		c.ICEServers = DefaultICEServers()
	}
	if err := c.ActionWire.check(); err != nil {
		return c, err
	}
	if c.MaxPeers <= 0 {
		c.MaxPeers = DefaultMaxPeers
	}
	if c.MaxConnecting <= 0 {
		c.MaxConnecting = DefaultMaxConnecting
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.MaxPartialMessages <= 0 {
		c.MaxPartialMessages = DefaultMaxPartialMessages
	}
	if c.MaxPartialBytes <= 0 {
		c.MaxPartialBytes = DefaultMaxPartialBytes
	}
	c.MaxPartialBytes = max(c.MaxPartialBytes, c.MaxMessageBytes)
	if c.PartialTimeout <= 0 {
		c.PartialTimeout = DefaultPartialTimeout
	}
	if c.AnnounceWarmup == nil {
		c.AnnounceWarmup = DefaultAnnounceWarmup()
	}
	if c.AnnounceDormant <= 0 {
		c.AnnounceDormant = DefaultAnnounceDormant
	}
	if err := c.meshDefaults(); err != nil {
		return c, err
	}
	if c.TrackerReconnectMin <= 0 {
		c.TrackerReconnectMin = DefaultTrackerReconnectMin
	}
	if c.TrackerReconnectMax <= 0 {
		c.TrackerReconnectMax = DefaultTrackerReconnectMax
	}
	if c.TrackerReconnectMax < c.TrackerReconnectMin {
		c.TrackerReconnectMax = c.TrackerReconnectMin
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.disconnectedTimeout <= 0 {
		c.disconnectedTimeout = defaultDisconnected
	}
	return c, nil
}

// isWebSocketURL reports whether raw is a ws:// or wss:// URL with a host.
func isWebSocketURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "ws" || u.Scheme == "wss") && u.Host != ""
}

// meshDefaults fills in and checks the mesh bounds: DormantAfterPeers (low)
// ≤ MeshDegree ≤ MeshHigh ≤ MaxPeers. Defaults shrink to fit the values
// given; values given that do not fit are an error.
func (c *Config) meshDefaults() error {
	if c.MeshInterval <= 0 {
		c.MeshInterval = DefaultMeshInterval
	}
	if c.VouchTimeout == 0 {
		c.VouchTimeout = DefaultVouchTimeout
	}
	if c.MeshHigh < 0 {
		c.MeshHigh = -1
	} else if c.MeshHigh == 0 {
		c.MeshHigh = min(DefaultMeshHigh, c.MaxPeers)
		if c.MeshDegree > c.MeshHigh {
			c.MeshHigh = min(c.MeshDegree, c.MaxPeers)
		}
	}
	highOrCap := c.MeshHigh
	if highOrCap < 0 {
		highOrCap = c.MaxPeers
	}
	if c.MeshDegree <= 0 {
		c.MeshDegree = min(DefaultMeshDegree, highOrCap)
		if c.DormantAfterPeers > c.MeshDegree {
			c.MeshDegree = min(c.DormantAfterPeers, highOrCap)
		}
	}
	if c.DormantAfterPeers == 0 {
		c.DormantAfterPeers = min(DefaultDormantAfterPeers, c.MeshDegree)
	}
	switch {
	case c.MeshHigh > c.MaxPeers:
		return fmt.Errorf("%w: MeshHigh %d is above MaxPeers %d", ErrInvalidConfig, c.MeshHigh, c.MaxPeers)
	case c.MeshDegree > highOrCap:
		return fmt.Errorf("%w: MeshDegree %d is above MeshHigh %d", ErrInvalidConfig, c.MeshDegree, highOrCap)
	case c.DormantAfterPeers > c.MeshDegree:
		return fmt.Errorf("%w: DormantAfterPeers (the mesh's low watermark) %d is above MeshDegree %d", ErrInvalidConfig, c.DormantAfterPeers, c.MeshDegree)
	}
	return nil
}

// challengePassword is the password used by the password challenge.
func (c Config) challengePassword() string {
	if c.handshakePassword != nil {
		return *c.handshakePassword
	}
	return c.Password
}
