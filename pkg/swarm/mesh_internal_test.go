package swarm

// Tests without the network, run natively and under js/wasm.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

func TestChoosePrune(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	cand := func(name string, rtt time.Duration, age int, violations uint64) meshCandidate {
		return meshCandidate{p: &Peer{id: name}, rtt: rtt, activeAt: t0.Add(time.Duration(age) * time.Second), violations: violations}
	}
	tests := []struct {
		name     string
		cands    []meshCandidate
		keep     int
		mustKeep []string // kept whatever the random part draws
		mustDrop []string
	}{
		{"at most keep: nothing pruned", []meshCandidate{cand("a", 0, 0, 0), cand("b", 0, 1, 0)}, 2, []string{"a", "b"}, nil},
		{"lowest RTT kept", []meshCandidate{
			cand("fast1", 10*time.Millisecond, 5, 0), cand("fast2", 20*time.Millisecond, 6, 0),
			cand("s1", 300*time.Millisecond, 0, 0), cand("s2", 400*time.Millisecond, 1, 0),
			cand("s3", 500*time.Millisecond, 2, 0), cand("s4", 600*time.Millisecond, 3, 0),
		}, 4, []string{"fast1", "fast2"}, nil},
		{"unmeasured RTT: the oldest kept", []meshCandidate{
			cand("new", 0, 9, 0), cand("old", 0, 0, 0), cand("mid", 0, 5, 0), cand("newer", 0, 10, 0),
		}, 2, []string{"old"}, nil},
		{"struck peers go first", []meshCandidate{
			cand("bad", time.Millisecond, 0, 3), cand("a", 100*time.Millisecond, 1, 0), cand("b", 200*time.Millisecond, 2, 0),
			cand("c", 300*time.Millisecond, 3, 0), cand("d", 400*time.Millisecond, 4, 0),
		}, 4, []string{"a", "b", "c", "d"}, []string{"bad"}},
		{"struck peers kept when too few clean", []meshCandidate{
			cand("bad1", 0, 0, 1), cand("bad5", 0, 0, 5), cand("a", 0, 1, 0),
		}, 2, []string{"a", "bad1"}, []string{"bad5"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range uint64(20) {
				cands := append([]meshCandidate(nil), tc.cands...)
				pruned := choosePrune(cands, tc.keep, rand.New(rand.NewPCG(seed, 1)))
				if want := max(0, len(tc.cands)-tc.keep); len(pruned) != want {
					t.Fatalf("seed %d: pruned %d, want %d", seed, len(pruned), want)
				}
				gone := map[string]bool{}
				for _, c := range pruned {
					gone[c.p.id] = true
				}
				for _, id := range tc.mustKeep {
					if gone[id] {
						t.Errorf("seed %d: %s pruned, want it kept", seed, id)
					}
				}
				for _, id := range tc.mustDrop {
					if !gone[id] {
						t.Errorf("seed %d: %s kept, want it pruned", seed, id)
					}
				}
			}
		})
	}
}

func TestChoosePruneRandomPart(t *testing.T) {
	// Of 12 equal peers (no RTT, same age), keep 6: 3 by age, 3 at random;
	// over many draws every peer past the first 3 is kept sometimes.
	t0 := time.Unix(1_700_000_000, 0)
	var cands []meshCandidate
	for i := range 12 {
		cands = append(cands, meshCandidate{p: &Peer{id: string(rune('a' + i))}, activeAt: t0.Add(time.Duration(i) * time.Second)})
	}
	kept := map[string]int{}
	rng := rand.New(rand.NewPCG(7, 7))
	for range 200 {
		gone := map[string]bool{}
		for _, c := range choosePrune(append([]meshCandidate(nil), cands...), 6, rng) {
			gone[c.p.id] = true
		}
		for _, c := range cands {
			if !gone[c.p.id] {
				kept[c.p.id]++
			}
		}
	}
	for _, c := range cands {
		if kept[c.p.id] == 0 {
			t.Errorf("%s never kept: the random part is not random", c.p.id)
		}
	}
	for _, id := range []string{"a", "b", "c"} {
		if kept[id] != 200 {
			t.Errorf("%s kept %d of 200 times, want always (the oldest, by age)", id, kept[id])
		}
	}
}

