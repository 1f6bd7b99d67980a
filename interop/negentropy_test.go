package interop

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/nbd-wtf/go-nostr"

	"github.com/peersetdb/peerset/pkg/merkle"
)

const ninetyDays = 90 * 86400

type scenarioCase struct {
	name string
	s    Scenario
}

func interopScenarios() []scenarioCase {
	return []scenarioCase{
		{"both-empty", Scenario{}},
		{"initiator-empty", OneSidedScenario(1, 500, 500, ninetyDays, false)},
		{"responder-empty", OneSidedScenario(2, 500, 500, ninetyDays, true)},
		{"equal-1k", ScatteredScenario(3, 1000, 0, ninetyDays)},
		{"one-diff-1k", ScatteredScenario(4, 1000, 1, ninetyDays)},
		{"scattered-5k-10", ScatteredScenario(5, 5000, 10, ninetyDays)},
		{"scattered-20k-100", ScatteredScenario(6, 20000, 100, ninetyDays)},
		{"scattered-3k-1000", ScatteredScenario(7, 3000, 1000, ninetyDays)},
		{"initiator-superset-10k-300", OneSidedScenario(8, 10000, 300, ninetyDays, true)},
		{"responder-superset-10k-300", OneSidedScenario(9, 10000, 300, ninetyDays, false)},
		{"same-second-2k-50", ScatteredScenario(10, 2000, 50, 1)}, // bounds need id prefixes
	}
}

func TestReconcileConvergesAcrossImplementations(t *testing.T) {
	pairs := []struct{ initiator, responder Impl }{
		{Ours, Theirs},
		{Theirs, Ours},
		{Ours, Ours},
	}
	for _, frameLimit := range []int{0, 4096, 16384} {
		for _, p := range pairs {
			for _, sc := range interopScenarios() {
				name := fmt.Sprintf("frame-%d/%s-to-%s/%s", frameLimit, p.initiator, p.responder, sc.name)
				t.Run(name, func(t *testing.T) {
					res, err := Run(sc.s, Config{Initiator: p.initiator, Responder: p.responder, FrameSizeLimit: frameLimit})
					if err != nil {
						t.Fatal(err)
					}
					if err := res.Check(sc.s); err != nil {
						t.Fatal(err)
					}
				})
			}
		}
	}
}

func TestTimeBucketedInitiatorAgainstTheirResponder(t *testing.T) {
	for _, g := range []merkle.Granularity{merkle.GranularityDay, merkle.GranularityQuarterDay, merkle.GranularityHour} {
		for _, frameLimit := range []int{0, 4096} {
			t.Run(fmt.Sprintf("%s/frame-%d", g, frameLimit), func(t *testing.T) {
				s := ScatteredScenario(11, 8000, 60, 10*86400)
				res, err := Run(s, Config{Initiator: Ours, Responder: Theirs, FrameSizeLimit: frameLimit, Options: merkle.Options{Granularity: g}})
				if err != nil {
					t.Fatal(err)
				}
				if err := res.Check(s); err != nil {
					t.Fatal(err)
				}
				// Every true difference must lie in a reported missing range.
				for _, it := range concat(s.OnlyA, s.OnlyB) {
					if !inRanges(it.Timestamp, res.MissingRanges) {
						t.Fatalf("difference at %d not in missing ranges %v", it.Timestamp, res.MissingRanges)
					}
				}
			})
		}
	}
}

func inRanges(ts uint64, ranges []merkle.TimeRange) bool {
	for _, r := range ranges {
		if ts >= r.Start && ts < r.End {
			return true
		}
	}
	return false
}

func TestFingerprintsMatchTheirs(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	for _, n := range []int{0, 1, 2, 17, 1000, 20000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			items := ScatteredScenario(uint64(n), n, 0, ninetyDays).SideA()
			tree, err := BuildTree(items)
			if err != nil {
				t.Fatal(err)
			}
			theirs := NewTheirStorage(items)
			if got, want := tree.Root().String(), theirs.Fingerprint(0, theirs.Size()); got != want {
				t.Fatalf("root %s, theirs %s", got, want)
			}
			for i := 0; i < 200 && n > 0; i++ {
				from, to := rng.IntN(n+1), rng.IntN(n+1)
				if from > to {
					from, to = to, from
				}
				if got, want := tree.FingerprintOfRanks(from, to).String(), theirs.Fingerprint(from, to); got != want {
					t.Fatalf("range [%d,%d): %s, theirs %s", from, to, got, want)
				}
				lower, upper := theirs.GetBound(from), theirs.GetBound(to)
				lb, ub := toBound(t, lower.Timestamp, lower.ID), toBound(t, upper.Timestamp, upper.ID)
				if to == n {
					ub = merkle.MaxBound
				}
				if got, want := tree.Fingerprint(lb, ub).String(), theirs.Fingerprint(from, to); got != want {
					t.Fatalf("bounds [%d,%d): %s, theirs %s", from, to, got, want)
				}
			}
		})
	}
}

func toBound(t *testing.T, ts nostr.Timestamp, id string) merkle.Bound {
	t.Helper()
	return merkle.Bound{Timestamp: uint64(ts), ID: decodeID(t, id)}
}

func decodeID(t *testing.T, s string) [32]byte {
	t.Helper()
	var id [32]byte
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		t.Fatal(err)
	}
	return id
}
