// Package store defines peerset's storage layer: the Store interface that the
// peerset.DB facade persists records through, its shared semantics (what a
// valid event is, how queries, address lookups and scans order their
// results) and an in-memory implementation (NewMemory).
//
// Backends: NewMemory here; pkg/store/bolt, a bbolt file for native peers;
// pkg/store/idb, IndexedDB in a browser. Every backend must pass the
// conformance suite in pkg/store/storetest. NewCache puts a bounded cache of
// recently used events in front of any of them.
//
// A store keeps what it is given. It does not verify ids or signatures, apply
// the replacement rule, honour deletion requests or moderate: that is the
// caller's job, done before Put. It only refuses events it could not store and
// read back (see CheckEvent). The package is pure Go and builds for js/wasm.
//
// A backend needs: events keyed by id (stored as EncodeEvent's JSON), an
// ordered index on (created_at, id) that also yields each event's summary
// (AppendStoredSummary) without decoding it, one on (pubkey, created_at, id),
// one on the IndexAddress of each event, and a key-value space for metadata. In
// IndexedDB these are an object store with compound-key indexes; Query.After
// maps to an open key-range bound, and Items/Scan read in pages so that no
// transaction outlives a callback.
//
// Every backend also implements Blobs (blob.go): the infos, chunks and
// record references of the files records refer to, checked by
// storetest.RunBlobs.
package store

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/peersetdb/peerset/pkg/record"
)

// Errors returned by every Store. Backend failures (I/O, a full disk, a
// browser storage quota) are returned wrapped as "failed to X: %w" and never
// swallowed.
var (
	ErrNotFound     = errors.New("not found")
	ErrClosed       = errors.New("store is closed")
	ErrInvalidEvent = errors.New("invalid event for the store")
	ErrInvalidQuery = errors.New("invalid query")
	ErrInvalidKey   = errors.New("invalid metadata key: must be 1..255 bytes")
	// ErrCorrupt is matched (errors.Is) by every *CorruptError.
	ErrCorrupt = errors.New("stored event is corrupt")
)

// Store is the storage under the peerset.DB facade.
//
// The interface is batch-oriented and keeps no transaction or iterator open
// across calls or across a callback, so that it can be implemented on
// asynchronous browser storage (IndexedDB transactions end as soon as control
// returns to the event loop). Every blocking call takes a context; a call
// checks it before starting and between pages of a long read, but a write that
// has started is committed or rolled back as a whole.
//
// All methods are safe for concurrent use. Events passed to Put and returned by
// reads are not retained or shared: the store keeps its own copy, and the
// caller owns what it gets back.
//
// Reads that return several events (GetMany, GetByAddress, Query, Scan) skip a
// stored event that cannot be decoded, carry on, and then return a
// *CorruptError naming the skipped ids together with the events that could be
// read. Delete removes such an event by id.
type Store interface {
	// Put stores a batch of events atomically: either all of them or none.
	// It returns only after the batch is durably committed. Storing an id
	// that is already stored is a no-op (the first copy is kept: the id is
	// the hash of the content), so Put is idempotent. A batch containing an
	// event that fails CheckEvent stores nothing and returns an error
	// wrapping ErrInvalidEvent.
	Put(ctx context.Context, events ...*record.Event) error

	// Delete removes the events with these ids, atomically as one batch.
	// Ids that are not stored are ignored.
	Delete(ctx context.Context, ids ...[32]byte) error

	// Get returns the event with this id, or an error wrapping ErrNotFound.
	Get(ctx context.Context, id [32]byte) (*record.Event, error)

	// GetMany returns the stored events among ids, in the order of ids;
	// ids that are not stored are left out.
	GetMany(ctx context.Context, ids [][32]byte) ([]*record.Event, error)

	// GetByAddress returns every stored event about an addressable record
	// (see IndexAddress): the stored versions of the record and the stored
	// deletion requests that target it, in replacement order
	// (CompareReplacement): the newest first, at equal times the lower id
	// first. An empty result is not an error. With it the caller applies
	// the replacement rule and NIP-09 deletion in one lookup.
	GetByAddress(ctx context.Context, addr record.Address) ([]*record.Event, error)

	// Query returns the events matching q in (created_at, id) order,
	// ascending or descending; see Query.
	Query(ctx context.Context, q Query) ([]*record.Event, error)

	// Items calls fn with the (created_at, id) of every stored event in
	// ascending (created_at, id) order, without decoding events where the
	// backend can avoid it. It is what the facade rebuilds its tree from at
	// open. The backend may read in pages: fn runs outside any backend
	// transaction and may call the store, but events written or deleted
	// during Items may or may not be visited. An error from fn stops the
	// iteration and is returned as is.
	Items(ctx context.Context, fn func(createdAt int64, id [32]byte) error) error

	// Scan calls fn with every stored event in ascending (created_at, id)
	// order, with the same paging rules as Items.
	Scan(ctx context.Context, fn func(*record.Event) error) error

	// Summaries calls fn with the record.Summary of every stored event in
	// ascending (created_at, id) order, with the same paging rules as Items,
	// without decoding events: backends keep the summary (SummaryOf) beside
	// each event. It is what the facade rebuilds its index from at open. An
	// event without a summary (not a well-formed record or deletion) comes
	// with ok false and only its ID, CreatedAt and Kind set.
	Summaries(ctx context.Context, fn func(s record.Summary, ok bool) error) error

	// Count returns the number of stored events.
	Count(ctx context.Context) (int, error)

	// GetMeta returns the metadata value under key (the node's key,
	// settings, sync cursors), or an error wrapping ErrNotFound.
	GetMeta(ctx context.Context, key string) ([]byte, error)
	// SetMeta stores value under key, durably, replacing any previous value.
	// A nil value is stored as an empty one.
	SetMeta(ctx context.Context, key string, value []byte) error
	// DeleteMeta removes key; a missing key is not an error.
	DeleteMeta(ctx context.Context, key string) error

	// Close releases the store. Later calls return ErrClosed; closing twice
	// is not an error.
	Close() error
}

