package session

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/peersetdb/peerset/internal/ratelimit"
	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
)

// errTreeReplaced: the replica passed another tree than the one a running
// reconciliation started on.
var errTreeReplaced = errors.New("replica tree replaced during a reconciliation")

// rootPair is our root and the peer's at the start of a reconciliation.
type rootPair struct{ ours, theirs merkle.Fingerprint }

// Bounds of one reconciliation we initiate.
const (
	// maxIdleRounds is how many round trips in a row may bring no id that the
	// reconciliation had not seen: an honest responder only narrows ranges
	// down (a few rounds) or lists new ids. Past it the peer is stalling the
	// reconciliation, which is abandoned with a strike, and the session ends.
	maxIdleRounds = 24
	// maxRoundIDs bounds the distinct ids one reconciliation collects; past it
	// the reconciliation ends and the next one finds the rest.
	maxRoundIDs = 2 * maxPendingIDs
	// maxDeferredWants bounds the wants of a peer waiting for upload budget;
	// an honest peer has at most its MaxInFlightWants outstanding.
	maxDeferredWants = 16
	// maxPushBytes bounds the records pushed after one reply of the peer, and
	// so what a push can pile up in the peer's inbox before it handles it:
	// at most 4 times the peer's records-message size (its Limits.Bytes),
	// and at most 2 MiB, well within the default inbox (8 MiB) and the browser
	// transport's queue (4 MiB). A peer receives a push at network speed
	// and may ingest it far more slowly (a browser); the ids past the bound
	// wait for the next reply or reconciliation, which the peer sends only
	// once it handled the push.
	maxPushBytes = 2 << 20
	// maxResends is how often one record is sent to one peer within
	// RefusalMemory: an honest peer asks again only when an answer is late
	// (WantRetries) or a refusal no longer holds.
	maxResends = 1 + DefaultWantRetries + 1
)

// round is a reconciliation we initiated.
type round struct {
	sid      uint32
	in       *merkle.Initiator
	tree     *merkle.Tree
	pair     rootPair
	deadline time.Time
	differs  bool                // some round found ids on one side only
	seen     map[uint64]struct{} // ids found so far (their first 8 bytes)
	idle     int                 // round trips in a row that found no new id
}

// fresh counts the ids not seen before in this reconciliation, and notes them.
func (r *round) fresh(ids [][32]byte) int {
	n := 0
	for _, id := range ids {
		k := binary.LittleEndian.Uint64(id[:8])
		if _, ok := r.seen[k]; !ok {
			r.seen[k] = struct{}{}
			n++
		}
	}
	return n
}

// want is a want message sent and not fully answered: id → attempts so far.
type want struct {
	ids      map[[32]byte]int
	deadline time.Time
	gossip   bool // an iwant: what it brings is announced onward
}

// syncState is the sync driver's part of a session, owned by its goroutine.
type syncState struct {
	rootDue        time.Time // debounced announcement after a local change
	nextRootAt     time.Time // idle re-announcement
	lastRootSentAt time.Time
	lastSentRoot   merkle.Fingerprint

	haveRemoteRoot bool
	remoteRoot     merkle.Fingerprint
	matched        bool      // the roots were equal once in this session
	remoteRootAt   time.Time // when the peer's root last came
	mismatchSince  time.Time // roots differ since
	lastPeerNegAt  time.Time // the peer last sent us a reconciliation message
	retryAt        time.Time // evaluate again then

	round    *round
	sid      uint32 // last reconciliation id used
	rerun    bool   // roots changed during the round: evaluate when it ends
	lastPair rootPair
	havePair bool
	pairEnd  time.Time

	fruitless int // reconciliations in a row that ended with the same roots still different

	pending   map[[32]byte]int // ids the peer has and we need, not asked yet: attempts so far
	wants     []*want
	sent      sentMemory // ids sent to this peer lately, and how often
	syncStart time.Time

	ingest      ratelimit.Bucket // events this session may still add to the replica
	ingestBytes ratelimit.Bucket // and their bytes
	upload      ratelimit.Bucket // bytes we may still send on the peer's request

	deferredWants [][]byte // want payloads waiting for upload budget
	deferredNeg   []byte   // the latest neg waiting for upload budget
}

