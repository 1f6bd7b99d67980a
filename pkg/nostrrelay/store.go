package nostrrelay

import "github.com/peersetdb/peerset/pkg/record"

// stored is one kept event with its JSON.
type stored struct {
	ev  *record.Event
	raw []byte
	key string // replaceable/addressable key, "" for regular events
}

// store keeps events in arrival order, bounded in count and bytes; the
// oldest arrivals go first. Removed entries leave nil holes until the next
// compaction. It is not safe for concurrent use (Relay.mu guards it).
type store struct {
	maxEvents, maxBytes int

	events []*stored
	byID   map[[32]byte]*stored
	byKey  map[string]*stored
	bytes  int
	holes  int
}

type addResult int

const (
	addStored addResult = iota
	addDuplicate
	addOlder // a replaceable event older than the one kept
)

func newStore(maxEvents, maxBytes int) store {
	return store{maxEvents: maxEvents, maxBytes: maxBytes, byID: map[[32]byte]*stored{}, byKey: map[string]*stored{}}
}

// replaceKey returns the key under which only the newest event is kept:
// pubkey and kind for replaceable kinds, plus the d tag for addressable ones.
func replaceKey(e *record.Event) string {
	k := e.Kind
	switch {
	case k == 0 || k == 3 || (k >= 10000 && k < 20000):
		return string(e.PubKey[:]) + ":" + itoa(k)
	case k >= 30000 && k < 40000:
		return string(e.PubKey[:]) + ":" + itoa(k) + ":" + e.TagValue("d")
	}
	return ""
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

func (s *store) add(e *record.Event, raw []byte) addResult {
	if _, ok := s.byID[e.ID]; ok {
		return addDuplicate
	}
	key := replaceKey(e)
	if key != "" {
		if old, ok := s.byKey[key]; ok {
			// NIP-01: the newer created_at wins; on a tie, the lower id.
			if old.ev.CreatedAt > e.CreatedAt || (old.ev.CreatedAt == e.CreatedAt && string(old.ev.ID[:]) < string(e.ID[:])) {
				return addOlder
			}
			s.remove(old)
		}
	}
	st := &stored{ev: e, raw: raw, key: key}
	s.events = append(s.events, st)
	s.byID[e.ID] = st
	if key != "" {
		s.byKey[key] = st
	}
	s.bytes += len(raw)
	for len(s.byID) > s.maxEvents || s.bytes > s.maxBytes {
		s.evictOldest()
	}
	if s.holes > 64 && s.holes > len(s.events)/2 {
		s.compact()
	}
	return addStored
}

func (s *store) remove(st *stored) {
	for i, x := range s.events {
		if x == st {
			s.events[i] = nil
			s.holes++
			break
		}
	}
	delete(s.byID, st.ev.ID)
	if st.key != "" && s.byKey[st.key] == st {
		delete(s.byKey, st.key)
	}
	s.bytes -= len(st.raw)
}

func (s *store) evictOldest() {
	for i, x := range s.events {
		if x != nil {
			s.remove(x)
			// The i holes before it and the entry itself leave the slice.
			s.events = s.events[i+1:]
			s.holes -= i + 1
			return
		}
	}
}

func (s *store) compact() {
	out := make([]*stored, 0, len(s.byID))
	for _, x := range s.events {
		if x != nil {
			out = append(out, x)
		}
	}
	s.events = out
	s.holes = 0
}
