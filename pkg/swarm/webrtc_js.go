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
// delivers the queue until done is closed. The browser gives no
// backpressure (it hands over every message the moment it arrives), so the
// queue is bounded: past maxQueuedInbound bytes not yet delivered, overflow
// is called once and further messages are dropped (the peer is to be
// closed). The returned function releases the JavaScript callback.
func onDataChannelMessage(dc *webrtc.DataChannel, done <-chan struct{}, deliver func(data []byte, isString bool), overflow func()) (release func()) {
	q := newOrderedQueue(maxQueuedInbound, overflow)
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
		n := arr.Get("byteLength").Int()
		if !q.admit(n) {
			return nil
		}
		b := make([]byte, n)
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

// orderedQueue is a FIFO filled from JavaScript callbacks (which must not
// block) and drained by one goroutine, bounded in bytes.
type orderedQueue struct {
	mu         sync.Mutex
	items      []queuedMessage
	bytes      int // queued or being delivered
	limit      int
	overflowed bool
	onOverflow func()
	wake       chan struct{}
}

func newOrderedQueue(limit int, onOverflow func()) *orderedQueue {
	return &orderedQueue{limit: limit, onOverflow: onOverflow, wake: make(chan struct{}, 1)}
}

// admit reports whether a message of n bytes fits; the first one that does
// not calls onOverflow, and nothing is admitted after it.
func (q *orderedQueue) admit(n int) bool {
	q.mu.Lock()
	if q.overflowed {
		q.mu.Unlock()
		return false
	}
	if q.bytes+n <= q.limit {
		q.mu.Unlock()
		return true
	}
	q.overflowed = true
	q.items = nil
	q.mu.Unlock()
	if q.onOverflow != nil {
		q.onOverflow()
	}
	return false
}

func (q *orderedQueue) push(m queuedMessage) {
	if !q.admit(len(m.data)) {
		return
	}
	q.mu.Lock()
	q.items = append(q.items, m)
	q.bytes += len(m.data)
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
		for {
			q.mu.Lock()
			if len(q.items) == 0 {
				q.mu.Unlock()
				break
			}
			m := q.items[0]
			q.items[0] = queuedMessage{}
			q.items = q.items[1:]
			q.mu.Unlock()
			deliver(m.data, m.isString)
			q.mu.Lock()
			q.bytes -= len(m.data)
			q.mu.Unlock()
			select {
			case <-done:
				return
			default:
			}
		}
	}
}
