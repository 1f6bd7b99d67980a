package moderation

import (
	"crypto/sha256"
	"iter"
	"strings"
	"sync"

	"github.com/peersetdb/peerset/pkg/record"
)

// Index is the caller's view of what a room's store holds, as the stateful
// rules (duplicate, author-quota) need it. A store implements it directly,
// or keeps a MemoryIndex beside itself. Implementations must be safe for
// concurrent use if the pipeline is used concurrently.
type Index interface {
	// Has reports whether an event with this id is stored.
	Has(id [32]byte) bool
	// Live returns the stored, not deleted version of the record at addr,
	// or nil.
	Live(addr record.Address) *record.Event
	// Tombstone returns the newest stored deletion of addr, or nil.
	Tombstone(addr record.Address) *record.Event
	// LiveCount returns how many live records author has.
	LiveCount(author record.PublicKey) int
	// HasContent reports whether author has a live record, at an address
	// other than except, whose ContentKeyOf is key.
	HasContent(author record.PublicKey, key ContentKey, except record.Address) bool
}

// ContentKey identifies a record's content for duplicate detection.
type ContentKey [32]byte

// ContentKeyOf returns the content key of a record event and true, or false
// when the event has no content to compare (a deletion, an empty record).
// Plain text is compared after lowercasing and collapsing white space, so
// "Hello  World" and "hello world" are duplicates; other media types are
// compared byte for byte, together with their media type.
func ContentKeyOf(e *record.Event) (ContentKey, bool) {
	if e.Kind != record.KindRecord {
		return ContentKey{}, false
	}
	mt := e.TagValue(record.TagMediaType)
	content := e.Content
	if mt == "" || mt == record.MediaTypeText {
		mt = record.MediaTypeText
		content = strings.ToLower(strings.Join(strings.Fields(content), " "))
	}
	if content == "" {
		return ContentKey{}, false
	}
	h := sha256.New()
	h.Write([]byte(mt))
	h.Write([]byte{0})
	h.Write([]byte(content))
	var k ContentKey
	h.Sum(k[:0])
	return k, true
}

type emptyIndex struct{}

func (emptyIndex) Has([32]byte) bool                                            { return false }
func (emptyIndex) Live(record.Address) *record.Event                            { return nil }
func (emptyIndex) Tombstone(record.Address) *record.Event                       { return nil }
func (emptyIndex) LiveCount(record.PublicKey) int                               { return 0 }
func (emptyIndex) HasContent(record.PublicKey, ContentKey, record.Address) bool { return false }

type contentSlot struct {
	author record.PublicKey
	key    ContentKey
}

// MemoryIndex is an in-memory Index that also applies the store's rules
// when events are added: a newer version of a record replaces the older
// one, a deletion removes the versions it covers and stays as a tombstone,
// and an event that would not survive (older than the live version, or
// covered by a tombstone) is not kept. It suits tests and small peers, and
// is safe for concurrent use.
type MemoryIndex struct {
	mu         sync.RWMutex
	events     map[[32]byte]*record.Event
	live       map[record.Address]*record.Event
	tombstones map[record.Address]*record.Event
	perAuthor  map[record.PublicKey]int
	content    map[contentSlot]int
}

// NewMemoryIndex returns an empty index.
func NewMemoryIndex() *MemoryIndex {
	return &MemoryIndex{
		events:     map[[32]byte]*record.Event{},
		live:       map[record.Address]*record.Event{},
		tombstones: map[record.Address]*record.Event{},
		perAuthor:  map[record.PublicKey]int{},
		content:    map[contentSlot]int{},
	}
}