// Query selects events. The zero Query selects every event, oldest first.
type Query struct {
	// Author, when set, selects the events of one author (author index).
	Author *record.PublicKey
	// Kinds, when not empty, selects the events of these kinds.
	Kinds []int
	// Since and Until bound created_at inclusively, as in a NIP-01 filter.
	// Until 0 means no upper bound.
	Since, Until int64
	// Limit caps the number of events returned; 0 means no limit.
	Limit int
	// Descending returns the newest events first: (created_at, id) in
	// descending order, the exact reverse of the ascending order.
	Descending bool
	// After, when set, resumes a paged query: only events strictly after
	// this item in the query's order are returned (strictly before it when
	// Descending). Pass the ItemOf the last event of the previous page.
	After *Item
}

// Check reports whether q is well formed: Limit, Since and Until must not be
// negative. The error wraps ErrInvalidQuery.
func (q Query) Check() error {
	switch {
	case q.Limit < 0:
		return fmt.Errorf("%w: negative limit %d", ErrInvalidQuery, q.Limit)
	case q.Since < 0:
		return fmt.Errorf("%w: negative since %d", ErrInvalidQuery, q.Since)
	case q.Until < 0:
		return fmt.Errorf("%w: negative until %d", ErrInvalidQuery, q.Until)
	}
	return nil
}

// Matches reports whether e passes the query's author, kind and time filters
// (not Limit or After). Backends may use it as their post-filter.
func (q Query) Matches(e *record.Event) bool {
	if q.Author != nil && e.PubKey != *q.Author {
		return false
	}
	return q.MatchesKind(e.Kind) && q.MatchesTime(e.CreatedAt)
}

// MatchesKind reports whether kind passes the Kinds filter.
func (q Query) MatchesKind(kind int) bool {
	return len(q.Kinds) == 0 || slices.Contains(q.Kinds, kind)
}

// MatchesTime reports whether createdAt passes the Since and Until filters.
func (q Query) MatchesTime(createdAt int64) bool {
	return createdAt >= q.Since && (q.Until == 0 || createdAt <= q.Until)
}

// Item is the key an event is ordered by: its creation time, then its id.
type Item struct {
	CreatedAt int64
	ID        [32]byte
}

// ItemOf returns the ordering key of e.
func ItemOf(e *record.Event) Item { return Item{CreatedAt: e.CreatedAt, ID: e.ID} }

// Compare orders items by CreatedAt, then by ID bytewise.
func (it Item) Compare(other Item) int {
	if c := cmp.Compare(it.CreatedAt, other.CreatedAt); c != 0 {
		return c
	}
	return bytes.Compare(it.ID[:], other.ID[:])
}

// CompareReplacement orders events the way GetByAddress returns them: newer
// created_at first, at equal times the lower id first (the NIP-01 rule, so
// the first event of a record address is its live version).
func CompareReplacement(a, b *record.Event) int {
	if c := cmp.Compare(b.CreatedAt, a.CreatedAt); c != 0 {
		return c
	}
	return bytes.Compare(a.ID[:], b.ID[:])
}

// CheckEvent reports whether a store can keep e: it must not be nil and must
// be well formed (record.Event.CheckWellFormed: kind in 0..65535, created_at
// not negative, no empty tag, valid UTF-8), because the indexes need the first
// two and an event failing the others could not be read back, and an
// addressable event's "d" tag must fit MaxUUIDBytes. It does not
// check the id or the signature. The error wraps ErrInvalidEvent.
func CheckEvent(e *record.Event) error {
	if e == nil {
		return fmt.Errorf("%w: nil event", ErrInvalidEvent)
	}
	if err := e.CheckWellFormed(); err != nil {
		return fmt.Errorf("%w %s: %w", ErrInvalidEvent, e.IDHex(), err)
	}
	if addr, ok := IndexAddress(e); ok && len(addr.UUID) > MaxUUIDBytes {
		return fmt.Errorf("%w %s: d tag of %d bytes, over %d", ErrInvalidEvent, e.IDHex(), len(addr.UUID), MaxUUIDBytes)
	}
	return nil
}

