//go:build js && wasm

package swarm

import (
	"bytes"
	"strings"
	"syscall/js"
	"testing"
	"time"
)

// TestInboundFloodIsBoundedInTheBrowser: the browser hands over every
// data-channel message at once, with no backpressure, so a peer that sends
// faster than the room handles its messages must be cut off at
// maxQueuedInbound bytes instead of growing the queue without bound.
func TestInboundFloodIsBoundedInTheBrowser(t *testing.T) {
	overflows := 0
	q := newOrderedQueue(10)
	q.setOverflow(func() { overflows++ })
	done := make(chan struct{})
	defer close(done)
	block := make(chan struct{})
	var got [][]byte
	go q.pump(done, func(b []byte, _ bool) {
		<-block // a busy peer: nothing is handled yet
		got = append(got, b)
	})
	q.push(queuedMessage{data: []byte("1234")})
	q.push(queuedMessage{data: []byte("5678")})
	if overflows != 0 {
		t.Fatal("overflow within the limit")
	}
	q.push(queuedMessage{data: []byte("9ab")}) // 11 bytes: over
	q.push(queuedMessage{data: []byte("c")})
	if overflows != 1 {
		t.Fatalf("%d overflow calls, want 1", overflows)
	}
	if q.admit(1) {
		t.Fatal("a message was admitted after the overflow")
	}
	close(block)
	time.Sleep(50 * time.Millisecond)
	if len(got) > 1 || (len(got) == 1 && !bytes.Equal(got[0], []byte("1234"))) {
		t.Fatalf("delivered %q after the overflow, want at most the message being delivered", got)
	}
}

// TestOverflowBeforeThePeerAttaches: messages that arrive before the peer
// starts reading count against the same bound, and the overflow is
// reported as soon as the peer attaches.
func TestOverflowBeforeThePeerAttaches(t *testing.T) {
	q := newOrderedQueue(4)
	q.push(queuedMessage{data: []byte("12345")})
	overflows := 0
	q.setOverflow(func() { overflows++ })
	if overflows != 1 {
		t.Fatalf("%d overflow calls when the peer attached, want 1", overflows)
	}
}

func TestOrderedQueueKeepsOrderAndFreesBytes(t *testing.T) {
	q := newOrderedQueue(8)
	q.setOverflow(func() { t.Error("overflow") })
	done := make(chan struct{})
	defer close(done)
	out := make(chan string, 16)
	go q.pump(done, func(b []byte, _ bool) { out <- string(b) })
	for _, s := range []string{"ab", "cd", "ef", "gh", "ij", "kl"} {
		q.push(queuedMessage{data: []byte(s)})
		// Each is handled before the next arrives: 12 bytes in all pass
		// through a queue of 8.
		if got := <-out; got != s {
			t.Fatalf("got %q, want %q", got, s)
		}
	}
}

// TestChannelTextIsBoundedBeforeItIsCopied: a text message goes through the
// same bound as bytes; an oversized one (its UTF-16 length already over)
// overflows the queue without being delivered.
func TestChannelTextIsBoundedBeforeItIsCopied(t *testing.T) {
	var listeners []js.Value
	fake := jsObject.New()
	listen := js.FuncOf(func(_ js.Value, args []js.Value) any {
		listeners = args
		return nil
	})
	noop := js.FuncOf(func(js.Value, []js.Value) any { return nil })
	defer listen.Release()
	defer noop.Release()
	fake.Set("listen", listen)
	fake.Set("close", noop)
	c := newRTCChannel(fake)
	if len(listeners) != 4 {
		t.Fatalf("listen got %d callbacks, want 4", len(listeners))
	}
	done := make(chan struct{})
	defer close(done)
	got := make(chan string, 4)
	overflows := make(chan struct{}, 4)
	release := onDataChannelMessage(c, done, func(b []byte, isString bool) {
		if isString {
			got <- string(b)
		}
	}, func() { overflows <- struct{}{} })
	defer release()

	listeners[2].Invoke("héllo ✓")
	select {
	case s := <-got:
		if s != "héllo ✓" {
			t.Fatalf("delivered %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a small text was not delivered")
	}
	listeners[2].Invoke(strings.Repeat("x", maxQueuedInbound+1))
	select {
	case <-overflows:
	case s := <-got:
		t.Fatalf("an oversized text of %d bytes was delivered", len(s))
	case <-time.After(5 * time.Second):
		t.Fatal("an oversized text did not overflow the queue")
	}
}