func (st *syncState) init(cfg *Config) {
	st.pending = make(map[[32]byte]int)
	st.sent = newSentMemory(maxSentMemory)
	st.ingest = ratelimit.New(cfg.IngestRate, cfg.IngestBurst)
	st.ingestBytes = ratelimit.New(cfg.IngestRateBytes, cfg.IngestBurstBytes)
	st.upload = ratelimit.New(cfg.UploadRate, cfg.UploadBurst)
}

// ingestReady reports whether the peer's ingest budget has room left.
func (st *syncState) ingestReady(now time.Time) bool {
	return st.ingest.Ready(now) && st.ingestBytes.Ready(now)
}

func (st *syncState) ingestReadyAt(now time.Time) time.Time {
	a, b := st.ingest.ReadyAt(now), st.ingestBytes.ReadyAt(now)
	if a.After(b) {
		return a
	}
	return b
}

func (st *syncState) setRetry(t time.Time) {
	if st.retryAt.IsZero() || t.Before(st.retryAt) {
		st.retryAt = t
	}
}

func (st *syncState) inFlight() int {
	n := 0
	for _, w := range st.wants {
		n += len(w.ids)
	}
	return n
}

func (s *session) syncDeadlines(now time.Time, consider func(time.Time)) {
	st := &s.syncer
	consider(st.rootDue)
	consider(s.gossip.due)
	consider(st.nextRootAt)
	consider(st.retryAt)
	if st.round != nil {
		consider(st.round.deadline)
	}
	for _, w := range st.wants {
		consider(w.deadline)
	}
	if len(st.deferredWants) > 0 || st.deferredNeg != nil {
		consider(st.upload.ReadyAt(now))
	}
	if len(st.pending) > 0 && !st.ingestReady(now) {
		consider(st.ingestReadyAt(now)) // pump again once the ingest budget refills
	}
}

func (s *session) syncTick(now time.Time) {
	st := &s.syncer
	s.serveDeferred(now)
	if !s.gossip.due.IsZero() && !now.Before(s.gossip.due) {
		s.flushGossip(now)
	}
	if !st.rootDue.IsZero() && !now.Before(st.rootDue) {
		st.rootDue = time.Time{}
		s.flushPush(now)
		s.sendRoot(now)
	}
	if !st.nextRootAt.IsZero() && !now.Before(st.nextRootAt) {
		s.sendRoot(now)
	}
	if st.round != nil && !now.Before(st.round.deadline) {
		s.log.Debug("reconciliation timed out", "sid", st.round.sid)
		st.round = nil
		st.setRetry(now.Add(roundRetryDelay))
	}
	expired := false
	kept := st.wants[:0]
	for _, w := range st.wants {
		if now.Before(w.deadline) {
			kept = append(kept, w)
			continue
		}
		expired = true
		ids := make([][32]byte, 0, len(w.ids))
		for id, attempts := range w.ids {
			ids = append(ids, id)
			if attempts+1 <= s.cfg.WantRetries {
				st.pending[id] = attempts + 1
			}
		}
		s.m.release(s, ids...)
	}
	clear(st.wants[len(kept):])
	st.wants = kept
	if expired || len(st.pending) > 0 {
		s.pump(now)
	}
	if !st.retryAt.IsZero() && !now.Before(st.retryAt) {
		st.retryAt = time.Time{}
		s.evaluate(now)
	}
	s.afterProgress(now)
}

// localRoot reads our root and count.
func (s *session) localRoot() (merkle.Fingerprint, int, error) {
	var root merkle.Fingerprint
	var count int
	err := s.m.replica.ReadTree(func(t *merkle.Tree) error {
		root, count = t.Root(), t.Len()
		return nil
	})
	if err != nil {
		return root, 0, fmt.Errorf("failed to read the tree: %w", err)
	}
	return root, count, nil
}

