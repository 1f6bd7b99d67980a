package peerset

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/swarm/session"
)

// Bounds of what the DB remembers about who holds which record.
const (
	// maxTrackedRecords: record versions whose holders are remembered; the
	// oldest tracked is forgotten first.
	maxTrackedRecords = 16384
	// maxHoldersPerRecord: peers remembered per record version.
	maxHoldersPerRecord = 64
	// maxKnownHolders: distinct peer keys remembered; past it, everything
	// is forgotten and learnt again (ephemeral peers draw a key per
	// connection).
	maxKnownHolders = 4096
)

// holdings remembers which peers are known to hold which record versions:
// a peer holds a version it sent us, one we sent it (an answer to its want,
// or a push, over a reliable channel), and every version we held when it
// announced the root we held. This node's own live records are tracked from
// the start; other records once a peer is seen to hold them.
type holdings struct {
	mu      sync.Mutex
	peerIdx map[record.PublicKey]uint32
	peers   []record.PublicKey
	byID    map[[32]byte]*holding
	ring    [][32]byte // tracked ids, oldest at head once full
	head    int
	inSync  map[uint32]merkle.Fingerprint // per peer, the last root it shared with us
}

type holding struct {
	uuid  [16]byte
	own   bool
	peers []uint32
}

func newHoldings() *holdings {
	h := &holdings{}
	h.reset()
	return h
}

func (h *holdings) reset() {
	h.peerIdx = map[record.PublicKey]uint32{}
	h.peers = nil
	h.byID = map[[32]byte]*holding{}
	h.ring = h.ring[:0]
	h.head = 0
	h.inSync = map[uint32]merkle.Fingerprint{}
}

// trackLocked returns the holding of id, tracking it if it is not.
func (h *holdings) trackLocked(id [32]byte, uuid [16]byte, own bool) *holding {
	if x, ok := h.byID[id]; ok {
		x.own = x.own || own
		return x
	}
	x := &holding{uuid: uuid, own: own}
	if len(h.ring) < maxTrackedRecords {
		h.ring = append(h.ring, id)
	} else {
		delete(h.byID, h.ring[h.head])
		h.ring[h.head] = id
		h.head = (h.head + 1) % maxTrackedRecords
	}
	h.byID[id] = x
	return x
}

// peerLocked returns the index of peer, interning it.
func (h *holdings) peerLocked(peer record.PublicKey) uint32 {
	if i, ok := h.peerIdx[peer]; ok {
		return i
	}
	if len(h.peers) >= maxKnownHolders {
		h.reset()
	}
	i := uint32(len(h.peers))
	h.peers = append(h.peers, peer)
	h.peerIdx[peer] = i
	return i
}

func (x *holding) add(p uint32) {
	if len(x.peers) < maxHoldersPerRecord && !slices.Contains(x.peers, p) {
		x.peers = append(x.peers, p)
	}
}

// track tracks record versions (this node's own, or received) without a
// holder yet.
func (h *holdings) track(own bool, summaries ...record.Summary) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range summaries {
		if s.Kind == record.KindRecord {
			h.trackLocked(s.ID, s.UUID, own)
		}
	}
}

// held notes that peer holds these record versions.
func (h *holdings) held(peer record.PublicKey, own func(record.Summary) bool, summaries ...record.Summary) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.peerLocked(peer)
	for _, s := range summaries {
		if s.Kind == record.KindRecord {
			h.trackLocked(s.ID, s.UUID, own(s)).add(p)
		}
	}
}

// synced notes that peer shares root with us: it holds every tracked
// version that has(id). The same root twice in a row is noted once.
func (h *holdings) synced(peer record.PublicKey, root merkle.Fingerprint, has func([32]byte) bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.peerLocked(peer)
	if last, ok := h.inSync[p]; ok && last == root {
		return
	}
	h.inSync[p] = root
	for id, x := range h.byID {
		if has(id) {
			x.add(p)
		}
	}
}

// isOwn reports whether s is by this node's author.
func (db *DB) isOwn(s record.Summary) bool { return !db.ReadOnly() && s.PubKey == db.author }

// holders returns the peers known to hold id, besides those in also.
func (h *holdings) holders(id [32]byte, also []record.PublicKey) []record.PublicKey {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := slices.Clone(also)
	if x, ok := h.byID[id]; ok {
		for _, p := range x.peers {
			if k := h.peers[p]; !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	return out
}

// count returns how many peers are known to hold id.
func (h *holdings) count(id [32]byte) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if x, ok := h.byID[id]; ok {
		return len(x.peers)
	}
	return 0
}

// own returns this node's tracked record versions.
func (h *holdings) own() map[[32]byte][16]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[[32]byte][16]byte{}
	for id, x := range h.byID {
		if x.own {
			out[id] = x.uuid
		}
	}
	return out
}

// Holders returns the peers known to hold the current version of the record
// uuid (this node's own version if it has one, as Get): peers that sent it
// to this node or were sent it by this node, and peers that announced the
// root this node held while it held that version. A peer is named by the
// key it proved in the handshake (for an ephemeral peer, its connection's
// key). What is remembered is bounded: the holders of the 16,384 versions
// most recently seen held, at most 64 per version.
func (db *DB) Holders(uuid string) ([]record.PublicKey, error) {
	if err := db.waitLoaded(context.Background()); err != nil {
		return nil, err
	}
	u, err := record.ParseUUID(uuid)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, uuid)
	}
	db.mu.RLock()
	best, found := db.liveVersionLocked(u)
	root := db.tree.Root()
	db.mu.RUnlock()
	if !found {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, uuid)
	}
	return db.holds.holders(best.ID, db.peersInSync(root)), nil
}

// peersInSync returns the keys of the authenticated peers whose last
// announced root is root.
func (db *DB) peersInSync(root merkle.Fingerprint) []record.PublicKey {
	var keys []record.PublicKey
	for _, s := range db.Sessions() {
		if s.State.Authenticated() && s.RemoteRoot == root && !slices.Contains(keys, s.PubKey) {
			keys = append(keys, s.PubKey)
		}
	}
	return keys
}

// heldOwn returns, for each of this node's live records whose current
// version is tracked, how many peers are known to hold that version.
func (db *DB) heldOwn() map[string]int {
	own := db.holds.own()
	if len(own) == 0 {
		return nil
	}
	inSync := db.peersInSync(db.Root())
	out := make(map[string]int, len(own))
	for id, uuid := range own {
		db.mu.RLock()
		live, ok := db.index.Live(record.Address{Kind: record.KindRecord, PubKey: db.author, UUID: record.FormatUUID(uuid)})
		db.mu.RUnlock()
		if ok && live.ID == id {
			out[record.FormatUUID(uuid)] = len(db.holds.holders(id, inSync))
		}
	}
	return out
}

// PeerReceived and PeerInSync make the replica a session.HoldingsObserver.
func (r replica) PeerReceived(peer record.PublicKey, ids [][32]byte) {
	summaries := make([]record.Summary, 0, len(ids))
	r.db.mu.RLock()
	for _, id := range ids {
		if s, ok := r.db.index.Get(id); ok {
			summaries = append(summaries, s)
		}
	}
	r.db.mu.RUnlock()
	r.db.holds.held(peer, r.db.isOwn, summaries...)
}

func (r replica) PeerInSync(peer record.PublicKey, root merkle.Fingerprint) {
	r.db.mu.RLock()
	defer r.db.mu.RUnlock()
	if r.db.tree.Root() != root {
		return // our set changed since: the events now held are not what was compared
	}
	r.db.holds.synced(peer, root, r.db.index.Has)
}

var _ session.HoldingsObserver = replica{}
