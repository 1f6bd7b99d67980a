package nostrsignal

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peersetdb/peerset/internal/ratelimit"
	"github.com/peersetdb/peerset/pkg/record"
)

// SignalKind says what a Signal carries.
type SignalKind int

// The signals a room acts on.
const (
	// Announce: the peer is in the room. On the room topic it is a broadcast
	// announcement; Direct (on our own topic) it is the bare {peerId} a peer
	// with the larger id sends so that we, with the smaller id, offer.
	Announce SignalKind = iota + 1
	Offer
	Answer
	Candidate
)

func (k SignalKind) String() string {
	switch k {
	case Announce:
		return "announce"
	case Offer:
		return "offer"
	case Answer:
		return "answer"
	case Candidate:
		return "candidate"
	}
	return "unknown"
}

// Signal is one verified message from another peer of the room.
type Signal struct {
	Kind SignalKind
	// Relay is the URL of the relay it came through; answers go back through
	// the same relay (Client.Send), as Trystero does.
	Relay string
	// PeerID is the sender's Trystero peer id.
	PeerID string
	// Direct is true when it came on our own peer topic, false on the room
	// topic.
	Direct bool
	// OfferID, and the sealed SDP or candidate (Offer, Answer, Candidate
	// kinds), exactly as on the wire: open it with the room's key.
	OfferID string
	Sealed  string
	Passive bool
	// PubKey is the Nostr key that signed the event (Trystero uses one
	// random key per page load).
	PubKey    record.PublicKey
	CreatedAt time.Time
}

// Conn is a WebSocket connection to a relay, text messages only.
type Conn interface {
	Read(ctx context.Context) ([]byte, error)
	Write(ctx context.Context, data []byte) error
	Close() error
}

// Dialer opens a relay connection; messages over readLimit bytes must end
// the connection with an error.
type Dialer func(ctx context.Context, url string, readLimit int64) (Conn, error)

