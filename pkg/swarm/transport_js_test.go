//go:build js && wasm

package swarm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall/js"
	"testing"
	"time"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/wire"
)

// The transport bounds of docs/protocol.md that do not depend on a real
// connection, checked in the browser build (under Node: a fake WebRTC host
// and a fake WebSocket, both written here through syscall/js): at most
// MaxConnecting connections set up at once under a flood of offers, offers
// seen already handled once, SDPs without exactly one SHA-256 fingerprint
// refused before a peer connection is made, and a tracker connection
// bounded per message and in what it queues.

// fakeHost is a WebRTC host (see peerconnection_js.go) whose connections
// answer every offer with answerSDP and never connect.
type fakeHost struct {
	answerSDP  string
	created    atomic.Int64
	closed     atomic.Int64
	funcs      []js.Func
	mu         sync.Mutex
	candidates []string // the JSON given to pc.candidate
}

func (h *fakeHost) install(t *testing.T) {
	t.Helper()
	obj := jsObject.New()
	obj.Set("available", true)
	h.fn(obj, "create", func(js.Value, []js.Value) any {
		h.created.Add(1)
		pc := jsObject.New()
		h.fn(pc, "listen", func(js.Value, []js.Value) any { return nil })
		h.fn(pc, "answer", func(js.Value, []js.Value) any { return resolved(h.answerSDP) })
		h.fn(pc, "offer", func(js.Value, []js.Value) any { return resolved(h.answerSDP) })
		h.fn(pc, "accept", func(js.Value, []js.Value) any { return resolved(nil) })
		h.fn(pc, "candidate", func(_ js.Value, args []js.Value) any {
			h.mu.Lock()
			h.candidates = append(h.candidates, args[0].String())
			h.mu.Unlock()
			return resolved(nil)
		})
		h.fn(pc, "close", func(js.Value, []js.Value) any { h.closed.Add(1); return nil })
		return pc
	})
	js.Global().Set(rtcHostName, obj)
	t.Cleanup(func() {
		js.Global().Delete(rtcHostName)
		// Release once the room's goroutines are gone (cleanups run last
		// registered first: the room closes before this).
		for _, f := range h.funcs {
			f.Release()
		}
	})
}

func (h *fakeHost) fn(obj js.Value, name string, f func(js.Value, []js.Value) any) {
	jf := js.FuncOf(f)
	h.funcs = append(h.funcs, jf)
	obj.Set(name, jf)
}

func resolved(v any) js.Value {
	return js.Global().Get("Promise").Call("resolve", v)
}

