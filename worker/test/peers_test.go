//go:build !js

package test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/internal/trackerclient"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/tracker"
)

// Two native peers (the peerset facade, WebRTC over loopback) that know
// only the worker's URL find each other through it and converge on their
// records, with the join options an application uses (the tracker's
// announce interval, no STUN).
func TestWorkerTwoNativePeersConverge(t *testing.T) {
	w := startedWorker(t)
	room := "worker-" + trackerclient.RandomID()
	ctx := context.Background()
	const perPeer = 40

	var peers []*peerset.DB
	for _, name := range []string{"a", "b"} {
		open := moderation.PresetOpen()
		db, err := peerset.Open(ctx, peerset.Config{Room: room, Moderation: &open})
		if err != nil {
			t.Fatalf("failed to open peer %s: %v", name, err)
		}
		t.Cleanup(func() { _ = db.Close() })
		for i := range perPeer {
			if _, err := db.Put(ctx, record.Draft{Text: fmt.Sprintf("%s record %d", name, i)}); err != nil {
				t.Fatal(err)
			}
		}
		peers = append(peers, db)
	}

	start := time.Now()
	for i, db := range peers {
		err := db.Join(ctx, peerset.JoinOptions{
			Trackers:           []string{w.TrackerURL()},
			ICEServers:         []webrtc.ICEServer{},
			LoopbackCandidates: true,
		})
		if err != nil {
			t.Fatalf("peer %d failed to join through %s: %v", i, w.TrackerURL(), err)
		}
	}
	waitConverged(t, 60*time.Second, 2*perPeer, peers)
	t.Logf("%d records converged through the worker in %v", 2*perPeer, time.Since(start).Round(time.Millisecond))

	// The worker counts both peers in one swarm.
	var st tracker.Stats
	if err := getJSON(ctx, w.base+"/stats", &st); err != nil {
		t.Fatal(err)
	}
	if st.Connections < 2 || st.Peers < 2 || st.Swarms < 1 {
		t.Errorf("worker stats %s while both peers are joined, want at least 2 connections, 1 swarm, 2 peers", statsString(st))
	}

	// A record put now reaches the other peer over the live session.
	r, err := peers[0].Put(ctx, record.Draft{Text: "late news"})
	if err != nil {
		t.Fatal(err)
	}
	waitConverged(t, 30*time.Second, 2*perPeer+1, peers)
	got, err := peers[1].Get(ctx, r.UUID)
	if err != nil || got.Text != "late news" {
		t.Fatalf("peer b has %+v, %v; want the late record", got, err)
	}

	for _, db := range peers {
		if err := db.Leave(); err != nil {
			t.Fatalf("failed to leave: %v", err)
		}
	}
}

// waitConverged waits until every peer holds want records and one root.
func waitConverged(t *testing.T, timeout time.Duration, want int, peers []*peerset.DB) {
	t.Helper()
	testwait.ForState(t, fmt.Sprintf("%d records and one root at every peer", want), timeout, func() bool {
		root := peers[0].Root()
		for _, p := range peers {
			if p.Stats().Records != want || p.Root() != root {
				return false
			}
		}
		return true
	}, func() string {
		var b strings.Builder
		for i, p := range peers {
			fmt.Fprintf(&b, "\npeer %d: %+v sessions=%d trackers=%+v", i, p.Stats(), len(p.Sessions()), p.Trackers())
		}
		return b.String()
	})
}
