//go:build !js

package tracker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/peersetdb/peerset/pkg/wire"
)

// Config tunes a Server. Zero fields take the values of DefaultConfig;
// for the caps that may be switched off, a negative value does that.
// docs/protocol.md ("Tracker limits") lists every bound and what happens
// past it.
type Config struct {
	// Interval is the announce interval the tracker tells clients. Trystero
	// 0.25.4 re-announces every clamp(interval, 10 s, 120 s).
	Interval time.Duration
	// MaxMessageBytes bounds one client message. A larger message (up to
	// four times this) gets a failure reason; beyond that the connection is
	// closed with status 1009.
	MaxMessageBytes int64
	// MaxOffersPerAnnounce bounds the offers of one announce.
	MaxOffersPerAnnounce int
	// MaxSwarmsPerConn bounds how many info_hashes one connection may join.
	// A connection holds one peer_id per info_hash, so this also bounds the
	// peer_ids it registers.
	MaxSwarmsPerConn int
	// MaxPeersPerSwarm bounds the peers of one info_hash. A full swarm first
	// drops its members idle for MemberIdleTimeout; when none is, a new
	// peer is refused ("swarm is full").
	MaxPeersPerSwarm int
	// MaxConns bounds the open WebSockets; past it an upgrade gets HTTP 503.
	MaxConns int
	// MaxConnsPerIP bounds the open WebSockets from one address (IPv6: one
	// /64); past it an upgrade gets HTTP 429. Negative switches it off. The
	// address is the TCP peer's: behind a reverse proxy every client has the
	// proxy's, so switch it off there (and cap at the proxy).
	MaxConnsPerIP int
	// AnnounceRate and AnnounceBurst are a token bucket of messages per
	// connection (per second, and at once). A message past it is dropped
	// unread with a failure reason (at most one such failure per second).
	AnnounceRate  float64
	AnnounceBurst int
	// MemberIdleTimeout drops a membership that no announce refreshed for
	// this long, when its swarm next takes an announce or is full. Clients
	// re-announce every 10–120 s, so only silent sockets lose theirs. A
	// connection that sent no message at all for this long is closed (checked
	// every PingInterval).
	MemberIdleTimeout time.Duration
	// SendQueueLen and SendQueueBytes bound the messages waiting for one
	// connection; a client that falls this far behind is disconnected.
	SendQueueLen   int
	SendQueueBytes int
	// WriteTimeout bounds one WebSocket write.
	WriteTimeout time.Duration
	// PingInterval is how often idle connections are pinged, so that dead
	// peers leave their swarms. Negative disables pings. A connection also
	// gets an early ping (at most one per PingTimeout) when another
	// connection asks for one of its peer_ids, so that a client reconnecting
	// after a dropped connection gets its peer_id back soon.
	PingInterval time.Duration
	// PingTimeout is how long a ping may wait for its pong.
	PingTimeout time.Duration
	// OriginPatterns restricts the browser origins allowed to connect
	// (host patterns as in coder/websocket). Empty allows every origin, as
	// public trackers do: the tracker has no cookies or other ambient
	// authority to protect.
	OriginPatterns []string
	// Static, when set, serves the requests that are neither WebSocket
	// upgrades nor /stats or /healthz (see StaticFiles), so that one server
	// hosts both a page and the tracker it uses. Nil: those requests get 426
	// Upgrade Required.
	Static http.Handler
	// Logger receives structured logs; nil means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the defaults: a 10 s interval (fast re-announces for
// local use), 64 KiB messages, 20 offers per announce, 64 swarms per
// connection, 1000 peers per swarm, 10,000 connections of which 64 per
// address, 10 messages per second per connection (bursts of 100: enough
// to join MaxSwarmsPerConn swarms at once), memberships and connections
// idle for 5 min dropped, 256 messages or 1 MiB queued per connection.
func DefaultConfig() Config {
	return Config{
		Interval:             10 * time.Second,
		MaxMessageBytes:      64 << 10,
		MaxOffersPerAnnounce: 20,
		MaxSwarmsPerConn:     64,
		MaxPeersPerSwarm:     1000,
		MaxConns:             10000,
		MaxConnsPerIP:        64,
		AnnounceRate:         10,
		AnnounceBurst:        100,
		MemberIdleTimeout:    5 * time.Minute,
		SendQueueLen:         256,
		SendQueueBytes:       1 << 20,
		WriteTimeout:         10 * time.Second,
		PingInterval:         30 * time.Second,
		PingTimeout:          10 * time.Second,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	setDefault(&c.Interval, d.Interval)
	setDefault(&c.MaxMessageBytes, d.MaxMessageBytes)
	setDefault(&c.MaxOffersPerAnnounce, d.MaxOffersPerAnnounce)
	setDefault(&c.MaxSwarmsPerConn, d.MaxSwarmsPerConn)
	setDefault(&c.MaxPeersPerSwarm, d.MaxPeersPerSwarm)
	setDefault(&c.MaxConns, d.MaxConns)
	if c.MaxConnsPerIP == 0 {
		c.MaxConnsPerIP = d.MaxConnsPerIP
	}
	setDefault(&c.AnnounceRate, d.AnnounceRate)
	setDefault(&c.AnnounceBurst, d.AnnounceBurst)
	setDefault(&c.MemberIdleTimeout, d.MemberIdleTimeout)
	setDefault(&c.SendQueueLen, d.SendQueueLen)
	setDefault(&c.SendQueueBytes, d.SendQueueBytes)
	setDefault(&c.WriteTimeout, d.WriteTimeout)
	if c.PingInterval == 0 {
		c.PingInterval = d.PingInterval
	}
	setDefault(&c.PingTimeout, d.PingTimeout)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// setDefault replaces a zero or negative *v with d.
func setDefault[T int | int64 | float64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// Failure reasons for the tracker's own limits and rules. Request-format
// failures use the text of the swarm package's decoding errors.
const (
	reasonMessageTooLarge = "message too large"
	reasonTooManyOffers   = "too many offers"
	reasonTooManySwarms   = "too many info_hashes on this connection"
	reasonSwarmFull       = "swarm is full"
	reasonPeerIDMismatch  = "peer_id differs from this connection's peer_id in this swarm"
	reasonPeerIDTaken     = "peer_id is held by another connection in this swarm; retry once it closes"
	reasonRateLimited     = "too many messages on this connection: slow down"
)

var errMessageTooLarge = errors.New(reasonMessageTooLarge)

// Server is the tracker. It implements http.Handler: GET /stats returns
// Stats as JSON, GET /healthz a small JSON status, and a WebSocket upgrade on
// any path joins the tracker (Trystero uses URLs like wss://host/announce).
// Other requests go to Config.Static when it is set.
type Server struct {
	cfg Config
	log *slog.Logger
	now func() time.Time // time.Now; tests replace it

	mu         sync.Mutex
	swarms     map[string]*swarmPeers // by info_hash
	conns      map[*conn]struct{}
	pending    int            // upgrades counted against the caps, not yet in conns
	perIP      map[string]int // open and pending connections by ipKey
	peers      int            // memberships over all swarms
	seeders    int            // memberships with seeding set
	nextConnID uint64
	closed     bool
	handlers   sync.WaitGroup

	rateDropped atomic.Int64 // messages dropped by the rate limit, for tests
}

// swarmPeers is the membership of one info_hash. list holds the members in
// no order, for O(1) random picks; the idle list orders them by their last
// announce, oldest first.
type swarmPeers struct {
	peers   map[string]*member // by peer_id
	list    []*member
	seeders int
	oldest  *member // head of the idle list
	newest  *member // tail of the idle list
}

type member struct {
	peerID     string
	conn       *conn
	seeding    bool
	index      int       // in swarmPeers.list
	lastSeen   time.Time // last announce
	prev, next *member   // idle list
}

// conn is one client WebSocket. joined and the bucket are guarded by
// Server.mu.
type conn struct {
	id     uint64
	ip     string // ipKey of the remote address
	ws     Conn
	log    *slog.Logger
	send   chan []byte
	queued atomic.Int64 // bytes in send
	probe  chan struct{}
	cancel context.CancelFunc
	joined map[string]string // info_hash → peer_id

	lastMessage atomic.Int64 // s.now() of the last message, in Unix nanoseconds

	tokens      float64   // announce bucket
	refilled    time.Time // when tokens was last topped up
	lastLimited time.Time // last rate-limit failure sent
}

// New returns a tracker configured by cfg.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	return &Server{
		cfg:    cfg,
		log:    cfg.Logger,
		now:    time.Now,
		swarms: make(map[string]*swarmPeers),
		conns:  make(map[*conn]struct{}),
		perIP:  make(map[string]int),
	}
}

// Interval returns the announce interval in whole seconds, as sent to clients.
func (s *Server) Interval() int {
	return max(1, int(math.Ceil(s.cfg.Interval.Seconds())))
}

// Stats returns a snapshot of the tracker's state. It costs O(1): the
// counters are kept up to date as peers join and leave.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Connections: len(s.conns), Swarms: len(s.swarms), Peers: s.peers, Seeders: s.seeders}
}

// Close disconnects every client and waits for their handlers to return.
// Later upgrade requests are refused.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.cancel()
	}
	s.mu.Unlock()
	s.handlers.Wait()
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isWebSocketUpgrade(r) {
		s.serveWebSocket(w, r)
		return
	}
	switch r.URL.Path {
	case "/stats":
		s.writeJSON(w, s.Stats())
	case "/healthz":
		s.writeJSON(w, map[string]any{"ok": true})
	default:
		if s.cfg.Static != nil {
			s.cfg.Static.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusUpgradeRequired)
		_, _ = io.WriteString(w, "peerset tracker: connect with a WebSocket (ws:// or wss://); stats at /stats\n")
	}
}

func isWebSocketUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		if strings.EqualFold(strings.TrimSpace(v), "websocket") {
			return true
		}
	}
	return false
}

func (s *Server) writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.log.Debug("failed to write JSON response", "err", err)
	}
}

func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	ip := ipKey(r.RemoteAddr)
	if status, reason := s.reserve(ip); status != 0 {
		s.log.Debug("connection refused", "remote", r.RemoteAddr, "reason", reason)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Retry-After", "30")
		http.Error(w, "peerset tracker: "+reason, status)
		return
	}
	opts := &websocket.AcceptOptions{OriginPatterns: s.cfg.OriginPatterns}
	if len(s.cfg.OriginPatterns) == 0 {
		opts.InsecureSkipVerify = true // any origin: see Config.OriginPatterns
	}
	ws, err := websocket.Accept(w, r, opts)
	if err != nil {
		s.release(ip)
		s.log.Debug("failed to accept WebSocket", "remote", r.RemoteAddr, "err", err)
		return
	}
	ws.SetReadLimit(hardReadLimit(s.cfg.MaxMessageBytes))
	s.serve(ip, r.RemoteAddr, wsConn{ws})
}

// Conn is one client connection as the tracker uses it: a WebSocket
// (ServeHTTP) or another message transport (ServeConn).
type Conn interface {
	// ReadMessage returns the next message. A message over max bytes is
	// skipped (the connection stays usable) and reported with an error
	// wrapping ErrMessageTooLarge.
	ReadMessage(ctx context.Context, max int64) ([]byte, error)
	// WriteText sends one text message.
	WriteText(ctx context.Context, data []byte) error
	// Ping checks that the client is still there.
	Ping(ctx context.Context) error
	// Close closes the connection with a "going away" reason.
	Close(reason string) error
	// CloseNow drops the connection.
	CloseNow() error
}

