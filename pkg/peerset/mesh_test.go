//go:build !js

package peerset

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/tracker/trackertest"
)

// TestEightPeersWithALowDegreeConverge is issue 11's real-stack acceptance
// test at the database level: eight native peers (pion WebRTC, a tracker on
// loopback, authenticated sessions) with a low mesh degree (low 2, D 3,
// high 4) each write 25 records before joining and converge to 200 records
// and one root, without any honest peer earning a strike. No peer holds
// more than four mesh peers, so every peer lacks a direct session to at
// least three others and records reach them through the mesh (gossip, then
// reconciliation as repair). A record put afterwards reaches all eight.
func TestEightPeersWithALowDegreeConverge(t *testing.T) {
	if testing.Short() {
		t.Skip("eight pion peers")
	}
	const n, each, high = 8, 25, 4
	trk := trackertest.Start(t)
	ctx := context.Background()
	var peers []*netPeer
	for i := range n {
		p := openNetPeer(t, fmt.Sprintf("p%d", i), nil, "eight")
		fill(t, p, each)
		peers = append(peers, p)
	}
	for _, p := range peers {
		opts := testJoinOptions(trk.URL())
		opts.Swarm.DormantAfterPeers, opts.Swarm.MeshDegree, opts.Swarm.MeshHigh = 2, 3, high
		opts.Swarm.MeshInterval = 500 * time.Millisecond
		if err := p.Join(ctx, opts); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	waitConverged(t, 3*time.Minute, n*each, peers...)
	t.Logf("%d records converged at %d peers in %v", n*each, n, time.Since(start).Round(time.Millisecond))

	late, err := peers[0].Put(ctx, record.Draft{Text: "late news through the mesh"})
	if err != nil {
		t.Fatal(err)
	}
	waitConverged(t, time.Minute, n*each+1, peers...)
	for _, p := range peers[1:] {
		if got, err := p.Get(ctx, late.UUID); err != nil || got.Text != late.Text {
			t.Fatalf("%s: %v %+v", p.name, err, got)
		}
	}

	for _, p := range peers {
		p.mu.RLock()
		net := p.net
		p.mu.RUnlock()
		m := net.room.Mesh()
		if m.Peers > m.High || m.High != high {
			t.Errorf("%s holds %d mesh peers, bound %d (want %d)", p.name, m.Peers, m.High, high)
		}
		for _, s := range p.Sessions() {
			if s.Strikes > 0 {
				t.Errorf("%s: honest peer %s earned %d strikes", p.name, s.PeerID, s.Strikes)
			}
		}
		if l := p.Ledger(); l != nil && l.Len() > 0 {
			t.Errorf("%s: its strike ledger holds %d subjects; honest peers earn none", p.name, l.Len())
		}
		t.Logf("%s: %d mesh peers, %d pruned", p.name, m.Peers, m.Pruned)
	}
	testwait.For(t, "every peer to keep at most four sessions", 30*time.Second, func() bool {
		for _, p := range peers {
			if len(p.Sessions()) > high {
				return false
			}
		}
		return true
	})
}
