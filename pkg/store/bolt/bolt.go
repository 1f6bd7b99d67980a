//go:build !js

package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
)

// ErrLocked is returned (wrapped) by Open when another process, or another
// open Store in this process, holds the file.
var ErrLocked = errors.New("database is locked by another process")

// ErrSchema is returned (wrapped) by Open for a file written by an
// incompatible version of this package.
var ErrSchema = errors.New("unsupported store schema version")

// DefaultLockTimeout is how long Open waits for the file lock by default.
const DefaultLockTimeout = time.Second

// schemaVersion is written in new files and checked at Open. Version 1
// files (the time index held bare kinds) are migrated to 2 (it holds each
// event's summary, store.AppendStoredSummary) at Open.
const schemaVersion = 2

// migratePageSize is how many events one migration transaction rewrites.
const migratePageSize = 4096

// Page sizes of Items and Scan: each page is one short read transaction.
const (
	itemsPageSize = 4096
	scanPageSize  = 256
)

var (
	bucketEvents   = []byte("events")
	bucketByTime   = []byte("by_time")
	bucketByAuthor = []byte("by_author")
	bucketByAddr   = []byte("by_address")
	bucketMeta     = []byte("meta")
	bucketInternal = []byte("internal")

	keySchema = []byte("schema")
	keyCount  = []byte("count")
)

// Options configure Open. The zero value is ready to use.
type Options struct {
	// LockTimeout is how long Open waits for another holder of the file to
	// let go before failing with ErrLocked; 0 means DefaultLockTimeout.
	LockTimeout time.Duration
	// NoSync skips fsync on commit. Writes are then not durable: only for
	// throwaway data such as benchmarks.
	NoSync bool
}

// Store is a store.Store on a bbolt file. It is safe for concurrent use;
// writes are serialised by bbolt, reads run in parallel.
type Store struct {
	db     *bbolt.DB
	path   string
	closed atomic.Bool
	reads  atomic.Int64 // events read by id since the file was last released
}

// readsBeforeRelease is how many events or index entries read (Get, GetMany,
// Query, and the pages of Items, Summaries and Scan) make the store drop the
// file's pages from the process's resident set (releaseMapped): a peer
// serving a big room reads events all over the file, and through the
// kernel's fault-around each read maps up to 64 KiB, so without it a seeder
// of 1M records counted most of its 1.6 GB file in its RSS, and opening it
// (a scan of the time index) did too until the scan ended. 1,024 reads map
// at most about 64 MiB; the release costs one madvise.
var readsBeforeRelease int64 = 1024

// noteReads counts events read by id and releases the mapped file past
// readsBeforeRelease. Call it outside a transaction.
func (s *Store) noteReads(n int) {
	if n > 0 && s.reads.Add(int64(n)) >= readsBeforeRelease {
		s.reads.Store(0)
		s.releaseMapped()
	}
}

var _ store.Store = (*Store)(nil)

// Open opens the store in the file at path, creating it if needed (its
// directory must exist). It fails with an error wrapping ErrLocked if the
// file stays locked for opts.LockTimeout.
func Open(path string, opts Options) (*Store, error) {
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:      timeout,
		NoSync:       opts.NoSync,
		FreelistType: bbolt.FreelistMapType,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("failed to open store %s: %w (waited %v)", path, ErrLocked, timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to open store %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	var version uint64
	if err := db.Update(func(tx *bbolt.Tx) (err error) { version, err = initialize(tx); return err }); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("failed to open store %s: %w", path, err)
	}
	if version == 1 {
		if err := s.migrateSummaries(); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("failed to open store %s: failed to migrate it to schema version %d: %w", path, schemaVersion, err)
		}
	}
	return s, nil
}

