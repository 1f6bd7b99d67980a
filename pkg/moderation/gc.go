package moderation

import (
	"iter"
	"time"

	"github.com/peersetdb/peerset/pkg/record"
)

// Expired reports whether an event created at createdAt (Unix seconds) is
// past retention at now: more than retention old (retention <= 0: the
// default of 90 days). The timestamp rule refuses exactly these events.
func Expired(now time.Time, createdAt int64, retention time.Duration) bool {
	if retention <= 0 {
		retention = DefaultRetention
	}
	return now.Unix()-createdAt > int64(retention/time.Second)
}

// Reasons for collecting an event.
const (
	GarbageExpired    = "expired"    // past retention
	GarbageDeleted    = "deleted"    // a held deletion covers the record
	GarbageSuperseded = "superseded" // a newer version of the record or deletion is held
)

// Garbage is an event the store can drop, and why.
type Garbage struct {
	Event  *record.Event
	Reason string
}

// SelectExpired returns the events past retention at now, streaming over
// events without holding them. A deletion tombstone expires like a record:
// the records it deletes are no newer than it, so by then they are past
// retention too and every peer refuses them.
func SelectExpired(now time.Time, retention time.Duration, events iter.Seq[*record.Event]) []*record.Event {
	var out []*record.Event
	for e := range events {
		if Expired(now, e.CreatedAt, retention) {
			out = append(out, e)
		}
	}
	return out
}

// SelectGarbage returns every event a store can drop at now: those past
// retention, records covered by a held deletion, and records or deletions
// superseded by a newer held version of the same address. It holds the
// events in memory while it works.
func SelectGarbage(now time.Time, retention time.Duration, events iter.Seq[*record.Event]) []Garbage {
	var out, keep []Garbage
	newest := map[record.Address]*record.Event{}
	tombstone := map[record.Address]*record.Event{}
	targets := map[*record.Event]record.Address{}
	for e := range events {
		if Expired(now, e.CreatedAt, retention) {
			out = append(out, Garbage{Event: e, Reason: GarbageExpired})
			continue
		}
		switch e.Kind {
		case record.KindRecord:
			addr := record.AddressOf(e)
			targets[e] = addr
			if cur := newest[addr]; cur == nil || record.Supersedes(e, cur) {
				newest[addr] = e
			}
		case record.KindDeletion:
			if e.CheckWellFormed() != nil {
				continue
			}
			addr, err := record.DeletionTarget(e)
			if err != nil {
				continue
			}
			targets[e] = addr
			if cur := tombstone[addr]; cur == nil || record.Supersedes(e, cur) {
				tombstone[addr] = e
			}
		default:
			continue
		}
		keep = append(keep, Garbage{Event: e})
	}
	for _, g := range keep {
		e, addr := g.Event, targets[g.Event]
		switch e.Kind {
		case record.KindRecord:
			if t := tombstone[addr]; t != nil && record.Deletes(t, e) {
				out = append(out, Garbage{Event: e, Reason: GarbageDeleted})
			} else if newest[addr] != e {
				out = append(out, Garbage{Event: e, Reason: GarbageSuperseded})
			}
		case record.KindDeletion:
			if tombstone[addr] != e {
				out = append(out, Garbage{Event: e, Reason: GarbageSuperseded})
			}
		}
	}
	return out
}
