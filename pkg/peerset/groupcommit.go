package peerset

import (
	"context"
	"fmt"
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
// batched with the others that arrive while a batch is being written. The
// first caller to find no batch in progress writes batches until the queue
// is empty. A batch is written with ctx's values but not its cancellation:
// once queued, an event is written even if its caller gives up waiting.
func (db *DB) commitLocal(ctx context.Context, e *record.Event) error {
	g := &db.group
	p := &pendingWrite{e: e, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, p)
	if g.busy {
		g.mu.Unlock()
		select {
		case err := <-p.done:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	g.busy = true
	wctx := context.WithoutCancel(ctx)
	for len(g.queue) > 0 {
		n := min(len(g.queue), maxGroup)
		batch := g.queue[:n:n]
		g.queue = g.queue[n:]
		if len(g.queue) == 0 {
			g.queue = nil
		}
		g.mu.Unlock()
		events := make([]*record.Event, len(batch))
		verified := make([]bool, len(batch))
		for i, w := range batch {
			events[i], verified[i] = w.e, true
		}
		outs := db.ingestGroup(wctx, events, verified)
		for i, out := range outs {
			batch[i].done <- out.Err
		}
		g.mu.Lock()
	}
	g.busy = false
	g.mu.Unlock()
	return <-p.done
}

// ingestGroup is ingest of a batch of this node's events; a panic fails the
// batch instead of leaving its callers and the queue waiting forever.
func (db *DB) ingestGroup(ctx context.Context, events []*record.Event, verified []bool) (outs []Outcome) {
	defer func() {
		if p := recover(); p != nil {
			outs = make([]Outcome, len(events))
			for i := range outs {
				outs[i].Err = fmt.Errorf("internal error while storing this node's records: %v (please report it)", p)
			}
		}
	}()
	return db.ingest(ctx, Origin{}, events, verified)
}
