package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
)

// Timing constants that are not worth a Config knob.
const (
	// byeTimeout bounds sending a bye (and a refusal) before closing a link.
	byeTimeout = time.Second
	// closeGrace is how long Close waits for sessions to say bye before it
	// cancels their context.
	closeGrace = 2 * time.Second
	// roundRetryDelay is the pause before a failed or abandoned reconciliation
	// is tried again.
	roundRetryDelay = time.Second
	// maxRefusedIDs bounds the Manager's memory of refused ids.
	maxRefusedIDs = 50000
	// maxPendingIDs bounds the ids a session queues to ask for (a peer could
	// claim any number of ids it does not have).
	maxPendingIDs = 50000
	// maxSentMemory bounds a session's memory of ids sent to its peer.
	maxSentMemory = 20000
)

// Manager runs the peerset protocol with every peer of one room: it
// authenticates them, enforces the session limits and the state machine,
// strikes and bans misbehaving peers, and keeps the local replica in sync with
// each authenticated peer. Its methods are safe for concurrent use and never
// block on the network, except Close.
type Manager struct {
	cfg     Config
	key     *record.SecretKey
	roomID  string
	replica Replica
	ledger  *moderation.Ledger
	log     *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}

	shutdownOnce sync.Once
	closeOnce    sync.Once

	mu       sync.Mutex
	closed   bool
	expiry   *time.Timer // the client session clock
	err      error
	sessions map[string]*session
	inflight map[[32]byte]*session // ids asked for, and which session asked

	refused refusalMemory // ids the replica refused after verifying them
	blobs   blobFetches   // running blob fetches (blob.go)
}

// NewManager returns the Manager of the room roomID (record.RoomID of the app
// id and room name), speaking for key (nil with Config.EphemeralKeys), over
// replica. The client session clock (MaxClientSessionTime) starts now.
func NewManager(cfg Config, key *record.SecretKey, roomID string, replica Replica) (*Manager, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("failed to create session manager: %w", err)
	}
	switch {
	case key == nil && !cfg.EphemeralKeys:
		return nil, errors.New("failed to create session manager: no key")
	case key != nil && cfg.EphemeralKeys:
		return nil, errors.New("failed to create session manager: a key was given with EphemeralKeys")
	case replica == nil:
		return nil, errors.New("failed to create session manager: no replica")
	}
	if _, err := parseHex(roomID, 32); err != nil {
		return nil, fmt.Errorf("failed to create session manager: room id is not a record.RoomID: %w", err)
	}
	ledger := cfg.Ledger
	if ledger == nil {
		ledger = moderation.NewLedger(cfg.LedgerConfig)
	}
	ctx, cancel := context.WithCancel(context.Background())
	self := "ephemeral"
	if key != nil {
		self = shortHex(key.Public().Hex())
	}
	m := &Manager{
		cfg: cfg, key: key, roomID: roomID, replica: replica, ledger: ledger,
		log: cfg.Logger.With("room", shortHex(roomID), "self", self),
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
		sessions: make(map[string]*session),
		inflight: make(map[[32]byte]*session),
		refused:  newRefusalMemory(maxRefusedIDs),
	}
	if cfg.MaxClientSessionTime > 0 {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.expiry = time.AfterFunc(cfg.MaxClientSessionTime, func() {
			m.log.Info("client session time is over; closing every session")
			m.shutdown(ErrClientSessionExpired, ByeExpired)
		})
	}
	return m, nil
}

// Ledger returns the strike ledger (for the UI's strikes and bans).
func (m *Manager) Ledger() *moderation.Ledger { return m.ledger }

// Config returns the configuration with its defaults filled in.
func (m *Manager) Config() Config { return m.cfg }

// Done is closed when the Manager stops: after Close, or when the client
// session time is over. Err then says which.
func (m *Manager) Done() <-chan struct{} { return m.done }

