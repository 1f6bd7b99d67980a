package swarm

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/peersetdb/peerset/pkg/wire"
)

// ActionWire chooses the action framing a room sends (Config.ActionWire).
// Whatever is chosen, a peer's own framing is detected from the first
// action frame it sends and from then on both sides speak that one: a
// Trystero 0.25 chunk starts with the first byte of an action name (such as
// '@' of "@_hsready"), a Trystero 0.26 frame with its version byte 0x02.
// The peerset session protocol on top is the same either way.
type ActionWire string

// Action wire settings.
const (
	// ActionWireAuto (the default, also the zero value) sends Trystero 0.25
	// framing until the peer shows it speaks 0.26. Trystero 0.26 itself
	// drops a peer whose first frame is 0.25 framing, so for rooms with
	// Trystero 0.26 apps choose ActionWire026.
	ActionWireAuto ActionWire = "auto"
	// ActionWire025 sends Trystero 0.23.1–0.25.4 framing first.
	ActionWire025 ActionWire = "0.25"
	// ActionWire026 sends Trystero 0.26 framing first. A Trystero 0.25
	// app ignores those frames and we answer in its framing, except with
	// a room password when our id is the lower one: our challenge is
	// ignored, the app sends nothing, and the handshake times out.
	ActionWire026 ActionWire = "0.26"
)

func (w ActionWire) check() error {
	switch w {
	case "", ActionWireAuto, ActionWire025, ActionWire026:
		return nil
	}
	return fmt.Errorf("%w: ActionWire %q: use %q, %q or %q", ErrInvalidConfig, string(w), ActionWireAuto, ActionWire025, ActionWire026)
}

// offerAcceptTimeout bounds how long a sender waits for the receiver to
// accept an offer (Trystero 0.26 waits 120 s, refreshed by progress).
const offerAcceptTimeout = 30 * time.Second

type wireFormat uint8

const (
	wireUnknown wireFormat = iota
	wire025
	wire026
)

func (f wireFormat) String() string {
	switch f {
	case wire025:
		return "Trystero 0.25 framing"
	case wire026:
		return "Trystero 0.26 framing"
	}
	return "no framing yet"
}

// actionWire is a peer's dual-stack action framing: the Trystero 0.25
// wire.Reassembler and the Trystero 0.26 receiver and sender, and which of the
// two the peer speaks. The receiving side belongs to the peer's goroutine;
// the sending side is safe for concurrent use.
type actionWire struct {
	peer   *Peer
	legacy *wire.Reassembler
	recv   *wire.Receiver26

	mu      sync.Mutex
	remote  wireFormat // detected from the peer's first action frame
	changed bool       // the peer changed its framing once
	send    wireFormat // what we send now
	nextID  uint32
	// offers are our offers waiting for accepted or rejected; one at a
	// time, since user messages go out one after the other (order).
	offers map[uint32]chan error

	// order makes user messages go out whole and in order even while one
	// waits for its offer to be accepted (internal messages are small and
	// go inline, without waiting for it).
	order chan struct{}
}

func newActionWire(p *Peer) *actionWire {
	cfg := p.room.cfg
	limits := wire.ReassemblerLimits{
		MaxMessageSize:     cfg.MaxMessageBytes,
		MaxPartialMessages: cfg.MaxPartialMessages,
		MaxPartialBytes:    cfg.MaxPartialBytes,
		PartialTimeout:     cfg.PartialTimeout,
	}
	w := &actionWire{
		peer:   p,
		legacy: wire.NewReassembler(limits),
		recv:   wire.NewReceiver26(limits),
		send:   wire025,
		offers: make(map[uint32]chan error),
		order:  make(chan struct{}, 1),
	}
	if cfg.ActionWire == ActionWire026 {
		w.send = wire026
	}
	return w
}

// HeldBytes, NextExpiry, Expire and Reset cover both receivers, for the
// peer's reassembly timer.
func (w *actionWire) HeldBytes() int { return w.legacy.HeldBytes() + w.recv.HeldBytes() }

func (w *actionWire) NextExpiry() (time.Time, bool) {
	a, okA := w.legacy.NextExpiry()
	b, okB := w.recv.NextExpiry()
	if !okA || (okB && b.Before(a)) {
		return b, okB
	}
	return a, okA
}

func (w *actionWire) Expire(now time.Time) int {
	n := w.legacy.Expire(now)
	replies := w.recv.Expire(now)
	w.sendControl(replies)
	for _, r := range replies {
		if wire.Wire26Kind(r[1]) == wire.Wire26Rejected {
			n++
		}
	}
	return n
}

