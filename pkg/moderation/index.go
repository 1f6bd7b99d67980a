package moderation

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"

	"github.com/peersetdb/peerset/pkg/record"
)

// Index is the caller's view of what a room's store holds, as the duplicate
// rule needs it. MemoryIndex implements it. Implementations must be safe for
// concurrent use if the pipeline is used concurrently.
type Index interface {
	// Has reports whether an event with this id is stored.
	Has(id [32]byte) bool
	// Live returns the summary of the stored, not deleted version of the
	// record at addr.
	Live(addr record.Address) (record.Summary, bool)
	// Tombstone returns the summary of the newest stored deletion of addr.
	Tombstone(addr record.Address) (record.Summary, bool)
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
	// (record.ContentKeyOf): the newest.
	Duplicates bool
	// AuthorQuota keeps an author's AuthorQuota newest live records
	// (0: no quota).
	AuthorQuota int
	// DeletionQuota keeps an author's DeletionQuota newest deletions
	// (0: no quota). A deletion it evicts no longer holds back an older
	// copy of the record it deleted.
	DeletionQuota int
}

// Outranks reports whether a wins over b when both compete under a Policy:
// the newer created_at wins, and at equal times the lower id.
func Outranks(a, b *record.Event) bool { return record.Supersedes(a, b) }

// ContentKey identifies a record's content for duplicate detection.
type ContentKey [32]byte

// ContentKeyOf returns the content key of a record event and true, or false
// when the event has no content to compare (see record.ContentKeyOf).
func ContentKeyOf(e *record.Event) (ContentKey, bool) {
	k, ok := record.ContentKeyOf(e)
	return ContentKey(k), ok
}

type emptyIndex struct{}

func (emptyIndex) Has([32]byte) bool                               { return false }
func (emptyIndex) Live(record.Address) (record.Summary, bool)      { return record.Summary{}, false }
func (emptyIndex) Tombstone(record.Address) (record.Summary, bool) { return record.Summary{}, false }

// Entry kinds of the index's slab.
const (
	slotFree     = 0
	slotRecord   = 1
	slotDeletion = 2
)

// slot is one held event: what the Policy, the replacement and deletion
// rules and sync need, in 88 bytes.
type slot struct {
	id         [32]byte
	createdAt  int64
	uuid       [16]byte // the record's UUID, or the UUID a deletion targets
	content    [16]byte // the content key's first half, when hasContent
	author     uint32   // index in MemoryIndex.authors
	next       uint32   // live records: the next with the same UUID (+1; 0: none); free slots: the next free one (+1)
	kind       uint8    // slotFree, slotRecord or slotDeletion
	hasContent bool
}

// authorState is what the index keeps per author.
type authorState struct {
	pk        record.PublicKey
	live      int32
	deletions int32
	ranked    []uint32 // live records, best first (only with an AuthorQuota)
	tombs     []uint32 // deletions, best first (only with a DeletionQuota)
	epoch     uint64   // changes whenever the author's events change
}

// MemoryIndex is the in-memory index of a room's set: per held event a
// packed summary (record.Summary, about 100 bytes with its share of the hash
// tables), not the event. It applies the store's rules when events are
// added: a newer version of a record replaces the older one, a deletion
// removes the versions it covers and stays as a tombstone, an event that
// would not survive (older than the live version, or covered by a tombstone)
// is not kept, and its Policy evicts the losers among an author's records and
// deletions. It is safe for concurrent use.
type MemoryIndex struct {
	policy Policy
	seed   maphash.Seed

	mu       sync.RWMutex
	slots    slab[slot]
	free     uint32 // first free slot (+1), 0: none
	held     int
	byID     table // every held event, by id
	live     table // live records, by (author, uuid)
	tombs    table // deletions, by (author, uuid)
	content  table // live records with content, by (author, content), with Duplicates
	uuids    table // the first live record of each uuid (the rest chained by slot.next)
	authors  slab[authorState]
	authorOf table // authors by public key
	freeAuth []uint32
	epoch    uint64
}

// slab is a growable array in fixed pages: no slack beyond the last page,
// and no copy when it grows.
type slab[T any] struct {
	pages [][]T
	n     uint32
}

