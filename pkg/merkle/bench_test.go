package merkle

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// benchSize is the large-set size of the benchmarks: 1M natively, and smaller when
// MERKLE_BENCH_N says so (for example under js/wasm, where Node's memory is tighter).
func benchSize(b *testing.B) int {
	if s := os.Getenv("MERKLE_BENCH_N"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("MERKLE_BENCH_N=%q is not a positive integer", s)
		}
		return n
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
