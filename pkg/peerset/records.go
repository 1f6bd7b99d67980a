package peerset

import (
	"context"
	"errors"
	"fmt"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
)

// Put makes, signs, moderates and stores a record by this node's key (or
// signer). With d.UUID set to one of this node's records it publishes a new
// version. A refusal is a *moderation.Rejection naming the rule; a signer's
// refusal wraps ErrSigner; a read-only node returns ErrReadOnly. It returns
// once the record is committed to the store; Puts and Deletes made while
// one is being stored share the next store transaction (each keeps its own
// outcome).
func (db *DB) Put(ctx context.Context, d record.Draft) (*record.Record, error) {
	if db.ReadOnly() {
		return nil, ErrReadOnly
	}
	if err := db.waitLoaded(ctx); err != nil {
		return nil, err
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = db.now()
	}
	if d.UUID != "" {
		// A new version must be newer than the stored one: created_at has
		// one-second resolution, so bump it past the live version.
		if live, ok := db.index.Live(record.Address{Kind: record.KindRecord, PubKey: db.author, UUID: d.UUID}); ok && d.CreatedAt.Unix() <= live.CreatedAt {
			d.CreatedAt = timeOf(live.CreatedAt + 1)
		}
	}
	e, err := record.NewUnsigned(d, db.author, db.roomID, db.cfg.Limits)
	if err != nil {
		return nil, err
	}
	if e, err = db.finish(ctx, e); err != nil {
		return nil, err
	}
	if err := db.commitLocal(ctx, e); err != nil {
		return nil, err
	}
	return record.Parse(e)
}

// Get returns the live record with this UUID. If several authors used the
// UUID, this node's own record wins, then the most recent one.
func (db *DB) Get(ctx context.Context, uuid string) (*record.Record, error) {
	if err := db.waitLoaded(ctx); err != nil {
		return nil, err
	}
	u, err := record.ParseUUID(uuid)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, uuid)
	}
	db.mu.RLock()
	best, found := db.liveVersionLocked(u)
	db.mu.RUnlock()
	if !found {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, uuid)
	}
	e, err := db.store.Get(ctx, best.ID)
	if err != nil {
		return nil, fmt.Errorf("failed to read record %s: %w", uuid, err)
	}
	return record.Parse(e)
}

// liveVersionLocked returns the live version of the record u that Get
// returns: this node's own, then the most recent. db.mu is held.
func (db *DB) liveVersionLocked(u [16]byte) (record.Summary, bool) {
	me := db.author
	var best record.Summary
	found := false
	for _, s := range db.index.LiveByUUID(u) {
		if !found {
			best, found = s, true
			continue
		}
		if sMine, bestMine := s.PubKey == me, best.PubKey == me; sMine != bestMine {
			if sMine {
				best = s
			}
			continue
		}
		if s.Supersedes(best) {
			best = s
		}
	}
	return best, found
}

// Delete publishes a NIP-09 deletion of this node's record uuid: the record
// disappears here and, as the deletion syncs, everywhere.
func (db *DB) Delete(ctx context.Context, uuid string) error {
	if db.ReadOnly() {
		return ErrReadOnly
	}
	if err := db.waitLoaded(ctx); err != nil {
		return err
	}
	addr := record.Address{Kind: record.KindRecord, PubKey: db.author, UUID: uuid}
	live, ok := db.index.Live(addr)
	if !ok {
		return fmt.Errorf("failed to delete: %w: no record %s by this node's key", ErrNotFound, uuid)
	}
	at := db.now()
	if at.Unix() < live.CreatedAt {
		at = timeOf(live.CreatedAt)
	}
	del, err := record.NewUnsignedDeletion(db.author, db.roomID, uuid, at)
	if err != nil {
		return err
	}
	if del, err = db.finish(ctx, del); err != nil {
		return fmt.Errorf("failed to delete: %w", err)
	}
	if err := db.commitLocal(ctx, del); err != nil {
		return fmt.Errorf("failed to delete: %w", err)
	}
	return nil
}

// finish adds the NIP-13 proof of work the room's rules require to one of
// this node's new events, if they require any, and has it signed: the
// signer is asked once, after the work.
func (db *DB) finish(ctx context.Context, e *record.Event) (*record.Event, error) {
	if bits := db.pipeline.Config().PoWDifficulty; bits > 0 {
		if err := moderation.MineID(ctx, e, bits); err != nil {
			return nil, fmt.Errorf("failed to add the proof of work the room requires (%d bits): %w", bits, err)
		}
	}
	return db.sign(ctx, e)
}

