//go:build !js

// Package swarmsim runs a whole room in one process: N peers, each the real
// swarm.Room (signalling through in-process trackers, sealed SDPs, Trystero
// frames) and the real session.Manager (handshake, strikes, negentropy,
// pushes), over a swarm.MemNet instead of WebRTC, and measures how the room
// behaves: sessions per peer, how far and fast a new record spreads, what it
// costs, how often peers announce, and whether the room heals after peers
// and every tracker die (issue 11). cmd/swarmsim is its command line.
//
// Run uses the time package only, so it can run under a fake clock: inside
// a testing/synctest bubble every timer of every peer runs on the bubble's
// virtual clock, which jumps ahead whenever all goroutines wait, so minutes
// of simulated room take only the CPU time the peers really spend.
package swarmsim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/swarm/session"
	"github.com/peersetdb/peerset/pkg/tracker"
	"github.com/peersetdb/peerset/pkg/wire"
)

// Options describe one simulation.
type Options struct {
	Peers    int           // peers in the room
	Records  int           // records every peer holds at the start
	Trackers int           // in-process trackers (default 2)
	Seed     uint64        // latencies, losses, choices
	Latency  time.Duration // mean one-way link latency (default 40 ms)
	Jitter   time.Duration // ± around Latency (default Latency/2)
	Loss     float64       // per-message loss probability (retransmitted)
	// Unreachable is the fraction of peers behind NATs that no two of them
	// can cross (swarm.MemNetConfig.Unreachable): what passes between two
	// such peers is carried by members both reach.
	Unreachable float64
	Churn       float64       // fraction of peers replaced per simulated minute during the churn phase
	Kill        float64       // fraction of peers killed, with every tracker, in the heal phase (default 0.3; negative: no heal phase)
	Probes      int           // new records whose spread is measured (default 3)
	MaxPeers    int           // swarm and session MaxPeers (0: the defaults, 32)
	JoinOver    time.Duration // peers join spread over this (default 30 s)
	Settle      time.Duration // wait after the last join (default 60 s)
	Deadline    time.Duration // how long one probe may take to reach everyone (default 60 s)
}

// Result is what a simulation measured. The JSON names are cmd/swarmsim's.
type Result struct {
	Peers       int     `json:"peers"`
	Records     int     `json:"records"`
	Seed        uint64  `json:"seed"`
	LatencyMS   float64 `json:"latency_ms"`
	Loss        float64 `json:"loss"`
	Unreachable float64 `json:"unreachable"`
	// UnreachablePeers counts the peers behind such NATs;
	// UnreachableLinksMax the most sessions seen at once between two of them
	// (a check of the network: always 0).
	UnreachablePeers     int     `json:"unreachable_peers"`
	UnreachableLinksMax  int     `json:"unreachable_links_max"`
	Churn                float64 `json:"churn"`
	Kill                 float64 `json:"kill"`
	LinksMax             int     `json:"links_max"`
	LinksMean            float64 `json:"links_mean"`
	Converged            bool    `json:"converged"`
	ReachHopsP99         int     `json:"reach_hops_p99"`
	ReachMSP99           float64 `json:"reach_ms_p99"`
	ReachFraction        float64 `json:"reach_fraction"`
	BytesPerPeer         float64 `json:"bytes_per_peer"`     // during a probe, less the idle traffic of the same span
	BytesPerPeerRaw      float64 `json:"bytes_per_peer_raw"` // during a probe, idle traffic included
	RecordBytes          int     `json:"record_bytes"`       // JSON size of a probe record
	IdleBytesPerPeerMin  float64 `json:"idle_bytes_per_peer_min"`
	AnnouncesPerPeerMin  float64 `json:"announces_per_peer_min"`
	AnnouncesPerPeerMean float64 `json:"announces_per_peer_mean"`
	Healed               bool    `json:"healed"`
	HealComponents       int     `json:"heal_components"`
	HealReachFraction    float64 `json:"heal_reach_fraction"`
	HealNewLinks         int     `json:"heal_new_links"` // sessions between survivors formed after the kill (trackers gone)
	SimulatedS           float64 `json:"simulated_s"`
	WallS                float64 `json:"wall_s"` // set by the caller: inside a bubble time.Now is virtual
}

