//go:build !js

package swarm_test

import (
	"slices"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/swarm"
)

// meshTimeout bounds how long the mesh tests wait for connections (pion on
// a loaded machine sets up several at once).
const meshTimeout = 90 * time.Second

// meshRoom joins a room that vouches for every peer on join (as the peerset
// session does once it authenticated one), with mesh bounds low/degree/high.
func meshRoom(t *testing.T, room string, trackers []string, low, degree, high int) *swarm.Room {
	t.Helper()
	cfg := testConfig(t, trackers[0], room)
	cfg.Trackers = trackers
	cfg.DormantNeedsVouch = true
	cfg.DormantAfterPeers, cfg.MeshDegree, cfg.MeshHigh = low, degree, high
	cfg.MeshInterval = 500 * time.Millisecond
	r, err := swarm.NewRoom(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.OnPeerJoin(func(p *swarm.Peer) { p.Vouch() })
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func peerIDs(r *swarm.Room) []string {
	var ids []string
	for _, p := range r.Peers() {
		ids = append(ids, p.ID())
	}
	return ids
}

// connected reports whether the rooms' peers form one connected graph.
func connected(rooms []*swarm.Room) bool {
	byID := map[string]*swarm.Room{}
	for _, r := range rooms {
		byID[r.SelfID()] = r
	}
	seen := map[string]bool{rooms[0].SelfID(): true}
	queue := []string{rooms[0].SelfID()}
	for len(queue) > 0 {
		r := byID[queue[0]]
		queue = queue[1:]
		for _, id := range peerIDs(r) {
			if _, ours := byID[id]; ours && !seen[id] {
				seen[id] = true
				queue = append(queue, id)
			}
		}
	}
	return len(seen) == len(rooms)
}

// TestMeshSignallingReachesMembersOnlyAnotherTrackerKnew is issue 11's
// acceptance test over real WebRTC (pion) and real trackers on loopback:
// eight members with a low target degree (low 2, D 3) meet through tracker
// 1 and form one connected mesh, none over its bound. Tracker 1 stops. A
// newcomer that knows only tracker 2, where one member also announced,
// connects to that member and through it (peer exchange, then offers and
// answers relayed over the mesh) gets a direct connection to a member only
// tracker 1 knew (usually two or three).
//
// The high watermark is 8, so that no member is full before the newcomer
// comes (8 others at most, the newcomer one of them): a full member answers
// no offer, and with high 6 two CI runs failed when the gateway, or the
// only member the gateway told of, held 6 peers (a hub), leaving the
// newcomer nobody to reach. That is the bounded mesh working as designed;
// see the README's mesh limits.
func TestMeshSignallingReachesMembersOnlyAnotherTrackerKnew(t *testing.T) {
	if testing.Short() {
		t.Skip("nine pion peers")
	}
	t1, t2 := startTracker(t), startTracker(t)
	room := roomName(t)
	gateway := meshRoom(t, room, []string{t1.URL(), t2.URL()}, 2, 3, 8)
	members := []*swarm.Room{gateway}
	for range 7 {
		members = append(members, meshRoom(t, room, []string{t1.URL()}, 2, 3, 8))
	}
	deadline := time.Now().Add(meshTimeout)
	for !connected(members) || slices.ContainsFunc(members, func(r *swarm.Room) bool { return r.Mesh().Peers < 1 }) {
		if time.Now().After(deadline) {
			for _, r := range members {
				t.Logf("%s: %v", r.SelfID(), peerIDs(r))
			}
			t.Fatalf("8 members did not form one mesh within %v", meshTimeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, r := range members {
		if m := r.Mesh(); m.Peers > m.High {
			t.Errorf("%s holds %d mesh peers, over its bound %d", r.SelfID(), m.Peers, m.High)
		}
	}
	t.Logf("the gateway holds %d mesh peers before tracker 1 stops", gateway.Mesh().Peers)
	t1.Stop()

	newcomer := meshRoom(t, room, []string{t2.URL()}, 3, 3, 8)
	onlyT1 := map[string]bool{}
	for _, r := range members[1:] {
		onlyT1[r.SelfID()] = true
	}
	deadline = time.Now().Add(meshTimeout)
	for {
		var direct []string
		for _, id := range peerIDs(newcomer) {
			if onlyT1[id] {
				direct = append(direct, id)
			}
		}
		// One is enough to show the mechanism (without mesh signalling the
		// newcomer holds the gateway alone); on an idle machine it reaches
		// 2–3 (README), but under CPU contention most dials through the
		// mesh failed in one run (1 of 7 connected): issue 11 follows it up.
		if len(direct) >= 1 {
			m := newcomer.Mesh()
			t.Logf("the newcomer reached %d members only tracker 1 knew (%v) through the gateway; %d members known, %d offers and %d answers through the mesh",
				len(direct), direct, m.Known, m.MeshDials, m.MeshAnswers)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the newcomer holds %v after %v (known %v, %+v; the gateway %+v); want a member only tracker 1 knew",
				peerIDs(newcomer), meshTimeout, newcomer.KnownMembers(), newcomer.Mesh(), gateway.Mesh())
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Either side may offer: the newcomer dials the members the gateway
	// told it of, and a member that learned of the newcomer from the
	// gateway may dial first, the newcomer answering through the mesh.
	if m := newcomer.Mesh(); m.MeshDials+m.MeshAnswers == 0 {
		t.Errorf("no offer or answer through the mesh (%+v): the connections came another way", m)
	}
}
