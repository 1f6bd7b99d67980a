package swarm

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peersetdb/peerset/pkg/wire"
)

// MemNet is an in-memory network for simulations (cmd/swarmsim): rooms
// built by MemNet.NewRoom run the real Room code (signalling, sealed SDPs,
// Trystero frames, handshake) over data channels and tracker sockets that
// are queues in this process, with a one-way latency per pair of endpoints
// and a loss rate. Nothing in Config selects it: only NewRoom does, so no
// configuration of a real peer can reach it.
//
// Data channels and tracker sockets are reliable and ordered, as SCTP and
// TCP are: a lost message is retransmitted, so loss shows up as delay (one
// retransmission timeout per loss, head-of-line blocking the messages
// behind it), never as a gap. Latency and the loss decisions of each
// direction of each link come from Seed: the same seed gives the same
// latencies and the same loss sequence per link (which message of a link a
// decision falls on still depends on goroutine scheduling).
//
// SDPs on a MemNet are synthetic: one session-level line
// "a=fingerprint:sha-256 <32 bytes>" that is SHA-256("peerset memnet
// endpoint " + endpoint id), and one "a=x-peerset-memnet:<endpoint id>"
// line naming the in-memory endpoint. Both ends read the other's
// fingerprint from its SDP, as over WebRTC, so the session handshake binds
// to them unchanged. A real WebRTC stack refuses these SDPs (no media
// section, no ICE credentials).
//
// Connection setup takes two round trips (ICE and DTLS) after the answer
// is accepted; a killed endpoint is noticed by the other side after
// KillDetect (consent freshness), as "disconnected".
type MemNet struct {
	cfg MemNetConfig

	mu        sync.Mutex
	nextID    uint64
	endpoints map[string]*memPeer                          // by endpoint id, while not closed
	trackers  map[string]func(remote string, s *MemSocket) // by URL
	dead      map[string]bool                              // killed owners
	owners    map[string]*memOwner
}

// MemNetConfig configures a MemNet.
type MemNetConfig struct {
	// Seed drives latencies and losses.
	Seed uint64
	// Latency is the mean one-way latency of a link; each pair of endpoints
	// gets a fixed latency drawn uniformly in Latency ± Jitter.
	Latency time.Duration
	Jitter  time.Duration
	// Loss is the probability that one message is lost once (and
	// retransmitted after RTO); 0 ≤ Loss < 1.
	Loss float64
	// RTO is the retransmission delay of a lost message; default
	// max(200 ms, 4 × Latency).
	RTO time.Duration
	// KillDetect is how long the peers of a killed endpoint take to see
	// it disconnected; default 5 s.
	KillDetect time.Duration
	// MaxQueuedBytes bounds what one direction of a link holds undelivered;
	// past it a send fails. Default 16 MiB.
	MaxQueuedBytes int
	// Unreachable is the fraction of rooms (drawn from Seed) behind a NAT
	// that lets no other such room connect to them directly, as two
	// symmetric NATs without a TURN server: an offer between two of them
	// is answered but never connects (the answerer times out). They connect
	// to every other room. 0 ≤ Unreachable ≤ 1.
	Unreachable float64
}

// memOwner is what the MemNet counts for one room.
type memOwner struct {
	dataBytes    atomic.Uint64 // sent on data channels
	dataMessages atomic.Uint64
	trackerBytes atomic.Uint64 // sent to trackers
	trackerMsgs  atomic.Uint64
	mu           sync.Mutex
	peers        map[*memPeer]struct{}
	sockets      map[*memSocketEnd]struct{}
}

// MemStats is what one room sent over a MemNet.
type MemStats struct {
	DataBytes, DataMessages       uint64
	TrackerBytes, TrackerMessages uint64
}

// ErrMemNet wraps the failures of the in-memory network.
var ErrMemNet = errors.New("memnet")

