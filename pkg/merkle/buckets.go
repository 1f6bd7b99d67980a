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