func (w *actionWire) Reset() {
	w.legacy.Reset()
	w.recv.Reset()
	w.mu.Lock()
	for id, c := range w.offers {
		c <- fmt.Errorf("%w: %w", ErrActionCancelled, ErrPeerNotActive)
		delete(w.offers, id)
	}
	w.mu.Unlock()
}

// sendControl sends accepted/rejected frames from the peer's goroutine.
// They are small and never wait for an offer, so they cannot deadlock
// with a sender waiting for our peer's answer.
func (w *actionWire) sendControl(frames [][]byte) {
	p := w.peer
	for _, f := range frames {
		frame, err := wire.EncodeRoomFrame(p.room.token, f)
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(p.ctx, p.room.cfg.HandshakeTimeout)
		err = p.sendFrames(ctx, frame)
		cancel()
		if err != nil {
			p.room.log.Debug("failed to send action control frame", "peer", p.id, "err", err)
			return
		}
	}
}

// add feeds one action chunk (the payload of a room data frame) from the
// peer, in whichever framing the peer speaks. It runs on the peer's
// goroutine.
//
// The peer's first message frame (a Trystero 0.25 chunk, or a 0.26 inline
// or offer frame) decides what we send from then on; if that is not what
// we sent so far, our handshake goes again in the peer's framing (a
// Trystero 0.25 peer drops 0.26 frames as an unknown action). The peer may
// change its framing once: a peerset peer does when its first frames
// crossed ours. A second change is a violation (ErrIncompatibleActionWire)
// and the frame is dropped. The other 0.26 frames (chunk, accepted,
// rejected, cancelled) belong to a transfer in 0.26 framing, which either
// side may have started, and are checked against it instead.
func (w *actionWire) add(data []byte) (ActionMessage, bool, error) {
	if len(data) == 0 || data[0] != wire.Wire26Version {
		if err := w.saw(wire025); err != nil {
			return ActionMessage{}, false, err
		}
		return w.legacy.Add(data)
	}
	f, err := wire.DecodeFrame26(data)
	if err != nil {
		return ActionMessage{}, false, err
	}
	switch f.Kind {
	case wire.Wire26Accepted, wire.Wire26Rejected:
		return ActionMessage{}, false, w.answer(f)
	case wire.Wire26Inline, wire.Wire26Offer:
		if err := w.saw(wire026); err != nil {
			return ActionMessage{}, false, err
		}
	}
	msg, complete, replies, err := w.recv.Receive(f)
	w.sendControl(replies)
	return msg, complete, err
}

// saw records that the peer started a message in framing got.
func (w *actionWire) saw(got wireFormat) error {
	w.mu.Lock()
	resend := false
	switch {
	case w.remote == wireUnknown:
		w.remote = got
		resend = w.send != got
		w.send = got
		w.peer.room.log.Debug("peer's action framing", "peer", w.peer.id, "framing", got.String())
	case got != w.remote && !w.changed:
		w.remote, w.changed = got, true
	case got != w.remote:
		remote := w.remote
		w.mu.Unlock()
		return fmt.Errorf("%w: a message in %s from a peer that changed to %s already", ErrIncompatibleActionWire, got, remote)
	}
	w.mu.Unlock()
	if resend {
		w.peer.room.log.Debug("peer speaks another action framing: resending the handshake in it", "peer", w.peer.id, "framing", got)
		w.resendHandshake()
	}
	return nil
}

// resendHandshake sends again what the handshake sent so far (the
// password challenge, or @_hsready), in the framing we now send.
func (w *actionWire) resendHandshake() {
	p := w.peer
	switch {
	case p.localPassed:
		p.sendInternal(StringMessage(wire.ActionHSReady, ""))
	case p.challenge != "":
		msg, err := JSONMessage(wire.ActionHSData, wire.PasswordHandshakeMessage{Kind: wire.PasswordHandshakeChallenge, Challenge: p.challenge})
		if err == nil {
			p.sendInternal(msg)
		}
	}
}

// ActionWire returns the action framing we send to the peer: ActionWire025
// or ActionWire026 (the configured one until the peer sent an action).
func (p *Peer) ActionWire() ActionWire {
	if p.reassembler.sends026() {
		return ActionWire026
	}
	return ActionWire025
}

// answer hands the receiver's answer to the offer waiting for it. An
// answer for an offer that ended already is ignored (it crossed our
// cancellation); one for an id we never offered is a violation.
func (w *actionWire) answer(f wire.Frame26) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.offers[f.ID]
	if !ok {
		if f.ID >= w.nextID {
			return fmt.Errorf("%w: %s for transfer %d, which we never offered", wire.ErrMalformedChunk, f.Kind, f.ID)
		}
		return nil
	}
	delete(w.offers, f.ID)
	if f.Kind == wire.Wire26Accepted {
		c <- nil
	} else {
		c <- fmt.Errorf("%w: %.200q", ErrActionRejected, f.Reason)
	}
	return nil
}

