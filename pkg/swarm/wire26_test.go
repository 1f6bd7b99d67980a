//go:build !js

package swarm_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/wire"
)

// big is a payload that needs an offer and the receiver's accepted in
// Trystero 0.26 framing (more than 16384 − 36 bytes; here 1.5 MiB).
func bigPayload(seed byte) []byte {
	b := make([]byte, 3<<19)
	for i := range b {
		b[i] = byte(i*13) ^ seed
	}
	return b
}

func wire26Config(t *testing.T, trackerURL string, w swarm.ActionWire) swarm.Config {
	cfg := testConfig(t, trackerURL, roomName(t))
	cfg.ActionWire = w
	cfg.MaxMessageBytes = 2 << 20
	cfg.MaxPartialBytes = 2 << 20
	return cfg
}

func noViolations(t *testing.T, peers ...*testPeer) {
	t.Helper()
	for _, tp := range peers {
		select {
		case err := <-tp.violations:
			t.Fatalf("%s: violation %v", tp.room.SelfID(), err)
		default:
		}
	}
}

// sendBothWays sends the test payloads and a 1.5 MiB message each way at
// the same time, and checks what arrives.
func sendBothWays(t *testing.T, a, b *testPeer, pb, pa *swarm.Peer) {
	t.Helper()
	exchange(t, pb, b, a.room.SelfID())
	exchange(t, pa, a, b.room.SelfID())
	msgAB := swarm.BinaryMessage("blob", bigPayload(1))
	msgBA := swarm.BinaryMessage("blob", bigPayload(2))
	errs := make(chan error, 2)
	go func() { errs <- pb.Send(t.Context(), msgAB) }()
	go func() { errs <- pa.Send(t.Context(), msgBA) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("Send 1.5 MiB: %v", err)
		}
	}
	for _, c := range []struct {
		to   *testPeer
		want swarm.ActionMessage
	}{{b, msgAB}, {a, msgBA}} {
		got := c.to.waitMessage(t)
		checkSame(t, got.msg, c.want)
	}
}

// Two peers set to Trystero 0.26 framing speak it both ways, with messages
// inline and through offer/accepted, 1.5 MiB each way at once.
func TestActionWire026BothWays(t *testing.T) {
	tr := startTracker(t)
	a := newTestPeer(t, wire26Config(t, tr.URL(), swarm.ActionWire026), "chat", "blob")
	b := newTestPeer(t, wire26Config(t, tr.URL(), swarm.ActionWire026), "chat", "blob")
	pb, pa := a.waitJoin(t), b.waitJoin(t)
	if pb.ActionWire() != swarm.ActionWire026 || pa.ActionWire() != swarm.ActionWire026 {
		t.Fatalf("framing %s and %s, want 0.26", pb.ActionWire(), pa.ActionWire())
	}
	sendBothWays(t, a, b, pb, pa)
	if _, err := pb.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	noViolations(t, a, b)
	if pb.ActionWire() != swarm.ActionWire026 || pa.ActionWire() != swarm.ActionWire026 {
		t.Fatalf("framing %s and %s after the exchange, want 0.26", pb.ActionWire(), pa.ActionWire())
	}
}

// A peer on the default (auto) meets one set to 0.26, and one set to 0.25
// meets one set to 0.26: whatever crossed first, they join and exchange
// both ways without a violation. With a password, the challenge is sent
// again in the framing the other peer speaks.
func TestActionWireMixedSettings(t *testing.T) {
	for _, c := range []struct {
		name     string
		a, b     swarm.ActionWire
		password string
	}{
		{"auto-0.26", "", swarm.ActionWire026, ""},
		{"0.25-0.26", swarm.ActionWire025, swarm.ActionWire026, ""},
		{"0.26-auto with password", swarm.ActionWire026, swarm.ActionWireAuto, "pw"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := startTracker(t)
			cfgA := wire26Config(t, tr.URL(), c.a)
			cfgB := wire26Config(t, tr.URL(), c.b)
			cfgA.Password, cfgB.Password = c.password, c.password
			a := newTestPeer(t, cfgA, "chat", "blob")
			b := newTestPeer(t, cfgB, "chat", "blob")
			pb, pa := a.waitJoin(t), b.waitJoin(t)
			t.Logf("a sends %s, b sends %s", pb.ActionWire(), pa.ActionWire())
			sendBothWays(t, a, b, pb, pa)
			noViolations(t, a, b)
		})
	}
}

