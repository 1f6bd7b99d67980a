package peerset

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/swarm/session"
)

// ErrAlreadyJoined is returned by Join on a DB that is already online.
var ErrAlreadyJoined = errors.New("already joined")

// JoinOptions configure how a DB joins its room's swarm.
type JoinOptions struct {
	// Trackers are ws:// or wss:// WebTorrent tracker URLs; nil means
	// swarm.DefaultTrackers (public trackers) when no Relays are given, and
	// none when some are.
	Trackers []string
	// Relays are ws:// or wss:// Nostr relay URLs to signal through
	// (Trystero's Nostr strategy) beside the trackers; nil means none.
	Relays []string
	// Password seals signalling and is checked by every peer (Trystero's
	// room password); peers with another password never connect.
	Password string
	// PeerID is the transport id (20 characters); empty: a random one.
	PeerID string
	// ICEServers: nil means swarm.DefaultICEServers; an empty non-nil slice
	// means none (host candidates only).
	ICEServers []swarm.ICEServer
	// LoopbackCandidates (native only) gathers ICE candidates on loopback
	// only: for tests and loopback-only network namespaces.
	LoopbackCandidates bool
	// MaxPeers bounds connections and sessions (0: the defaults).
	MaxPeers int
	// Session holds the handshake, session-limit and sync settings.
	Session session.Config
	// Swarm, when set, is used as the base transport configuration; the
	// fields above override it.
	Swarm *swarm.Config
}

// online is the DB's swarm state while joined.
type online struct {
	room        *swarm.Room
	mgr         *session.Manager
	unsubscribe func()
	links       sync.Map // peer id → peerLink
}

// Join connects the DB to its room: it announces itself to the trackers,
// connects to peers over WebRTC, authenticates them and keeps the record set
// in sync with them until Leave or Close.
func (db *DB) Join(ctx context.Context, opts JoinOptions) error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return ErrClosed
	}
	if db.net != nil {
		db.mu.Unlock()
		return ErrAlreadyJoined
	}
	net := &online{}
	db.net = net
	db.mu.Unlock()

	scfg := opts.Session
	scfg.Granularity = db.cfg.Granularity
	if scfg.RulesDigest == "" {
		scfg.RulesDigest = db.pipeline.Digest()
	}
	if scfg.Logger == nil {
		scfg.Logger = db.log
	}
	if opts.MaxPeers > 0 && scfg.MaxPeers == 0 {
		scfg.MaxPeers = opts.MaxPeers
	}
	// Only authenticated peers count as the peers that make the room stop
	// offering (dormant): connections that never authenticate cannot keep it
	// from meeting honest peers.
	userAuthenticated := scfg.OnSessionAuthenticated
	scfg.OnSessionAuthenticated = func(info session.SessionInfo) {
		if l, ok := net.links.Load(info.PeerID); ok {
			l.(peerLink).p.Vouch()
		}
		if userAuthenticated != nil {
			userAuthenticated(info)
		}
		db.blobs.kick() // a blob no peer held may be fetched now
	}
	if db.blobs.st != nil {
		scfg.Blobs = blobServer{db}
	}
	scfg.EphemeralKeys = db.handKey == nil
	mgr, err := session.NewManager(scfg, db.handKey, db.roomID, replica{db})
	if err != nil {
		db.clearOnline()
		return fmt.Errorf("failed to start sessions: %w", err)
	}
	var tcfg swarm.Config
	if opts.Swarm != nil {
		tcfg = *opts.Swarm
	}
	tcfg.AppID, tcfg.Room = db.cfg.AppID, db.cfg.Room
	tcfg.Password = opts.Password
	if opts.Trackers != nil {
		tcfg.Trackers = opts.Trackers
	}
	if opts.Relays != nil {
		tcfg.Relays = opts.Relays
	}
	if opts.PeerID != "" {
		tcfg.PeerID = opts.PeerID
	}
	if opts.ICEServers != nil {
		tcfg.ICEServers = opts.ICEServers
	}
	tcfg.LoopbackCandidates = tcfg.LoopbackCandidates || opts.LoopbackCandidates
	tcfg.DormantNeedsVouch = true
	if opts.MaxPeers > 0 {
		tcfg.MaxPeers = opts.MaxPeers
	}
	if tcfg.Logger == nil {
		tcfg.Logger = db.log
	}
	// The transport must carry the largest session message (a records batch)
	// with its metadata.
	if need := scfg.MaxMessageBytes(session.ActionRecords) + 16<<10; tcfg.MaxMessageBytes < need && need > swarm.DefaultMaxMessageBytes {
		tcfg.MaxMessageBytes = need
	}
	room, err := swarm.NewRoom(tcfg)
	if err != nil {
		mgr.Close()
		db.clearOnline()
		return fmt.Errorf("failed to set up the room: %w", err)
	}
	net.room, net.mgr = room, mgr

	for _, action := range session.Actions {
		if err := room.Handle(action, func(p *swarm.Peer, msg swarm.ActionMessage) {
			if err := mgr.Deliver(net.link(p), msg.Type, msg.Payload); err != nil {
				db.log.Debug("message not delivered", "peer", p.ID(), "action", msg.Type, "err", err)
			}
		}); err != nil {
			mgr.Close()
			db.clearOnline()
			return fmt.Errorf("failed to register %s: %w", action, err)
		}
	}
	room.OnPeerJoin(func(p *swarm.Peer) {
		// Transport ids are whatever a peer claims, so they are never banned:
		// the session bans keys once a handshake proved them.
		if err := mgr.Attach(net.link(p)); err != nil {
			db.log.Info("peer refused", "peer", p.ID(), "err", err)
			p.Close(err)
		}
	})
	room.OnJoinError(func(peerID string, err error) {
		// Another password, a refused SDP (e.g. a rewritten fingerprint), a
		// connection that timed out: nothing reached the session layer.
		db.log.Info("peer could not join", "peer", peerID, "err", err)
	})
	room.OnPeerLeave(func(p *swarm.Peer, reason error) {
		mgr.Detach(net.link(p), reason)
		net.links.Delete(p.ID())
	})
	room.OnViolation(func(p *swarm.Peer, err error) {
		// Malformed frames, oversized or unknown messages at the transport
		// level count like protocol violations: a strike against the peer's
		// key once proven, the end of the connection before.
		mgr.TransportViolation(net.link(p), err)
	})
	net.unsubscribe = db.Subscribe(func(c Change) {
		switch {
		case c.Origin.Local() && !c.Removed:
			mgr.Push(c.Event) // gossip, or a push and a root announcement
		case !c.Origin.Local() && !c.Removed:
			// Stored from a peer: its session announced the change already
			// (a root, or gossip onward).
		default:
			mgr.LocalChanged()
		}
	})
	if err := room.Start(ctx); err != nil {
		net.unsubscribe()
		mgr.Close()
		db.clearOnline()
		return fmt.Errorf("failed to join the room: %w", err)
	}
	return nil
}

