//go:build !js

package tracker

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/wire"
)

// statsByWalk computes Stats the way the tracker did before it kept
// counters: a walk over every peer under the lock, O(peers).
func statsByWalk(s *Server) Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Connections: len(s.conns), Swarms: len(s.swarms)}
	for _, sw := range s.swarms {
		st.Peers += len(sw.peers)
		for _, m := range sw.peers {
			if m.seeding {
				st.Seeders++
			}
		}
	}
	return st
}

// fakeConn is a connection without a socket, for driving the membership
// code directly.
func fakeConn(s *Server) *conn {
	s.nextConnID++
	_, cancel := context.WithCancel(context.Background())
	c := &conn{
		id:     s.nextConnID,
		ip:     "192.0.2.1",
		log:    s.log,
		send:   make(chan []byte, 1<<10),
		probe:  make(chan struct{}, 1),
		cancel: cancel,
		joined: make(map[string]string),
	}
	s.conns[c] = struct{}{}
	return c
}

func testHash(i int) string { return fmt.Sprintf("swarm-%014d", i) }

func announceReq(infoHash, peerID string, seeding bool) *wire.AnnounceRequest {
	req := &wire.AnnounceRequest{Action: "announce", InfoHash: infoHash, PeerID: peerID}
	if seeding {
		req.Left = []byte("0")
	}
	return req
}

// The counters behind Stats must always equal a walk over every peer,
// through joins, seeding flips, leaves, closed connections and idle expiry.
func TestStatsCountersMatchAWalk(t *testing.T) {
	clock := newFakeClock()
	s := New(Config{MaxPeersPerSwarm: 20, MaxSwarmsPerConn: 4, MemberIdleTimeout: time.Minute, Logger: slog.New(slog.DiscardHandler)})
	s.now = clock.now
	rng := rand.New(rand.NewPCG(1, 2))
	var conns []*conn
	for step := range 20000 {
		s.mu.Lock()
		switch op := rng.IntN(10); {
		case op < 2 || len(conns) == 0:
			conns = append(conns, fakeConn(s))
		case op < 7: // announce, maybe flipping the seeding flag
			c := conns[rng.IntN(len(conns))]
			s.joinLocked(c, announceReq(testHash(rng.IntN(8)), peerID(fmt.Sprint(c.id)), rng.IntN(2) == 0))
		case op < 8:
			c := conns[rng.IntN(len(conns))]
			s.leaveLocked(c, testHash(rng.IntN(8)))
		case op < 9:
			i := rng.IntN(len(conns))
			c := conns[i]
			conns = append(conns[:i], conns[i+1:]...)
			s.mu.Unlock()
			s.removeConn(c)
			s.mu.Lock()
		default:
			clock.advance(time.Duration(rng.IntN(20)) * time.Second)
		}
		s.mu.Unlock()
		if got, want := s.Stats(), statsByWalk(s); got != want {
			t.Fatalf("step %d: Stats() = %+v, a walk says %+v", step, got, want)
		}
	}
	t.Logf("final %+v", s.Stats())
}

// fillServer returns a tracker holding peers memberships: one connection
// each, 1000 per swarm, one in three seeding.
func fillServer(b testing.TB, peers int) *Server {
	s := New(Config{MaxPeersPerSwarm: 1000, Logger: slog.New(slog.DiscardHandler)})
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range peers {
		c := fakeConn(s)
		if reason := s.joinLocked(c, announceReq(testHash(i/1000), fmt.Sprintf("peer-%015d", i), i%3 == 0)); reason != "" {
			b.Fatalf("join %d: %s", i, reason)
		}
	}
	return s
}

// BenchmarkStats prints the cost of one /stats at 10k and 100k peers: the
// old walk over every peer under the lock, and the counters.
func BenchmarkStats(b *testing.B) {
	for _, peers := range []int{10_000, 100_000} {
		s := fillServer(b, peers)
		if got, want := s.Stats(), statsByWalk(s); got != want {
			b.Fatalf("Stats() = %+v, walk %+v", got, want)
		}
		b.Run(fmt.Sprintf("peers=%d/walk", peers), func(b *testing.B) {
			for b.Loop() {
				statsByWalk(s)
			}
		})
		b.Run(fmt.Sprintf("peers=%d/counters", peers), func(b *testing.B) {
			for b.Loop() {
				s.Stats()
			}
		})
	}
}

// BenchmarkAnnounceInFullSwarm is the lock-held cost of one announce with
// three offers in a swarm of 1000 (the default cap): refresh, pick three
// targets, count the reply.
func BenchmarkAnnounceInFullSwarm(b *testing.B) {
	s := fillServer(b, 999)
	s.mu.Lock()
	c := fakeConn(s)
	s.mu.Unlock()
	req := announceReq(testHash(0), "peer-999999999999999", false)
	for b.Loop() {
		s.mu.Lock()
		if reason := s.joinLocked(c, req); reason != "" {
			b.Fatal(reason)
		}
		s.randomOthersLocked(req.InfoHash, req.PeerID, 3)
		sw := s.swarms[req.InfoHash]
		_ = len(sw.peers) - sw.seeders
		s.mu.Unlock()
	}
}