const slabPage = 1024

func (s *slab[T]) at(i uint32) *T { return &s.pages[i/slabPage][i%slabPage] }

// add returns the index of a new zero element.
func (s *slab[T]) add() uint32 {
	if s.n%slabPage == 0 {
		s.pages = append(s.pages, make([]T, slabPage))
	}
	s.n++
	return s.n - 1
}

// len is the number of elements ever added (free ones included).
func (s *slab[T]) len() uint32 { return s.n }

// NewMemoryIndex returns an empty index that applies policy (the zero
// Policy keeps every event the replacement and deletion rules keep).
func NewMemoryIndex(policy Policy) *MemoryIndex {
	return &MemoryIndex{policy: policy, seed: maphash.MakeSeed()}
}

// Policy returns the index's policy.
func (m *MemoryIndex) Policy() Policy { return m.policy }

// Rejections of MemoryIndex.Add. All are harmless: sync delivers the same
// events from many peers and in any order.
func rejectStored(id [32]byte) error {
	return &Rejection{Rule: RuleDuplicate, Reason: fmt.Sprintf("event %s is already stored", shortID(id)), Harmless: true, Verified: true, DependsOnSet: true}
}

func rejectStale(reason string) error {
	return &Rejection{Rule: RuleDuplicate, Reason: reason, Harmless: true, Verified: true, DependsOnSet: true}
}

// Add records an accepted event under the index's Policy. It returns the
// summaries of the events it displaced (an older version, records it
// deletes, an older tombstone, and the losers the Policy evicts), which the
// caller removes from its store and tree. When the event itself is not kept,
// the error is a harmless *Rejection: rule "duplicate" for an event already
// held, a stale version, a deleted version, or content the author already
// has in a newer record; rule "author-quota" for a record or deletion that
// ranks below the author's quota. Add does not moderate: run the pipeline
// first.
func (m *MemoryIndex) Add(e *record.Event) (removed []record.Summary, err error) {
	s, err := record.Summarize(e)
	if err != nil {
		return nil, &Rejection{Rule: RuleSchema, Reason: err.Error(), Err: err, Verified: true}
	}
	return m.AddSummary(s)
}

// AddSummary is Add for an event known by its summary (a store's, at open).
func (m *MemoryIndex) AddSummary(s record.Summary) (removed []record.Summary, err error) {
	return m.add(s, false)
}

// Admit is AddSummary, with the rule for the node's own new writes when own:
// a new record that would evict one of the author's records (a quota, the
// same content) is refused instead, with a *Rejection that is not harmless,
// so that a user is told rather than losing an older record. Deletions evict
// old tombstones as in Add: an author can always take a record down.
func (m *MemoryIndex) Admit(s record.Summary, own bool) (removed []record.Summary, err error) {
	return m.add(s, own)
}

func (m *MemoryIndex) add(s record.Summary, own bool) ([]record.Summary, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.findID(s.ID); ok {
		return nil, rejectStored(s.ID)
	}
	switch s.Kind {
	case record.KindRecord:
		return m.addRecordLocked(s, own)
	case record.KindDeletion:
		return m.addDeletionLocked(s)
	}
	return nil, &Rejection{Rule: RuleSchema, Reason: fmt.Sprintf("kind %d is neither a record nor a deletion", s.Kind), Verified: true}
}

