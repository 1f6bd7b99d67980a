package peerset

import (
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/swarm/session"
)

func TestSyncTrackerProgress(t *testing.T) {
	var st syncTracker
	now := time.Unix(1700000000, 0)
	s := session.SessionInfo{PeerID: "a", State: session.StateIdle, RecordsStored: 10, RecordsOut: 3, RemoteCount: 10}
	p := st.update([]session.SessionInfo{s}, 10, now)
	if !p.Done || p.Progress != 1 || p.Peers != 1 || p.RecordsIn != 10 {
		t.Errorf("idle: %+v", p)
	}
	if again := st.update([]session.SessionInfo{s}, 10, now); again != p {
		t.Errorf("the same snapshot again: %+v, then %+v", p, again)
	}

	// We ask for what we lack: pending ids give the total.
	s.State, s.Pending, s.WantsInFlight = session.StateSyncing, 60, 40
	if p = st.update([]session.SessionInfo{s}, 10, now); p.Done || p.Total != 100 || p.Received != 0 || p.Progress != 0 {
		t.Errorf("catch-up start: %+v", p)
	}
	now = now.Add(time.Second)
	s.RecordsStored, s.Pending, s.WantsInFlight = 35, 50, 25
	if p = st.update([]session.SessionInfo{s}, 35, now); p.Received != 25 || p.Total != 100 || p.Progress != 0.25 {
		t.Errorf("catch-up a quarter through: %+v", p)
	}
	now = now.Add(time.Second)
	s.State, s.RecordsStored, s.Pending, s.WantsInFlight = session.StateIdle, 110, 0, 0
	if p = st.update([]session.SessionInfo{s}, 110, now); p.Done || p.Received != 100 {
		t.Errorf("records arrived just now, the catch-up is not over yet: %+v", p)
	}
	now = now.Add(2 * syncQuiet)
	if p = st.update([]session.SessionInfo{s}, 110, now); !p.Done || p.Progress != 1 {
		t.Errorf("catch-up done once records stopped: %+v", p)
	}

	// The peer pushes what we lack: nothing is pending here, the peer's
	// announced count gives the total.
	s.RemoteCount = 1110
	now = now.Add(time.Second)
	s.RecordsStored = 310
	p = st.update([]session.SessionInfo{s}, 310, now)
	if p.Done || p.Received != 200 || p.Total != 1000 || p.Progress != 0.2 {
		t.Errorf("pushed catch-up: %+v", p)
	}
}
