package merkle

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
)

// benchSize is the large-set size of the benchmarks: 1M, or 100k with -short, or MERKLE_BENCH_N
// (for example under js/wasm, where Node is slower and its memory tighter).
func benchSize(b *testing.B) int {
	if s := os.Getenv("MERKLE_BENCH_N"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("MERKLE_BENCH_N=%q is not a positive integer", s)
		}
		return n
	}
	if testing.Short() {
		return 100_000
	}
	return 1_000_000
}

func benchItems(n int) []Item {
	items := make([]Item, n)
	for i := range items {
		items[i] = testItem(uint64(i))
	}
	return items
}

func BenchmarkInsert1M(b *testing.B) {
	n := benchSize(b)
	items := benchItems(n)
	b.ResetTimer()
	for b.Loop() {
		tree := NewTree()
		for _, it := range items {
			if _, err := tree.Insert(it); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
	b.ReportMetric(float64(n), "items")
}

func BenchmarkRangeFingerprint1M(b *testing.B) {
	n := benchSize(b)
	items := benchItems(n)
	tree := treeOf(items)
	rng := rand.New(rand.NewPCG(1, 2))
	bounds := make([][2]Bound, 1024)
	for i := range bounds {
		x, y := Bound(items[rng.IntN(n)]), Bound(items[rng.IntN(n)])
		if x.Compare(y) > 0 {
			x, y = y, x
		}
		bounds[i] = [2]Bound{x, y}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		r := bounds[i%len(bounds)]
		_ = tree.Fingerprint(r[0], r[1])
		i++
	}
	b.ReportMetric(float64(n), "items")
}

func BenchmarkDelete1M(b *testing.B) {
	n := benchSize(b)
	items := benchItems(n)
	tree := treeOf(items)
	b.ResetTimer()
	i := 0
	for b.Loop() {
		it := items[i%n]
		tree.Delete(it)
		if _, err := tree.Insert(it); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkReconcile runs whole reconciliations between two in-memory trees (our initiator against
// our responder) and reports the wire cost per reconciliation next to the time.
func BenchmarkReconcile(b *testing.B) {
	large := benchSize(b)
	for _, tc := range []struct {
		n, d int
		opts Options
	}{
		{n: 10_000, d: 0},
		{n: 10_000, d: 100},
		{n: 100_000, d: 0},
		{n: 100_000, d: 100},
		{n: 100_000, d: 1000},
		{n: 100_000, d: 100, opts: Options{FrameSizeLimit: 16384}},
		{n: 100_000, d: 100, opts: Options{Granularity: GranularityDay}},
	} {
		if tc.n > large {
			continue
		}
		name := fmt.Sprintf("n=%d/d=%d/frame=%d/granularity=%s", tc.n, tc.d, tc.opts.FrameSizeLimit, tc.opts.Granularity)
		b.Run(name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(uint64(tc.n), uint64(tc.d)))
			a, c, onlyA, onlyB := splitSets(rng, tc.n, tc.d)
			treeA, treeC := treeOf(a), treeOf(c)
			var st syncStats
			b.ResetTimer()
			for b.Loop() {
				var err error
				if st, err = runSync(treeA, treeC, tc.opts, tc.opts); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if !sameIDSet(st.have, onlyA) || !sameIDSet(st.need, onlyB) {
				b.Fatal("reconciliation missed differences")
			}
			b.ReportMetric(float64(st.bytesOut+st.bytesIn), "wire-bytes")
			b.ReportMetric(float64(st.messages), "messages")
			b.ReportMetric(float64(st.bytesOut+st.bytesIn)/float64(32*(tc.n+tc.d)), "of-naive")
		})
	}
}

// BenchmarkInsertSequential inserts in time order, the way a store is loaded at start-up.
func BenchmarkInsertSequential(b *testing.B) {
	n := benchSize(b)
	items := benchItems(n)
	slices.SortFunc(items, Item.Compare)
	b.ResetTimer()
	for b.Loop() {
		tree := NewTreeWithCapacity(n)
		for _, it := range items {
			if _, err := tree.Insert(it); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
}
