package session

import (
	"fmt"
	"time"

	"github.com/peersetdb/peerset/internal/ratelimit"
	"github.com/peersetdb/peerset/pkg/record"
)

// Gossip (issue 11): a new record reaches the room by announcement. The peer
// that writes it, and every peer that stores it from an iwant, sends its id
// in an ihave to its other authenticated peers that speak gossip (their
// hello says so); a peer that lacks it asks one announcer with an iwant and
// gets it in a records message. A record crosses each link at most once
// (ids the peer announced to us, or was sent, are not announced to it), and
// negentropy stays the repair path. A peer that stores a record from gossip
// announces no root for it to peers that speak gossip; their periodic root
// (IdleRootInterval) shows what gossip missed: once the roots of a session
// matched, a difference is reconciled when a root the peer sent at least
// gossipGrace after the difference began still shows it (a root sent
// while the record was still spreading does not count).
//
// What a peer can make us do with gossip is bounded like the rest (docs/
// protocol.md 5): an ihave holds at most MaxIHaveIDs ids and the ids of all
// ihaves of one peer pass a budget of ihaveRate per second (bursts of
// ihaveBurst); past it they are dropped with a flood strike. Ids announced to
// us are asked for at most MaxInFlightWants iwants at a time; the rest wait
// in the pending list (bounded) for a want. An iwant may only name ids we
// announced to that peer within gossipMemory, each answered once: an id we
// never announced is a protocol violation (a strike); an id sent already
// over the link gets no answer (an honest peer may ask while the record
// reaches it by a reconciliation's want: no strike).
const (
	gossipMemory    = 2 * time.Minute // how long an announcement may be answered
	gossipMemoryIDs = 4096            // ids remembered per session, both ways
	ihaveRate       = 512             // announced ids per second a peer may send
	ihaveBurst      = 4096
	// gossipDelay: ids a peer stored from an iwant are announced onward this
	// long after they arrive, so that the peers that announced them to us
	// meanwhile are not announced them back (local writes go at once).
	gossipDelay = 100 * time.Millisecond
	// gossipGrace: a peer's root must be this much younger than a difference
	// to start a reconciliation over it (see above).
	gossipGrace = 3 * time.Second
)

// gossipState is a session's part of gossip, owned by its goroutine.
type gossipState struct {
	due       time.Time        // when the queued ids are announced (zero: none queued)
	announced sentMemory       // ids we announced to the peer: it may ask for them
	peerHas   sentMemory       // ids the peer announced or sent: not announced to it
	ihaveIDs  ratelimit.Bucket // ids the peer may still announce
	// ids we may still announce: a little under what the peer accepts
	// (ihaveIDs), so that an honest burst (an import) is never struck; ids
	// past it are left to the repair path (a root announcement).
	announceIDs ratelimit.Bucket
}

func (g *gossipState) init() {
	g.announced = newSentMemory(gossipMemoryIDs)
	g.peerHas = newSentMemory(gossipMemoryIDs)
	g.ihaveIDs = ratelimit.New(ihaveRate, ihaveBurst)
	g.announceIDs = ratelimit.New(ihaveRate*7/8, ihaveBurst*7/8)
}

// gossipIDs queues ids to announce to every authenticated session that
// speaks gossip except from (nil: a local write). Sessions whose peer does not
// speak gossip get the events pushed (the fast path of protocol version 1)
// when events is given.
func (m *Manager) gossipIDs(from *session, ids [][32]byte, events []*record.Event) {
	for _, s := range m.snapshot() {
		if s == from {
			continue
		}
		s.signal(func(s *session) {
			if !s.authenticated {
				return
			}
			if s.peerGossips {
				room := max(0, s.cfg.MaxPushQueue-len(s.gossipQueue))
				s.gossipQueue = append(s.gossipQueue, ids[:min(room, len(ids))]...)
				s.gossipNow = s.gossipNow || from == nil
				return
			}
			s.localChanged = true
			room := max(0, s.cfg.MaxPushQueue-len(s.pushQueue))
			s.pushQueue = append(s.pushQueue, events[:min(room, len(events))]...)
		})
	}
}

// changedByGossip is LocalChanged for a change gossip spreads: the sessions
// whose peer speaks gossip got or get an ihave instead of a root
// announcement (their idle root announcement, IdleRootInterval, is the
// repair path's trigger if gossip missed something).
func (m *Manager) changedByGossip() {
	for _, s := range m.snapshot() {
		s.signal(func(s *session) {
			if !s.peerGossips {
				s.localChanged = true
			}
		})
	}
}

