package moderation

import (
	"math/rand/v2"
	"testing"
)

// TestTableAgainstAMap runs random inserts and removes on the open-addressing
// table, with a hash that collides a lot (so probe runs wrap around and
// backward shifts cross them), against a Go map.
func TestTableAgainstAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]uint64, 5000) // entry e has key keys[e]
	for i := range keys {
		keys[i] = rng.Uint64()
	}
	hashOf := func(e uint32) uint64 { return keys[e] % 97 } // many collisions
	var tb table
	ref := map[uint32]bool{}
	find := func(e uint32) (int, bool) {
		return tb.find(hashOf(e), func(x uint32) bool { return x == e })
	}
	for step := range 200000 {
		e := uint32(rng.IntN(len(keys)))
		if rng.IntN(3) == 0 && len(ref) > 0 {
			pos, ok := find(e)
			if ok != ref[e] {
				t.Fatalf("step %d: find(%d) = %v, map says %v", step, e, ok, ref[e])
			}
			if ok {
				tb.remove(pos, hashOf)
				delete(ref, e)
			}
			continue
		}
		if _, ok := find(e); ok != ref[e] {
			t.Fatalf("step %d: find(%d) = %v, map says %v", step, e, ok, ref[e])
		} else if !ok {
			tb.insert(hashOf(e), e, hashOf)
			ref[e] = true
		}
		if tb.count != len(ref) {
			t.Fatalf("step %d: count %d, map %d", step, tb.count, len(ref))
		}
	}
	for e := range uint32(len(keys)) {
		if _, ok := find(e); ok != ref[e] {
			t.Fatalf("final: find(%d) = %v, map says %v", e, ok, ref[e])
		}
	}
	if len(tb.slots) > minTableSlots && tb.count*8 < len(tb.slots) {
		t.Errorf("%d entries in %d slots: not shrunk", tb.count, len(tb.slots))
	}
}
