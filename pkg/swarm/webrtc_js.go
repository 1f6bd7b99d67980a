//go:build js && wasm

package swarm

import (
	"sync"
	"syscall/js"

	"github.com/pion/webrtc/v4"
)

// newWebRTCAPI builds the pion API of a room. In the browser pion wraps
// RTCPeerConnection, which has no setting engine: LoopbackCandidates is
// ignored (the browser decides which candidates to gather).
func newWebRTCAPI(Config) *webrtc.API {
	return webrtc.NewAPI()
}

// onDataChannelMessage routes the channel's messages, in order, to deliver.
// pion's js OnMessage hands every message to a goroutine of its own, which
// loses their order (and Trystero's chunks must be reassembled in order), so
// the browser event is read synchronously here and queued; one goroutine
// delivers the queue until done is closed. The returned function releases
// the JavaScript callback.
func onDataChannelMessage(dc *webrtc.DataChannel, done <-chan struct{}, deliver func(data []byte, isString bool)) (release func()) {
	q := &orderedQueue{wake: make(chan struct{}, 1)}
	go q.pump(done, deliver)

	v := dc.JSValue()
	v.Set("binaryType", "arraybuffer")
	fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) == 0 {
			return nil
		}
		data := args[0].Get("data")
		if data.Type() == js.TypeString {
			q.push(queuedMessage{data: []byte(data.String()), isString: true})
			return nil
		}
		arr := js.Global().Get("Uint8Array").New(data)
		b := make([]byte, arr.Get("byteLength").Int())
		js.CopyBytesToGo(b, arr)
		q.push(queuedMessage{data: b})
		return nil
	})
	v.Set("onmessage", fn)
	return func() {
		v.Set("onmessage", js.Null())
		fn.Release()
	}
}

type queuedMessage struct {
	data     []byte
	isString bool
}

// orderedQueue is an unbounded FIFO filled from JavaScript callbacks (which
// must not block) and drained by one goroutine.
type orderedQueue struct {
	mu    sync.Mutex
	items []queuedMessage
	wake  chan struct{}
}

func (q *orderedQueue) push(m queuedMessage) {
	q.mu.Lock()
	q.items = append(q.items, m)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *orderedQueue) pump(done <-chan struct{}, deliver func([]byte, bool)) {
	for {
		select {
		case <-done:
			return
		case <-q.wake:
		}
		q.mu.Lock()
		items := q.items
		q.items = nil
		q.mu.Unlock()
		for _, m := range items {
			deliver(m.data, m.isString)
		}
	}
}