// ErrMessageTooLarge is what Conn.ReadMessage reports for a message over
// its limit.
var ErrMessageTooLarge = errMessageTooLarge

// ServeConn serves one client over c until it closes, under the same limits
// as a WebSocket client (remoteAddr is what MaxConnsPerIP counts by). An
// in-process simulation uses it (swarm.MemNet); it fails at once when the
// tracker is full or closed.
func (s *Server) ServeConn(remoteAddr string, c Conn) error {
	ip := ipKey(remoteAddr)
	if status, reason := s.reserve(ip); status != 0 {
		_ = c.CloseNow()
		return errors.New(reason)
	}
	s.serve(ip, remoteAddr, c)
	return nil
}

// serve runs an accepted connection reserved by s.reserve.
func (s *Server) serve(ip, remoteAddr string, ws Conn) {

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	s.mu.Lock()
	s.pending--
	if s.closed {
		s.perIP[ip]--
		if s.perIP[ip] <= 0 {
			delete(s.perIP, ip)
		}
		s.mu.Unlock()
		_ = ws.Close("tracker is shutting down")
		return
	}
	s.nextConnID++
	c := &conn{
		id:       s.nextConnID,
		ip:       ip,
		ws:       ws,
		send:     make(chan []byte, s.cfg.SendQueueLen),
		probe:    make(chan struct{}, 1),
		cancel:   cancel,
		joined:   make(map[string]string),
		tokens:   float64(s.cfg.AnnounceBurst),
		refilled: s.now(),
	}
	c.log = s.log.With("conn", c.id, "remote", remoteAddr)
	c.lastMessage.Store(c.refilled.UnixNano())
	s.conns[c] = struct{}{}
	s.handlers.Add(1)
	s.mu.Unlock()
	defer s.handlers.Done()

	c.log.Debug("client connected")
	var loops sync.WaitGroup
	loops.Go(func() { s.writeLoop(ctx, c) })
	if s.cfg.PingInterval > 0 {
		loops.Go(func() { s.pingLoop(ctx, c) })
	}

	err := s.readLoop(ctx, c)
	cancel()
	s.removeConn(c)
	loops.Wait()
	_ = ws.CloseNow()
	c.log.Debug("client disconnected", "reason", err)
}

