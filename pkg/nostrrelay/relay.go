//go:build !js

package nostrrelay

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/peersetdb/peerset/pkg/record"
)

// Config holds the relay's bounds; a zero field takes its default (see the
// package documentation).
type Config struct {
	MaxConnections   int
	MaxMessageBytes  int
	MaxEventBytes    int
	MaxSubscriptions int
	RatePerSecond    float64
	Burst            int
	MaxStoredEvents  int
	MaxStoredBytes   int
	MaxLimit         int
	SendQueue        int
	WriteTimeout     time.Duration
	IdleTimeout      time.Duration
	MaxFutureSkew    time.Duration
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxConnections, 1024)
	def(&c.MaxMessageBytes, 128<<10)
	def(&c.MaxEventBytes, 64<<10)
	def(&c.MaxSubscriptions, 32)
	def(&c.Burst, 60)
	def(&c.MaxStoredEvents, 10000)
	def(&c.MaxStoredBytes, 32<<20)
	def(&c.MaxLimit, 500)
	def(&c.SendQueue, 256)
	if c.RatePerSecond <= 0 {
		c.RatePerSecond = 20
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 5 * time.Minute
	}
	if c.MaxFutureSkew <= 0 {
		c.MaxFutureSkew = 15 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Relay is a NIP-01 relay; it is an http.Handler that upgrades requests to
// WebSocket. Close ends every connection.
type Relay struct {
	cfg Config

	mu     sync.Mutex
	conns  map[*conn]struct{}
	store  store
	closed bool
}

// Stats is a snapshot of the relay's state.
type Stats struct {
	Connections   int
	Subscriptions int
	StoredEvents  int
	StoredBytes   int
}

// New returns a relay with cfg's bounds.
func New(cfg Config) *Relay {
	cfg = cfg.withDefaults()
	return &Relay{cfg: cfg, conns: map[*conn]struct{}{}, store: newStore(cfg.MaxStoredEvents, cfg.MaxStoredBytes)}
}

// Stats returns the current counts.
func (r *Relay) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Stats{Connections: len(r.conns), StoredEvents: len(r.store.byID), StoredBytes: r.store.bytes}
	for c := range r.conns {
		s.Subscriptions += len(c.subs)
	}
	return s
}

// Close disconnects every client; later upgrades are refused.
func (r *Relay) Close() error {
	r.mu.Lock()
	r.closed = true
	conns := make([]*conn, 0, len(r.conns))
	for c := range r.conns {
		conns = append(conns, c)
	}
	r.mu.Unlock()
	for _, c := range conns {
		c.cancel()
	}
	return nil
}

// ServeHTTP upgrades the request to a WebSocket and serves NIP-01 on it. A
// plain GET without an upgrade gets a one-line description.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "peerset nostr relay (NIP-01): connect with a WebSocket")
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{r: r, send: make(chan outMsg, r.cfg.SendQueue), subs: map[string][]Filter{}, cancel: cancel,
		tokens: float64(r.cfg.Burst), last: r.cfg.Now()}
	r.mu.Lock()
	if r.closed || len(r.conns) >= r.cfg.MaxConnections {
		r.mu.Unlock()
		cancel()
		http.Error(w, "relay full", http.StatusServiceUnavailable)
		return
	}
	r.conns[c] = struct{}{}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.conns, c)
		r.mu.Unlock()
		cancel()
	}()

	ws, err := websocket.Accept(w, req, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	ws.SetReadLimit(int64(r.cfg.MaxMessageBytes))
	c.ws = ws
	go c.writeLoop(ctx)
	c.readLoop(ctx)
	ws.CloseNow()
}

// conn is one client connection. subs, tokens and last are guarded by r.mu.
type conn struct {
	r      *Relay
	ws     *websocket.Conn
	send   chan outMsg
	cancel context.CancelFunc

	subs   map[string][]Filter
	tokens float64
	last   time.Time
}

func (c *conn) readLoop(ctx context.Context) {
	idle := time.AfterFunc(c.r.cfg.IdleTimeout, func() {
		c.ws.Close(websocket.StatusPolicyViolation, "idle")
	})
	defer idle.Stop()
	for {
		typ, data, err := c.ws.Read(ctx)
		if err != nil {
			return
		}
		idle.Reset(c.r.cfg.IdleTimeout)
		if typ != websocket.MessageText {
			c.enqueue(EncodeNotice("error: binary messages are not supported"))
			continue
		}
		c.handle(data)
	}
}

func (c *conn) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-c.send:
			if err := c.write(ctx, msg); err != nil {
				c.cancel()
				return
			}
		}
	}
}

// outMsg is one entry of a connection's send queue: a message, or the
// stored events answering a REQ followed by its EOSE (encoded as they are
// written, so a long answer takes one queue entry and no copies).
type outMsg struct {
	data   []byte
	sub    string
	stored [][]byte
}

func (c *conn) write(ctx context.Context, m outMsg) error {
	one := func(b []byte) error {
		wctx, cancel := context.WithTimeout(ctx, c.r.cfg.WriteTimeout)
		defer cancel()
		return c.ws.Write(wctx, websocket.MessageText, b)
	}
	if m.data != nil {
		return one(m.data)
	}
	for _, raw := range m.stored {
		if err := one(EncodeEvent(m.sub, raw)); err != nil {
			return err
		}
	}
	return one(EncodeEOSE(m.sub))
}

