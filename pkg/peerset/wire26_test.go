//go:build !js

package peerset

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/tracker/trackertest"
)

// framingLog records the action framing each peer's transport detected
// (the swarm's debug line "peer's action framing").
type framingLog struct {
	mu   sync.Mutex
	seen map[string]int
}

func (l *framingLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *framingLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *framingLog) WithGroup(string) slog.Handler            { return l }
func (l *framingLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "action offer accepted" {
		l.mu.Lock()
		l.seen["offers"]++
		l.mu.Unlock()
	}
	if r.Message != "peer's action framing" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "framing" {
			l.mu.Lock()
			l.seen[a.Value.String()]++
			l.mu.Unlock()
		}
		return true
	})
	return nil
}

// Two peers whose transports speak Trystero 0.26 framing converge like
// today: 300 records each, in records batches far over one 16 KiB frame,
// so every batch goes through offer and accepted.
func TestPeersConvergeOverTrystero026Framing(t *testing.T) {
	trk := trackertest.Start(t)
	ctx := context.Background()
	log := &framingLog{seen: map[string]int{}}
	var peers []*netPeer
	for _, name := range []string{"a", "b"} {
		p := openNetPeer(t, name, nil, "wire26")
		for i := range 300 {
			text := name + " " + strings.Repeat("padding ", 40) + string(rune('A'+i%26))
			if _, err := p.Put(ctx, record.Draft{Text: text + " " + time.Duration(i).String()}); err != nil {
				t.Fatal(err)
			}
		}
		peers = append(peers, p)
	}
	for _, p := range peers {
		opts := testJoinOptions(trk.URL())
		opts.Swarm.ActionWire = swarm.ActionWire026
		opts.Swarm.Logger = slog.New(log)
		if err := p.Join(ctx, opts); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, 90*time.Second, 600, peers...)
	r, err := peers[1].Put(ctx, record.Draft{Text: "late news"})
	if err != nil {
		t.Fatal(err)
	}
	waitConverged(t, 30*time.Second, 601, peers...)
	if got, err := peers[0].Get(ctx, r.UUID); err != nil || got.Text != "late news" {
		t.Fatalf("a: %v %+v", err, got)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if log.seen["Trystero 0.26 framing"] < 2 || log.seen["Trystero 0.25 framing"] != 0 {
		t.Fatalf("framings detected: %v, want 0.26 at both peers only", log.seen)
	}
	if log.seen["offers"] == 0 {
		t.Fatalf("no records batch went through offer and accepted: %v", log.seen)
	}
	t.Logf("detected and offered: %v", log.seen)
}