// migrateSummaries writes the summary of every event of a version 1 file
// into the time index, page by page (an interrupted migration resumes where
// it stopped), then marks the file as version 2.
func (s *Store) migrateSummaries() error {
	var cursor []byte
	for {
		done := false
		err := s.db.Update(func(tx *bbolt.Tx) error {
			evs, byTime := tx.Bucket(bucketEvents), tx.Bucket(bucketByTime)
			c := byTime.Cursor()
			k, v := c.First()
			if cursor != nil {
				if k, v = c.Seek(cursor); k != nil && bytes.Equal(k, cursor) {
					k, v = c.Next()
				}
			}
			type update struct{ k, v []byte }
			var updates []update
			for n := 0; k != nil && n < migratePageSize; k, v = c.Next() {
				n++
				cursor = slices.Clone(k)
				if len(k) != 40 || len(v) != 2 {
					continue // already a summary
				}
				raw := evs.Get(k[8:])
				if raw == nil {
					continue
				}
				e, err := store.DecodeEvent(lastID(k), raw)
				if err != nil {
					continue // corrupt: Summaries reports it without a summary
				}
				updates = append(updates, update{slices.Clone(k), store.AppendStoredSummary(nil, e)})
			}
			for _, u := range updates {
				if err := byTime.Put(u.k, u.v); err != nil {
					return err
				}
			}
			if k == nil {
				done = true
				return tx.Bucket(bucketInternal).Put(keySchema, be64(schemaVersion))
			}
			return nil
		})
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// initialize creates the buckets of a new file (and the blob buckets of an
// older one: they need no schema version of their own) and checks the
// schema version of an existing one, which it returns (1 needs a
// migration).
func initialize(tx *bbolt.Tx) (uint64, error) {
	for _, name := range [][]byte{bucketEvents, bucketByTime, bucketByAuthor, bucketByAddr, bucketMeta, bucketInternal,
		bucketBlobs, bucketBlobChunks, bucketBlobRefs, bucketBlobsByRef} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return 0, fmt.Errorf("failed to create bucket %s: %w", name, err)
		}
	}
	internal := tx.Bucket(bucketInternal)
	v := internal.Get(keySchema)
	if v == nil {
		if tx.Bucket(bucketEvents).Stats().KeyN != 0 {
			return 0, fmt.Errorf("%w: events without a schema version", ErrSchema)
		}
		if err := internal.Put(keySchema, be64(schemaVersion)); err != nil {
			return 0, fmt.Errorf("failed to write schema version: %w", err)
		}
		return schemaVersion, internal.Put(keyCount, be64(0))
	}
	if len(v) != 8 || (binary.BigEndian.Uint64(v) != schemaVersion && binary.BigEndian.Uint64(v) != 1) {
		return 0, fmt.Errorf("%w: file has %x, want %d", ErrSchema, v, schemaVersion)
	}
	return binary.BigEndian.Uint64(v), nil
}

// Path returns the file the store was opened on.
func (s *Store) Path() string { return s.path }

// Close implements store.Store. It waits for running transactions.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("failed to close store %s: %w", s.path, err)
	}
	return nil
}

func (s *Store) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	return nil
}

// view and update run a transaction and turn bbolt's "not open" into
// store.ErrClosed (Close may win a race with begin).
func (s *Store) view(fn func(*bbolt.Tx) error) error {
	return closedError(s.db.View(fn))
}

func (s *Store) update(fn func(*bbolt.Tx) error) error {
	return closedError(s.db.Update(fn))
}

func closedError(err error) error {
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return store.ErrClosed
	}
	return err
}

// Key encodings.

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func timeKey(createdAt int64, id [32]byte) []byte {
	k := make([]byte, 0, 40)
	k = binary.BigEndian.AppendUint64(k, uint64(createdAt))
	return append(k, id[:]...)
}

func authorKey(pk record.PublicKey, createdAt int64, id [32]byte) []byte {
	k := make([]byte, 0, 72)
	k = append(k, pk[:]...)
	k = binary.BigEndian.AppendUint64(k, uint64(createdAt))
	return append(k, id[:]...)
}

func addressPrefix(a record.Address) []byte {
	k := make([]byte, 0, 2+32+2+len(a.UUID)+32)
	k = binary.BigEndian.AppendUint16(k, uint16(a.Kind))
	k = append(k, a.PubKey[:]...)
	k = binary.BigEndian.AppendUint16(k, uint16(len(a.UUID)))
	return append(k, a.UUID...)
}