// Validate checks o and fills in defaults.
func (o *Options) Validate() error {
	switch {
	case o.Peers < 2:
		return fmt.Errorf("swarmsim: need at least 2 peers, got %d", o.Peers)
	case o.Records < 0:
		return fmt.Errorf("swarmsim: records must be ≥ 0, got %d", o.Records)
	case o.Loss < 0 || o.Loss >= 1:
		return fmt.Errorf("swarmsim: loss must be in [0, 1), got %v", o.Loss)
	case o.Unreachable < 0 || o.Unreachable > 1:
		return fmt.Errorf("swarmsim: unreachable must be in [0, 1], got %v", o.Unreachable)
	case o.Churn < 0 || o.Churn > 1:
		return fmt.Errorf("swarmsim: churn must be in [0, 1], got %v", o.Churn)
	case o.Kill >= 1:
		return fmt.Errorf("swarmsim: kill must be below 1, got %v", o.Kill)
	case o.Latency < 0 || o.Jitter < 0:
		return fmt.Errorf("swarmsim: latency and jitter must be ≥ 0")
	}
	if o.Trackers <= 0 {
		o.Trackers = 2
	}
	if o.Latency == 0 {
		o.Latency = 40 * time.Millisecond
	}
	if o.Jitter == 0 {
		o.Jitter = o.Latency / 2
	}
	o.Jitter = min(o.Jitter, o.Latency)
	if o.Kill == 0 {
		o.Kill = 0.3
	}
	if o.Probes <= 0 {
		o.Probes = 3
	}
	if o.JoinOver <= 0 {
		o.JoinOver = 30 * time.Second
	}
	if o.Settle <= 0 {
		o.Settle = 60 * time.Second
	}
	if o.Deadline <= 0 {
		o.Deadline = 60 * time.Second
	}
	return nil
}

const appID, roomName = "peerset", "swarmsim"

// sim is one running simulation.
type sim struct {
	opts     Options
	net      *swarm.MemNet
	roomID   string
	trackers []string
	servers  []*tracker.Server
	rng      *rand.Rand
	ids      *rand.ChaCha8 // the bytes of peer ids, from the seed
	log      io.Writer
	verified sync.Map // event id → error: each distinct event is verified once
	base     map[[32]byte]*record.Event
	baseList []*record.Event

	mu    sync.Mutex
	peers []*peer // every peer ever started, in order
	probe *probe

	lastRaw     float64 // bytes_per_peer_raw of the last probe
	actionMu    sync.Mutex
	actionBytes map[string]uint64 // session payload bytes sent, by action
}

// countAction adds one sent session message to the per-action totals.
func (s *sim) countAction(action string, n int) {
	s.actionMu.Lock()
	s.actionBytes[action] += uint64(n)
	s.actionMu.Unlock()
}

// actionSnapshot copies the per-action totals.
func (s *sim) actionSnapshot() map[string]uint64 {
	s.actionMu.Lock()
	defer s.actionMu.Unlock()
	out := make(map[string]uint64, len(s.actionBytes))
	for k, v := range s.actionBytes {
		out[k] = v
	}
	return out
}

// probe follows one new record through the room.
type probe struct {
	id    [32]byte
	start time.Time
	hops  map[string]int           // peer id → hops
	at    map[string]time.Duration // peer id → time to store
}

// Run runs a simulation and returns what it measured; progress goes to log.
func Run(opts Options, log io.Writer) (Result, error) {
	if err := opts.Validate(); err != nil {
		return Result{}, err
	}
	net, err := swarm.NewMemNet(swarm.MemNetConfig{Seed: opts.Seed, Latency: opts.Latency, Jitter: opts.Jitter, Loss: opts.Loss, Unreachable: opts.Unreachable})
	if err != nil {
		return Result{}, err
	}
	s := &sim{
		opts:   opts,
		net:    net,
		roomID: record.RoomID(appID, roomName),
		rng:    rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5eed)),
		ids:    rand.NewChaCha8(idSeed(opts.Seed)),
		log:    log,
		base:   make(map[[32]byte]*record.Event, opts.Records),

		actionBytes: make(map[string]uint64),
	}
	res := Result{Peers: opts.Peers, Records: opts.Records, Seed: opts.Seed, LatencyMS: float64(opts.Latency) / 1e6,
		Loss: opts.Loss, Unreachable: opts.Unreachable, Churn: opts.Churn, Kill: opts.Kill, ReachHopsP99: -1, ReachMSP99: -1}
	defer s.shutdown()
	start := time.Now()
	if err := s.run(&res); err != nil {
		return res, err
	}
	res.SimulatedS = time.Since(start).Seconds()
	return res, nil
}

