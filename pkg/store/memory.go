package store

import (
	"context"
	"math"
	"slices"
	"sync"

	"github.com/peersetdb/peerset/pkg/record"
)

// memoryPageSize is how many items Items and Scan copy per lock hold.
const memoryPageSize = 1024

// Memory is an in-memory Store: a map by id plus sorted slices for the time
// and author indexes and a map for record addresses. A write batch costs
// O(k log n) searches plus moving the slice tails, which suits tests and small
// peers (up to a few hundred thousand events). It also keeps blobs (Blobs,
// memory_blob.go). Nothing survives Close.
type Memory struct {
	mu        sync.RWMutex
	closed    bool
	events    map[[32]byte]*record.Event
	byTime    []Item // sorted by Item.Compare
	byAuthor  map[record.PublicKey][]Item
	byAddress map[record.Address][][32]byte
	meta      map[string][]byte
	blob      *memoryBlobs // see memory_blob.go; nil until a blob call writes
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{
		events:    make(map[[32]byte]*record.Event),
		byAuthor:  make(map[record.PublicKey][]Item),
		byAddress: make(map[record.Address][][32]byte),
		meta:      make(map[string][]byte),
	}
}

// begin checks the context and the closed flag; the caller holds a lock.
func (m *Memory) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.closed {
		return ErrClosed
	}
	return nil
}

// Put implements Store.
func (m *Memory) Put(ctx context.Context, events ...*record.Event) error {
	if err := CheckBatch(events); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx); err != nil {
		return err
	}
	var added []Item
	authors := make(map[record.PublicKey][]Item)
	for _, e := range events {
		if _, ok := m.events[e.ID]; ok {
			continue
		}
		c := CloneEvent(e)
		m.events[c.ID] = c
		it := ItemOf(c)
		added = append(added, it)
		authors[c.PubKey] = append(authors[c.PubKey], it)
		if addr, ok := IndexAddress(c); ok {
			m.byAddress[addr] = append(m.byAddress[addr], c.ID)
		}
	}
	m.byTime = insertSorted(m.byTime, added)
	for pk, items := range authors {
		m.byAuthor[pk] = insertSorted(m.byAuthor[pk], items)
	}
	return nil
}

// insertSorted adds items (not already in s; reordered in place) to the
// sorted slice s: one binary search each for a few, else a sort of the items
// and a merge from the back, O(n + k log k).
func insertSorted(s, items []Item) []Item {
	if len(items) <= 16 {
		for _, it := range items {
			i, _ := slices.BinarySearchFunc(s, it, Item.Compare)
			s = slices.Insert(s, i, it)
		}
		return s
	}
	slices.SortFunc(items, Item.Compare)
	i, j := len(s)-1, len(items)-1
	s = slices.Grow(s, len(items))[:len(s)+len(items)]
	for k := len(s) - 1; j >= 0; k-- {
		if i >= 0 && s[i].Compare(items[j]) > 0 {
			s[k] = s[i]
			i--
		} else {
			s[k] = items[j]
			j--
		}
	}
	return s
}

// Delete implements Store.
func (m *Memory) Delete(ctx context.Context, ids ...[32]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx); err != nil {
		return err
	}
	// Remove from the map and the small per-address lists first, then
	// filter each sorted index once: a batch costs one pass over the
	// indexes, not one shift of them per id.
	removed := make(map[[32]byte]struct{}, len(ids))
	authors := map[record.PublicKey]struct{}{}
	for _, id := range ids {
		e, ok := m.events[id]
		if !ok {
			continue
		}
		delete(m.events, id)
		removed[id] = struct{}{}
		authors[e.PubKey] = struct{}{}
		if addr, ok := IndexAddress(e); ok {
			rest := slices.DeleteFunc(m.byAddress[addr], func(x [32]byte) bool { return x == id })
			if len(rest) > 0 {
				m.byAddress[addr] = rest
			} else {
				delete(m.byAddress, addr)
			}
		}
	}
	if len(removed) == 0 {
		return nil
	}
	gone := func(it Item) bool { _, ok := removed[it.ID]; return ok }
	m.byTime = slices.DeleteFunc(m.byTime, gone)
	for pk := range authors {
		if rest := slices.DeleteFunc(m.byAuthor[pk], gone); len(rest) > 0 {
			m.byAuthor[pk] = rest
		} else {
			delete(m.byAuthor, pk)
		}
	}
	return nil
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, id [32]byte) (*record.Event, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.begin(ctx); err != nil {
		return nil, err
	}
	e, ok := m.events[id]
	if !ok {
		return nil, ErrNotFound
	}
	return CloneEvent(e), nil
}

// GetMany implements Store.
func (m *Memory) GetMany(ctx context.Context, ids [][32]byte) ([]*record.Event, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.begin(ctx); err != nil {
		return nil, err
	}
	var out []*record.Event
	for _, id := range ids {
		if e, ok := m.events[id]; ok {
			out = append(out, CloneEvent(e))
		}
	}
	return out, nil
}

// GetByAddress implements Store.
func (m *Memory) GetByAddress(ctx context.Context, addr record.Address) ([]*record.Event, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.begin(ctx); err != nil {
		return nil, err
	}
	var out []*record.Event
	for _, id := range m.byAddress[addr] {
		out = append(out, CloneEvent(m.events[id]))
	}
	slices.SortFunc(out, CompareReplacement)
	return out, nil
}

