//go:build js && wasm

package swarm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall/js"
	"time"
)

// wsConn is a tracker connection over the browser's WebSocket (available on
// the main thread and in workers). The browser gives no backpressure on
// receipt, so messages wait in a queue bounded in bytes (wsQueueLimit) until
// read takes them; a tracker that sends more than that ahead of us, or one
// message over the read limit, loses its connection. Writes wait while the
// socket's own buffer holds more than wsSendHighWater bytes.
type wsConn struct {
	ws        js.Value
	url       string
	readLimit int
	funcs     [4]js.Func // open, message, error, close

	opened chan struct{}
	wake   chan struct{}
	done   chan struct{} // closed once the socket is closed
	once   sync.Once

	mu     sync.Mutex
	queue  []wsMessage
	queued int // bytes in queue
	err    error
}

type wsMessage struct {
	data []byte
	text bool
}

const (
	// wsQueueLimit bounds the bytes received from a tracker and not yet read.
	wsQueueLimit = 1 << 20
	// wsSendHighWater: writes wait while the socket buffers more than this.
	wsSendHighWater = 256 << 10
	// wsPoll is how often a waiting write looks at the socket's buffer.
	wsPoll = 10 * time.Millisecond
)

var jsTextEncoder = js.Global().Get("TextEncoder").New()

// errWebSocketClosed is the error of reads and writes on a closed socket
// that gave no other reason.
var errWebSocketClosed = errors.New("websocket closed")

func dialWebSocket(ctx context.Context, url string, readLimit int64) (*wsConn, error) {
	ctor := js.Global().Get("WebSocket")
	if ctor.Type() != js.TypeFunction {
		return nil, errors.New("this browser offers no WebSocket")
	}
	ws, err := jsNew(ctor, url)
	if err != nil {
		return nil, err // a malformed URL: SyntaxError
	}
	w := &wsConn{ws: ws, url: url, readLimit: int(readLimit), opened: make(chan struct{}),
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	ws.Set("binaryType", "arraybuffer")
	w.funcs[0] = js.FuncOf(func(js.Value, []js.Value) any {
		close(w.opened)
		return nil
	})
	w.funcs[1] = js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) > 0 {
			w.receive(args[0].Get("data"))
		}
		return nil
	})
	w.funcs[2] = js.FuncOf(func(js.Value, []js.Value) any {
		// The browser tells no more than "error"; close follows with the code.
		return nil
	})
	w.funcs[3] = js.FuncOf(func(_ js.Value, args []js.Value) any {
		err := errWebSocketClosed
		if len(args) > 0 {
			e := args[0]
			code := e.Get("code").Int()
			if reason := e.Get("reason").String(); reason != "" {
				err = fmt.Errorf("%w (code %d: %.200s)", errWebSocketClosed, code, reason)
			} else {
				err = fmt.Errorf("%w (code %d)", errWebSocketClosed, code)
			}
		}
		w.finish(err)
		return nil
	})
	ws.Set("onopen", w.funcs[0])
	ws.Set("onmessage", w.funcs[1])
	ws.Set("onerror", w.funcs[2])
	ws.Set("onclose", w.funcs[3])
	select {
	case <-w.opened:
		return w, nil
	case <-w.done:
		return nil, w.failure()
	case <-ctx.Done():
		_ = w.closeNow()
		return nil, ctx.Err()
	}
}

// receive queues one message (called from the browser's event).
func (w *wsConn) receive(data js.Value) {
	text := data.Type() == js.TypeString
	var u js.Value
	switch {
	case text:
		// The UTF-16 length is a lower bound of the UTF-8 size: an
		// oversized text is refused before it is encoded.
		if n := jsStringLength(data); n > w.readLimit {
			w.fail(fmt.Errorf("websocket message of at least %d bytes, limit %d", n, w.readLimit))
			return
		}
		u = jsTextEncoder.Call("encode", data) // the UTF-8 bytes, still in JavaScript
	case data.Type() == js.TypeObject:
		u = jsUint8Array.New(data) // an ArrayBuffer
	default:
		return
	}
	if n := u.Get("byteLength").Int(); n > w.readLimit {
		w.fail(fmt.Errorf("websocket message of %d bytes, limit %d", n, w.readLimit))
		return
	}
	m := wsMessage{data: bytesFromJS(u), text: text}
	w.mu.Lock()
	if w.err != nil {
		w.mu.Unlock()
		return
	}
	if w.queued+len(m.data) > wsQueueLimit {
		w.mu.Unlock()
		w.fail(fmt.Errorf("the tracker sent more than %d bytes that were not handled yet", wsQueueLimit))
		return
	}
	w.queue = append(w.queue, m)
	w.queued += len(m.data)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// fail closes the socket for a reason of ours (recorded first: the close
// event that follows must not replace it).
func (w *wsConn) fail(err error) {
	w.finish(err)
	// A script may close with 1000 or 3000–4999 only (1009 throws).
	_, _ = jsCall(w.ws, "close", wsCloseOverLimit, "over the client's limits")
}

// wsCloseOverLimit is the close code of a connection we end because the
// tracker sent more than our bounds allow (an application code: browsers
// refuse 1009 from scripts).
const wsCloseOverLimit = 4009

// finish records why the connection ended (the first reason wins), stops
// the listeners and frees them.
func (w *wsConn) finish(err error) {
	w.once.Do(func() {
		w.mu.Lock()
		w.err = err
		w.mu.Unlock()
		for _, name := range []string{"onopen", "onmessage", "onerror", "onclose"} {
			w.ws.Set(name, js.Null())
		}
		for _, f := range w.funcs {
			f.Release()
		}
		close(w.done)
	})
}

func (w *wsConn) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		return errWebSocketClosed
	}
	return w.err
}

func (w *wsConn) read(ctx context.Context) ([]byte, bool, error) {
	for {
		w.mu.Lock()
		if len(w.queue) > 0 {
			m := w.queue[0]
			w.queue[0] = wsMessage{}
			w.queue = w.queue[1:]
			w.queued -= len(m.data)
			w.mu.Unlock()
			return m.data, m.text, nil
		}
		err := w.err
		w.mu.Unlock()
		if err != nil {
			return nil, false, err
		}
		select {
		case <-w.wake:
		case <-w.done:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

func (w *wsConn) writeText(ctx context.Context, data []byte) error {
	for w.ws.Get("bufferedAmount").Int() > wsSendHighWater {
		select {
		case <-w.done:
			return w.failure()
		case <-ctx.Done():
			// The peer stopped reading: the socket is of no more use, and
			// closing it lets the caller's reconnection start afresh.
			_ = w.closeNow()
			return fmt.Errorf("websocket send buffer above %d bytes until the write timed out: %w", wsSendHighWater, ctx.Err())
		case <-time.After(wsPoll):
		}
	}
	select {
	case <-w.done:
		return w.failure()
	default:
	}
	if _, err := jsCall(w.ws, "send", string(data)); err != nil {
		return err
	}
	return nil
}

// close starts the closing handshake and waits for it to end (callers
// bound the wait).
func (w *wsConn) close(reason string) error {
	if _, err := jsCall(w.ws, "close", 1000, reason); err != nil {
		w.finish(err)
		return err
	}
	<-w.done
	return nil
}

func (w *wsConn) closeNow() error {
	_, err := jsCall(w.ws, "close")
	w.finish(errWebSocketClosed)
	return err
}
