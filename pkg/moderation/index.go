package moderation

import (
	"crypto/sha256"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"

	"github.com/peersetdb/peerset/pkg/record"
)

// Index is the caller's view of what a room's store holds, as the duplicate
// rule needs it. A store implements it directly, or keeps a MemoryIndex
// beside itself. Implementations must be safe for concurrent use if the
// pipeline is used concurrently.
type Index interface {
	// Has reports whether an event with this id is stored.
	Has(id [32]byte) bool
	// Live returns the stored, not deleted version of the record at addr,
	// or nil.
	Live(addr record.Address) *record.Event
	// Tombstone returns the newest stored deletion of addr, or nil.
	Tombstone(addr record.Address) *record.Event
}

// Policy decides which events a set keeps when events that each passed the
// rules compete for room: an author's records with the same content, an
// author's records beyond a quota, an author's deletions beyond a quota.
//
// Every choice is a deterministic function of the set, never of the order
// in which events arrived, so that peers with the same rules and the same
// events hold the same set: the winner is always the newer event (greater
// created_at; at equal times the lower id, as record.Supersedes orders
// versions), and the losers are evicted. A peer that sees the events in
// another order, or an author who gives different events to different
// peers, ends with the same winners once the events have met.
//
// A loser is forgotten, not kept aside. When a later change makes it a
// winner again (the author deletes a newer record, or edits away the
// content it duplicated), it comes back from any peer that still holds it:
// sync offers it again, and a refusal that depended on the author's events
// is remembered only until they change (MemoryIndex.AuthorEpoch). So a
// single peer that receives the same events in another order can hold
// another set for a while when deletions or duplicates are involved, and
// peers that sync end with one set.
type Policy struct {
	// Duplicates keeps one live record per author and content
	// (ContentKeyOf): the newest.
	Duplicates bool
	// AuthorQuota keeps an author's AuthorQuota newest live records
	// (0: no quota).
	AuthorQuota int
	// DeletionQuota keeps an author's DeletionQuota newest deletions
	// (0: no quota). A deletion it evicts no longer holds back an older
	// copy of the record it deleted.
	DeletionQuota int
}

func (p Policy) validate() error {
	switch {
	case p.AuthorQuota < 0:
		return fmt.Errorf("AuthorQuota %d is negative", p.AuthorQuota)
	case p.DeletionQuota < 0:
		return fmt.Errorf("DeletionQuota %d is negative", p.DeletionQuota)
	}
	return nil
}

// Outranks reports whether a wins over b when both compete under a Policy:
// the newer created_at wins, and at equal times the lower id.
func Outranks(a, b *record.Event) bool { return record.Supersedes(a, b) }

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

func (emptyIndex) Has([32]byte) bool                      { return false }
func (emptyIndex) Live(record.Address) *record.Event      { return nil }
func (emptyIndex) Tombstone(record.Address) *record.Event { return nil }

type contentSlot struct {
	author record.PublicKey
	key    ContentKey
}

// authorState is what the index keeps per author.
type authorState struct {
	live      int             // live records
	deletions int             // tombstones
	ranked    []*record.Event // live records, best first (only with an AuthorQuota)
	tombs     []*record.Event // tombstones, best first (only with a DeletionQuota)
	epoch     uint64          // changes whenever the author's events change
}

// MemoryIndex is an in-memory Index that also applies the store's rules
// when events are added: a newer version of a record replaces the older
// one, a deletion removes the versions it covers and stays as a tombstone,
// an event that would not survive (older than the live version, or covered
// by a tombstone) is not kept, and its Policy evicts the losers among an
// author's records and deletions. It is safe for concurrent use.
type MemoryIndex struct {
	policy Policy

	mu         sync.RWMutex
	events     map[[32]byte]*record.Event
	live       map[record.Address]*record.Event
	tombstones map[record.Address]*record.Event
	authors    map[record.PublicKey]*authorState
	content    map[contentSlot]*record.Event // the live winner per author and content (with Duplicates)
	epoch      uint64
}

// NewMemoryIndex returns an empty index that applies policy (the zero
// Policy keeps every event the replacement and deletion rules keep).
func NewMemoryIndex(policy Policy) *MemoryIndex {
	return &MemoryIndex{
		policy:     policy,
		events:     map[[32]byte]*record.Event{},
		live:       map[record.Address]*record.Event{},
		tombstones: map[record.Address]*record.Event{},
		authors:    map[record.PublicKey]*authorState{},
		content:    map[contentSlot]*record.Event{},
	}
}

// Policy returns the index's policy.
func (m *MemoryIndex) Policy() Policy { return m.policy }

