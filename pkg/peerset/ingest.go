package peerset

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
)

// Origin says where an event came from: this node ("" peer) or a peer.
type Origin struct {
	PeerID string           // transport peer id; empty for local writes
	PubKey record.PublicKey // the peer's authenticated key, if known
}

// Local reports whether the event was written on this node.
func (o Origin) Local() bool { return o.PeerID == "" }

// Outcome is what happened to one offered event.
type Outcome struct {
	Stored bool // the event is now part of the set
	// Err is nil when stored; otherwise a *moderation.Rejection (use
	// moderation.AsRejection for the rule's name) or a storage error.
	Err error
}

// Harmless reports whether a refusal is one honest peers cause in normal
// operation (a duplicate, a stale version, a quota): no reason to strike.
func (o Outcome) Harmless() bool {
	if o.Err == nil {
		return true
	}
	if r, ok := moderation.AsRejection(o.Err); ok {
		return r.Harmless
	}
	return false
}

// Ingest verifies, moderates and stores a batch of events from origin, and
// returns one Outcome per event. Events that pass are written to the store
// in one batch (acknowledged only once it is committed), then inserted in
// the tree and announced to subscribers. Events they replace or delete, and
// the losers the moderation Policy evicts (an author's oldest record past
// the quota, an older record with the same content), are removed. This
// node's own events (origin.Local) never evict the author's other records:
// they are refused instead (see moderation.MemoryIndex.Admit).
func (db *DB) Ingest(ctx context.Context, origin Origin, events []*record.Event) []Outcome {
	if err := db.waitLoaded(ctx); err != nil {
		out := make([]Outcome, len(events))
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	return db.ingest(ctx, origin, events, db.verifyNew(events))
}

// verifyNew checks the ids and signatures of the events of a batch that
// this node does not hold yet (verifyBatch), and reports which passed. An
// event it already holds stays unverified: the pipeline refuses it as a
// duplicate before any signature check, so a peer that sends records we
// hold costs no signature checks. An event repeated in the batch (same id,
// author and signature) has its signature checked once.
func (db *DB) verifyNew(events []*record.Event) []bool {
	verified := make([]bool, len(events))
	type sig struct {
		id  [32]byte
		pub record.PublicKey
		sig [64]byte
	}
	first := make(map[sig]int, len(events))
	fresh := make([]*record.Event, 0, len(events))
	at := make([]int, 0, len(events))
	var repeats [][2]int // (event, its first copy in fresh)
	db.mu.RLock()
	for i, e := range events {
		if e == nil || db.index.Has(e.ID) {
			continue
		}
		k := sig{e.ID, e.PubKey, e.Sig}
		if j, seen := first[k]; seen {
			repeats = append(repeats, [2]int{i, j})
			continue
		}
		first[k] = len(fresh)
		fresh = append(fresh, e)
		at = append(at, i)
	}
	db.mu.RUnlock()
	ok := db.verifyBatch(fresh)
	for k, i := range at {
		verified[i] = ok[k]
	}
	for _, r := range repeats {
		e := events[r[0]]
		// Same signature over the same id: the same verdict, if this
		// copy's content hashes to that id too.
		verified[r[0]] = ok[r[1]] && e.CheckWellFormed() == nil && e.ComputeID() == e.ID
	}
	return verified
}

// ingest is Ingest once the index is loaded, with the ids and signatures
// already checked where verified says so (verified[i]: events[i]'s id and
// signature hold; nil: nothing checked yet). An event not marked verified
// goes through every check, its signature included.
func (db *DB) ingest(ctx context.Context, origin Origin, events []*record.Event, verified []bool) []Outcome {
	out := make([]Outcome, len(events))
	if db.pipeline.HasPreparers() {
		// Batch-judging rules keep verdicts by id: only events whose id
		// and signature hold may reach them (a forgery claiming a real
		// record's id would otherwise choose that record's verdict).
		if verified == nil {
			verified = db.verifySerially(events)
		}
		checked := make([]*record.Event, 0, len(events))
		for i, e := range events {
			if verified[i] {
				checked = append(checked, e)
			}
		}
		db.pipeline.Prepare(checked)
	}
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		for i := range out {
			out[i].Err = ErrClosed
		}
		return out
	}
	now := db.now()
	type change struct {
		added   *record.Event
		summary record.Summary
		removed []record.Summary
		slot    int
	}
	var changes []change
	for i, e := range events {
		if db.cfg.Yield != nil && i > 0 && i%db.cfg.YieldEvery == 0 {
			db.cfg.Yield()
		}
		if e == nil {
			out[i].Err = fmt.Errorf("failed to ingest: nil event")
			continue
		}
		check := db.pipeline.CheckAt
		if verified != nil && verified[i] {
			check = db.pipeline.CheckVerifiedAt
		}
		if err := check(now, e, db.index); err != nil {
			out[i].Err = err
			continue
		}
		s, err := record.Summarize(e) // cannot fail once the pipeline passed it
		if err != nil {
			out[i].Err = &moderation.Rejection{Rule: moderation.RuleSchema, Reason: err.Error(), Err: err, Verified: true}
			continue
		}
		removed, err := db.index.Admit(s, origin.Local())
		if err != nil {
			out[i].Err = err
			continue
		}
		changes = append(changes, change{added: e, summary: s, removed: removed, slot: i})
	}
	// An event added and then replaced within the same batch is neither
	// written nor deleted.
	gone := map[[32]byte]bool{}
	for _, c := range changes {
		for _, r := range c.removed {
			gone[r.ID] = true
		}
	}
	added := map[[32]byte]bool{}
	var toPut []*record.Event
	var toDelete, stored [][32]byte
	for _, c := range changes {
		added[c.added.ID] = true
		if !gone[c.added.ID] {
			toPut = append(toPut, c.added)
		}
	}
	for _, c := range changes {
		for _, r := range c.removed {
			toDelete = append(toDelete, r.ID)
			if !added[r.ID] {
				stored = append(stored, r.ID) // held before this batch
			}
		}
	}
	if err := db.store.Put(ctx, toPut...); err != nil {
		// Undo the index: nothing of this batch was stored.
		for i := len(changes) - 1; i >= 0; i-- {
			c := changes[i]
			db.index.Remove(c.added.ID)
			for _, r := range c.removed {
				db.index.AddSummary(r)
			}
			out[c.slot].Err = fmt.Errorf("failed to store records: %w", err)
		}
		db.mu.Unlock()
		return out
	}
	// The events this batch displaces, for the subscribers, before they go.
	displaced := map[[32]byte]*record.Event{}
	if len(stored) > 0 {
		events, err := db.store.GetMany(ctx, stored)
		if err != nil {
			db.log.Warn("failed to read the records a batch displaces", "count", len(stored), "err", err)
		}
		for _, e := range events {
			displaced[e.ID] = e
		}
	}
	if len(toPut) > 0 || len(toDelete) > 0 {
		db.snapshotChanged(len(toPut) + len(toDelete))
	}
	if len(toDelete) > 0 {
		if err := db.store.Delete(ctx, toDelete...); err != nil {
			// The superseded copies stay on disk; Open removes them next
			// time (a rebuild: no snapshot may hide them).
			db.snapHold.Store(true)
			db.log.Warn("failed to delete superseded records", "count", len(toDelete), "err", err)
		}
	}
	var notes []Change
	for _, c := range changes {
		for _, r := range c.removed {
			if db.tree.Delete(itemOf(r)) {
				db.counts.add(r.Kind, -1)
				e := displaced[r.ID]
				if e == nil {
					e = summaryEvent(r)
				}
				notes = append(notes, Change{Event: e, Removed: true, Origin: origin})
			}
		}
		if !gone[c.added.ID] {
			db.counts.add(c.summary.Kind, 1)
			db.treeInsert(c.summary)
			notes = append(notes, Change{Event: c.added, Origin: origin})
		}
		out[c.slot].Stored = true
	}
	db.mu.Unlock()
	db.noteHolders(origin, events, out)
	for i := range notes {
		if !notes[i].Removed && notes[i].Event.Kind == record.KindRecord {
			notes[i].HeldBy = db.holds.count(notes[i].Event.ID)
		}
	}
	db.noteBlobs(notes)
	db.subs.publish(notes)
	if !origin.Local() {
		db.publishRejections(origin, events, out)
	}
	return out
}