// sends026 reports whether messages to the peer go in Trystero 0.26
// framing.
func (w *actionWire) sends026() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.send == wire026
}

// sendMessage026 sends msg in Trystero 0.26 framing: inline, or offer,
// wait for accepted (offerAcceptTimeout), then the chunks. User messages
// go out one after the other, in order; call it from a goroutine other
// than the peer's for a message that needs an offer. A rejected
// offer ends it with ErrActionRejected; a timeout or ctx ends it after
// telling the peer (cancelled).
func (p *Peer) sendMessage026(ctx context.Context, msg ActionMessage) error {
	w := p.reassembler
	internal := strings.HasPrefix(msg.Type, wire.InternalActionPrefix)
	if internal && wire.Message26Fits(msg) {
		// From the peer's goroutine too (pong, @_hsready): never behind
		// an offer that waits for this goroutine to read its answer.
		frame, _, err := wire.EncodeMessage26(msg, 0)
		if err != nil {
			return err
		}
		return p.sendWrapped(ctx, msg.Type, frame)
	}
	select {
	case w.order <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("failed to send %q to %s: %w", msg.Type, p.id, ctx.Err())
	case <-p.closing:
		return fmt.Errorf("failed to send %q to %s: %w", msg.Type, p.id, ErrPeerNotActive)
	}
	defer func() { <-w.order }()
	if wire.Message26Fits(msg) {
		frame, _, err := wire.EncodeMessage26(msg, 0)
		if err != nil {
			return err
		}
		return p.sendWrapped(ctx, msg.Type, frame)
	}

	w.mu.Lock()
	id := w.nextID
	w.nextID++
	w.mu.Unlock()
	offer, chunks, err := wire.EncodeMessage26(msg, id)
	if err != nil {
		return err
	}
	answer := make(chan error, 1)
	w.mu.Lock()
	w.offers[id] = answer
	w.mu.Unlock()
	cancel := func() {
		w.mu.Lock()
		_, waiting := w.offers[id]
		delete(w.offers, id)
		w.mu.Unlock()
		if waiting {
			w.sendControl([][]byte{cancelled26(id)})
		}
	}
	if err := p.sendWrapped(ctx, msg.Type, offer); err != nil {
		cancel()
		return err
	}
	timer := time.NewTimer(offerAcceptTimeout)
	defer timer.Stop()
	select {
	case err := <-answer:
		if err != nil {
			return fmt.Errorf("failed to send %q to %s: %w", msg.Type, p.id, err)
		}
	case <-timer.C:
		cancel()
		return fmt.Errorf("failed to send %q to %s: %w: not accepted within %v", msg.Type, p.id, ErrActionCancelled, offerAcceptTimeout)
	case <-ctx.Done():
		cancel()
		return fmt.Errorf("failed to send %q to %s: %w", msg.Type, p.id, ctx.Err())
	case <-p.closing:
		return fmt.Errorf("failed to send %q to %s: %w", msg.Type, p.id, ErrPeerNotActive)
	}
	p.room.log.Debug("action offer accepted", "peer", p.id, "type", msg.Type, "bytes", len(msg.Payload), "chunks", len(chunks))
	frames := make([][]byte, len(chunks))
	for i, c := range chunks {
		if frames[i], err = wire.EncodeRoomFrame(p.room.token, c); err != nil {
			return err
		}
	}
	if err := p.sendFrames(ctx, frames...); err != nil {
		if ctx.Err() != nil {
			w.sendControl([][]byte{cancelled26(id)})
		}
		return fmt.Errorf("failed to send %q to %s: %w", msg.Type, p.id, err)
	}
	p.messagesOut.Add(1)
	return nil
}

// cancelled26 is the Trystero 0.26 frame that cancels our transfer id.
func cancelled26(id uint32) []byte {
	b, _ := wire.AppendFrame26(nil, wire.Frame26{Kind: wire.Wire26Cancelled, ID: id})
	return b
}

// sendWrapped sends one action frame in its room envelope; an inline frame
// is a whole message.
func (p *Peer) sendWrapped(ctx context.Context, typ string, frame []byte) error {
	f, err := wire.EncodeRoomFrame(p.room.token, frame)
	if err != nil {
		return err
	}
	if err := p.sendFrames(ctx, f); err != nil {
		return fmt.Errorf("failed to send %q to %s: %w", typ, p.id, err)
	}
	if frame[1]&0x0f == byte(wire.Wire26Inline) {
		p.messagesOut.Add(1)
	}
	return nil
}