// Err returns nil while the Manager runs, then ErrManagerClosed or
// ErrClientSessionExpired.
func (m *Manager) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// Attach starts a session on a link whose transport just connected: it sends
// our hello and waits for the peer's. A full room and a stopped Manager are
// refused: the link gets a bye and is closed, and the error says why. A session
// already attached under the same transport id is replaced.
//
// Transport ids are not proven (a peer names itself), so they are never
// banned: bans go to keys once a handshake proved them. Sessions still in
// their handshake have MaxPendingSessions slots of their own; when those are
// taken, the oldest pending session is ended to make room if it had
// HandshakeGrace to finish (a newcomer is refused otherwise), so that stalled
// handshakes cannot keep authenticated peers out, and a stream of newcomers
// cannot cut an honest handshake short.
func (m *Manager) Attach(link Link) error {
	id := link.ID()
	m.mu.Lock()
	if m.closed {
		err := fmt.Errorf("failed to attach peer %s: %w", id, m.err)
		m.mu.Unlock()
		code := ByeShutdown
		if errors.Is(err, ErrClientSessionExpired) {
			code = ByeExpired
		}
		m.refuseLink(link, code, err)
		return err
	}
	old := m.sessions[id]
	var oldest *session
	var oldestAt time.Time
	pending := 0
	for _, o := range m.sessions {
		if o == old {
			continue
		}
		o.mu.Lock()
		authenticated, ending, attached := o.authenticated, o.closing || o.ending, o.info.AttachedAt
		o.mu.Unlock()
		if authenticated || ending {
			continue
		}
		pending++
		if oldest == nil || attached.Before(oldestAt) {
			oldest, oldestAt = o, attached
		}
	}
	full := pending >= m.cfg.MaxPendingSessions
	if full && (oldest == nil || time.Since(oldestAt) < m.cfg.HandshakeGrace) {
		m.mu.Unlock()
		err := fmt.Errorf("failed to attach peer %s: %w (%d handshakes in progress)", id, ErrTooManyPeers, pending)
		m.refuseLink(link, ByeFull, err)
		return err
	}
	s := newSession(m, link)
	m.sessions[id] = s
	m.wg.Add(1)
	m.mu.Unlock()
	if old != nil {
		old.requestClose(closeRequest{err: ErrReplaced, code: ByeReplaced, closeLink: true})
	}
	if full {
		m.log.Debug("too many handshakes in progress; ending the oldest", "peer", oldest.id)
		oldest.requestClose(closeRequest{err: fmt.Errorf("%w: %d handshakes in progress, this one is the oldest", ErrTooManyPeers, pending),
			code: ByeFull, closeLink: true})
	}
	go s.run()
	return nil
}

// admit takes an authenticated slot for s (marking it authenticated at once,
// so that two handshakes ending together cannot both take the last slot), or
// reports that MaxPeers other sessions hold them.
func (m *Manager) admit(s *session) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, o := range m.sessions {
		if o == s {
			continue
		}
		o.mu.Lock()
		if o.authenticated && !o.closing && !o.ending {
			n++
		}
		o.mu.Unlock()
	}
	if n >= m.cfg.MaxPeers {
		return false
	}
	s.mu.Lock()
	s.authenticated = true
	s.mu.Unlock()
	return true
}

// refuseLink says bye on a link that gets no session, and closes it.
func (m *Manager) refuseLink(link Link, code string, reason error) {
	m.log.Debug("refusing peer", "peer", link.ID(), "code", code, "reason", reason)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
		defer cancel()
		_ = link.Send(ctx, ActionBye, encodeBye(byeMsg{Code: code, Reason: reason.Error()}))
		link.Close(reason)
	}()
}

// Deliver hands the session of link one message received from the peer. It
// never blocks: size and rate checks run at once (violations earn strikes) and
// the message is queued for the session. It copies payload. Actions without
// ActionPrefix are not ours: they are ignored with ErrForeignAction.
func (m *Manager) Deliver(link Link, action string, payload []byte) error {
	if !strings.HasPrefix(action, ActionPrefix) {
		return ErrForeignAction
	}
	s := m.session(link.ID())
	if s == nil {
		return fmt.Errorf("failed to deliver %s from %s: %w", action, link.ID(), ErrUnknownPeer)
	}
	return s.deliver(action, payload)
}

// TransportViolation reports that the peer of link broke the transport's wire
// protocol (malformed frames, oversized messages): it counts as a protocol
// violation of its session, a strike against its key once authenticated, and
// ends a session that is not (see session strikes).
func (m *Manager) TransportViolation(link Link, err error) {
	s := m.session(link.ID())
	if s == nil {
		link.Close(fmt.Errorf("%w: transport: %w", ErrProtocolViolation, err))
		return
	}
	s.strike("transport: " + err.Error())
}

// Detach ends the session of link because the transport lost the peer; no bye
// is sent and the link is not closed again.
func (m *Manager) Detach(link Link, reason error) {
	s := m.session(link.ID())
	if s == nil {
		return
	}
	err := ErrDetached
	if reason != nil {
		err = fmt.Errorf("%w: %w", ErrDetached, reason)
	}
	s.requestClose(closeRequest{err: err})
}

// LocalChanged tells every authenticated session that the local set changed
// (a local write, a deletion, garbage collection): each announces the new root
// after Config.RootDebounce, once per burst of changes.
func (m *Manager) LocalChanged() {
	for _, s := range m.snapshot() {
		s.signal(func(s *session) { s.localChanged = true })
	}
}