// sendRoot announces our root now.
func (s *session) sendRoot(now time.Time) {
	st := &s.syncer
	root, count, err := s.localRoot()
	if err != nil {
		s.log.Warn("cannot announce root", "err", err)
		st.nextRootAt = now.Add(s.cfg.IdleRootInterval)
		return
	}
	st.rootDue = time.Time{}
	st.lastRootSentAt, st.lastSentRoot = now, root
	st.nextRootAt = now.Add(s.cfg.IdleRootInterval)
	s.update(func(info *SessionInfo) { info.LocalRoot, info.LocalCount = root, count })
	_ = s.send(ActionRoot, encodeRoot(rootMsg{Root: root, Count: count}))
}

func (s *session) onRoot(payload []byte, now time.Time) {
	r, err := decodeRoot(payload)
	if err != nil {
		s.violation(err)
		return
	}
	st := &s.syncer
	st.haveRemoteRoot, st.remoteRoot, st.remoteRootAt = true, r.Root, now
	s.update(func(info *SessionInfo) { info.RemoteRoot, info.RemoteCount = r.Root, r.Count })
	if !s.initiator && st.rootDue.IsZero() && now.Sub(st.lastRootSentAt) >= s.cfg.RootDebounce {
		// Make sure the initiator compares against our current root.
		if ours, _, err := s.localRoot(); err == nil && ours != r.Root {
			s.sendRoot(now)
		}
	}
	s.evaluate(now)
	s.afterProgress(now)
}

// evaluate compares roots and starts a reconciliation when it is our turn.
func (s *session) evaluate(now time.Time) {
	st := &s.syncer
	if !s.state.Authenticated() || !st.haveRemoteRoot {
		return
	}
	ours, _, err := s.localRoot()
	if err != nil {
		s.log.Warn("cannot compare roots", "err", err)
		st.setRetry(now.Add(roundRetryDelay))
		return
	}
	if ours == st.remoteRoot {
		st.matched = true
		st.mismatchSince = time.Time{}
		st.fruitless = 0
		s.update(func(info *SessionInfo) { info.MissingRanges, info.SyncBackoff = nil, 0 })
		s.reportRules()
		if observer, ok := s.m.replica.(HoldingsObserver); ok {
			observer.PeerInSync(s.theirKey, ours)
		}
		return
	}
	if st.mismatchSince.IsZero() {
		st.mismatchSince = now
	}
	if st.round != nil {
		st.rerun = true
		return
	}
	s.mu.Lock()
	gossips := s.peerGossips
	s.mu.Unlock()
	if st.matched && gossips && st.remoteRootAt.Before(st.mismatchSince.Add(gossipGrace)) {
		// The roots matched and a change made them differ: gossip carries new
		// records faster and cheaper than a reconciliation, and a peer that
		// stores what gossip brought announces no root (its idle one comes
		// within IdleRootInterval). Repair only a difference that a root
		// sent gossipGrace after it began still shows.
		return
	}
	if settle := st.pairEnd.Add(2 * s.cfg.RootDebounce); st.havePair && now.Before(settle) {
		// A reconciliation just ended: give the peer's new root time to arrive.
		st.setRetry(settle)
		return
	}
	if len(st.wants) > 0 || len(st.pending) > 0 {
		return // evaluated again once they drain
	}
	if !s.initiator {
		// The peer initiates; take over only if it stays silent.
		stallAt := st.mismatchSince
		if st.lastPeerNegAt.After(stallAt) {
			stallAt = st.lastPeerNegAt
		}
		stallAt = stallAt.Add(s.cfg.SyncStallTimeout)
		if now.Before(stallAt) {
			st.setRetry(stallAt)
			return
		}
	}
	pair := rootPair{ours: ours, theirs: st.remoteRoot}
	if st.havePair && pair == st.lastPair {
		// These very roots were reconciled already and stay different: the
		// difference is policy (records one side refuses, the rules differ).
		// Try again later, backing off, rather than forever.
		wait := s.syncBackoff()
		if now.Before(st.pairEnd.Add(wait)) {
			st.setRetry(st.pairEnd.Add(wait))
			return
		}
		st.fruitless++
		s.update(func(info *SessionInfo) { info.SyncBackoff = s.syncBackoff() })
		s.reportRules()
	} else if st.havePair {
		st.fruitless = 0
		s.update(func(info *SessionInfo) { info.SyncBackoff = 0 })
	}
	s.startRound(now, pair)
}

