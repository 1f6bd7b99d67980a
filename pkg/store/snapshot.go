package store

import (
	"context"

	"github.com/peersetdb/peerset/pkg/record"
)

// Snapshots is implemented by stores that can keep one opaque snapshot of
// what their caller derived from the events (peerset.DB keeps its index),
// and bring it up to date when it is loaded. A store implements it with a
// generation that every transaction changing events (Put, Delete) replaces
// in the same transaction, and may keep a journal of those changes (also
// in the same transaction), so that no crash can separate a change from
// what the snapshot knows of it.
type Snapshots interface {
	// SaveSnapshot keeps data as the snapshot of the events as this
	// Store's caller knows them: every change since the store was opened
	// went through this Store. It saves nothing and returns false if some
	// other connection to the same storage (another tab) changed events
	// since this one opened it, or since its last change: the caller's view
	// is then not the stored one.
	SaveSnapshot(ctx context.Context, data []byte) (bool, error)
	// LoadSnapshot returns the snapshot saved last with the changes made to
	// the events since (in the order they were made), or an error wrapping
	// ErrNotFound when there is none or the store cannot tell what changed
	// after it was saved.
	LoadSnapshot(ctx context.Context) (Snapshot, error)
}

// Snapshot is a saved snapshot and what changed after it.
type Snapshot struct {
	Data []byte
	// Changes since Data was saved, oldest first: each event a Put added
	// (an id a Put found already stored may appear again) and each id a
	// Delete removed.
	Changes []Change
}

// Change is one event added to or removed from a store.
type Change struct {
	// Removed: the event with Summary.ID was deleted; otherwise it was
	// added, with its summary (HasSummary false: the store keeps only its
	// kind; see SummaryOf).
	Removed    bool
	Summary    record.Summary
	HasSummary bool
}
