package session

import (
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/record"
)

// errTreeReplaced: the replica passed another tree than the one a running
// reconciliation started on.
var errTreeReplaced = errors.New("replica tree replaced during a reconciliation")

// rootPair is our root and the peer's at the start of a reconciliation.
type rootPair struct{ ours, theirs merkle.Fingerprint }

// round is a reconciliation we initiated.
type round struct {
	sid      uint32
	in       *merkle.Initiator
	tree     *merkle.Tree
	pair     rootPair
	deadline time.Time
	differs  bool // some round found ids on one side only
}

// want is a want message sent and not fully answered: id → attempts so far.
type want struct {
	ids      map[[32]byte]int
	deadline time.Time
}

// syncState is the sync driver's part of a session, owned by its goroutine.
type syncState struct {
	rootDue        time.Time // debounced announcement after a local change
	nextRootAt     time.Time // idle re-announcement
	lastRootSentAt time.Time
	lastSentRoot   merkle.Fingerprint

	haveRemoteRoot bool
	remoteRoot     merkle.Fingerprint
	mismatchSince  time.Time // roots differ since
	lastPeerNegAt  time.Time // the peer last sent us a reconciliation message
	retryAt        time.Time // evaluate again then

	round    *round
	sid      uint32 // last reconciliation id used
	rerun    bool   // roots changed during the round: evaluate when it ends
	lastPair rootPair
	havePair bool
	pairEnd  time.Time

	pending   map[[32]byte]int // ids the peer has and we need, not asked yet: attempts so far
	wants     []*want
	pushed    map[[32]byte]time.Time // ids pushed to this peer, until when not to push again
	syncStart time.Time
}

func (st *syncState) init() {
	st.pending = make(map[[32]byte]int)
	st.pushed = make(map[[32]byte]time.Time)
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

func (s *session) syncDeadlines(consider func(time.Time)) {
	st := &s.syncer
	consider(st.rootDue)
	consider(st.nextRootAt)
	consider(st.retryAt)
	if st.round != nil {
		consider(st.round.deadline)
	}
	for _, w := range st.wants {
		consider(w.deadline)
	}
}

func (s *session) syncTick(now time.Time) {
	st := &s.syncer
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
	if expired {
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
	st.haveRemoteRoot, st.remoteRoot = true, r.Root
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
		st.mismatchSince = time.Time{}
		s.update(func(info *SessionInfo) { info.MissingRanges = nil })
		return
	}
	if st.mismatchSince.IsZero() {
		st.mismatchSince = now
	}
	if st.round != nil {
		st.rerun = true
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
	if st.havePair && pair == st.lastPair && now.Before(st.pairEnd.Add(s.cfg.IdleRootInterval)) {
		// These very roots were just reconciled (the difference is policy: records
		// one side refuses); try again later.
		st.setRetry(st.pairEnd.Add(s.cfg.IdleRootInterval))
		return
	}
	s.startRound(now, pair)
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
	st.round = &round{sid: st.sid, in: in, tree: tree, pair: pair, deadline: now.Add(s.cfg.RoundTimeout)}
	s.update(func(info *SessionInfo) { info.Reconciliations++ })
	s.log.Debug("reconciliation started", "sid", st.sid)
	_ = s.send(ActionNeg, encodeNeg(negMsg{SID: st.sid, Msg: msg}))
}

// onNeg answers a reconciliation message as the responder.
func (s *session) onNeg(payload []byte, now time.Time) {
	n, err := decodeNeg(payload, s.ourLimits.Frame)
	if err != nil {
		s.violation(err)
		return
	}
	s.syncer.lastPeerNegAt = now
	var out []byte
	err = s.m.replica.ReadTree(func(t *merkle.Tree) error {
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
	_ = s.send(ActionNegReply, encodeNeg(negMsg{SID: n.SID, Msg: out}))
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
	fresh := ids[:0:0]
	for _, id := range ids {
		if until, ok := st.pushed[id]; ok && now.Before(until) {
			continue
		}
		fresh = append(fresh, id)
	}
	if len(fresh) == 0 {
		return
	}
	events, err := s.m.replica.Events(s.ctx, fresh)
	if err != nil {
		s.log.Warn("cannot read records to push", "err", err)
		return
	}
	s.sendEvents(now, events, nil, true)
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
	fresh := queue[:0]
	for _, e := range queue {
		if until, ok := st.pushed[e.ID]; ok && now.Before(until) {
			continue
		}
		fresh = append(fresh, e)
	}
	s.sendEvents(now, fresh, nil, true)
}

// sendEvents sends events (and missing ids) in records messages within the
// peer's limits. Events too large for any message are reported missing.
func (s *session) sendEvents(now time.Time, events []*record.Event, missing [][32]byte, remember bool) {
	st := &s.syncer
	lim := s.sendLimits
	var batch [][]byte
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
		if s.send(ActionRecords, payload) == nil {
			s.update(func(info *SessionInfo) { info.RecordsOut += n })
		}
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
		size += extra
		if remember {
			st.pushed[e.ID] = now.Add(s.cfg.RefusalMemory)
		}
	}
	for flush(true) {
	}
	if len(st.pushed) > maxPushedMemory {
		for id, until := range st.pushed {
			if !now.Before(until) {
				delete(st.pushed, id)
			}
		}
		if len(st.pushed) > maxPushedMemory {
			clear(st.pushed) // forgetting only costs a repeated push
		}
	}
}

// onWant answers a want with the records we hold and the ids we do not.
func (s *session) onWant(payload []byte) {
	w, err := decodeWant(payload, s.ourLimits.Want)
	if err != nil {
		s.violation(err)
		return
	}
	events, err := s.m.replica.Events(s.ctx, w.IDs)
	if err != nil {
		s.log.Warn("cannot read wanted records", "err", err)
		events = nil
	}
	found := make(map[[32]byte]bool, len(events))
	for _, e := range events {
		found[e.ID] = true
	}
	var missing [][32]byte
	for _, id := range w.IDs {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	s.sendEvents(time.Time{}, events, missing, false)
}

// onRecords offers received records to the replica.
func (s *session) onRecords(payload []byte, now time.Time) {
	msg, err := decodeRecords(payload, s.ourLimits)
	if err != nil {
		s.violation(err)
		return
	}
	var invalid, refused int
	var firstInvalid error
	events := make([]*record.Event, 0, len(msg.Events))
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
	}
	verdicts := s.m.replica.Offer(s.ctx, PeerInfo{ID: s.id, PubKey: s.theirKey}, events)
	stored := 0
	answered := make([][32]byte, 0, len(events)+len(msg.Missing))
	for i, e := range events {
		answered = append(answered, e.ID)
		var v Verdict
		if i < len(verdicts) {
			v = verdicts[i]
		}
		switch {
		case v.Stored:
			stored++
		case IsIntegrityFailure(v.Err):
			invalid++
			if firstInvalid == nil {
				firstInvalid = v.Err
			}
		default:
			if v.Err != nil {
				refused++
			}
			if !s.m.replica.Has(e.ID) {
				s.m.rememberRefused(e.ID, now)
			}
		}
	}
	s.update(func(info *SessionInfo) {
		info.RecordsIn += len(msg.Events)
		info.RecordsStored += stored
		info.RecordsRefused += refused + invalid
	})
	st := &s.syncer
	answered = append(answered, msg.Missing...)
	for _, id := range answered {
		delete(st.pending, id)
		for _, w := range st.wants {
			delete(w.ids, id)
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
	if stored > 0 {
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
	if !s.state.Authenticated() {
		return
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
