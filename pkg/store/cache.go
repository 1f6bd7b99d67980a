package store

import (
	"container/list"
	"context"
	"sync"
	"sync/atomic"

	"github.com/peersetdb/peerset/pkg/record"
)

// DefaultCacheBytes is the cache size peerset.DB gives a persistent store.
const DefaultCacheBytes = 8 << 20

// Cache wraps a Store with a cache of recently read and written events,
// bounded in bytes (an estimate of each event's memory) and evicting the
// least recently used: hot records — the newest, the ones peers ask for after
// they arrived — are read from memory, the rest from the store. Get and
// GetMany are served from it; Delete drops what it deletes; every other
// method goes to the store. It returns copies, as every Store does.
type Cache struct {
	Store
	maxBytes int
	closed   atomic.Bool

	mu    sync.Mutex
	bytes int
	order *list.List // of *cached, most recent first
	byID  map[[32]byte]*list.Element
	hits  uint64
	miss  uint64
}

type cached struct {
	e    *record.Event
	size int
}

// NewCache returns st with a cache of at most maxBytes.
func NewCache(st Store, maxBytes int) *Cache {
	return &Cache{Store: st, maxBytes: maxBytes, order: list.New(), byID: map[[32]byte]*list.Element{}}
}

// eventSize estimates the memory an event takes.
func eventSize(e *record.Event) int {
	n := 256 + len(e.Content) // the struct, the slices' headers, the cache's own entry
	for _, t := range e.Tags {
		n += 24
		for _, v := range t {
			n += 16 + len(v)
		}
	}
	return n
}

func (c *Cache) add(e *record.Event) {
	size := eventSize(e)
	if size > c.maxBytes/4 {
		return // a few huge events would wash the cache out
	}
	if el, ok := c.byID[e.ID]; ok {
		c.order.MoveToFront(el)
		return
	}
	c.byID[e.ID] = c.order.PushFront(&cached{e: CloneEvent(e), size: size})
	c.bytes += size
	for c.bytes > c.maxBytes {
		last := c.order.Back()
		old := last.Value.(*cached)
		c.order.Remove(last)
		delete(c.byID, old.e.ID)
		c.bytes -= old.size
	}
}

func (c *Cache) lookup(id [32]byte) (*record.Event, bool) {
	el, ok := c.byID[id]
	if !ok {
		c.miss++
		return nil, false
	}
	c.hits++
	c.order.MoveToFront(el)
	return CloneEvent(el.Value.(*cached).e), true
}

// Put implements Store, and caches what it stored.
func (c *Cache) Put(ctx context.Context, events ...*record.Event) error {
	if err := c.Store.Put(ctx, events...); err != nil {
		return err
	}
	c.mu.Lock()
	for _, e := range events {
		c.add(e)
	}
	c.mu.Unlock()
	return nil
}

// Delete implements Store.
func (c *Cache) Delete(ctx context.Context, ids ...[32]byte) error {
	c.mu.Lock()
	for _, id := range ids {
		if el, ok := c.byID[id]; ok {
			c.bytes -= el.Value.(*cached).size
			c.order.Remove(el)
			delete(c.byID, id)
		}
	}
	c.mu.Unlock()
	return c.Store.Delete(ctx, ids...)
}

// Close implements Store: it closes the store and empties the cache.
func (c *Cache) Close() error {
	c.closed.Store(true)
	c.mu.Lock()
	c.order.Init()
	clear(c.byID)
	c.bytes = 0
	c.mu.Unlock()
	return c.Store.Close()
}

func (c *Cache) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.closed.Load() {
		return ErrClosed
	}
	return nil
}

// Get implements Store.
func (c *Cache) Get(ctx context.Context, id [32]byte) (*record.Event, error) {
	if err := c.begin(ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	e, ok := c.lookup(id)
	c.mu.Unlock()
	if ok {
		return e, nil
	}
	e, err := c.Store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.add(e)
	c.mu.Unlock()
	return e, nil
}

// GetMany implements Store: the ids it does not hold are read from the
// store in one call.
func (c *Cache) GetMany(ctx context.Context, ids [][32]byte) ([]*record.Event, error) {
	if err := c.begin(ctx); err != nil {
		return nil, err
	}
	found := make(map[[32]byte]*record.Event, len(ids))
	var missing [][32]byte
	c.mu.Lock()
	for _, id := range ids {
		if e, ok := c.lookup(id); ok {
			found[id] = e
		} else {
			missing = append(missing, id)
		}
	}
	c.mu.Unlock()
	var readErr error
	if len(missing) > 0 {
		events, err := c.Store.GetMany(ctx, missing)
		if err != nil && events == nil {
			return nil, err
		}
		readErr = err // a *CorruptError comes with the events that could be read
		c.mu.Lock()
		for _, e := range events {
			found[e.ID] = e
			c.add(e)
		}
		c.mu.Unlock()
	}
	out := make([]*record.Event, 0, len(found))
	for _, id := range ids {
		if e, ok := found[id]; ok {
			out = append(out, e)
		}
	}
	return out, readErr
}

// CacheStats are the cache's counters.
type CacheStats struct {
	Events, Bytes, MaxBytes int
	Hits, Misses            uint64
}

// Stats returns the cache's counters.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Events: len(c.byID), Bytes: c.bytes, MaxBytes: c.maxBytes, Hits: c.hits, Misses: c.miss}
}