// Query selects live records (deletions are not returned).
type Query struct {
	Author *record.PublicKey
	Since  int64 // created_at ≥ Since (seconds), 0: no bound
	Until  int64 // created_at ≤ Until, 0: no bound
	Limit  int   // 0: no limit
	Oldest bool  // oldest first; the default is newest first
}

// Query returns live records matching q, newest first unless q.Oldest.
func (db *DB) Query(ctx context.Context, q Query) ([]*record.Record, error) {
	events, err := db.store.Query(ctx, store.Query{
		Author: q.Author, Kinds: []int{record.KindRecord}, Since: q.Since, Until: q.Until,
		Limit: q.Limit, Descending: !q.Oldest,
	})
	var corrupt *store.CorruptError
	if err != nil && !errors.As(err, &corrupt) {
		return nil, fmt.Errorf("failed to query records: %w", err)
	}
	out := make([]*record.Record, 0, len(events))
	for _, e := range events {
		r, err := record.Parse(e)
		if err != nil {
			continue // never stored unless it parsed; skip rather than fail the query
		}
		out = append(out, r)
	}
	return out, nil
}

// Events returns the stored events with these ids (records or deletions),
// for sending to peers.
func (db *DB) Events(ctx context.Context, ids [][32]byte) ([]*record.Event, error) {
	events, err := db.store.GetMany(ctx, ids)
	var corrupt *store.CorruptError
	if err != nil && !errors.As(err, &corrupt) {
		return nil, err
	}
	return events, nil
}

// Export returns every live event (records and deletions) in
// (created_at, id) order. ExportEach streams them instead.
func (db *DB) Export(ctx context.Context) ([]*record.Event, error) {
	var list []*record.Event
	err := db.ExportEach(ctx, func(e *record.Event) error {
		list = append(list, e)
		return nil
	})
	return list, err
}

// ExportPage returns the live events (records and deletions) that follow
// after in (created_at, id) order (nil: from the first), at most limit of
// them and, past the first, no more than maxBytes of JSON (0: no byte
// bound), and the cursor to pass for the next page: nil once the set is
// exhausted. It keeps nothing open between calls, so a caller can page
// through a large room at its own pace (the browser's db.export()); events
// written meanwhile may or may not be visited.
func (db *DB) ExportPage(ctx context.Context, after *store.Item, limit, maxBytes int) (events []*record.Event, next *store.Item, err error) {
	if limit <= 0 {
		return nil, nil, fmt.Errorf("export page: limit must be positive, got %d", limit)
	}
	if err := db.waitLoaded(ctx); err != nil {
		return nil, nil, err
	}
	var cursor *store.Item
	if after != nil {
		c := *after
		cursor = &c
	}
	size := 0
	for {
		page, err := db.store.Query(ctx, store.Query{Limit: limit, After: cursor})
		var corrupt *store.CorruptError
		if err != nil && !errors.As(err, &corrupt) {
			return nil, nil, fmt.Errorf("failed to export: %w", err)
		}
		if len(page) == 0 {
			return events, nil, nil
		}
		for _, e := range page {
			it := store.ItemOf(e)
			cursor = &it
			if !db.index.Has(e.ID) {
				continue // a superseded copy not yet removed from the store
			}
			events = append(events, e)
			size += approxJSONSize(e)
			if len(events) == limit || (maxBytes > 0 && size >= maxBytes) {
				return events, cursor, nil
			}
		}
		if len(page) < limit && corrupt == nil {
			return events, nil, nil
		}
	}
}

// ExportEach calls fn with every live event (records and deletions) in
// (created_at, id) order, reading them from the store page by page, so that
// a large room is never in memory at once. An error from fn stops it.
func (db *DB) ExportEach(ctx context.Context, fn func(*record.Event) error) error {
	if err := db.waitLoaded(ctx); err != nil {
		return err
	}
	err := db.store.Scan(ctx, func(e *record.Event) error {
		if !db.index.Has(e.ID) {
			return nil // a superseded copy not yet removed from the store
		}
		return fn(e)
	})
	var corrupt *store.CorruptError
	if errors.As(err, &corrupt) {
		return nil // the index does not hold undecodable events either
	}
	return err
}

// approxJSONSize estimates the length of e's JSON (escapes aside): the
// fixed fields, the content and the tags.
func approxJSONSize(e *record.Event) int {
	n := 256 + len(e.Content)
	for _, t := range e.Tags {
		n += 2
		for _, v := range t {
			n += len(v) + 3
		}
	}
	return n
}