func (s *sim) logf(format string, args ...any) {
	if s.log != nil {
		fmt.Fprintf(s.log, "swarmsim [%7.1fs] "+format+"\n", append([]any{s.elapsed().Seconds()}, args...)...)
	}
}

var simStart time.Time

func (s *sim) elapsed() time.Duration { return time.Since(simStart) }

func (s *sim) run(res *Result) error {
	simStart = time.Now()
	o := s.opts
	if err := s.makeBase(); err != nil {
		return err
	}
	for i := range o.Trackers {
		url := fmt.Sprintf("ws://tracker-%d.swarmsim.invalid/", i)
		cfg := tracker.DefaultConfig()
		cfg.MaxConnsPerIP = -1
		srv := tracker.New(cfg)
		s.trackers = append(s.trackers, url)
		s.servers = append(s.servers, srv)
		s.net.ServeTracker(url, func(remote string, sock *swarm.MemSocket) {
			_ = srv.ServeConn(remote, memConn{sock})
		})
	}
	s.logf("%d records signed; %d peers join over %v", o.Records, o.Peers, o.JoinOver)
	gap := o.JoinOver / time.Duration(o.Peers)
	for i := range o.Peers {
		if _, err := s.startPeer(); err != nil {
			return err
		}
		if (i+1)%max(1, o.Peers/10) == 0 {
			s.logf("%d peers started", i+1)
		}
		time.Sleep(gap)
	}
	s.sleepSampling(o.Settle, res)
	s.logf("settled: %s", s.linkSummary())

	if o.Churn > 0 {
		s.churn(time.Minute, res)
		s.sleepSampling(o.Settle/2, res)
		s.logf("after churn: %s", s.linkSummary())
	}

	// Announces once settled.
	window := 2 * time.Minute
	before := s.trackerMessages()
	s.sleepSampling(window, res)
	after := s.trackerMessages()
	var per []float64
	for id, n := range after {
		if b, ok := before[id]; ok {
			per = append(per, float64(n-b)/window.Minutes())
		}
	}
	if len(per) > 0 {
		res.AnnouncesPerPeerMin = slices.Min(per)
		res.AnnouncesPerPeerMean = mean(per)
	}
	s.logf("tracker messages per settled peer per minute: min %.2f, mean %.2f", res.AnnouncesPerPeerMin, res.AnnouncesPerPeerMean)

	// Idle traffic, then probes.
	idleWindow := 30 * time.Second
	b0 := s.dataBytes()
	s.sleepSampling(idleWindow, res)
	idle := float64(s.dataBytes()-b0) / float64(len(s.alive()))
	res.IdleBytesPerPeerMin = idle / idleWindow.Minutes()
	var hopsP99, msP99, bytesPer, bytesRaw, reach []float64
	for i := range o.Probes {
		h, ms, frac, bytes := s.runProbe(res)
		reach = append(reach, frac)
		bytesPer = append(bytesPer, bytes)
		bytesRaw = append(bytesRaw, s.lastRaw)
		if h >= 0 {
			hopsP99 = append(hopsP99, float64(h))
			msP99 = append(msP99, ms)
		}
		s.logf("probe %d: reached %.1f%% of peers; p99 %d hops, %.0f ms; %.0f bytes per peer (%.0f with idle traffic)", i+1, 100*frac, h, ms, bytes, s.lastRaw)
	}
	res.ReachFraction = slices.Min(reach)
	res.BytesPerPeer = mean(bytesPer)
	res.BytesPerPeerRaw = mean(bytesRaw)
	if len(hopsP99) == o.Probes {
		res.ReachHopsP99 = int(slices.Max(hopsP99))
		res.ReachMSP99 = slices.Max(msP99)
	}
	res.Converged = s.converged()
	s.logf("converged to one root: %v", res.Converged)

	if o.Kill > 0 {
		s.heal(res)
	}
	return nil
}

