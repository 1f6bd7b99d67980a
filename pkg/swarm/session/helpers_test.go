package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
)

// testRoom is the room every test node joins unless a test says otherwise.
var testRoom = record.RoomID("peerset", "session-tests")

// waitTimeout is generous: the tests must not flake on a loaded 2-core machine.
const waitTimeout = 60 * time.Second

// receiver is what a pipe end delivers to: a Manager or a rawPeer.
type receiver interface {
	Deliver(link Link, action string, payload []byte) error
	Detach(link Link, reason error)
}

// pipeLink is one end of an in-memory link. Messages sent on one end arrive at
// the other end's receiver, in order, after the pipe's latency, from a goroutine
// per end (so no call re-enters the sender).
type pipeLink struct {
	remoteID          string
	localFP, remoteFP string
	latency           time.Duration
	other             *pipeLink
	target            receiver

	mu      sync.Mutex
	queue   []pipeEvent
	closed  bool
	closing bool // Close was called on this end: its loop ends once its queue is delivered
	started bool
	signal  chan struct{}
	done    chan struct{}
	shut    chan struct{} // closed once this end is closed (by either side)

	bytesSent, msgsSent atomic.Int64
	byAction            sync.Map // action → *atomic.Int64 of payload bytes sent
	countByAction       sync.Map // action → *atomic.Int64 of messages sent
	closeReason         atomic.Pointer[error]
	tamper              func(action string, payload []byte) []byte                     // on send; nil: none
	block               func(ctx context.Context, action string, payload []byte) error // on send, under setBlock; nil: none
}

type pipeEvent struct {
	at      time.Time
	action  string
	payload []byte
	detach  error // non-nil: the other end closed
}

// newPipe returns the end that aID uses to reach bID and the end bID uses to
// reach aID, with random DTLS-like fingerprints.
func newPipe(aID, bID string, latency time.Duration) (ab, ba *pipeLink) {
	fpA, fpB := randomFingerprint(), randomFingerprint()
	ab = &pipeLink{remoteID: bID, localFP: fpA, remoteFP: fpB, latency: latency, signal: make(chan struct{}, 1), done: make(chan struct{}), shut: make(chan struct{})}
	ba = &pipeLink{remoteID: aID, localFP: fpB, remoteFP: fpA, latency: latency, signal: make(chan struct{}, 1), done: make(chan struct{}), shut: make(chan struct{})}
	ab.other, ba.other = ba, ab
	return ab, ba
}

func randomFingerprint() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return "sha-256 " + strings.Join(parts, ":")
}

func (p *pipeLink) ID() string                { return p.remoteID }
func (p *pipeLink) LocalFingerprint() string  { return p.localFP }
func (p *pipeLink) RemoteFingerprint() string { return p.remoteFP }

var errPipeClosed = errors.New("pipe closed")

// setBlock makes Send call block first (the peer stopped reading: Send
// waits for back-pressure).
func (p *pipeLink) setBlock(block func(ctx context.Context, action string, payload []byte) error) {
	p.mu.Lock()
	p.block = block
	p.mu.Unlock()
}

func (p *pipeLink) Send(ctx context.Context, action string, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.tamper != nil {
		payload = p.tamper(action, payload)
	}
	p.mu.Lock()
	closed, block := p.closed, p.block
	p.mu.Unlock()
	if closed {
		return errPipeClosed
	}
	if block != nil {
		// Back-pressure: the peer stopped reading.
		if err := block(ctx, action, payload); err != nil {
			return err
		}
	}
	p.bytesSent.Add(int64(len(payload)))
	p.msgsSent.Add(1)
	counter, _ := p.byAction.LoadOrStore(action, new(atomic.Int64))
	counter.(*atomic.Int64).Add(int64(len(payload)))
	n, _ := p.countByAction.LoadOrStore(action, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	p.other.enqueue(pipeEvent{at: time.Now().Add(p.latency), action: action, payload: append([]byte(nil), payload...)})
	return nil
}

// Close closes both ends; the other end's receiver gets Detach after the
// messages already in flight. This end's delivery goroutine ends once it
// delivered what was in flight to it (so a synctest bubble can end).
func (p *pipeLink) Close(reason error) {
	p.mu.Lock()
	already := p.closed
	p.closed, p.closing = true, true
	if !already {
		close(p.shut)
	}
	p.mu.Unlock()
	p.wake()
	if already {
		return
	}
	if reason == nil {
		reason = errPipeClosed
	}
	p.closeReason.Store(&reason)
	p.other.mu.Lock()
	if !p.other.closed {
		p.other.closed = true
		close(p.other.shut)
	}
	p.other.mu.Unlock()
	p.other.enqueue(pipeEvent{at: time.Now().Add(p.latency), detach: reason})
}

func (p *pipeLink) enqueue(ev pipeEvent) {
	p.mu.Lock()
	p.queue = append(p.queue, ev)
	p.mu.Unlock()
	p.wake()
}

func (p *pipeLink) wake() {
	select {
	case p.signal <- struct{}{}:
	default:
	}
}

// start begins delivering to the receiver.
func (p *pipeLink) start() {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return
	}
	p.started = true
	p.mu.Unlock()
	go p.loop()
}

