package main

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
)

// Rejections go to the page in batches: one emit('reject', [...]) per
// rejectBatchInterval at most, however many peers are refused. The facade
// already limits them (peerset.DB.OnReject: 10 per peer and second one by
// one, the rest in summaries); the batch adds a bound of its own, and when
// it is full the facade's subscriber waits, so that what does not fit is
// counted in the facade's summaries rather than piled up here.
const (
	rejectBatchInterval = 100 * time.Millisecond
	rejectBatchMax      = 256
)

// rejectBatcher collects rejections for the page between two emits.
type rejectBatcher struct {
	max   int
	mu    sync.Mutex
	queue []peerset.Rejection
	wake  chan struct{} // something was queued
	space chan struct{} // the queue was taken
}

func newRejectBatcher(max int) *rejectBatcher {
	return &rejectBatcher{max: max, wake: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

// add queues r. While the batch is full it waits until the pump takes it;
// it gives up (and drops r) once done is closed.
func (b *rejectBatcher) add(r peerset.Rejection, done <-chan struct{}) bool {
	for {
		b.mu.Lock()
		if len(b.queue) < b.max {
			b.queue = append(b.queue, r)
			b.mu.Unlock()
			select {
			case b.wake <- struct{}{}:
			default:
			}
			return true
		}
		b.mu.Unlock()
		select {
		case <-b.space:
		case <-done:
			return false
		}
	}
}

// take returns what is queued and empties the queue.
func (b *rejectBatcher) take() []peerset.Rejection {
	b.mu.Lock()
	batch := b.queue
	b.queue = nil
	b.mu.Unlock()
	select {
	case b.space <- struct{}{}:
	default:
	}
	return batch
}

// run hands send one batch per interval at most, until done is closed.
func (b *rejectBatcher) run(done <-chan struct{}, interval time.Duration, send func([]peerset.Rejection)) {
	timer := time.NewTimer(interval)
	timer.Stop()
	for {
		select {
		case <-done:
			return
		case <-b.wake:
		}
		// Let the rest of the batch arrive: one call per interval.
		timer.Reset(interval)
		select {
		case <-done:
			timer.Stop()
			return
		case <-timer.C:
		}
		if batch := b.take(); len(batch) > 0 {
			send(batch)
		}
	}
}

// rejectEventJSON is the payload of a 'reject' event: one refused event, or
// (suppressed > 0) a summary of refusals not reported one by one.
type rejectEventJSON struct {
	Rule   string `json:"rule"` // empty in a summary that spans several peers and rules
	Reason string `json:"reason"`
	PeerID string `json:"peerId"`           // empty in a summary that spans several peers
	Peer   string `json:"peer,omitempty"`   // the peer's npub, when known
	ID     string `json:"id,omitempty"`     // the refused event's id, once verified
	Author string `json:"author,omitempty"` // the refused event's author, once verified
	UUID   string `json:"uuid,omitempty"`
	// Unverified: the event's id and signature were not verified (or
	// failed): it is reported without its id, author and uuid.
	Unverified bool `json:"unverified,omitempty"`
	// Suppressed > 0: a summary of that many refusals.
	Suppressed int `json:"suppressed,omitempty"`
}

func toRejectEventJSON(r peerset.Rejection) rejectEventJSON {
	out := rejectEventJSON{Rule: r.Rule, Reason: r.Reason, PeerID: r.Origin.PeerID, Suppressed: r.Suppressed}
	if r.Origin.PubKey != (record.PublicKey{}) {
		out.Peer = npubs.npub(r.Origin.PubKey)
	}
	switch {
	case r.Suppressed > 0:
	case r.Event == nil || r.Unverified:
		out.Unverified = true
	default:
		out.ID = r.Event.IDHex()
		out.Author = npubs.npub(r.Event.PubKey)
		out.UUID = r.Event.TagValue(record.TagUUID)
	}
	return out
}

// marshalRejects encodes a batch of rejections as the JSON array one
// 'reject' emit carries.
func marshalRejects(batch []peerset.Rejection) ([]byte, error) {
	out := make([]rejectEventJSON, len(batch))
	for i, r := range batch {
		out[i] = toRejectEventJSON(r)
	}
	return json.Marshal(out)
}