// makeBase signs the records every peer starts with.
func (s *sim) makeBase() error {
	keys := make([]*record.SecretKey, 0, 64)
	for range min(64, max(1, s.opts.Records)) {
		k, err := record.GenerateKey()
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}
	now := time.Now()
	for i := range s.opts.Records {
		e, err := record.New(record.Draft{Text: fmt.Sprintf("base record %d", i), CreatedAt: now.Add(-time.Duration(i) * time.Second)},
			keys[i%len(keys)], s.roomID, record.DefaultLimits())
		if err != nil {
			return err
		}
		s.base[e.ID] = e
		s.baseList = append(s.baseList, e)
		s.verified.Store(e.ID, error(nil))
	}
	return nil
}

// peer is one simulated node.
type peer struct {
	s     *sim
	id    string
	room  *swarm.Room
	mgr   *session.Manager
	rep   *replica
	links sync.Map // transport id → link
	dead  atomic.Bool
}

func (s *sim) startPeer() (*peer, error) {
	// From the seed: the network's latencies, losses and unreachable peers
	// hash the ids, so a seed gives one run.
	id, err := wire.PeerIDFrom(s.ids)
	if err != nil {
		return nil, err
	}
	p := &peer{s: s, id: id, rep: newReplica(s)}
	scfg := session.Config{EphemeralKeys: true, RulesDigest: "swarmsim", MaxPeers: s.opts.MaxPeers}
	scfg.OnSessionAuthenticated = func(info session.SessionInfo) {
		if l, ok := p.links.Load(info.PeerID); ok {
			l.(link).p.Vouch()
		}
	}
	p.rep.owner = p
	mgr, err := session.NewManager(scfg, nil, s.roomID, p.rep)
	if err != nil {
		return nil, err
	}
	room, err := s.net.NewRoom(swarm.Config{
		AppID: appID, Room: roomName, PeerID: id, Trackers: s.trackers,
		MaxPeers: s.opts.MaxPeers, DormantNeedsVouch: true,
		MaxMessageBytes: scfg.MaxMessageBytes(session.ActionRecords) + 16<<10,
	})
	if err != nil {
		mgr.Close()
		return nil, err
	}
	p.room, p.mgr = room, mgr
	for _, action := range session.Actions {
		if err := room.Handle(action, func(sp *swarm.Peer, msg swarm.ActionMessage) {
			_ = mgr.Deliver(p.link(sp), msg.Type, msg.Payload)
		}); err != nil {
			return nil, err
		}
	}
	room.OnPeerJoin(func(sp *swarm.Peer) {
		if err := mgr.Attach(p.link(sp)); err != nil {
			sp.Close(err)
		}
	})
	room.OnPeerLeave(func(sp *swarm.Peer, reason error) {
		mgr.Detach(p.link(sp), reason)
		p.links.Delete(sp.ID())
	})
	room.OnViolation(func(sp *swarm.Peer, err error) { mgr.TransportViolation(p.link(sp), err) })
	if err := room.Start(context.Background()); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.peers = append(s.peers, p)
	s.mu.Unlock()
	return p, nil
}

func (p *peer) link(sp *swarm.Peer) link {
	l, _ := p.links.LoadOrStore(sp.ID(), link{p: sp, s: p.s})
	return l.(link)
}

// stop closes the peer: gracefully, or after cutting it off (kill).
func (p *peer) stop(kill bool) {
	if p.dead.Swap(true) {
		return
	}
	if kill {
		p.s.net.Kill(p.id)
	}
	_ = p.room.Close()
	p.mgr.Close()
}

// sessions counts the peer's authenticated sessions and lists their ids.
func (p *peer) sessions() []string {
	var ids []string
	for _, si := range p.mgr.Sessions() {
		if si.State.Authenticated() {
			ids = append(ids, si.PeerID)
		}
	}
	return ids
}

// link adapts a swarm peer to session.Link (as pkg/peerset does).
type link struct {
	p *swarm.Peer
	s *sim
}

func (l link) ID() string { return l.p.ID() }
func (l link) Send(ctx context.Context, action string, payload []byte) error {
	l.s.countAction(action, len(payload))
	return l.p.Send(ctx, swarm.BinaryMessage(action, payload))
}
func (l link) LocalFingerprint() string  { return l.p.LocalFingerprint() }
func (l link) RemoteFingerprint() string { return l.p.RemoteFingerprint() }
func (l link) Close(reason error)        { go l.p.Close(reason) }

func (s *sim) alive() []*peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*peer
	for _, p := range s.peers {
		if !p.dead.Load() {
			out = append(out, p)
		}
	}
	return out
}

