package session

import (
	"sync"
	"time"

	"github.com/peersetdb/peerset/pkg/record"
)

// refusal is what the Manager remembers of a refused event.
type refusal struct {
	until    time.Time
	stateful bool // the refusal depended on the author's stored events
	author   record.PublicKey
	epoch    uint64 // the replica's AuthorEpoch at the refusal
}

// refusalMemory is a bounded map of refused ids with first-in, first-out
// eviction: every operation costs O(1), whatever the number of entries. It has
// a lock of its own, so that a flood of refusals never holds up the Manager.
type refusalMemory struct {
	mu    sync.Mutex
	byID  map[[32]byte]refusal
	order [][32]byte // ring of ids in insertion order, growing up to cap; may hold ids forgotten since
	cap   int
	next  int // where the next id goes (and the oldest is, once full)
	full  bool
}

func newRefusalMemory(capacity int) refusalMemory {
	return refusalMemory{byID: make(map[[32]byte]refusal), cap: max(1, capacity)}
}

func (m *refusalMemory) put(id [32]byte, r refusal) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.byID[id]; ok {
		m.byID[id] = r
		return
	}
	if m.full {
		delete(m.byID, m.order[m.next]) // the oldest entry
	}
	if m.full {
		m.order[m.next] = id
	} else {
		m.order = append(m.order, id)
	}
	m.byID[id] = r
	if m.next++; m.next == m.cap {
		m.next, m.full = 0, true
	}
}

func (m *refusalMemory) get(id [32]byte) (refusal, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.byID[id]
	return r, ok
}

func (m *refusalMemory) forget(id [32]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.byID, id)
}

func (m *refusalMemory) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byID)
}