func TestMeshConfig(t *testing.T) {
	tests := []struct {
		name              string
		cfg               Config
		low, degree, high int
		err               bool
	}{
		{"defaults", Config{Room: "r"}, 4, 6, 12, false},
		{"small MaxPeers shrinks the defaults", Config{Room: "r", MaxPeers: 3}, 3, 3, 3, false},
		{"degree raises high", Config{Room: "r", MeshDegree: 14}, 4, 14, 14, false},
		{"low raises the degree", Config{Room: "r", DormantAfterPeers: 8}, 8, 8, 12, false},
		{"full mesh", Config{Room: "r", MeshHigh: -1}, 4, 6, -1, false},
		{"high above MaxPeers", Config{Room: "r", MaxPeers: 8, MeshHigh: 9}, 0, 0, 0, true},
		{"degree above high", Config{Room: "r", MeshHigh: 5, MeshDegree: 6}, 0, 0, 0, true},
		{"low above degree", Config{Room: "r", MeshDegree: 5, DormantAfterPeers: 6}, 0, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.cfg.withDefaults()
			if tc.err {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("error = %v, want ErrInvalidConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.DormantAfterPeers != tc.low || c.MeshDegree != tc.degree || c.MeshHigh != tc.high {
				t.Errorf("low/degree/high = %d/%d/%d, want %d/%d/%d", c.DormantAfterPeers, c.MeshDegree, c.MeshHigh, tc.low, tc.degree, tc.high)
			}
		})
	}
}

// TestVouchTimeout: with DormantNeedsVouch an active peer the application
// never vouches for (a plain Trystero peer never sends the peerset hello) is
// closed after VouchTimeout; a vouched one and a young one are not.
func TestVouchTimeout(t *testing.T) {
	r := testRoom(t, Config{DormantNeedsVouch: true, VouchTimeout: time.Minute})
	mk := func(name string, age time.Duration, vouched bool) *Peer {
		p := newPeer(r, name+"0123456789012345678", false)
		p.state.Store(int32(PeerActive))
		p.activeAt = time.Now().Add(-age)
		p.vouched.Store(vouched)
		r.mu.Lock()
		r.peers[p.id] = p
		r.mu.Unlock()
		return p
	}
	old, young, trusted := mk("o", 2*time.Minute, false), mk("y", 10*time.Second, false), mk("t", time.Hour, true)
	r.pruneMesh()
	select {
	case req := <-old.closeReq:
		if !errors.Is(req.reason, ErrNotVouched) {
			t.Errorf("closed with %v, want ErrNotVouched", req.reason)
		}
	default:
		t.Error("a peer unvouched for 2 min (VouchTimeout 1 min) was kept")
	}
	for _, p := range []*Peer{young, trusted} {
		select {
		case req := <-p.closeReq:
			t.Errorf("peer %s closed (%v)", p.id, req.reason)
		default:
		}
	}
	r.mu.Lock()
	clear(r.peers)
	r.mu.Unlock()
}

// TestBanListIsBounded: the ids a room remembers as banned stay within
// maxBanned; ended bans go first, then the ban that ends soonest, and a ban
// still running for an id that stays is kept.
func TestBanListIsBounded(t *testing.T) {
	r := &Room{banned: make(map[string]time.Time), peers: make(map[string]*Peer)}
	r.Ban("long", time.Hour)
	r.Ban("ended", -time.Second)
	for i := range maxBanned + 100 {
		r.Ban(fmt.Sprintf("id%d", i), time.Minute+time.Duration(i)*time.Millisecond)
	}
	if n := len(r.banned); n > maxBanned {
		t.Fatalf("%d banned ids remembered, bound %d", n, maxBanned)
	}
	if !r.isBanned("long") {
		t.Error("the longest ban was forgotten before shorter ones")
	}
	if _, ok := r.banned["ended"]; ok {
		t.Error("an ended ban was kept while the list was full")
	}
	if r.isBanned("id0") {
		t.Error("the ban ending soonest was kept while the list was full")
	}
	if !r.isBanned(fmt.Sprintf("id%d", maxBanned+99)) {
		t.Error("the newest ban was dropped")
	}
}
