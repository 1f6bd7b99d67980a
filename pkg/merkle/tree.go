package merkle

// node is one AVL node in the tree's arena. Children are arena indices; index 0 is the empty
// subtree. count and sum aggregate the whole subtree rooted here; balance is the height of the right
// subtree minus the height of the left one (-1, 0 or +1 between operations).
type node struct {
	item    Item // the search reads item and the links, so they come first and share cache lines
	left    int32
	right   int32
	count   uint32
	balance int8
	sum     sum256
}

// maxDepth bounds the AVL height: below 1.45·log2(n+2), so 96 levels hold any int32-indexed tree.
const maxDepth = 96

// Tree is an AVL tree of items with subtree aggregates. Nodes live in one slice (an arena) linked
// by int32 indices, which keeps pointers away from the garbage collector; deleted slots are reused.
// Insert and Delete walk down once and fix aggregates and balance factors along the same path only,
// so they touch O(log n) nodes and no siblings except at rotations.
// A Tree is not safe for concurrent use; concurrent readers are fine while nobody writes.
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
	t.nodes[idx] = node{item: *it, sum: sumOfID(&it.ID), count: 1}
	return idx
}

func (t *Tree) release(idx int32) {
	t.nodes[idx] = node{left: t.free}
	t.free = idx
}

// recompute rebuilds the aggregate of idx from its children.
func (t *Tree) recompute(idx int32) {
	n := &t.nodes[idx]
	l, r := &t.nodes[n.left], &t.nodes[n.right]
	n.count = 1 + l.count + r.count
	n.sum = sumOfID(&n.item.ID)
	n.sum.add(&l.sum)
	n.sum.add(&r.sum)
}

func (t *Tree) rotateLeft(x int32) int32 {
	z := t.nodes[x].right
	t.nodes[x].right = t.nodes[z].left
	t.nodes[z].left = x
	t.recompute(x)
	t.recompute(z)
	return z
}

func (t *Tree) rotateRight(x int32) int32 {
	z := t.nodes[x].left
	t.nodes[x].left = t.nodes[z].right
	t.nodes[z].right = x
	t.recompute(x)
	t.recompute(z)
	return z
}

// fixImbalance rotates the subtree at x whose balance reached ±2 and returns its new root and
// whether its height is the same as before the rotation (only possible after a delete).
func (t *Tree) fixImbalance(x int32) (int32, bool) {
	if t.nodes[x].balance > 0 {
		z := t.nodes[x].right
		switch zb := t.nodes[z].balance; {
		case zb >= 0:
			root := t.rotateLeft(x)
			if zb == 0 {
				t.nodes[x].balance, t.nodes[z].balance = 1, -1
				return root, true
			}
			t.nodes[x].balance, t.nodes[z].balance = 0, 0
			return root, false
		default:
			y := t.nodes[z].left
			yb := t.nodes[y].balance
			t.nodes[x].right = t.rotateRight(z)
			root := t.rotateLeft(x)
			t.nodes[x].balance, t.nodes[z].balance = min(0, -yb), max(0, -yb)
			t.nodes[y].balance = 0
			return root, false
		}
	}
	z := t.nodes[x].left
	switch zb := t.nodes[z].balance; {
	case zb <= 0:
		root := t.rotateRight(x)
		if zb == 0 {
			t.nodes[x].balance, t.nodes[z].balance = -1, 1
			return root, true
		}
		t.nodes[x].balance, t.nodes[z].balance = 0, 0
		return root, false
	default:
		y := t.nodes[z].right
		yb := t.nodes[y].balance
		t.nodes[x].left = t.rotateLeft(z)
		root := t.rotateRight(x)
		t.nodes[x].balance, t.nodes[z].balance = max(0, -yb), min(0, -yb)
		t.nodes[y].balance = 0
		return root, false
	}
}