// wsConn is a client WebSocket as a Conn.
type wsConn struct{ c *websocket.Conn }

func (w wsConn) ReadMessage(ctx context.Context, max int64) ([]byte, error) {
	_, r, err := w.c.Reader(ctx)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		// Drain the rest so the connection stays usable; the read limit
		// closes the connection if it goes past hardReadLimit.
		if _, err := io.Copy(io.Discard, r); err != nil {
			return nil, fmt.Errorf("failed to skip oversized message: %w", err)
		}
		return nil, errMessageTooLarge
	}
	return data, nil
}

func (w wsConn) WriteText(ctx context.Context, data []byte) error {
	return w.c.Write(ctx, websocket.MessageText, data)
}

func (w wsConn) Ping(ctx context.Context) error { return w.c.Ping(ctx) }

func (w wsConn) Close(reason string) error {
	return w.c.Close(websocket.StatusGoingAway, reason)
}

func (w wsConn) CloseNow() error { return w.c.CloseNow() }

// reserve counts a new connection from ip against MaxConns and
// MaxConnsPerIP. It returns 0, or the HTTP status and the reason to refuse
// the upgrade with.
func (s *Server) reserve(ip string) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return http.StatusServiceUnavailable, "the tracker is shutting down"
	case len(s.conns)+s.pending >= s.cfg.MaxConns:
		return http.StatusServiceUnavailable, fmt.Sprintf("the tracker is full (%d connections): try again later", s.cfg.MaxConns)
	case s.cfg.MaxConnsPerIP > 0 && s.perIP[ip] >= s.cfg.MaxConnsPerIP:
		return http.StatusTooManyRequests, fmt.Sprintf("too many connections from your address (%d): close some before opening more", s.cfg.MaxConnsPerIP)
	}
	s.pending++
	s.perIP[ip]++
	return 0, ""
}

// release undoes reserve for an upgrade that failed.
func (s *Server) release(ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending--
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
}

// ipKey is what MaxConnsPerIP counts by: the IPv4 address, or the /64 of an
// IPv6 address (one host usually holds a whole /64).
func ipKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String()
	}
	prefix, err := addr.WithZone("").Prefix(64)
	if err != nil {
		return addr.String()
	}
	return prefix.String()
}

// hardReadLimit is where the WebSocket library itself cuts a connection:
// messages between MaxMessageBytes and this get a failure reason instead.
func hardReadLimit(maxBytes int64) int64 {
	return max(4*maxBytes, maxBytes+64<<10)
}

func (s *Server) readLoop(ctx context.Context, c *conn) error {
	for {
		data, err := s.readMessage(ctx, c)
		if err != nil && !errors.Is(err, errMessageTooLarge) {
			return err
		}
		c.lastMessage.Store(s.now().UnixNano())
		if !s.allow(c) {
			continue
		}
		if err != nil {
			c.log.Debug("message too large", "limit", s.cfg.MaxMessageBytes)
			s.sendFailure(c, reasonMessageTooLarge)
			continue
		}
		s.handleMessage(c, data)
	}
}

