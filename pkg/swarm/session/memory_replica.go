package session

import (
	"context"
	"errors"
	"sync"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
)

// MemoryReplica is a Replica held in memory: a merkle tree, a
// moderation.MemoryIndex (which applies the replacement rule and NIP-09
// deletions: a newer version replaces the older one, a deletion removes what it
// covers and stays as a tombstone) and the events, checked by a moderation
// pipeline, behind one RWMutex. Tests use it, and so can peers without
// persistence; the facade's store-backed replica should follow the same steps
// (check, then index.Add, then apply the returned removals to store and tree).
type MemoryReplica struct {
	pipeline *moderation.Pipeline

	mu      sync.RWMutex
	tree    *merkle.Tree
	index   *moderation.MemoryIndex
	events  map[[32]byte]*record.Event
	changed chan struct{} // closed and replaced on every change
}

// NewMemoryReplica returns an empty replica that admits what pipeline accepts
// and keeps what its Policy keeps.
func NewMemoryReplica(pipeline *moderation.Pipeline) *MemoryReplica {
	var policy moderation.Policy
	if pipeline != nil {
		policy = pipeline.Policy()
	}
	return &MemoryReplica{
		pipeline: pipeline,
		tree:     merkle.NewTree(),
		index:    moderation.NewMemoryIndex(policy),
		events:   make(map[[32]byte]*record.Event),
		changed:  make(chan struct{}),
	}
}

// ErrNilEvent is the verdict of a nil event.
var ErrNilEvent = errors.New("nil event")

// Add checks e with the pipeline and stores it: what a local write or an
// offered event goes through.
func (r *MemoryReplica) Add(e *record.Event) Verdict {
	if e == nil {
		return Verdict{Err: ErrNilEvent}
	}
	if err := r.pipeline.Check(e, r.index); err != nil {
		return Verdict{Err: err}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	removed, err := r.index.Add(e)
	for _, old := range removed {
		r.tree.Delete(merkle.Item{Timestamp: uint64(old.CreatedAt), ID: old.ID})
		delete(r.events, old.ID)
	}
	if err == nil {
		if _, err := r.tree.Insert(merkle.Item{Timestamp: uint64(e.CreatedAt), ID: e.ID}); err != nil {
			r.index.Remove(e.ID)
			return Verdict{Err: err}
		}
		r.events[e.ID] = e
	}
	if err == nil || len(removed) > 0 {
		close(r.changed)
		r.changed = make(chan struct{})
	}
	return Verdict{Stored: err == nil, Err: err}
}

// AuthorEpoch implements Replica.
func (r *MemoryReplica) AuthorEpoch(author record.PublicKey) uint64 {
	return r.index.AuthorEpoch(author)
}

// ReadTree implements Replica.
func (r *MemoryReplica) ReadTree(fn func(t *merkle.Tree) error) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return fn(r.tree)
}

// Has implements Replica.
func (r *MemoryReplica) Has(id [32]byte) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.events[id]
	return ok
}

// Events implements Replica.
func (r *MemoryReplica) Events(ctx context.Context, ids [][32]byte) ([]*record.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*record.Event, 0, len(ids))
	for _, id := range ids {
		if e, ok := r.events[id]; ok {
			out = append(out, e)
		}
	}
	return out, nil
}

// Offer implements Replica: Add for each event.
func (r *MemoryReplica) Offer(ctx context.Context, _ PeerInfo, events []*record.Event) []Verdict {
	verdicts := make([]Verdict, len(events))
	for i, e := range events {
		if err := ctx.Err(); err != nil {
			verdicts[i] = Verdict{Err: err}
			continue
		}
		verdicts[i] = r.Add(e)
	}
	return verdicts
}

// Root returns the fingerprint of the whole set and its size.
func (r *MemoryReplica) Root() (merkle.Fingerprint, int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.tree.Root(), r.tree.Len()
}

// Event returns the held event with this id, or nil.
func (r *MemoryReplica) Event(id [32]byte) *record.Event {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.events[id]
}

// Changed returns a channel that is closed at the next change of the set.
func (r *MemoryReplica) Changed() <-chan struct{} {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.changed
}
