//go:build !js

package swarm

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/nostrsignal"
	"github.com/peersetdb/peerset/pkg/record"
)

// stuckConn is a relay that stopped reading (its TCP window closed, or
// the browser's bufferedAmount above wsSendHighWater): the REQ goes out,
// every later write waits until its context ends. It sends announcements of
// invented peers with small ids (so that we send each a directed
// announcement) every 20 ms.
type stuckConn struct {
	mu      sync.Mutex
	sub     string
	got     chan struct{}
	key     *record.SecretKey
	root    string
	done    chan struct{}
	writing atomic.Int64 // writes waiting now
}

func (c *stuckConn) Write(ctx context.Context, data []byte) error {
	c.mu.Lock()
	if c.sub == "" {
		var msg []json.RawMessage
		if json.Unmarshal(data, &msg) == nil && len(msg) > 1 {
			_ = json.Unmarshal(msg[1], &c.sub)
		}
		close(c.got)
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	c.writing.Add(1)
	defer c.writing.Add(-1)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return context.Canceled
	}
}

func (c *stuckConn) Read(ctx context.Context) ([]byte, error) {
	select {
	case <-c.got:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-time.After(20 * time.Millisecond):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	const alphabet = "0123456789AaBbCcDdEeFfGgHhIiJjKkLlMmNnOoPpQqRrSsTtUuVvWwXxYyZz"
	b := []byte("0")
	for range 19 {
		b = append(b, alphabet[rand.N(len(alphabet))])
	}
	ev, err := nostrsignal.NewEvent(c.key, c.root, `{"peerId":"`+string(b)+`"}`, time.Now().Unix())
	if err != nil {
		return nil, err
	}
	return append(ev.AppendJSON([]byte(`["EVENT","`+c.sub+`",`)), ']'), nil
}

func (c *stuckConn) Close() error { return nil }

// TestRelayStuckRelayDoesNotBlockSignalWorkers: a relay that stopped
// reading, announcing peers we answer with directed announcements, holds
// at most relaySendsPerRelay sends (off the signal workers); the
// tracker's and the mesh's signals queued meanwhile are all handled.
func TestRelayStuckRelayDoesNotBlockSignalWorkers(t *testing.T) {
	self := "z" + strings.Repeat("a", 19)
	r, _ := relayTestRoom(t, self)
	key, err := record.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	conn := &stuckConn{got: make(chan struct{}), key: key, root: nostrsignal.RootTopic(r.cfg.AppID, r.cfg.Room), done: make(chan struct{})}
	t.Cleanup(func() { close(conn.done) })
	c, err := nostrsignal.New(nostrsignal.Config{Relays: []string{"ws://127.0.0.1:1"}, AppID: r.cfg.AppID, Room: r.cfg.Room, PeerID: self,
		OnSignal: func(s nostrsignal.Signal) { r.enqueueSignal(func() { r.handleRelaySignal(s) }) },
		Dial:     func(context.Context, string, int64) (nostrsignal.Conn, error) { return conn, nil }})
	if err != nil {
		t.Fatal(err)
	}
	r.relays.client = c
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The relay is stuck on more directed announcements than the signal
	// workers could have waited on.
	testwait.For(t, "directed announcements dropped as the relay is stuck", 15*time.Second, func() bool {
		return r.relays.sendsDropped.Load() > 0 && conn.writing.Load() > 0
	})
	var ran atomic.Int64
	const n = 100
	d0 := r.signalsDropped.Load()
	for range n {
		r.enqueueSignal(func() { ran.Add(1) })
	}
	testwait.ForState(t, "the tracker's signals to be handled", 5*time.Second, func() bool { return ran.Load() == n },
		func() string { return fmt.Sprintf("%d of %d handled", ran.Load(), n) })
	if d := r.signalsDropped.Load() - d0; d != 0 {
		t.Fatalf("%d signals dropped while the relay was stuck", d)
	}
	if k := len(r.relays.sending["ws://127.0.0.1:1"]); k > relaySendsPerRelay {
		t.Fatalf("%d directed announcements being sent, want at most %d", k, relaySendsPerRelay)
	}
}
