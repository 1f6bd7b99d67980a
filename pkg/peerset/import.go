package peerset

import (
	"context"
	"fmt"
	"runtime"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
)

// ImportOrigin is the origin Import gives the events it ingests.
var ImportOrigin = Origin{PeerID: "import"}

// ImportResult counts what an import did.
type ImportResult struct {
	Stored int `json:"stored"`
	// Refused: verified events that moderation, the replacement and deletion
	// rules or the policy did not keep (already held, stale, over a quota,
	// refused by a rule).
	Refused int `json:"refused"`
	// Invalid: input that is not an event, and events failing integrity
	// (id, signature, room, structure).
	Invalid int `json:"invalid"`
	// ByRule counts the refused and invalid events by rule name
	// ("integrity", "duplicate", "bad-words", ...; "parse" for input that is
	// not an event).
	ByRule map[string]int `json:"byRule"`
}

// Add adds o's counts to r.
func (r *ImportResult) Add(o ImportResult) {
	r.Stored += o.Stored
	r.Refused += o.Refused
	r.Invalid += o.Invalid
	for rule, n := range o.ByRule {
		r.count(rule, n)
	}
}

func (r *ImportResult) count(rule string, n int) {
	if r.ByRule == nil {
		r.ByRule = map[string]int{}
	}
	r.ByRule[rule] += n
}

// NotAnEvent counts one piece of input that did not parse as an event.
func (r *ImportResult) NotAnEvent() {
	r.Invalid++
	r.count("parse", 1)
}

// Import verifies, moderates and stores events exactly as if a peer called
// "import" had sent them (ImportOrigin), and counts the outcomes: the restore
// path of a backup made with Export. Give it batches (a few thousand events
// at most). An error that is not a refusal (the store failed, ctx ended)
// stops it: the counts then cover what was decided before. To import many
// batches, an Importer overlaps their work.
func (db *DB) Import(ctx context.Context, events []*record.Event) (ImportResult, error) {
	return importOutcomes(events, db.Ingest(ctx, ImportOrigin, events))
}

// importOutcomes counts the outcomes of an import batch.
func importOutcomes(events []*record.Event, outcomes []Outcome) (ImportResult, error) {
	var r ImportResult
	for i, out := range outcomes {
		rej, isRejection := moderation.AsRejection(out.Err)
		switch {
		case out.Stored:
			r.Stored++
		case events[i] == nil:
			r.NotAnEvent()
		case !isRejection:
			return r, fmt.Errorf("failed to import: %w", out.Err)
		case rej.Rule == moderation.RuleIntegrity:
			r.Invalid++
			r.count(rej.Rule, 1)
		default:
			r.Refused++
			r.count(rej.Rule, 1)
		}
	}
	return r, nil
}

// Importer imports a stream of batches like successive Import calls, with
// their work overlapped: the ids and signatures of a batch (most of the
// cost) are checked while the batch before it is moderated and stored, so
// the store's commit (an fsync natively, IndexedDB's transaction in a
// browser) no longer leaves the CPU idle. Batches are still ingested one at
// a time and in order, every event is verified, and batch-judging rules see
// verified events only, exactly as with Import. Not safe for concurrent use.
type Importer struct {
	db      *DB
	ctx     context.Context
	total   ImportResult
	pending chan importDone // the batch being stored; nil when none
	err     error
}

type importDone struct {
	r   ImportResult
	err error
}

// NewImporter starts an import; feed it with Add and finish with Close.
func (db *DB) NewImporter(ctx context.Context) *Importer {
	return &Importer{db: db, ctx: ctx, total: ImportResult{ByRule: map[string]int{}}}
}

// Add checks the ids and signatures of events while the previous batch is
// stored, waits for that batch, then starts storing this one and returns.
// The Importer keeps events until the next Add or Close returns: do not
// modify them before. An error is the previous batch's (the store failed,
// the context ended, the DB closed): the import stops there, and Add and
// Close keep returning it.
func (im *Importer) Add(events []*record.Event) error {
	if im.err != nil {
		return im.err
	}
	if len(events) == 0 {
		return nil
	}
	if err := im.db.waitLoaded(im.ctx); err != nil {
		im.err = err
		return err
	}
	verified := im.db.verifyBatch(events)
	if err := im.wait(); err != nil {
		return err
	}
	done := make(chan importDone, 1)
	go func() {
		r, err := importOutcomes(events, im.db.ingest(im.ctx, ImportOrigin, events, verified))
		done <- importDone{r, err}
	}()
	im.pending = done
	// On one thread (js/wasm) the batch runs until it waits for the
	// store; the next batch's checks then use the time the store takes.
	runtime.Gosched()
	return nil
}

// wait waits for the batch being stored and adds up its counts.
func (im *Importer) wait() error {
	if im.pending == nil {
		return im.err
	}
	d := <-im.pending
	im.pending = nil
	im.total.Add(d.r)
	if d.err != nil && im.err == nil {
		im.err = d.err
	}
	return im.err
}

// Close waits for the last batch and returns the counts of the whole
// import, with the first error (the counts then cover what was decided
// before it).
func (im *Importer) Close() (ImportResult, error) {
	err := im.wait()
	return im.total, err
}