// NewMemNet returns an empty network.
func NewMemNet(cfg MemNetConfig) (*MemNet, error) {
	if cfg.Loss < 0 || cfg.Loss >= 1 {
		return nil, fmt.Errorf("%w: loss %v is not in [0, 1)", ErrInvalidConfig, cfg.Loss)
	}
	if cfg.Unreachable < 0 || cfg.Unreachable > 1 {
		return nil, fmt.Errorf("%w: unreachable fraction %v is not in [0, 1]", ErrInvalidConfig, cfg.Unreachable)
	}
	if cfg.Latency < 0 || cfg.Jitter < 0 || cfg.Jitter > cfg.Latency {
		return nil, fmt.Errorf("%w: latency %v ± %v: both must be ≥ 0 and the jitter at most the latency", ErrInvalidConfig, cfg.Latency, cfg.Jitter)
	}
	if cfg.RTO <= 0 {
		cfg.RTO = max(200*time.Millisecond, 4*cfg.Latency)
	}
	if cfg.KillDetect <= 0 {
		cfg.KillDetect = 5 * time.Second
	}
	if cfg.MaxQueuedBytes <= 0 {
		cfg.MaxQueuedBytes = 16 << 20
	}
	return &MemNet{
		cfg:       cfg,
		endpoints: make(map[string]*memPeer),
		trackers:  make(map[string]func(string, *MemSocket)),
		dead:      make(map[string]bool),
		owners:    make(map[string]*memOwner),
	}, nil
}

// NewRoom is swarm.NewRoom on this network. cfg.PeerID names the room's
// endpoint (a fresh id when empty); its Trackers must be URLs served with
// ServeTracker.
func (n *MemNet) NewRoom(cfg Config) (*Room, error) {
	if cfg.PeerID == "" {
		id, err := wire.NewPeerID()
		if err != nil {
			return nil, err
		}
		cfg.PeerID = id
	}
	if cfg.ICEServers == nil {
		cfg.ICEServers = []ICEServer{}
	}
	n.mu.Lock()
	if n.owners[cfg.PeerID] != nil {
		n.mu.Unlock()
		return nil, fmt.Errorf("%w: peer id %s is taken", ErrMemNet, cfg.PeerID)
	}
	o := &memOwner{peers: make(map[*memPeer]struct{}), sockets: make(map[*memSocketEnd]struct{})}
	n.owners[cfg.PeerID] = o
	n.mu.Unlock()
	return newRoom(cfg, &memTransport{net: n, owner: cfg.PeerID, stats: o})
}

// Stats returns what the room with this peer id sent.
func (n *MemNet) Stats(peerID string) MemStats {
	n.mu.Lock()
	o := n.owners[peerID]
	n.mu.Unlock()
	if o == nil {
		return MemStats{}
	}
	return MemStats{
		DataBytes: o.dataBytes.Load(), DataMessages: o.dataMessages.Load(),
		TrackerBytes: o.trackerBytes.Load(), TrackerMessages: o.trackerMsgs.Load(),
	}
}

// ServeTracker makes url reachable: every socket dialled to it is handed to
// accept (on a goroutine of its own) with the dialler's peer id as remote
// address.
func (n *MemNet) ServeTracker(url string, accept func(remote string, s *MemSocket)) {
	n.mu.Lock()
	n.trackers[url] = accept
	n.mu.Unlock()
}

// KillTracker makes url unreachable and drops every socket open to it.
func (n *MemNet) KillTracker(url string) {
	n.mu.Lock()
	delete(n.trackers, url)
	var ends []*memSocketEnd
	for _, o := range n.owners {
		o.mu.Lock()
		for s := range o.sockets {
			if s.url == url {
				ends = append(ends, s)
			}
		}
		o.mu.Unlock()
	}
	n.mu.Unlock()
	for _, s := range ends {
		s.sever()
	}
}

// Kill cuts the room with this peer id off the network at once, as a
// crashed browser tab: nothing more leaves or reaches it, its peers see the
// connections disconnected after KillDetect and trackers drop its sockets.
// The caller still closes the Room to free its goroutines.
func (n *MemNet) Kill(peerID string) {
	n.mu.Lock()
	n.dead[peerID] = true
	o := n.owners[peerID]
	n.mu.Unlock()
	if o == nil {
		return
	}
	o.mu.Lock()
	peers := make([]*memPeer, 0, len(o.peers))
	for p := range o.peers {
		peers = append(peers, p)
	}
	socks := make([]*memSocketEnd, 0, len(o.sockets))
	for s := range o.sockets {
		socks = append(socks, s)
	}
	o.mu.Unlock()
	for _, p := range peers {
		p.sever()
	}
	for _, s := range socks {
		s.sever()
	}
}