func addressKey(a record.Address, id [32]byte) []byte {
	return append(addressPrefix(a), id[:]...)
}

func kindValue(kind int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(kind)) }

// checkAddress reports whether an address can be encoded in the index.
func checkAddress(a record.Address) bool {
	return a.Kind >= 0 && a.Kind <= math.MaxUint16 && len(a.UUID) <= store.MaxUUIDBytes
}

// lastID returns the trailing 32-byte id of an index key.
func lastID(k []byte) (id [32]byte) {
	copy(id[:], k[len(k)-32:])
	return id
}

// Put implements store.Store.
func (s *Store) Put(ctx context.Context, events ...*record.Event) error {
	if err := store.CheckBatch(events); err != nil {
		return err
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	// Encode outside the write lock.
	encoded := make([][]byte, len(events))
	summaries := make([][]byte, len(events))
	for i, e := range events {
		encoded[i] = store.EncodeEvent(e)
		summaries[i] = store.AppendStoredSummary(nil, e)
	}
	err := s.update(func(tx *bbolt.Tx) error {
		evs, byTime, byAuthor, byAddr := tx.Bucket(bucketEvents), tx.Bucket(bucketByTime), tx.Bucket(bucketByAuthor), tx.Bucket(bucketByAddr)
		added := 0
		for i, e := range events {
			if evs.Get(e.ID[:]) != nil {
				continue
			}
			kind := kindValue(e.Kind)
			if err := evs.Put(slices.Clone(e.ID[:]), encoded[i]); err != nil {
				return err
			}
			if err := byTime.Put(timeKey(e.CreatedAt, e.ID), summaries[i]); err != nil {
				return err
			}
			if err := byAuthor.Put(authorKey(e.PubKey, e.CreatedAt, e.ID), kind); err != nil {
				return err
			}
			if addr, ok := store.IndexAddress(e); ok {
				if err := byAddr.Put(addressKey(addr, e.ID), []byte{}); err != nil {
					return err
				}
			}
			added++
		}
		return addCount(tx, added)
	})
	if err != nil {
		return fmt.Errorf("failed to put %d events: %w", len(events), err)
	}
	return nil
}

// addCount adjusts the stored event count by delta.
func addCount(tx *bbolt.Tx, delta int) error {
	if delta == 0 {
		return nil
	}
	internal := tx.Bucket(bucketInternal)
	n := int64(binary.BigEndian.Uint64(internal.Get(keyCount))) + int64(delta)
	return internal.Put(keyCount, be64(uint64(max(n, 0))))
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, ids ...[32]byte) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	err := s.update(func(tx *bbolt.Tx) error {
		evs := tx.Bucket(bucketEvents)
		removed := 0
		for _, id := range ids {
			v := evs.Get(id[:])
			if v == nil {
				continue
			}
			e, err := store.DecodeEvent(id, v)
			if err != nil {
				err = removeIndexEntriesByScan(tx, id)
			} else {
				err = removeIndexEntries(tx, e)
			}
			if err != nil {
				return err
			}
			if err := evs.Delete(id[:]); err != nil {
				return err
			}
			removed++
		}
		return addCount(tx, -removed)
	})
	if err != nil {
		return fmt.Errorf("failed to delete %d events: %w", len(ids), err)
	}
	return nil
}

func removeIndexEntries(tx *bbolt.Tx, e *record.Event) error {
	if err := tx.Bucket(bucketByTime).Delete(timeKey(e.CreatedAt, e.ID)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketByAuthor).Delete(authorKey(e.PubKey, e.CreatedAt, e.ID)); err != nil {
		return err
	}
	if addr, ok := store.IndexAddress(e); ok && checkAddress(addr) {
		return tx.Bucket(bucketByAddr).Delete(addressKey(addr, e.ID))
	}
	return nil
}