// allow takes one token of c's bucket. Without one, the message is dropped
// and c hears about it at most once per second. Only c's readLoop calls it.
func (s *Server) allow(c *conn) bool {
	now := s.now()
	if elapsed := now.Sub(c.refilled); elapsed > 0 {
		c.tokens = min(float64(s.cfg.AnnounceBurst), c.tokens+elapsed.Seconds()*s.cfg.AnnounceRate)
		c.refilled = now
	}
	if c.tokens >= 1 {
		c.tokens--
		return true
	}
	s.rateDropped.Add(1)
	if now.Sub(c.lastLimited) >= time.Second {
		c.lastLimited = now
		c.log.Debug("message dropped: rate limit", "rate", s.cfg.AnnounceRate, "burst", s.cfg.AnnounceBurst)
		s.sendFailure(c, reasonRateLimited)
	}
	return false
}

func (s *Server) readMessage(ctx context.Context, c *conn) ([]byte, error) {
	data, err := c.ws.ReadMessage(ctx, s.cfg.MaxMessageBytes)
	if errors.Is(err, errMessageTooLarge) {
		return nil, errMessageTooLarge
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read message: %w", err)
	}
	return data, nil
}

func (s *Server) writeLoop(ctx context.Context, c *conn) {
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-c.send:
			c.queued.Add(-int64(len(msg)))
			wctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
			err := c.ws.WriteText(wctx, msg)
			cancel()
			if err != nil {
				c.log.Debug("failed to write message", "err", err)
				c.cancel()
				return
			}
		}
	}
}

// pingLoop pings c every PingInterval, and at once when probed (at most once
// per PingTimeout); a ping without a pong within PingTimeout disconnects c,
// and so does a client silent for MemberIdleTimeout.
func (s *Server) pingLoop(ctx context.Context, c *conn) {
	t := time.NewTicker(s.cfg.PingInterval)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if silent := s.now().Sub(time.Unix(0, c.lastMessage.Load())); silent >= s.cfg.MemberIdleTimeout {
				c.log.Debug("closing a silent connection", "silent", silent)
				c.cancel()
				return
			}
		case <-c.probe:
			if time.Since(last) < s.cfg.PingTimeout {
				continue
			}
			c.log.Debug("probing a connection whose peer_id another connection asked for")
		}
		last = time.Now()
		pctx, cancel := context.WithTimeout(ctx, s.cfg.PingTimeout)
		err := c.ws.Ping(pctx)
		cancel()
		if err != nil {
			c.log.Debug("ping failed", "err", err)
			c.cancel()
			return
		}
	}
}

// enqueue queues msg for c without blocking; a client whose queue is full
// (in messages or bytes) is disconnected. Safe to call with s.mu held.
func (s *Server) enqueue(c *conn, msg []byte) {
	if c.queued.Add(int64(len(msg))) > int64(s.cfg.SendQueueBytes) {
		c.queued.Add(-int64(len(msg)))
		c.log.Info("disconnecting a client that does not keep up", "queued_bytes", c.queued.Load())
		c.cancel()
		return
	}
	select {
	case c.send <- msg:
	default:
		c.queued.Add(-int64(len(msg)))
		c.log.Info("disconnecting a client that does not keep up", "queue", cap(c.send))
		c.cancel()
	}
}

func (s *Server) encodeAndEnqueue(c *conn, m wire.TrackerMessage) {
	data, err := wire.EncodeTrackerMessage(m)
	if err != nil {
		// Everything relayed was validated on the way in.
		c.log.Error("failed to encode tracker message", "err", err)
		return
	}
	s.enqueue(c, data)
}

func (s *Server) sendFailure(c *conn, reason string) {
	s.encodeAndEnqueue(c, &wire.TrackerFailure{FailureReason: reason})
}

func (s *Server) sendAnnounceFailure(c *conn, infoHash, reason string) {
	s.encodeAndEnqueue(c, &wire.TrackerFailure{Action: wire.TrackerActionAnnounce, FailureReason: reason, InfoHash: infoHash})
}