func (m *MemoryIndex) addRecordLocked(s record.Summary, own bool) ([]record.Summary, error) {
	if t, ok := m.findAddr(&m.tombs, s.PubKey, s.UUID); ok && m.summary(t).Deletes(s) {
		return nil, rejectStale(fmt.Sprintf("stale: record %s was deleted", record.FormatUUID(s.UUID)))
	}
	cur, hasCur := m.findAddr(&m.live, s.PubKey, s.UUID)
	if hasCur && !s.Supersedes(m.summary(cur)) {
		return nil, rejectStale(fmt.Sprintf("stale: a newer version %s of record %s is stored", shortID(m.slots.at(cur).id), record.FormatUUID(s.UUID)))
	}
	// The Policy's losers, decided before anything changes.
	var evict []uint32
	if m.policy.Duplicates && s.HasContent {
		if w, ok := m.findContent(s.PubKey, s.Content); ok && (!hasCur || w != cur) {
			if own {
				return nil, &Rejection{Rule: RuleDuplicate, Reason: "the author already has another live record with the same content", Verified: true, DependsOnSet: true}
			}
			if m.summary(w).Supersedes(s) {
				return nil, rejectStale(fmt.Sprintf("the author's newer record %s has the same content", shortID(m.slots.at(w).id)))
			}
			evict = append(evict, w)
		}
	}
	if q := m.policy.AuthorQuota; q > 0 && !hasCur {
		if a, ok := m.lookupAuthor(s.PubKey); ok {
			st := m.authors.at(a)
			if n := int(st.live) - len(evict); n >= q {
				if own {
					return nil, &Rejection{Rule: RuleAuthorQuota, Reason: fmt.Sprintf("the author already has %d live records, the quota is %d: delete one first", n, q), Verified: true, DependsOnSet: true}
				}
				// The author's worst live record that is not already evicted.
				worst, found := uint32(0), false
				for i := len(st.ranked) - 1; i >= 0; i-- {
					if r := st.ranked[i]; !slices.Contains(evict, r) {
						worst, found = r, true
						break
					}
				}
				if found && !s.Supersedes(m.summary(worst)) {
					return nil, &Rejection{Rule: RuleAuthorQuota, Reason: fmt.Sprintf("the author has %d newer live records, the quota is %d", q, q), Harmless: true, Verified: true, DependsOnSet: true}
				}
				if found {
					evict = append(evict, worst)
				}
			}
		}
	}
	var removed []record.Summary
	if hasCur {
		removed = append(removed, m.summary(cur))
		m.dropLocked(cur)
	}
	for _, r := range evict {
		removed = append(removed, m.summary(r))
		m.dropLocked(r)
	}
	m.insertLocked(s)
	return removed, nil
}

func (m *MemoryIndex) addDeletionLocked(s record.Summary) ([]record.Summary, error) {
	t, hasT := m.findAddr(&m.tombs, s.PubKey, s.UUID)
	if hasT && !s.Supersedes(m.summary(t)) {
		return nil, rejectStale(fmt.Sprintf("stale: a newer deletion %s of record %s is stored", shortID(m.slots.at(t).id), record.FormatUUID(s.UUID)))
	}
	evict, hasEvict := uint32(0), false
	if q := m.policy.DeletionQuota; q > 0 && !hasT {
		if a, ok := m.lookupAuthor(s.PubKey); ok {
			if st := m.authors.at(a); int(st.deletions) >= q {
				worst := st.tombs[len(st.tombs)-1]
				if !s.Supersedes(m.summary(worst)) {
					return nil, &Rejection{Rule: RuleAuthorQuota, Reason: fmt.Sprintf("the author has %d newer deletions, the deletion quota is %d", q, q), Harmless: true, Verified: true, DependsOnSet: true}
				}
				evict, hasEvict = worst, true
			}
		}
	}
	var removed []record.Summary
	if hasT {
		removed = append(removed, m.summary(t))
		m.dropLocked(t)
	}
	if hasEvict {
		removed = append(removed, m.summary(evict))
		m.dropLocked(evict)
	}
	if cur, ok := m.findAddr(&m.live, s.PubKey, s.UUID); ok && s.Deletes(m.summary(cur)) {
		removed = append(removed, m.summary(cur))
		m.dropLocked(cur)
	}
	m.insertLocked(s)
	return removed, nil
}

