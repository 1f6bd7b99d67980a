package peerset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
)

// The index snapshot (Config.IndexSnapshot): the summaries of every event
// the index keeps, in one value that a store implementing store.Snapshots
// keeps with the changes made to its events since (or reports stale).
// Opening from it reads one value (and the changes) instead of every
// stored key and summary. Its form:
//
//	magic (8 bytes) ‖ count (4, big-endian) ‖
//	count × (id (32) ‖ created_at (8, big-endian) ‖ record.AppendSummary (68)) ‖
//	SHA-256 of everything before (32)
//
// A snapshot that is stale (the store says so) or does not decode (a
// wrong checksum, length or summary) is ignored: the index is rebuilt from
// the store, as without one, and a new snapshot saved.
var snapshotMagic = [8]byte{'p', 's', 'i', 'd', 'x', 0, 0, 1}

const snapshotEntry = 32 + 8 + record.SummaryBytes

// snapshotQuiet is how long the set must stay unchanged before a snapshot
// is saved: a burst of writes or a sync saves once, after it.
const snapshotQuiet = time.Second

// errSnapshotCorrupt is wrapped by decodeSnapshot's errors.
var errSnapshotCorrupt = errors.New("the index snapshot is corrupt")

// encodeSnapshot writes the snapshot of summaries, sorted here by
// (created_at, id), the order the store yields them in.
func encodeSnapshot(summaries []record.Summary) []byte {
	slices.SortFunc(summaries, func(a, b record.Summary) int { return itemOf(a).Compare(itemOf(b)) })
	b := make([]byte, 0, len(snapshotMagic)+4+len(summaries)*snapshotEntry+sha256.Size)
	b = append(b, snapshotMagic[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(summaries)))
	for _, s := range summaries {
		b = append(b, s.ID[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(s.CreatedAt))
		b = record.AppendSummary(b, s)
	}
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// decodeSnapshot reads what encodeSnapshot wrote; any damage is an error
// wrapping errSnapshotCorrupt.
func decodeSnapshot(b []byte) ([]record.Summary, error) {
	head := len(snapshotMagic) + 4
	if len(b) < head+sha256.Size || !bytes.Equal(b[:len(snapshotMagic)], snapshotMagic[:]) {
		return nil, fmt.Errorf("%w: no snapshot header", errSnapshotCorrupt)
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, fmt.Errorf("%w: checksum mismatch", errSnapshotCorrupt)
	}
	n := int(binary.BigEndian.Uint32(b[len(snapshotMagic):]))
	if len(body)-head != n*snapshotEntry {
		return nil, fmt.Errorf("%w: %d bytes of entries for %d entries", errSnapshotCorrupt, len(body)-head, n)
	}
	out := make([]record.Summary, 0, n)
	for p := body[head:]; len(p) > 0; p = p[snapshotEntry:] {
		id := [32]byte(p[:32])
		createdAt := int64(binary.BigEndian.Uint64(p[32:40]))
		s, err := record.ParseSummary(id, createdAt, p[40:snapshotEntry])
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errSnapshotCorrupt, err)
		}
		// encodeSnapshot sorts by (created_at, id): anything else (a
		// repeated id) is not a snapshot it wrote.
		if len(out) > 0 && itemOf(out[len(out)-1]).Compare(itemOf(s)) >= 0 {
			return nil, fmt.Errorf("%w: entries out of order", errSnapshotCorrupt)
		}
		out = append(out, s)
	}
	return out, nil
}