// Rejections of MemoryIndex.Add. All are harmless: sync delivers the same
// events from many peers and in any order.
func rejectStored(e *record.Event) error {
	return &Rejection{Rule: RuleDuplicate, Reason: fmt.Sprintf("event %s is already stored", shortID(e.ID)), Harmless: true, Verified: true, DependsOnSet: true}
}

func rejectStale(reason string) error {
	return &Rejection{Rule: RuleDuplicate, Reason: reason, Harmless: true, Verified: true, DependsOnSet: true}
}

// Add records an accepted event under the index's Policy. It returns the
// events it displaced (an older version, records it deletes, an older
// tombstone, and the losers the Policy evicts), which the caller removes
// from its store and tree. When the event itself is not kept, the error is
// a harmless *Rejection: rule "duplicate" for an event already held, a
// stale version, a deleted version, or content the author already has in a
// newer record; rule "author-quota" for a record or deletion that ranks
// below the author's quota. Add does not moderate: run the pipeline first.
func (m *MemoryIndex) Add(e *record.Event) (removed []*record.Event, err error) {
	return m.add(e, false)
}

// AddOwn is Add for the node's own new writes: a new record that would
// evict one of the author's records (a quota, the same content) is refused
// instead, with a *Rejection that is not harmless, so that a user is told
// rather than losing an older record. Deletions evict old tombstones as in
// Add: an author can always take a record down.
func (m *MemoryIndex) AddOwn(e *record.Event) (removed []*record.Event, err error) {
	return m.add(e, true)
}

func (m *MemoryIndex) add(e *record.Event, own bool) ([]*record.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.events[e.ID]; ok {
		return nil, rejectStored(e)
	}
	switch e.Kind {
	case record.KindRecord:
		return m.addRecordLocked(e, own)
	case record.KindDeletion:
		return m.addDeletionLocked(e)
	}
	return nil, &Rejection{Rule: RuleSchema, Reason: fmt.Sprintf("kind %d is neither a record nor a deletion", e.Kind), Verified: true}
}

func (m *MemoryIndex) addRecordLocked(e *record.Event, own bool) ([]*record.Event, error) {
	addr := record.AddressOf(e)
	if t := m.tombstones[addr]; t != nil && record.Deletes(t, e) {
		return nil, rejectStale(fmt.Sprintf("stale: record %s was deleted", addr.UUID))
	}
	cur := m.live[addr]
	if cur != nil && !record.Supersedes(e, cur) {
		return nil, rejectStale(fmt.Sprintf("stale: a newer version %s of record %s is stored", shortID(cur.ID), addr.UUID))
	}
	// The Policy's losers, decided before anything changes.
	var evict []*record.Event
	if m.policy.Duplicates {
		if k, ok := ContentKeyOf(e); ok {
			if w := m.content[contentSlot{e.PubKey, k}]; w != nil && w != cur {
				if own {
					return nil, &Rejection{Rule: RuleDuplicate, Reason: "the author already has another live record with the same content", Verified: true, DependsOnSet: true}
				}
				if Outranks(w, e) {
					return nil, rejectStale(fmt.Sprintf("the author's newer record %s has the same content", shortID(w.ID)))
				}
				evict = append(evict, w)
			}
		}
	}
	if q := m.policy.AuthorQuota; q > 0 && cur == nil {
		st := m.authors[e.PubKey]
		n := len(evict)
		if st != nil && st.live-n >= q {
			if own {
				return nil, &Rejection{Rule: RuleAuthorQuota, Reason: fmt.Sprintf("the author already has %d live records, the quota is %d: delete one first", st.live-n, q), Verified: true, DependsOnSet: true}
			}
			// The author's worst live record that is not already evicted.
			var worst *record.Event
			for i := len(st.ranked) - 1; i >= 0; i-- {
				if r := st.ranked[i]; !slices.Contains(evict, r) {
					worst = r
					break
				}
			}
			if worst != nil && !Outranks(e, worst) {
				return nil, &Rejection{Rule: RuleAuthorQuota, Reason: fmt.Sprintf("the author has %d newer live records, the quota is %d", q, q), Harmless: true, Verified: true, DependsOnSet: true}
			}
			if worst != nil {
				evict = append(evict, worst)
			}
		}
	}
	var removed []*record.Event
	if cur != nil {
		m.dropLocked(cur)
		removed = append(removed, cur)
	}
	for _, r := range evict {
		m.dropLocked(r)
		removed = append(removed, r)
	}
	m.events[e.ID] = e
	m.live[addr] = e
	st := m.authorLocked(e.PubKey)
	st.live++
	if m.policy.AuthorQuota > 0 {
		st.ranked = insertRanked(st.ranked, e)
	}
	if m.policy.Duplicates {
		if k, ok := ContentKeyOf(e); ok {
			m.content[contentSlot{e.PubKey, k}] = e
		}
	}
	m.touchLocked(st)
	return removed, nil
}

