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

// Tree is an AVL tree of items with subtree aggregates. Nodes live in fixed-size chunks of an
// arena and link to each other by int32 index: the chunks hold no pointers, so the garbage
// collector never scans them, and the arena grows without copying. Deleted slots are reused.
// Insert and Delete walk down once and fix aggregates and balance factors along the same path only,
// so they touch O(log n) nodes and no siblings except at rotations.
// A Tree is not safe for concurrent use; concurrent readers are fine while nobody writes.
type Tree struct {
	chunks []*[chunkSize]node // index 0 of chunk 0 is the sentinel for "no node"
	next   int32              // the next never-used index
	root   int32
	free   int32 // head of the free list, chained through left
}

const (
	chunkBits = 12
	chunkSize = 1 << chunkBits
)

// NewTree returns an empty tree.
func NewTree() *Tree { return NewTreeWithCapacity(0) }

// NewTreeWithCapacity returns an empty tree that expects about n items.
func NewTreeWithCapacity(n int) *Tree {
	t := &Tree{chunks: make([]*[chunkSize]node, 1, max(n, 0)/chunkSize+1), next: 1}
	t.chunks[0] = new([chunkSize]node)
	return t
}

// node returns the node at idx; index 0 is the empty sentinel, which is never written.
func (t *Tree) node(idx int32) *node {
	return &t.chunks[idx>>chunkBits][idx&(chunkSize-1)]
}

// Len returns the number of items.
func (t *Tree) Len() int { return int(t.node(t.root).count) }

// Root returns the fingerprint of the whole set. Equal sets have equal roots whatever the order
// of insertions and deletions.
func (t *Tree) Root() Fingerprint {
	n := t.node(t.root)
	a := aggregate{count: uint64(n.count), sum: n.sum}
	return a.fingerprint()
}

func (t *Tree) newNode(it *Item) int32 {
	var idx int32
	if t.free != 0 {
		idx = t.free
		t.free = t.node(idx).left
	} else {
		idx = t.next
		t.next++
		if int(idx>>chunkBits) == len(t.chunks) {
			t.chunks = append(t.chunks, new([chunkSize]node))
		}
	}
	*t.node(idx) = node{item: *it, sum: sumOfID(&it.ID), count: 1}
	return idx
}

func (t *Tree) release(idx int32) {
	*t.node(idx) = node{left: t.free}
	t.free = idx
}

// recompute rebuilds the aggregate of idx from its children.
func (t *Tree) recompute(idx int32) {
	n := t.node(idx)
	l, r := t.node(n.left), t.node(n.right)
	n.count = 1 + l.count + r.count
	n.sum = sumOfID(&n.item.ID)
	n.sum.add(&l.sum)
	n.sum.add(&r.sum)
}

func (t *Tree) rotateLeft(x int32) int32 {
	z := t.node(x).right
	t.node(x).right = t.node(z).left
	t.node(z).left = x
	t.recompute(x)
	t.recompute(z)
	return z
}

func (t *Tree) rotateRight(x int32) int32 {
	z := t.node(x).left
	t.node(x).left = t.node(z).right
	t.node(z).right = x
	t.recompute(x)
	t.recompute(z)
	return z
}

// fixImbalance rotates the subtree at x whose balance reached ±2 and returns its new root and
// whether its height is the same as before the rotation (only possible after a delete).
func (t *Tree) fixImbalance(x int32) (int32, bool) {
	if t.node(x).balance > 0 {
		z := t.node(x).right
		switch zb := t.node(z).balance; {
		case zb >= 0:
			root := t.rotateLeft(x)
			if zb == 0 {
				t.node(x).balance, t.node(z).balance = 1, -1
				return root, true
			}
			t.node(x).balance, t.node(z).balance = 0, 0
			return root, false
		default:
			y := t.node(z).left
			yb := t.node(y).balance
			t.node(x).right = t.rotateRight(z)
			root := t.rotateLeft(x)
			t.node(x).balance, t.node(z).balance = min(0, -yb), max(0, -yb)
			t.node(y).balance = 0
			return root, false
		}
	}
	z := t.node(x).left
	switch zb := t.node(z).balance; {
	case zb <= 0:
		root := t.rotateRight(x)
		if zb == 0 {
			t.node(x).balance, t.node(z).balance = -1, 1
			return root, true
		}
		t.node(x).balance, t.node(z).balance = 0, 0
		return root, false
	default:
		y := t.node(z).right
		yb := t.node(y).balance
		t.node(x).left = t.rotateLeft(z)
		root := t.rotateRight(x)
		t.node(x).balance, t.node(z).balance = max(0, -yb), min(0, -yb)
		t.node(y).balance = 0
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
		t.node(path[i-1]).left = child
	} else {
		t.node(path[i-1]).right = child
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
		n := t.node(idx)
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
		n := t.node(path[i])
		n.count++
		n.sum.add(&own)
	}
	// Retrace: the subtree below path[i] grew by one level on side dirs[i].
	for i := depth - 1; i >= 0; i-- {
		n := t.node(path[i])
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
		n := t.node(target)
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
		n := t.node(path[i])
		n.count--
		n.sum.sub(&removedSum)
	}
	victim := target
	if t.node(target).left != 0 && t.node(target).right != 0 {
		// Two children: move the in-order successor's item here and unlink the successor instead.
		targetDepth := depth
		path[depth], dirs[depth] = target, 1
		depth++
		victim = t.node(target).right
		for t.node(victim).left != 0 {
			path[depth], dirs[depth] = victim, -1
			depth++
			victim = t.node(victim).left
		}
		moved := t.node(victim).item
		movedSum := sumOfID(&moved.ID)
		tn := t.node(target)
		tn.item = moved
		tn.count--
		tn.sum.sub(&removedSum)
		for i := targetDepth + 1; i < depth; i++ {
			n := t.node(path[i])
			n.count--
			n.sum.sub(&movedSum)
		}
	}
	// victim has at most one child, which takes its place.
	child := t.node(victim).left
	if child == 0 {
		child = t.node(victim).right
	}
	t.setChild(&path, &dirs, depth, child)
	t.release(victim)
	// Retrace: the subtree below path[i] on side dirs[i] lost one level.
	for i := depth - 1; i >= 0; i-- {
		n := t.node(path[i])
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
		n := t.node(idx)
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
		n := t.node(idx)
		if n.item.Compare(bi) < 0 {
			rank += int(t.node(n.left).count) + 1
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
		n := t.node(idx)
		leftCount := int(t.node(n.left).count)
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
		n := t.node(idx)
		if n.item.Compare(bi) < 0 {
			l := t.node(n.left)
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
		n := t.node(t.root)
		return aggregate{count: uint64(n.count), sum: n.sum}
	}
	idx := t.root
	for idx != 0 && k > 0 {
		n := t.node(idx)
		l := t.node(n.left)
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
		n := t.node(idx)
		leftCount := int(t.node(n.left).count)
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
		if !fn(t.node(cur).item) {
			return
		}
		for idx = t.node(cur).right; idx != 0; idx = t.node(idx).left {
			stack[depth] = idx
			depth++
		}
	}
}

// Ascend calls fn for the items x with lower <= x < upper in ascending order until fn returns false.
func (t *Tree) Ascend(lower, upper Bound, fn func(Item) bool) {
	t.AscendRanks(t.Rank(lower), t.Rank(upper), fn)
}
