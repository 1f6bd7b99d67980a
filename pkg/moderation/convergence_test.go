package moderation

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/record"
)

// TestPolicyConvergesWhateverTheOrder is the attack of an author with several
// devices (or a malicious author who gives different records to different
// peers): peers receive different subsets of one author's records, versions,
// duplicates and deletions, each in its own order, and then exchange what
// they hold until nothing changes. Under one Policy they must end with one
// set. Times fall within a few seconds so that ties (broken by id) are common.
func TestPolicyConvergesWhateverTheOrder(t *testing.T) {
	authors := []*author{newAuthor(t), newAuthor(t), newAuthor(t)}
	policies := []Policy{
		{Duplicates: true, AuthorQuota: 3, DeletionQuota: 2},
		{AuthorQuota: 1},
		{Duplicates: true},
		{DeletionQuota: 1},
		{},
	}
	for seed := range uint64(120) {
		rng := rand.New(rand.NewPCG(seed, 7))
		events := randomHistory(t, rng, authors)
		for _, policy := range policies {
			peers := make([]*MemoryIndex, 3)
			for i := range peers {
				peers[i] = NewMemoryIndex(policy)
				for _, e := range shuffled(rng, events) {
					if rng.IntN(10) < 6 {
						peers[i].Add(e)
					}
				}
			}
			passes := syncToFixpoint(rng, peers, events)
			want := heldIDs(peers[0])
			for i, p := range peers[1:] {
				if got := heldIDs(p); !slices.Equal(got, want) {
					t.Fatalf("seed %d, policy %+v: peer %d holds %d events, peer 0 holds %d, after %d passes",
						seed, policy, i+1, len(got), len(want), passes)
				}
			}
			checkPolicyHolds(t, peers[0], policy)
		}
	}
}

// TestQuotaIgnoresArrivalOrder: a peer that receives the same records
// (versions and quota losers, no deletions or duplicate content) in any
// order holds the same set, without any sync. With deletions or duplicates
// an evicted record is forgotten, and a later change can make it a winner
// again: then it comes back from any peer that still holds it, which is
// what TestPolicyConvergesWhateverTheOrder checks.
func TestQuotaIgnoresArrivalOrder(t *testing.T) {
	authors := []*author{newAuthor(t), newAuthor(t)}
	policy := Policy{AuthorQuota: 3}
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 11))
		var records []*record.Event
		for _, e := range randomHistory(t, rng, authors) {
			if e.Kind == record.KindRecord {
				records = append(records, e)
			}
		}
		var want [][32]byte
		for i := range 4 {
			m := NewMemoryIndex(policy)
			for _, e := range shuffled(rng, records) {
				m.Add(e)
			}
			if got := heldIDs(m); i == 0 {
				want = got
			} else if !slices.Equal(got, want) {
				t.Fatalf("seed %d: order %d holds %d events, order 0 holds %d", seed, i, len(got), len(want))
			}
		}
	}
}

// randomHistory makes records (several versions per UUID, texts drawn from a
// small vocabulary so that duplicates happen) and deletions (of held UUIDs
// and of UUIDs that never existed), all within 12 seconds.
func randomHistory(t *testing.T, rng *rand.Rand, authors []*author) []*record.Event {
	t.Helper()
	words := []string{"alpha", "beta", "gamma", "delta", "Alpha", "BETA  "}
	var out []*record.Event
	for _, a := range authors {
		for u := range 6 {
			uuid := fmt.Sprintf("3f2b8c1e-9d4a-4b6f-8e2a-1c0d9e8f7a%02d", u)
			for range 1 + rng.IntN(3) {
				at := testNow.Add(time.Duration(rng.IntN(12)) * time.Second)
				out = append(out, a.record(record.Draft{UUID: uuid, Text: words[rng.IntN(len(words))], CreatedAt: at}))
			}
			if rng.IntN(3) == 0 {
				out = append(out, a.deletion(uuid, testNow.Add(time.Duration(rng.IntN(12))*time.Second)))
			}
		}
		for d := range rng.IntN(3) {
			out = append(out, a.deletion(fmt.Sprintf("3f2b8c1e-9d4a-4b6f-8e2a-1c0d9e8f7b%02d", d), testNow.Add(time.Duration(rng.IntN(12))*time.Second)))
		}
	}
	return out
}

func shuffled(rng *rand.Rand, events []*record.Event) []*record.Event {
	out := slices.Clone(events)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// syncToFixpoint offers every peer what another holds and it lacks, in random
// order, until a whole pass changes nothing. It returns the number of passes.
func syncToFixpoint(rng *rand.Rand, peers []*MemoryIndex, events []*record.Event) int {
	byID := map[[32]byte]*record.Event{}
	for _, e := range events {
		byID[e.ID] = e
	}
	for pass := 1; pass <= 100; pass++ {
		changed := false
		for i, to := range peers {
			for j, from := range peers {
				if i == j {
					continue
				}
				var missing []*record.Event
				from.Each(func(s record.Summary) bool {
					if !to.Has(s.ID) {
						missing = append(missing, byID[s.ID])
					}
					return true
				})
				for _, e := range shuffled(rng, missing) {
					if _, err := to.Add(e); err == nil {
						changed = true
					}
				}
			}
		}
		if !changed {
			return pass
		}
	}
	return -1
}

func heldIDs(m *MemoryIndex) [][32]byte {
	var ids [][32]byte
	m.Each(func(s record.Summary) bool { ids = append(ids, s.ID); return true })
	slices.SortFunc(ids, func(a, b [32]byte) int { return slices.Compare(a[:], b[:]) })
	return ids
}

// checkPolicyHolds checks the invariants of a held set: quotas, one live
// version per address, no duplicate content per author.
func checkPolicyHolds(t *testing.T, m *MemoryIndex, p Policy) {
	t.Helper()
	type contentSlot struct {
		author  record.PublicKey
		content [16]byte
	}
	live := map[record.PublicKey]int{}
	dels := map[record.PublicKey]int{}
	content := map[contentSlot]bool{}
	m.Each(func(s record.Summary) bool {
		if s.Kind == record.KindDeletion {
			dels[s.PubKey]++
			return true
		}
		live[s.PubKey]++
		if s.HasContent && p.Duplicates {
			slot := contentSlot{s.PubKey, s.Content}
			if content[slot] {
				t.Errorf("an author holds two live records with the same content")
			}
			content[slot] = true
		}
		return true
	})
	for pk, n := range live {
		if p.AuthorQuota > 0 && n > p.AuthorQuota {
			t.Errorf("author %s holds %d live records, quota %d", shortID([32]byte(pk)), n, p.AuthorQuota)
		}
	}
	for pk, n := range dels {
		if p.DeletionQuota > 0 && n > p.DeletionQuota {
			t.Errorf("author %s holds %d deletions, quota %d", shortID([32]byte(pk)), n, p.DeletionQuota)
		}
	}
}