// syncBackoff is the pause before reconciling a pair of roots again that a
// reconciliation left different: IdleRootInterval, doubling with every such
// reconciliation in a row, at most MaxSyncBackoff.
func (s *session) syncBackoff() time.Duration {
	wait := s.cfg.IdleRootInterval
	for range s.syncer.fruitless {
		if wait >= s.cfg.MaxSyncBackoff {
			break
		}
		wait *= 2
	}
	return min(wait, s.cfg.MaxSyncBackoff)
}

// reportRules updates SessionInfo.RulesDiffer: the peer's rules digest differs
// from ours, or (when either side sent none) reconciliation keeps leaving the
// roots different.
func (s *session) reportRules() {
	differ := s.rulesDiffer
	if s.theirRules == "" || s.cfg.RulesDigest == "" {
		differ = s.syncer.fruitless >= 2
	}
	s.update(func(info *SessionInfo) { info.RulesDiffer = differ })
}

func (s *session) startRound(now time.Time, pair rootPair) {
	st := &s.syncer
	var in *merkle.Initiator
	var tree *merkle.Tree
	var msg []byte
	err := s.m.replica.ReadTree(func(t *merkle.Tree) error {
		var err error
		tree = t
		if in, err = merkle.NewInitiator(t, s.negOpts); err != nil {
			return err
		}
		msg, err = in.Initiate()
		return err
	})
	if err != nil {
		s.log.Warn("cannot start reconciliation", "err", err)
		st.setRetry(now.Add(roundRetryDelay))
		return
	}
	st.sid++
	st.round = &round{sid: st.sid, in: in, tree: tree, pair: pair, deadline: now.Add(s.cfg.RoundTimeout), seen: make(map[uint64]struct{})}
	s.update(func(info *SessionInfo) { info.Reconciliations++ })
	s.log.Debug("reconciliation started", "sid", st.sid)
	_ = s.send(ActionNeg, encodeNeg(negMsg{SID: st.sid, Msg: msg}))
}

// onNeg answers a reconciliation message as the responder, within the upload
// budget: past it the latest message waits (an initiator has one outstanding).
func (s *session) onNeg(payload []byte, now time.Time) {
	n, err := decodeNeg(payload, s.ourLimits.Frame)
	if err != nil {
		s.violation(err)
		return
	}
	st := &s.syncer
	st.lastPeerNegAt = now
	if !st.upload.Ready(now) {
		if st.deferredNeg != nil {
			// An initiator waits for each reply; a peer that keeps sending
			// reconciliation messages while we wait for its upload budget is
			// draining us.
			s.floodStrike(now, "reconciliation messages beyond the upload budget")
		}
		st.deferredNeg = payload
		s.update(func(info *SessionInfo) { info.UploadDeferred++ })
		return
	}
	s.answerNeg(n, now)
}

func (s *session) answerNeg(n negMsg, now time.Time) {
	var out []byte
	err := s.m.replica.ReadTree(func(t *merkle.Tree) error {
		re, err := merkle.NewResponder(t, s.negOpts)
		if err != nil {
			return err
		}
		out, err = re.Respond(n.Msg)
		return err
	})
	if err != nil {
		if errors.Is(err, merkle.ErrMalformedMessage) {
			s.violation(err)
		} else {
			s.log.Warn("cannot answer reconciliation", "err", err)
		}
		return
	}
	reply := encodeNeg(negMsg{SID: n.SID, Msg: out})
	s.syncer.upload.Charge(now, float64(len(reply)))
	_ = s.send(ActionNegReply, reply)
}