// insertLocked stores s in a slot and every table.
func (m *MemoryIndex) insertLocked(s record.Summary) {
	a := m.authorLocked(s.PubKey)
	var i uint32
	if m.free != 0 {
		i = m.free - 1
		m.free = m.slots.at(i).next
	} else {
		i = m.slots.add()
	}
	sl := m.slots.at(i)
	*sl = slot{id: s.ID, createdAt: s.CreatedAt, uuid: s.UUID, content: s.Content, author: a, hasContent: s.HasContent}
	m.held++
	m.byID.insert(m.hashID(s.ID), i, m.hashIDOf)
	st := m.authors.at(a)
	if s.Kind == record.KindRecord {
		sl.kind = slotRecord
		m.live.insert(m.hashAddr(a, s.UUID), i, m.hashAddrOf)
		if pos, ok := m.uuids.find(m.hashUUID(s.UUID), func(e uint32) bool { return m.slots.at(e).uuid == s.UUID }); ok {
			sl.next = m.uuids.get(pos) + 1
			m.uuids.set(pos, i)
		} else {
			m.uuids.insert(m.hashUUID(s.UUID), i, m.hashUUIDOf)
		}
		if m.policy.Duplicates && s.HasContent {
			m.content.insert(m.hashContent(a, s.Content), i, m.hashContentOf)
		}
		st.live++
		if m.policy.AuthorQuota > 0 {
			st.ranked = m.insertRanked(st.ranked, i)
		}
	} else {
		sl.kind = slotDeletion
		m.tombs.insert(m.hashAddr(a, s.UUID), i, m.hashAddrOf)
		st.deletions++
		if m.policy.DeletionQuota > 0 {
			st.tombs = m.insertRanked(st.tombs, i)
		}
	}
	m.touchLocked(a)
}

// dropLocked removes the event in slot i from every table.
func (m *MemoryIndex) dropLocked(i uint32) {
	sl := m.slots.at(i)
	a := sl.author
	st := m.authors.at(a)
	if pos, ok := m.byID.find(m.hashID(sl.id), func(e uint32) bool { return e == i }); ok {
		m.byID.remove(pos, m.hashIDOf)
	}
	switch sl.kind {
	case slotRecord:
		if pos, ok := m.live.find(m.hashAddr(a, sl.uuid), func(e uint32) bool { return e == i }); ok {
			m.live.remove(pos, m.hashAddrOf)
		}
		m.unchainUUIDLocked(i)
		if m.policy.Duplicates && sl.hasContent {
			if pos, ok := m.content.find(m.hashContent(a, sl.content), func(e uint32) bool { return e == i }); ok {
				m.content.remove(pos, m.hashContentOf)
			}
		}
		st.live--
		st.ranked = removeSlot(st.ranked, i)
	case slotDeletion:
		if pos, ok := m.tombs.find(m.hashAddr(a, sl.uuid), func(e uint32) bool { return e == i }); ok {
			m.tombs.remove(pos, m.hashAddrOf)
		}
		st.deletions--
		st.tombs = removeSlot(st.tombs, i)
	}
	*sl = slot{next: m.free}
	m.free = i + 1
	m.held--
	if st.live <= 0 && st.deletions <= 0 {
		if pos, ok := m.authorOf.find(m.hashPK(st.pk), func(e uint32) bool { return e == a }); ok {
			m.authorOf.remove(pos, m.hashAuthorOf)
		}
		*st = authorState{}
		m.freeAuth = append(m.freeAuth, a)
		return
	}
	m.touchLocked(a)
}

// unchainUUIDLocked takes live record i out of its uuid's chain.
func (m *MemoryIndex) unchainUUIDLocked(i uint32) {
	u := m.slots.at(i).uuid
	pos, ok := m.uuids.find(m.hashUUID(u), func(e uint32) bool { return m.slots.at(e).uuid == u })
	if !ok {
		return
	}
	head := m.uuids.get(pos)
	if head == i {
		if next := m.slots.at(i).next; next != 0 {
			m.uuids.set(pos, next-1)
		} else {
			m.uuids.remove(pos, m.hashUUIDOf)
		}
		return
	}
	for prev := head; m.slots.at(prev).next != 0; prev = m.slots.at(prev).next - 1 {
		if m.slots.at(prev).next-1 == i {
			m.slots.at(prev).next = m.slots.at(i).next
			return
		}
	}
}

// insertRanked inserts slot i into list, which is ordered best first.
func (m *MemoryIndex) insertRanked(list []uint32, i uint32) []uint32 {
	s := m.summary(i)
	at, _ := slices.BinarySearchFunc(list, i, func(a, _ uint32) int {
		if m.summary(a).Supersedes(s) {
			return -1
		}
		return 1
	})
	return slices.Insert(list, at, i)
}