func (p *pipeLink) loop() {
	defer close(p.done)
	for {
		p.mu.Lock()
		if len(p.queue) == 0 {
			closing := p.closing
			p.mu.Unlock()
			if closing {
				return
			}
			<-p.signal
			continue
		}
		ev := p.queue[0]
		p.queue[0] = pipeEvent{} // the backing array must not keep delivered payloads alive
		p.queue = p.queue[1:]
		p.mu.Unlock()
		if d := time.Until(ev.at); d > 0 {
			// Models latency, not an assertion. Once the link is closed
			// what is in flight arrives at once, so that the goroutine
			// ends without waiting for time to pass (a synctest bubble's
			// clock stops when the test's function returns).
			timer := time.NewTimer(d)
			select {
			case <-timer.C:
			case <-p.shut:
				timer.Stop()
			}
		}
		if ev.detach != nil {
			p.target.Detach(p, ev.detach)
			return
		}
		_ = p.target.Deliver(p, ev.action, ev.payload)
	}
}

// node is one test peer: a Manager over a MemoryReplica.
type node struct {
	name    string
	key     *record.SecretKey
	replica *MemoryReplica
	m       *Manager
	closed  chan SessionInfo
}

func testPipeline(t testing.TB, room string) *moderation.Pipeline {
	t.Helper()
	cfg := moderation.PresetOpen()
	cfg.RoomID = room
	p, err := moderation.NewPipeline(cfg)
	if err != nil {
		t.Fatalf("failed to build pipeline: %v", err)
	}
	return p
}

// quickConfig is a Config with short timers so that tests run fast.
func quickConfig() Config {
	return Config{
		IdleRootInterval: 500 * time.Millisecond,
		RootDebounce:     20 * time.Millisecond,
		RoundTimeout:     5 * time.Second,
		WantTimeout:      5 * time.Second,
	}
}

func newNode(t testing.TB, name string, cfg Config) *node {
	t.Helper()
	return newNodeInRoom(t, name, cfg, testRoom, nil)
}

func newNodeInRoom(t testing.TB, name string, cfg Config, room string, key *record.SecretKey) *node {
	t.Helper()
	if key == nil {
		var err error
		if key, err = record.GenerateKey(); err != nil {
			t.Fatal(err)
		}
	}
	n := &node{name: name, key: key, replica: NewMemoryReplica(testPipeline(t, room)), closed: make(chan SessionInfo, 64)}
	userHook := cfg.OnSessionClosed
	cfg.OnSessionClosed = func(info SessionInfo) {
		if userHook != nil {
			userHook(info)
		}
		select {
		case n.closed <- info:
		default:
		}
	}
	m, err := NewManager(cfg, key, room, n.replica)
	if err != nil {
		t.Fatalf("failed to create manager %s: %v", name, err)
	}
	n.m = m
	t.Cleanup(m.Close)
	return n
}

// connect links two nodes and attaches both ends; it returns a's end and b's end.
func connect(t testing.TB, a, b *node, latency time.Duration) (ab, ba *pipeLink) {
	t.Helper()
	ab, ba = newPipe(a.name, b.name, latency)
	ab.target, ba.target = a.m, b.m
	if err := a.m.Attach(ab); err != nil {
		t.Fatalf("%s failed to attach %s: %v", a.name, b.name, err)
	}
	if err := b.m.Attach(ba); err != nil {
		t.Fatalf("%s failed to attach %s: %v", b.name, a.name, err)
	}
	ab.start()
	ba.start()
	return ab, ba
}

// waitFor is testwait.For with the session tests' timeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, what, waitTimeout, cond)
}

// waitClosed waits for a session of n with peerID to close and returns its info.
func waitClosed(t testing.TB, n *node, peerID string) SessionInfo {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case info := <-n.closed:
			if info.PeerID == peerID {
				return info
			}
		case <-timer.C:
			t.Fatalf("timed out waiting for %s to close its session with %s", n.name, peerID)
		}
	}
}

