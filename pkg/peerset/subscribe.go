package peerset

import (
	"sync"
	"time"

	"github.com/peersetdb/peerset/pkg/record"
)

// Change is one addition to or removal from the record set.
type Change struct {
	Event   *record.Event
	Removed bool   // replaced, deleted or collected
	Origin  Origin // who sent the event that caused it
	// HeldBy is how many peers were known to hold an added record when it
	// was added (see DB.Holders): the peer that sent it, at least.
	HeldBy int
}

// subscribers fans values (changes, rejections) out to callbacks, in order,
// on one goroutine per subscriber so that a slow callback cannot block
// writers. A subscriber added with add gets every value (its queue has no
// bound: changes must not be lost); one added with addLimited has a bounded
// queue, and what does not fit is counted in summaries (see queueLimit).
type subscribers[T any] struct {
	mu     sync.Mutex
	next   int
	byID   map[int]*subscriber[T]
	closed bool
}

// queueLimit bounds a subscriber's queue and the rate at which one source
// (a key, e.g. the peer a rejection came from) fills it. A value over either
// bound is not queued but folded into a summary (see folder), and the
// summaries are delivered once the window in which the first of them was
// folded is over: at most one batch of summaries per window, however long
// the flood.
type queueLimit[T any] struct {
	maxLen   int           // values queued at most
	maxBytes int           // approximate bytes queued at most (size)
	perKey   int           // values per key and window queued one by one (0: no rate limit)
	maxKeys  int           // keys tracked per window; a new key beyond it is over its rate
	window   time.Duration // the rate window, and the delay before summaries go out
	size     func(T) int
	key      func(T) string
	// newFolder makes the set of summaries a subscriber folds values into.
	newFolder func() folder[T]
	// prepare, when set, is applied to each value just before it is
	// delivered (on the subscriber's goroutine): work that only values
	// delivered one by one need.
	prepare func(T) T
}

// folder counts values that were not queued, as summaries. Its size must be
// bounded whatever it is given.
type folder[T any] interface {
	fold(v T)
	// take returns the summaries and empties the folder.
	take() []T
	empty() bool
}

type subscriber[T any] struct {
	fn    func(T)
	limit *queueLimit[T] // nil: unbounded
	mu    sync.Mutex
	queue []T
	wake  chan struct{}
	done  chan struct{}
	stop  sync.Once

	// With a limit (guarded by mu):
	bytes       int            // approximate bytes in queue
	windowStart time.Time      // start of the current rate window
	sent        map[string]int // values queued per key in the current window
	folded      folder[T]      // what did not fit
	due         bool           // the summaries may go out
	timer       *time.Timer    // sets due once the folding window is over
}

func (sub *subscriber[T]) close() {
	sub.stop.Do(func() {
		close(sub.done)
		sub.mu.Lock()
		if sub.timer != nil {
			sub.timer.Stop()
			sub.timer = nil
		}
		sub.mu.Unlock()
	})
}

// Subscribe calls fn for every change to the record set, in order, from a
// goroutine of its own. It returns a function that stops the subscription.
func (db *DB) Subscribe(fn func(Change)) (unsubscribe func()) {
	return db.subs.add(fn)
}

// add subscribes fn to every value, with no bound on its queue.
func (s *subscribers[T]) add(fn func(T)) func() { return s.addLimited(fn, nil) }

// addLimited subscribes fn with its queue bounded by limit (nil: no bound).
func (s *subscribers[T]) addLimited(fn func(T), limit *queueLimit[T]) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return func() {}
	}
	if s.byID == nil {
		s.byID = map[int]*subscriber[T]{}
	}
	id := s.next
	s.next++
	sub := &subscriber[T]{fn: fn, limit: limit, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if limit != nil {
		sub.sent = map[string]int{}
		sub.folded = limit.newFolder()
	}
	s.byID[id] = sub
	go sub.run()
	return func() {
		s.mu.Lock()
		delete(s.byID, id)
		s.mu.Unlock()
		sub.close()
	}
}

func (s *subscribers[T]) publish(values []T) {
	if len(values) == 0 {
		return
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.byID {
		sub.mu.Lock()
		if sub.limit == nil {
			sub.queue = append(sub.queue, values...)
		} else {
			sub.offer(now, values)
		}
		sub.mu.Unlock()
		sub.poke()
	}
}

func (sub *subscriber[T]) poke() {
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

// offer queues what fits of values and folds the rest. sub.mu is held.
func (sub *subscriber[T]) offer(now time.Time, values []T) {
	l := sub.limit
	if now.Sub(sub.windowStart) >= l.window || now.Before(sub.windowStart) {
		sub.windowStart = now
		clear(sub.sent)
	}
	for _, v := range values {
		var k string
		if l.perKey > 0 {
			k = l.key(v)
			n, seen := sub.sent[k]
			if n >= l.perKey || (!seen && len(sub.sent) >= l.maxKeys) {
				sub.fold(v)
				continue
			}
		}
		size := l.size(v)
		if len(sub.queue) >= l.maxLen || sub.bytes+size > l.maxBytes {
			sub.fold(v)
			continue
		}
		sub.queue = append(sub.queue, v)
		sub.bytes += size
		if l.perKey > 0 {
			sub.sent[k]++
		}
	}
}

// fold counts v in the summaries, and makes sure they go out once the
// current window is over. sub.mu is held.
func (sub *subscriber[T]) fold(v T) {
	sub.folded.fold(v)
	if sub.timer != nil || sub.due {
		return
	}
	sub.timer = time.AfterFunc(sub.limit.window, func() {
		sub.mu.Lock()
		sub.timer = nil
		sub.due = true
		sub.mu.Unlock()
		sub.poke()
	})
}

// pending is what waits to be delivered: values queued, their approximate
// bytes, and whether summaries are held.
func (sub *subscriber[T]) pending() (n, bytes int, summaries bool) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return len(sub.queue), sub.bytes, sub.folded != nil && !sub.folded.empty()
}

// take empties the queue (and, once due, the summaries, which come after
// it) and returns what it held.
func (sub *subscriber[T]) take() []T {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	batch := sub.queue
	sub.queue = nil
	sub.bytes = 0
	if sub.due {
		sub.due = false
		batch = append(batch, sub.folded.take()...)
	}
	return batch
}

func (s *subscribers[T]) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for id, sub := range s.byID {
		delete(s.byID, id)
		sub.close()
	}
}

func (sub *subscriber[T]) run() {
	var prepare func(T) T
	if sub.limit != nil {
		prepare = sub.limit.prepare
	}
	for {
		select {
		case <-sub.done:
			return
		case <-sub.wake:
		}
		for {
			batch := sub.take()
			if len(batch) == 0 {
				break
			}
			for _, c := range batch {
				select {
				case <-sub.done:
					return
				default:
				}
				if prepare != nil {
					c = prepare(c)
				}
				sub.fn(c)
			}
		}
	}
}

func timeOf(unix int64) time.Time { return time.Unix(unix, 0) }