// flushGossip announces the queued ids the peer is not known to hold.
func (s *session) flushGossip(now time.Time) {
	s.gossip.due = time.Time{}
	s.mu.Lock()
	queue := s.gossipQueue
	s.gossipQueue = nil
	s.mu.Unlock()
	g := &s.gossip
	fresh := make([][32]byte, 0, len(queue))
	for _, id := range queue {
		if g.peerHas.count(id, now) > 0 || s.syncer.sent.count(id, now) > 0 || g.announced.count(id, now) > 0 {
			continue
		}
		fresh = append(fresh, id)
	}
	if budget := int(max(0, g.announceIDs.Tokens(now))); len(fresh) > budget {
		// Past what the peer accepts: its root shows the rest, and the
		// reconciliation that follows brings them.
		fresh = fresh[:budget]
		if s.syncer.rootDue.IsZero() {
			s.syncer.rootDue = now.Add(s.cfg.RootDebounce)
		}
	}
	g.announceIDs.Charge(now, float64(len(fresh)))
	for len(fresh) > 0 {
		chunk := fresh[:min(len(fresh), MaxIHaveIDs)]
		fresh = fresh[len(chunk):]
		for _, id := range chunk {
			g.announced.note(id, now.Add(gossipMemory))
		}
		s.update(func(info *SessionInfo) { info.IHavesOut++ })
		if s.send(ActionIHave, encodeIDsMsg(idsMsg{IDs: chunk})) != nil {
			return
		}
	}
}

// onIHave asks for the announced records we lack.
func (s *session) onIHave(payload []byte, now time.Time) {
	msg, err := decodeIDsMsg(ActionIHave, payload, MaxIHaveIDs)
	if err != nil {
		s.violation(err)
		return
	}
	g, st := &s.gossip, &s.syncer
	g.ihaveIDs.Charge(now, float64(len(msg.IDs)))
	if !g.ihaveIDs.Ready(now) {
		s.floodStrike(now, fmt.Sprintf("announced ids beyond %d per second", ihaveRate))
		return
	}
	s.update(func(info *SessionInfo) { info.IHavesIn++ })
	lack := make([][32]byte, 0, len(msg.IDs))
	for _, id := range msg.IDs {
		g.peerHas.note(id, now.Add(gossipMemory))
		if _, ok := st.pending[id]; ok || s.asked(id) || s.m.replica.Has(id) || s.m.wasRefused(id, now) {
			continue
		}
		lack = append(lack, id)
	}
	if len(lack) == 0 {
		return
	}
	// Ask now what no other session asked for, within the in-flight wants;
	// the rest waits in the pending list for a want (another session that
	// asked releases the id if its answer fails).
	var ask [][32]byte
	w := &want{ids: make(map[[32]byte]int), gossip: true}
	canAsk := len(st.wants) < s.cfg.MaxInFlightWants && st.ingestReady(now)
	for _, id := range lack {
		if canAsk && len(ask) < s.sendLimits.Want && s.m.claim(id, s) {
			w.ids[id] = 0
			ask = append(ask, id)
			continue
		}
		if len(st.pending) < maxPendingIDs {
			st.pending[id] = 0
		}
	}
	if len(ask) > 0 {
		w.deadline = now.Add(s.cfg.WantTimeout)
		st.wants = append(st.wants, w)
		s.update(func(info *SessionInfo) { info.IWantsOut++ })
		_ = s.send(ActionIWant, encodeIDsMsg(idsMsg{IDs: ask}))
	}
	s.afterProgress(now)
}

// onIWant sends the peer records we announced to it, once each.
func (s *session) onIWant(payload []byte, now time.Time) {
	msg, err := decodeIDsMsg(ActionIWant, payload, s.ourLimits.Want)
	if err != nil {
		s.violation(err)
		return
	}
	g, st := &s.gossip, &s.syncer
	ask := make([][32]byte, 0, len(msg.IDs))
	unannounced, repeated := 0, 0
	for _, id := range msg.IDs {
		switch {
		case g.announced.count(id, now) == 0:
			unannounced++
		case st.sent.count(id, now) > 0:
			repeated++
		default:
			ask = append(ask, id)
		}
	}
	if unannounced > 0 {
		s.violation(fmt.Errorf("%w: iwant for %d ids we never announced to this peer", ErrProtocolViolation, unannounced))
		return
	}
	// Ids already sent over this link get no answer and no strike: an honest
	// peer asks for an id it was announced while the record reaches it by
	// another path over the same link (a reconciliation's want), and the
	// repeat costs us nothing but the lookup (the session's message rate
	// bounds those).
	if repeated > 0 {
		s.update(func(info *SessionInfo) { info.IWantsRepeated += repeated })
	}
	if len(ask) == 0 {
		return
	}
	if !st.upload.Ready(now) {
		// The peer's iwant times out and the ids go to its wants, which
		// wait for upload budget like any other.
		s.update(func(info *SessionInfo) { info.UploadDeferred++ })
		return
	}
	events, err := s.m.replica.Events(s.ctx, ask)
	if err != nil {
		s.log.Warn("cannot read records asked for", "err", err)
		events = nil
	}
	found := make(map[[32]byte]bool, len(events))
	for _, e := range events {
		found[e.ID] = true
	}
	var missing [][32]byte
	for _, id := range ask {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	s.sendEvents(now, events, missing)
}