// handleMessage processes one client message. Forwarded offers are queued
// before the sender's reply, so a client that has its reply knows its offers
// are on their way.
func (s *Server) handleMessage(c *conn, data []byte) {
	req, err := wire.DecodeAnnounceRequest(data)
	if err != nil {
		c.log.Debug("bad request", "err", err)
		s.sendFailure(c, err.Error())
		return
	}
	log := c.log.With("info_hash", req.InfoHash, "peer_id", req.PeerID)
	if len(req.Offers) > s.cfg.MaxOffersPerAnnounce {
		log.Debug("too many offers", "offers", len(req.Offers), "limit", s.cfg.MaxOffersPerAnnounce)
		s.sendAnnounceFailure(c, req.InfoHash, reasonTooManyOffers)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	if id, ok := c.joined[req.InfoHash]; ok && id != req.PeerID {
		log.Debug("peer_id mismatch", "joined_as", id)
		s.sendAnnounceFailure(c, req.InfoHash, reasonPeerIDMismatch)
		return
	}
	if req.Event == "stopped" {
		s.leaveLocked(c, req.InfoHash)
		log.Debug("peer stopped")
		if req.Answer == nil {
			s.replyLocked(c, req.InfoHash)
		}
		return
	}
	if reason := s.joinLocked(c, req); reason != "" {
		log.Debug("announce refused", "reason", reason)
		s.sendAnnounceFailure(c, req.InfoHash, reason)
		return
	}

	if len(req.Offers) > 0 {
		targets := s.randomOthersLocked(req.InfoHash, req.PeerID, len(req.Offers))
		for i, target := range targets {
			o := req.Offers[i]
			s.encodeAndEnqueue(target, &wire.ForwardedOffer{
				Action:   wire.TrackerActionAnnounce,
				Offer:    o.Offer,
				OfferID:  o.OfferID,
				PeerID:   req.PeerID,
				InfoHash: req.InfoHash,
			})
		}
		log.Debug("forwarded offers", "offers", len(req.Offers), "peers", len(targets))
	}

	if req.Answer != nil {
		// Like bittorrent-tracker: no reply to an answer; an unknown
		// to_peer_id is only logged.
		to := s.swarms[req.InfoHash].peers[req.ToPeerID]
		if to == nil {
			log.Debug("answer for an unknown peer", "to_peer_id", req.ToPeerID)
			return
		}
		s.encodeAndEnqueue(to.conn, &wire.ForwardedAnswer{
			Action:   wire.TrackerActionAnnounce,
			Answer:   *req.Answer,
			OfferID:  req.OfferID,
			PeerID:   req.PeerID,
			InfoHash: req.InfoHash,
		})
		log.Debug("forwarded answer", "to_peer_id", req.ToPeerID)
		return
	}
	s.replyLocked(c, req.InfoHash)
}

// joinLocked adds or refreshes c's membership of the request's swarm. It
// returns a failure reason when a rule or limit forbids it. A peer_id stays
// with the connection that registered it while that connection is open:
// another connection announcing it is refused (and the holder is probed
// with a ping, so that a dead one is noticed soon), otherwise whoever learnt
// a peer_id from a forwarded offer could take the answers meant for it.
func (s *Server) joinLocked(c *conn, req *wire.AnnounceRequest) string {
	now := s.now()
	sw := s.swarms[req.InfoHash]
	if sw != nil {
		s.expireIdleLocked(req.InfoHash, sw, now, len(sw.peers))
	}
	if sw = s.swarms[req.InfoHash]; sw == nil {
		sw = &swarmPeers{peers: make(map[string]*member)}
	}
	m := sw.peers[req.PeerID]
	if m != nil && m.conn != c {
		select {
		case m.conn.probe <- struct{}{}:
		default:
		}
		return reasonPeerIDTaken
	}
	if m == nil {
		if len(c.joined) >= s.cfg.MaxSwarmsPerConn {
			return reasonTooManySwarms
		}
		if len(sw.peers) >= s.cfg.MaxPeersPerSwarm {
			return reasonSwarmFull
		}
		m = &member{peerID: req.PeerID, conn: c}
		sw.add(m)
		s.swarms[req.InfoHash] = sw
		c.joined[req.InfoHash] = req.PeerID
		s.peers++
	}
	if seeding := req.Seeding(); seeding != m.seeding {
		m.seeding = seeding
		if seeding {
			sw.seeders++
			s.seeders++
		} else {
			sw.seeders--
			s.seeders--
		}
	}
	m.lastSeen = now
	sw.touch(m)
	return ""
}

// expireIdleLocked drops up to limit members of sw whose last announce is
// older than MemberIdleTimeout, oldest first.
func (s *Server) expireIdleLocked(infoHash string, sw *swarmPeers, now time.Time, limit int) {
	for range limit {
		m := sw.oldest
		if m == nil || now.Sub(m.lastSeen) < s.cfg.MemberIdleTimeout {
			return
		}
		m.conn.log.Debug("dropping an idle membership", "info_hash", infoHash, "peer_id", m.peerID, "idle", now.Sub(m.lastSeen))
		delete(m.conn.joined, infoHash)
		s.removeMemberLocked(infoHash, sw, m)
	}
}

func (s *Server) removeMemberLocked(infoHash string, sw *swarmPeers, m *member) {
	sw.remove(m)
	s.peers--
	if m.seeding {
		sw.seeders--
		s.seeders--
	}
	if len(sw.peers) == 0 {
		delete(s.swarms, infoHash)
	}
}

func (s *Server) leaveLocked(c *conn, infoHash string) {
	peerID, ok := c.joined[infoHash]
	if !ok {
		return
	}
	delete(c.joined, infoHash)
	sw := s.swarms[infoHash]
	if sw == nil {
		return
	}
	if m := sw.peers[peerID]; m != nil && m.conn == c {
		s.removeMemberLocked(infoHash, sw, m)
	}
}

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for infoHash := range c.joined {
		s.leaveLocked(c, infoHash)
	}
	delete(s.conns, c)
	if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
		delete(s.perIP, c.ip)
	}
}