func (n *MemNet) isDead(owner string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dead[owner]
}

// unreachable reports whether owner is behind a NAT that other such owners
// cannot cross (MemNetConfig.Unreachable).
func (n *MemNet) unreachable(owner string) bool {
	if n.cfg.Unreachable <= 0 {
		return false
	}
	return float64(n.hash64("unreachable", owner)>>11)/(1<<53) < n.cfg.Unreachable
}

// Unreachable reports whether the room with this peer id is behind a NAT
// that other such rooms cannot cross (MemNetConfig.Unreachable).
func (n *MemNet) Unreachable(peerID string) bool { return n.unreachable(peerID) }

// hash64 mixes the seed with strings.
func (n *MemNet) hash64(parts ...string) uint64 {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n.cfg.Seed)
	h.Write(b[:])
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return binary.BigEndian.Uint64(h.Sum(nil))
}

// latency is the fixed one-way latency between a and b (either order).
func (n *MemNet) latency(a, b string) time.Duration {
	if a > b {
		a, b = b, a
	}
	if n.cfg.Jitter == 0 {
		return n.cfg.Latency
	}
	f := float64(n.hash64("latency", a, b)>>11) / (1 << 53) // [0, 1)
	return n.cfg.Latency - n.cfg.Jitter + time.Duration(f*float64(2*n.cfg.Jitter))
}