// enqueue queues msg for the writer; a full queue disconnects the client.
func (c *conn) enqueue(msg []byte) { c.enqueueOut(outMsg{data: msg}) }

func (c *conn) enqueueOut(m outMsg) {
	select {
	case c.send <- m:
	default:
		c.cancel()
	}
}

// allow takes one token from the connection's bucket. Called with r.mu held.
func (c *conn) allow() bool {
	now := c.r.cfg.Now()
	c.tokens += now.Sub(c.last).Seconds() * c.r.cfg.RatePerSecond
	c.last = now
	if max := float64(c.r.cfg.Burst); c.tokens > max {
		c.tokens = max
	}
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

func (c *conn) handle(data []byte) {
	r := c.r
	r.mu.Lock()
	allowed := c.allow()
	r.mu.Unlock()

	m, err := ParseClientMessage(data, r.cfg.MaxEventBytes)
	if !allowed {
		const why = "rate-limited: slow down"
		switch {
		case m.Type == TypeEvent && m.Event != nil:
			c.enqueue(EncodeOK(m.Event.IDHex(), false, why))
		case m.Type == TypeReq && m.SubID != "":
			c.enqueue(EncodeClosed(m.SubID, why))
		default:
			c.enqueue(EncodeNotice(why))
		}
		return
	}
	if err != nil {
		switch {
		case m.Type == TypeEvent && m.EventID != "":
			c.enqueue(EncodeOK(m.EventID, false, "invalid: "+errText(err)))
		case m.Type == TypeReq && m.SubID != "":
			c.enqueue(EncodeClosed(m.SubID, "invalid: "+errText(err)))
		default:
			c.enqueue(EncodeNotice("error: " + errText(err)))
		}
		return
	}
	switch m.Type {
	case TypeEvent:
		c.handleEvent(m.Event)
	case TypeReq:
		c.handleReq(m.SubID, m.Filters)
	case TypeClose:
		r.mu.Lock()
		delete(c.subs, m.SubID)
		r.mu.Unlock()
	}
}

// errText is err's message without the ErrMalformed prefix, cut short.
func errText(err error) string {
	s := strings.TrimPrefix(err.Error(), ErrMalformed.Error()+": ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func (c *conn) handleEvent(e *record.Event) {
	r := c.r
	id := e.IDHex()
	if err := e.Verify(); err != nil {
		c.enqueue(EncodeOK(id, false, "invalid: "+errText(err)))
		return
	}
	if time.Unix(e.CreatedAt, 0).After(r.cfg.Now().Add(r.cfg.MaxFutureSkew)) {
		c.enqueue(EncodeOK(id, false, "invalid: created_at is too far in the future"))
		return
	}
	raw := e.AppendJSON(nil)
	r.mu.Lock()
	if !isEphemeral(e.Kind) {
		switch r.store.add(e, raw) {
		case addDuplicate:
			r.mu.Unlock()
			c.enqueue(EncodeOK(id, true, "duplicate: already have this event"))
			return
		case addOlder:
			r.mu.Unlock()
			c.enqueue(EncodeOK(id, true, "duplicate: a newer version is stored"))
			return
		}
	}
	for other := range r.conns {
		for sub, filters := range other.subs {
			if matchesAny(filters, e) {
				other.enqueue(EncodeEvent(sub, raw))
			}
		}
	}
	r.mu.Unlock()
	c.enqueue(EncodeOK(id, true, ""))
}

func matchesAny(filters []Filter, e *record.Event) bool {
	for i := range filters {
		if filters[i].Matches(e) {
			return true
		}
	}
	return false
}

func (c *conn) handleReq(sub string, filters []Filter) {
	r := c.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := c.subs[sub]; !ok && len(c.subs) >= r.cfg.MaxSubscriptions {
		c.enqueue(EncodeClosed(sub, fmt.Sprintf("blocked: at most %d subscriptions per connection", r.cfg.MaxSubscriptions)))
		return
	}
	// Stored events first (newest first, each filter's limit applied, at
	// most MaxLimit in all), then EOSE; live events follow from handleEvent
	// once the subscription is registered, all under r.mu so nothing falls
	// between the two.
	seen := map[*stored]bool{}
	var out []*stored
	for i := range filters {
		limit := r.cfg.MaxLimit - len(out)
		if l := filters[i].Limit; l != nil && *l < limit {
			limit = *l
		}
		n := 0
		for j := len(r.store.events) - 1; j >= 0 && n < limit; j-- {
			s := r.store.events[j]
			if s == nil || !filters[i].Matches(s.ev) {
				continue
			}
			n++
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].ev.CreatedAt > out[b].ev.CreatedAt })
	m := outMsg{sub: sub, stored: make([][]byte, len(out))}
	for i, s := range out {
		m.stored[i] = s.raw
	}
	c.enqueueOut(m)
	c.subs[sub] = filters
}

func isEphemeral(kind int) bool { return kind >= 20000 && kind < 30000 }