// sleepSampling sleeps d, sampling the sessions per peer every 5 s.
func (s *sim) sleepSampling(d time.Duration, res *Result) {
	end := time.Now().Add(d)
	for {
		s.sampleLinks(res)
		left := time.Until(end)
		if left <= 0 {
			return
		}
		time.Sleep(min(left, 5*time.Second))
	}
}

func (s *sim) sampleLinks(res *Result) {
	var n []float64
	unreachable, between := 0, 0
	for _, p := range s.alive() {
		sessions := p.sessions()
		k := len(sessions)
		res.LinksMax = max(res.LinksMax, k)
		n = append(n, float64(k))
		if s.net.Unreachable(p.id) {
			unreachable++
			for _, id := range sessions {
				if s.net.Unreachable(id) {
					between++
				}
			}
		}
	}
	res.LinksMean = mean(n)
	res.UnreachablePeers = max(res.UnreachablePeers, unreachable)
	res.UnreachableLinksMax = max(res.UnreachableLinksMax, between/2)
}

func (s *sim) linkSummary() string {
	var n []int
	for _, p := range s.alive() {
		n = append(n, len(p.sessions()))
	}
	if len(n) == 0 {
		return "no peers"
	}
	sort.Ints(n)
	return fmt.Sprintf("%d peers, sessions per peer min %d / median %d / max %d", len(n), n[0], n[len(n)/2], n[len(n)-1])
}

func (s *sim) trackerMessages() map[string]uint64 {
	out := make(map[string]uint64)
	for _, p := range s.alive() {
		out[p.id] = s.net.Stats(p.id).TrackerMessages
	}
	return out
}

func (s *sim) dataBytes() uint64 {
	var n uint64
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.peers {
		n += s.net.Stats(p.id).DataBytes
	}
	return n
}

// churn replaces peers for d: every second, Churn × Peers / 60 of them
// leave (gracefully) and as many new ones join.
func (s *sim) churn(d time.Duration, res *Result) {
	perSecond := s.opts.Churn * float64(s.opts.Peers) / 60
	acc := 0.0
	replaced := 0
	for range int(d / time.Second) {
		acc += perSecond
		for ; acc >= 1; acc-- {
			alive := s.alive()
			victim := alive[s.rng.IntN(len(alive))]
			go victim.stop(false)
			if _, err := s.startPeer(); err != nil {
				s.logf("churn: %v", err)
			}
			replaced++
		}
		time.Sleep(time.Second)
		if replaced%10 == 0 {
			s.sampleLinks(res)
		}
	}
	s.logf("churn: %d peers replaced in %v", replaced, d)
}

// newRecord signs a fresh record by a fresh key.
func (s *sim) newRecord(text string) (*record.Event, error) {
	k, err := record.GenerateKey()
	if err != nil {
		return nil, err
	}
	return record.New(record.Draft{Text: text}, k, s.roomID, record.DefaultLimits())
}

// runProbe writes a new record at a random peer and follows it: the p99
// hops and time over the other peers (-1 when fewer than 99 % got it by the
// deadline), the fraction reached, and the bytes sent per peer meanwhile.
func (s *sim) runProbe(res *Result) (hops int, ms, frac, bytesPerPeer float64) {
	var raw float64
	defer func() { s.lastRaw = raw }()
	alive := s.alive()
	origin := alive[s.rng.IntN(len(alive))]
	e, err := s.newRecord(fmt.Sprintf("probe at %v", s.elapsed()))
	if err != nil {
		s.logf("probe: %v", err)
		return -1, -1, 0, 0
	}
	pr := &probe{id: e.ID, start: time.Now(), hops: map[string]int{origin.id: 0}, at: map[string]time.Duration{origin.id: 0}}
	s.mu.Lock()
	s.probe = pr
	s.mu.Unlock()
	b0 := s.dataBytes()
	a0 := s.actionSnapshot()
	s.verified.Store(e.ID, error(nil))
	origin.rep.addLocal(e)
	origin.mgr.Push(e)
	deadline := time.Now().Add(s.opts.Deadline)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		s.mu.Lock()
		n := len(pr.hops)
		s.mu.Unlock()
		if n >= len(alive) {
			break
		}
	}
	// What follows the spread (root announcements after the change,
	// reconciliations that find nothing) belongs to its cost too.
	time.Sleep(5 * time.Second)
	// Less the idle traffic of the same span (root announcements, pings),
	// measured before the probes: what spreading the record cost.
	span := time.Since(pr.start)
	raw = float64(s.dataBytes()-b0) / float64(len(alive))
	bytesPerPeer = raw - res.IdleBytesPerPeerMin*span.Minutes()
	res.RecordBytes = record.JSONSize(e)
	var parts []string
	for action, n := range s.actionSnapshot() {
		if d := n - a0[action]; d > 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f", action, float64(d)/float64(len(alive))))
		}
	}
	slices.Sort(parts)
	s.logf("probe payload bytes per peer by action: %v (a record is %d bytes of JSON)", parts, record.JSONSize(e))
	s.mu.Lock()
	s.probe = nil
	var hs []int
	var ts []time.Duration
	for id, h := range pr.hops {
		if id != origin.id {
			hs = append(hs, h)
			ts = append(ts, pr.at[id])
		}
	}
	s.mu.Unlock()
	others := len(alive) - 1
	frac = float64(len(hs)+1) / float64(len(alive))
	need := (99*others + 99) / 100 // ceil(0.99 × others)
	if len(hs) < need || need == 0 {
		return -1, -1, frac, bytesPerPeer
	}
	sort.Ints(hs)
	slices.Sort(ts)
	return hs[need-1], float64(ts[need-1]) / 1e6, frac, bytesPerPeer
}