// Config configures a Client. AppID, Room, PeerID, Relays and OnSignal are
// required; a zero field of the rest takes its default.
type Config struct {
	Relays []string
	AppID  string
	Room   string
	// PeerID is our Trystero peer id (20 characters from Trystero's
	// alphabet, pkg/swarm NewPeerID).
	PeerID string
	// Key signs our events; nil means a fresh random key for this client,
	// as Trystero uses one per session.
	Key *record.SecretKey
	// Passive marks our announcements {"passive": true} from the start;
	// Client.SetPassive changes it later.
	Passive bool
	// OnSignal receives every verified signal, from the relay's read
	// goroutine: it must return quickly.
	OnSignal func(Signal)
	// Dial opens relay connections; nil uses github.com/coder/websocket.
	Dial Dialer

	// Warmup are the delays between the first announcements on a new
	// connection (default 233 ms, 533 ms, 1333 ms, as Trystero); then one
	// every AnnounceInterval (default 60 s).
	Warmup           []time.Duration
	AnnounceInterval time.Duration
	// MinBackoff and MaxBackoff bound the reconnection delay (default 1 s
	// and 60 s; doubled per failed attempt, with jitter). A connection
	// counts as a success (the delay starts again from MinBackoff) only if
	// it delivered a valid event or the end of stored events (EOSE) of our
	// subscription, or lasted HealthySession (default 30 s): a relay that
	// accepts and closes at once is retried ever more slowly. A relay that
	// answers "rate-limited:" to an announcement gets no announcement for
	// max(AnnounceInterval, twice the last such pause), at most
	// MaxRateLimitPause (default 15 min).
	MinBackoff, MaxBackoff time.Duration
	HealthySession         time.Duration
	MaxRateLimitPause      time.Duration
	// MaxMessageBytes bounds one relay message (default 128 KiB).
	MaxMessageBytes int
	// MaxAge drops events created longer ago (or further ahead) than this
	// (default 5 min): relays should not replay ephemeral events, but a
	// misbehaving one must not make us answer stale offers.
	MaxAge time.Duration
	// WriteTimeout bounds each write to a relay (default 10 s).
	WriteTimeout time.Duration
	// InboundRate and InboundBurst bound the events of each relay whose
	// signature is checked (default 50 a second, bursts of 100): the cheap
	// checks (subscription, topic, kind, age, payload, an id seen already)
	// come first; past the bound an event is dropped unverified
	// (RelayStatus.RateLimited).
	InboundRate  float64
	InboundBurst int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Warmup == nil {
		c.Warmup = []time.Duration{233 * time.Millisecond, 533 * time.Millisecond, 1333 * time.Millisecond}
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	dur(&c.AnnounceInterval, time.Minute)
	dur(&c.MinBackoff, time.Second)
	dur(&c.MaxBackoff, time.Minute)
	dur(&c.HealthySession, 30*time.Second)
	dur(&c.MaxRateLimitPause, 15*time.Minute)
	dur(&c.MaxAge, 5*time.Minute)
	dur(&c.WriteTimeout, 10*time.Second)
	if c.InboundRate <= 0 {
		c.InboundRate = 50
	}
	if c.InboundBurst <= 0 {
		c.InboundBurst = 100
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 128 << 10
	}
	if c.Dial == nil {
		c.Dial = DialWebSocket
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// RelayState is the state of one relay connection.
type RelayState string

// Relay connection states.
const (
	RelayConnecting RelayState = "connecting"
	RelayOpen       RelayState = "open"
	RelayClosed     RelayState = "closed" // waiting to reconnect, or the client is closed
)

// RelayStatus describes one relay connection.
type RelayStatus struct {
	URL   string
	State RelayState
	// LastError is the last connection error, rejection (OK false, CLOSED)
	// or NOTICE from the relay.
	LastError string
	// ReconnectAttempts counts failed connections since the last success.
	ReconnectAttempts int
	Announces         uint64
	LastAnnounce      time.Time
	// Received counts signals delivered; Dropped counts events refused
	// (bad signature, wrong topic or kind, stale, malformed content, over
	// the inbound rate); of these RateLimited were over the inbound rate
	// (Config.InboundRate). Verified counts signatures checked, Replayed
	// events seen already (dropped unverified, not counted as dropped).
	Received, Dropped     uint64
	RateLimited, Verified uint64
	Replayed              uint64
	// Subscribed: the connection is open and the relay has answered our
	// subscription (the end of stored events, EOSE) or delivered an event
	// on it, so signals published to us from now on reach us. Open alone
	// does not say it: the relay may not have read the subscription yet.
	Subscribed bool
}

// ErrNotConnected means no relay connection was open to send through.
var ErrNotConnected = errors.New("no open relay connection")

// ErrClosed means the client was closed.
var ErrClosed = errors.New("nostr signalling client closed")

// Client signals through Nostr relays in Trystero's Nostr-strategy format:
// it keeps a connection to each relay, subscribes to the room topic and our
// own peer topic, announces us with Trystero's phases, verifies incoming
// events and delivers them as Signals. It does not seal or open SDPs and
// knows nothing of WebRTC.
type Client struct {
	cfg       Config
	key       *record.SecretKey
	rootTopic string
	selfTopic string

	passive atomic.Bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	relays []*relay

	seenMu sync.Mutex
	seen   map[[32]byte]time.Time // verified event ids (maxSeenEvents), until MaxAge
}

// maxSeenEvents bounds the verified event ids remembered: a replay, or the
// same event through a second relay, costs no signature check.
const maxSeenEvents = 4096

// seenEvent reports whether the event id was verified already.
func (c *Client) seenEvent(id [32]byte) bool {
	c.seenMu.Lock()
	defer c.seenMu.Unlock()
	at, ok := c.seen[id]
	return ok && c.cfg.Now().Sub(at) <= 2*c.cfg.MaxAge
}

// markSeen remembers a verified event id.
func (c *Client) markSeen(id [32]byte) {
	c.seenMu.Lock()
	defer c.seenMu.Unlock()
	now := c.cfg.Now()
	if len(c.seen) >= maxSeenEvents {
		for k, at := range c.seen {
			if now.Sub(at) > 2*c.cfg.MaxAge {
				delete(c.seen, k)
			}
		}
		for k := range c.seen {
			if len(c.seen) < maxSeenEvents {
				break
			}
			delete(c.seen, k) // full of fresh ids: forget one (costs one more check)
		}
	}
	c.seen[id] = now
}

// SetPassive marks our later announcements and messages {"passive": true}
// (a room that is full), or stops marking them.
func (c *Client) SetPassive(passive bool) { c.passive.Store(passive) }

// Passive reports whether our messages are marked passive.
func (c *Client) Passive() bool { return c.passive.Load() }

// New checks cfg and returns a client; Start connects it.
func New(cfg Config) (*Client, error) {
	switch {
	case cfg.AppID == "" || cfg.Room == "":
		return nil, errors.New("nostrsignal: AppID and Room are required")
	case cfg.PeerID == "" || len(cfg.PeerID) > MaxIDLength:
		return nil, fmt.Errorf("nostrsignal: PeerID must be 1 to %d bytes", MaxIDLength)
	case len(cfg.Relays) == 0:
		return nil, errors.New("nostrsignal: at least one relay URL is required")
	case cfg.OnSignal == nil:
		return nil, errors.New("nostrsignal: OnSignal is required")
	}
	cfg = cfg.withDefaults()
	key := cfg.Key
	if key == nil {
		var err error
		if key, err = record.GenerateKey(); err != nil {
			return nil, fmt.Errorf("nostrsignal: failed to make a signing key: %w", err)
		}
	}
	c := &Client{cfg: cfg, key: key, rootTopic: RootTopic(cfg.AppID, cfg.Room), selfTopic: PeerTopic(cfg.AppID, cfg.Room, cfg.PeerID),
		seen: make(map[[32]byte]time.Time)}
	c.passive.Store(cfg.Passive)
	seen := map[string]bool{}
	for _, u := range cfg.Relays {
		if seen[u] {
			continue
		}
		seen[u] = true
		c.relays = append(c.relays, &relay{c: c, url: u, kick: make(chan struct{}, 1), state: RelayClosed, writeSem: make(chan struct{}, 1),
			inbound: ratelimit.New(cfg.InboundRate, cfg.InboundBurst)})
	}
	return c, nil
}

// PubKey is the Nostr key our events are signed with.
func (c *Client) PubKey() record.PublicKey { return c.key.Public() }

// Start connects to every relay in the background until ctx ends or Close.
func (c *Client) Start(ctx context.Context) {
	c.ctx, c.cancel = context.WithCancel(ctx)
	for _, r := range c.relays {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			r.run(c.ctx)
		}()
	}
}

// Close disconnects from every relay and waits for the goroutines to end.
func (c *Client) Close() error {
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
	return nil
}

// Reannounce announces us again on every open relay now, restarting the
// warmup phase (after a peer left, as Trystero does).
func (c *Client) Reannounce() {
	for _, r := range c.relays {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// Status returns the state of each relay connection.
func (c *Client) Status() []RelayStatus {
	out := make([]RelayStatus, len(c.relays))
	for i, r := range c.relays {
		out[i] = r.status()
	}
	return out
}

// Send publishes p, signed, on the peer topic of peer to: through the relay
// named by relayURL (the Signal.Relay being answered), or through every open
// relay when relayURL is "". p.PeerID is set to ours.
func (c *Client) Send(ctx context.Context, relayURL, to string, p Payload) error {
	if c.ctx == nil {
		return fmt.Errorf("nostrsignal: send to %s: %w", to, ErrNotConnected)
	}
	if c.ctx.Err() != nil {
		return fmt.Errorf("nostrsignal: send to %s: %w", to, ErrClosed)
	}
	p.PeerID = c.cfg.PeerID
	if c.passive.Load() {
		p.Passive = true
	}
	ev, err := NewEvent(c.key, PeerTopic(c.cfg.AppID, c.cfg.Room, to), p.Encode(), c.cfg.Now().Unix())
	if err != nil {
		return fmt.Errorf("nostrsignal: send to %s: %w", to, err)
	}
	msg := EncodeEventMessage(ev)
	// Through every relay at once: one that stopped reading must not hold
	// up the others until ctx ends.
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		sent    int
		lastErr error
	)
	for _, r := range c.relays {
		if relayURL != "" && r.url != relayURL {
			continue
		}
		wg.Go(func() {
			err := r.write(ctx, msg)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				lastErr = err
			} else {
				sent++
			}
		})
	}
	wg.Wait()
	if sent == 0 {
		if lastErr == nil {
			lastErr = ErrNotConnected
		}
		return fmt.Errorf("nostrsignal: send to %s: %w", to, lastErr)
	}
	return nil
}

// relay is one relay connection, kept alive by run.
type relay struct {
	c    *Client
	url  string
	kick chan struct{}

	announces, received, dropped    atomic.Uint64
	rateLimited, verified, replayed atomic.Uint64
	inbound                         ratelimit.Bucket // owned by the session's read loop

	writeSem chan struct{} // one token: serialises writes on conn (a wait ends with ctx)

	mu           sync.Mutex
	conn         Conn
	state        RelayState
	lastErr      string
	attempts     int
	lastAnnounce time.Time
	pauseUntil   time.Time     // no announcements before (rate-limited)
	pause        time.Duration // the last rate-limit pause
	pending      map[[32]byte]bool
	healthy      bool // this session delivered an event or EOSE
}

func (r *relay) status() RelayStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return RelayStatus{URL: r.url, State: r.state, LastError: r.lastErr, ReconnectAttempts: r.attempts,
		Announces: r.announces.Load(), LastAnnounce: r.lastAnnounce, Received: r.received.Load(), Dropped: r.dropped.Load(),
		RateLimited: r.rateLimited.Load(), Verified: r.verified.Load(), Replayed: r.replayed.Load(),
		Subscribed: r.state == RelayOpen && r.healthy}
}

func (r *relay) setErr(msg string) {
	r.mu.Lock()
	r.lastErr = msg
	r.mu.Unlock()
}

func (r *relay) run(ctx context.Context) {
	for ctx.Err() == nil {
		r.mu.Lock()
		r.state = RelayConnecting
		r.healthy = false
		r.mu.Unlock()
		start := time.Now()
		err := r.session(ctx)
		r.mu.Lock()
		r.state = RelayClosed
		r.conn = nil
		if err != nil && ctx.Err() == nil {
			r.lastErr = err.Error()
		}
		if r.healthy || time.Since(start) >= r.c.cfg.HealthySession {
			r.attempts = 0 // a working session: start again from MinBackoff
		}
		r.attempts++
		attempt := r.attempts
		r.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		t := time.NewTimer(r.backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff is MinBackoff doubled per attempt, capped at MaxBackoff, with
// jitter in [half, full].
func (r *relay) backoff(attempt int) time.Duration {
	d := r.c.cfg.MinBackoff
	for i := 1; i < attempt && d < r.c.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, r.c.cfg.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// session runs one connection: subscribe, announce, read until it fails.
func (r *relay) session(ctx context.Context) error {
	cfg := &r.c.cfg
	conn, err := cfg.Dial(ctx, r.url, int64(cfg.MaxMessageBytes))
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	sctx, cancel := context.WithCancel(ctx)
	var announcer sync.WaitGroup
	defer func() {
		cancel()
		conn.Close()
		announcer.Wait()
	}()
	r.mu.Lock()
	r.conn = conn
	r.state = RelayOpen
	r.pending = map[[32]byte]bool{}
	r.mu.Unlock()

	sub, err := newSubID()
	if err != nil {
		return err
	}
	if err := r.write(sctx, EncodeReq(sub, cfg.Now().Unix(), r.c.rootTopic, r.c.selfTopic)); err != nil {
		return err
	}
	announcer.Add(1)
	go func() {
		defer announcer.Done()
		r.announceLoop(sctx)
	}()
	for {
		data, err := conn.Read(sctx)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if err := r.dispatch(sctx, sub, data); err != nil {
			return err
		}
	}
}

// newSubID is a random 64-character subscription id, as Trystero uses.
func newSubID() (string, error) {
	const alphabet = "0123456789AaBbCcDdEeFfGgHhIiJjKkLlMmNnOoPpQqRrSsTtUuVvWwXxYyZz"
	b := make([]byte, 64)
	for i := range b {
		b[i] = alphabet[rand.N(len(alphabet))]
	}
	return string(b), nil
}

func (r *relay) write(ctx context.Context, msg []byte) error {
	r.mu.Lock()
	conn := r.conn
	r.mu.Unlock()
	if conn == nil {
		return fmt.Errorf("%s: %w", r.url, ErrNotConnected)
	}
	ctx, cancel := context.WithTimeout(ctx, r.c.cfg.WriteTimeout)
	defer cancel()
	select {
	case r.writeSem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%s: write: waiting for an earlier write: %w", r.url, ctx.Err())
	}
	defer func() { <-r.writeSem }()
	if err := conn.Write(ctx, msg); err != nil {
		return fmt.Errorf("%s: write: %w", r.url, err)
	}
	return nil
}

// announceLoop announces us on the room topic: at once, after each warmup
// delay, then every AnnounceInterval; a kick restarts the warmup.
func (r *relay) announceLoop(ctx context.Context) {
	cfg := &r.c.cfg
	step := 0
	for {
		r.announce(ctx)
		delay := cfg.AnnounceInterval
		if step < len(cfg.Warmup) {
			delay = min(cfg.Warmup[step], delay)
		}
		step++
		r.mu.Lock()
		if wait := r.pauseUntil.Sub(cfg.Now()); wait > delay {
			delay = wait
		}
		r.mu.Unlock()
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-r.kick:
			t.Stop()
			step = 0
		case <-t.C:
		}
	}
}

func (r *relay) announce(ctx context.Context) {
	cfg := &r.c.cfg
	now := cfg.Now()
	r.mu.Lock()
	paused := now.Before(r.pauseUntil)
	r.mu.Unlock()
	if paused {
		return
	}
	p := Payload{PeerID: cfg.PeerID, Passive: r.c.passive.Load()}
	ev, err := NewEvent(r.c.key, r.c.rootTopic, p.Encode(), now.Unix())
	if err != nil {
		r.setErr(err.Error())
		return
	}
	r.mu.Lock()
	if len(r.pending) < 64 { // announcements awaiting OK, bounded
		r.pending[ev.ID] = true
	}
	r.mu.Unlock()
	if err := r.write(ctx, EncodeEventMessage(ev)); err != nil {
		return // the read loop sees the broken connection
	}
	r.announces.Add(1)
	r.mu.Lock()
	r.lastAnnounce = now
	r.mu.Unlock()
}

// dispatch handles one relay message. Only a CLOSED of our subscription
// ends the session; everything else is recorded or delivered.
func (r *relay) dispatch(ctx context.Context, sub string, data []byte) error {
	m, err := ParseRelayMessage(data)
	if err != nil {
		r.dropped.Add(1)
		return nil
	}
	switch m.Type {
	case "EVENT":
		if m.SubID != sub {
			r.dropped.Add(1)
			return nil
		}
		ev, s, err := r.c.check(m.Event)
		if err != nil {
			r.dropped.Add(1)
			return nil
		}
		if s == nil {
			return nil // our own event
		}
		if r.c.seenEvent(ev.ID) {
			r.replayed.Add(1)
			return nil // a replay, or the same event through another relay
		}
		if !r.inbound.Allow(r.c.cfg.Now()) {
			r.rateLimited.Add(1)
			r.dropped.Add(1)
			return nil
		}
		r.verified.Add(1)
		if err := ev.Verify(); err != nil {
			r.dropped.Add(1)
			return nil
		}
		r.c.markSeen(ev.ID)
		s.Relay = r.url
		r.received.Add(1)
		r.markHealthy()
		r.c.cfg.OnSignal(*s)
	case "EOSE":
		if m.SubID == sub {
			r.markHealthy()
		}
	case "OK":
		r.handleOK(m)
	case "CLOSED":
		if m.SubID == sub {
			return fmt.Errorf("relay closed the subscription: %s", m.Message)
		}
	case "NOTICE":
		r.setErr("notice: " + m.Message)
	}
	return nil
}

func (r *relay) markHealthy() {
	r.mu.Lock()
	r.healthy = true
	r.mu.Unlock()
}

func (r *relay) handleOK(m RelayMessage) {
	var id [32]byte
	if len(m.EventID) != 64 || hexDecode(id[:], m.EventID) != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	isAnnounce := r.pending[id]
	delete(r.pending, id)
	if m.Accepted {
		if isAnnounce {
			r.pause = 0
		}
		return
	}
	r.lastErr = "rejected: " + m.Message
	if isAnnounce && len(m.Message) >= 13 && m.Message[:13] == "rate-limited:" {
		cfg := &r.c.cfg
		r.pause = min(max(cfg.AnnounceInterval, 2*r.pause), cfg.MaxRateLimitPause)
		r.pauseUntil = cfg.Now().Add(r.pause)
	}
}

// verify checks an incoming event: the cheap checks of check, then its id
// and signature. It returns nil, nil for our own events.
func (c *Client) verify(raw []byte) (*Signal, error) {
	ev, s, err := c.check(raw)
	if err != nil || s == nil {
		return nil, err
	}
	if err := ev.Verify(); err != nil {
		return nil, err
	}
	return s, nil
}

// check does the cheap checks of an incoming event, before its signature
// is: one of our two topics in its x tag with the matching kind, fresh,
// and a payload Trystero would act on from another peer. It returns a nil
// Signal for our own events.
func (c *Client) check(raw []byte) (*record.Event, *Signal, error) {
	ev, err := record.ParseEvent(raw, c.cfg.MaxMessageBytes)
	if err != nil {
		return nil, nil, err
	}
	topic := ev.TagValue(topicTag)
	direct := topic == c.selfTopic
	if !direct && topic != c.rootTopic {
		return nil, nil, errors.New("event for another topic")
	}
	if ev.Kind != TopicKind(topic) {
		return nil, nil, errors.New("event kind does not match its topic")
	}
	created := time.Unix(ev.CreatedAt, 0)
	if age := c.cfg.Now().Sub(created); age > c.cfg.MaxAge || age < -c.cfg.MaxAge {
		return nil, nil, errors.New("stale event")
	}
	p, err := DecodePayload(ev.Content)
	if err != nil {
		return nil, nil, err
	}
	if p.PeerID == c.cfg.PeerID {
		return ev, nil, nil
	}
	s := &Signal{PeerID: p.PeerID, Direct: direct, OfferID: p.OfferID, Passive: p.Passive, PubKey: ev.PubKey, CreatedAt: created}
	// Trystero's precedence: offer, then candidate, then answer.
	switch {
	case p.Offer != "":
		s.Kind, s.Sealed = Offer, p.Offer
	case p.Candidate != "":
		s.Kind, s.Sealed = Candidate, p.Candidate
	case p.Answer != "":
		s.Kind, s.Sealed = Answer, p.Answer
	default:
		s.Kind = Announce
	}
	if s.Kind != Announce && !direct {
		return nil, nil, errors.New("offer, answer or candidate on the room topic")
	}
	return ev, s, nil
}

func hexDecode(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		return errors.New("bad hex length")
	}
	for i := range dst {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return errors.New("bad hex")
		}
		dst[i] = hi<<4 | lo
	}
	return nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