// applyChanges brings the summaries of a snapshot up to date with the
// store's changes since it was saved (store.Snapshot.Changes, oldest
// first): it returns the summaries of the events stored now, sorted by
// (created_at, id), and the ids of those added without a summary (the
// load drops them, as it does those the store yields without one).
func applyChanges(summaries []record.Summary, changes []store.Change) (kept []record.Summary, bare [][32]byte) {
	if len(changes) == 0 {
		return summaries, nil
	}
	type state struct {
		at      int  // index in summaries (-1: none)
		present bool // stored now
	}
	states := make(map[[32]byte]state, len(summaries)+len(changes))
	for i, s := range summaries {
		states[s.ID] = state{at: i, present: true}
	}
	for _, c := range changes {
		id := c.Summary.ID
		st, known := states[id]
		switch {
		case c.Removed:
			if known {
				st.present = false
				states[id] = st
			}
		case known && st.present:
			// Stored already: the store keeps the first copy.
		case c.HasSummary:
			states[id] = state{at: len(summaries), present: true}
			summaries = append(summaries, c.Summary)
		default:
			states[id] = state{at: -1, present: true}
		}
	}
	kept = make([]record.Summary, 0, len(summaries))
	for i, s := range summaries {
		if st := states[s.ID]; st.present && st.at == i {
			kept = append(kept, s)
		}
	}
	for id, st := range states {
		if st.present && st.at < 0 {
			bare = append(bare, id)
		}
	}
	slices.SortFunc(kept, func(a, b record.Summary) int { return itemOf(a).Compare(itemOf(b)) })
	slices.SortFunc(bare, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	return kept, bare
}

// openFromSnapshot builds the index and the tree from the store's snapshot
// and the changes since, when there is one that decodes, and reports
// whether it did.
func (db *DB) openFromSnapshot(ctx context.Context) bool {
	snap, err := db.snaps.LoadSnapshot(ctx)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			// Which generation the rebuild starts from is unknown: saving
			// a snapshot of it could miss another tab's write.
			db.snapHold.Store(true)
			db.log.Warn("failed to read the index snapshot: rebuilding the index from the store, and saving none", "err", err)
		}
		return false
	}
	summaries, err := decodeSnapshot(snap.Data)
	if err != nil {
		db.log.Warn("ignoring the index snapshot: rebuilding the index from the store", "err", err)
		return false
	}
	summaries, bare := applyChanges(summaries, snap.Changes)
	if err := db.load(ctx, false, func(fn func(record.Summary, bool) error) error {
		for _, s := range summaries {
			if err := fn(s, true); err != nil {
				return err
			}
		}
		for _, id := range bare {
			if err := fn(record.Summary{ID: id}, false); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		// load failed only on a canceled context: Open fails with it.
		return true
	}
	db.fromSnapshot = true
	if len(snap.Changes) > 0 {
		db.snapshotChanged(len(snap.Changes)) // a new snapshot, and the journal starts over
	}
	return true
}

// snapshotEveryChanges and snapshotForceShare: after this many changes
// without a snapshot, and at least one change for every snapshotForceShare
// records the index holds, a snapshot is saved without waiting for a quiet
// spell or the gap. A store that journals the changes since its snapshot
// (pkg/store/idb) drops the snapshot once the journal outgrows its bound
// (20,000 changes and twice the snapshot's bytes): without this, a long
// first sync (no quiet second from start to end) always outgrew it, and a
// reload right after such a sync rebuilt the whole index while writes
// waited (7–9 s for 50k records in the browser). Each forced save is the
// whole index, so the share makes them grow apart as the room grows: a
// first sync into an empty tab saves at 8,192 records, then each time the
// room has grown by half, and writes three to four times the room's final
// snapshot in all, counting the save after the sync (rather than
// n²/16,384 entries with a save every 8,192 changes), while the journal
// after the last successful save stays under half the snapshot's entries.
// A failed save leaves its changes counted towards the next one. Variables
// so that tests can lower them.
var (
	snapshotEveryChanges int64 = 8192
	snapshotForceShare   int64 = 3
)

// snapshotForced reports whether enough changes went without a snapshot
// to save one at once (see snapshotEveryChanges).
func (db *DB) snapshotForced() bool {
	pending := db.snapPending.Load()
	if pending < snapshotEveryChanges {
		return false
	}
	db.mu.RLock()
	n := db.index.Len()
	db.mu.RUnlock()
	return pending*snapshotForceShare >= int64(n)
}

// snapshotChanged notes that the set changed by n records: the saver saves
// a new snapshot once it has been quiet for snapshotQuiet, or at once past
// snapshotEveryChanges.
func (db *DB) snapshotChanged(n int) {
	if db.snaps == nil {
		return
	}
	db.snapPending.Add(int64(n))
	select {
	case db.snapWake <- struct{}{}:
	default:
	}
}

// snapshotGap is the least time between two saves of a snapshot of n
// bytes: a second per 512 KiB (a room of 50k records: about 10 s), at least
// snapshotQuiet, so that a room that keeps changing does not rewrite
// megabytes every second.
func snapshotGap(n int) time.Duration {
	return max(snapshotQuiet, time.Duration(n/(512<<10))*time.Second)
}

// saveSnapshots saves a snapshot after each quiet spell that follows a
// change (or the end of a load), at most once per snapshotGap, until ctx
// ends.
func (db *DB) saveSnapshots(ctx context.Context) {
	defer db.bgDone.Done()
	var next time.Time // no save before
	for {
		select {
		case <-ctx.Done():
			return
		case <-db.snapWake:
		}
		select { // a load in the background ends before a save
		case <-ctx.Done():
			return
		case <-db.loaded:
		}
		quiet := time.NewTimer(max(snapshotQuiet, time.Until(next)))
	wait:
		for !db.snapshotForced() {
			select {
			case <-ctx.Done():
				quiet.Stop()
				return
			case <-db.snapWake:
				quiet.Reset(max(snapshotQuiet, time.Until(next)))
			case <-quiet.C:
				break wait
			}
		}
		quiet.Stop()
		n, err := db.saveSnapshot(ctx)
		if err != nil && ctx.Err() == nil {
			db.log.Warn("failed to save the index snapshot", "err", err)
		}
		next = time.Now().Add(snapshotGap(n))
	}
}

// saveSnapshot saves the index's summaries as the store's snapshot and
// returns its size. It holds the read lock while it does, so that no write
// of this DB comes between what it serializes and the store's generation it
// checks.
func (db *DB) saveSnapshot(ctx context.Context) (int, error) {
	select {
	case <-db.loaded:
	default:
		return 0, nil // saveSnapshots waits for the load
	}
	pending := db.snapPending.Swap(0) // changes from here on count towards the next one
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.loadErr != nil || db.closed || db.snapHold.Load() {
		return 0, nil
	}
	summaries := make([]record.Summary, 0, db.index.Len())
	db.index.Each(func(s record.Summary) bool {
		summaries = append(summaries, s)
		return true
	})
	data := encodeSnapshot(summaries)
	saved, err := db.snaps.SaveSnapshot(ctx, data)
	switch {
	case err != nil:
		db.snapPending.Add(pending) // the next save is due as soon as this one was
	case !saved:
		// Another connection changed the store: the store refuses every
		// later save of this connection too, so none is built again.
		db.snapHold.Store(true)
		db.log.Info("index snapshot not saved: another connection changed the store; this one saves none from now on")
	}
	return len(data), err
}