// newPipe is one direction of a link from a to b.
func (n *MemNet) newPipe(from, to, linkID string) *memPipe {
	seed := n.hash64("loss", from, to, linkID)
	return &memPipe{
		net:     n,
		delay:   n.latency(from, to),
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		wake:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
}

// memTransport is the transport of one room on a MemNet.
type memTransport struct {
	net   *MemNet
	owner string
	stats *memOwner
}

func (t *memTransport) newPeer() (peerConn, error) {
	if t.net.isDead(t.owner) {
		return nil, fmt.Errorf("%w: endpoint killed", ErrMemNet)
	}
	p := &memPeer{t: t}
	t.stats.mu.Lock()
	t.stats.peers[p] = struct{}{}
	t.stats.mu.Unlock()
	return p, nil
}

func (t *memTransport) dial(ctx context.Context, url string, readLimit int64) (trackerSocket, error) {
	n := t.net
	if n.isDead(t.owner) {
		return nil, fmt.Errorf("%w: endpoint killed", ErrMemNet)
	}
	rtt := 2 * n.latency(t.owner, url)
	select {
	case <-time.After(rtt): // TCP and WebSocket handshakes, roughly
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	n.mu.Lock()
	accept := n.trackers[url]
	n.mu.Unlock()
	if accept == nil {
		return nil, fmt.Errorf("%w: connection to %s refused", ErrMemNet, url)
	}
	up := n.newPipe(t.owner, url, "socket")
	down := n.newPipe(url, t.owner, "socket")
	client := newSocketEnd(t, url, up, down, readLimit)
	server := newSocketEnd(nil, url, down, up, 0)
	client.peer, server.peer = server, client
	t.stats.mu.Lock()
	t.stats.sockets[client] = struct{}{}
	t.stats.mu.Unlock()
	go accept(t.owner, &MemSocket{end: server})
	return client, nil
}

// memMsg is one message in flight; closing marks the end of the stream.
type memMsg struct {
	data    []byte
	text    bool
	closing bool
	due     time.Time
}

// memPipe is one direction of a reliable, ordered link: messages wait
// their due time, then are handed to the receiver one at a time (a
// receiver that blocks holds the rest back, as flow control does).
type memPipe struct {
	net   *MemNet
	delay time.Duration

	mu       sync.Mutex
	rng      *rand.Rand
	queue    []memMsg
	queued   uint64
	lastDue  time.Time
	closed   bool // no more sends
	severed  bool
	receiver func(m memMsg)
	lowN     uint64
	lowF     func()
	wake     chan struct{}
	stopped  chan struct{} // closed when the pump stops for good
	stopOnce sync.Once
}

// push queues a message; it fails once the pipe is closed or too full.
func (p *memPipe) push(data []byte, text, closing bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.severed {
		return fmt.Errorf("%w: link closed", ErrMemNet)
	}
	if !closing && p.queued+uint64(len(data)) > uint64(p.net.cfg.MaxQueuedBytes) {
		return fmt.Errorf("%w: more than %d bytes queued on a link", ErrMemNet, p.net.cfg.MaxQueuedBytes)
	}
	due := time.Now().Add(p.delay)
	for p.net.cfg.Loss > 0 && p.rng.Float64() < p.net.cfg.Loss {
		due = due.Add(p.net.cfg.RTO)
	}
	if due.Before(p.lastDue) {
		due = p.lastDue // ordered: never before the message ahead
	}
	p.lastDue = due
	if closing {
		p.closed = true
	}
	p.queue = append(p.queue, memMsg{data: data, text: text, closing: closing, due: due})
	p.queued += uint64(len(data))
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

// start hands the pipe's messages to receiver, on a goroutine of its own,
// until the stream ends or the pipe is stopped.
func (p *memPipe) start(receiver func(m memMsg)) {
	p.mu.Lock()
	if p.receiver != nil {
		p.mu.Unlock()
		return
	}
	p.receiver = receiver
	p.mu.Unlock()
	go p.pump()
}

func (p *memPipe) stop() { p.stopOnce.Do(func() { close(p.stopped) }) }

// sever drops everything in flight and stops the pipe.
func (p *memPipe) sever() {
	p.mu.Lock()
	p.severed = true
	p.queue = nil
	p.queued = 0
	p.mu.Unlock()
	p.stop()
}

func (p *memPipe) pump() {
	var timer *time.Timer
	for {
		p.mu.Lock()
		for len(p.queue) == 0 {
			p.mu.Unlock()
			select {
			case <-p.wake:
			case <-p.stopped:
				return
			}
			p.mu.Lock()
		}
		m := p.queue[0]
		p.mu.Unlock()
		if d := time.Until(m.due); d > 0 {
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			select {
			case <-timer.C:
			case <-p.stopped:
				return
			}
		}
		p.mu.Lock()
		if p.severed || len(p.queue) == 0 {
			p.mu.Unlock()
			return
		}
		p.queue[0] = memMsg{}
		p.queue = p.queue[1:]
		before := p.queued
		p.queued -= uint64(len(m.data))
		lowF, lowN := p.lowF, p.lowN
		p.mu.Unlock()
		if lowF != nil && before > lowN && before-uint64(len(m.data)) <= lowN {
			lowF()
		}
		p.receiver(m)
		if m.closing {
			p.stop()
			return
		}
	}
}

func (p *memPipe) bufferedAmount() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.queued
}

const memSDPAttr = "a=x-peerset-memnet:"

// memSDP writes the synthetic SDP of an endpoint (see MemNet).
func memSDP(endpoint string) string {
	sum := sha256.Sum256([]byte("peerset memnet endpoint " + endpoint))
	hex := make([]string, len(sum))
	for i, b := range sum {
		hex[i] = fmt.Sprintf("%02X", b)
	}
	return "v=0\r\no=- 0 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
		"a=fingerprint:sha-256 " + strings.Join(hex, ":") + "\r\n" +
		memSDPAttr + endpoint + "\r\n"
}

// memEndpoint reads the endpoint id of a synthetic SDP.
func memEndpoint(sdp string) (string, error) {
	for line := range strings.Lines(sdp) {
		if id, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), memSDPAttr); ok {
			return id, nil
		}
	}
	return "", fmt.Errorf("%w: not a memnet SDP", ErrMemNet)
}

// memPeer is a peer connection on a MemNet.
type memPeer struct {
	t *memTransport

	mu       sync.Mutex
	id       string // endpoint id, once an SDP was made
	remoteID string // endpoint id of the other side
	st       connState
	dc       *memChannel
	remote   *memPeer
	onState  func()
	onDC     func(dataChannel)
	closed   bool
}

func (p *memPeer) register() string {
	n := p.t.net
	n.mu.Lock()
	n.nextID++
	id := fmt.Sprintf("%s.%d", p.t.owner, n.nextID)
	n.endpoints[id] = p
	n.mu.Unlock()
	p.mu.Lock()
	p.id = id
	p.st = connConnecting
	p.mu.Unlock()
	return id
}

