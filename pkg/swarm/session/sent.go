package session

import "time"

// sentMemory remembers, per session, which records were sent to the peer
// lately and how often: pushes are not repeated, and a peer that asks again
// and again for records it got is told. It is bounded, with first-in,
// first-out eviction (forgetting costs at most a repeated send), and owned by
// the session's goroutine.
type sentMemory struct {
	byID  map[[32]byte]sentEntry
	order [][32]byte // ring of ids in insertion order; grows up to capacity
	cap   int
	next  int
	full  bool
}

type sentEntry struct {
	until time.Time // the count is forgotten then
	n     int
}

func newSentMemory(capacity int) sentMemory {
	// The ring grows as ids come: a session that sends little holds little.
	return sentMemory{byID: make(map[[32]byte]sentEntry), cap: max(1, capacity)}
}

// count returns how often id was sent before its entry expired.
func (m *sentMemory) count(id [32]byte, now time.Time) int {
	e, ok := m.byID[id]
	if !ok || !now.Before(e.until) {
		return 0
	}
	return e.n
}

// note records one more send of id, remembered until until.
func (m *sentMemory) note(id [32]byte, until time.Time) {
	if e, ok := m.byID[id]; ok {
		m.byID[id] = sentEntry{until: until, n: e.n + 1}
		return
	}
	if m.full {
		delete(m.byID, m.order[m.next])
	}
	if m.full {
		m.order[m.next] = id
	} else {
		m.order = append(m.order, id)
	}
	m.byID[id] = sentEntry{until: until, n: 1}
	if m.next++; m.next == m.cap {
		m.next, m.full = 0, true
	}
}
