package peerset

import (
	"context"
	"fmt"

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
// stops it: the counts then cover what was decided before.
func (db *DB) Import(ctx context.Context, events []*record.Event) (ImportResult, error) {
	var r ImportResult
	for i, out := range db.Ingest(ctx, ImportOrigin, events) {
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
