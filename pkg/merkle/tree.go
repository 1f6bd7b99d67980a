package merkle

// node is one AVL node in the tree's arena. Children are arena indices; index 0 is the empty
// subtree. count and sum aggregate the whole subtree rooted here.
type node struct {
	item   Item
	sum    sum256
	count  uint32
	left   int32
	right  int32
	height int8
}

// Tree is an AVL tree of items with subtree aggregates. Nodes live in one slice (an arena) linked
// by int32 indices, which keeps the garbage collector out of the picture and deleted slots are
// reused. A Tree is not safe for concurrent use; concurrent readers are fine while nobody writes.
type Tree struct {
	nodes []node // nodes[0] is the sentinel for "no node"
	root  int32
	free  int32 // head of the free list, chained through left
}

// NewTree returns an empty tree.
func NewTree() *Tree { return NewTreeWithCapacity(0) }

// NewTreeWithCapacity returns an empty tree with room for n items before the arena grows.
func NewTreeWithCapacity(n int) *Tree {
	return &Tree{nodes: make([]node, 1, n+1)}
}

// Len returns the number of items.
func (t *Tree) Len() int { return int(t.nodes[t.root].count) }

// Root returns the fingerprint of the whole set. Equal sets have equal roots whatever the order
// of insertions and deletions.
func (t *Tree) Root() Fingerprint {
	n := &t.nodes[t.root]
	a := aggregate{count: uint64(n.count), sum: n.sum}
	return a.fingerprint()
}

func (t *Tree) newNode(it *Item) int32 {
	var idx int32
	if t.free != 0 {
		idx = t.free
		t.free = t.nodes[idx].left
	} else {
		t.nodes = append(t.nodes, node{})
		idx = int32(len(t.nodes) - 1)
	}
	t.nodes[idx] = node{item: *it, sum: sumOfID(&it.ID), count: 1, height: 1}
	return idx
}

func (t *Tree) release(idx int32) {
	t.nodes[idx] = node{left: t.free}
	t.free = idx
}

func (t *Tree) update(idx int32) {
	n := &t.nodes[idx]
	l, r := &t.nodes[n.left], &t.nodes[n.right]
	n.count = 1 + l.count + r.count
	n.sum = sumOfID(&n.item.ID)
	n.sum.add(&l.sum)
	n.sum.add(&r.sum)
	n.height = 1 + max(l.height, r.height)
}

func (t *Tree) rotateRight(idx int32) int32 {
	pivot := t.nodes[idx].left
	t.nodes[idx].left = t.nodes[pivot].right
	t.nodes[pivot].right = idx
	t.update(idx)
	t.update(pivot)
	return pivot
}

func (t *Tree) rotateLeft(idx int32) int32 {
	pivot := t.nodes[idx].right
	t.nodes[idx].right = t.nodes[pivot].left
	t.nodes[pivot].left = idx
	t.update(idx)
	t.update(pivot)
	return pivot
}

func (t *Tree) balanceFactor(idx int32) int {
	n := &t.nodes[idx]
	return int(t.nodes[n.left].height) - int(t.nodes[n.right].height)
}

// rebalance restores the AVL property at idx (whose children are balanced) and its aggregates.
func (t *Tree) rebalance(idx int32) int32 {
	t.update(idx)
	switch bf := t.balanceFactor(idx); {
	case bf > 1:
		if t.balanceFactor(t.nodes[idx].left) < 0 {
			t.nodes[idx].left = t.rotateLeft(t.nodes[idx].left)
		}
		return t.rotateRight(idx)
	case bf < -1:
		if t.balanceFactor(t.nodes[idx].right) > 0 {
			t.nodes[idx].right = t.rotateRight(t.nodes[idx].right)
		}
		return t.rotateLeft(idx)
	}
	return idx
}

// Insert adds it to the set. It reports whether the item was new; the only error is
// ErrReservedTimestamp.
func (t *Tree) Insert(it Item) (bool, error) {
	if it.Timestamp == MaxTimestamp {
		return false, ErrReservedTimestamp
	}
	root, added := t.insert(t.root, &it)
	t.root = root
	return added, nil
}

func (t *Tree) insert(idx int32, it *Item) (int32, bool) {
	if idx == 0 {
		return t.newNode(it), true
	}
	var added bool
	switch c := it.Compare(t.nodes[idx].item); {
	case c < 0:
		var child int32
		child, added = t.insert(t.nodes[idx].left, it)
		t.nodes[idx].left = child
	case c > 0:
		var child int32
		child, added = t.insert(t.nodes[idx].right, it)
		t.nodes[idx].right = child
	default:
		return idx, false
	}
	if !added {
		return idx, false
	}
	return t.rebalance(idx), true
}

// Delete removes it from the set and reports whether it was present.
func (t *Tree) Delete(it Item) bool {
	root, removed := t.delete(t.root, &it)
	t.root = root
	return removed
}

func (t *Tree) delete(idx int32, it *Item) (int32, bool) {
	if idx == 0 {
		return 0, false
	}
	var removed bool
	switch c := it.Compare(t.nodes[idx].item); {
	case c < 0:
		var child int32
		child, removed = t.delete(t.nodes[idx].left, it)
		t.nodes[idx].left = child
	case c > 0:
		var child int32
		child, removed = t.delete(t.nodes[idx].right, it)
		t.nodes[idx].right = child
	default:
		left, right := t.nodes[idx].left, t.nodes[idx].right
		switch {
		case left == 0:
			t.release(idx)
			return right, true
		case right == 0:
			t.release(idx)
			return left, true
		}
		// Two children: the in-order successor takes this node's place.
		newRight, successor := t.detachMin(right)
		t.nodes[successor].left = left
		t.nodes[successor].right = newRight
		t.release(idx)
		return t.rebalance(successor), true
	}
	if !removed {
		return idx, false
	}
	return t.rebalance(idx), true
}