func (db *DB) clearOnline() {
	db.mu.Lock()
	db.net = nil
	db.mu.Unlock()
}

// Leave disconnects from the swarm; the DB stays open for local use.
func (db *DB) Leave() error {
	db.mu.Lock()
	net := db.net
	db.net = nil
	db.mu.Unlock()
	if net == nil {
		return nil
	}
	net.unsubscribe()
	err := net.room.Close()
	net.mgr.Close()
	if err != nil {
		return fmt.Errorf("failed to leave the room: %w", err)
	}
	return nil
}

func (n *online) link(p *swarm.Peer) peerLink {
	if l, ok := n.links.Load(p.ID()); ok {
		return l.(peerLink)
	}
	l, _ := n.links.LoadOrStore(p.ID(), peerLink{p: p})
	return l.(peerLink)
}

// peerLink adapts a swarm peer to session.Link. Session payloads travel as
// binary action messages.
type peerLink struct{ p *swarm.Peer }

func (l peerLink) ID() string { return l.p.ID() }
func (l peerLink) Send(ctx context.Context, action string, payload []byte) error {
	return l.p.Send(ctx, swarm.BinaryMessage(action, payload))
}
func (l peerLink) LocalFingerprint() string  { return l.p.LocalFingerprint() }
func (l peerLink) RemoteFingerprint() string { return l.p.RemoteFingerprint() }
func (l peerLink) Close(reason error)        { go l.p.Close(reason) }

// replica adapts the DB to session.Replica.
type replica struct{ db *DB }

func (r replica) ReadTree(fn func(t *merkle.Tree) error) error {
	r.db.mu.RLock()
	defer r.db.mu.RUnlock()
	return fn(r.db.tree)
}

func (r replica) Has(id [32]byte) bool {
	if r.db.waitLoaded(context.Background()) != nil {
		return false
	}
	r.db.mu.RLock()
	defer r.db.mu.RUnlock()
	return r.db.index.Has(id)
}

func (r replica) Events(ctx context.Context, ids [][32]byte) ([]*record.Event, error) {
	return r.db.Events(ctx, ids)
}

func (r replica) Offer(ctx context.Context, from session.PeerInfo, events []*record.Event) []session.Verdict {
	outcomes := r.db.Ingest(ctx, Origin{PeerID: from.ID, PubKey: from.PubKey}, events)
	verdicts := make([]session.Verdict, len(outcomes))
	for i, o := range outcomes {
		verdicts[i] = session.Verdict{Stored: o.Stored, Err: o.Err}
	}
	return verdicts
}

func (r replica) AuthorEpoch(author record.PublicKey) uint64 {
	r.db.mu.RLock()
	defer r.db.mu.RUnlock()
	return r.db.index.AuthorEpoch(author)
}

// Sessions returns a snapshot of every peer session while joined.
func (db *DB) Sessions() []session.SessionInfo {
	db.mu.RLock()
	net := db.net
	db.mu.RUnlock()
	if net == nil {
		return nil
	}
	return net.mgr.Sessions()
}

// Trackers returns the state of each tracker connection while joined.
func (db *DB) Trackers() []swarm.TrackerStatus {
	db.mu.RLock()
	net := db.net
	db.mu.RUnlock()
	if net == nil {
		return nil
	}
	return net.room.Trackers()
}

// Relays returns the state of each Nostr relay connection while joined.
func (db *DB) Relays() []swarm.RelayStatus {
	db.mu.RLock()
	net := db.net
	db.mu.RUnlock()
	if net == nil {
		return nil
	}
	return net.room.Relays()
}

// SelfID returns the transport peer id while joined, else "".
func (db *DB) SelfID() string {
	db.mu.RLock()
	net := db.net
	db.mu.RUnlock()
	if net == nil {
		return ""
	}
	return net.room.SelfID()
}

// Ledger returns the strike ledger of the peer sessions while joined, else nil.
func (db *DB) Ledger() *moderation.Ledger {
	db.mu.RLock()
	net := db.net
	db.mu.RUnlock()
	if net == nil {
		return nil
	}
	return net.mgr.Ledger()
}

// PeerRTT returns the last measured round-trip time to a connected peer
// (transport pings), or 0 while unknown or when not joined.
func (db *DB) PeerRTT(peerID string) time.Duration {
	db.mu.RLock()
	net := db.net
	db.mu.RUnlock()
	if net == nil {
		return 0
	}
	if p, ok := net.room.Peer(peerID); ok {
		return p.RTT()
	}
	return 0
}