// jsRoom is a started room whose tracker cannot be reached; offers are fed
// to it as if its tracker forwarded them.
func jsRoom(t *testing.T, cfg Config) *Room {
	t.Helper()
	cfg.AppID, cfg.Room, cfg.Password = "js-transport", "bounds", "pw"
	cfg.Trackers = []string{"ws://127.0.0.1:1/"}
	cfg.ICEServers = []ICEServer{}
	r, err := NewRoom(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func sealed(t *testing.T, r *Room, sdp string) string {
	t.Helper()
	s, err := wire.SealSDP(r.sdpKey, sdp)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, what, 10*time.Second, cond)
}

func TestBrowserOfferFloodKeepsMaxConnecting(t *testing.T) {
	installFakeWebSocket(t) // a tracker that takes the answers
	host := &fakeHost{answerSDP: browserLikeAnswer}
	host.install(t)
	r := jsRoom(t, Config{PeerID: "zzzzzzzzzzzzzzzzzzzz", MaxConnecting: 4})
	waitUntil(t, "the tracker connection", func() bool { return r.Trackers()[0].State == TrackerOpen })
	var preempted atomic.Int64
	r.OnJoinError(func(_ string, err error) {
		if errors.Is(err, ErrConnectPreempted) {
			preempted.Add(1)
		}
	})
	const flood = 40
	peak := 0
	for i := range flood {
		id := fmt.Sprintf("a%019d", i)
		// Each offer with its own ICE ufrag: the same SDP under other ids
		// is refused as a replay (TestRelayReplayedOfferSDPRefused).
		offer := sealed(t, r, strings.Replace(pionLikeOffer, "a=ice-ufrag:TrSEshYRuEpqIFgQ", fmt.Sprintf("a=ice-ufrag:flood%011d", i), 1))
		r.trackers[0].dispatch(forwardedOffer(t, r, id, id, offer))
		time.Sleep(2 * time.Millisecond) // let the answers run
		peak = max(peak, ConnectingPeersForTest(r))
	}
	waitUntil(t, "every offer handled", func() bool { return r.signalsHandled.Load()+r.signalsDropped.Load() >= flood })
	if peak > 4 {
		t.Errorf("%d connections were being set up at once, MaxConnecting 4", peak)
	}
	waitUntil(t, "the preempted connections closed", func() bool { return preempted.Load() > 0 && host.closed.Load() > 0 })
	t.Logf("%d peer connections created, %d closed, %d preempted, peak %d being set up", host.created.Load(), host.closed.Load(), preempted.Load(), peak)
}

func TestBrowserOffersSeenAreHandledOnce(t *testing.T) {
	host := &fakeHost{answerSDP: browserLikeAnswer}
	host.install(t)
	r := jsRoom(t, Config{PeerID: "zzzzzzzzzzzzzzzzzzzz"})
	offer := sealed(t, r, pionLikeOffer)
	for range 5 { // several trackers forward the same offer
		r.trackers[0].dispatch(forwardedOffer(t, r, "b0000000000000000001", "b0000000000000000001", offer))
	}
	waitUntil(t, "the offers handled", func() bool { return r.signalsHandled.Load() >= 5 })
	// The answering peer makes its connection on its own goroutine.
	waitUntil(t, "the answer's peer connection", func() bool { return host.created.Load() >= 1 })
	if n := host.created.Load(); n != 1 {
		t.Fatalf("%d peer connections for one offer forwarded 5 times, want 1", n)
	}
}

func TestBrowserRefusesSDPsWithoutOneSHA256Fingerprint(t *testing.T) {
	host := &fakeHost{answerSDP: browserLikeAnswer}
	host.install(t)
	r := jsRoom(t, Config{PeerID: "zzzzzzzzzzzzzzzzzzzz"})
	var mu sync.Mutex
	var refused []error
	r.OnJoinError(func(_ string, err error) {
		mu.Lock()
		refused = append(refused, err)
		mu.Unlock()
	})
	two := strings.Replace(pionLikeOffer, "a=extmap-allow-mixed\r\n", "a=extmap-allow-mixed\r\na=fingerprint:sha-256 "+digest256+"\r\n", 1)
	sha1 := strings.Replace(pionLikeOffer, "a=fingerprint:sha-256", "a=fingerprint:sha-1", 1)
	none := strings.Replace(pionLikeOffer, "a=fingerprint:", "a=x-fp:", 1)
	for i, sdp := range []string{two, sha1, none} {
		id := fmt.Sprintf("c%019d", i)
		r.trackers[0].dispatch(forwardedOffer(t, r, id, id, sealed(t, r, sdp)))
	}
	waitUntil(t, "three refusals", func() bool { mu.Lock(); defer mu.Unlock(); return len(refused) == 3 })
	for _, err := range refused {
		if !errors.Is(err, ErrFingerprint) {
			t.Errorf("refused with %v, want ErrFingerprint", err)
		}
	}
	if n := host.created.Load(); n != 0 {
		t.Fatalf("%d peer connections made for refused offers", n)
	}

	// Our own answer is checked too: a host whose answer carries two
	// fingerprints gets no connection set up.
	host.answerSDP = strings.Replace(browserLikeAnswer, "a=setup:active", "a=fingerprint:sha-256 "+digest256+"\r\na=setup:active", 1)
	r.trackers[0].dispatch(forwardedOffer(t, r, "d0000000000000000001", "d0000000000000000001", sealed(t, r, pionLikeOffer)))
	waitUntil(t, "the answer refused", func() bool { return host.closed.Load() == 1 })
	if ConnectingPeersForTest(r) != 0 {
		t.Fatal("a connection is being set up with an answer of two fingerprints")
	}
}

func forwardedOffer(t *testing.T, r *Room, peerID, offerID, sealedSDP string) []byte {
	t.Helper()
	data, err := wire.EncodeTrackerMessage(&wire.ForwardedOffer{
		Action: wire.TrackerActionAnnounce, Offer: wire.SessionDescription{Type: wire.SDPTypeOffer, SDP: sealedSDP},
		OfferID: offerID, PeerID: peerID, InfoHash: r.infoHash,
	})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// fakeSocket installs a WebSocket constructor whose sockets open at once;
// the test then calls deliver to play the tracker.
type fakeSocket struct {
	ws         js.Value
	funcs      []js.Func
	closeCodes []int // the codes close was called with
}

func installFakeWebSocket(t *testing.T) *fakeSocket {
	t.Helper()
	fs := &fakeSocket{}
	ctor := js.FuncOf(func(_ js.Value, _ []js.Value) any {
		ws := jsObject.New()
		ws.Set("bufferedAmount", 0)
		send := js.FuncOf(func(js.Value, []js.Value) any { return nil })
		closeFn := js.FuncOf(func(_ js.Value, args []js.Value) any {
			code := 1005
			if len(args) > 0 {
				code = args[0].Int()
			}
			fs.closeCodes = append(fs.closeCodes, code)
			// The close event comes in a later task, as in a browser.
			js.Global().Call("setTimeout", js.FuncOf(func(js.Value, []js.Value) any {
				if cb := ws.Get("onclose"); cb.Type() == js.TypeFunction {
					cb.Invoke(map[string]any{"code": code, "reason": ""})
				}
				return nil
			}), 0)
			return nil
		})
		fs.funcs = append(fs.funcs, send, closeFn)
		ws.Set("send", send)
		ws.Set("close", closeFn)
		fs.ws = ws
		// Open in a later task, as a browser does.
		js.Global().Call("setTimeout", js.FuncOf(func(js.Value, []js.Value) any {
			if cb := ws.Get("onopen"); cb.Type() == js.TypeFunction {
				cb.Invoke(jsObject.New())
			}
			return nil
		}), 0)
		return ws
	})
	fs.funcs = append(fs.funcs, ctor)
	old := js.Global().Get("WebSocket")
	js.Global().Set("WebSocket", ctor)
	t.Cleanup(func() {
		js.Global().Set("WebSocket", old)
	})
	return fs
}

func (fs *fakeSocket) deliver(data string) {
	fs.ws.Get("onmessage").Invoke(map[string]any{"data": data})
}

func TestBrowserTrackerMessagesAreBounded(t *testing.T) {
	fs := installFakeWebSocket(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	conn, err := dialWebSocket(ctx, "ws://tracker.invalid/", 1000)
	if err != nil {
		t.Fatal(err)
	}
	fs.deliver("first")
	fs.deliver("second ✓")
	for _, want := range []string{"first", "second ✓"} {
		data, text, err := conn.read(ctx)
		if err != nil || !text || string(data) != want {
			t.Fatalf("read %q (text %v, err %v), want %q", data, text, err, want)
		}
	}
	// One message over the limit ends the connection.
	fs.deliver(strings.Repeat("x", 1001))
	if _, _, err := conn.read(ctx); err == nil || !strings.Contains(err.Error(), "limit 1000") {
		t.Fatalf("read after an oversized message: %v, want the limit named", err)
	}
	// Browsers let a script close with 1000 or 3000–4999 only: any other
	// code throws and leaves the socket open.
	if len(fs.closeCodes) == 0 {
		t.Fatal("the oversized message did not close the socket")
	}
	for _, code := range fs.closeCodes {
		if code != 1000 && (code < 3000 || code > 4999) {
			t.Fatalf("closed with code %d, which a browser refuses from a script", code)
		}
	}

	// A tracker that sends faster than the room reads loses the connection
	// past wsQueueLimit bytes queued.
	conn, err = dialWebSocket(ctx, "ws://tracker.invalid/", trackerReadLimit)
	if err != nil {
		t.Fatal(err)
	}
	chunk := strings.Repeat("y", 64<<10)
	for i := 0; i <= wsQueueLimit/len(chunk); i++ {
		fs.deliver(chunk)
	}
	read := 0
	for {
		_, _, err := conn.read(ctx)
		if err != nil {
			if !strings.Contains(err.Error(), "not handled yet") {
				t.Fatalf("the flood ended with %v, want the queue bound named", err)
			}
			break
		}
		read++
	}
	if read > wsQueueLimit/len(chunk) {
		t.Fatalf("%d messages of %d bytes queued, bound %d bytes", read, len(chunk), wsQueueLimit)
	}
	for _, f := range fs.funcs {
		f.Release()
	}
}