// removeIndexEntriesByScan removes the index entries of an event whose stored
// JSON cannot be decoded, so its keys are unknown: it walks every index. This
// O(n) repair path only runs when deleting a corrupt event.
func removeIndexEntriesByScan(tx *bbolt.Tx, id [32]byte) error {
	for _, name := range [][]byte{bucketByTime, bucketByAuthor, bucketByAddr} {
		c := tx.Bucket(name).Cursor()
		for k, _ := c.First(); k != nil; {
			if len(k) >= 32 && lastID(k) == id {
				deleted := slices.Clone(k)
				if err := c.Delete(); err != nil {
					return err
				}
				// Re-seek: a cursor's position after Delete is not reliable.
				k, _ = c.Seek(deleted)
				continue
			}
			k, _ = c.Next()
		}
	}
	return nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id [32]byte) (*record.Event, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	var e *record.Event
	err := s.view(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketEvents).Get(id[:])
		if v == nil {
			return store.ErrNotFound
		}
		var err error
		e, err = store.DecodeEvent(id, v)
		if err != nil {
			corrupt := &store.CorruptError{}
			corrupt.Add(id, err)
			return corrupt
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrCorrupt) || errors.Is(err, store.ErrClosed) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("failed to get event %x: %w", id, err)
	}
	s.noteReads(1)
	return e, nil
}

// reader decodes events inside a read transaction, collecting corrupt ids.
type reader struct {
	events  *bbolt.Bucket
	corrupt *store.CorruptError
}

func newReader(tx *bbolt.Tx, corrupt *store.CorruptError) *reader {
	return &reader{events: tx.Bucket(bucketEvents), corrupt: corrupt}
}

// get returns the event stored under id, nil if there is none, and nil after
// recording the id if it cannot be decoded.
func (r *reader) get(id [32]byte) *record.Event {
	v := r.events.Get(id[:])
	if v == nil {
		return nil
	}
	e, err := store.DecodeEvent(id, v)
	if err != nil {
		r.corrupt.Add(id, err)
		return nil
	}
	return e
}

// mustGet is get for an id found in an index, where a missing event is an
// inconsistency to report.
func (r *reader) mustGet(id [32]byte) *record.Event {
	if r.events.Get(id[:]) == nil {
		r.corrupt.Add(id, fmt.Errorf("event %x is indexed but not stored", id))
		return nil
	}
	return r.get(id)
}

// GetMany implements store.Store.
func (s *Store) GetMany(ctx context.Context, ids [][32]byte) ([]*record.Event, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	var out []*record.Event
	var corrupt error
	err := s.view(func(tx *bbolt.Tx) error {
		r := newReader(tx, &store.CorruptError{})
		for _, id := range ids {
			if e := r.get(id); e != nil {
				out = append(out, e)
			}
		}
		corrupt = r.corrupt.OrNil()
		return nil
	})
	if err != nil {
		return nil, readError("get events", err)
	}
	s.noteReads(len(ids))
	return out, corrupt
}

func readError(what string, err error) error {
	if errors.Is(err, store.ErrClosed) {
		return err
	}
	return fmt.Errorf("failed to %s: %w", what, err)
}

// GetByAddress implements store.Store.
func (s *Store) GetByAddress(ctx context.Context, addr record.Address) ([]*record.Event, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if !checkAddress(addr) {
		return nil, nil
	}
	prefix := addressPrefix(addr)
	var out []*record.Event
	var corrupt error
	err := s.view(func(tx *bbolt.Tx) error {
		r := newReader(tx, &store.CorruptError{})
		c := tx.Bucket(bucketByAddr).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if len(k) != len(prefix)+32 {
				continue // malformed key (the UUID length is in the prefix, so no other address matches)
			}
			if e := r.mustGet(lastID(k)); e != nil {
				out = append(out, e)
			}
		}
		corrupt = r.corrupt.OrNil()
		return nil
	})
	if err != nil {
		return nil, readError("get events by address", err)
	}
	slices.SortFunc(out, store.CompareReplacement)
	return out, corrupt
}

