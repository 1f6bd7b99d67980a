package swarm

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peersetdb/peerset/internal/ratelimit"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/wire"
)

// PeerState is where a peer is in its life.
type PeerState int32

// Peer states, in order.
const (
	// PeerConnecting: offer/answer exchanged, the data channel is not open yet.
	PeerConnecting PeerState = iota
	// PeerHandshaking: the data channel is open, the Trystero handshake runs.
	PeerHandshaking
	// PeerActive: both handshake checks passed; actions flow.
	PeerActive
	// PeerClosed: the peer is gone.
	PeerClosed
)

func (s PeerState) String() string {
	switch s {
	case PeerConnecting:
		return "connecting"
	case PeerHandshaking:
		return "handshaking"
	case PeerActive:
		return "active"
	case PeerClosed:
		return "closed"
	}
	return fmt.Sprintf("PeerState(%d)", int32(s))
}

// PeerStats counts a peer's traffic. Bytes are data-channel bytes (frames);
// messages are whole action messages, internal ones included.
type PeerStats struct {
	BytesIn, BytesOut       uint64
	MessagesIn, MessagesOut uint64
	// MessagesDropped counts user messages received before the peer was
	// active or with no handler registered.
	MessagesDropped uint64
	// Violations counts protocol violations (see Room.OnViolation).
	Violations uint64
	// ConnectedAt is when the peer became active (zero before).
	ConnectedAt time.Time
}

// Peer is a remote peer of a room, from the offer/answer exchange until it
// leaves. Its methods are safe for concurrent use.
type Peer struct {
	room     *Room
	id       string
	offerer  bool      // we sent the offer
	offerID  string    // the offer of the exchange (set before run; candidates name it)
	viaRelay bool      // the offer or answer went through a relay (set before run): relay candidates apply
	created  time.Time // when the offer/answer exchange started

	ctx    context.Context // cancelled when the peer starts closing
	cancel context.CancelFunc

	closeReq chan closeRequest
	inbox    chan inboundMessage
	poke     chan struct{} // channel or connection state changed
	lowWater chan struct{} // send buffer drained
	closing  chan struct{} // closed when the peer starts closing
	done     chan struct{} // closed when the peer is gone

	dcOpen   atomic.Bool
	dcClosed atomic.Bool
	vouched  atomic.Bool // see Vouch
	state    atomic.Int32
	// sendSlot serializes senders (so that messages go out whole and in
	// order); a channel rather than a mutex so waiting honours contexts.
	sendSlot chan struct{}

	bytesIn, bytesOut       atomic.Uint64
	messagesIn, messagesOut atomic.Uint64
	dropped, violations     atomic.Uint64
	partialBytes            atomic.Int64 // held by the reassembler

	mu          sync.Mutex
	pc          peerConn
	dc          dataChannel
	localFP     string
	remoteFP    string
	rtt         time.Duration
	pings       []pingWaiter
	activeAt    time.Time
	closeReason error
	remoteSet   bool             // the remote description is applied
	cands       []iceCandidate   // trickled candidates waiting for remoteSet
	candsIn     int              // trickled candidates taken (at most maxRelayCandidates)
	mdnsIn      int              // of which .local (mDNS) ones (at most maxMDNSCandidates)
	relayKey    record.PublicKey // the Nostr key of the relay offer or answer: candidates must share it
	relayKeySet bool

	// Owned by the run goroutine.
	release     func()
	opened      bool
	localPassed bool
	remoteReady bool
	challenge   string
	reassembler *actionWire
	failure     error            // set by message handling to end the peer
	meshBudget  ratelimit.Bucket // mesh signalling messages the peer may still send
	meshFloodAt time.Time        // last violation for a mesh signalling flood
}

type closeRequest struct {
	reason    error
	sendLeave bool
}

type inboundMessage struct {
	data     []byte
	isString bool
}

type pingWaiter struct {
	sent  time.Time
	reply chan time.Duration // nil for the room's own pings
}

