//go:build !js

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/swarm/session"
)

// A simulated peer is a real swarm.Room (pion WebRTC, the tracker, Trystero's
// handshake) and a real session.Manager (the authenticated session
// handshake, roots, reconciliation), over a replica that claims the whole
// room without holding it: every simulated peer reads one shared tree of
// the room's ids, so its root is the seeder's and its session goes idle
// after the handshake, as an already-synced peer's would. It serves no
// events and takes none.

// sharedSet is the read-only view of the room every simulated peer holds.
type sharedSet struct {
	tree *merkle.Tree
	ids  [][32]byte // sorted
}

// simReplica implements session.Replica over a sharedSet.
type simReplica struct{ set *sharedSet }

// errSimRefuses is the verdict of every event offered to a simulated peer: a
// policy refusal, not an integrity failure.
var errSimRefuses = errors.New("a simulated peer keeps no events")

func (r simReplica) ReadTree(fn func(t *merkle.Tree) error) error { return fn(r.set.tree) }
func (r simReplica) Has(id [32]byte) bool {
	_, ok := slices.BinarySearchFunc(r.set.ids, id, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	return ok
}
func (simReplica) Events(context.Context, [][32]byte) ([]*record.Event, error) { return nil, nil }
func (simReplica) Offer(_ context.Context, _ session.PeerInfo, events []*record.Event) []session.Verdict {
	v := make([]session.Verdict, len(events))
	for i := range v {
		v[i] = session.Verdict{Err: errSimRefuses}
	}
	return v
}
func (simReplica) AuthorEpoch(record.PublicKey) uint64 { return 0 }

// link adapts a swarm peer to session.Link, as pkg/peerset does.
type link struct{ p *swarm.Peer }

func (l link) ID() string { return l.p.ID() }
func (l link) Send(ctx context.Context, action string, payload []byte) error {
	return l.p.Send(ctx, swarm.BinaryMessage(action, payload))
}
func (l link) LocalFingerprint() string  { return l.p.LocalFingerprint() }
func (l link) RemoteFingerprint() string { return l.p.RemoteFingerprint() }
func (l link) Close(reason error)        { go l.p.Close(reason) }

// errNotSeeder closes a connection a simulated peer made to anyone but the
// seeder (another simulated peer, a fresh peer dialling through the mesh).
var errNotSeeder = errors.New("a simulated peer only talks to the seeder")

// sim is one simulated peer.
type sim struct {
	room   *swarm.Room
	mgr    *session.Manager
	seeder string
	links  sync.Map // peer id → link
	authed chan struct{}
	once   sync.Once
}

func (s *sim) link(p *swarm.Peer) link {
	l, _ := s.links.LoadOrStore(p.ID(), link{p: p})
	return l.(link)
}

// startSim joins the room as a simulated peer that keeps one connection, to
// the seeder, through trackerURL.
func startSim(ctx context.Context, set *sharedSet, trackerURL, seederID string) (*sim, error) {
	s := &sim{seeder: seederID, authed: make(chan struct{})}
	roomID := record.RoomID(peerset.DefaultAppID, roomName)
	std := moderation.PresetStandard()
	std.RoomID = roomID
	scfg := session.Config{
		EphemeralKeys: true, MaxPeers: 1, RulesDigest: std.Digest(),
		OnSessionAuthenticated: func(info session.SessionInfo) {
			if l, ok := s.links.Load(info.PeerID); ok {
				l.(link).p.Vouch()
			}
			if info.PeerID == seederID {
				s.once.Do(func() { close(s.authed) })
			}
		},
	}
	mgr, err := session.NewManager(scfg, nil, roomID, simReplica{set})
	if err != nil {
		return nil, err
	}
	room, err := swarm.NewRoom(swarm.Config{
		Room: roomName, Trackers: []string{trackerURL}, ICEServers: []swarm.ICEServer{}, LoopbackCandidates: true,
		// One connection: at it the room is dormant (no offers, an announce
		// every two minutes) and answers no offer.
		MaxPeers: 1, DormantNeedsVouch: true, DisableMeshSignalling: true,
		AnnounceSteady: 500 * time.Millisecond,
	})
	if err != nil {
		mgr.Close()
		return nil, err
	}
	s.room, s.mgr = room, mgr
	for _, action := range session.Actions {
		if err := room.Handle(action, func(p *swarm.Peer, msg swarm.ActionMessage) {
			_ = mgr.Deliver(s.link(p), msg.Type, msg.Payload)
		}); err != nil {
			s.close()
			return nil, err
		}
	}
	room.OnPeerJoin(func(p *swarm.Peer) {
		if p.ID() != seederID {
			p.Close(errNotSeeder)
			return
		}
		if err := mgr.Attach(s.link(p)); err != nil {
			p.Close(err)
		}
	})
	room.OnPeerLeave(func(p *swarm.Peer, reason error) {
		mgr.Detach(s.link(p), reason)
		s.links.Delete(p.ID())
	})
	room.OnViolation(func(p *swarm.Peer, err error) { mgr.TransportViolation(s.link(p), err) })
	if err := room.Start(ctx); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *sim) close() {
	_ = s.room.Close()
	s.mgr.Close()
}

// attached reports whether the sim holds an authenticated session with the
// seeder now.
func (s *sim) attached() bool {
	info, ok := s.mgr.Session(s.seeder)
	return ok && info.State.Authenticated()
}

// bytesFromSeeder is what the seeder's connection delivered to this sim
// (data-channel message bytes).
func (s *sim) bytesFromSeeder() uint64 {
	if p, ok := s.room.Peer(s.seeder); ok {
		return p.Stats().BytesIn
	}
	return 0
}

// startSims starts n simulated peers: trackers[g] serves the seeder and the
// sims of group g, which join one after the other (each waits until its
// session with the seeder authenticated, or perSim passed), so that the
// offers of a new sim reach the seeder and not a sim that is still looking
// for it; the groups join in parallel. It returns the sims that attached.
func startSims(ctx context.Context, set *sharedSet, trackers []string, seederID string, n, perTracker int, perSim time.Duration, progress io.Writer) ([]*sim, error) {
	var mu sync.Mutex
	var sims []*sim
	var failed atomic.Int64
	var firstErr error
	var wg sync.WaitGroup
	for g, url := range trackers {
		wg.Go(func() {
			for k := g * perTracker; k < min(n, (g+1)*perTracker); k++ {
				s, err := startSim(ctx, set, url, seederID)
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					return
				}
				select {
				case <-s.authed:
					mu.Lock()
					sims = append(sims, s)
					if len(sims)%10 == 0 {
						fmt.Fprintf(progress, "seedbench: %d simulated peers attached\n", len(sims))
					}
					mu.Unlock()
				case <-time.After(perSim):
					failed.Add(1)
					s.close()
				case <-ctx.Done():
					s.close()
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		for _, s := range sims {
			s.close()
		}
		return nil, firstErr
	}
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(progress, "seedbench: %d simulated peers did not attach within %v\n", f, perSim)
	}
	return sims, nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