// Query implements store.Store.
func (s *Store) Query(ctx context.Context, q store.Query) ([]*record.Event, error) {
	if err := q.Check(); err != nil {
		return nil, err
	}
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	bucket, prefix := bucketByTime, []byte(nil)
	if q.Author != nil {
		bucket, prefix = bucketByAuthor, q.Author[:]
	}
	var out []*record.Event
	var corrupt error
	err := s.view(func(tx *bbolt.Tx) error {
		r := newReader(tx, &store.CorruptError{})
		c := tx.Bucket(bucket).Cursor()
		// visit handles one index entry and reports whether to go on.
		visit := func(k, v []byte) bool {
			if len(v) >= 2 && !q.MatchesKind(int(binary.BigEndian.Uint16(v))) {
				return true
			}
			e := r.mustGet(lastID(k))
			if e == nil || !q.Matches(e) {
				return true
			}
			out = append(out, e)
			return q.Limit == 0 || len(out) < q.Limit
		}
		createdAt := func(k []byte) int64 {
			return int64(binary.BigEndian.Uint64(k[len(prefix) : len(prefix)+8]))
		}
		if q.Descending {
			// Position on the last key below the exclusive upper bound.
			var bound []byte
			if q.Until != 0 && q.Until < math.MaxInt64 {
				bound = append(slices.Clone(prefix), be64(uint64(q.Until+1))...)
			} else {
				bound = prefixEnd(prefix)
			}
			if q.After != nil {
				after := append(slices.Clone(prefix), timeKey(q.After.CreatedAt, q.After.ID)...)
				if bound == nil || bytes.Compare(after, bound) < 0 {
					bound = after
				}
			}
			var k, v []byte
			if bound == nil {
				k, v = c.Last()
			} else if k, _ = c.Seek(bound); k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
			for ; k != nil && bytes.HasPrefix(k, prefix) && createdAt(k) >= q.Since; k, v = c.Prev() {
				if !visit(k, v) {
					break
				}
			}
		} else {
			start := append(slices.Clone(prefix), timeKey(q.Since, [32]byte{})...)
			var after []byte
			if q.After != nil {
				after = append(slices.Clone(prefix), timeKey(q.After.CreatedAt, q.After.ID)...)
				if bytes.Compare(after, start) > 0 {
					start = after
				}
			}
			k, v := c.Seek(start)
			if k != nil && after != nil && bytes.Equal(k, after) {
				k, v = c.Next()
			}
			for ; k != nil && bytes.HasPrefix(k, prefix) && (q.Until == 0 || createdAt(k) <= q.Until); k, v = c.Next() {
				if !visit(k, v) {
					break
				}
			}
		}
		corrupt = r.corrupt.OrNil()
		return nil
	})
	if err != nil {
		return nil, readError("query events", err)
	}
	s.noteReads(len(out))
	return out, corrupt
}

// prefixEnd returns the smallest key greater than every key starting with
// prefix, or nil if there is none (empty or all-0xff prefix).
func prefixEnd(prefix []byte) []byte {
	end := slices.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// page reads up to limit time-index keys after the cursor key (from the
// start when cursor is nil) in one read transaction.
func (s *Store) page(ctx context.Context, cursor []byte, limit int, fn func(tx *bbolt.Tx, k, v []byte)) (last []byte, n int, err error) {
	if err := s.begin(ctx); err != nil {
		return nil, 0, err
	}
	err = s.view(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketByTime).Cursor()
		var k, v []byte
		if cursor == nil {
			k, v = c.First()
		} else if k, v = c.Seek(cursor); k != nil && bytes.Equal(k, cursor) {
			k, v = c.Next()
		}
		for ; k != nil && n < limit; k, v = c.Next() {
			fn(tx, k, v)
			last = k
			n++
		}
		last = slices.Clone(last)
		return nil
	})
	if err != nil {
		return nil, 0, readError("read the time index", err)
	}
	return last, n, nil
}

// Items implements store.Store. It reads only the time index.
func (s *Store) Items(ctx context.Context, fn func(createdAt int64, id [32]byte) error) error {
	var cursor []byte
	items := make([]store.Item, 0, itemsPageSize)
	for {
		items = items[:0]
		last, n, err := s.page(ctx, cursor, itemsPageSize, func(_ *bbolt.Tx, k, _ []byte) {
			if len(k) == 40 {
				items = append(items, store.Item{CreatedAt: int64(binary.BigEndian.Uint64(k)), ID: lastID(k)})
			}
		})
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := fn(it.CreatedAt, it.ID); err != nil {
				return err
			}
		}
		s.noteReads(n)
		if n < itemsPageSize {
			s.releaseMapped()
			return nil
		}
		cursor = last
	}
}