func expectViolation(t *testing.T, tp *testPeer, want error) error {
	t.Helper()
	select {
	case err := <-tp.violations:
		if !errors.Is(err, want) {
			t.Fatalf("violation %v, want %v", err, want)
		}
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("no violation %v within 10 s", want)
	}
	return nil
}

func rawSend(t *testing.T, from *swarm.Peer, token string, frame wire.Frame26) {
	t.Helper()
	b, err := wire.AppendFrame26(nil, frame)
	if err != nil {
		t.Fatal(err)
	}
	room, err := wire.EncodeRoomFrame(token, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := swarm.SendRawForTest(t.Context(), from, room); err != nil {
		t.Fatal(err)
	}
}

// Hostile Trystero 0.26 input: an offer over our limit, answers for offers
// never made, chunks for transfers never offered, a flood of control
// frames, and a peer that changes framing a second time. Each is a
// violation or ignored, nothing is held, and the connection still works.
func TestActionWire026HostileInput(t *testing.T) {
	tr := startTracker(t)
	a := newTestPeer(t, wire26Config(t, tr.URL(), swarm.ActionWire026), "chat")
	b := newTestPeer(t, wire26Config(t, tr.URL(), swarm.ActionWire026), "chat")
	pb, pa := a.waitJoin(t), b.waitJoin(t)
	token := swarm.RoomTokenOf(a.room)

	rawSend(t, pb, token, wire.Frame26{Kind: wire.Wire26Offer, Type: "chat", Format: wire.PayloadBinary, ID: 1 << 30, Size: 3 << 20})
	expectViolation(t, b, swarm.ErrMessageTooLarge)
	rawSend(t, pb, token, wire.Frame26{Kind: wire.Wire26Accepted, ID: 1 << 31})
	expectViolation(t, b, wire.ErrMalformedChunk)
	rawSend(t, pb, token, wire.Frame26{Kind: wire.Wire26Chunk, ID: 12345, Payload: []byte{1}})
	expectViolation(t, b, wire.ErrMalformedChunk)

	// A flood of cancellations for transfers that do not exist costs
	// nothing to keep: no violation, nothing held.
	for i := range 2000 {
		rawSend(t, pb, token, wire.Frame26{Kind: wire.Wire26Cancelled, ID: uint32(i)})
	}
	// Offers that are never followed by chunks are held (metadata only)
	// until PartialTimeout, at most MaxPartialMessages of them.
	for i := range 6 {
		rawSend(t, pb, token, wire.Frame26{Kind: wire.Wire26Offer, Type: "chat", Format: wire.PayloadBinary, ID: uint32(100 + i), Size: 100 << 10, Meta: []byte(`{"pad":"` + string(bytes.Repeat([]byte("x"), 1000)) + `"}`)})
	}
	expectViolation(t, b, wire.ErrTooManyPartialMessages)
	expectViolation(t, b, wire.ErrTooManyPartialMessages)
	if held := swarm.PartialBytesForTest(pa); held > 4*1100 {
		t.Fatalf("b holds %d bytes for 4 waiting offers", held)
	}

	// The connection still works, both ways.
	if err := pb.Send(t.Context(), swarm.StringMessage("chat", "still here")); err != nil {
		t.Fatal(err)
	}
	if got := b.waitMessage(t); string(got.msg.Payload) != "still here" {
		t.Fatalf("got %q", got.msg.Payload)
	}

	// A change of framing is allowed once (a peer whose first frames
	// crossed ours), a second one is a violation.
	chunk, err := wire.AppendChunk(nil, wire.Chunk{Type: "chat", Flags: wire.FlagLast, Progress: 255, Payload: []byte("in 0.25")})
	if err != nil {
		t.Fatal(err)
	}
	frame, _ := wire.EncodeRoomFrame(token, chunk)
	if err := swarm.SendRawForTest(t.Context(), pb, frame); err != nil {
		t.Fatal(err)
	}
	if got := b.waitMessage(t); string(got.msg.Payload) != "in 0.25" {
		t.Fatalf("got %q", got.msg.Payload)
	}
	rawSend(t, pb, token, wire.Frame26{Kind: wire.Wire26Inline, Type: "chat", Payload: []byte("back to 0.26")})
	expectViolation(t, b, swarm.ErrIncompatibleActionWire)
	select {
	case m := <-b.messages:
		t.Fatalf("a frame after the second change was delivered: %q", m.msg.Payload)
	case <-time.After(200 * time.Millisecond):
	}
	testwait.For(t, "b to hold nothing once the offers expire", 30*time.Second, func() bool { return swarm.PartialBytesForTest(pa) == 0 })
}

// TestCallbackSendsALargeMessage: callbacks may call any method (Room's
// doc). A handler that answers with a message needing an offer in 0.26
// framing (> 16348 bytes) waited for the accepted frame that only its own
// goroutine would read (found in review: 5 s, then the context's error);
// answers to our offers are now taken where they arrive.
func TestCallbackSendsALargeMessage(t *testing.T) {
	for _, w := range []swarm.ActionWire{swarm.ActionWire025, swarm.ActionWire026} {
		t.Run(string(w), func(t *testing.T) {
			tr := startTracker(t)
			a := newTestPeer(t, wire26Config(t, tr.URL(), w), "blob")
			cfgB := wire26Config(t, tr.URL(), w)
			errs := make(chan error, 1)
			b := newTestPeer(t, cfgB)
			if err := b.room.Handle("ask", func(p *swarm.Peer, msg swarm.ActionMessage) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				start := time.Now()
				err := p.Send(ctx, swarm.BinaryMessage("blob", make([]byte, 20000)))
				t.Logf("handler Send took %v: %v", time.Since(start), err)
				errs <- err
			}); err != nil {
				t.Fatal(err)
			}
			pb, _ := a.waitJoin(t), b.waitJoin(t)
			if err := pb.Send(t.Context(), swarm.StringMessage("ask", "x")); err != nil {
				t.Fatal(err)
			}
			if err := <-errs; err != nil {
				t.Fatalf("handler's Send of 20000 bytes: %v", err)
			}
			got := a.waitMessage(t)
			if len(got.msg.Payload) != 20000 {
				t.Fatalf("got %d bytes", len(got.msg.Payload))
			}
		})
	}
}

