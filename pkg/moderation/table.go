package moderation

// table is an open-addressing hash set of entry numbers (linear probing,
// backward-shift deletion): the index's maps cost about 6 bytes per entry
// instead of a Go map's key copy and buckets. The caller supplies the hashes
// and the equality test against its entries; the table stores entry+1 so
// that 0 marks an empty slot. It is not safe for concurrent use.
type table struct {
	slots []uint32
	count int
}

// minTableSlots is the smallest table; tables stay at most 3/4 full.
const minTableSlots = 16

func (t *table) mask() uint64 { return uint64(len(t.slots) - 1) }

// find returns the position of the entry matching (by match) among those
// with hash h, or the empty position where such an entry would go.
func (t *table) find(h uint64, match func(entry uint32) bool) (pos int, found bool) {
	if len(t.slots) == 0 {
		return -1, false
	}
	m := t.mask()
	for i := h & m; ; i = (i + 1) & m {
		v := t.slots[i]
		if v == 0 {
			return int(i), false
		}
		if match(v - 1) {
			return int(i), true
		}
	}
}

// get returns the entry at pos (from find).
func (t *table) get(pos int) uint32 { return t.slots[pos] - 1 }

// set replaces the entry at pos (from a successful find).
func (t *table) set(pos int, entry uint32) { t.slots[pos] = entry + 1 }

// insert adds entry, whose hash is h; it must not be in the table. hashOf
// gives the hash of any entry, for growing.
func (t *table) insert(h uint64, entry uint32, hashOf func(entry uint32) uint64) {
	if (t.count+1)*4 > len(t.slots)*3 {
		t.resize(max(minTableSlots, 2*len(t.slots)), hashOf)
	}
	m := t.mask()
	i := h & m
	for t.slots[i] != 0 {
		i = (i + 1) & m
	}
	t.slots[i] = entry + 1
	t.count++
}

// remove deletes the entry at pos (from a successful find), shifting back
// the entries of its probe run so that no tombstone is needed.
func (t *table) remove(pos int, hashOf func(entry uint32) uint64) {
	m := t.mask()
	i := uint64(pos)
	for {
		t.slots[i] = 0
		j := i
		for {
			j = (j + 1) & m
			v := t.slots[j]
			if v == 0 {
				t.count--
				if len(t.slots) > minTableSlots && t.count*8 < len(t.slots) {
					t.resize(len(t.slots)/2, hashOf)
				}
				return
			}
			home := hashOf(v-1) & m
			// Move v back to i unless its home lies cyclically in (i, j].
			if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
				t.slots[i] = v
				i = j
				break
			}
		}
	}
}

func (t *table) resize(n int, hashOf func(entry uint32) uint64) {
	old := t.slots
	t.slots = make([]uint32, n)
	m := t.mask()
	for _, v := range old {
		if v == 0 {
			continue
		}
		i := hashOf(v-1) & m
		for t.slots[i] != 0 {
			i = (i + 1) & m
		}
		t.slots[i] = v
	}
}
