package peerset

import (
	"fmt"
	"time"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
)

// Rejection reports an event a peer sent that was not stored because
// moderation or verification refused it, or (when Suppressed > 0) sums up
// refusals that were not reported one by one. Events that were simply not
// new (duplicates, older versions) are not reported, nor are local failures
// (a store error, a closing DB).
type Rejection struct {
	// Event is the refused event, only when its id and signature were
	// verified (Unverified false); nil otherwise, and in a summary.
	Event  *record.Event
	Origin Origin
	Rule   string // the moderation rule's name ("integrity", "bad-words", ...)
	Reason string
	Err    error
	// Unverified: the event was refused before its id and signature were
	// checked, or it failed that check (rule "integrity": an id that does
	// not match the content, a broken signature, another room). A peer can
	// claim any record's id, or send a real record's content with a broken
	// signature, so such an event is not reported as if it were that record:
	// Event is nil, and only who sent it and why it was refused are known.
	Unverified bool
	// Suppressed > 0 makes this a summary: that many more refusals from
	// Origin by Rule were not reported one by one (over the per-peer rate,
	// or while the subscriber was behind). Event is nil. A summary with an
	// empty Origin.PeerID and Rule counts refusals from several peers.
	Suppressed int

	verify bool // not known yet: verify Event before it is delivered
}

// Bounds of an OnReject subscription: a hostile peer can send refused
// events as fast as its link allows, and a page must not drown in them.
const (
	// rejectsPerPeer rejections per peer and rejectWindow are delivered one
	// by one; the rest are counted in a summary delivered after the window.
	rejectsPerPeer = 10
	rejectWindow   = time.Second
	// rejectQueueLen and rejectQueueBytes bound what waits for a slow
	// subscriber (rejectionSize estimates the bytes); beyond, rejections are
	// counted in summaries too.
	rejectQueueLen   = 256
	rejectQueueBytes = 1 << 20
	// rejectPeersTracked bounds the peers rate-limited per window;
	// rejections of further peers are counted in summaries.
	rejectPeersTracked = 1024
	// rejectSummaryKeys bounds the (peer, rule) summaries held per
	// subscriber; beyond, one summary counts the rest (empty peer and rule).
	rejectSummaryKeys = 64
)

// OnReject calls fn (from a goroutine of its own, in order) for events from
// peers that were refused. At most 10 rejections per peer and second are
// delivered one by one, and at most 256 (about 1 MiB) wait for a slow fn;
// the others are counted in summaries (Rejection.Suppressed), delivered at
// most once a second per peer and rule, so that the count of refusals is
// never lost. Events whose id and signature were not verified are reported
// without the event (Rejection.Unverified). It returns a function that stops
// the calls.
func (db *DB) OnReject(fn func(Rejection)) (unsubscribe func()) {
	return db.rejects.addLimited(fn, db.rejectLimit())
}

func (db *DB) rejectLimit() *queueLimit[Rejection] {
	return &queueLimit[Rejection]{
		maxLen:    rejectQueueLen,
		maxBytes:  rejectQueueBytes,
		perKey:    rejectsPerPeer,
		maxKeys:   rejectPeersTracked,
		window:    rejectWindow,
		size:      rejectionSize,
		key:       func(r Rejection) string { return r.Origin.PeerID },
		newFolder: func() folder[Rejection] { return newRejectFolder(rejectSummaryKeys) },
		prepare:   verifyRejection,
	}
}

func (db *DB) publishRejections(origin Origin, events []*record.Event, out []Outcome) {
	var list []Rejection
	var checked map[string]bool // rules that run after the integrity rule
	for i, o := range out {
		if o.Stored || o.Err == nil {
			continue
		}
		rej, ok := moderation.AsRejection(o.Err)
		if !ok {
			continue // a local failure, not a refusal of the peer's event
		}
		if rej.Rule == moderation.RuleDuplicate {
			continue // not new: nothing to report
		}
		r := Rejection{Event: events[i], Origin: origin, Rule: rej.Rule, Reason: rej.Reason, Err: o.Err}
		if checked == nil {
			checked = db.rulesAfterIntegrity()
		}
		switch {
		case rej.Rule == moderation.RuleIntegrity || r.Event == nil:
			r.Event, r.Unverified = nil, true
		case !checked[rej.Rule]:
			// Refused before the integrity rule ran: verify the event if it
			// is delivered one by one (cheap for the few that are).
			r.verify = true
		}
		list = append(list, r)
	}
	db.rejects.publish(list)
}

// rulesAfterIntegrity names the pipeline's rules that run after the
// integrity rule: an event they refuse had its id and signature verified.
func (db *DB) rulesAfterIntegrity() map[string]bool {
	after := map[string]bool{}
	seen := false
	for _, name := range db.pipeline.Rules() {
		switch {
		case name == moderation.RuleIntegrity:
			seen = true
		case seen && !after[name]:
			after[name] = true
		}
	}
	return after
}

// verifyRejection settles Unverified for an event refused before the
// integrity rule ran (the subscriber calls it on delivery).
func verifyRejection(r Rejection) Rejection {
	if !r.verify {
		return r
	}
	r.verify = false
	if r.Event == nil || r.Event.Verify() != nil {
		r.Event, r.Unverified = nil, true
	}
	return r
}

// rejectionSize estimates the bytes a queued Rejection holds.
func rejectionSize(r Rejection) int {
	n := 128 + len(r.Rule) + len(r.Reason) + len(r.Origin.PeerID)
	if e := r.Event; e != nil {
		n += 192 + len(e.Content)
		for _, t := range e.Tags {
			n += 24
			for _, s := range t {
				n += 16 + len(s)
			}
		}
	}
	return n
}

// rejectFolder sums up rejections per (peer, rule), for at most max pairs;
// the rest go into one summary with no peer and no rule.
type rejectFolder struct {
	max   int
	order []rejectKey
	byKey map[rejectKey]*Rejection
	other int // refusals of pairs beyond max
}

type rejectKey struct{ peer, rule string }

func newRejectFolder(max int) *rejectFolder {
	return &rejectFolder{max: max, byKey: map[rejectKey]*Rejection{}}
}

func (f *rejectFolder) fold(r Rejection) {
	n := max(r.Suppressed, 1)
	k := rejectKey{r.Origin.PeerID, r.Rule}
	if s, ok := f.byKey[k]; ok {
		s.Suppressed += n
		if r.Origin.PubKey != (record.PublicKey{}) {
			s.Origin = r.Origin // the peer's key may be known by now
		}
		return
	}
	if len(f.byKey) >= f.max {
		f.other += n
		return
	}
	f.byKey[k] = &Rejection{Origin: r.Origin, Rule: r.Rule, Suppressed: n}
	f.order = append(f.order, k)
}

func (f *rejectFolder) take() []Rejection {
	out := make([]Rejection, 0, len(f.order)+1)
	for _, k := range f.order {
		s := *f.byKey[k]
		s.Reason = fmt.Sprintf("%d more refusals by this rule from this peer, not reported one by one", s.Suppressed)
		out = append(out, s)
	}
	if f.other > 0 {
		out = append(out, Rejection{Suppressed: f.other,
			Reason: fmt.Sprintf("%d more refusals from several peers, not reported one by one", f.other)})
	}
	f.order, f.other = f.order[:0], 0
	clear(f.byKey)
	return out
}

func (f *rejectFolder) empty() bool { return len(f.order) == 0 && f.other == 0 }
