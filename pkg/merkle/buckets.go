package merkle

import (
	"fmt"
	"slices"
)

// Granularity selects the UTC time buckets that an initiator's first message is split into.
type Granularity int

// Supported granularities. Bucket boundaries fall on multiples of the bucket length in Unix seconds,
// which are UTC midnight, 00/06/12/18h and full hours.
const (
	GranularityNone Granularity = iota
	GranularityDay
	GranularityQuarterDay
	GranularityHour
)

// Seconds returns the bucket length, or 0 for GranularityNone.
func (g Granularity) Seconds() uint64 {
	switch g {
	case GranularityDay:
		return 24 * 3600
	case GranularityQuarterDay:
		return 6 * 3600
	case GranularityHour:
		return 3600
	default:
		return 0
	}
}

func (g Granularity) String() string {
	switch g {
	case GranularityNone:
		return "none"
	case GranularityDay:
		return "day"
	case GranularityQuarterDay:
		return "quarter-day"
	case GranularityHour:
		return "hour"
	default:
		return fmt.Sprintf("Granularity(%d)", int(g))
	}
}

// ParseGranularity accepts the names returned by Granularity.String.
func ParseGranularity(s string) (Granularity, error) {
	for _, g := range []Granularity{GranularityNone, GranularityDay, GranularityQuarterDay, GranularityHour} {
		if g.String() == s {
			return g, nil
		}
	}
	return 0, fmt.Errorf("failed to parse granularity %q: want none, day, quarter-day or hour", s)
}

// TimeRange is a half-open interval [Start, End) of Unix seconds. End == MaxTimestamp means the
// range is open-ended.
type TimeRange struct {
	Start uint64
	End   uint64
}

// bucketStart returns the start of ts's bucket; width 0 means no bucketing.
func bucketStart(ts, width uint64) uint64 {
	if width == 0 {
		return ts
	}
	return ts - ts%width
}

// bucketEnd returns the first bucket boundary at or after end (saturating at MaxTimestamp).
func bucketEnd(end, width uint64) uint64 {
	if width == 0 || end == MaxTimestamp || end%width == 0 {
		return end
	}
	rounded := end - end%width
	if rounded > MaxTimestamp-width {
		return MaxTimestamp
	}
	return rounded + width
}

// mergeTimeRanges aligns ranges to buckets of the given width and merges overlapping or touching ones.
func mergeTimeRanges(ranges []TimeRange, width uint64) []TimeRange {
	if len(ranges) == 0 {
		return nil
	}
	aligned := make([]TimeRange, 0, len(ranges))
	for _, r := range ranges {
		aligned = append(aligned, TimeRange{Start: bucketStart(r.Start, width), End: bucketEnd(r.End, width)})
	}
	slices.SortFunc(aligned, func(a, b TimeRange) int {
		if a.Start != b.Start {
			if a.Start < b.Start {
				return -1
			}
			return 1
		}
		return 0
	})
	merged := aligned[:1]
	for _, r := range aligned[1:] {
		last := &merged[len(merged)-1]
		if r.Start <= last.End {
			last.End = max(last.End, r.End)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// coarsenTimeRanges joins neighbouring ranges of a merged, ordered list (each pair into one range
// covering both and the gap between) until at most limit are left. The result covers everything
// the input did, more coarsely.
func coarsenTimeRanges(ranges []TimeRange, limit int) []TimeRange {
	for len(ranges) > max(limit, 1) {
		joined := ranges[:0]
		for i := 0; i < len(ranges); i += 2 {
			r := ranges[i]
			if i+1 < len(ranges) {
				r.End = ranges[i+1].End
			}
			joined = append(joined, r)
		}
		ranges = joined
	}
	return ranges
}

// Bucket summarises the items of one non-empty time bucket.
type Bucket struct {
	TimeRange
	Count       int
	Fingerprint Fingerprint
}

// Buckets lists the non-empty time buckets of the set in ascending order, in O(b·log n) for b
// buckets; peers compare them to show where their sets differ. GranularityNone gives one bucket
// spanning the whole set.
func (t *Tree) Buckets(g Granularity) []Bucket {
	var out []Bucket
	t.eachBucket(g.Seconds(), func(from, to int, r TimeRange) bool {
		out = append(out, Bucket{TimeRange: r, Count: to - from, Fingerprint: t.FingerprintOfRanks(from, to)})
		return true
	})
	return out
}

// eachBucket calls fn with the positions [from, to) and the time range of every non-empty bucket
// of the given width (0: one bucket for everything), in ascending order, until fn returns false.
func (t *Tree) eachBucket(width uint64, fn func(from, to int, r TimeRange) bool) {
	size := t.Len()
	for from := 0; from < size; {
		first, _ := t.At(from)
		r := TimeRange{Start: bucketStart(first.Timestamp, width), End: MaxTimestamp}
		to := size
		if width == 0 {
			last, _ := t.At(size - 1)
			r.End = last.Timestamp + 1
		} else if end := bucketEnd(first.Timestamp+1, width); end != MaxTimestamp {
			r.End = end
			to = t.Rank(TimeBound(end))
		}
		if !fn(from, to, r) {
			return
		}
		from = to
	}
}
