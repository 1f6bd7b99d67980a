//go:build !js

package test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/peersetdb/peerset/internal/trackerclient"
	"github.com/peersetdb/peerset/pkg/tracker"
	"github.com/peersetdb/peerset/pkg/wire"
)

// smallLimits are caps small enough to reach in a test, set the same way on
// both trackers: tracker.Config for pkg/tracker, variables for the worker.
var smallLimits = struct {
	peersPerSwarm, connsPerIP, conns, burst int
	rate                                    float64
	idle                                    time.Duration
}{peersPerSwarm: 3, connsPerIP: 4, conns: 10, burst: 12, rate: 0.01, idle: 3 * time.Second}

func TestGoTrackerLimits(t *testing.T) {
	l := smallLimits
	srv := tracker.New(tracker.Config{
		MaxPeersPerSwarm: l.peersPerSwarm, MaxConnsPerIP: l.connsPerIP, MaxConns: l.conns,
		AnnounceRate: l.rate, AnnounceBurst: l.burst, MemberIdleTimeout: l.idle,
		Logger: slog.New(slog.DiscardHandler),
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/announce"
	checkLimits(t, url, statsURL(url))
}

func TestWorkerLimits(t *testing.T) {
	l := smallLimits
	w, err := startWrangler(
		"--var", fmt.Sprintf("MAX_PEERS_PER_SWARM:%d", l.peersPerSwarm),
		"--var", fmt.Sprintf("MAX_CONNECTIONS_PER_IP:%d", l.connsPerIP),
		"--var", fmt.Sprintf("MAX_CONNECTIONS:%d", l.conns),
		"--var", fmt.Sprintf("ANNOUNCE_RATE:%g", l.rate),
		"--var", fmt.Sprintf("ANNOUNCE_BURST:%d", l.burst),
		"--var", fmt.Sprintf("MEMBER_IDLE_TIMEOUT_SECONDS:%g", l.idle.Seconds()),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("wrangler dev output:\n%s", w.log.String())
		}
		w.stop()
	})
	checkLimits(t, w.TrackerURL(), w.base+"/stats")
}

// checkLimits runs the same checks of the caps against a tracker started
// with smallLimits. Each check connects from loopback addresses of its own
// and waits for the tracker to count no connection before it starts.
func checkLimits(t *testing.T, url, stats string) {
	rules := loadRules(t)
	l := smallLimits
	idle := func(t *testing.T) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var st tracker.Stats
		waitFor(t, "the connections of the earlier checks to close", func() (bool, string) {
			if err := getJSON(ctx, stats, &st); err != nil {
				t.Fatal(err)
			}
			return st.Connections == 0, statsString(st)
		})
	}
	mustDial := func(t *testing.T, name, ip string) *client {
		t.Helper()
		c, status, err := dialFrom(t, url, name, ip)
		if err != nil {
			t.Fatalf("%s from %s refused (status %d): %v", name, ip, status, err)
		}
		return c
	}

	t.Run("sockets from one address cannot fill a swarm", func(t *testing.T) {
		// The review's M6: 1000 sockets fill a swarm and lock honest peers
		// out. Here the swarm takes 3 and one address may open 4 sockets:
		// the attacker gets 3 in, and its 4th socket is refused ...
		idle(t)
		hash := trackerclient.RandomID()
		for i := range l.peersPerSwarm {
			mustDial(t, fmt.Sprintf("x%d", i), "127.0.0.11").Announce(hash, nil)
		}
		x := mustDial(t, "x-last", "127.0.0.11")
		x.Send(wire.NewOfferAnnounce(hash, x.ID, nil))
		x.ExpectFailure(rules.Reasons["swarmFull"], "announce", hash)
		if _, status, err := dialFrom(t, url, "x-over", "127.0.0.11"); err == nil || status != http.StatusTooManyRequests {
			t.Fatalf("5th socket from one address: status %d, err %v; want 429", status, err)
		}
		// ... while another address still connects (to other swarms).
		mustDial(t, "honest", "127.0.0.12").Announce(trackerclient.RandomID(), nil)
	})

	t.Run("the tracker takes a bounded number of connections", func(t *testing.T) {
		idle(t)
		for i := range l.conns {
			mustDial(t, fmt.Sprintf("c%d", i), fmt.Sprintf("127.0.0.%d", 21+i/l.connsPerIP)).Announce(trackerclient.RandomID(), nil)
		}
		if _, status, err := dialFrom(t, url, "over", "127.0.0.29"); err == nil || status != http.StatusServiceUnavailable {
			t.Fatalf("connection %d: status %d, err %v; want 503", l.conns+1, status, err)
		}
	})

	t.Run("a connection sends a bounded number of messages", func(t *testing.T) {
		idle(t)
		c := mustDial(t, "c", "127.0.0.31")
		hash := trackerclient.RandomID()
		for range l.burst {
			c.Announce(hash, nil)
		}
		c.Send(wire.NewOfferAnnounce(hash, c.ID, nil))
		c.ExpectFailure(rules.Reasons["rateLimited"], "", "")
		// Other connections have buckets of their own.
		mustDial(t, "other", "127.0.0.32").Announce(hash, nil)
	})

	t.Run("silent members make room in a full swarm", func(t *testing.T) {
		idle(t)
		hash := trackerclient.RandomID()
		x, y, z := mustDial(t, "x", "127.0.0.41"), mustDial(t, "y", "127.0.0.42"), mustDial(t, "z", "127.0.0.43")
		for _, c := range []*client{x, y, z} {
			c.Announce(hash, nil)
		}
		honest := mustDial(t, "honest", "127.0.0.44")
		honest.Send(wire.NewOfferAnnounce(hash, honest.ID, nil))
		honest.ExpectFailure(rules.Reasons["swarmFull"], "announce", hash)
		// x keeps announcing; y and z stay silent past the idle timeout.
		deadline := time.Now().Add(l.idle + 500*time.Millisecond)
		for time.Now().Before(deadline) {
			time.Sleep(l.idle / 4)
			x.Announce(hash, nil)
		}
		if r := honest.Announce(hash, nil); r.Incomplete != 2 {
			t.Fatalf("reply %+v, want 2 incomplete: x and the newcomer", r)
		}
	})
}
