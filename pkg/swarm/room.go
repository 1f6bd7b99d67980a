package swarm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peersetdb/peerset/pkg/wire"
)

// Room is a joined room: it announces itself to the trackers, connects to
// the other peers of the room over WebRTC, runs Trystero's handshake with
// each and delivers their actions. It is byte-compatible with Trystero's
// torrent strategy (0.23.1–0.25.4), so Trystero apps in the same room (same
// app id, room name and password) are peers like any other.
//
// All methods are safe for concurrent use. Callbacks (OnPeerJoin,
// OnPeerLeave, OnViolation, OnJoinError and action handlers) run on the
// goroutine of the peer concerned, one at a time per peer and in the order
// of that peer's messages; a callback that blocks holds up that peer only.
// Callbacks may call any method except Room.Close, which waits for them.
type Room struct {
	cfg      Config
	log      *slog.Logger
	selfID   string
	infoHash string
	token    string
	sdpKey   [32]byte
	net      transport // platform WebRTC and WebSockets, or a MemNet
	encoder  *wire.ActionEncoder

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // tracker loops, signal workers and peers

	fillMu sync.Mutex // serializes offer pool refills

	// Read on every message and every forwarded offer without Room.mu:
	// replaced whole (under mu) when set.
	handlers atomic.Pointer[map[string]func(*Peer, ActionMessage)]
	cbs      atomic.Pointer[roomCallbacks]

	// Forwarded offers and answers wait in signals for one of
	// signalWorkers goroutines; when it is full they are dropped.
	signals        chan func()
	signalsHandled atomic.Uint64
	signalsDropped atomic.Uint64
	dropLoggedAt   atomic.Int64 // unix nanoseconds of the last drop log
	seen           *signalDedupe
	sdpOrigins     sdpOrigins // which peer and offer id each remote offer SDP came with

	// The bounded mesh (mesh.go).
	meshKick   chan struct{}
	meshRandMu sync.Mutex
	meshRand   *rand.Rand
	pruned     atomic.Uint64

	// Signalling through the mesh (meshsignal.go).
	knownMu     sync.Mutex
	known       map[string]knownPeer // members reachable through a mesh peer
	dialed      map[string]time.Time // members last dialled through the mesh
	lastPex     time.Time
	pexSig      string // the mesh the last peer exchange described
	meshDials   atomic.Uint64
	meshAnswers atomic.Uint64

	banMu  sync.Mutex
	banned map[string]time.Time // peer id → end of the ban

	mu          sync.Mutex
	started     bool
	closed      bool
	peers       map[string]*Peer         // by remote peer id, in every state
	offers      map[string]*pendingOffer // outstanding offers by offer id
	glareKickAt time.Time                // last announce asked for by the glare rule
	trackers    []*trackerClient
	relays      *relaySignals // nil without Config.Relays (relaysignal.go)
}

type roomCallbacks struct {
	onJoin      func(*Peer)
	onLeave     func(*Peer, error)
	onViolation func(*Peer, error)
	onJoinError func(string, error)
}

// NewRoom validates cfg and prepares a room without touching the network,
// so that handlers and callbacks can be registered before Start: no peer can
// become active earlier.
func NewRoom(cfg Config) (*Room, error) {
	return newRoom(cfg, nil)
}

// newRoom is NewRoom on a transport; nil is the platform's.
func newRoom(cfg Config, net transport) (*Room, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if net == nil {
		net = platformTransport{api: newRTCAPI(cfg), iceServers: cfg.ICEServers}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Room{
		cfg:      cfg,
		selfID:   cfg.PeerID,
		infoHash: wire.InfoHash(cfg.AppID, cfg.Room),
		token:    wire.RoomToken(cfg.AppID, cfg.Room),
		sdpKey:   wire.SDPKey(cfg.Password, cfg.AppID, cfg.Room),
		net:      net,
		encoder:  wire.NewActionEncoder(),
		ctx:      ctx,
		cancel:   cancel,
		peers:    make(map[string]*Peer),
		offers:   make(map[string]*pendingOffer),
		signals:  make(chan func(), signalQueueSize),
		seen:     newSignalDedupe(maxSeenSignals, signalDedupeWindow),
		banned:   make(map[string]time.Time),
		meshKick: make(chan struct{}, 1),
		known:    make(map[string]knownPeer),
		dialed:   make(map[string]time.Time),
		meshRand: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	}
	r.handlers.Store(&map[string]func(*Peer, ActionMessage){})
	r.cbs.Store(&roomCallbacks{})
	r.log = cfg.Logger.With("room", cfg.Room, "self", r.selfID)
	for _, u := range cfg.Trackers {
		r.trackers = append(r.trackers, newTrackerClient(r, u))
	}
	if r.relays, err = newRelaySignals(r); err != nil {
		cancel()
		return nil, err
	}
	return r, nil
}

// Start connects to the trackers and starts announcing. It returns at once:
// trackers that cannot be reached are retried in the background for as long
// as the room is open (see Trackers). ctx only bounds Start itself; the room
// lives until Close.
func (r *Room) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("failed to start room: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("failed to start room: %w", ErrRoomClosed)
	}
	if r.started {
		return nil
	}
	r.started = true
	for range signalWorkers {
		r.wg.Go(r.signalWorker)
	}
	for _, t := range r.trackers {
		r.wg.Go(func() { t.run(r.ctx) })
	}
	if r.relays != nil {
		r.relays.client.Start(r.ctx)
		r.wg.Go(r.relayLoop)
	}
	r.wg.Go(r.meshLoop)
	r.log.Debug("room started", "trackers", len(r.trackers), "relays", len(r.cfg.Relays))
	return nil
}