// serveDeferred answers the wants and the neg that waited for upload budget,
// as far as the budget goes.
func (s *session) serveDeferred(now time.Time) {
	st := &s.syncer
	for len(st.deferredWants) > 0 && st.upload.Ready(now) {
		w := st.deferredWants[0]
		st.deferredWants[0] = nil
		st.deferredWants = st.deferredWants[1:]
		s.onWant(w, now)
	}
	if st.deferredNeg != nil && st.upload.Ready(now) {
		payload := st.deferredNeg
		st.deferredNeg = nil
		if n, err := decodeNeg(payload, s.ourLimits.Frame); err == nil {
			s.answerNeg(n, now)
		}
	}
}

// onNegReply continues our reconciliation.
func (s *session) onNegReply(payload []byte, now time.Time) {
	st := &s.syncer
	n, err := decodeNeg(payload, s.ourLimits.Frame)
	if err != nil {
		s.violation(err)
		return
	}
	r := st.round
	if r == nil || n.SID != r.sid {
		if n.SID <= st.sid {
			return // a late answer to a reconciliation we abandoned
		}
		s.violation(fmt.Errorf("%w: neg-reply for reconciliation %d that we never started", ErrProtocolViolation, n.SID))
		return
	}
	var reply []byte
	var have, need [][32]byte
	var done bool
	err = s.m.replica.ReadTree(func(t *merkle.Tree) error {
		if t != r.tree {
			return errTreeReplaced
		}
		var err error
		reply, have, need, done, err = r.in.Reconcile(n.Msg)
		return err
	})
	if err != nil {
		st.round = nil
		st.setRetry(now.Add(roundRetryDelay))
		if errors.Is(err, merkle.ErrMalformedMessage) {
			s.violation(err)
		} else {
			s.log.Warn("reconciliation failed", "err", err)
		}
		return
	}
	r.differs = r.differs || len(have) > 0 || len(need) > 0
	if r.fresh(have)+r.fresh(need) > 0 || done {
		r.idle = 0
	} else if r.idle++; r.idle >= maxIdleRounds {
		// The responder keeps the reconciliation going without ever narrowing
		// it down: a stall, whatever its ranges claim. No honest peer does
		// that, so the session ends too.
		st.round = nil
		st.lastPair, st.havePair, st.pairEnd = r.pair, true, now
		err := fmt.Errorf("%w: reconciliation %d found nothing new in %d rounds in a row", ErrProtocolViolation, r.sid, r.idle)
		if !s.strike(err.Error()) {
			s.requestClose(closeRequest{err: err, code: ByeViolation, closeLink: true})
		}
		return
	}
	if len(r.seen) > maxRoundIDs {
		done = true // the next reconciliation finds the rest, once these are fetched
	}
	var missing []merkle.TimeRange
	if r.differs {
		missing = r.in.MissingRanges()
	}
	s.update(func(info *SessionInfo) {
		info.Rounds++
		if r.differs {
			info.MissingRanges = missing
		}
	})
	// Push what only we have before the next message: the peer handles its
	// messages in order, so its next answer comes after it took these records,
	// which paces the pushes.
	s.pushIDs(now, have)
	s.addNeeds(now, need)
	if done {
		st.round = nil
		st.lastPair, st.havePair, st.pairEnd = r.pair, true, now
		s.log.Debug("reconciliation done", "sid", r.sid)
		if st.rerun {
			st.rerun = false
			st.setRetry(now)
		}
	} else {
		r.deadline = now.Add(s.cfg.RoundTimeout)
		_ = s.send(ActionNeg, encodeNeg(negMsg{SID: r.sid, Msg: reply}))
	}
	s.pump(now)
	s.afterProgress(now)
}

