package peerset

import (
	"context"
	"fmt"
	"time"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
)

// GC removes records and deletions past the retention period (default 90
// days) from the store and the tree, and returns how many it removed.
func (db *DB) GC(ctx context.Context) (int, error) {
	if err := db.waitLoaded(ctx); err != nil {
		return 0, err
	}
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return 0, ErrClosed
	}
	now, retention := db.now(), db.pipeline.Retention()
	var expired []record.Summary
	db.index.Each(func(s record.Summary) bool {
		if moderation.Expired(now, s.CreatedAt, retention) {
			expired = append(expired, s)
		}
		return true
	})
	if len(expired) == 0 {
		db.mu.Unlock()
		return 0, nil
	}
	ids := make([][32]byte, len(expired))
	for i, s := range expired {
		ids[i] = s.ID
	}
	// The events themselves, for the subscribers, before they go.
	gone, _ := db.store.GetMany(ctx, ids)
	if err := db.store.Delete(ctx, ids...); err != nil {
		db.mu.Unlock()
		return 0, fmt.Errorf("failed to collect expired records: %w", err)
	}
	db.snapshotChanged(len(ids))
	for _, s := range expired {
		db.index.Remove(s.ID)
		db.tree.Delete(itemOf(s))
		db.counts.add(s.Kind, -1)
	}
	db.mu.Unlock()
	notes := make([]Change, 0, len(gone))
	for _, e := range gone {
		notes = append(notes, Change{Event: e, Removed: true})
	}
	db.noteBlobs(notes)
	db.subs.publish(notes)
	return len(expired), nil
}

func (db *DB) gcLoop(ctx context.Context) {
	defer db.bgDone.Done()
	t := time.NewTicker(db.cfg.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := db.GC(ctx); err != nil {
				db.log.Warn("gc failed", "err", err)
			} else if n > 0 {
				db.log.Info("gc removed expired records", "count", n)
			}
		}
	}
}

// Stats is a snapshot of the database for status displays.
type Stats struct {
	Records    int    // live records
	Deletions  int    // deletion tombstones kept so deletions sync
	Root       string // hex of the whole-set fingerprint
	Author     string // this node's npub ("" when read-only)
	RoomID     string
	Moderation string // preset name
	// Loading: the index is still being rebuilt (Config.LoadInBackground);
	// until then Records counts every stored event and Deletions is 0.
	Loading bool
	// IndexFrom says how this open built the index: "snapshot" (the
	// store's index snapshot and its changes since: Config.IndexSnapshot)
	// or "store" (every stored event's summary).
	IndexFrom string
	// Held maps this node's live records (by UUID) to how many peers are
	// known to hold their current version (see Holders), for a "held by N
	// peers" view. It covers this node's records that the DB tracks (see
	// Holders for the bound).
	Held map[string]int
}

// stats returns a snapshot without Held.
func (db *DB) stats() Stats {
	db.mu.RLock()
	defer db.mu.RUnlock()
	s := Stats{Records: db.counts.records, Deletions: db.counts.deletions, Root: db.tree.Root().String(),
		RoomID: db.roomID, Moderation: db.pipeline.Config().Preset, IndexFrom: "store"}
	if db.fromSnapshot {
		s.IndexFrom = "snapshot"
	}
	if !db.ReadOnly() {
		s.Author = db.author.Npub()
	}
	select {
	case <-db.loaded:
	default:
		s.Records, s.Deletions, s.Loading = db.tree.Len(), 0, true
	}
	return s
}

// Stats returns a snapshot, with what is known of who holds this node's
// records (Stats.Held).
func (db *DB) Stats() Stats {
	s := db.stats()
	s.Held = db.heldOwn()
	return s
}

// Buckets is the per-time-bucket view of the set (count and fingerprint
// per non-empty UTC bucket of granularity g): two peers' lists differ
// exactly where their sets do.
func (db *DB) Buckets(g merkle.Granularity) []merkle.Bucket {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.tree.Buckets(g)
}
