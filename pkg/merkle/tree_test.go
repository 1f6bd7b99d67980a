package merkle

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// bruteAggregate sums items with lower <= x < upper from a sorted slice.
func bruteFingerprint(items []Item, lower, upper Bound) Fingerprint {
	var sel []Item
	for _, it := range items {
		if it.Compare(Item(lower)) >= 0 && it.Compare(Item(upper)) < 0 {
			sel = append(sel, it)
		}
	}
	return FingerprintOf(sel)
}

func TestTreeRandomOperationsKeepInvariants(t *testing.T) {
	cases := []struct {
		name      string
		ops       int
		universe  uint64 // items are drawn from testItem(0..universe), so deletes often hit
		sameTime  bool   // all items share one timestamp, so order falls to the ids
		insertPct int
	}{
		{name: "mixed", ops: 3000, universe: 800, insertPct: 60},
		{name: "insert-heavy", ops: 2000, universe: 5000, insertPct: 90},
		{name: "delete-heavy", ops: 3000, universe: 300, insertPct: 45},
		{name: "same-timestamp", ops: 2000, universe: 400, sameTime: true, insertPct: 60},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.ops), tc.universe))
			tree := NewTree()
			ref := map[Item]struct{}{}
			for op := 0; op < tc.ops; op++ {
				it := testItem(rng.Uint64N(tc.universe))
				if tc.sameTime {
					it.Timestamp = 42
				}
				_, present := ref[it]
				if rng.IntN(100) < tc.insertPct {
					added, err := tree.Insert(it)
					if err != nil {
						t.Fatal(err)
					}
					if added == present {
						t.Fatalf("op %d: Insert returned %v for an item present=%v", op, added, present)
					}
					ref[it] = struct{}{}
				} else {
					if removed := tree.Delete(it); removed != present {
						t.Fatalf("op %d: Delete returned %v for an item present=%v", op, removed, present)
					}
					delete(ref, it)
				}
				if err := tree.checkInvariants(); err != nil {
					t.Fatalf("op %d: %v", op, err)
				}
				if tree.Len() != len(ref) {
					t.Fatalf("op %d: Len %d, want %d", op, tree.Len(), len(ref))
				}
				if tree.Has(it) != (func() bool { _, ok := ref[it]; return ok })() {
					t.Fatalf("op %d: Has disagrees", op)
				}
			}
			items := sortedItems(ref)
			if got := tree.Root(); got != FingerprintOf(items) {
				t.Fatalf("root %s, want %s", got, FingerprintOf(items))
			}
			for i, want := range items {
				got, ok := tree.At(i)
				if !ok || got != want {
					t.Fatalf("At(%d) wrong", i)
				}
				if r := tree.Rank(Bound(want)); r != i {
					t.Fatalf("Rank of item %d = %d", i, r)
				}
			}
			var walked []Item
			tree.AscendRanks(0, tree.Len(), func(it Item) bool { walked = append(walked, it); return true })
			if !slices.Equal(walked, items) {
				t.Fatal("AscendRanks does not list the set in order")
			}
		})
	}
}

func TestRootIndependentOfOperationOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const n = 2000
	items := make([]Item, n)
	for i := range items {
		items[i] = testItem(uint64(i))
	}
	extra := make([]Item, 300)
	for i := range extra {
		extra[i] = testItem(uint64(n + i))
	}
	var roots []Fingerprint
	for trial := 0; trial < 4; trial++ {
		tree := NewTree()
		order := rng.Perm(n)
		for _, i := range order {
			if _, err := tree.Insert(items[i]); err != nil {
				t.Fatal(err)
			}
			if trial%2 == 1 && i%7 == 0 { // detour: insert and delete strangers along the way
				if _, err := tree.Insert(extra[i%len(extra)]); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, it := range extra {
			tree.Delete(it)
		}
		if trial == 3 { // delete half and re-insert in another order
			for _, i := range rng.Perm(n)[:n/2] {
				tree.Delete(items[i])
			}
			for _, i := range rng.Perm(n) {
				if _, err := tree.Insert(items[i]); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := tree.checkInvariants(); err != nil {
			t.Fatal(err)
		}
		roots = append(roots, tree.Root())
	}
	for i, r := range roots {
		if r != roots[0] {
			t.Fatalf("trial %d root %s differs from %s", i, r, roots[0])
		}
	}
	if roots[0] != FingerprintOf(items) {
		t.Fatal("root differs from the direct fingerprint")
	}
}

func TestRangeFingerprintMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ref := map[Item]struct{}{}
	tree := NewTree()
	for i := 0; i < 3000; i++ {
		it := testItem(uint64(i))
		it.Timestamp = 1000 + uint64(rng.IntN(500)) // many timestamp ties
		ref[it] = struct{}{}
		if _, err := tree.Insert(it); err != nil {
			t.Fatal(err)
		}
	}
	items := sortedItems(ref)
	randomBound := func() Bound {
		switch rng.IntN(4) {
		case 0:
			return Bound(items[rng.IntN(len(items))])
		case 1:
			return TimeBound(990 + uint64(rng.IntN(520)))
		case 2:
			b := Bound(items[rng.IntN(len(items))])
			for i := 1 + rng.IntN(4); i < IDSize; i++ {
				b.ID[i] = 0
			}
			return b
		default:
			return []Bound{MinBound, MaxBound}[rng.IntN(2)]
		}
	}
	for i := 0; i < 2000; i++ {
		lo, hi := randomBound(), randomBound()
		if got, want := tree.Fingerprint(lo, hi), bruteFingerprint(items, lo, hi); got != want {
			t.Fatalf("Fingerprint(%v, %v) = %s, want %s", lo, hi, got, want)
		}
		from, to := tree.Rank(lo), tree.Rank(hi)
		if got, want := tree.FingerprintOfRanks(from, to), bruteFingerprint(items, lo, hi); from <= to && got != want {
			t.Fatalf("FingerprintOfRanks(%d, %d) = %s, want %s", from, to, got, want)
		}
		var n int
		tree.Ascend(lo, hi, func(Item) bool { n++; return true })
		if want := max(0, to-from); n != want {
			t.Fatalf("Ascend visited %d items, want %d", n, want)
		}
	}
}

func TestInsertRejectsReservedTimestamp(t *testing.T) {
	tree := NewTree()
	if _, err := tree.Insert(Item{Timestamp: MaxTimestamp}); !errors.Is(err, ErrReservedTimestamp) {
		t.Fatalf("got %v, want ErrReservedTimestamp", err)
	}
	if tree.Len() != 0 {
		t.Fatal("reserved item was inserted")
	}
}

func TestSumWrapsModulo2To256(t *testing.T) {
	var allOnes [IDSize]byte
	for i := range allOnes {
		allOnes[i] = 0xff
	}
	one := [IDSize]byte{1}
	// (2^256 - 1) + 1 wraps to 0, so the pair has the fingerprint of two zero ids.
	got := FingerprintOf([]Item{{ID: allOnes}, {ID: one}})
	want := FingerprintOf([]Item{{}, {Timestamp: 1}})
	if got != want {
		t.Fatalf("%s != %s", got, want)
	}
	tree := treeOf([]Item{{ID: allOnes, Timestamp: 5}, {ID: one, Timestamp: 6}})
	if tree.Root() != want {
		t.Fatal("tree root does not wrap")
	}
}

func TestBucketsSummariseTheSet(t *testing.T) {
	const midnight = 1_699_920_000 // a UTC midnight
	var items []Item
	for i := uint64(0); i < 500; i++ {
		it := testItem(i)
		it.Timestamp = midnight + (i*i*37)%(3*86400) // uneven spread over three days
		items = append(items, it)
	}
	tree := treeOf(items)
	sorted := slices.Clone(items)
	slices.SortFunc(sorted, Item.Compare)
	for _, g := range []Granularity{GranularityNone, GranularityDay, GranularityQuarterDay, GranularityHour} {
		t.Run(g.String(), func(t *testing.T) {
			buckets := tree.Buckets(g)
			total := 0
			for i, b := range buckets {
				if b.Count == 0 || b.Start >= b.End {
					t.Fatalf("bucket %d empty or inverted: %+v", i, b)
				}
				if w := g.Seconds(); w > 0 && (b.Start%w != 0 || b.End-b.Start != w) {
					t.Fatalf("bucket %d not aligned to %d s: %+v", i, w, b.TimeRange)
				}
				if i > 0 && b.Start < buckets[i-1].End {
					t.Fatalf("bucket %d overlaps the previous one", i)
				}
				var in []Item
				for _, it := range sorted {
					if it.Timestamp >= b.Start && it.Timestamp < b.End {
						in = append(in, it)
					}
				}
				if len(in) != b.Count || FingerprintOf(in) != b.Fingerprint {
					t.Fatalf("bucket %d: count %d fingerprint %s, want %d and %s", i, b.Count, b.Fingerprint, len(in), FingerprintOf(in))
				}
				total += b.Count
			}
			if total != tree.Len() {
				t.Fatalf("buckets hold %d items, want %d", total, tree.Len())
			}
		})
	}
	if got := NewTree().Buckets(GranularityDay); len(got) != 0 {
		t.Fatalf("empty tree has buckets %v", got)
	}
}