// waitState waits until n's session with peerID is in one of the states.
func waitState(t testing.TB, n *node, peerID string, states ...State) SessionInfo {
	t.Helper()
	var info SessionInfo
	waitFor(t, fmt.Sprintf("%s's session with %s to reach %v", n.name, peerID, states), func() bool {
		var ok bool
		info, ok = n.m.Session(peerID)
		if !ok {
			return false
		}
		for _, st := range states {
			if info.State == st {
				return true
			}
		}
		return false
	})
	return info
}

// waitConverged waits until every node has the same root and count want.
func waitConverged(t testing.TB, want int, nodes ...*node) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d nodes to converge on %d records", len(nodes), want), func() bool {
		root0, n0 := nodes[0].replica.Root()
		if n0 != want {
			return false
		}
		for _, n := range nodes[1:] {
			if r, c := n.replica.Root(); r != root0 || c != want {
				return false
			}
		}
		return true
	})
}

var (
	recordPoolOnce sync.Once
	recordPool     []*record.Event
	recordPoolErr  error
)

// pooledRecords returns n records of testRoom from a pool made once per test
// binary (signing is the slow part of these tests).
func pooledRecords(t testing.TB, n int) []*record.Event {
	t.Helper()
	recordPoolOnce.Do(func() {
		keys := make([]*record.SecretKey, 8)
		for i := range keys {
			if keys[i], recordPoolErr = record.GenerateKey(); recordPoolErr != nil {
				return
			}
		}
		base := time.Now().Add(-time.Hour)
		recordPool = make([]*record.Event, 2200)
		for i := range recordPool {
			recordPool[i], recordPoolErr = record.New(record.Draft{
				Text:      fmt.Sprintf("pooled record %d", i),
				CreatedAt: base.Add(-time.Duration(i) * 17 * time.Minute),
			}, keys[i%len(keys)], testRoom, record.Limits{})
			if recordPoolErr != nil {
				return
			}
		}
	})
	if recordPoolErr != nil {
		t.Fatalf("failed to make the record pool: %v", recordPoolErr)
	}
	if n > len(recordPool) {
		t.Fatalf("the record pool holds %d records, not %d", len(recordPool), n)
	}
	return recordPool[:n]
}

// synctestEpoch is where the clock of every synctest bubble starts.
var synctestEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	bubblePoolOnce sync.Once
	bubblePool     []*record.Event
	bubblePoolErr  error
)

// bubbleRecords is pooledRecords for tests in a synctest bubble: the pool's
// records are dated by the real clock, in the future of a bubble's, and
// would be refused there. These are dated before synctestEpoch, like the
// pool's before now.
func bubbleRecords(t testing.TB, n int) []*record.Event {
	t.Helper()
	if now := time.Now(); now.Before(synctestEpoch) || now.After(synctestEpoch.AddDate(0, 1, 0)) {
		t.Fatalf("bubbleRecords outside a synctest bubble (the clock says %v)", now)
	}
	bubblePoolOnce.Do(func() {
		keys := make([]*record.SecretKey, 8)
		for i := range keys {
			if keys[i], bubblePoolErr = record.GenerateKey(); bubblePoolErr != nil {
				return
			}
		}
		base := synctestEpoch.Add(-time.Hour)
		bubblePool = make([]*record.Event, 2200)
		for i := range bubblePool {
			bubblePool[i], bubblePoolErr = record.New(record.Draft{
				Text:      fmt.Sprintf("bubble record %d", i),
				CreatedAt: base.Add(-time.Duration(i) * 17 * time.Minute),
			}, keys[i%len(keys)], testRoom, record.Limits{})
			if bubblePoolErr != nil {
				return
			}
		}
	})
	if bubblePoolErr != nil {
		t.Fatalf("failed to make the bubble record pool: %v", bubblePoolErr)
	}
	if n > len(bubblePool) {
		t.Fatalf("the bubble record pool holds %d records, not %d", len(bubblePool), n)
	}
	return bubblePool[:n]
}

// seed stores valid events in n's replica without verifying them again
// (verification is what makes the race-detector runs slow).
func seed(t testing.TB, n *node, events []*record.Event) {
	t.Helper()
	for _, e := range events {
		if err := n.replica.addTrusted(e); err != nil {
			t.Fatalf("failed to seed %s: %v", n.name, err)
		}
	}
}

// addTrusted is Add without the pipeline, for test data known to be valid.
func (r *MemoryReplica) addTrusted(e *record.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	removed, err := r.index.Add(e)
	for _, old := range removed {
		r.tree.Delete(merkle.Item{Timestamp: uint64(old.CreatedAt), ID: old.ID})
		delete(r.events, old.ID)
	}
	if err != nil {
		return fmt.Errorf("event %x not kept: %w", e.ID[:4], err)
	}
	if _, err := r.tree.Insert(merkle.Item{Timestamp: uint64(e.CreatedAt), ID: e.ID}); err != nil {
		return err
	}
	r.events[e.ID] = e
	return nil
}