func (s *Server) replyLocked(c *conn, infoHash string) {
	reply := &wire.AnnounceReply{Action: wire.TrackerActionAnnounce, Interval: s.Interval(), InfoHash: infoHash}
	if sw := s.swarms[infoHash]; sw != nil {
		reply.Complete = sw.seeders
		reply.Incomplete = len(sw.peers) - sw.seeders
	}
	s.encodeAndEnqueue(c, reply)
}

// randomOthersLocked picks up to n distinct random connections of the swarm,
// never the sender's peer_id. It costs O(n) for a large swarm.
func (s *Server) randomOthersLocked(infoHash, senderID string, n int) []*conn {
	sw := s.swarms[infoHash]
	if sw == nil {
		return nil
	}
	others := len(sw.list)
	if sw.peers[senderID] != nil {
		others--
	}
	n = min(n, others)
	if n <= 0 {
		return nil
	}
	out := make([]*conn, 0, n)
	if others <= 4*n {
		// Small swarm: shuffle a copy.
		pool := make([]*member, 0, len(sw.list))
		for _, m := range sw.list {
			if m.peerID != senderID {
				pool = append(pool, m)
			}
		}
		for i := range n {
			j := i + rand.IntN(len(pool)-i)
			pool[i], pool[j] = pool[j], pool[i]
			out = append(out, pool[i].conn)
		}
		return out
	}
	// Large swarm: draw indices until n distinct others (each draw hits one
	// with probability above 3/4).
	picked := make(map[int]struct{}, n)
	for len(out) < n {
		i := rand.IntN(len(sw.list))
		m := sw.list[i]
		if _, dup := picked[i]; dup || m.peerID == senderID {
			continue
		}
		picked[i] = struct{}{}
		out = append(out, m.conn)
	}
	return out
}

// add inserts a new member, newest in the idle list.
func (sw *swarmPeers) add(m *member) {
	sw.peers[m.peerID] = m
	m.index = len(sw.list)
	sw.list = append(sw.list, m)
	sw.pushNewest(m)
}

// remove deletes a member in O(1).
func (sw *swarmPeers) remove(m *member) {
	delete(sw.peers, m.peerID)
	last := sw.list[len(sw.list)-1]
	sw.list[m.index] = last
	last.index = m.index
	sw.list[len(sw.list)-1] = nil
	sw.list = sw.list[:len(sw.list)-1]
	sw.unlink(m)
}

// touch moves m to the newest end of the idle list.
func (sw *swarmPeers) touch(m *member) {
	if sw.newest == m {
		return
	}
	sw.unlink(m)
	sw.pushNewest(m)
}

func (sw *swarmPeers) pushNewest(m *member) {
	m.prev, m.next = sw.newest, nil
	if sw.newest != nil {
		sw.newest.next = m
	} else {
		sw.oldest = m
	}
	sw.newest = m
}

func (sw *swarmPeers) unlink(m *member) {
	if m.prev != nil {
		m.prev.next = m.next
	} else if sw.oldest == m {
		sw.oldest = m.next
	}
	if m.next != nil {
		m.next.prev = m.prev
	} else if sw.newest == m {
		sw.newest = m.prev
	}
	m.prev, m.next = nil, nil
}