func newPeer(r *Room, id string, offerer bool) *Peer {
	ctx, cancel := context.WithCancel(r.ctx)
	p := &Peer{
		room:       r,
		id:         id,
		offerer:    offerer,
		created:    time.Now(),
		ctx:        ctx,
		cancel:     cancel,
		closeReq:   make(chan closeRequest, 1),
		inbox:      make(chan inboundMessage, inboxSize),
		poke:       make(chan struct{}, 1),
		lowWater:   make(chan struct{}, 1),
		sendSlot:   make(chan struct{}, 1),
		closing:    make(chan struct{}),
		done:       make(chan struct{}),
		release:    func() {},
		meshBudget: ratelimit.New(meshSignalRate, meshSignalBurst),
	}
	p.reassembler = newActionWire(p)
	p.state.Store(int32(PeerConnecting))
	return p
}

// ID returns the remote peer's id.
func (p *Peer) ID() string { return p.id }

// State returns the peer's current state.
func (p *Peer) State() PeerState { return PeerState(p.state.Load()) }

// Done is closed when the peer is gone.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Err returns why the peer is gone, or nil while it is not.
func (p *Peer) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closeReason
}

// LocalFingerprint returns the DTLS fingerprint of our end of the
// connection, from our SDP: "sha-256 AB:CD:…". It equals the remote peer's
// RemoteFingerprint, so a signature over both binds a handshake to this
// connection. Both SDPs carry exactly one fingerprint, SHA-256 (others are
// refused before the connection is set up), so it is the one the DTLS
// handshake checked.
func (p *Peer) LocalFingerprint() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.localFP
}

// RemoteFingerprint returns the DTLS fingerprint of the remote end, from the
// remote SDP (see LocalFingerprint).
func (p *Peer) RemoteFingerprint() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.remoteFP
}

// Vouch marks the peer as one the application trusts (the peerset session
// authenticated it). With Config.DormantNeedsVouch only such peers make the
// room dormant. It re-evaluates the announce phase.
func (p *Peer) Vouch() {
	if !p.vouched.Swap(true) {
		p.room.peerActivated()
	}
}

// RTT returns the last round-trip time measured with @_ping/@_pong, or 0.
func (p *Peer) RTT() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rtt
}

// Stats returns the peer's traffic counters.
func (p *Peer) Stats() PeerStats {
	p.mu.Lock()
	at := p.activeAt
	p.mu.Unlock()
	return PeerStats{
		BytesIn:         p.bytesIn.Load(),
		BytesOut:        p.bytesOut.Load(),
		MessagesIn:      p.messagesIn.Load(),
		MessagesOut:     p.messagesOut.Load(),
		MessagesDropped: p.dropped.Load(),
		Violations:      p.violations.Load(),
		ConnectedAt:     at,
	}
}

// Close disconnects the peer: it sends @_leave and presence(0), then closes
// the connection. It returns at once; if the peer was active, OnPeerLeave
// follows with reason (nil becomes ErrConnectionLost). The peer may come back
// through the trackers; see Room.Ban to keep it out.
func (p *Peer) Close(reason error) {
	if reason == nil {
		reason = ErrConnectionLost
	}
	p.close(reason, true)
}

func (p *Peer) close(reason error, sendLeave bool) {
	select {
	case p.closeReq <- closeRequest{reason: reason, sendLeave: sendLeave}:
	default:
	}
	p.cancel()
}

// Send sends an action message to the peer. The peer must be active and the
// type must not be reserved. Send blocks while the data channel's buffer is
// full, until ctx ends. To a peer that speaks Trystero 0.26 framing, a
// message over one frame (16348 bytes with no metadata) is offered first
// and sent once the peer accepts it: Send waits for that answer (at most
// 30 s; ErrActionRejected, ErrActionCancelled), also from a callback.
func (p *Peer) Send(ctx context.Context, msg ActionMessage) error {
	if err := checkUserActionType(msg.Type); err != nil {
		return fmt.Errorf("failed to send to %s: %w", p.id, err)
	}
	if p.State() != PeerActive {
		return fmt.Errorf("failed to send to %s: %w", p.id, ErrPeerNotActive)
	}
	if n := len(msg.Payload) + len(msg.Meta); n > p.room.cfg.MaxMessageBytes {
		return fmt.Errorf("failed to send to %s: %w: %d bytes, limit %d", p.id, ErrMessageTooLarge, n, p.room.cfg.MaxMessageBytes)
	}
	return p.sendMessage(ctx, msg)
}