func removeSlot(list []uint32, i uint32) []uint32 {
	if at := slices.Index(list, i); at >= 0 {
		return slices.Delete(list, at, at+1)
	}
	return list
}

func (m *MemoryIndex) authorLocked(pk record.PublicKey) uint32 {
	if a, ok := m.lookupAuthor(pk); ok {
		return a
	}
	var a uint32
	if n := len(m.freeAuth); n > 0 {
		a = m.freeAuth[n-1]
		m.freeAuth = m.freeAuth[:n-1]
	} else {
		a = m.authors.add()
	}
	*m.authors.at(a) = authorState{pk: pk}
	m.authorOf.insert(m.hashPK(pk), a, m.hashAuthorOf)
	return a
}

// lookupAuthor returns the author number of pk, if it has events here.
func (m *MemoryIndex) lookupAuthor(pk record.PublicKey) (uint32, bool) {
	pos, ok := m.authorOf.find(m.hashPK(pk), func(e uint32) bool { return m.authors.at(e).pk == pk })
	if !ok {
		return 0, false
	}
	return m.authorOf.get(pos), true
}

func (m *MemoryIndex) touchLocked(a uint32) {
	m.epoch++
	m.authors.at(a).epoch = m.epoch
}

// summary returns the summary of the event in slot i.
func (m *MemoryIndex) summary(i uint32) record.Summary {
	sl := m.slots.at(i)
	kind := record.KindRecord
	if sl.kind == slotDeletion {
		kind = record.KindDeletion
	}
	return record.Summary{ID: sl.id, CreatedAt: sl.createdAt, Kind: kind, PubKey: m.authors.at(sl.author).pk,
		UUID: sl.uuid, Content: sl.content, HasContent: sl.hasContent}
}

// Hashes: seeded, so that nobody can choose ids or UUIDs that collide here.
func (m *MemoryIndex) hashID(id [32]byte) uint64 { return maphash.Bytes(m.seed, id[:16]) }
func (m *MemoryIndex) hashIDOf(e uint32) uint64  { return m.hashID(m.slots.at(e).id) }

func (m *MemoryIndex) hashPK(pk record.PublicKey) uint64 { return maphash.Bytes(m.seed, pk[:]) }
func (m *MemoryIndex) hashAuthorOf(a uint32) uint64      { return m.hashPK(m.authors.at(a).pk) }

func (m *MemoryIndex) hashAddr(author uint32, uuid [16]byte) uint64 {
	var b [20]byte
	binary.LittleEndian.PutUint32(b[:4], author)
	copy(b[4:], uuid[:])
	return maphash.Bytes(m.seed, b[:])
}
func (m *MemoryIndex) hashAddrOf(e uint32) uint64 {
	sl := m.slots.at(e)
	return m.hashAddr(sl.author, sl.uuid)
}

func (m *MemoryIndex) hashContent(author uint32, content [16]byte) uint64 {
	return m.hashAddr(author^0x9e3779b9, content)
}
func (m *MemoryIndex) hashContentOf(e uint32) uint64 {
	sl := m.slots.at(e)
	return m.hashContent(sl.author, sl.content)
}

func (m *MemoryIndex) hashUUID(u [16]byte) uint64 { return maphash.Bytes(m.seed, u[:]) }
func (m *MemoryIndex) hashUUIDOf(e uint32) uint64 { return m.hashUUID(m.slots.at(e).uuid) }

func (m *MemoryIndex) findID(id [32]byte) (uint32, bool) {
	pos, ok := m.byID.find(m.hashID(id), func(e uint32) bool { return m.slots.at(e).id == id })
	if !ok {
		return 0, false
	}
	return m.byID.get(pos), true
}