// pushIDs sends the peer our records with these ids (unless pushed recently).
func (s *session) pushIDs(now time.Time, ids [][32]byte) {
	if len(ids) == 0 {
		return
	}
	st := &s.syncer
	if !st.upload.Ready(now) {
		return // the next reconciliation finds them again
	}
	fresh := ids[:0:0]
	for _, id := range ids {
		if st.sent.count(id, now) > 0 {
			continue
		}
		fresh = append(fresh, id)
	}
	if len(fresh) == 0 {
		return
	}
	limit := min(maxPushBytes, 4*s.sendLimits.Bytes)
	var events []*record.Event
	size := 0
	for len(fresh) > 0 && size < limit {
		chunk := fresh[:min(len(fresh), 64)]
		fresh = fresh[len(chunk):]
		read, err := s.m.replica.Events(s.ctx, chunk)
		if err != nil {
			s.log.Warn("cannot read records to push", "err", err)
			return
		}
		for _, e := range read {
			if size >= limit {
				break
			}
			size += record.JSONSize(e)
			events = append(events, e)
		}
	}
	s.sendEvents(now, events, nil)
}

// flushPush sends the fast-path queue.
func (s *session) flushPush(now time.Time) {
	s.mu.Lock()
	queue := s.pushQueue
	s.pushQueue = nil
	s.mu.Unlock()
	if len(queue) == 0 {
		return
	}
	st := &s.syncer
	if !st.upload.Ready(now) {
		return // reconciliation brings them to the peer
	}
	fresh := queue[:0]
	for _, e := range queue {
		if st.sent.count(e.ID, now) > 0 {
			continue
		}
		fresh = append(fresh, e)
	}
	s.sendEvents(now, fresh, nil)
}

// sendEvents sends events (and missing ids) in records messages within the
// peer's limits, charges them to the upload budget and notes them as sent.
// Events too large for any message are reported missing.
func (s *session) sendEvents(now time.Time, events []*record.Event, missing [][32]byte) {
	st := &s.syncer
	lim := s.sendLimits
	var batch [][]byte
	var batchIDs [][32]byte // the ids of batch, for a HoldingsObserver
	observer, _ := s.m.replica.(HoldingsObserver)
	size := recordsOverhead
	flush := func(withMissing bool) bool {
		take := 0
		if withMissing && len(missing) > 0 {
			room := lim.Bytes - size - missingOverhead
			take = min(len(missing), room/4*3/idSize)
		}
		if len(batch) == 0 && take == 0 {
			return false
		}
		payload := appendRecords(make([]byte, 0, size+missingOverhead+base64.StdEncoding.EncodedLen(take*idSize)), batch, missing[:take])
		missing = missing[take:]
		n := len(batch)
		batch, size = batch[:0], recordsOverhead
		st.upload.Charge(now, float64(len(payload)))
		if s.send(ActionRecords, payload) == nil {
			s.update(func(info *SessionInfo) { info.RecordsOut += n })
			if observer != nil && n > 0 {
				observer.PeerReceived(s.theirKey, batchIDs)
			}
		}
		batchIDs = batchIDs[:0]
		return true
	}
	for _, e := range events {
		js := e.AppendJSON(nil)
		if recordsOverhead+len(js) > lim.Bytes {
			missing = append(missing, e.ID)
			continue
		}
		extra := len(js)
		if len(batch) > 0 {
			extra++ // comma
		}
		if len(batch) == lim.Records || size+extra > lim.Bytes {
			flush(false)
			extra = len(js)
		}
		batch = append(batch, js)
		batchIDs = append(batchIDs, e.ID)
		size += extra
		st.sent.note(e.ID, now.Add(s.cfg.RefusalMemory))
	}
	for flush(true) {
	}
}

