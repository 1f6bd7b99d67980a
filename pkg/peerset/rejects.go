package peerset

import (
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
)

// Rejection reports an event a peer sent that was not stored because
// moderation or verification refused it. Events that were simply not new
// (duplicates, older versions) are not reported.
type Rejection struct {
	Event  *record.Event
	Origin Origin
	Rule   string // the moderation rule's name ("integrity", "bad-words", ...)
	Reason string
	Err    error
}

// OnReject calls fn (from a goroutine of its own, in order) for every event
// from a peer that was refused. It returns a function that stops the calls.
func (db *DB) OnReject(fn func(Rejection)) (unsubscribe func()) {
	return db.rejects.add(fn)
}

func (db *DB) publishRejections(origin Origin, events []*record.Event, out []Outcome) {
	var list []Rejection
	for i, o := range out {
		if o.Stored || o.Err == nil {
			continue
		}
		r := Rejection{Event: events[i], Origin: origin, Err: o.Err, Reason: o.Err.Error()}
		if rej, ok := moderation.AsRejection(o.Err); ok {
			if rej.Rule == moderation.RuleDuplicate {
				continue // not new: nothing to report
			}
			r.Rule, r.Reason = rej.Rule, rej.Reason
		}
		list = append(list, r)
	}
	db.rejects.publish(list)
}