// Summaries implements store.Store. It reads only the time index, whose
// values are the events' summaries.
func (s *Store) Summaries(ctx context.Context, fn func(record.Summary, bool) error) error {
	type entry struct {
		s  record.Summary
		ok bool
	}
	var cursor []byte
	page := make([]entry, 0, itemsPageSize)
	for {
		page = page[:0]
		last, n, err := s.page(ctx, cursor, itemsPageSize, func(_ *bbolt.Tx, k, v []byte) {
			if len(k) != 40 {
				return
			}
			sum, ok, err := store.ParseStoredSummary(lastID(k), int64(binary.BigEndian.Uint64(k)), v)
			if err != nil {
				sum, ok = record.Summary{ID: lastID(k), CreatedAt: int64(binary.BigEndian.Uint64(k))}, false
			}
			page = append(page, entry{sum, ok})
		})
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := fn(e.s, e.ok); err != nil {
				return err
			}
		}
		s.noteReads(n)
		if n < itemsPageSize {
			s.releaseMapped()
			return nil
		}
		cursor = last
	}
}

// Scan implements store.Store. Corrupt events are skipped and reported at
// the end as a *store.CorruptError.
func (s *Store) Scan(ctx context.Context, fn func(*record.Event) error) error {
	var cursor []byte
	var corrupt store.CorruptError
	events := make([]*record.Event, 0, scanPageSize)
	for {
		events = events[:0]
		last, n, err := s.page(ctx, cursor, scanPageSize, func(tx *bbolt.Tx, k, _ []byte) {
			if len(k) != 40 {
				return
			}
			if e := newReader(tx, &corrupt).mustGet(lastID(k)); e != nil {
				events = append(events, e)
			}
		})
		if err != nil {
			return err
		}
		for _, e := range events {
			if err := fn(e); err != nil {
				return err
			}
		}
		s.noteReads(n)
		if n < scanPageSize {
			s.releaseMapped()
			return corrupt.OrNil()
		}
		cursor = last
	}
}

// Count implements store.Store: the count kept by every write, O(1).
func (s *Store) Count(ctx context.Context) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	var n uint64
	err := s.view(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketInternal).Get(keyCount)
		if len(v) != 8 {
			return fmt.Errorf("%w: malformed event count", store.ErrCorrupt)
		}
		n = binary.BigEndian.Uint64(v)
		return nil
	})
	if err != nil {
		return 0, readError("count events", err)
	}
	return int(n), nil
}

// GetMeta implements store.Store.
func (s *Store) GetMeta(ctx context.Context, key string) ([]byte, error) {
	if err := store.CheckMetaKey(key); err != nil {
		return nil, err
	}
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	var value []byte
	err := s.view(func(tx *bbolt.Tx) error {
		// A cursor tells an empty value from a missing key.
		k, v := tx.Bucket(bucketMeta).Cursor().Seek([]byte(key))
		if k == nil || string(k) != key {
			return store.ErrNotFound
		}
		value = append([]byte{}, v...)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, readError("get metadata "+key, err)
	}
	return value, nil
}

// SetMeta implements store.Store.
func (s *Store) SetMeta(ctx context.Context, key string, value []byte) error {
	if err := store.CheckMetaKey(key); err != nil {
		return err
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	err := s.update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte(key), append([]byte{}, value...))
	})
	if err != nil {
		return readError("set metadata "+key, err)
	}
	return nil
}

// DeleteMeta implements store.Store.
func (s *Store) DeleteMeta(ctx context.Context, key string) error {
	if err := store.CheckMetaKey(key); err != nil {
		return err
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	err := s.update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Delete([]byte(key))
	})
	if err != nil {
		return readError("delete metadata "+key, err)
	}
	return nil
}