// TestCallbackSmallReplyBehindALargeSend: a handler's small reply queued
// behind another goroutine's large Send to the same peer, which held the
// order slot while it waited for an accepted frame that only the blocked
// peer goroutine could read (found in review).
func TestCallbackSmallReplyBehindALargeSend(t *testing.T) {
	for _, w := range []swarm.ActionWire{swarm.ActionWire025, swarm.ActionWire026} {
		t.Run(string(w), func(t *testing.T) {
			tr := startTracker(t)
			a := newTestPeer(t, wire26Config(t, tr.URL(), w), "blob", "chat")
			errs := make(chan error, 2)
			b := newTestPeer(t, wire26Config(t, tr.URL(), w))
			if err := b.room.Handle("ask", func(p *swarm.Peer, msg swarm.ActionMessage) {
				// elsewhere in the app, a broadcast of a large message starts
				go func() { errs <- p.Send(context.Background(), swarm.BinaryMessage("blob", make([]byte, 20000))) }()
				time.Sleep(200 * time.Millisecond) // let the large Send take the order slot first
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				start := time.Now()
				err := p.Send(ctx, swarm.StringMessage("chat", "small reply"))
				t.Logf("handler's small Send took %v: %v", time.Since(start), err)
				errs <- err
			}); err != nil {
				t.Fatal(err)
			}
			pb, _ := a.waitJoin(t), b.waitJoin(t)
			if err := pb.Send(t.Context(), swarm.StringMessage("ask", "x")); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := <-errs; err != nil {
					t.Errorf("%v", err)
				}
			}
		})
	}
}
