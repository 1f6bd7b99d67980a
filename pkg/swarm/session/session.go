package session

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/peersetdb/peerset/internal/ratelimit"
	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
)

// inbound is one received message waiting in a session's inbox.
type inbound struct {
	action  string
	payload []byte
}

// closeRequest asks a session's goroutine to end the session.
type closeRequest struct {
	err       error
	code      string // bye code to send first; "" sends none
	closeLink bool
}

// session is the protocol with one peer. Its goroutine (run) owns every field
// below "owned by run"; other goroutines reach it through deliver (the inbox),
// signal (flags under mu) and requestClose.
type session struct {
	m    *Manager
	key  *record.SecretKey // proves us in this session: the Manager's, or a fresh one (EphemeralKeys)
	cfg  *Config
	link Link
	id   string
	log  *slog.Logger
	ctx  context.Context
	stop context.CancelFunc

	inbox    chan inbound
	wake     chan struct{}
	closeReq chan closeRequest

	// Guarded by mu: shared with Deliver, the Manager and Sessions.
	mu              sync.Mutex
	info            SessionInfo
	bucket          ratelimit.Bucket
	lastFloodStrike time.Time
	authenticated   bool // mirror of state.Authenticated(), for Push
	keyProven       bool // info.PubKey passed the handshake: strikes reach it
	closing         bool
	ending          bool // a close was requested (the session may still run a moment)
	inboxBytes      int  // payload bytes queued in inbox
	localChanged    bool
	pumpWanted      bool
	pushQueue       []*record.Event
	gossipQueue     [][32]byte // ids to announce (ihave)
	gossipNow       bool       // some are local writes: announce at once
	peerGossips     bool       // the peer's hello said it speaks gossip
	peerBlobs       bool       // the peer's hello said it serves and fetches blobs
	blobsOn         bool       // our hello offered blobs (Config.Blobs is set)
	blobQueue       []blobRequest
	blobWaiting     int       // requests queued or being answered
	blobServing     bool      // serveBlobs runs
	blobOwed        int       // blob requests this peer has not answered yet (our fetches, all together)
	blobQuietUntil  time.Time // it let a fetch's hash-list request time out: fetches ask it nothing until then
	blobUpload      ratelimit.Bucket

	// Owned by run.
	state             State
	ourLimits         Limits
	sendLimits        Limits // ours and the peer's, field-wise minimum
	negOpts           merkle.Options
	ourNonce          [NonceSize]byte
	theirNonce        [NonceSize]byte
	theirKey          record.PublicKey
	theirRules        string // the peer's rules digest, "" if it sent none
	rulesDiffer       bool   // both sent a digest and they differ
	initiator         bool
	handshakeDeadline time.Time
	challengeDeadline time.Time
	expireAt          time.Time

	syncer syncState
	gossip gossipState
}

func newSession(m *Manager, link Link) *session {
	ctx, stop := context.WithCancel(m.ctx)
	s := &session{
		m: m, key: m.key, cfg: &m.cfg, link: link, id: link.ID(),
		log:      m.log.With("peer", link.ID()),
		ctx:      ctx,
		stop:     stop,
		inbox:    make(chan inbound, m.cfg.InboxSize),
		wake:     make(chan struct{}, 1),
		closeReq: make(chan closeRequest, 1),
		bucket:   ratelimit.New(m.cfg.FloodRate, m.cfg.FloodBurst),
	}
	s.ourLimits = m.cfg.limits()
	s.blobsOn = m.cfg.Blobs != nil
	s.blobUpload = newBlobUpload(&m.cfg)
	s.info = SessionInfo{PeerID: s.id, State: StateConnecting, AttachedAt: time.Now()}
	s.syncer.init(&m.cfg)
	s.gossip.init()
	return s
}

