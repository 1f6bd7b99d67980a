package peerset

import (
	"context"
	"slices"
	"sync"

	"github.com/peersetdb/peerset/pkg/record"
)

// Group commit of this node's writes. Put and Delete hand their signed
// event to commitLocal; while one batch of them is being ingested (one
// store transaction), the events that arrive meanwhile queue, and the next
// batch takes them all. A page that puts many records at once (without
// waiting for each) then pays one transaction per batch instead of one per
// record. Each event keeps its own outcome: a refusal by moderation fails
// only its own call; a failing store fails the whole batch, which is one
// transaction.

// maxGroup bounds one batch of this node's events.
const maxGroup = 512

type groupCommit struct {
	mu    sync.Mutex
	queue []*pendingWrite
	busy  bool // a caller is ingesting batches
}

type pendingWrite struct {
	e    *record.Event
	done chan error // buffered: the committer never blocks on it
}

// commitLocal ingests e, one of this node's events that sign checked,
// batched with the others that arrive while a batch is being written.
//
// The first caller to find no batch in progress writes one batch (its own
// event and those queued before it, at most maxGroup) and, if more queued
// meanwhile, hands the writing of the rest to a goroutine: no caller waits
// for more than its own batch. A caller whose ctx ends while its event is
// still queued takes it out and returns ctx's error (nothing is written); once
// its batch is being written it waits for that one transaction's outcome, so
// an error always means the event was not stored.
//
// With batch-judging rules (the page's JavaScript rules) each event is
// judged and written alone, as a peer's would be in a batch of its own: a
// batch of hundreds of this node's records would keep one judging call
// waiting for all of them (its timeout counts for the whole batch).
func (db *DB) commitLocal(ctx context.Context, e *record.Event) error {
	if db.pipeline.HasPreparers() {
		return db.ingest(ctx, Origin{}, []*record.Event{e}, []bool{true})[0].Err
	}
	g := &db.group
	p := &pendingWrite{e: e, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, p)
	if !g.busy {
		g.busy = true
		g.mu.Unlock()
		db.writeBatch(context.WithoutCancel(ctx))
		return <-p.done
	}
	g.mu.Unlock()
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
	}
	g.mu.Lock()
	if i := slices.Index(g.queue, p); i >= 0 {
		g.queue = slices.Delete(g.queue, i, i+1)
		g.mu.Unlock()
		return ctx.Err()
	}
	g.mu.Unlock()
	return <-p.done // its batch is being written: one transaction
}

// writeBatch writes the next batch of the queue; if more are queued once it
// is done, a goroutine writes them (busy stays set until the queue is
// empty). The caller has set busy.
func (db *DB) writeBatch(ctx context.Context) {
	g := &db.group
	g.mu.Lock()
	n := min(len(g.queue), maxGroup)
	batch := slices.Clone(g.queue[:n])
	g.queue = slices.Delete(g.queue, 0, n)
	g.mu.Unlock()
	if n > 0 {
		events := make([]*record.Event, n)
		verified := make([]bool, n)
		for i, w := range batch {
			events[i], verified[i] = w.e, true
		}
		for i, out := range db.ingest(ctx, Origin{}, events, verified) {
			batch[i].done <- out.Err
		}
	}
	g.mu.Lock()
	if len(g.queue) == 0 {
		g.busy = false
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	go db.writeBatch(ctx)
}