// Join is NewRoom followed by Start.
func Join(ctx context.Context, cfg Config) (*Room, error) {
	r, err := NewRoom(cfg)
	if err != nil {
		return nil, fmt.Errorf("failed to join room: %w", err)
	}
	if err := r.Start(ctx); err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("failed to join room: %w", err)
	}
	return r, nil
}

// SelfID returns this peer's id in the room (the tracker peer_id).
func (r *Room) SelfID() string { return r.selfID }

// AppID returns the room's app id.
func (r *Room) AppID() string { return r.cfg.AppID }

// Name returns the room name.
func (r *Room) Name() string { return r.cfg.Room }

// Handle registers h for messages of actionType from active peers,
// replacing any earlier handler; a nil h removes it. Messages of a type with
// no handler are dropped (counted in PeerStats.MessagesDropped). Internal
// types (prefix "@_") are reserved.
func (r *Room) Handle(actionType string, h func(p *Peer, msg ActionMessage)) error {
	if err := checkUserActionType(actionType); err != nil {
		return fmt.Errorf("failed to register handler: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	handlers := maps.Clone(*r.handlers.Load())
	if h == nil {
		delete(handlers, actionType)
	} else {
		handlers[actionType] = h
	}
	r.handlers.Store(&handlers)
	return nil
}

func checkUserActionType(typ string) error {
	if strings.HasPrefix(typ, wire.InternalActionPrefix) {
		return fmt.Errorf("%w: %q", ErrReservedAction, typ)
	}
	return wire.CheckActionType(typ)
}

// OnPeerJoin sets the callback run when a peer becomes active: the data
// channel is open, our handshake check passed and the peer's @_hsready
// arrived. It replaces any earlier callback.
func (r *Room) OnPeerJoin(f func(p *Peer)) {
	r.setCallbacks(func(c *roomCallbacks) { c.onJoin = f })
}

// setCallbacks replaces the callbacks with a copy changed by set.
func (r *Room) setCallbacks(set func(*roomCallbacks)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := *r.cbs.Load()
	set(&c)
	r.cbs.Store(&c)
}

// OnPeerLeave sets the callback run once when an active peer is gone, with
// the reason (ErrPeerLeft, ErrConnectionLost, ErrRoomClosed, the reason given
// to Peer.Close, ...).
func (r *Room) OnPeerLeave(f func(p *Peer, reason error)) {
	r.setCallbacks(func(c *roomCallbacks) { c.onLeave = f })
}

// OnViolation sets the callback run when a peer breaks the wire protocol:
// malformed or text frames, room data for an unknown room token, bad or
// oversized chunks. The room drops the offending data and keeps going; the
// callback may strike or close the peer. A violation comes before any
// authentication: the peer id is whatever the tracker forwarded, so banning
// that id on a violation alone lets anyone get another peer's id banned.
func (r *Room) OnViolation(f func(p *Peer, err error)) {
	r.setCallbacks(func(c *roomCallbacks) { c.onViolation = f })
}

// OnJoinError sets the callback run when a peer could not join: its sealed
// SDP did not open (ErrWrongPassword: another room password), its SDP's
// DTLS fingerprint was refused (ErrFingerprint), it failed the password
// challenge (ErrPasswordMismatch), the connection or handshake timed out
// (ErrConnectTimeout, ErrHandshakeTimeout), or it found no slot
// (ErrConnectPreempted, ErrRoomFull). It runs for every offer or answer
// refused, so it must be cheap; the peer id is the one the tracker gave,
// which nobody checked.
func (r *Room) OnJoinError(f func(peerID string, err error)) {
	r.setCallbacks(func(c *roomCallbacks) { c.onJoinError = f })
}

// Peers returns the active peers, ordered by id.
func (r *Room) Peers() []*Peer {
	r.mu.Lock()
	out := make([]*Peer, 0, len(r.peers))
	for _, p := range r.peers {
		if p.State() == PeerActive {
			out = append(out, p)
		}
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b *Peer) int { return strings.Compare(a.id, b.id) })
	return out
}

// Peer returns the active peer with the given id.
func (r *Room) Peer(id string) (*Peer, bool) {
	r.mu.Lock()
	p := r.peers[id]
	r.mu.Unlock()
	if p == nil || p.State() != PeerActive {
		return nil, false
	}
	return p, true
}

// Broadcast sends msg to every active peer and returns the errors of the
// peers it could not send to, joined.
func (r *Room) Broadcast(ctx context.Context, msg ActionMessage) error {
	var errs []error
	for _, p := range r.Peers() {
		if err := p.Send(ctx, msg); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// maxBanned bounds the peer ids a room remembers as banned (Ban).
const maxBanned = 4096

// Ban disconnects the peer (if connected) and ignores its offers and answers
// for d. The room never bans by itself: peer ids are whatever a tracker
// forwards, so a ban is the caller's decision (after authenticating the
// peer, for instance).
func (r *Room) Ban(peerID string, d time.Duration) {
	now := time.Now()
	r.banMu.Lock()
	if _, ok := r.banned[peerID]; !ok && len(r.banned) >= maxBanned {
		// Full: forget the bans that ended, else the one that ends first.
		soonest, soonestAt := "", time.Time{}
		for id, until := range r.banned {
			if now.After(until) {
				delete(r.banned, id)
			} else if soonest == "" || until.Before(soonestAt) {
				soonest, soonestAt = id, until
			}
		}
		if len(r.banned) >= maxBanned {
			delete(r.banned, soonest)
		}
	}
	r.banned[peerID] = now.Add(d)
	r.banMu.Unlock()
	r.mu.Lock()
	p := r.peers[peerID]
	r.mu.Unlock()
	if p != nil {
		p.close(ErrPeerBanned, true)
	}
}

func (r *Room) isBanned(peerID string) bool {
	r.banMu.Lock()
	defer r.banMu.Unlock()
	until, ok := r.banned[peerID]
	if ok && time.Now().After(until) {
		delete(r.banned, peerID)
		return false
	}
	return ok
}

// Trackers returns the status of every tracker connection.
func (r *Room) Trackers() []TrackerStatus {
	out := make([]TrackerStatus, 0, len(r.trackers))
	for _, t := range r.trackers {
		out = append(out, t.status())
	}
	return out
}

// Close leaves the room: every peer gets @_leave and a presence(0) frame,
// then all connections close. Active peers get OnPeerLeave with
// ErrRoomClosed. Close waits for the room's goroutines, so it must not be
// called from a callback. It is idempotent.
func (r *Room) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	peers := make([]*Peer, 0, len(r.peers))
	for _, p := range r.peers {
		peers = append(peers, p)
	}
	offers := slices.Collect(maps.Values(r.offers))
	r.offers = make(map[string]*pendingOffer)
	if r.relays != nil {
		offers = slices.AppendSeq(offers, maps.Values(r.relays.offers))
		r.relays.offers = make(map[string]*pendingOffer)
	}
	r.mu.Unlock()

	for _, p := range peers {
		p.close(ErrRoomClosed, true)
	}
	for _, p := range peers {
		<-p.done
	}
	r.cancel()
	if r.relays != nil {
		_ = r.relays.client.Close() // waits for its connections to end
	}
	r.wg.Wait()
	for _, o := range offers {
		o.discard()
	}
	// Peers whose signaling raced with Close.
	r.mu.Lock()
	late := make([]*Peer, 0, len(r.peers))
	for _, p := range r.peers {
		late = append(late, p)
	}
	r.mu.Unlock()
	for _, p := range late {
		p.close(ErrRoomClosed, false)
		<-p.done
	}
	r.log.Debug("room closed")
	return nil
}

// enqueueSignal queues the handling of a forwarded offer or answer for the
// signal workers. A full queue means a flood: the signal is dropped (a
// genuine peer re-announces its offers), with a debug log at most once a
// second.
func (r *Room) enqueueSignal(f func()) {
	select {
	case r.signals <- f:
		return
	default:
	}
	dropped := r.signalsDropped.Add(1)
	now := time.Now().UnixNano()
	if last := r.dropLoggedAt.Load(); now-last >= int64(time.Second) && r.dropLoggedAt.CompareAndSwap(last, now) {
		r.log.Debug("too many forwarded offers and answers: dropping some", "queue", signalQueueSize, "dropped_total", dropped)
	}
}

// signalWorker handles queued signals until the room closes.
func (r *Room) signalWorker() {
	for {
		select {
		case <-r.ctx.Done():
			return
		case f := <-r.signals:
			f()
			r.signalsHandled.Add(1)
		}
	}
}

// activeCountLocked counts the active peers (the vouched ones, with
// Config.DormantNeedsVouch).
func (r *Room) activeCountLocked() int {
	return len(r.meshPeersLocked())
}

// dormantLocked reports whether enough peers are active to stop offering.
func (r *Room) dormantLocked() bool {
	return r.cfg.DormantAfterPeers > 0 && r.activeCountLocked() >= r.cfg.DormantAfterPeers
}

// wantsOffersLocked reports whether the room should keep outstanding offers.
func (r *Room) wantsOffersLocked() bool {
	return !r.closed && !r.dormantLocked() && r.openCountLocked() < r.cfg.MaxPeers && r.offerPoolLocked() > 0
}

// openCountLocked counts the connections whose data channel opened
// (handshaking or active): they are bounded by MaxPeers.
func (r *Room) openCountLocked() int {
	n := 0
	for _, p := range r.peers {
		if s := p.State(); s == PeerHandshaking || s == PeerActive {
			n++
		}
	}
	return n
}

// makeRoomToConnectLocked is called before a new connection is set up:
// when MaxConnecting connections are being set up already, it forgets the
// oldest and returns it, to be closed with ErrConnectPreempted once Room.mu
// is released. Open connections are never touched.
func (r *Room) makeRoomToConnectLocked() *Peer {
	var oldest *Peer
	n := 0
	for _, p := range r.peers {
		if p.State() != PeerConnecting {
			continue
		}
		n++
		if oldest == nil || p.created.Before(oldest.created) {
			oldest = p
		}
	}
	if n < r.cfg.MaxConnecting {
		return nil
	}
	delete(r.peers, oldest.id)
	r.log.Debug("too many connections being set up: dropping the oldest", "peer", oldest.id, "max_connecting", r.cfg.MaxConnecting)
	return oldest
}

// errDropped means a peer is no longer the room's: preempted, replaced, or
// the room is closing (each closes the peer with its own reason).
var errDropped = errors.New("connection dropped by the room")

// admitOpen moves p from connecting to handshaking when its data channel
// opens. It fails with ErrRoomFull when MaxPeers connections are open
// already, and with errDropped when p is no longer the room's.
func (r *Room) admitOpen(p *Peer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed || r.peers[p.id] != p:
		return errDropped
	case r.openCountLocked() >= r.cfg.MaxPeers:
		return ErrRoomFull
	}
	p.state.Store(int32(PeerHandshaking))
	return nil
}

// kickAnnounce asks every tracker connection to announce soon.
func (r *Room) kickAnnounce() {
	for _, t := range r.trackers {
		t.kick()
	}
}

func (r *Room) newPeerLocked(remoteID string, offerer bool) *Peer {
	p := newPeer(r, remoteID, offerer)
	r.peers[remoteID] = p
	return p
}

// removePeer forgets p and re-evaluates the announce phase.
func (r *Room) removePeer(p *Peer) {
	r.mu.Lock()
	wasDormant := r.dormantLocked()
	if r.peers[p.id] == p {
		delete(r.peers, p.id)
	}
	changed := wasDormant != r.dormantLocked()
	r.mu.Unlock()
	if changed {
		r.kickAnnounce()
	}
}

// peerActivated re-evaluates the announce phase after a peer became active.
func (r *Room) peerActivated() {
	r.mu.Lock()
	dormant := r.dormantLocked()
	var stale []*pendingOffer
	if dormant {
		for id, o := range r.offers {
			stale = append(stale, o)
			delete(r.offers, id)
		}
	}
	r.mu.Unlock()
	for _, o := range stale {
		o.discard()
	}
	if dormant {
		r.kickAnnounce()
	}
	r.kickMesh()
}

func (r *Room) handler(actionType string) func(*Peer, ActionMessage) {
	return (*r.handlers.Load())[actionType]
}

func (r *Room) callbacks() (onJoin func(*Peer), onLeave func(*Peer, error), onViolation func(*Peer, error), onJoinError func(string, error)) {
	c := r.cbs.Load()
	return c.onJoin, c.onLeave, c.onViolation, c.onJoinError
}

func (r *Room) reportJoinError(peerID string, err error) {
	r.log.Debug("peer could not join", "peer", peerID, "err", err)
	if _, _, _, f := r.callbacks(); f != nil {
		f(peerID, err)
	}
}

func (r *Room) newPeerConnection() (peerConn, error) {
	return r.net.newPeer()
}
