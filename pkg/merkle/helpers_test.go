package merkle

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
)

// testItem derives a deterministic item from a number: ids are sha256 of the number, timestamps
// spread over about a year from a fixed epoch.
func testItem(i uint64) Item {
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], i)
	id := sha256.Sum256(seed[:])
	return Item{Timestamp: 1_700_000_000 + binary.LittleEndian.Uint64(id[:8])%(365*86400), ID: id}
}

// checkInvariants verifies order, AVL balance, heights, counts and sums of every node.
func (t *Tree) checkInvariants() error {
	_, _, err := t.checkNode(t.root, nil, nil)
	return err
}

func (t *Tree) checkNode(idx int32, lo, hi *Item) (height int8, agg aggregate, err error) {
	if idx == 0 {
		return 0, aggregate{}, nil
	}
	n := t.node(idx)
	if lo != nil && n.item.Compare(*lo) <= 0 || hi != nil && n.item.Compare(*hi) >= 0 {
		return 0, agg, fmt.Errorf("node %d out of order", idx)
	}
	lh, la, err := t.checkNode(n.left, lo, &n.item)
	if err != nil {
		return 0, agg, err
	}
	rh, ra, err := t.checkNode(n.right, &n.item, hi)
	if err != nil {
		return 0, agg, err
	}
	if d := int(lh) - int(rh); d < -1 || d > 1 {
		return 0, agg, fmt.Errorf("node %d unbalanced: %d vs %d", idx, lh, rh)
	}
	height = 1 + max(lh, rh)
	if int(n.balance) != int(rh)-int(lh) {
		return 0, agg, fmt.Errorf("node %d balance %d, want %d", idx, n.balance, int(rh)-int(lh))
	}
	agg = la
	agg.sum.add(&ra.sum)
	agg.count += ra.count
	agg.addItem(&n.item)
	if uint64(n.count) != agg.count || n.sum != agg.sum {
		return 0, agg, fmt.Errorf("node %d aggregate wrong", idx)
	}
	return height, agg, nil
}

// sortedItems returns the set as a sorted slice.
func sortedItems(set map[Item]struct{}) []Item {
	items := make([]Item, 0, len(set))
	for it := range set {
		items = append(items, it)
	}
	slices.SortFunc(items, Item.Compare)
	return items
}

func treeOf(items []Item) *Tree {
	t := NewTreeWithCapacity(len(items))
	for _, it := range items {
		if _, err := t.Insert(it); err != nil {
			panic(err)
		}
	}
	return t
}

// splitSets builds two sets sharing n common items, with d differences scattered at random and
// split between the sides (A gets the odd ones).
func splitSets(rng *rand.Rand, n, d int) (a, b []Item, onlyA, onlyB map[[IDSize]byte]bool) {
	onlyA, onlyB = map[[IDSize]byte]bool{}, map[[IDSize]byte]bool{}
	base := rng.Uint64()
	for i := 0; i < n; i++ {
		it := testItem(base + uint64(i))
		a, b = append(a, it), append(b, it)
	}
	for i := 0; i < d; i++ {
		it := testItem(base + uint64(n+i))
		if i%2 == 0 {
			a = append(a, it)
			onlyA[it.ID] = true
		} else {
			b = append(b, it)
			onlyB[it.ID] = true
		}
	}
	return a, b, onlyA, onlyB
}

func sameIDSet(got map[[IDSize]byte]bool, want map[[IDSize]byte]bool) bool {
	if len(got) != len(want) {
		return false
	}
	for id := range want {
		if !got[id] {
			return false
		}
	}
	return true
}

// syncStats is what one full reconciliation cost.
type syncStats struct {
	messages      int // messages sent, both directions
	bytesOut      int // initiator to responder
	bytesIn       int // responder to initiator
	have, need    map[[IDSize]byte]bool
	missingRanges []TimeRange
}

// runSync reconciles two trees in memory, our initiator against our responder.
func runSync(initTree, respTree *Tree, initOpts, respOpts Options) (syncStats, error) {
	st := syncStats{have: map[[IDSize]byte]bool{}, need: map[[IDSize]byte]bool{}}
	in, err := NewInitiator(initTree, initOpts)
	if err != nil {
		return st, err
	}
	re, err := NewResponder(respTree, respOpts)
	if err != nil {
		return st, err
	}
	msg, err := in.Initiate()
	if err != nil {
		return st, err
	}
	for round := 0; ; round++ {
		if round > 10_000 {
			return st, fmt.Errorf("no convergence after %d rounds", round)
		}
		if lim := initOpts.FrameSizeLimit; lim > 0 && len(msg) > lim {
			return st, fmt.Errorf("initiator message of %d bytes exceeds the limit %d", len(msg), lim)
		}
		st.messages++
		st.bytesOut += len(msg)
		reply, err := re.Respond(msg)
		if err != nil {
			return st, err
		}
		if lim := respOpts.FrameSizeLimit; lim > 0 && len(reply) > lim {
			return st, fmt.Errorf("responder message of %d bytes exceeds the limit %d", len(reply), lim)
		}
		st.messages++
		st.bytesIn += len(reply)
		next, have, need, done, err := in.Reconcile(reply)
		if err != nil {
			return st, err
		}
		for _, id := range have {
			st.have[id] = true
		}
		for _, id := range need {
			st.need[id] = true
		}
		if done {
			st.missingRanges = in.MissingRanges()
			return st, nil
		}
		if bytes.Equal(next, msg) && len(have) == 0 && len(need) == 0 {
			return st, fmt.Errorf("no progress in round %d", round)
		}
		msg = next
	}
}
