//go:build js && wasm

package idb

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"syscall/js"

	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
)

// Snapshots (store.Snapshots). Every transaction that changes events
// replaces the generation, a random value under metaGeneration, in the
// same transaction, and reads the one it replaces: when that is not the
// value this Store wrote (or found at Open) last, another connection (a
// tab) changed events, and this Store saves no snapshot any more. A
// snapshot is kept under metaSnapshot as the generation it was saved at (8
// bytes) followed by its data.
//
// The journal (schema 5): every transaction that changes events also adds
// one row to storeJournal saying what it changed (the item keys and
// summaries a Put added, the ids a Delete removed), and the transaction
// that saves a snapshot clears the journal. So the snapshot and the
// journal's rows, in key order (the order the transactions committed in),
// are always the events as they are, whichever connection changed them:
// LoadSnapshot returns both. A Store that has journaled more than
// journalLimit changes since it opened or cleared the journal (another tab
// keeps it from saving snapshots) clears the journal and drops the
// snapshot in its next change instead: the next open then rebuilds the
// index from the events.
const (
	metaGeneration = "peerset/idb-generation"
	metaSnapshot   = "peerset/idb-snapshot"
)

var _ store.Snapshots = (*Store)(nil)

// newGeneration draws a generation: 16 hex digits, never "".
func newGeneration() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// journalLimit bounds the journal: the changes one Store may add to it
// before it clears it (and the snapshot) instead.
var journalLimit = 100_000

// Journal rows: 'a' then the added events as item key ‖ stored summary
// (hex), or 'r' then the removed ids (hex); entries separated by commas.
const (
	journalAdded   = 'a'
	journalRemoved = 'r'
)

// journalRow is one transaction's row of the journal and how many changes
// it holds.
type journalRow struct {
	text    string
	changes int
}

// addedRow is the journal row of a Put of events.
func addedRow(events []*record.Event) journalRow {
	b := make([]byte, 0, 1+len(events)*(itemKeyLen+2*record.SummaryBytes+1))
	b = append(b, journalAdded)
	for i, e := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendItemKey(b, e.CreatedAt, e.ID)
		b = hex.AppendEncode(b, store.AppendStoredSummary(nil, e))
	}
	return journalRow{text: string(b), changes: len(events)}
}

// removedRow is the journal row of a Delete of ids.
func removedRow(ids [][32]byte) journalRow {
	b := make([]byte, 0, 1+len(ids)*(idHexLen+1))
	b = append(b, journalRemoved)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = hex.AppendEncode(b, id[:])
	}
	return journalRow{text: string(b), changes: len(ids)}
}

// parseJournalRow appends the changes of one journal row to dst.
func parseJournalRow(dst []store.Change, row string) ([]store.Change, error) {
	if row == "" {
		return dst, fmt.Errorf("%w: an empty journal row", store.ErrCorrupt)
	}
	kind, body := row[0], row[1:]
	if body == "" {
		return dst, nil
	}
	for entry := range strings.SplitSeq(body, ",") {
		switch kind {
		case journalRemoved:
			var id [32]byte
			if len(entry) != idHexLen {
				return dst, fmt.Errorf("%w: a journal row removes %q", store.ErrCorrupt, entry)
			}
			if _, err := hex.Decode(id[:], []byte(entry)); err != nil {
				return dst, fmt.Errorf("%w: a journal row removes %q", store.ErrCorrupt, entry)
			}
			dst = append(dst, store.Change{Removed: true, Summary: record.Summary{ID: id}})
		case journalAdded:
			if len(entry) < itemKeyLen {
				return dst, fmt.Errorf("%w: a journal row adds %q", store.ErrCorrupt, entry)
			}
			it, err := parseItemKey(entry[:itemKeyLen])
			if err != nil {
				return dst, fmt.Errorf("%w: %w", store.ErrCorrupt, err)
			}
			b, err := hex.DecodeString(entry[itemKeyLen:])
			if err != nil {
				return dst, fmt.Errorf("%w: a journal row's summary: %w", store.ErrCorrupt, err)
			}
			sum, ok, err := store.ParseStoredSummary(it.ID, it.CreatedAt, b)
			if err != nil {
				return dst, fmt.Errorf("%w: %w", store.ErrCorrupt, err)
			}
			dst = append(dst, store.Change{Summary: sum, HasSummary: ok})
		default:
			return dst, fmt.Errorf("%w: a journal row of kind %q", store.ErrCorrupt, kind)
		}
	}
	return dst, nil
}

// bumpGeneration queues, in t (which must include the meta and journal
// stores), the read of the generation and its replacement, and the
// journal's row of the change. The transaction's completion, in the order
// the browser commits transactions, records the outcome (an aborted one
// changes nothing): a generation that is not the one this Store knows
// means another connection changed events. Callers read the generation
// first (loadGeneration).
func (s *Store) bumpGeneration(t *txn, row journalRow) {
	meta := t.store(storeMeta)
	next := newGeneration()
	prev := meta.Call("get", metaGeneration)
	meta.Call("put", next, metaGeneration)
	s.mu.Lock()
	clear := s.journaled+row.changes > journalLimit
	s.mu.Unlock()
	journal := t.store(storeJournal)
	if clear {
		// Too long: no snapshot, no journal (the next open rebuilds).
		meta.Call("delete", metaSnapshot)
		journal.Call("clear")
	} else {
		journal.Call("add", row.text)
	}
	t.completed = func() {
		seen := stringOrEmpty(prev.Get("result"))
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.genKnown || seen != s.gen {
			s.foreign = true
		}
		s.gen, s.genKnown = next, true
		if clear {
			s.journaled = 0
		} else {
			s.journaled += row.changes
		}
	}
}