// findAddr looks up (pk, uuid) in t (live or tombs).
func (m *MemoryIndex) findAddr(t *table, pk record.PublicKey, uuid [16]byte) (uint32, bool) {
	a, ok := m.lookupAuthor(pk)
	if !ok {
		return 0, false
	}
	pos, found := t.find(m.hashAddr(a, uuid), func(e uint32) bool { sl := m.slots.at(e); return sl.author == a && sl.uuid == uuid })
	if !found {
		return 0, false
	}
	return t.get(pos), true
}

func (m *MemoryIndex) findContent(pk record.PublicKey, content [16]byte) (uint32, bool) {
	a, ok := m.lookupAuthor(pk)
	if !ok {
		return 0, false
	}
	pos, found := m.content.find(m.hashContent(a, content), func(e uint32) bool {
		sl := m.slots.at(e)
		return sl.author == a && sl.content == content
	})
	if !found {
		return 0, false
	}
	return m.content.get(pos), true
}

// Remove forgets the event with this id (garbage collection, or a store
// that dropped it). It reports whether the event was held.
func (m *MemoryIndex) Remove(id [32]byte) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, ok := m.findID(id)
	if ok {
		m.dropLocked(i)
	}
	return ok
}

// AuthorEpoch returns a number that changes whenever the events the index
// holds for author change (0 when it holds none). A refusal that depended
// on the author's stored events (a stale version, a quota, a duplicate) is
// worth remembering only while the author's epoch stays the same.
func (m *MemoryIndex) AuthorEpoch(author record.PublicKey) uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if a, ok := m.lookupAuthor(author); ok {
		return m.authors.at(a).epoch
	}
	return 0
}

// Len returns the number of events held (live records and tombstones).
func (m *MemoryIndex) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.held
}

// Each calls fn with the summary of every held event, in no particular
// order, until fn returns false. It holds the index's read lock: fn must not
// call the index's writing methods.
func (m *MemoryIndex) Each(fn func(record.Summary) bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for i := range m.slots.len() {
		if m.slots.at(i).kind != slotFree && !fn(m.summary(i)) {
			return
		}
	}
}

// Has implements Index.
func (m *MemoryIndex) Has(id [32]byte) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.findID(id)
	return ok
}

// Get returns the summary of the held event with this id.
func (m *MemoryIndex) Get(id [32]byte) (record.Summary, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	i, ok := m.findID(id)
	if !ok {
		return record.Summary{}, false
	}
	return m.summary(i), true
}

// Live implements Index.
func (m *MemoryIndex) Live(addr record.Address) (record.Summary, bool) {
	return m.lookupAddr(&m.live, addr)
}

// Tombstone implements Index.
func (m *MemoryIndex) Tombstone(addr record.Address) (record.Summary, bool) {
	return m.lookupAddr(&m.tombs, addr)
}

func (m *MemoryIndex) lookupAddr(t *table, addr record.Address) (record.Summary, bool) {
	if addr.Kind != record.KindRecord {
		return record.Summary{}, false
	}
	u, err := record.ParseUUID(addr.UUID)
	if err != nil {
		return record.Summary{}, false
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	i, ok := m.findAddr(t, addr.PubKey, u)
	if !ok {
		return record.Summary{}, false
	}
	return m.summary(i), true
}

// LiveByUUID returns the live records with this UUID, by any author.
func (m *MemoryIndex) LiveByUUID(uuid [16]byte) []record.Summary {
	m.mu.RLock()
	defer m.mu.RUnlock()
	pos, ok := m.uuids.find(m.hashUUID(uuid), func(e uint32) bool { return m.slots.at(e).uuid == uuid })
	if !ok {
		return nil
	}
	var out []record.Summary
	for i := m.uuids.get(pos) + 1; i != 0; i = m.slots.at(i - 1).next {
		out = append(out, m.summary(i-1))
	}
	return out
}

// LiveCount returns how many live records author has.
func (m *MemoryIndex) LiveCount(author record.PublicKey) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if a, ok := m.lookupAuthor(author); ok {
		return int(m.authors.at(a).live)
	}
	return 0
}

// DeletionCount returns how many deletions of author are held.
func (m *MemoryIndex) DeletionCount(author record.PublicKey) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if a, ok := m.lookupAuthor(author); ok {
		return int(m.authors.at(a).deletions)
	}
	return 0
}