// noteHolders tracks this node's new records, and notes that the peer that
// sent events holds those this node holds now (stored, or already held).
func (db *DB) noteHolders(origin Origin, events []*record.Event, out []Outcome) {
	var held []record.Summary
	for i, e := range events {
		if e == nil || e.Kind != record.KindRecord {
			continue
		}
		if out[i].Err != nil {
			if rej, ok := moderation.AsRejection(out[i].Err); !ok || rej.Rule != moderation.RuleDuplicate {
				continue
			}
			db.mu.RLock()
			has := db.index.Has(e.ID)
			db.mu.RUnlock()
			if !has {
				continue // an older version, or one a deletion covers
			}
		}
		if s, err := record.Summarize(e); err == nil {
			held = append(held, s)
		}
	}
	switch {
	case len(held) == 0:
	case origin.Local():
		db.holds.track(true, held...)
	case origin.PubKey != record.PublicKey{}:
		db.holds.held(origin.PubKey, db.isOwn, held...)
	}
}

// summaryEvent stands in for a removed event that could not be read back:
// its id, author, time, kind and its d (record) or a (deletion) tag, without
// content or signature.
func summaryEvent(s record.Summary) *record.Event {
	e := &record.Event{ID: s.ID, PubKey: s.PubKey, CreatedAt: s.CreatedAt, Kind: s.Kind}
	if s.Kind == record.KindRecord {
		e.Tags = [][]string{{record.TagUUID, record.FormatUUID(s.UUID)}}
	} else {
		e.Tags = [][]string{{record.TagAddress, s.Address().String()}}
	}
	return e
}