// stored is called by a replica that stored an event from a peer.
func (s *sim) stored(p *peer, from string, id [32]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr := s.probe
	if pr == nil || pr.id != id {
		return
	}
	if _, ok := pr.hops[p.id]; ok {
		return
	}
	pr.hops[p.id] = pr.hops[from] + 1
	pr.at[p.id] = time.Since(pr.start)
}

func (s *sim) converged() bool {
	var root merkle.Fingerprint
	for i, p := range s.alive() {
		r := p.rep.root()
		if i == 0 {
			root = r
		} else if r != root {
			return false
		}
	}
	return true
}

// heal kills Kill × the peers and every tracker, waits, and checks that
// the rest form one connected room that a new record reaches entirely, and
// that they formed new links meanwhile (without trackers, only signalling
// through the mesh can: a room that merely stayed connected has not healed).
func (s *sim) heal(res *Result) {
	alive := s.alive()
	s.rng.Shuffle(len(alive), func(i, j int) { alive[i], alive[j] = alive[j], alive[i] })
	k := int(s.opts.Kill * float64(len(alive)))
	s.logf("killing %d of %d peers and all %d trackers", k, len(alive), len(s.trackers))
	for _, url := range s.trackers {
		s.net.KillTracker(url)
	}
	var wg sync.WaitGroup
	for _, p := range alive[:k] {
		wg.Go(func() { p.stop(true) })
	}
	wg.Wait()
	// The links the survivors held when the trackers died: a room that
	// heals forms new ones without trackers.
	before := make(map[[2]string]bool)
	for _, p := range alive[k:] {
		for _, id := range p.sessions() {
			before[[2]string{p.id, id}] = true
		}
	}
	s.sleepSampling(2*time.Minute, res)
	for _, p := range alive[k:] {
		for _, id := range p.sessions() {
			if !before[[2]string{p.id, id}] {
				res.HealNewLinks++
			}
		}
	}
	res.HealNewLinks /= 2 // each link counted at both ends
	comps := s.components()
	res.HealComponents = comps
	s.logf("after the kill: %s; %d connected component(s); %d new links without trackers", s.linkSummary(), comps, res.HealNewLinks)
	_, _, frac, _ := s.runProbe(res)
	res.HealReachFraction = frac
	res.Healed = comps == 1 && frac == 1 && res.HealNewLinks > 0
	s.logf("healed: %v (a new record reached %.1f%% of the survivors; %d new links)", res.Healed, 100*frac, res.HealNewLinks)
}

// components counts the connected components of the live peers' session graph.
func (s *sim) components() int {
	alive := s.alive()
	idx := make(map[string]int, len(alive))
	for i, p := range alive {
		idx[p.id] = i
	}
	parent := make([]int, len(alive))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for i, p := range alive {
		for _, id := range p.sessions() {
			if j, ok := idx[id]; ok {
				parent[find(i)] = find(j)
			}
		}
	}
	n := 0
	for i := range parent {
		if find(i) == i {
			n++
		}
	}
	return n
}