// setChild points the parent at path[i-1] (or the root when i == 0) to child.
func (t *Tree) setChild(path *[maxDepth]int32, dirs *[maxDepth]int8, i int, child int32) {
	if i == 0 {
		t.root = child
		return
	}
	if dirs[i-1] < 0 {
		t.nodes[path[i-1]].left = child
	} else {
		t.nodes[path[i-1]].right = child
	}
}

// Insert adds it to the set. It reports whether the item was new; the only error is
// ErrReservedTimestamp.
func (t *Tree) Insert(it Item) (bool, error) {
	if it.Timestamp == MaxTimestamp {
		return false, ErrReservedTimestamp
	}
	var path [maxDepth]int32
	var dirs [maxDepth]int8
	depth := 0
	for idx := t.root; idx != 0; depth++ {
		n := &t.nodes[idx]
		c := it.Compare(n.item)
		if c == 0 {
			return false, nil
		}
		path[depth], dirs[depth] = idx, int8(c)
		if c < 0 {
			idx = n.left
		} else {
			idx = n.right
		}
	}
	fresh := t.newNode(&it)
	t.setChild(&path, &dirs, depth, fresh)
	own := sumOfID(&it.ID)
	for i := 0; i < depth; i++ {
		n := &t.nodes[path[i]]
		n.count++
		n.sum.add(&own)
	}
	// Retrace: the subtree below path[i] grew by one level on side dirs[i].
	for i := depth - 1; i >= 0; i-- {
		n := &t.nodes[path[i]]
		n.balance += dirs[i]
		switch n.balance {
		case 0:
			return true, nil
		case 1, -1:
			continue
		}
		root, _ := t.fixImbalance(path[i])
		t.setChild(&path, &dirs, i, root)
		return true, nil
	}
	return true, nil
}

// Delete removes it from the set and reports whether it was present.
func (t *Tree) Delete(it Item) bool {
	var path [maxDepth]int32
	var dirs [maxDepth]int8
	depth := 0
	target := t.root
	for target != 0 {
		n := &t.nodes[target]
		c := it.Compare(n.item)
		if c == 0 {
			break
		}
		path[depth], dirs[depth] = target, int8(c)
		depth++
		if c < 0 {
			target = n.left
		} else {
			target = n.right
		}
	}
	if target == 0 {
		return false
	}
	removedSum := sumOfID(&it.ID)
	for i := 0; i < depth; i++ {
		n := &t.nodes[path[i]]
		n.count--
		n.sum.sub(&removedSum)
	}
	victim := target
	if t.nodes[target].left != 0 && t.nodes[target].right != 0 {
		// Two children: move the in-order successor's item here and unlink the successor instead.
		targetDepth := depth
		path[depth], dirs[depth] = target, 1
		depth++
		victim = t.nodes[target].right
		for t.nodes[victim].left != 0 {
			path[depth], dirs[depth] = victim, -1
			depth++
			victim = t.nodes[victim].left
		}
		moved := t.nodes[victim].item
		movedSum := sumOfID(&moved.ID)
		tn := &t.nodes[target]
		tn.item = moved
		tn.count--
		tn.sum.sub(&removedSum)
		for i := targetDepth + 1; i < depth; i++ {
			n := &t.nodes[path[i]]
			n.count--
			n.sum.sub(&movedSum)
		}
	}
	// victim has at most one child, which takes its place.
	child := t.nodes[victim].left
	if child == 0 {
		child = t.nodes[victim].right
	}
	t.setChild(&path, &dirs, depth, child)
	t.release(victim)
	// Retrace: the subtree below path[i] on side dirs[i] lost one level.
	for i := depth - 1; i >= 0; i-- {
		n := &t.nodes[path[i]]
		n.balance -= dirs[i]
		switch n.balance {
		case 1, -1:
			return true // height unchanged
		case 0:
			continue // shorter by one: keep going up
		}
		root, sameHeight := t.fixImbalance(path[i])
		t.setChild(&path, &dirs, i, root)
		if sameHeight {
			return true
		}
	}
	return true
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
	var stack [maxDepth]int32
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