// Add records an accepted event. It returns whether the event is now held
// and the events it displaced (an older version, records it deletes, an
// older tombstone), which the caller should remove from its store and tree.
// Add does not moderate: run the pipeline first.
func (m *MemoryIndex) Add(e *record.Event) (kept bool, removed []*record.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.events[e.ID]; ok {
		return false, nil
	}
	switch e.Kind {
	case record.KindRecord:
		addr := record.AddressOf(e)
		if t := m.tombstones[addr]; t != nil && record.Deletes(t, e) {
			return false, nil
		}
		if cur := m.live[addr]; cur != nil {
			if !record.Supersedes(e, cur) {
				return false, nil
			}
			m.dropLocked(cur)
			removed = append(removed, cur)
		}
		m.events[e.ID] = e
		m.live[addr] = e
		m.perAuthor[e.PubKey]++
		if k, ok := ContentKeyOf(e); ok {
			m.content[contentSlot{e.PubKey, k}]++
		}
	case record.KindDeletion:
		addr, err := record.DeletionTarget(e)
		if err != nil {
			return false, nil
		}
		if t := m.tombstones[addr]; t != nil {
			if !record.Supersedes(e, t) {
				return false, nil
			}
			m.dropLocked(t)
			removed = append(removed, t)
		}
		if cur := m.live[addr]; cur != nil && record.Deletes(e, cur) {
			m.dropLocked(cur)
			removed = append(removed, cur)
		}
		m.events[e.ID] = e
		m.tombstones[addr] = e
	default:
		return false, nil
	}
	return true, removed
}

// Remove forgets the event with this id (garbage collection, or a store
// that dropped it). It reports whether the event was held.
func (m *MemoryIndex) Remove(id [32]byte) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.events[id]
	if ok {
		m.dropLocked(e)
	}
	return ok
}

func (m *MemoryIndex) dropLocked(e *record.Event) {
	delete(m.events, e.ID)
	switch e.Kind {
	case record.KindRecord:
		addr := record.AddressOf(e)
		if m.live[addr] != e {
			return
		}
		delete(m.live, addr)
		if m.perAuthor[e.PubKey]--; m.perAuthor[e.PubKey] <= 0 {
			delete(m.perAuthor, e.PubKey)
		}
		if k, ok := ContentKeyOf(e); ok {
			slot := contentSlot{e.PubKey, k}
			if m.content[slot]--; m.content[slot] <= 0 {
				delete(m.content, slot)
			}
		}
	case record.KindDeletion:
		if addr, err := record.DeletionTarget(e); err == nil && m.tombstones[addr] == e {
			delete(m.tombstones, addr)
		}
	}
}

// Len returns the number of events held (live records and tombstones).
func (m *MemoryIndex) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.events)
}

// Events yields a snapshot of the held events, in no particular order.
func (m *MemoryIndex) Events() iter.Seq[*record.Event] {
	m.mu.RLock()
	snapshot := make([]*record.Event, 0, len(m.events))
	for _, e := range m.events {
		snapshot = append(snapshot, e)
	}
	m.mu.RUnlock()
	return func(yield func(*record.Event) bool) {
		for _, e := range snapshot {
			if !yield(e) {
				return
			}
		}
	}
}

// Has implements Index.
func (m *MemoryIndex) Has(id [32]byte) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.events[id]
	return ok
}

// Live implements Index.
func (m *MemoryIndex) Live(addr record.Address) *record.Event {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.live[addr]
}

// Tombstone implements Index.
func (m *MemoryIndex) Tombstone(addr record.Address) *record.Event {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.tombstones[addr]
}

// LiveCount implements Index.
func (m *MemoryIndex) LiveCount(author record.PublicKey) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.perAuthor[author]
}

// HasContent implements Index.
func (m *MemoryIndex) HasContent(author record.PublicKey, key ContentKey, except record.Address) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := m.content[contentSlot{author, key}]
	if n == 0 {
		return false
	}
	if n > 1 {
		return true
	}
	if cur := m.live[except]; cur != nil && cur.PubKey == author {
		if k, ok := ContentKeyOf(cur); ok && k == key {
			return false // the only holder is except itself
		}
	}
	return true
}
