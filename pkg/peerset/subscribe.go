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
}

// subscribers fans values (changes, rejections) out to callbacks, in order,
// on one goroutine per subscriber so that a slow callback cannot block
// writers.
type subscribers[T any] struct {
	mu     sync.Mutex
	next   int
	byID   map[int]*subscriber[T]
	closed bool
}

type subscriber[T any] struct {
	fn    func(T)
	mu    sync.Mutex
	queue []T
	wake  chan struct{}
	done  chan struct{}
	stop  sync.Once
}

func (sub *subscriber[T]) close() { sub.stop.Do(func() { close(sub.done) }) }

// Subscribe calls fn for every change to the record set, in order, from a
// goroutine of its own. It returns a function that stops the subscription.
func (db *DB) Subscribe(fn func(Change)) (unsubscribe func()) {
	return db.subs.add(fn)
}

func (s *subscribers[T]) add(fn func(T)) func() {
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
	sub := &subscriber[T]{fn: fn, wake: make(chan struct{}, 1), done: make(chan struct{})}
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
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.byID {
		sub.mu.Lock()
		sub.queue = append(sub.queue, values...)
		sub.mu.Unlock()
		select {
		case sub.wake <- struct{}{}:
		default:
		}
	}
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
	for {
		select {
		case <-sub.done:
			return
		case <-sub.wake:
		}
		for {
			sub.mu.Lock()
			batch := sub.queue
			sub.queue = nil
			sub.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			for _, c := range batch {
				select {
				case <-sub.done:
					return
				default:
				}
				sub.fn(c)
			}
		}
	}
}

func timeOf(unix int64) time.Time { return time.Unix(unix, 0) }
