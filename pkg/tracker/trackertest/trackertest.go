//go:build !js

package trackertest

import (
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/tracker"
)

// Tracker is a tracker listening on 127.0.0.1.
type Tracker struct {
	t    testing.TB
	mu   sync.Mutex
	addr string
	srv  *http.Server
	trk  *tracker.Server
}

// Start starts a tracker on a free loopback port; it stops when the test ends.
func Start(t testing.TB) *Tracker {
	t.Helper()
	tr := &Tracker{t: t}
	tr.listen("127.0.0.1:0")
	t.Cleanup(tr.Stop)
	return tr
}

func (tr *Tracker) listen(addr string) {
	tr.t.Helper()
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if ln, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		tr.t.Fatalf("failed to listen for the tracker on %s: %v", addr, err)
	}
	cfg := tracker.DefaultConfig()
	cfg.Logger = slog.New(slog.DiscardHandler)
	// Every test client connects from 127.0.0.1: the per-address cap would
	// count a whole test's peers as one client. The other caps keep their
	// defaults, so tests run against what cmd/tracker enforces.
	cfg.MaxConnsPerIP = -1
	trk := tracker.New(cfg)
	srv := &http.Server{Handler: trk, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	tr.mu.Lock()
	tr.addr, tr.srv, tr.trk = ln.Addr().String(), srv, trk
	tr.mu.Unlock()
}

// URL is the tracker's ws:// URL.
func (tr *Tracker) URL() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return "ws://" + tr.addr + "/announce"
}

// Stop kills the tracker and every connection to it. Stopping twice is fine.
func (tr *Tracker) Stop() {
	tr.mu.Lock()
	srv, trk := tr.srv, tr.trk
	tr.srv, tr.trk = nil, nil
	tr.mu.Unlock()
	if srv == nil {
		return
	}
	trk.Close()
	_ = srv.Close()
}

// Restart starts a fresh tracker on the same port after Stop.
func (tr *Tracker) Restart() {
	tr.t.Helper()
	tr.Stop()
	tr.mu.Lock()
	addr := tr.addr
	tr.mu.Unlock()
	tr.listen(addr)
}

// Stats returns the running tracker's counters (zero while stopped).
func (tr *Tracker) Stats() tracker.Stats {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.trk == nil {
		return tracker.Stats{}
	}
	return tr.trk.Stats()
}