func (p *memPeer) createOffer(ctx context.Context) (dataChannel, string, error) {
	id := p.register()
	dc := &memChannel{pc: p}
	p.mu.Lock()
	p.dc = dc
	p.mu.Unlock()
	return dc, memSDP(id), nil
}

func (p *memPeer) createAnswer(ctx context.Context, offer string) (string, error) {
	remote, err := memEndpoint(offer)
	if err != nil {
		return "", err
	}
	id := p.register()
	p.mu.Lock()
	p.remoteID = remote
	p.mu.Unlock()
	return memSDP(id), nil
}

// addCandidate accepts any candidate: a MemNet has no ICE.
func (p *memPeer) addCandidate(context.Context, iceCandidate) error { return nil }

func (p *memPeer) acceptAnswer(ctx context.Context, answer string) error {
	n := p.t.net
	remoteID, err := memEndpoint(answer)
	if err != nil {
		return err
	}
	n.mu.Lock()
	b := n.endpoints[remoteID]
	n.mu.Unlock()
	p.mu.Lock()
	a := p
	aID := p.id
	p.mu.Unlock()
	if b == nil {
		return fmt.Errorf("%w: the answering endpoint is gone", ErrMemNet)
	}
	b.mu.Lock()
	ok := b.remoteID == aID && !b.closed
	b.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: the answer is not for this offer", ErrMemNet)
	}
	if n.isDead(a.t.owner) || n.isDead(b.t.owner) || (n.unreachable(a.t.owner) && n.unreachable(b.t.owner)) {
		return nil // never connects: the answerer times out
	}
	ab := n.newPipe(a.t.owner, b.t.owner, aID)
	ba := n.newPipe(b.t.owner, a.t.owner, aID)
	a.mu.Lock()
	adc := a.dc
	a.remote, a.remoteID = b, remoteID
	a.mu.Unlock()
	bdc := &memChannel{pc: b}
	adc.link(ab, ba)
	bdc.link(ba, ab)
	setup := 4 * n.latency(a.t.owner, b.t.owner) // ICE, then DTLS and SCTP
	time.AfterFunc(setup, func() {
		b.mu.Lock()
		if b.closed || a.isClosed() {
			b.mu.Unlock()
			return
		}
		b.remote = a
		b.dc = bdc
		b.st = connConnected
		onDC, bState := b.onDC, b.onState
		b.mu.Unlock()
		a.mu.Lock()
		a.st = connConnected
		aState := a.onState
		a.mu.Unlock()
		if aState != nil {
			aState()
		}
		if bState != nil {
			bState()
		}
		if onDC != nil {
			onDC(bdc)
		}
		adc.setOpen()
		bdc.setOpen()
	})
	return nil
}

func (p *memPeer) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

func (p *memPeer) onStateChange(f func()) {
	p.mu.Lock()
	p.onState = f
	p.mu.Unlock()
}

func (p *memPeer) onDataChannel(f func(dataChannel)) {
	p.mu.Lock()
	p.onDC = f
	p.mu.Unlock()
}

func (p *memPeer) state() connState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

func (p *memPeer) setState(s connState) {
	p.mu.Lock()
	if p.st == connClosed || p.st == s {
		p.mu.Unlock()
		return
	}
	p.st = s
	f := p.onState
	p.mu.Unlock()
	if f != nil {
		f()
	}
}

func (p *memPeer) close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.st = connClosed
	dc, id := p.dc, p.id
	p.mu.Unlock()
	n := p.t.net
	n.mu.Lock()
	if id != "" {
		delete(n.endpoints, id)
	}
	n.mu.Unlock()
	p.t.stats.mu.Lock()
	delete(p.t.stats.peers, p)
	p.t.stats.mu.Unlock()
	if dc != nil {
		_ = dc.close()
	}
	return nil
}

// sever cuts the connection without a word: the other side sees it
// disconnected after KillDetect.
func (p *memPeer) sever() {
	p.mu.Lock()
	dc, remote := p.dc, p.remote
	p.mu.Unlock()
	if dc != nil {
		dc.severLinks()
	}
	if remote != nil {
		time.AfterFunc(p.t.net.cfg.KillDetect, func() { remote.setState(connDisconnected) })
	}
}