// MaxUUIDBytes bounds the "d" tag of an addressable event a store accepts, so
// that it fits an index key in every backend (bbolt keys stop at 32 KiB).
// Peerset records carry a 36-byte UUID.
const MaxUUIDBytes = 4096

// CheckBatch applies CheckEvent to every event of a Put batch.
func CheckBatch(events []*record.Event) error {
	for i, e := range events {
		if err := CheckEvent(e); err != nil {
			return fmt.Errorf("batch element %d: %w", i, err)
		}
	}
	return nil
}

// IndexAddress returns the record address an event is indexed under for
// GetByAddress, and false if it has none:
//   - an addressable event (kind 30000–39999) under its own address
//     (record.AddressOf; an event without a "d" tag has the empty UUID);
//   - a NIP-09 deletion under the record address it targets
//     (record.DeletionTarget), if it names a valid one.
func IndexAddress(e *record.Event) (record.Address, bool) {
	switch {
	case e.Kind >= 30000 && e.Kind < 40000:
		return record.AddressOf(e), true
	case e.Kind == record.KindDeletion:
		addr, err := record.DeletionTarget(e)
		return addr, err == nil
	}
	return record.Address{}, false
}

// SummaryOf returns the summary a store keeps for e, and whether e has one
// (see Store.Summaries).
func SummaryOf(e *record.Event) (record.Summary, bool) {
	s, err := record.Summarize(e)
	if err != nil {
		return record.Summary{ID: e.ID, CreatedAt: e.CreatedAt, Kind: e.Kind}, false
	}
	return s, true
}

// AppendStoredSummary appends the stored form of e's summary: 68 bytes
// (record.AppendSummary), or only its kind as two big-endian bytes when it has
// none. Both begin with the kind.
func AppendStoredSummary(dst []byte, e *record.Event) []byte {
	if s, ok := SummaryOf(e); ok {
		return record.AppendSummary(dst, s)
	}
	return append(dst, byte(e.Kind>>8), byte(e.Kind))
}

// ParseStoredSummary reads what AppendStoredSummary wrote for the event with
// this id and created_at.
func ParseStoredSummary(id [32]byte, createdAt int64, b []byte) (record.Summary, bool, error) {
	if len(b) == 2 {
		return record.Summary{ID: id, CreatedAt: createdAt, Kind: int(b[0])<<8 | int(b[1])}, false, nil
	}
	s, err := record.ParseSummary(id, createdAt, b)
	if err != nil {
		return s, false, err
	}
	return s, true, nil
}

// CheckMetaKey reports whether key can name a metadata value.
func CheckMetaKey(key string) error {
	if len(key) == 0 || len(key) > 255 {
		return fmt.Errorf("%w: %d bytes", ErrInvalidKey, len(key))
	}
	return nil
}

// CloneEvent returns a deep copy of e, so that a store and its callers never
// share tag slices.
func CloneEvent(e *record.Event) *record.Event {
	c := *e
	if e.Tags != nil {
		c.Tags = make([][]string, len(e.Tags))
		for i, t := range e.Tags {
			c.Tags[i] = slices.Clone(t)
		}
	}
	return &c
}

// CorruptError reports stored events that could not be decoded. Reads of
// several events return it after the events that could be read.
type CorruptError struct {
	IDs [][32]byte
	Err error // the first decoding error
}

func (e *CorruptError) Error() string {
	if len(e.IDs) == 1 {
		return fmt.Sprintf("stored event %x is corrupt: %v", e.IDs[0], e.Err)
	}
	return fmt.Sprintf("%d stored events are corrupt, the first %x: %v", len(e.IDs), e.IDs[0], e.Err)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Unwrap returns the first decoding error.
func (e *CorruptError) Unwrap() error { return e.Err }

// Add records one more corrupt id.
func (e *CorruptError) Add(id [32]byte, err error) {
	if e.Err == nil {
		e.Err = err
	}
	e.IDs = append(e.IDs, id)
}

// OrNil returns e if it recorded an id, and nil otherwise, so a read can end
// with "return events, corrupt.OrNil()".
func (e *CorruptError) OrNil() error {
	if e == nil || len(e.IDs) == 0 {
		return nil
	}
	return e
}

// maxStoredEventBytes bounds the JSON of one stored event when it is decoded:
// far above any record limit a room can configure, it only guards against a
// corrupt length.
const maxStoredEventBytes = 64 << 20

// EncodeEvent returns the stored form of an event: its NIP-01 JSON object.
// Every backend stores this form, so stored data can be exported as is.
func EncodeEvent(e *record.Event) []byte { return e.AppendJSON(nil) }

// DecodeEvent reads an event stored under id by EncodeEvent. It fails, with an
// error naming the id, if the data does not parse or carries another id.
func DecodeEvent(id [32]byte, data []byte) (*record.Event, error) {
	e, err := record.ParseEvent(data, maxStoredEventBytes)
	if err != nil {
		return nil, fmt.Errorf("failed to decode stored event %x: %w", id, err)
	}
	if e.ID != id {
		return nil, fmt.Errorf("failed to decode stored event %x: it holds event %x", id, e.ID)
	}
	return e, nil
}
