package main

import (
	"sync"

	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
)

// Bounds of the record changes waiting to cross to the page as 'record'
// events. The pump sends them as fast as the page's end of the bridge
// takes them; they pile up only while the engine is busier than the pump
// (a first sync stores thousands of records a second).
const (
	maxQueuedRecordChanges = 10_000
	maxQueuedRecordBytes   = 8 << 20
)

// recordQueue holds the record changes on their way to the page, bounded
// in count and in bytes (the estimated size of each event). A change that
// would pass a bound is not queued alone: the whole queue is dropped and
// counted, and the page gets, before any later change, one 'record' event
// { overflow: true, missed: n } telling it that n changes were not
// reported one by one and that it should query again. Changes that arrive
// after an overflow are queued as usual.
type recordQueue struct {
	maxCount, maxBytes int

	mu      sync.Mutex
	changes []peerset.Change
	bytes   int
	missed  int // changes dropped since the last take
}

func newRecordQueue(maxCount, maxBytes int) *recordQueue {
	return &recordQueue{maxCount: maxCount, maxBytes: maxBytes}
}

// changeBytes estimates what a change holds in memory and costs in JSON.
func changeBytes(c peerset.Change) int {
	n := 256
	if c.Event != nil {
		n += len(c.Event.Content)
		for _, t := range c.Event.Tags {
			for _, v := range t {
				n += len(v) + 8
			}
		}
	}
	return n
}

// add queues a change that the page can be told about (an added or removed
// record; other kinds never become 'record' events).
func (q *recordQueue) add(c peerset.Change) {
	if c.Event == nil || c.Event.Kind != record.KindRecord {
		return
	}
	size := changeBytes(c)
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.changes)+1 > q.maxCount || q.bytes+size > q.maxBytes {
		q.missed += len(q.changes) + 1
		clear(q.changes) // let the events go
		q.changes, q.bytes = q.changes[:0], 0
		return
	}
	q.changes = append(q.changes, c)
	q.bytes += size
}

// take removes up to max changes from the front of the queue and returns
// them, with the number of changes dropped since the last take (sent
// before them), and whether more changes wait.
func (q *recordQueue) take(max int) (batch []peerset.Change, missed int, more bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(len(q.changes), max)
	batch = make([]peerset.Change, n)
	copy(batch, q.changes)
	for _, c := range batch {
		q.bytes -= changeBytes(c)
	}
	rest := copy(q.changes, q.changes[n:])
	clear(q.changes[rest:])
	q.changes = q.changes[:rest]
	if rest == 0 && cap(q.changes) > 4*max {
		q.changes = nil // do not keep a sync's peak
	}
	missed, q.missed = q.missed, 0
	return batch, missed, rest > 0
}

// len reports the queued changes and their estimated bytes.
func (q *recordQueue) len() (int, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.changes), q.bytes
}