// Push spreads new local events (the fast path) instead of LocalChanged. The
// events must already be stored in the replica. A peer that speaks gossip
// gets their ids at once in an ihave and asks for what it lacks (and
// announces what it stores onward); its idle root announcement
// (IdleRootInterval) triggers the repair if that fails. One that does not
// gets the events themselves, batched with the next root announcement.
// Receivers verify and moderate them like any others. A peer whose queue is
// full (MaxPushQueue) gets the rest through reconciliation.
func (m *Manager) Push(events ...*record.Event) {
	ids := make([][32]byte, 0, len(events))
	for _, e := range events {
		ids = append(ids, e.ID)
	}
	m.gossipIDs(nil, ids, events)
}

// Sessions returns a snapshot of every open session, ordered by peer id.
func (m *Manager) Sessions() []SessionInfo {
	sessions := m.snapshot()
	out := make([]SessionInfo, 0, len(sessions))
	for _, s := range sessions {
		out = append(out, s.snapshotInfo())
	}
	slices.SortFunc(out, func(a, b SessionInfo) int { return strings.Compare(a.PeerID, b.PeerID) })
	return out
}

// Session returns the snapshot of the session with the peer's transport id.
func (m *Manager) Session(peerID string) (SessionInfo, bool) {
	s := m.session(peerID)
	if s == nil {
		return SessionInfo{}, false
	}
	return s.snapshotInfo(), true
}

// Close says bye to every peer, closes their links and stops the Manager. It
// waits for the sessions to end and is idempotent.
func (m *Manager) Close() {
	m.closeOnce.Do(func() {
		m.shutdown(ErrManagerClosed, ByeShutdown)
		finished := make(chan struct{})
		go func() { m.wg.Wait(); close(finished) }()
		select {
		case <-finished:
		case <-time.After(closeGrace):
			m.cancel()
			<-finished
		}
		m.cancel()
	})
}

// shutdown closes every session with err and refuses new ones.
func (m *Manager) shutdown(err error, code string) {
	m.shutdownOnce.Do(func() {
		m.mu.Lock()
		if m.expiry != nil {
			m.expiry.Stop()
		}
		m.closed, m.err = true, err
		m.mu.Unlock()
		for _, s := range m.snapshot() {
			s.requestClose(closeRequest{err: err, code: code, closeLink: true})
		}
		close(m.done)
	})
}

func (m *Manager) session(id string) *session {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sessions[id]
}

func (m *Manager) snapshot() []*session {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*session, 0, len(m.sessions))
	for _, s := range m.sessions {
		out = append(out, s)
	}
	return out
}

func (m *Manager) removeSession(s *session) {
	m.mu.Lock()
	if m.sessions[s.id] == s {
		delete(m.sessions, s.id)
	}
	m.mu.Unlock()
}

// claim marks id as asked for by s; it fails if another session asked first.
func (m *Manager) claim(id [32]byte, s *session) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if owner, ok := m.inflight[id]; ok && owner != s {
		return false
	}
	m.inflight[id] = s
	return true
}

// release drops s's claims on ids and, if any were dropped, wakes the other
// sessions so that one of them may ask for the ids instead.
func (m *Manager) release(s *session, ids ...[32]byte) {
	released := false
	m.mu.Lock()
	for _, id := range ids {
		if m.inflight[id] == s {
			delete(m.inflight, id)
			released = true
		}
	}
	m.mu.Unlock()
	if released {
		m.wakeOthers(s)
	}
}

// releaseAll drops every claim of s (it is closing).
func (m *Manager) releaseAll(s *session) {
	released := false
	m.mu.Lock()
	for id, owner := range m.inflight {
		if owner == s {
			delete(m.inflight, id)
			released = true
		}
	}
	m.mu.Unlock()
	if released {
		m.wakeOthers(s)
	}
}

func (m *Manager) wakeOthers(except *session) {
	for _, o := range m.snapshot() {
		if o != except {
			o.signal(func(o *session) { o.pumpWanted = true })
		}
	}
}

// rememberRefused keeps the id of an event the replica refused from being
// asked for again for RefusalMemory. Only refusals of verified events come
// here (anyone can claim a real event's id); a refusal that depended on the
// author's stored events is remembered only until they change.
func (m *Manager) rememberRefused(e *record.Event, dependsOnSet bool, now time.Time) {
	r := refusal{until: now.Add(m.cfg.RefusalMemory)}
	if dependsOnSet {
		r.stateful, r.author, r.epoch = true, e.PubKey, m.replica.AuthorEpoch(e.PubKey)
	}
	m.refused.put(e.ID, r)
}

// wasRefused reports whether the replica refused id recently, for reasons
// that still hold.
func (m *Manager) wasRefused(id [32]byte, now time.Time) bool {
	r, ok := m.refused.get(id)
	if !ok {
		return false
	}
	if now.After(r.until) || r.stateful && m.replica.AuthorEpoch(r.author) != r.epoch {
		m.refused.forget(id)
		return false
	}
	return true
}

// shortHex abbreviates a hex id for logs.
func shortHex(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
