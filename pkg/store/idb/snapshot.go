//go:build js && wasm

package idb

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
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
// LoadSnapshot returns both. Each row also carries the generation its
// transaction wrote and a CRC-32 of itself: the last row's generation must
// be the current one (with no rows, the snapshot's must), so a missing or
// damaged row makes the snapshot unusable (the open rebuilds), never wrong.
//
// Bounds: a Store counts the journal's changes and bytes from what
// LoadSnapshot read plus what it added since; once they pass both
// journalLimit changes and twice the snapshot's bytes, it clears the
// journal and drops the snapshot in its next change instead (the next open
// rebuilds). So the journal holds at most about journalLimit changes, or
// twice the snapshot's bytes in a bigger room, per tab that keeps writing
// (a tab does not count other tabs' rows, nor rows left by a tab that
// dropped the snapshot it followed): with one writing tab an open reads at
// most about three times the snapshot's bytes, and a big room's long first
// sync (see the forced saves of pkg/peerset) keeps its snapshot. A Store whose caller does not use snapshots (it has
// called neither LoadSnapshot nor SaveSnapshot) journals nothing: each of
// its changes drops the snapshot and clears the journal, so that no
// snapshot is left that misses a change.
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

// journalLimit bounds the journal: the changes a Store counts in it (those
// LoadSnapshot read and those it added since) before it clears it, and the
// snapshot, instead; unless the journal's bytes are still at most
// journalSnapshotRatio times the snapshot's. About 220 bytes a change (a
// snapshot entry of pkg/peerset: 108).
var journalLimit = 20_000

const journalSnapshotRatio = 2

// journalFull reports whether a row of changes and bytes would take the
// journal past its bound. Callers hold s.mu.
func (s *Store) journalFull(changes, bytes int) bool {
	return s.journaled+changes > journalLimit && s.journaledBytes+bytes > journalSnapshotRatio*s.snapBytes
}

// Journal rows: 'a' then the added events as item key ‖ stored summary
// (hex), or 'r' then the removed ids (hex), entries separated by commas;
// the body is preceded by the generation the row's transaction wrote (16
// hex digits) and followed by '|' and the CRC-32 (IEEE) of everything
// before it (8 hex digits).
const (
	journalAdded   = 'a'
	journalRemoved = 'r'
	genHexLen      = 16
	crcHexLen      = 8
)

// journalRow is one transaction's row of the journal (without its
// generation and checksum: see seal) and how many changes it holds.
type journalRow struct {
	kind    byte
	body    string
	changes int
}

// seal returns the row as stored, for a transaction writing gen.
func (r journalRow) seal(gen string) string {
	b := make([]byte, 0, 1+genHexLen+len(r.body)+1+crcHexLen)
	b = append(b, r.kind)
	b = append(b, gen...)
	b = append(b, r.body...)
	sum := crc32.ChecksumIEEE(b)
	b = append(b, '|')
	b = hex.AppendEncode(b, binary.BigEndian.AppendUint32(nil, sum))
	return string(b)
}

// addedRow is the journal row of a Put of events.
func addedRow(events []*record.Event) journalRow {
	b := make([]byte, 0, len(events)*(itemKeyLen+2*record.SummaryBytes+1))
	for i, e := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendItemKey(b, e.CreatedAt, e.ID)
		b = hex.AppendEncode(b, store.AppendStoredSummary(nil, e))
	}
	return journalRow{kind: journalAdded, body: string(b), changes: len(events)}
}

// removedRow is the journal row of a Delete of ids.
func removedRow(ids [][32]byte) journalRow {
	b := make([]byte, 0, len(ids)*(idHexLen+1))
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = hex.AppendEncode(b, id[:])
	}
	return journalRow{kind: journalRemoved, body: string(b), changes: len(ids)}
}

// openJournalRow checks a stored row's checksum and returns its kind,
// generation and body.
func openJournalRow(row string) (kind byte, gen, body string, err error) {
	if len(row) < 1+genHexLen+1+crcHexLen || row[len(row)-crcHexLen-1] != '|' {
		return 0, "", "", fmt.Errorf("%w: a journal row of %d bytes", store.ErrCorrupt, len(row))
	}
	head, sum := row[:len(row)-crcHexLen-1], row[len(row)-crcHexLen:]
	var want [4]byte
	if _, err := hex.Decode(want[:], []byte(sum)); err != nil || binary.BigEndian.Uint32(want[:]) != crc32.ChecksumIEEE([]byte(head)) {
		return 0, "", "", fmt.Errorf("%w: a journal row's checksum does not match", store.ErrCorrupt)
	}
	return head[0], head[1 : 1+genHexLen], head[1+genHexLen:], nil
}

// parseJournalRow appends the changes of one journal row (kind and body)
// to dst.
func parseJournalRow(dst []store.Change, kind byte, body string) ([]store.Change, error) {
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
	sealed := row.seal(next)
	s.mu.Lock()
	clear := !s.usesSnapshots || s.journalFull(row.changes, len(sealed))
	s.mu.Unlock()
	journal := t.store(storeJournal)
	if clear {
		// No snapshot user, or too long: no snapshot, no journal (the
		// next open rebuilds).
		meta.Call("delete", metaSnapshot)
		journal.Call("clear")
	} else {
		journal.Call("add", sealed)
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
			s.journaled, s.journaledBytes, s.snapBytes = 0, 0, 0
		} else {
			s.journaled += row.changes
			s.journaledBytes += len(sealed)
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
	s.mu.Lock()
	loaded := s.usesSnapshots
	s.mu.Unlock()
	if !loaded {
		// The generation this Store's caller saw is not known: it may
		// have read events after another tab's change.
		return false, nil
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
		if err := try(func() {
			if v := req.Get("result"); v.Type() == js.TypeString && v.String() == gen || (v.IsUndefined() && gen == "") {
				// The snapshot holds every change: the journal starts over.
				t.store(storeJournal).Call("clear")
				t.store(storeMeta).Call("put", bytes, metaSnapshot)
				saved = true
			}
		}); err != nil {
			saved = false
			t.abort() // neither the clear nor the snapshot alone
		}
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
		s.journaled, s.journaledBytes, s.snapBytes = 0, 0, len(data)
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
	s.mu.Lock()
	s.usesSnapshots = true
	s.mu.Unlock()
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
	last := fmt.Sprintf("%016x", binary.BigEndian.Uint64(value)) // the generation the snapshot was saved at
	var rows []string
	rowBytes := 0
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
		rowBytes += len(row)
		kind, rowGen, body, err := openJournalRow(row)
		if err == nil {
			snap.Changes, err = parseJournalRow(snap.Changes, kind, body)
		}
		if err != nil {
			return store.Snapshot{}, fmt.Errorf("the snapshot's journal is damaged (%w): %w", err, store.ErrNotFound)
		}
		last = rowGen
	}
	if last != fmt.Sprintf("%016x", genNumber(gen)) {
		return store.Snapshot{}, fmt.Errorf("the snapshot's journal does not reach the current generation: %w", store.ErrNotFound)
	}
	s.mu.Lock()
	s.journaled, s.journaledBytes, s.snapBytes = 0, 0, len(snap.Data)
	full := s.journalFull(len(snap.Changes), rowBytes)
	s.journaled, s.journaledBytes = len(snap.Changes), rowBytes
	s.mu.Unlock()
	if full {
		return store.Snapshot{}, fmt.Errorf("the snapshot's journal holds %d changes (%d bytes), more than %d and twice the snapshot's %d bytes: %w", len(snap.Changes), rowBytes, journalLimit, len(snap.Data), store.ErrNotFound)
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
