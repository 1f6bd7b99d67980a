//go:build js && wasm

package swarm

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall/js"
)

// rtcChannel is a data channel as the WebRTC host hands it over (see
// peerconnection_js.go): an RTCDataChannel transferred to this worker, one
// forwarded over a MessagePort, or the page's own. Its four listeners are
// registered as soon as Go holds it, so nothing that arrives before the
// peer attaches is lost; incoming messages go into a queue bounded at
// maxQueuedInbound bytes from the start.
type rtcChannel struct {
	v     js.Value
	funcs [4]js.Func // open, close, message, low

	queue *orderedQueue

	mu      sync.Mutex
	openFn  func()
	closeFn func()
	lowFn   func()
	opened  bool // the open event came before onOpen
	closed  bool // likewise for close

	releaseOnce sync.Once
	released    atomic.Bool
}

func newRTCChannel(v js.Value) *rtcChannel {
	c := &rtcChannel{v: v, queue: newOrderedQueue(maxQueuedInbound)}
	c.funcs[0] = js.FuncOf(func(js.Value, []js.Value) any {
		c.mu.Lock()
		c.opened = true
		f := c.openFn
		c.mu.Unlock()
		if f != nil {
			f()
		}
		return nil
	})
	c.funcs[1] = js.FuncOf(func(js.Value, []js.Value) any {
		c.mu.Lock()
		c.closed = true
		f := c.closeFn
		c.mu.Unlock()
		if f != nil {
			f()
		}
		return nil
	})
	c.funcs[2] = js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) == 0 {
			return nil
		}
		data := args[0]
		if data.Type() == js.TypeString {
			// Its UTF-16 length is a lower bound of its UTF-8 size: an
			// oversized text is refused before it is copied into Go.
			if !c.queue.admit(jsStringLength(data)) {
				return nil
			}
			s := data.String()
			c.queue.push(queuedMessage{data: []byte(s), isString: true})
			return nil
		}
		if !data.InstanceOf(jsUint8Array) {
			if data.Type() != js.TypeObject {
				return nil // neither bytes nor text: the host never sends that
			}
			data = jsUint8Array.New(data) // an ArrayBuffer
		}
		n := data.Get("byteLength").Int()
		if !c.queue.admit(n) {
			return nil
		}
		b := make([]byte, n)
		js.CopyBytesToGo(b, data)
		c.queue.push(queuedMessage{data: b})
		return nil
	})
	c.funcs[3] = js.FuncOf(func(js.Value, []js.Value) any {
		c.mu.Lock()
		f := c.lowFn
		c.mu.Unlock()
		if f != nil {
			f()
		}
		return nil
	})
	if _, err := jsCall(v, "listen", c.funcs[0], c.funcs[1], c.funcs[2], c.funcs[3]); err != nil {
		c.release()
		_ = c.close()
		c.closed = true
	}
	return c
}

func (c *rtcChannel) onOpen(f func()) {
	c.mu.Lock()
	c.openFn = f
	opened := c.opened
	c.mu.Unlock()
	if opened {
		f()
	}
}

func (c *rtcChannel) onClose(f func()) {
	c.mu.Lock()
	c.closeFn = f
	closed := c.closed
	c.mu.Unlock()
	if closed {
		f()
	}
}

func (c *rtcChannel) onLowWater(n uint64, f func()) {
	c.mu.Lock()
	c.lowFn = f
	c.mu.Unlock()
	if !c.released.Load() {
		c.v.Set("lowWater", n)
	}
}

func (c *rtcChannel) bufferedAmount() uint64 {
	if c.released.Load() {
		return 0
	}
	n := c.v.Get("bufferedAmount")
	if n.Type() != js.TypeNumber {
		return 0
	}
	return uint64(n.Int())
}

func (c *rtcChannel) isOpen() bool {
	return !c.released.Load() && c.v.Get("readyState").String() == "open"
}

// errChannelReleased means the channel was used after its peer closed.
var errChannelReleased = errors.New("data channel closed")

func (c *rtcChannel) send(b []byte) error {
	if c.released.Load() {
		return errChannelReleased
	}
	if _, err := jsCall(c.v, "send", bytesToJS(b)); err != nil {
		return fmt.Errorf("failed to send: %w", err)
	}
	return nil
}

func (c *rtcChannel) sendText(s string) error {
	if c.released.Load() {
		return errChannelReleased
	}
	if _, err := jsCall(c.v, "sendText", s); err != nil {
		return fmt.Errorf("failed to send: %w", err)
	}
	return nil
}

func (c *rtcChannel) close() error {
	if _, err := jsCall(c.v, "close"); err != nil {
		return fmt.Errorf("failed to close data channel: %w", err)
	}
	return nil
}

// release stops the listeners and frees them; the channel is unusable
// afterwards. It is idempotent.
func (c *rtcChannel) release() {
	c.releaseOnce.Do(func() {
		c.released.Store(true)
		_, _ = jsCall(c.v, "listen", js.Null(), js.Null(), js.Null(), js.Null())
		for _, f := range c.funcs {
			f.Release()
		}
		c.queue.stop()
	})
}

// onDataChannelMessage routes the channel's messages, in order, to deliver.
// The browser hands over every message the moment it arrives, with no
// backpressure, so they wait in the channel's queue (filled from the
// JavaScript callback, which must not block) and one goroutine delivers them
// until done is closed. Past maxQueuedInbound bytes not yet delivered,
// overflow is called once and further messages are dropped (the peer is to
// be closed). The returned function releases the channel's callbacks.
func onDataChannelMessage(c *rtcChannel, done <-chan struct{}, deliver func(data []byte, isString bool), overflow func()) (release func()) {
	c.queue.setOverflow(overflow)
	go c.queue.pump(done, deliver)
	return c.release
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
	stopped    bool
	onOverflow func()
	wake       chan struct{}
}

func newOrderedQueue(limit int) *orderedQueue {
	return &orderedQueue{limit: limit, wake: make(chan struct{}, 1)}
}

// setOverflow sets the function called once when the queue overflows (at
// once if it did already).
func (q *orderedQueue) setOverflow(f func()) {
	q.mu.Lock()
	q.onOverflow = f
	over := q.overflowed
	q.mu.Unlock()
	if over && f != nil {
		f()
	}
}

// admit reports whether a message of n bytes fits; the first one that does
// not calls the overflow function, and nothing is admitted after it.
func (q *orderedQueue) admit(n int) bool {
	q.mu.Lock()
	if q.overflowed || q.stopped {
		q.mu.Unlock()
		return false
	}
	if q.bytes+n <= q.limit {
		q.mu.Unlock()
		return true
	}
	q.overflowed = true
	q.items = nil
	f := q.onOverflow
	q.mu.Unlock()
	if f != nil {
		f()
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

// stop drops what is queued and admits nothing more.
func (q *orderedQueue) stop() {
	q.mu.Lock()
	q.stopped = true
	q.items = nil
	q.mu.Unlock()
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
