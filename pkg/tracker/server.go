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
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/peersetdb/peerset/pkg/swarm"
)

// Config tunes a Server. Zero fields take the values of DefaultConfig.
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
	MaxSwarmsPerConn int
	// MaxPeersPerSwarm bounds the peers of one info_hash.
	MaxPeersPerSwarm int
	// SendQueueLen bounds the messages waiting for one connection; a client
	// that falls this far behind is disconnected.
	SendQueueLen int
	// WriteTimeout bounds one WebSocket write.
	WriteTimeout time.Duration
	// PingInterval is how often idle connections are pinged, so that dead
	// peers leave their swarms. Negative disables pings.
	PingInterval time.Duration
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
// connection, 1000 peers per swarm.
func DefaultConfig() Config {
	return Config{
		Interval:             10 * time.Second,
		MaxMessageBytes:      64 << 10,
		MaxOffersPerAnnounce: 20,
		MaxSwarmsPerConn:     64,
		MaxPeersPerSwarm:     1000,
		SendQueueLen:         256,
		WriteTimeout:         10 * time.Second,
		PingInterval:         30 * time.Second,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Interval <= 0 {
		c.Interval = d.Interval
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	if c.MaxOffersPerAnnounce <= 0 {
		c.MaxOffersPerAnnounce = d.MaxOffersPerAnnounce
	}
	if c.MaxSwarmsPerConn <= 0 {
		c.MaxSwarmsPerConn = d.MaxSwarmsPerConn
	}
	if c.MaxPeersPerSwarm <= 0 {
		c.MaxPeersPerSwarm = d.MaxPeersPerSwarm
	}
	if c.SendQueueLen <= 0 {
		c.SendQueueLen = d.SendQueueLen
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	if c.PingInterval == 0 {
		c.PingInterval = d.PingInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Failure reasons for the tracker's own limits and rules. Request-format
// failures use the text of the swarm package's decoding errors.
const (
	reasonMessageTooLarge = "message too large"
	reasonTooManyOffers   = "too many offers"
	reasonTooManySwarms   = "too many info_hashes on this connection"
	reasonSwarmFull       = "swarm is full"
	reasonPeerIDMismatch  = "peer_id differs from this connection's peer_id in this swarm"
)

var errMessageTooLarge = errors.New(reasonMessageTooLarge)

// Server is the tracker. It implements http.Handler: GET /stats returns
// Stats as JSON, GET /healthz a small JSON status, and a WebSocket upgrade on
// any path joins the tracker (Trystero uses URLs like wss://host/announce).
// Other requests go to Config.Static when it is set.
type Server struct {
	cfg Config
	log *slog.Logger

	mu         sync.Mutex
	swarms     map[string]*swarmPeers // by info_hash
	conns      map[*conn]struct{}
	nextConnID uint64
	closed     bool
	handlers   sync.WaitGroup
}

// swarmPeers is the membership of one info_hash.
type swarmPeers struct {
	peers map[string]*member // by peer_id
}

type member struct {
	conn    *conn
	seeding bool
}

// conn is one client WebSocket. joined is guarded by Server.mu.
type conn struct {
	id     uint64
	ws     *websocket.Conn
	log    *slog.Logger
	send   chan []byte
	cancel context.CancelFunc
	joined map[string]string // info_hash → peer_id
}

// New returns a tracker configured by cfg.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	return &Server{
		cfg:    cfg,
		log:    cfg.Logger,
		swarms: make(map[string]*swarmPeers),
		conns:  make(map[*conn]struct{}),
	}
}

// Interval returns the announce interval in whole seconds, as sent to clients.
func (s *Server) Interval() int {
	return max(1, int(math.Ceil(s.cfg.Interval.Seconds())))
}

// Stats returns a snapshot of the tracker's state.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Connections: len(s.conns), Swarms: len(s.swarms)}
	for _, sw := range s.swarms {
		st.Peers += len(sw.peers)
		for _, m := range sw.peers {
			if m.seeding {
				st.Seeders++
			}
		}
	}
	return st
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
	opts := &websocket.AcceptOptions{OriginPatterns: s.cfg.OriginPatterns}
	if len(s.cfg.OriginPatterns) == 0 {
		opts.InsecureSkipVerify = true // any origin: see Config.OriginPatterns
	}
	ws, err := websocket.Accept(w, r, opts)
	if err != nil {
		s.log.Debug("failed to accept WebSocket", "remote", r.RemoteAddr, "err", err)
		return
	}
	ws.SetReadLimit(hardReadLimit(s.cfg.MaxMessageBytes))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close(websocket.StatusGoingAway, "tracker is shutting down")
		return
	}
	s.nextConnID++
	c := &conn{
		id:     s.nextConnID,
		ws:     ws,
		send:   make(chan []byte, s.cfg.SendQueueLen),
		cancel: cancel,
		joined: make(map[string]string),
	}
	c.log = s.log.With("conn", c.id, "remote", r.RemoteAddr)
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

	err = s.readLoop(ctx, c)
	cancel()
	s.removeConn(c)
	loops.Wait()
	_ = ws.CloseNow()
	c.log.Debug("client disconnected", "reason", err)
}

// hardReadLimit is where the WebSocket library itself cuts a connection:
// messages between MaxMessageBytes and this get a failure reason instead.
func hardReadLimit(maxBytes int64) int64 {
	return max(4*maxBytes, maxBytes+64<<10)
}

func (s *Server) readLoop(ctx context.Context, c *conn) error {
	for {
		data, err := s.readMessage(ctx, c)
		if errors.Is(err, errMessageTooLarge) {
			c.log.Debug("message too large", "limit", s.cfg.MaxMessageBytes)
			s.sendFailure(c, reasonMessageTooLarge)
			continue
		}
		if err != nil {
			return err
		}
		s.handleMessage(c, data)
	}
}

func (s *Server) readMessage(ctx context.Context, c *conn) ([]byte, error) {
	_, r, err := c.ws.Reader(ctx)
	if err != nil {
		return nil, fmt.Errorf("failed to read message: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(r, s.cfg.MaxMessageBytes+1))
	if err != nil {
		return nil, fmt.Errorf("failed to read message: %w", err)
	}
	if int64(len(data)) > s.cfg.MaxMessageBytes {
		// Drain the rest so the connection stays usable; the read limit
		// closes the connection if it goes past hardReadLimit.
		if _, err := io.Copy(io.Discard, r); err != nil {
			return nil, fmt.Errorf("failed to skip oversized message: %w", err)
		}
		return nil, errMessageTooLarge
	}
	return data, nil
}

func (s *Server) writeLoop(ctx context.Context, c *conn) {
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-c.send:
			wctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
			err := c.ws.Write(wctx, websocket.MessageText, msg)
			cancel()
			if err != nil {
				c.log.Debug("failed to write message", "err", err)
				c.cancel()
				return
			}
		}
	}
}

func (s *Server) pingLoop(ctx context.Context, c *conn) {
	t := time.NewTicker(s.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, s.cfg.PingInterval)
			err := c.ws.Ping(pctx)
			cancel()
			if err != nil {
				c.log.Debug("ping failed", "err", err)
				c.cancel()
				return
			}
		}
	}
}