// detachMin removes the smallest node of the subtree at idx without freeing it and returns the
// new subtree root and the detached node.
func (t *Tree) detachMin(idx int32) (int32, int32) {
	left := t.nodes[idx].left
	if left == 0 {
		return t.nodes[idx].right, idx
	}
	newLeft, minNode := t.detachMin(left)
	t.nodes[idx].left = newLeft
	return t.rebalance(idx), minNode
}

// Has reports whether it is in the set.
func (t *Tree) Has(it Item) bool {
	idx := t.root
	for idx != 0 {
		n := &t.nodes[idx]
		switch c := it.Compare(n.item); {
		case c < 0:
			idx = n.left
		case c > 0:
			idx = n.right
		default:
			return true
		}
	}
	return false
}

// Rank returns the number of items below b; it is also the position of the first item at or
// above b.
func (t *Tree) Rank(b Bound) int {
	bi := Item(b)
	rank := 0
	idx := t.root
	for idx != 0 {
		n := &t.nodes[idx]
		if n.item.Compare(bi) < 0 {
			rank += int(t.nodes[n.left].count) + 1
			idx = n.right
		} else {
			idx = n.left
		}
	}
	return rank
}

// At returns the item at position i in ascending order (0-based), and false when i is out of range.
func (t *Tree) At(i int) (Item, bool) {
	if i < 0 || i >= t.Len() {
		return Item{}, false
	}
	idx := t.root
	for {
		n := &t.nodes[idx]
		leftCount := int(t.nodes[n.left].count)
		switch {
		case i < leftCount:
			idx = n.left
		case i == leftCount:
			return n.item, true
		default:
			i -= leftCount + 1
			idx = n.right
		}
	}
}

// aggregateBelowBound sums the items below b.
func (t *Tree) aggregateBelowBound(b Bound) aggregate {
	bi := Item(b)
	var a aggregate
	idx := t.root
	for idx != 0 {
		n := &t.nodes[idx]
		if n.item.Compare(bi) < 0 {
			l := &t.nodes[n.left]
			a.count += uint64(l.count) + 1
			a.sum.add(&l.sum)
			own := sumOfID(&n.item.ID)
			a.sum.add(&own)
			idx = n.right
		} else {
			idx = n.left
		}
	}
	return a
}

// aggregateOfPrefix sums the first k items.
func (t *Tree) aggregateOfPrefix(k int) aggregate {
	var a aggregate
	if k >= t.Len() {
		n := &t.nodes[t.root]
		return aggregate{count: uint64(n.count), sum: n.sum}
	}
	idx := t.root
	for idx != 0 && k > 0 {
		n := &t.nodes[idx]
		l := &t.nodes[n.left]
		leftCount := int(l.count)
		if k <= leftCount {
			idx = n.left
			continue
		}
		a.count += uint64(leftCount) + 1
		a.sum.add(&l.sum)
		own := sumOfID(&n.item.ID)
		a.sum.add(&own)
		k -= leftCount + 1
		idx = n.right
	}
	return a
}

// Fingerprint returns the fingerprint of the items x with lower <= x < upper, in O(log n).
func (t *Tree) Fingerprint(lower, upper Bound) Fingerprint {
	if lower.Compare(upper) >= 0 {
		var empty aggregate
		return empty.fingerprint()
	}
	hi := t.aggregateBelowBound(upper)
	lo := t.aggregateBelowBound(lower)
	a := hi.minus(&lo)
	return a.fingerprint()
}

// FingerprintOfRanks returns the fingerprint of the items at positions [from, to), in O(log n).
func (t *Tree) FingerprintOfRanks(from, to int) Fingerprint {
	a := t.aggregateOfRanks(from, to)
	return a.fingerprint()
}

func (t *Tree) aggregateOfRanks(from, to int) aggregate {
	from, to = max(from, 0), min(to, t.Len())
	if from >= to {
		return aggregate{}
	}
	hi := t.aggregateOfPrefix(to)
	lo := t.aggregateOfPrefix(from)
	return hi.minus(&lo)
}

// AscendRanks calls fn for the items at positions [from, to) in ascending order until fn returns
// false.
func (t *Tree) AscendRanks(from, to int, fn func(Item) bool) {
	from, to = max(from, 0), min(to, t.Len())
	if from >= to {
		return
	}
	// Descend to position from, stacking the nodes whose left subtree we enter.
	var stack [96]int32 // AVL height is below 1.45·log2(n+2), so 96 levels hold any int32-sized tree
	depth := 0
	idx := t.root
	k := from
	for idx != 0 {
		n := &t.nodes[idx]
		leftCount := int(t.nodes[n.left].count)
		switch {
		case k < leftCount:
			stack[depth] = idx
			depth++
			idx = n.left
		case k == leftCount:
			stack[depth] = idx
			depth++
			idx = 0
		default:
			k -= leftCount + 1
			idx = n.right
		}
	}
	for remaining := to - from; remaining > 0 && depth > 0; remaining-- {
		depth--
		cur := stack[depth]
		if !fn(t.nodes[cur].item) {
			return
		}
		for idx = t.nodes[cur].right; idx != 0; idx = t.nodes[idx].left {
			stack[depth] = idx
			depth++
		}
	}
}

// Ascend calls fn for the items x with lower <= x < upper in ascending order until fn returns false.
func (t *Tree) Ascend(lower, upper Bound, fn func(Item) bool) {
	t.AscendRanks(t.Rank(lower), t.Rank(upper), fn)
}
