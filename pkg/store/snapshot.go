package store

import "context"

// Snapshots is implemented by stores that can keep one opaque snapshot of
// what their caller derived from the events (peerset.DB keeps its index),
// valid only while the events stay exactly as they were when it was saved.
// A store implements it with a generation that every transaction changing
// events (Put, Delete) replaces in the same transaction, so that no crash
// can separate a change from the snapshot's invalidation.
type Snapshots interface {
	// SaveSnapshot keeps data as the snapshot of the events as this
	// Store's caller knows them: every change since the store was opened
	// went through this Store. It saves nothing and returns false if some
	// other connection to the same storage (another tab) changed events
	// since this one opened it, or since its last change: the caller's view
	// is then not the stored one.
	SaveSnapshot(ctx context.Context, data []byte) (bool, error)
	// LoadSnapshot returns the snapshot saved last, or an error wrapping
	// ErrNotFound when there is none or events changed after it was saved.
	LoadSnapshot(ctx context.Context) ([]byte, error)
}
