package peerset

import (
	"sync"
	"time"

	"github.com/peersetdb/peerset/pkg/swarm/session"
)

// SyncProgress is where this node stands with its peers: totals over the
// sessions, and the progress of the current catch-up (Received of Total so
// far). The JavaScript API's 'sync' event and `peerset join --json` carry it
// as is.
type SyncProgress struct {
	Peers      int     `json:"peers"`      // authenticated sessions
	RecordsIn  int     `json:"recordsIn"`  // stored from peers, over the open sessions
	RecordsOut int     `json:"recordsOut"` // sent to peers, over the open sessions
	Pending    int     `json:"pending"`    // ids known to be missing here, asked for or not yet
	Syncing    int     `json:"syncing"`    // sessions reconciling now
	Received   int     `json:"received"`   // stored during this catch-up
	Total      int     `json:"total"`      // Received plus what is still expected
	Progress   float64 `json:"progress"`   // Received / Total; 1 when done
	Done       bool    `json:"done"`       // no catch-up is running
}

// syncQuiet is how long records must stop arriving before a catch-up that
// the peer drives (it pushes what we lack, so nothing is pending here)
// counts as done.
const syncQuiet = 1500 * time.Millisecond

// SyncProgress reports the sync progress now. A catch-up runs while records
// are pending, a session is reconciling or records keep arriving (within
// 1.5 s); its total is what arrived so far plus the larger of what is
// pending and how far the fullest peer's announced count is ahead of ours.
// Call it periodically (the JavaScript engine does, every 250 ms, while a
// page listens to 'sync'): the catch-up is judged between calls.
func (db *DB) SyncProgress() SyncProgress {
	sessions := db.Sessions()
	records := db.Stats().Records
	db.progress.mu.Lock()
	defer db.progress.mu.Unlock()
	return db.progress.update(sessions, records, db.now())
}

// syncTracker turns session snapshots into sync progress.
type syncTracker struct {
	mu        sync.Mutex
	inCatchUp bool
	base      int // RecordsIn when the catch-up started
	lastIn    int
	lastMove  time.Time
	started   bool
}

func (t *syncTracker) update(sessions []session.SessionInfo, localRecords int, now time.Time) SyncProgress {
	var p SyncProgress
	maxRemote := 0
	for _, s := range sessions {
		if s.State.Authenticated() {
			p.Peers++
			maxRemote = max(maxRemote, s.RemoteCount)
		}
		p.RecordsIn += s.RecordsStored
		p.RecordsOut += s.RecordsOut
		p.Pending += s.Pending + s.WantsInFlight
		if s.State == session.StateSyncing {
			p.Syncing++
		}
	}
	prevIn := t.lastIn
	if !t.started {
		prevIn = p.RecordsIn // the first snapshot is the baseline
	}
	if p.RecordsIn < prevIn {
		prevIn, t.base = p.RecordsIn, min(t.base, p.RecordsIn) // closed sessions left the sum
	}
	if p.RecordsIn > prevIn {
		t.lastMove = now
	}
	t.lastIn = p.RecordsIn
	arriving := !t.lastMove.IsZero() && now.Sub(t.lastMove) < syncQuiet
	busy := p.Pending > 0 || p.Syncing > 0 || arriving
	if busy && !t.inCatchUp {
		t.inCatchUp, t.base = true, prevIn
	}
	p.Done = !busy
	if t.inCatchUp {
		p.Received = p.RecordsIn - t.base
		p.Total = p.Received + max(p.Pending, maxRemote-localRecords)
	}
	p.Progress = 1
	if p.Total > 0 && !p.Done {
		p.Progress = float64(p.Received) / float64(p.Total)
	}
	if p.Done {
		t.inCatchUp = false
	}
	t.started = true
	return p
}
