//go:build !js

package peerset

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/nostrrelay"
	"github.com/peersetdb/peerset/pkg/record"
)

// TestTwoPeersConvergeThroughARelayOnly: two DBs over pion with only a
// loopback Nostr relay (no tracker) find each other, authenticate and
// converge; a record put afterwards reaches the other.
func TestTwoPeersConvergeThroughARelayOnly(t *testing.T) {
	relay := nostrrelay.New(nostrrelay.Config{})
	srv := httptest.NewServer(relay)
	t.Cleanup(func() {
		srv.Close()
		_ = relay.Close()
	})
	relayURL := "ws" + strings.TrimPrefix(srv.URL, "http")
	ctx := context.Background()
	var peers []*netPeer
	for _, name := range []string{"a", "b"} {
		p := openNetPeer(t, name, nil, "relay-only")
		fill(t, p, 50)
		opts := testJoinOptions("")
		opts.Trackers = nil
		opts.Relays = []string{relayURL}
		if err := p.Join(ctx, opts); err != nil {
			t.Fatal(err)
		}
		peers = append(peers, p)
	}
	if n := len(peers[0].Trackers()); n != 0 {
		t.Fatalf("%d trackers, want none", n)
	}
	if st := peers[0].Relays(); len(st) != 1 || st[0].URL != relayURL {
		t.Fatalf("Relays() = %+v", st)
	}
	waitConverged(t, 60*time.Second, 100, peers...)
	r, err := peers[0].Put(ctx, record.Draft{Text: "through the relay"})
	if err != nil {
		t.Fatal(err)
	}
	waitConverged(t, 30*time.Second, 101, peers...)
	got, err := peers[1].Get(ctx, r.UUID)
	if err != nil || got.Text != "through the relay" {
		t.Fatalf("b: %v %+v", err, got)
	}
}