func (s *sim) shutdown() {
	var wg sync.WaitGroup
	for _, p := range s.alive() {
		wg.Go(func() { p.stop(false) })
	}
	wg.Wait()
	for _, srv := range s.servers {
		srv.Close()
	}
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var t float64
	for _, x := range xs {
		t += x
	}
	return t / float64(len(xs))
}

// memConn is a MemNet tracker socket as a tracker.Conn.
type memConn struct{ s *swarm.MemSocket }

func (c memConn) ReadMessage(ctx context.Context, limit int64) ([]byte, error) {
	b, err := c.s.ReadMessage(ctx, limit)
	if errors.Is(err, swarm.ErrMemMessageTooLarge) {
		return nil, fmt.Errorf("%w", tracker.ErrMessageTooLarge)
	}
	return b, err
}
func (c memConn) WriteText(ctx context.Context, b []byte) error { return c.s.WriteText(ctx, b) }
func (c memConn) Ping(ctx context.Context) error                { return c.s.Ping(ctx) }
func (c memConn) Close(reason string) error                     { return c.s.Close(reason) }
func (c memConn) CloseNow() error                               { return c.s.CloseNow() }

// replica is a peer's record set: the shared base records plus what it
// stored since, in a merkle tree of its own. It verifies what peers send
// (each distinct event's signature once for the whole simulation: the
// outcome is the same at every peer) and applies no moderation policy.
type replica struct {
	s     *sim
	owner *peer

	mu   sync.RWMutex
	tree *merkle.Tree
	own  map[[32]byte]*record.Event
}

func newReplica(s *sim) *replica {
	r := &replica{s: s, tree: merkle.NewTreeWithCapacity(len(s.baseList)), own: make(map[[32]byte]*record.Event)}
	for _, e := range s.baseList {
		_, _ = r.tree.Insert(merkle.Item{Timestamp: uint64(e.CreatedAt), ID: e.ID})
	}
	return r
}

func (r *replica) root() merkle.Fingerprint {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.tree.Root()
}

func (r *replica) addLocal(e *record.Event) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.own[e.ID]; ok {
		return false
	}
	if _, ok := r.s.base[e.ID]; ok {
		return false
	}
	if _, err := r.tree.Insert(merkle.Item{Timestamp: uint64(e.CreatedAt), ID: e.ID}); err != nil {
		return false
	}
	r.own[e.ID] = e
	return true
}

func (r *replica) ReadTree(fn func(t *merkle.Tree) error) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return fn(r.tree)
}

func (r *replica) Has(id [32]byte) bool {
	if _, ok := r.s.base[id]; ok {
		return true
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.own[id]
	return ok
}

func (r *replica) Events(_ context.Context, ids [][32]byte) ([]*record.Event, error) {
	var out []*record.Event
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, id := range ids {
		if e, ok := r.s.base[id]; ok {
			out = append(out, e)
		} else if e, ok := r.own[id]; ok {
			out = append(out, e)
		}
	}
	return out, nil
}

func (r *replica) Offer(_ context.Context, from session.PeerInfo, events []*record.Event) []session.Verdict {
	out := make([]session.Verdict, len(events))
	for i, e := range events {
		if e == nil {
			out[i] = session.Verdict{Err: session.ErrNilEvent}
			continue
		}
		var err error
		if v, ok := r.s.verified.Load(e.ID); ok {
			err, _ = v.(error)
		} else {
			err = record.CheckRecord(e, r.s.roomID, record.DefaultLimits())
			if err == nil {
				r.s.verified.Store(e.ID, error(nil))
			}
		}
		if err != nil {
			out[i] = session.Verdict{Err: err}
			continue
		}
		if !r.addLocal(e) {
			out[i] = session.Verdict{Err: &moderation.Rejection{Rule: moderation.RuleDuplicate, Reason: "already held", Harmless: true, Verified: true}}
			continue
		}
		out[i] = session.Verdict{Stored: true}
		r.s.stored(r.owner, from.ID, e.ID)
	}
	return out
}

func (r *replica) AuthorEpoch(record.PublicKey) uint64 { return 0 }

// idSeed is the ChaCha8 seed of a run's peer ids.
func idSeed(seed uint64) [32]byte {
	var b [32]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	copy(b[8:], "swarmsim peer ids")
	return b
}