// minParallelVerify is the smallest batch whose signatures are checked on
// several cores before the batch is ingested.
const minParallelVerify = 32

// maxVerifyChunk bounds one record.VerifyBatch call natively: memory grows
// with a batch (about 430 bytes an event), its speed no longer does.
const maxVerifyChunk = 2048

// verifySerially checks the ids and signatures of a batch on one thread (a
// small batch, or js/wasm), as record.VerifyBatch batches of YieldEvery
// events, handing the thread back between them like the checks that
// follow (a batch that holds a forgery is checked again one by one, within
// the same chunk).
func (db *DB) verifySerially(events []*record.Event) []bool {
	ok := make([]bool, len(events))
	chunk := max(db.cfg.YieldEvery, 1)
	for start := 0; start < len(events); start += chunk {
		if db.cfg.Yield != nil && start > 0 {
			db.cfg.Yield()
		}
		end := min(start+chunk, len(events))
		record.VerifyBatchInto(events[start:end], ok[start:end])
	}
	return ok
}

// verifyBatch checks the ids and signatures of a batch on every core, or
// serially (handing the thread back like the checks that follow) where
// there is one core or the batch is small.
func (db *DB) verifyBatch(events []*record.Event) []bool {
	db.sigsChecked.Add(int64(len(events)))
	if ok := verifyInParallel(events); ok != nil {
		return ok
	}
	return db.verifySerially(events)
}

// verifyInParallel checks the ids and signatures of a batch on every core
// (the biggest cost of ingesting), outside the DB's lock, as record.
// VerifyBatch chunks of at most maxVerifyChunk shared out among the cores,
// and reports which passed. It returns nil when there is one core (js/wasm)
// or the batch is small (below minParallelVerify).
func verifyInParallel(events []*record.Event) []bool {
	workers := runtime.GOMAXPROCS(0)
	if workers < 2 || len(events) < minParallelVerify {
		return nil
	}
	ok := make([]bool, len(events))
	per := min((len(events)+workers-1)/workers, maxVerifyChunk)
	chunks := make(chan int, (len(events)+per-1)/per)
	for start := 0; start < len(events); start += per {
		chunks <- start
	}
	close(chunks)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for start := range chunks {
				end := min(start+per, len(events))
				record.VerifyBatchInto(events[start:end], ok[start:end])
			}
		})
	}
	wg.Wait()
	return ok
}