// rawPeer is a hand-driven remote end for testing refusals and hostile input.
type rawPeer struct {
	key    *record.SecretKey
	nonce  [NonceSize]byte
	room   string
	in     chan pipeEvent
	gossip bool // its hello offers gossip
}

func newRawPeer(t testing.TB, room string) *rawPeer {
	t.Helper()
	key, err := record.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	r := &rawPeer{key: key, room: room, in: make(chan pipeEvent, 4096)}
	_, _ = rand.Read(r.nonce[:])
	return r
}

func (r *rawPeer) Deliver(_ Link, action string, payload []byte) error {
	select {
	case r.in <- pipeEvent{action: action, payload: payload}:
	default:
	}
	return nil
}

func (r *rawPeer) Detach(_ Link, reason error) {
	select {
	case r.in <- pipeEvent{detach: reason}:
	default:
	}
}

// dial connects the raw peer (named id) to n; it returns the raw peer's end.
func (r *rawPeer) dial(t testing.TB, n *node, id string) (*pipeLink, error) {
	t.Helper()
	rn, nr := newPipe(id, n.name, 0)
	rn.target, nr.target = r, n.m
	err := n.m.Attach(nr)
	rn.start()
	nr.start()
	return rn, err
}

// next waits for the next message with action (skipping others), or fails.
func (r *rawPeer) next(t testing.TB, action string) pipeEvent {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case ev := <-r.in:
			if ev.detach != nil {
				t.Fatalf("link closed while waiting for %s: %v", action, ev.detach)
			}
			if ev.action == action {
				return ev
			}
		case <-timer.C:
			t.Fatalf("timed out waiting for %s", action)
		}
	}
}

// waitDetached waits until the link closes, and returns the bye seen before, if any.
func (r *rawPeer) waitDetached(t testing.TB) (bye byeMsg) {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case ev := <-r.in:
			if ev.detach != nil {
				return bye
			}
			if ev.action == ActionBye {
				bye, _ = decodeBye(ev.payload)
			}
		case <-timer.C:
			t.Fatal("timed out waiting for the link to close")
		}
	}
}

func (r *rawPeer) hello() []byte {
	return EncodeHello(Hello{Version: ProtocolVersion, Room: r.room, PubKey: r.key.Public(), Nonce: r.nonce, Limits: Config{}.mustDefaults().limits(), Gossip: r.gossip})
}

// authFor signs the auth answering the manager's hello on link.
func (r *rawPeer) authFor(t testing.TB, link *pipeLink, theirHello []byte) []byte {
	t.Helper()
	h, err := DecodeHello(theirHello)
	if err != nil {
		t.Fatalf("bad hello from the manager: %v", err)
	}
	hash := AuthHash(r.room, h.Nonce, r.nonce, link.LocalFingerprint(), link.RemoteFingerprint())
	sig, err := signHash(r.key, hash)
	if err != nil {
		t.Fatal(err)
	}
	return encodeAuth(auth{Sig: sig})
}

// handshake runs the raw side of a successful handshake on link.
func (r *rawPeer) handshake(t testing.TB, link *pipeLink) {
	t.Helper()
	theirs := r.next(t, ActionHello)
	send(t, link, ActionHello, r.hello())
	r.next(t, ActionAuth)
	send(t, link, ActionAuth, r.authFor(t, link, theirs.payload))
	r.next(t, ActionRoot)
}

func send(t testing.TB, link *pipeLink, action string, payload []byte) {
	t.Helper()
	if err := link.Send(context.Background(), action, payload); err != nil {
		t.Fatalf("failed to send %s: %v", action, err)
	}
}

func (c Config) mustDefaults() *Config {
	d, err := c.withDefaults()
	if err != nil {
		panic(err)
	}
	return &d
}

// trafficByAction renders the bytes sent per action, in protocol order.
func (p *pipeLink) trafficByAction() string {
	var parts []string
	for _, action := range Actions {
		if c, ok := p.byAction.Load(action); ok {
			parts = append(parts, fmt.Sprintf("%s %d", strings.TrimPrefix(action, ActionPrefix), c.(*atomic.Int64).Load()))
		}
	}
	return strings.Join(parts, ", ")
}

// sent returns how many messages with action were sent on this end.
func (p *pipeLink) sent(action string) int64 {
	if n, ok := p.countByAction.Load(action); ok {
		return n.(*atomic.Int64).Load()
	}
	return 0
}

// byActionBytes returns the payload bytes sent with action on this end.
func (p *pipeLink) byActionBytes(action string) int64 {
	if c, ok := p.byAction.Load(action); ok {
		return c.(*atomic.Int64).Load()
	}
	return 0
}