// loadGeneration reads the generation once, before the first change or
// snapshot of this Store.
func (s *Store) loadGeneration(ctx context.Context) error {
	s.mu.Lock()
	known := s.genKnown
	s.mu.Unlock()
	if known {
		return nil
	}
	v, err := s.readPageOf(ctx, storeMeta, func(t *txn) js.Value { return t.store(storeMeta).Call("get", metaGeneration) })
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.genKnown {
		s.gen, s.genKnown = stringOrEmpty(v), true
	}
	return nil
}

// SaveSnapshot implements store.Snapshots: one read-write transaction
// that writes the snapshot only if the generation is still the one this
// Store knows.
func (s *Store) SaveSnapshot(ctx context.Context, data []byte) (bool, error) {
	if err := s.begin(ctx); err != nil {
		return false, err
	}
	if err := s.loadGeneration(ctx); err != nil {
		return false, failure("save a snapshot", err)
	}
	s.mu.Lock()
	gen, foreign := s.gen, s.foreign
	s.mu.Unlock()
	if foreign {
		return false, nil
	}
	t, err := s.write(false, storeMeta, storeJournal)
	if err != nil {
		return false, failure("save a snapshot", err)
	}
	value := make([]byte, 0, 8+len(data))
	value = binary.BigEndian.AppendUint64(value, genNumber(gen))
	value = append(value, data...)
	bytes := jsUint8.New(len(value))
	js.CopyBytesToJS(bytes, value)
	saved := false
	var req js.Value
	onGen := js.FuncOf(func(js.Value, []js.Value) any {
		_ = try(func() {
			if v := req.Get("result"); v.Type() == js.TypeString && v.String() == gen || (v.IsUndefined() && gen == "") {
				t.store(storeMeta).Call("put", bytes, metaSnapshot)
				// The snapshot holds every change: the journal starts over.
				t.store(storeJournal).Call("clear")
				saved = true
			}
		})
		return nil
	})
	t.handlers = append(t.handlers, onGen)
	if err := try(func() {
		req = t.store(storeMeta).Call("get", metaGeneration)
		req.Set("onsuccess", onGen)
	}); err != nil {
		return false, failure("save a snapshot", t.fail(err))
	}
	if err := t.wait(ctx); err != nil {
		return false, failure("save a snapshot", err)
	}
	if saved {
		s.mu.Lock()
		s.journaled = 0
		s.mu.Unlock()
	}
	return saved, nil
}

// LoadSnapshot implements store.Snapshots: the generation, the snapshot
// and the journal in one read transaction.
func (s *Store) LoadSnapshot(ctx context.Context) (store.Snapshot, error) {
	if err := s.begin(ctx); err != nil {
		return store.Snapshot{}, err
	}
	t, err := s.read(storeMeta, storeJournal)
	if err != nil {
		return store.Snapshot{}, failure("load the snapshot", err)
	}
	var genReq, snapReq, journalReq js.Value
	if err := try(func() {
		meta := t.store(storeMeta)
		genReq, snapReq = meta.Call("get", metaGeneration), meta.Call("get", metaSnapshot)
		journalReq = t.store(storeJournal).Call("getAll")
	}); err != nil {
		return store.Snapshot{}, failure("load the snapshot", t.fail(err))
	}
	if err := t.wait(ctx); err != nil {
		return store.Snapshot{}, failure("load the snapshot", err)
	}
	gen := stringOrEmpty(genReq.Get("result"))
	s.mu.Lock()
	if !s.genKnown {
		s.gen, s.genKnown = gen, true
	}
	s.mu.Unlock()
	v := snapReq.Get("result")
	if v.IsUndefined() {
		return store.Snapshot{}, fmt.Errorf("no snapshot: %w", store.ErrNotFound)
	}
	if !v.InstanceOf(jsUint8) || v.Length() < 8 {
		return store.Snapshot{}, fmt.Errorf("the stored snapshot is not a byte array of at least 8 bytes: %w", store.ErrNotFound)
	}
	value := make([]byte, v.Length())
	js.CopyBytesToGo(value, v)
	snap := store.Snapshot{Data: value[8:]}
	var rows []string
	if err := try(func() {
		list := journalReq.Get("result")
		n := list.Length()
		if n == 0 {
			return
		}
		// One string across the boundary; rows hold no '\n'.
		rows = strings.Split(list.Call("join", "\n").String(), "\n")
	}); err != nil {
		return store.Snapshot{}, failure("load the snapshot's journal", err)
	}
	for _, row := range rows {
		if snap.Changes, err = parseJournalRow(snap.Changes, row); err != nil {
			return store.Snapshot{}, fmt.Errorf("the snapshot's journal is damaged (%w): %w", err, store.ErrNotFound)
		}
	}
	return snap, nil
}

// genNumber is a generation as the number kept in front of a snapshot (0
// for none or one that does not parse: never drawn in practice).
func genNumber(gen string) uint64 {
	var b [8]byte
	if n, err := hex.Decode(b[:], []byte(gen)); err != nil || n != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b[:])
}