// Ping measures the round-trip time to an active peer with @_ping/@_pong.
func (p *Peer) Ping(ctx context.Context) (time.Duration, error) {
	if p.State() != PeerActive {
		return 0, fmt.Errorf("failed to ping %s: %w", p.id, ErrPeerNotActive)
	}
	reply := make(chan time.Duration, 1)
	p.mu.Lock()
	p.pings = append(p.pings, pingWaiter{sent: time.Now(), reply: reply})
	p.mu.Unlock()
	if err := p.sendMessage(ctx, StringMessage(wire.ActionPing, "")); err != nil {
		return 0, fmt.Errorf("failed to ping %s: %w", p.id, err)
	}
	select {
	case rtt, ok := <-reply:
		if !ok {
			return 0, fmt.Errorf("failed to ping %s: %w", p.id, ErrPeerNotActive)
		}
		return rtt, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("failed to ping %s: %w", p.id, ctx.Err())
	}
}

// sendMessage encodes and sends any message, internal ones included.
func (p *Peer) sendMessage(ctx context.Context, msg ActionMessage) error {
	if p.reassembler.sends026() {
		return p.sendMessage026(ctx, msg)
	}
	frames, err := p.room.encoder.EncodeFrames(p.room.token, msg)
	if err != nil {
		return err
	}
	if err := p.sendFrames(ctx, frames...); err != nil {
		return fmt.Errorf("failed to send %q to %s: %w", msg.Type, p.id, err)
	}
	p.messagesOut.Add(1)
	return nil
}