// memChannel is one end of a data channel on a MemNet.
type memChannel struct {
	pc *memPeer

	mu       sync.Mutex
	out, in  *memPipe
	open     bool
	closed   bool
	onOpenF  func()
	onCloseF func()
	lowN     uint64
	lowF     func()
	recv     func(memMsg) // set by onMessage
	released bool
}

// link gives the channel its pipes (the offerer's channel exists before
// the answer names the other end) and applies what was registered before.
func (c *memChannel) link(out, in *memPipe) {
	c.mu.Lock()
	c.out, c.in = out, in
	lowN, lowF, recv, released := c.lowN, c.lowF, c.recv, c.released
	c.mu.Unlock()
	if lowF != nil {
		out.mu.Lock()
		out.lowN, out.lowF = lowN, lowF
		out.mu.Unlock()
	}
	if recv != nil && !released {
		in.start(recv)
	}
}

func (c *memChannel) setOpen() {
	c.mu.Lock()
	if c.closed || c.open {
		c.mu.Unlock()
		return
	}
	c.open = true
	f := c.onOpenF
	c.mu.Unlock()
	if f != nil {
		f()
	}
}

func (c *memChannel) setClosed() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.open = false
	f := c.onCloseF
	c.mu.Unlock()
	if f != nil {
		f()
	}
}

func (c *memChannel) onOpen(f func()) {
	c.mu.Lock()
	c.onOpenF = f
	c.mu.Unlock()
}

func (c *memChannel) onClose(f func()) {
	c.mu.Lock()
	c.onCloseF = f
	c.mu.Unlock()
}

func (c *memChannel) onLowWater(n uint64, f func()) {
	c.mu.Lock()
	c.lowN, c.lowF = n, f
	out := c.out
	c.mu.Unlock()
	if out == nil {
		return // applied by link
	}
	out.mu.Lock()
	out.lowN, out.lowF = n, f
	out.mu.Unlock()
}

func (c *memChannel) bufferedAmount() uint64 {
	c.mu.Lock()
	out := c.out
	c.mu.Unlock()
	if out == nil {
		return 0
	}
	return out.bufferedAmount()
}

func (c *memChannel) isOpen() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open
}

func (c *memChannel) send(b []byte) error {
	c.mu.Lock()
	out, open := c.out, c.open
	c.mu.Unlock()
	if !open || out == nil {
		return fmt.Errorf("%w: data channel not open", ErrMemNet)
	}
	if len(b) > maxSCTPMessageSize {
		return fmt.Errorf("%w: message of %d bytes is over %d", ErrMemNet, len(b), maxSCTPMessageSize)
	}
	if err := out.push(append([]byte(nil), b...), false, false); err != nil {
		return err
	}
	c.pc.t.stats.dataBytes.Add(uint64(len(b)))
	c.pc.t.stats.dataMessages.Add(1)
	return nil
}

func (c *memChannel) close() error {
	c.mu.Lock()
	out := c.out
	c.mu.Unlock()
	if out != nil {
		_ = out.push(nil, false, true) // the other end closes once the rest arrived
	}
	c.setClosed()
	return nil
}

func (c *memChannel) severLinks() {
	c.mu.Lock()
	out, in := c.out, c.in
	c.mu.Unlock()
	if out != nil {
		out.sever()
	}
	if in != nil {
		in.sever()
	}
}

// onMessage delivers the channel's messages in order; deliver blocking
// holds the sender back (its bufferedAmount grows), as SCTP does.
func (c *memChannel) onMessage(_ <-chan struct{}, deliver func(data []byte, isString bool), _ func()) func() {
	recv := func(m memMsg) {
		if m.closing {
			c.setClosed()
			return
		}
		deliver(m.data, m.text)
	}
	c.mu.Lock()
	c.recv = recv
	in := c.in
	c.mu.Unlock()
	if in != nil {
		in.start(recv)
	}
	return func() {
		c.mu.Lock()
		c.released = true
		in := c.in
		c.mu.Unlock()
		if in != nil {
			in.stop()
		}
	}
}

// MemSocket is the tracker's end of a tracker socket on a MemNet: what
// pkg/tracker's Server.ServeConn reads from and writes to.
type MemSocket struct{ end *memSocketEnd }