// onWant answers a want with the records we hold and the ids we do not, within
// the upload budget: past it the want waits (at most maxDeferredWants of them;
// more is a flood). A record already sent maxResends times lately gets no
// answer at all: the peer asks for what it got, which earns a strike.
func (s *session) onWant(payload []byte, now time.Time) {
	w, err := decodeWant(payload, s.ourLimits.Want)
	if err != nil {
		s.violation(err)
		return
	}
	st := &s.syncer
	if !st.upload.Ready(now) {
		if len(st.deferredWants) >= maxDeferredWants {
			s.floodStrike(now, "wants beyond the upload budget")
			return
		}
		st.deferredWants = append(st.deferredWants, payload)
		s.update(func(info *SessionInfo) { info.UploadDeferred++ })
		return
	}
	ask := make([][32]byte, 0, len(w.IDs))
	var missing [][32]byte
	repeated := 0
	for _, id := range w.IDs {
		if st.sent.count(id, now) >= maxResends {
			repeated++
			continue
		}
		ask = append(ask, id)
	}
	events, err := s.m.replica.Events(s.ctx, ask)
	if err != nil {
		s.log.Warn("cannot read wanted records", "err", err)
		events = nil
	}
	found := make(map[[32]byte]bool, len(events))
	for _, e := range events {
		found[e.ID] = true
	}
	for _, id := range ask {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	s.sendEvents(now, events, missing)
	if repeated > 0 {
		s.floodStrike(now, fmt.Sprintf("asked again for %d records already sent %d times", repeated, maxResends))
	}
}

// onRecords offers received records to the replica, within the session's
// ingest budget: past it, records are not offered and their ids go back to the
// pending list, to be asked for once the budget refills.
func (s *session) onRecords(payload []byte, now time.Time) {
	msg, err := decodeRecords(payload, s.ourLimits)
	if err != nil {
		s.violation(err)
		return
	}
	st := &s.syncer
	var invalid, refused int
	var firstInvalid error
	events := make([]*record.Event, 0, len(msg.Events))
	size := make([]int, 0, len(msg.Events))
	for _, raw := range msg.Events {
		e, err := record.ParseEvent(raw, s.ourLimits.Bytes)
		if err != nil {
			if IsIntegrityFailure(err) || !errors.Is(err, record.ErrRecordTooLarge) {
				invalid++
				if firstInvalid == nil {
					firstInvalid = err
				}
			} else {
				refused++
			}
			continue
		}
		events = append(events, e)
		size = append(size, len(raw))
	}
	var throttled []*record.Event
	if !st.ingestReady(now) {
		events, throttled = nil, events
	}
	verdicts := s.m.replica.Offer(s.ctx, PeerInfo{ID: s.id, PubKey: s.theirKey}, events)
	stored, storedBytes := 0, 0
	var gossiped [][32]byte // stored from an iwant: announced onward
	var gossipedEvents []*record.Event
	answered := make([][32]byte, 0, len(events)+len(msg.Missing))
	for i, e := range events {
		answered = append(answered, e.ID)
		var v Verdict
		if i < len(verdicts) {
			v = verdicts[i]
		}
		rej, isRejection := moderation.AsRejection(v.Err)
		switch {
		case v.Stored:
			stored++
			storedBytes += size[i]
			s.gossip.peerHas.note(e.ID, now.Add(gossipMemory))
			if s.inGossipWant(e.ID) {
				gossiped = append(gossiped, e.ID)
				gossipedEvents = append(gossipedEvents, e)
			}
			continue
		case IsIntegrityFailure(v.Err):
			invalid++
			if firstInvalid == nil {
				firstInvalid = v.Err
			}
			continue
		case isRejection && rej.Rule == moderation.RuleDuplicate:
			// Not new: already held, an older version, deleted, a duplicate.
		case v.Err != nil:
			refused++
		}
		if isRejection && rej.Verified && !s.m.replica.Has(e.ID) {
			s.m.rememberRefused(e, rej.DependsOnSet, now)
		}
	}
	st.ingest.Charge(now, float64(stored))
	st.ingestBytes.Charge(now, float64(storedBytes))
	s.update(func(info *SessionInfo) {
		info.RecordsIn += len(msg.Events)
		info.RecordsStored += stored
		info.RecordsRefused += refused + invalid
		info.RecordsThrottled += len(throttled)
	})
	answered = append(answered, msg.Missing...)
	for _, e := range throttled {
		answered = append(answered, e.ID)
	}
	for _, id := range answered {
		delete(st.pending, id)
		for _, w := range st.wants {
			delete(w.ids, id)
		}
	}
	for _, e := range throttled {
		if len(st.pending) < maxPendingIDs {
			st.pending[e.ID] = 0
		}
	}
	kept := st.wants[:0]
	for _, w := range st.wants {
		if len(w.ids) > 0 {
			kept = append(kept, w)
		}
	}
	clear(st.wants[len(kept):])
	st.wants = kept
	s.m.release(s, answered...)
	if invalid > 0 {
		s.strike(fmt.Sprintf("%d invalid records: %v", invalid, firstInvalid))
	}
	if len(gossiped) > 0 {
		s.m.gossipIDs(s, gossiped, gossipedEvents)
	}
	switch {
	case stored > 0 && stored == len(gossiped):
		s.m.changedByGossip()
	case stored > 0:
		s.m.LocalChanged()
	}
	s.pump(now)
	s.afterProgress(now)
}

// addNeeds queues ids the peer has and we lack.
func (s *session) addNeeds(now time.Time, ids [][32]byte) {
	st := &s.syncer
	for _, id := range ids {
		if len(st.pending) >= maxPendingIDs {
			return // the next reconciliation finds the rest
		}
		if _, ok := st.pending[id]; ok {
			continue
		}
		if s.asked(id) || s.m.replica.Has(id) || s.m.wasRefused(id, now) {
			continue
		}
		st.pending[id] = 0
	}
}

// inGossipWant reports whether id was asked for with an iwant.
func (s *session) inGossipWant(id [32]byte) bool {
	for _, w := range s.syncer.wants {
		if _, ok := w.ids[id]; ok {
			return w.gossip
		}
	}
	return false
}

func (s *session) asked(id [32]byte) bool {
	for _, w := range s.syncer.wants {
		if _, ok := w.ids[id]; ok {
			return true
		}
	}
	return false
}

// pump sends wants for pending ids, within MaxInFlightWants, skipping ids
// stored meanwhile, refused, or asked of another peer.
func (s *session) pump(now time.Time) {
	st := &s.syncer
	if !s.state.Authenticated() || !st.ingestReady(now) {
		return // syncDeadlines wakes us when the ingest budget refills
	}
	for len(st.wants) < s.cfg.MaxInFlightWants && len(st.pending) > 0 {
		w := &want{ids: make(map[[32]byte]int)}
		batch := make([][32]byte, 0, min(len(st.pending), s.sendLimits.Want))
		for id, attempts := range st.pending {
			if len(batch) == s.sendLimits.Want {
				break
			}
			if s.m.replica.Has(id) || s.m.wasRefused(id, now) {
				delete(st.pending, id)
				continue
			}
			if !s.m.claim(id, s) {
				continue // another session asked; it releases the id if that fails
			}
			delete(st.pending, id)
			w.ids[id] = attempts
			batch = append(batch, id)
		}
		if len(batch) == 0 {
			return
		}
		w.deadline = now.Add(s.cfg.WantTimeout)
		st.wants = append(st.wants, w)
		if s.send(ActionWant, encodeWant(wantMsg{IDs: batch})) != nil {
			return
		}
	}
}

// afterProgress re-evaluates once nothing is outstanding, and updates the state.
func (s *session) afterProgress(now time.Time) {
	if !s.state.Authenticated() {
		return
	}
	st := &s.syncer
	if st.round == nil && len(st.wants) == 0 && len(st.pending) == 0 && st.retryAt.IsZero() {
		if st.haveRemoteRoot {
			s.evaluate(now)
		}
	}
	busy := st.round != nil || len(st.wants) > 0 || len(st.pending) > 0
	switch {
	case busy:
		if st.syncStart.IsZero() {
			st.syncStart = now
		}
		s.setState(StateSyncing)
	case st.haveRemoteRoot:
		if !st.syncStart.IsZero() {
			d := now.Sub(st.syncStart)
			st.syncStart = time.Time{}
			s.update(func(info *SessionInfo) { info.LastSyncDuration, info.LastSyncAt = d, now })
		}
		s.setState(StateIdle)
	}
	inFlight, pending := st.inFlight(), len(st.pending)
	s.update(func(info *SessionInfo) { info.WantsInFlight, info.Pending = inFlight, pending })
}