func (m *MemoryIndex) addDeletionLocked(e *record.Event) ([]*record.Event, error) {
	addr, err := record.DeletionTarget(e)
	if err != nil {
		return nil, &Rejection{Rule: RuleSchema, Reason: err.Error(), Err: err, Verified: true}
	}
	t := m.tombstones[addr]
	if t != nil && !record.Supersedes(e, t) {
		return nil, rejectStale(fmt.Sprintf("stale: a newer deletion %s of record %s is stored", shortID(t.ID), addr.UUID))
	}
	var evict *record.Event
	if q := m.policy.DeletionQuota; q > 0 && t == nil {
		if st := m.authors[e.PubKey]; st != nil && st.deletions >= q {
			worst := st.tombs[len(st.tombs)-1]
			if !Outranks(e, worst) {
				return nil, &Rejection{Rule: RuleAuthorQuota, Reason: fmt.Sprintf("the author has %d newer deletions, the deletion quota is %d", q, q), Harmless: true, Verified: true, DependsOnSet: true}
			}
			evict = worst
		}
	}
	var removed []*record.Event
	if t != nil {
		m.dropLocked(t)
		removed = append(removed, t)
	}
	if evict != nil {
		m.dropLocked(evict)
		removed = append(removed, evict)
	}
	if cur := m.live[addr]; cur != nil && record.Deletes(e, cur) {
		m.dropLocked(cur)
		removed = append(removed, cur)
	}
	m.events[e.ID] = e
	m.tombstones[addr] = e
	st := m.authorLocked(e.PubKey)
	st.deletions++
	if m.policy.DeletionQuota > 0 {
		st.tombs = insertRanked(st.tombs, e)
	}
	m.touchLocked(st)
	return removed, nil
}

// insertRanked inserts e into list, which is ordered best first.
func insertRanked(list []*record.Event, e *record.Event) []*record.Event {
	i, _ := slices.BinarySearchFunc(list, e, func(a, b *record.Event) int {
		if Outranks(a, b) {
			return -1
		}
		return 1
	})
	return slices.Insert(list, i, e)
}

func removeFrom(list []*record.Event, e *record.Event) []*record.Event {
	if i := slices.Index(list, e); i >= 0 {
		return slices.Delete(list, i, i+1)
	}
	return list
}

func (m *MemoryIndex) authorLocked(pk record.PublicKey) *authorState {
	st := m.authors[pk]
	if st == nil {
		st = &authorState{}
		m.authors[pk] = st
	}
	return st
}

func (m *MemoryIndex) touchLocked(st *authorState) {
	m.epoch++
	st.epoch = m.epoch
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
	st := m.authors[e.PubKey]
	switch e.Kind {
	case record.KindRecord:
		addr := record.AddressOf(e)
		if m.live[addr] != e {
			return
		}
		delete(m.live, addr)
		if st != nil {
			st.live--
			st.ranked = removeFrom(st.ranked, e)
		}
		if k, ok := ContentKeyOf(e); ok {
			slot := contentSlot{e.PubKey, k}
			if m.content[slot] == e {
				delete(m.content, slot)
			}
		}
	case record.KindDeletion:
		addr, err := record.DeletionTarget(e)
		if err != nil || m.tombstones[addr] != e {
			return
		}
		delete(m.tombstones, addr)
		if st != nil {
			st.deletions--
			st.tombs = removeFrom(st.tombs, e)
		}
	}
	if st == nil {
		return
	}
	if st.live <= 0 && st.deletions <= 0 {
		delete(m.authors, e.PubKey)
		return
	}
	m.touchLocked(st)
}

// AuthorEpoch returns a number that changes whenever the events the index
// holds for author change (0 when it holds none). A refusal that depended
// on the author's stored events (a stale version, a quota, a duplicate) is
// worth remembering only while the author's epoch stays the same.
func (m *MemoryIndex) AuthorEpoch(author record.PublicKey) uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if st := m.authors[author]; st != nil {
		return st.epoch
	}
	return 0
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

// LiveCount returns how many live records author has.
func (m *MemoryIndex) LiveCount(author record.PublicKey) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if st := m.authors[author]; st != nil {
		return st.live
	}
	return 0
}

// DeletionCount returns how many deletions of author are held.
func (m *MemoryIndex) DeletionCount(author record.PublicKey) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if st := m.authors[author]; st != nil {
		return st.deletions
	}
	return 0
}