// ErrMemMessageTooLarge is ReadMessage's error for a message over its limit
// (the message is skipped; the socket stays usable).
var ErrMemMessageTooLarge = errors.New("memnet: message too large")

// ReadMessage returns the next message; one longer than limit bytes is
// skipped with ErrMemMessageTooLarge.
func (s *MemSocket) ReadMessage(ctx context.Context, limit int64) ([]byte, error) {
	data, _, err := s.end.read(ctx)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, ErrMemMessageTooLarge
	}
	return data, nil
}

// WriteText sends one text message.
func (s *MemSocket) WriteText(ctx context.Context, data []byte) error {
	return s.end.writeText(ctx, data)
}

// Ping succeeds while the socket is open.
func (s *MemSocket) Ping(ctx context.Context) error {
	if s.end.isClosed() {
		return fmt.Errorf("%w: socket closed", ErrMemNet)
	}
	return nil
}

// Close closes the socket; the client reads an error once what was sent
// before arrived.
func (s *MemSocket) Close(reason string) error { return s.end.close(reason) }

// CloseNow is Close.
func (s *MemSocket) CloseNow() error { return s.end.closeNow() }

// memSocketEnd is one end of a tracker socket: messages in both directions
// go through pipes, received ones wait in a small inbox (a full inbox holds
// the pipe back, as TCP flow control does).
type memSocketEnd struct {
	t         *memTransport // the client's; nil at the tracker's end
	url       string
	out, in   *memPipe
	readLimit int64
	peer      *memSocketEnd

	inbox    chan memMsg
	gone     chan struct{} // closed when this end is closed or the stream ended
	goneOnce sync.Once
}

func newSocketEnd(t *memTransport, url string, out, in *memPipe, readLimit int64) *memSocketEnd {
	e := &memSocketEnd{t: t, url: url, out: out, in: in, readLimit: readLimit, inbox: make(chan memMsg, 16), gone: make(chan struct{})}
	in.start(func(m memMsg) {
		select {
		case e.inbox <- m:
		case <-e.gone:
		}
	})
	return e
}

func (e *memSocketEnd) markGone() {
	e.goneOnce.Do(func() {
		close(e.gone)
		if e.t != nil {
			e.t.stats.mu.Lock()
			delete(e.t.stats.sockets, e)
			e.t.stats.mu.Unlock()
		}
	})
}

func (e *memSocketEnd) isClosed() bool {
	select {
	case <-e.gone:
		return true
	default:
		return false
	}
}

func (e *memSocketEnd) read(ctx context.Context) ([]byte, bool, error) {
	select {
	case m := <-e.inbox:
		if m.closing {
			e.markGone()
			return nil, false, fmt.Errorf("%w: socket closed by the other end", ErrMemNet)
		}
		if e.readLimit > 0 && int64(len(m.data)) > e.readLimit {
			_ = e.closeNow()
			return nil, false, fmt.Errorf("%w: message of %d bytes is over the read limit", ErrMemNet, len(m.data))
		}
		return m.data, m.text, nil
	case <-e.gone:
		return nil, false, fmt.Errorf("%w: socket closed", ErrMemNet)
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

func (e *memSocketEnd) writeText(ctx context.Context, data []byte) error {
	if e.isClosed() {
		return fmt.Errorf("%w: socket closed", ErrMemNet)
	}
	if err := e.out.push(append([]byte(nil), data...), true, false); err != nil {
		return err
	}
	if e.t != nil {
		e.t.stats.trackerBytes.Add(uint64(len(data)))
		e.t.stats.trackerMsgs.Add(1)
	}
	return nil
}

func (e *memSocketEnd) close(string) error { return e.closeNow() }

func (e *memSocketEnd) closeNow() error {
	_ = e.out.push(nil, false, true)
	e.markGone()
	e.in.stop()
	return nil
}

// sever drops the socket without a word; the other end notices after
// KillDetect.
func (e *memSocketEnd) sever() {
	e.out.sever()
	e.in.sever()
	e.markGone()
	if p := e.peer; p != nil {
		time.AfterFunc(e.netOf().cfg.KillDetect, func() { p.markGone(); p.in.stop() })
	}
}

func (e *memSocketEnd) netOf() *MemNet { return e.out.net }