func (p *Peer) sendFrames(ctx context.Context, frames ...[]byte) error {
	p.mu.Lock()
	dc := p.dc
	p.mu.Unlock()
	if dc == nil {
		return ErrPeerNotActive
	}
	select {
	case p.sendSlot <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-p.closing:
		return ErrPeerNotActive
	}
	defer func() { <-p.sendSlot }()
	for _, f := range frames {
		for dc.bufferedAmount() > sendHighWater {
			select {
			case <-p.lowWater:
			case <-time.After(50 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			case <-p.closing:
				return ErrPeerNotActive
			}
		}
		if err := dc.send(f); err != nil {
			return fmt.Errorf("failed to write to data channel: %w", err)
		}
		p.bytesOut.Add(uint64(len(f)))
	}
	return nil
}

// setFingerprints records the DTLS fingerprints of both SDPs (see
// sdpFingerprint).
func (p *Peer) setFingerprints(local, remote string) {
	p.mu.Lock()
	p.localFP = local
	p.remoteFP = remote
	p.mu.Unlock()
}

// attachConnection wires the callbacks of pc into the peer's goroutine.
func (p *Peer) attachConnection(pc peerConn) {
	p.mu.Lock()
	p.pc = pc
	p.mu.Unlock()
	pc.onStateChange(p.wake)
}

// attachDataChannel adopts dc as the peer's channel (the first one only:
// Trystero opens one) and routes its events to the peer's goroutine.
func (p *Peer) attachDataChannel(dc dataChannel) {
	p.mu.Lock()
	if p.dc != nil {
		p.mu.Unlock()
		_ = dc.close()
		return
	}
	p.dc = dc
	p.mu.Unlock()
	dc.onOpen(func() { p.dcOpen.Store(true); p.wake() })
	dc.onClose(func() { p.dcClosed.Store(true); p.wake() })
	dc.onLowWater(sendLowWater, func() {
		select {
		case p.lowWater <- struct{}{}:
		default:
		}
	})
	release := dc.onMessage(p.done, p.deliver, func() {
		p.close(fmt.Errorf("%w: more than %d bytes received and not yet handled", ErrConnectionLost, maxQueuedInbound), false)
	})
	p.mu.Lock()
	p.release = release
	p.mu.Unlock()
	if dc.isOpen() {
		p.dcOpen.Store(true)
		p.wake()
	}
}

func (p *Peer) wake() {
	select {
	case p.poke <- struct{}{}:
	default:
	}
}

// deliver queues an incoming data-channel message for the peer's goroutine.
// It blocks while the inbox is full (backpressure on the channel) until the
// peer closes.
func (p *Peer) deliver(data []byte, isString bool) {
	if !isString && p.answerEarly(data) {
		return
	}
	select {
	case p.inbox <- inboundMessage{data: data, isString: isString}:
	case <-p.closing:
	}
}

// answerEarly takes the peer's answers to our Trystero 0.26 offers
// (accepted, rejected) where they arrive instead of on the peer's goroutine:
// a Send of a large message made from a callback of this peer runs on that
// goroutine and waits for the answer. It reports whether data was such an
// answer, handled; anything else (an answer to no offer of ours included:
// the peer's goroutine names the violation) goes through the inbox.
func (p *Peer) answerEarly(data []byte) bool {
	if len(data) < wire.RoomFramePrefixSize || wire.FrameKind(data[0]) != wire.FrameRoomData {
		return false
	}
	n := int(binary.BigEndian.Uint16(data[1:3]))
	chunk := data[min(len(data), wire.RoomFramePrefixSize+n):]
	if len(chunk) < 2 || chunk[0] != wire.Wire26Version {
		return false
	}
	if k := wire.Wire26Kind(chunk[1] & 0x0f); k != wire.Wire26Accepted && k != wire.Wire26Rejected {
		return false
	}
	if string(data[wire.RoomFramePrefixSize:wire.RoomFramePrefixSize+n]) != p.room.token {
		return false
	}
	f, err := wire.DecodeFrame26(chunk)
	if err != nil || p.reassembler.answer(f) != nil {
		return false
	}
	p.bytesIn.Add(uint64(len(data)))
	return true
}

// answer is the setup of a peer whose offer we answer: it builds the
// connection, sends the sealed answer through the tracker that forwarded the
// offer. remoteFP is the offer's fingerprint (sdpFingerprint).
func (p *Peer) answer(ctx context.Context, route answerRoute, offerID, remoteSDP, remoteFP string) error {
	pc, err := p.room.newPeerConnection()
	if err != nil {
		return err
	}
	p.attachConnection(pc)
	pc.onDataChannel(p.attachDataChannel)
	localSDP, err := pc.createAnswer(ctx, remoteSDP)
	if err != nil {
		return err
	}
	p.remoteApplied()
	localFP, err := sdpFingerprint(localSDP)
	if err != nil {
		return fmt.Errorf("failed to create answer: our own %w", err)
	}
	p.setFingerprints(localFP, remoteFP)
	sealed, err := wire.SealSDP(p.room.sdpKey, localSDP)
	if err != nil {
		return err
	}
	if err := route.sendAnswer(ctx, p.id, offerID, sealed); err != nil {
		return fmt.Errorf("failed to send answer: %w", err)
	}
	return nil
}

// connectOffer is the setup of a peer that answered one of our offers.
// remoteFP is the answer's fingerprint (sdpFingerprint).
func (p *Peer) connectOffer(ctx context.Context, o *pendingOffer, remoteSDP, remoteFP string) error {
	p.attachConnection(o.pc)
	p.attachDataChannel(o.dc)
	p.setFingerprints(o.fingerprint, remoteFP)
	if err := o.pc.acceptAnswer(ctx, remoteSDP); err != nil {
		return err
	}
	p.remoteApplied()
	return nil
}

func (p *Peer) isOpen() bool {
	return p.State() >= PeerHandshaking
}

// run is the peer's goroutine: it runs setup (the signaling), then handles
// every event of the peer until it is gone.
func (p *Peer) run(setup func(ctx context.Context) error) {
	r := p.room
	reason, sendLeave := p.loop(setup)
	p.finish(reason, sendLeave)
	r.removePeer(p)
	close(p.done)
}

func (p *Peer) loop(setup func(ctx context.Context) error) (reason error, sendLeave bool) {
	r := p.room
	if err := setup(p.ctx); err != nil {
		select {
		case req := <-p.closeReq:
			return req.reason, false
		default:
		}
		r.log.Debug("peer setup failed", "peer", p.id, "err", err)
		return fmt.Errorf("%w: %w", ErrConnectionLost, err), false
	}

	connectTimer := time.NewTimer(r.cfg.ConnectTimeout)
	defer connectTimer.Stop()
	var handshakeTimer, disconnectedTimer, partialTimer *time.Timer
	var handshakeC, disconnectedC, pingC, partialC <-chan time.Time
	defer func() {
		for _, t := range []*time.Timer{handshakeTimer, disconnectedTimer, partialTimer} {
			if t != nil {
				t.Stop()
			}
		}
	}()
	// armPartials makes sure a timer drops partial messages that stop
	// making progress, even if the peer sends nothing more.
	armPartials := func() {
		p.partialBytes.Store(int64(p.reassembler.HeldBytes()))
		if partialC != nil {
			return
		}
		if at, ok := p.reassembler.NextExpiry(); ok {
			partialTimer = time.NewTimer(time.Until(at))
			partialC = partialTimer.C
		}
	}
	var pingTicker *time.Ticker
	defer func() {
		if pingTicker != nil {
			pingTicker.Stop()
		}
	}()

	// opened starts the handshake once the channel is open (open event or
	// first message, whichever comes first), if the room has a slot for
	// another open connection; otherwise it ends the peer.
	opened := func() bool {
		if p.opened {
			return true
		}
		if err := r.admitOpen(p); err != nil {
			if errors.Is(err, errDropped) {
				// Preempted, replaced or the room is closing: the
				// close request with the reason is on its way.
				select {
				case req := <-p.closeReq:
					p.failure = req.reason
				case <-p.ctx.Done():
					p.failure = ErrConnectPreempted
				}
				return false
			}
			r.log.Debug("data channel open but no slot left", "peer", p.id, "max_peers", r.cfg.MaxPeers)
			p.failure = err
			return false
		}
		p.opened = true
		r.log.Debug("data channel open", "peer", p.id)
		connectTimer.Stop()
		handshakeTimer = time.NewTimer(r.cfg.HandshakeTimeout)
		handshakeC = handshakeTimer.C
		p.startHandshake()
		return true
	}

	for {
		wasActive := p.State() == PeerActive
		select {
		case req := <-p.closeReq:
			return req.reason, req.sendLeave
		case <-p.poke:
			if p.dcClosed.Load() {
				return fmt.Errorf("%w: data channel closed", ErrConnectionLost), false
			}
			switch state := p.connectionState(); state {
			case connFailed, connClosed:
				return fmt.Errorf("%w: connection %s", ErrConnectionLost, state), false
			case connDisconnected:
				if disconnectedTimer == nil {
					disconnectedTimer = time.NewTimer(r.cfg.disconnectedTimeout)
					disconnectedC = disconnectedTimer.C
				}
			default:
				if disconnectedTimer != nil {
					disconnectedTimer.Stop()
					disconnectedTimer, disconnectedC = nil, nil
				}
			}
			if p.dcOpen.Load() {
				opened()
			}
		case in := <-p.inbox:
			if opened() {
				p.handleInbound(in)
				armPartials()
			}
		case <-partialC:
			partialC = nil
			if n := p.reassembler.Expire(time.Now()); n > 0 {
				r.log.Debug("dropped partial messages that made no progress", "peer", p.id, "messages", n, "timeout", r.cfg.PartialTimeout)
			}
			armPartials()
		case <-connectTimer.C:
			if !p.opened {
				return ErrConnectTimeout, false
			}
		case <-handshakeC:
			if p.State() != PeerActive {
				return ErrHandshakeTimeout, true
			}
		case <-disconnectedC:
			if p.connectionState() == connDisconnected {
				return fmt.Errorf("%w: disconnected for %v", ErrConnectionLost, r.cfg.disconnectedTimeout), false
			}
			disconnectedTimer, disconnectedC = nil, nil
		case <-pingC:
			p.sendPing()
		}
		if p.failure != nil {
			return p.failure, false
		}
		if !wasActive && p.State() == PeerActive {
			handshakeTimer.Stop()
			handshakeC = nil
			if r.cfg.PingInterval > 0 {
				pingTicker = time.NewTicker(r.cfg.PingInterval)
				pingC = pingTicker.C
				p.sendPing() // a first RTT now, not one interval from now
			}
		}
	}
}

func (p *Peer) connectionState() connState {
	p.mu.Lock()
	pc := p.pc
	p.mu.Unlock()
	if pc == nil {
		return connNew
	}
	return pc.state()
}

// finish closes the peer: optionally @_leave and presence(0) first, then the
// connection; then the callbacks.
func (p *Peer) finish(reason error, sendLeave bool) {
	r := p.room
	wasActive := p.State() == PeerActive
	if sendLeave && p.opened {
		ctx, cancel := context.WithTimeout(context.Background(), leaveFlushTimeout)
		_ = p.sendMessage(ctx, StringMessage(wire.ActionLeave, ""))
		if frame, err := wire.EncodePresenceFrame(r.token, false); err == nil {
			_ = p.sendFrames(ctx, frame)
		}
		p.waitFlushed(ctx)
		cancel()
	}
	p.state.Store(int32(PeerClosed))
	close(p.closing)
	p.cancel()

	p.reassembler.Reset()
	p.partialBytes.Store(0)

	p.mu.Lock()
	pc, release := p.pc, p.release
	p.closeReason = reason
	pings := p.pings
	p.pings = nil
	p.mu.Unlock()
	release()
	if pc != nil {
		if err := pc.close(); err != nil {
			r.log.Debug("failed to close peer connection", "peer", p.id, "err", err)
		}
	}
	for _, w := range pings {
		if w.reply != nil {
			close(w.reply)
		}
	}

	r.log.Debug("peer closed", "peer", p.id, "was_active", wasActive, "reason", reason)
	_, onLeave, _, _ := r.callbacks()
	switch {
	case wasActive:
		if onLeave != nil {
			onLeave(p, reason)
		}
	case errors.Is(reason, ErrPasswordMismatch), errors.Is(reason, ErrHandshakeTimeout),
		errors.Is(reason, ErrHandshakeProtocol), errors.Is(reason, ErrConnectTimeout),
		errors.Is(reason, ErrConnectPreempted), errors.Is(reason, ErrRoomFull), errors.Is(reason, ErrFingerprint):
		r.reportJoinError(p.id, reason)
	}
}

// waitFlushed waits until the data channel sent its buffer, or ctx ends.
func (p *Peer) waitFlushed(ctx context.Context) {
	p.mu.Lock()
	dc := p.dc
	p.mu.Unlock()
	if dc == nil {
		return
	}
	for dc.bufferedAmount() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// sendInternal sends an internal message from the peer's goroutine; a
// failure only gets logged (the connection's own events end the peer).
func (p *Peer) sendInternal(msg ActionMessage) {
	ctx, cancel := context.WithTimeout(p.ctx, p.room.cfg.HandshakeTimeout)
	defer cancel()
	if err := p.sendMessage(ctx, msg); err != nil {
		p.room.log.Debug("failed to send internal message", "peer", p.id, "type", msg.Type, "err", err)
	}
}

func (p *Peer) violation(err error) {
	p.violations.Add(1)
	p.room.log.Debug("protocol violation", "peer", p.id, "err", err)
	if _, _, f, _ := p.room.callbacks(); f != nil {
		f(p, err)
	}
}

// handleInbound decodes one data-channel message and acts on it.
func (p *Peer) handleInbound(in inboundMessage) {
	p.bytesIn.Add(uint64(len(in.data)))
	if in.isString {
		p.violation(fmt.Errorf("%w (%d bytes)", ErrTextMessage, len(in.data)))
		return
	}
	f, err := wire.DecodeFrame(in.data)
	if err != nil {
		p.violation(err)
		return
	}
	if f.RoomToken != p.room.token {
		// Trystero announces every room of its app with presence frames:
		// presence for other rooms is normal, data is not.
		if f.Kind == wire.FrameRoomData {
			p.violation(fmt.Errorf("%w: %.16q", ErrUnknownRoomToken, f.RoomToken))
		}
		return
	}
	if f.Kind == wire.FramePresence {
		if !f.Present {
			p.failure = ErrPeerLeft
		}
		return
	}
	msg, complete, err := p.reassembler.add(f.Chunk)
	if err != nil {
		p.violation(err)
		return
	}
	if !complete {
		return
	}
	p.messagesIn.Add(1)
	p.dispatch(msg)
}

func (p *Peer) dispatch(msg ActionMessage) {
	switch msg.Type {
	case wire.ActionHSData:
		p.handleHandshakeData(msg)
	case wire.ActionHSReady:
		p.remoteReady = true
		p.maybeActivate()
	case wire.ActionLeave:
		p.failure = ErrPeerLeft
	case wire.ActionPing:
		if p.State() == PeerActive {
			p.sendInternal(StringMessage(wire.ActionPong, ""))
		}
	case wire.ActionPong:
		p.handlePong()
	case wire.ActionMeshSignal, wire.ActionPeerExchange:
		p.room.onMeshMessage(p, msg)
	default:
		if strings.HasPrefix(msg.Type, wire.InternalActionPrefix) {
			// @_signal, @_stream, @_track, @_response: media and
			// request/response, which a data-only peer does not use.
			return
		}
		h := p.room.handler(msg.Type)
		if p.State() != PeerActive || h == nil {
			p.dropped.Add(1)
			return
		}
		h(p, msg)
	}
}

// startHandshake runs when the channel opens: presence(1), then the
// password challenge (the lower id challenges) or, without a password,
// @_hsready at once.
func (p *Peer) startHandshake() {
	r := p.room
	if frame, err := wire.EncodePresenceFrame(r.token, true); err == nil {
		ctx, cancel := context.WithTimeout(p.ctx, r.cfg.HandshakeTimeout)
		if err := p.sendFrames(ctx, frame); err != nil {
			r.log.Debug("failed to send presence", "peer", p.id, "err", err)
		}
		cancel()
	}
	switch {
	case r.cfg.challengePassword() == "":
		p.passLocalCheck()
	case wire.IsHandshakeInitiator(r.selfID, p.id):
		c, err := wire.NewHandshakeChallenge()
		if err != nil {
			p.failure = err
			return
		}
		p.challenge = c
		msg, err := JSONMessage(wire.ActionHSData, wire.PasswordHandshakeMessage{Kind: wire.PasswordHandshakeChallenge, Challenge: c})
		if err != nil {
			p.failure = err
			return
		}
		p.sendInternal(msg)
	}
}

func (p *Peer) handleHandshakeData(msg ActionMessage) {
	r := p.room
	r.log.Debug("handshake data", "peer", p.id, "data", string(msg.Payload))
	password := r.cfg.challengePassword()
	if p.localPassed || password == "" {
		return // Trystero ignores handshake data once its check is done
	}
	var hs wire.PasswordHandshakeMessage
	if msg.Kind != wire.PayloadJSON || json.Unmarshal(msg.Payload, &hs) != nil {
		p.failure = fmt.Errorf("%w: %w", ErrPasswordMismatch, ErrHandshakeProtocol)
		return
	}
	if wire.IsHandshakeInitiator(r.selfID, p.id) {
		want := wire.PasswordHandshakeHash(p.challenge, password, r.cfg.AppID, r.cfg.Room)
		if hs.Kind != wire.PasswordHandshakeResponse || hs.Hash != want {
			p.failure = ErrPasswordMismatch
			return
		}
		p.passLocalCheck()
		return
	}
	if hs.Kind != wire.PasswordHandshakeChallenge || hs.Challenge == "" {
		p.failure = fmt.Errorf("%w: %w", ErrPasswordMismatch, ErrHandshakeProtocol)
		return
	}
	reply, err := JSONMessage(wire.ActionHSData, wire.PasswordHandshakeMessage{
		Kind: wire.PasswordHandshakeResponse,
		Hash: wire.PasswordHandshakeHash(hs.Challenge, password, r.cfg.AppID, r.cfg.Room),
	})
	if err != nil {
		p.failure = err
		return
	}
	p.sendInternal(reply)
	p.passLocalCheck()
}

// passLocalCheck records that our side of the handshake passed and tells
// the peer with @_hsready.
func (p *Peer) passLocalCheck() {
	p.localPassed = true
	p.sendInternal(StringMessage(wire.ActionHSReady, ""))
	p.maybeActivate()
}

// maybeActivate makes the peer active once both checks passed.
func (p *Peer) maybeActivate() {
	if !p.localPassed || !p.remoteReady || p.State() != PeerHandshaking {
		return
	}
	p.mu.Lock()
	p.activeAt = time.Now()
	p.mu.Unlock()
	p.state.Store(int32(PeerActive))
	p.room.log.Debug("peer active", "peer", p.id)
	p.room.peerActivated()
	if onJoin, _, _, _ := p.room.callbacks(); onJoin != nil {
		onJoin(p)
	}
}

func (p *Peer) sendPing() {
	p.mu.Lock()
	if len(p.pings) >= maxPendingPings {
		// The peer does not answer: stop piling up (waiters of Ping keep
		// their place; only the room's own pings are dropped).
		p.mu.Unlock()
		return
	}
	p.pings = append(p.pings, pingWaiter{sent: time.Now()})
	p.mu.Unlock()
	p.sendInternal(StringMessage(wire.ActionPing, ""))
}

func (p *Peer) handlePong() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pings) == 0 {
		return
	}
	w := p.pings[0]
	p.pings = p.pings[1:]
	p.rtt = time.Since(w.sent)
	if w.reply != nil {
		w.reply <- p.rtt
	}
}