// enqueue queues msg for c without blocking; a client whose queue is full is
// disconnected. Safe to call with s.mu held.
func (s *Server) enqueue(c *conn, msg []byte) {
	select {
	case c.send <- msg:
	default:
		c.log.Info("disconnecting a client that does not keep up", "queue", cap(c.send))
		c.cancel()
	}
}

func (s *Server) encodeAndEnqueue(c *conn, m swarm.TrackerMessage) {
	data, err := swarm.EncodeTrackerMessage(m)
	if err != nil {
		// Everything relayed was validated on the way in.
		c.log.Error("failed to encode tracker message", "err", err)
		return
	}
	s.enqueue(c, data)
}

func (s *Server) sendFailure(c *conn, reason string) {
	s.encodeAndEnqueue(c, &swarm.TrackerFailure{FailureReason: reason})
}

func (s *Server) sendAnnounceFailure(c *conn, infoHash, reason string) {
	s.encodeAndEnqueue(c, &swarm.TrackerFailure{Action: swarm.TrackerActionAnnounce, FailureReason: reason, InfoHash: infoHash})
}

// handleMessage processes one client message. Forwarded offers are queued
// before the sender's reply, so a client that has its reply knows its offers
// are on their way.
func (s *Server) handleMessage(c *conn, data []byte) {
	req, err := swarm.DecodeAnnounceRequest(data)
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
			s.encodeAndEnqueue(target, &swarm.ForwardedOffer{
				Action:   swarm.TrackerActionAnnounce,
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
		s.encodeAndEnqueue(to.conn, &swarm.ForwardedAnswer{
			Action:   swarm.TrackerActionAnnounce,
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
// returns a failure reason when a limit forbids it. A peer_id already held
// by another connection moves to c, as in bittorrent-tracker (a client that
// reconnects before the tracker noticed its old socket died).
func (s *Server) joinLocked(c *conn, req *swarm.AnnounceRequest) string {
	_, already := c.joined[req.InfoHash]
	if !already && len(c.joined) >= s.cfg.MaxSwarmsPerConn {
		return reasonTooManySwarms
	}
	sw := s.swarms[req.InfoHash]
	if sw == nil {
		sw = &swarmPeers{peers: make(map[string]*member)}
	}
	m := sw.peers[req.PeerID]
	if m == nil && len(sw.peers) >= s.cfg.MaxPeersPerSwarm {
		return reasonSwarmFull
	}
	if m == nil {
		m = &member{}
		sw.peers[req.PeerID] = m
	} else if m.conn != c {
		delete(m.conn.joined, req.InfoHash)
		c.log.Debug("peer_id moved from another connection", "info_hash", req.InfoHash, "peer_id", req.PeerID, "from_conn", m.conn.id)
	}
	m.conn = c
	m.seeding = req.Seeding()
	s.swarms[req.InfoHash] = sw
	c.joined[req.InfoHash] = req.PeerID
	return ""
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
		delete(sw.peers, peerID)
	}
	if len(sw.peers) == 0 {
		delete(s.swarms, infoHash)
	}
}

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for infoHash := range c.joined {
		s.leaveLocked(c, infoHash)
	}
	delete(s.conns, c)
}

func (s *Server) replyLocked(c *conn, infoHash string) {
	reply := &swarm.AnnounceReply{Action: swarm.TrackerActionAnnounce, Interval: s.Interval(), InfoHash: infoHash}
	if sw := s.swarms[infoHash]; sw != nil {
		for _, m := range sw.peers {
			if m.seeding {
				reply.Complete++
			} else {
				reply.Incomplete++
			}
		}
	}
	s.encodeAndEnqueue(c, reply)
}

// randomOthersLocked picks up to n distinct random connections of the swarm,
// never the sender's peer_id.
func (s *Server) randomOthersLocked(infoHash, senderID string, n int) []*conn {
	sw := s.swarms[infoHash]
	if sw == nil {
		return nil
	}
	others := make([]*conn, 0, len(sw.peers))
	for id, m := range sw.peers {
		if id != senderID {
			others = append(others, m.conn)
		}
	}
	n = min(n, len(others))
	for i := 0; i < n; i++ {
		j := i + rand.IntN(len(others)-i)
		others[i], others[j] = others[j], others[i]
	}
	return others[:n]
}
