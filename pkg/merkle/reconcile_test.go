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
		{name: "minimal-thresholds", n: 3000, d: 300, initOpts: Options{Branching: 2}, respOpts: Options{Branching: 2, IDListThreshold: 1}},
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

func TestMissingRangesCoverDifferences(t *testing.T) {
	const start = 1_700_000_000 - 1_700_000_000%86400 // a UTC midnight
	cases := []struct {
		name        string
		granularity Granularity
		initiator   bool // differences held by the initiator (have) or the responder (need)
	}{
		{"hour-have", GranularityHour, true},
		{"hour-need", GranularityHour, false},
		{"quarter-day-need", GranularityQuarterDay, false},
		{"day-mixed", GranularityDay, false},
		{"none-have", GranularityNone, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// One item a minute for four days; the differences sit in a few chosen minutes.
			var common []Item
			for m := uint64(0); m < 4*1440; m++ {
				it := testItem(m)
				it.Timestamp = start + m*60
				common = append(common, it)
			}
			diffMinutes := []uint64{5, 6, 600, 2000, 2001, 5000}
			var extra []Item
			for i, m := range diffMinutes {
				it := testItem(100_000 + uint64(i))
				it.Timestamp = start + m*60 + 30
				extra = append(extra, it)
			}
			a, b := common, append(append([]Item(nil), common...), extra...)
			if tc.initiator {
				a, b = b, a
			}
			st, err := runSync(treeOf(a), treeOf(b), Options{Granularity: tc.granularity}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(st.have) + len(st.need); got != len(extra) {
				t.Fatalf("found %d differences, want %d", got, len(extra))
			}
			width := tc.granularity.Seconds()
			for _, it := range extra {
				covered := false
				for _, r := range st.missingRanges {
					covered = covered || it.Timestamp >= r.Start && it.Timestamp < r.End
				}
				if !covered {
					t.Fatalf("difference at %d not covered by %v", it.Timestamp, st.missingRanges)
				}
			}
			for _, r := range st.missingRanges {
				if width > 0 && (r.Start%width != 0 || r.End%width != 0) {
					t.Fatalf("range %v not aligned to %d s", r, width)
				}
				// Ranges may be one bucket wider than the differences (an id list can straddle a
				// boundary), never more.
				slack := max(width, 3600)
				near := false
				for _, it := range extra {
					near = near || it.Timestamp+slack >= r.Start && it.Timestamp < r.End+slack
				}
				if !near {
					t.Fatalf("range %v is far from every difference", r)
				}
			}
			if tc.initiator && width > 0 {
				// Our own ids carry their timestamps, so the buckets are exact.
				want := map[uint64]bool{}
				for _, it := range extra {
					want[bucketStart(it.Timestamp, width)] = true
				}
				got := 0
				for _, r := range st.missingRanges {
					got += int((r.End - r.Start) / width)
				}
				if got != len(want) {
					t.Fatalf("%d buckets reported, want %d: %v", got, len(want), st.missingRanges)
				}
			}
			t.Logf("%v", st.missingRanges)
		})
	}
}

func TestMergeTimeRanges(t *testing.T) {
	cases := []struct {
		name  string
		in    []TimeRange
		width uint64
		want  []TimeRange
	}{
		{"empty", nil, 3600, nil},
		{"align", []TimeRange{{3700, 3701}}, 3600, []TimeRange{{3600, 7200}}},
		{"merge touching", []TimeRange{{7300, 7301}, {3700, 3701}}, 3600, []TimeRange{{3600, 10800}}},
		{"keep apart", []TimeRange{{0, 1}, {7300, 7400}}, 3600, []TimeRange{{0, 3600}, {7200, 10800}}},
		{"exact seconds", []TimeRange{{5, 6}, {6, 9}, {20, 21}}, 0, []TimeRange{{5, 9}, {20, 21}}},
		{"open end", []TimeRange{{100, MaxTimestamp}, {50, 60}}, 86400, []TimeRange{{0, MaxTimestamp}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := mergeTimeRanges(tc.in, tc.width)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestStallingResponderCannotGrowMissingRanges is the attack of a responder that
// answers every round with "I have nothing up to the far future, and a random
// fingerprint after": each round reports the whole set as ours again, one time
// range per id. The ranges kept for MissingRanges stay bounded, and still
// cover every difference.
func TestStallingResponderCannotGrowMissingRanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	items := make([]Item, 2000)
	for i := range items {
		items[i] = testItem(uint64(i))
	}
	in, err := NewInitiator(treeOf(items), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Initiate(); err != nil {
		t.Fatal(err)
	}
	for round := range 200 {
		var fp Fingerprint
		for i := range fp {
			fp[i] = byte(rng.IntN(256))
		}
		stall := Message{Ranges: []Range{
			{Upper: TimeBound(1 << 40), Mode: ModeIDList},
			{Upper: MaxBound, Mode: ModeFingerprint, Fingerprint: fp},
		}}.Encode()
		_, have, _, done, err := in.Reconcile(stall)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if done || len(have) != len(items) {
			t.Fatalf("round %d: done=%v have=%d: the attack no longer reproduces", round, done, len(have))
		}
		if len(in.missing) > maxMissingRanges {
			t.Fatalf("round %d: %d missing ranges kept, over %d", round, len(in.missing), maxMissingRanges)
		}
	}
	ranges := in.MissingRanges()
	for _, it := range items {
		covered := false
		for _, r := range ranges {
			if r.Start <= it.Timestamp && it.Timestamp < r.End {
				covered = true
				break
			}
		}
		if !covered {
			t.Fatalf("item at %d is outside every missing range", it.Timestamp)
		}
	}
}

func TestCoarsenTimeRanges(t *testing.T) {
	in := []TimeRange{{0, 1}, {2, 3}, {4, 5}, {6, 7}, {8, 9}}
	got := coarsenTimeRanges(append([]TimeRange(nil), in...), 2)
	want := []TimeRange{{0, 7}, {8, 9}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("coarsen = %v, want %v", got, want)
	}
	if got := coarsenTimeRanges(append([]TimeRange(nil), in...), 10); len(got) != 5 {
		t.Fatalf("coarsen under the limit changed %v", got)
	}
}
