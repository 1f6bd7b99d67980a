//go:build !js

package test

import (
	"context"
	"testing"
	"time"

	"github.com/peersetdb/peerset/internal/trackerclient"
	"github.com/peersetdb/peerset/pkg/wire"
)

// storageCounters is the Durable Object's GET /stats/storage: SQLite rows
// read and written, and WebSocket messages, since the object started.
type storageCounters struct {
	RowsRead    int `json:"rowsRead"`
	RowsWritten int `json:"rowsWritten"`
	Messages    int `json:"messages"`
}

// The review's M6: the object wrote SQLite on every announce that flipped
// `left`, one write per message at the attacker's rate. Now only a
// membership that starts or ends writes; re-announces, seeding flips,
// refused announces and takeover attempts cost no row.
func TestWorkerStorageWritesOnlyWhenMembershipChanges(t *testing.T) {
	w := startedWorker(t)
	url := w.TrackerURL()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	counters := func() storageCounters {
		t.Helper()
		var c storageCounters
		if err := getJSON(ctx, w.base+"/stats/storage", &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	hash := trackerclient.RandomID()
	a, b := dial(t, url, "a"), dial(t, url, "b")
	zero := int64(0)
	seed := func(c *client) {
		c.Send(&wire.OfferAnnounce{Action: "announce", InfoHash: hash, PeerID: c.ID, Left: &zero, Offers: []wire.TrackerOffer{}})
		trackerclient.RecvAs[*wire.AnnounceReply](c)
	}
	steps := []struct {
		name      string
		do        func()
		wantWrite bool
	}{
		{"a joins", func() { a.Announce(hash, nil) }, true},
		{"30 re-announces flipping left", func() {
			for i := range 30 {
				if i%2 == 0 {
					seed(a)
				} else {
					a.Announce(hash, nil)
				}
			}
		}, false},
		{"b joins", func() { b.Announce(hash, nil) }, true},
		{"10 offers and answers", func() {
			for range 5 {
				offers := trackerclient.Offers(trackerclient.RandomID(), 1)
				b.Announce(hash, offers)
				trackerclient.RecvAs[*wire.ForwardedOffer](a)
				a.Send(wire.NewAnswerAnnounce(hash, a.ID, b.ID, offers[0].OfferID, wire.SessionDescription{Type: "answer", SDP: "x"}))
				trackerclient.RecvAs[*wire.ForwardedAnswer](b)
			}
		}, false},
		{"a takeover of a's peer_id, refused", func() {
			thief := dial(t, url, "thief")
			thief.ID = a.ID
			thief.Send(wire.NewOfferAnnounce(hash, thief.ID, nil))
			thief.ExpectFailure(loadRules(t).Reasons["peerIdTaken"], "announce", hash)
		}, false},
		{"a stops", func() {
			a.Send(&wire.AnnounceRequest{Action: "announce", InfoHash: hash, PeerID: a.ID, Event: "stopped"})
			trackerclient.RecvAs[*wire.AnnounceReply](a)
		}, true},
	}
	for _, s := range steps {
		before := counters()
		s.do()
		after := counters()
		written, read, msgs := after.RowsWritten-before.RowsWritten, after.RowsRead-before.RowsRead, after.Messages-before.Messages
		t.Logf("%-38s %3d messages: %d rows written, %d rows read", s.name, msgs, written, read)
		if (written > 0) != s.wantWrite {
			t.Errorf("%s: %d rows written, want them only when a membership starts or ends", s.name, written)
		}
		if !s.wantWrite && read > 0 {
			t.Errorf("%s: %d rows read, want none", s.name, read)
		}
	}
}