// signal runs f under the session's lock and wakes its goroutine.
func (s *session) signal(f func(s *session)) {
	s.mu.Lock()
	if !s.closing {
		f(s)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// requestClose asks the session to end; the first request wins.
func (s *session) requestClose(req closeRequest) {
	s.mu.Lock()
	s.ending = true
	s.mu.Unlock()
	select {
	case s.closeReq <- req:
	default:
	}
}

func (s *session) snapshotInfo() SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := s.info
	info.MissingRanges = append([]merkle.TimeRange(nil), s.info.MissingRanges...)
	return info
}

func (s *session) update(f func(info *SessionInfo)) {
	s.mu.Lock()
	f(&s.info)
	s.mu.Unlock()
}

func (s *session) setState(st State) {
	if s.state == st {
		return
	}
	s.log.Debug("session state", "from", s.state, "to", st)
	s.state = st
	s.mu.Lock()
	s.info.State = st
	s.authenticated = st.Authenticated()
	s.mu.Unlock()
}

// deliver runs on the transport's goroutine: count, rate-limit, size-check and
// queue one message.
func (s *session) deliver(action string, payload []byte) error {
	now := time.Now()
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.info.MessagesIn++
	s.info.BytesIn += int64(len(payload))
	// Blob data is only ever what we asked for (anything else is a
	// violation), so it does not spend the message budget.
	allowed := action == ActionBlobData || s.bucket.Allow(now)
	s.mu.Unlock()
	if !allowed {
		s.floodStrike(now, "message rate over the flood limit")
		return fmt.Errorf("failed to deliver %s: %w", action, ErrFlood)
	}
	limit := s.ourLimits.messageCap(action)
	if limit == 0 {
		err := fmt.Errorf("%w: unknown action %q", ErrProtocolViolation, truncateUTF8(action, MaxActionBytes+8))
		s.strike(err.Error())
		return err
	}
	if len(payload) > limit {
		err := fmt.Errorf("%w: %s of %d bytes, over %d", ErrMessageTooLarge, action, len(payload), limit)
		s.strike(err.Error())
		return err
	}
	if action == ActionBlobWant || action == ActionBlobData || action == ActionBlobNone {
		return s.deliverBlob(action, payload, now)
	}
	s.mu.Lock()
	full := s.inboxBytes+len(payload) > s.cfg.InboxBytes
	if !full {
		s.inboxBytes += len(payload)
	}
	s.mu.Unlock()
	if !full {
		select {
		case s.inbox <- inbound{action: action, payload: bytes.Clone(payload)}:
			return nil
		default:
			s.mu.Lock()
			s.inboxBytes -= len(payload)
			s.mu.Unlock()
		}
	}
	s.floodStrike(now, "inbox full")
	return fmt.Errorf("failed to deliver %s: %w: inbox full", action, ErrFlood)
}

// floodStrike strikes for a flood at most once a second.
func (s *session) floodStrike(now time.Time, why string) {
	s.mu.Lock()
	due := now.Sub(s.lastFloodStrike) >= time.Second
	if due {
		s.lastFloodStrike = now
	}
	s.mu.Unlock()
	if due {
		s.strike(fmt.Sprintf("%v: %s", ErrFlood, why))
	}
}

// strike marks the peer's key in the ledger once the handshake proved it; a
// ban closes the session. Before that, nothing the connection says about
// itself is proven (a transport id is whatever the peer claims, so an attacker
// could pose as an honest peer to get it banned): the misbehaving connection
// is closed, and nobody is struck in the ledger.
func (s *session) strike(reason string) bool {
	reason = truncateUTF8(reason, 200)
	s.mu.Lock()
	proven, pk := s.keyProven, s.info.PubKey
	s.info.Strikes++
	s.mu.Unlock()
	if !proven {
		s.log.Info("violation before authentication; closing", "reason", reason)
		s.requestClose(closeRequest{err: fmt.Errorf("%w before authentication: %s", ErrProtocolViolation, reason), code: ByeViolation, closeLink: true})
		return true
	}
	banned := s.m.ledger.Strike(moderation.KeySubject(pk), reason)
	s.log.Info("strike", "reason", reason, "banned", banned)
	if banned {
		s.requestClose(closeRequest{err: fmt.Errorf("%w: %s", ErrBanned, reason), code: ByeBanned, closeLink: true})
	}
	return banned
}

func (s *session) violation(err error) {
	if !errors.Is(err, ErrProtocolViolation) && !errors.Is(err, ErrMessageTooLarge) {
		err = fmt.Errorf("%w: %w", ErrProtocolViolation, err)
	}
	s.strike(err.Error())
}

// send sends one message; a failure ends the session.
func (s *session) send(action string, payload []byte) error {
	err := s.link.Send(s.ctx, action, payload)
	s.update(func(info *SessionInfo) {
		info.MessagesOut++
		info.BytesOut += int64(len(payload))
	})
	if err != nil {
		err = fmt.Errorf("failed to send %s: %w", action, err)
		s.requestClose(closeRequest{err: err, closeLink: true})
	}
	return err
}

// run is the session's goroutine.
func (s *session) run() {
	defer s.m.wg.Done()
	s.begin()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for s.state < StateClosing {
		select {
		case req := <-s.closeReq: // a ban or a close goes before queued messages
			s.finish(req)
			return
		default:
		}
		now := time.Now()
		s.tick(now)
		if s.state >= StateClosing {
			break
		}
		timer.Reset(max(0, s.nextDeadline(now).Sub(now)))
		select {
		case <-s.ctx.Done():
			s.finish(closeRequest{err: ErrManagerClosed})
		case req := <-s.closeReq:
			s.finish(req)
		case in := <-s.inbox:
			s.mu.Lock()
			s.inboxBytes -= len(in.payload)
			s.mu.Unlock()
			s.handle(in)
		case <-s.wake:
			s.onWake(time.Now())
		case <-timer.C:
		}
	}
}

// begin sends our hello.
func (s *session) begin() {
	now := time.Now()
	if _, err := rand.Read(s.ourNonce[:]); err != nil {
		s.finish(closeRequest{err: fmt.Errorf("failed to draw a nonce: %w", err), closeLink: true})
		return
	}
	if s.key == nil {
		key, err := record.GenerateKey()
		if err != nil {
			s.finish(closeRequest{err: fmt.Errorf("failed to draw a session key: %w", err), closeLink: true})
			return
		}
		s.key = key
	}
	s.handshakeDeadline = now.Add(s.cfg.HandshakeTimeout)
	if s.cfg.MaxPeerSessionTime > 0 {
		s.expireAt = now.Add(s.cfg.MaxPeerSessionTime)
	}
	s.setState(StateOpen)
	_ = s.send(ActionHello, EncodeHello(Hello{
		Version: ProtocolVersion, Room: s.m.roomID, PubKey: s.key.Public(), Nonce: s.ourNonce, Limits: s.ourLimits,
		Rules: s.cfg.RulesDigest, Gossip: !s.cfg.DisableGossip, Blobs: s.blobsOn,
	}))
}

// finish ends the session: bye, link close, claims released, Manager told.
func (s *session) finish(req closeRequest) {
	if s.state >= StateClosing {
		return
	}
	s.setState(StateClosing)
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	if req.code != "" {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), byeTimeout)
		_ = s.link.Send(ctx, ActionBye, encodeBye(byeMsg{Code: req.code, Reason: errString(req.err)}))
		cancel()
	}
	if req.closeLink {
		s.link.Close(req.err)
	}
	s.syncer.round = nil
	s.m.releaseAll(s)
	s.setState(StateClosed)
	s.update(func(info *SessionInfo) {
		info.CloseReason = req.err
		info.WantsInFlight, info.Pending = 0, 0
	})
	s.m.removeSession(s)
	s.stop()
	s.log.Debug("session closed", "reason", req.err)
	if s.cfg.OnSessionClosed != nil {
		s.cfg.OnSessionClosed(s.snapshotInfo())
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// handle processes one message from the inbox.
func (s *session) handle(in inbound) {
	if s.state < StateOpen || s.state >= StateClosing {
		return
	}
	if !Allowed(s.state, in.action) {
		s.violation(fmt.Errorf("%w: %s not allowed in state %s", ErrProtocolViolation, in.action, s.state))
		return
	}
	now := time.Now()
	switch in.action {
	case ActionHello:
		s.onHello(in.payload, now)
	case ActionAuth:
		s.onAuth(in.payload, now)
	case ActionBye:
		s.onBye(in.payload)
	case ActionRoot:
		s.onRoot(in.payload, now)
	case ActionNeg:
		s.onNeg(in.payload, now)
	case ActionNegReply:
		s.onNegReply(in.payload, now)
	case ActionWant:
		s.onWant(in.payload, now)
	case ActionRecords:
		s.onRecords(in.payload, now)
	case ActionIHave:
		s.onIHave(in.payload, now)
	case ActionIWant:
		s.onIWant(in.payload, now)
	}
}

func (s *session) onHello(payload []byte, now time.Time) {
	h, err := DecodeHello(payload)
	switch {
	case errors.Is(err, ErrVersionMismatch):
		s.finish(closeRequest{err: err, code: ByeVersion, closeLink: true})
		return
	case err != nil:
		s.violation(err)
		s.finish(closeRequest{err: err, code: ByeAuth, closeLink: true})
		return
	case h.Room != s.m.roomID:
		err := fmt.Errorf("%w: hello for room %s, this is %s", ErrWrongRoom, shortHex(h.Room), shortHex(s.m.roomID))
		s.finish(closeRequest{err: err, code: ByeRoom, closeLink: true})
		return
	case h.Nonce == s.ourNonce:
		err := fmt.Errorf("%w: the hello repeats our own nonce (a reflection)", ErrAuthFailed)
		s.violation(err)
		s.finish(closeRequest{err: err, code: ByeAuth, closeLink: true})
		return
	}
	if banned, until := s.m.ledger.Banned(moderation.KeySubject(h.PubKey)); banned {
		err := fmt.Errorf("%w: key %s until %s", ErrBanned, shortHex(h.PubKey.Hex()), until.Format(time.RFC3339))
		s.finish(closeRequest{err: err, code: ByeBanned, closeLink: true})
		return
	}
	s.theirNonce, s.theirKey, s.theirRules = h.Nonce, h.PubKey, h.Rules
	s.rulesDiffer = h.Rules != "" && s.cfg.RulesDigest != "" && h.Rules != s.cfg.RulesDigest
	s.sendLimits = s.ourLimits.min(h.Limits)
	s.negOpts = merkle.Options{FrameSizeLimit: s.sendLimits.Frame, Granularity: s.cfg.Granularity}
	s.initiator = bytes.Compare(s.ourNonce[:], s.theirNonce[:]) < 0
	s.update(func(info *SessionInfo) {
		info.PubKey = h.PubKey
		info.Initiator = s.initiator
	})
	s.mu.Lock()
	s.peerGossips = h.Gossip && !s.cfg.DisableGossip
	s.peerBlobs = h.Blobs && s.blobsOn
	s.mu.Unlock()
	hash := AuthHash(s.m.roomID, s.theirNonce, s.ourNonce, s.link.LocalFingerprint(), s.link.RemoteFingerprint())
	sig, err := signHash(s.key, hash)
	if err != nil {
		s.finish(closeRequest{err: err, code: ByeAuth, closeLink: true})
		return
	}
	s.handshakeDeadline = time.Time{}
	s.challengeDeadline = now.Add(s.cfg.ChallengeTimeout)
	s.setState(StateHello)
	_ = s.send(ActionAuth, encodeAuth(auth{Sig: sig}))
}

func (s *session) onAuth(payload []byte, now time.Time) {
	a, err := decodeAuth(payload)
	if err == nil {
		hash := AuthHash(s.m.roomID, s.ourNonce, s.theirNonce, s.link.RemoteFingerprint(), s.link.LocalFingerprint())
		err = verifyHash(s.theirKey, hash, a.Sig)
	}
	if err != nil {
		if !errors.Is(err, ErrAuthFailed) {
			err = fmt.Errorf("%w: %w", ErrAuthFailed, err)
		}
		s.strike(err.Error())
		s.finish(closeRequest{err: err, code: ByeAuth, closeLink: true})
		return
	}
	s.challengeDeadline = time.Time{}
	if !s.m.admit(s) {
		err := fmt.Errorf("%w (%d authenticated peers)", ErrTooManyPeers, s.cfg.MaxPeers)
		s.finish(closeRequest{err: err, code: ByeFull, closeLink: true})
		return
	}
	s.mu.Lock()
	s.keyProven = true
	s.mu.Unlock()
	s.update(func(info *SessionInfo) { info.AuthenticatedAt = now })
	s.setState(StateAuthenticated)
	s.reportRules()
	if s.cfg.OnSessionAuthenticated != nil {
		s.cfg.OnSessionAuthenticated(s.snapshotInfo())
	}
	s.log.Debug("peer authenticated", "pubkey", shortHex(s.theirKey.Hex()), "initiator", s.initiator)
	s.sendRoot(now)
}

func (s *session) onBye(payload []byte) {
	b, err := decodeBye(payload)
	if err != nil {
		s.violation(err)
		s.finish(closeRequest{err: fmt.Errorf("%w: malformed bye", ErrRemoteClosed), closeLink: true})
		return
	}
	s.finish(closeRequest{err: &ByeError{Code: b.Code, Reason: b.Reason}, closeLink: true})
}

// tick acts on every deadline that has passed.
func (s *session) tick(now time.Time) {
	switch {
	case s.state == StateOpen && !s.handshakeDeadline.IsZero() && !now.Before(s.handshakeDeadline):
		s.finish(closeRequest{err: ErrHandshakeTimeout, code: ByeTimeout, closeLink: true})
		return
	case s.state == StateHello && !s.challengeDeadline.IsZero() && !now.Before(s.challengeDeadline):
		s.finish(closeRequest{err: ErrChallengeTimeout, code: ByeTimeout, closeLink: true})
		return
	case !s.expireAt.IsZero() && !now.Before(s.expireAt):
		s.finish(closeRequest{err: ErrPeerSessionExpired, code: ByeExpired, closeLink: true})
		return
	}
	if s.state.Authenticated() {
		s.syncTick(now)
	}
}

// nextDeadline is the earliest time tick has something to do.
func (s *session) nextDeadline(now time.Time) time.Time {
	next := now.Add(time.Hour)
	consider := func(t time.Time) {
		if !t.IsZero() && t.Before(next) {
			next = t
		}
	}
	if s.state == StateOpen {
		consider(s.handshakeDeadline)
	}
	if s.state == StateHello {
		consider(s.challengeDeadline)
	}
	consider(s.expireAt)
	if s.state.Authenticated() {
		s.syncDeadlines(now, consider)
	}
	return next
}

// onWake reads the flags other goroutines set.
func (s *session) onWake(now time.Time) {
	s.mu.Lock()
	localChanged, pumpWanted := s.localChanged, s.pumpWanted
	s.localChanged, s.pumpWanted = false, false
	announce, announceNow := len(s.gossipQueue) > 0, s.gossipNow
	s.gossipNow = false
	s.mu.Unlock()
	if !s.state.Authenticated() {
		return
	}
	switch {
	case announceNow:
		s.flushGossip(now)
	case announce && s.gossip.due.IsZero():
		s.gossip.due = now.Add(gossipDelay)
	}
	if localChanged && s.syncer.rootDue.IsZero() {
		s.syncer.rootDue = now.Add(s.cfg.RootDebounce)
	}
	if pumpWanted || localChanged {
		s.pump(now)
		s.afterProgress(now)
	}
}