// Query implements Store.
func (m *Memory) Query(ctx context.Context, q Query) ([]*record.Event, error) {
	if err := q.Check(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.begin(ctx); err != nil {
		return nil, err
	}
	index := m.byTime
	if q.Author != nil {
		index = m.byAuthor[*q.Author]
	}
	var out []*record.Event
	visit := func(it Item) bool {
		if !q.MatchesTime(it.CreatedAt) {
			return true
		}
		e := m.events[it.ID]
		if !q.MatchesKind(e.Kind) {
			return true
		}
		out = append(out, CloneEvent(e))
		return q.Limit == 0 || len(out) < q.Limit
	}
	if q.Descending {
		// hi: one past the last item not after the upper bound.
		hi := len(index)
		if q.Until != 0 && q.Until < math.MaxInt64 {
			hi, _ = slices.BinarySearchFunc(index, Item{CreatedAt: q.Until + 1}, Item.Compare)
		}
		if q.After != nil {
			i, _ := slices.BinarySearchFunc(index, *q.After, Item.Compare)
			hi = min(hi, i)
		}
		for i := hi - 1; i >= 0 && index[i].CreatedAt >= q.Since; i-- {
			if !visit(index[i]) {
				break
			}
		}
		return out, nil
	}
	lo, _ := slices.BinarySearchFunc(index, Item{CreatedAt: q.Since}, Item.Compare)
	if q.After != nil {
		i, found := slices.BinarySearchFunc(index, *q.After, Item.Compare)
		if found {
			i++
		}
		lo = max(lo, i)
	}
	for i := lo; i < len(index) && (q.Until == 0 || index[i].CreatedAt <= q.Until); i++ {
		if !visit(index[i]) {
			break
		}
	}
	return out, nil
}

// page copies up to memoryPageSize items after the cursor (all from the start
// when first is true) and, with withEvents, copies of their events.
func (m *Memory) page(ctx context.Context, after Item, first, withEvents bool) ([]Item, []*record.Event, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.begin(ctx); err != nil {
		return nil, nil, err
	}
	lo := 0
	if !first {
		i, found := slices.BinarySearchFunc(m.byTime, after, Item.Compare)
		if found {
			i++
		}
		lo = i
	}
	items := slices.Clone(m.byTime[lo:min(len(m.byTime), lo+memoryPageSize)])
	var events []*record.Event
	if withEvents {
		events = make([]*record.Event, len(items))
		for i, it := range items {
			events[i] = CloneEvent(m.events[it.ID])
		}
	}
	return items, events, nil
}

// walk pages through the time index, calling fn outside the lock.
func (m *Memory) walk(ctx context.Context, withEvents bool, fn func(Item, *record.Event) error) error {
	var cursor Item
	for first := true; ; first = false {
		items, events, err := m.page(ctx, cursor, first, withEvents)
		if err != nil {
			return err
		}
		for i, it := range items {
			var e *record.Event
			if withEvents {
				e = events[i]
			}
			if err := fn(it, e); err != nil {
				return err
			}
		}
		if len(items) < memoryPageSize {
			return nil
		}
		cursor = items[len(items)-1]
	}
}

// Items implements Store.
func (m *Memory) Items(ctx context.Context, fn func(createdAt int64, id [32]byte) error) error {
	return m.walk(ctx, false, func(it Item, _ *record.Event) error { return fn(it.CreatedAt, it.ID) })
}

// Scan implements Store.
func (m *Memory) Scan(ctx context.Context, fn func(*record.Event) error) error {
	return m.walk(ctx, true, func(_ Item, e *record.Event) error { return fn(e) })
}

// Summaries implements Store; the memory store summarizes as it goes.
func (m *Memory) Summaries(ctx context.Context, fn func(s record.Summary, ok bool) error) error {
	return m.walk(ctx, true, func(_ Item, e *record.Event) error { return fn(SummaryOf(e)) })
}

// Count implements Store.
func (m *Memory) Count(ctx context.Context) (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.begin(ctx); err != nil {
		return 0, err
	}
	return len(m.events), nil
}

// GetMeta implements Store.
func (m *Memory) GetMeta(ctx context.Context, key string) ([]byte, error) {
	if err := CheckMetaKey(key); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.begin(ctx); err != nil {
		return nil, err
	}
	v, ok := m.meta[key]
	if !ok {
		return nil, ErrNotFound
	}
	return slices.Clone(v), nil
}

// SetMeta implements Store.
func (m *Memory) SetMeta(ctx context.Context, key string, value []byte) error {
	if err := CheckMetaKey(key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx); err != nil {
		return err
	}
	m.meta[key] = append([]byte{}, value...)
	return nil
}

// DeleteMeta implements Store.
func (m *Memory) DeleteMeta(ctx context.Context, key string) error {
	if err := CheckMetaKey(key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx); err != nil {
		return err
	}
	delete(m.meta, key)
	return nil
}

// Close implements Store.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.events, m.byTime, m.byAuthor, m.byAddress, m.meta, m.blob = nil, nil, nil, nil, nil, nil
	return nil
}
