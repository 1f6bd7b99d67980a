package merkle

import (
	"math/rand/v2"
	"testing"
)

func TestReconcileOursAgainstOurs(t *testing.T) {
	cases := []struct {
		name      string
		n, d      int
		initOpts  Options
		respOpts  Options
		swapSides bool
	}{
		{name: "empty", n: 0, d: 0},
		{name: "equal", n: 1000, d: 0},
		{name: "one-difference", n: 1000, d: 1},
		{name: "scattered", n: 5000, d: 50},
		{name: "many", n: 3000, d: 2000},
		{name: "only-differences", n: 0, d: 300},
		{name: "frame-limited", n: 20000, d: 1500, initOpts: Options{FrameSizeLimit: 4096}, respOpts: Options{FrameSizeLimit: 4096}},
		{name: "day-buckets", n: 5000, d: 40, initOpts: Options{Granularity: GranularityDay}},
		{name: "hour-buckets-frame-limited", n: 5000, d: 40, initOpts: Options{Granularity: GranularityHour, FrameSizeLimit: 4096}},
		{name: "frame-limited-initiator-id-lists", n: 10000, d: 600, initOpts: Options{FrameSizeLimit: 4096, InitiatorIDListThreshold: 32}, respOpts: Options{FrameSizeLimit: 4096}},
		{name: "frame-limited-responder-superset", n: 10000, d: 600, initOpts: Options{InitiatorIDListThreshold: 32}, respOpts: Options{FrameSizeLimit: 4096}, swapSides: true},
		{name: "binary-splits", n: 5000, d: 40, initOpts: Options{Branching: 2, InitiatorIDListThreshold: 4}, respOpts: Options{Branching: 2, IDListThreshold: 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.n), uint64(tc.d)))
			a, b, onlyA, onlyB := splitSets(rng, tc.n, tc.d)
			if tc.swapSides { // the responder holds every difference
				b = append(b, a[tc.n:]...)
				a = a[:tc.n]
				for id := range onlyA {
					onlyB[id] = true
				}
				onlyA = map[[IDSize]byte]bool{}
			}
			st, err := runSync(treeOf(a), treeOf(b), tc.initOpts, tc.respOpts)
			if err != nil {
				t.Fatal(err)
			}
			if !sameIDSet(st.have, onlyA) || !sameIDSet(st.need, onlyB) {
				t.Fatalf("have %d need %d, want %d and %d", len(st.have), len(st.need), len(onlyA), len(onlyB))
			}
			t.Logf("n=%d d=%d: %d messages, %d bytes out, %d bytes in", tc.n, tc.d, st.messages, st.bytesOut, st.bytesIn)
		})
	}
}
