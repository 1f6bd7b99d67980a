package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
)

// The attacks of the security review (docs/protocol.md, "Limits and
// budgets"), each reproduced against a Manager over in-memory links.

// pipelineFor builds the preset's pipeline for testRoom.
func pipelineFor(t testing.TB, cfg moderation.Config) *moderation.Pipeline {
	t.Helper()
	cfg.RoomID = testRoom
	p, err := moderation.NewPipeline(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// withPipeline gives n a fresh replica that admits what p accepts.
func withPipeline(n *node, p *moderation.Pipeline) *node {
	n.replica = NewMemoryReplica(p)
	n.m.replica = n.replica
	return n
}

// initiatorRaw returns a raw peer whose nonce makes the node the initiator.
func initiatorRaw(t *testing.T) *rawPeer {
	r := newRawPeer(t, testRoom)
	for i := range r.nonce {
		r.nonce[i] = 0xff
	}
	return r
}

// TestEndlessReconciliationIsCutAndStruck (H1): a responder answers every
// round with "nothing of mine up to the far future, and a random fingerprint
// after", which reports the whole set again every round and never ends. The
// reconciliation is abandoned after a bounded number of rounds, the peer is
// struck and its session ended, and the missing ranges stay bounded.
func TestEndlessReconciliationIsCutAndStruck(t *testing.T) {
	n := newNode(t, "victim", quickConfig())
	seed(t, n, pooledRecords(t, 2000))
	r := initiatorRaw(t)
	link, err := r.dial(t, n, "staller")
	if err != nil {
		t.Fatal(err)
	}
	r.handshake(t, link)
	send(t, link, ActionRoot, encodeRoot(rootMsg{Count: 1}))
	stallReply := func(sid uint32) []byte {
		var fp merkle.Fingerprint
		_, _ = rand.Read(fp[:])
		msg := merkle.Message{Ranges: []merkle.Range{
			{Upper: merkle.TimeBound(1 << 40), Mode: merkle.ModeIDList},
			{Upper: merkle.MaxBound, Mode: merkle.ModeFingerprint, Fingerprint: fp},
		}}.Encode()
		return encodeNeg(negMsg{SID: sid, Msg: msg})
	}
	key := moderation.KeySubject(r.key.Public())
	answered := 0
	deadline := time.Now().Add(waitTimeout)
	for len(n.m.Ledger().Strikes(key)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no strike after %d stalled rounds", answered)
		}
		select {
		case ev := <-r.in:
			if ev.detach != nil {
				t.Fatalf("detached: %v", ev.detach)
			}
			if ev.action != ActionNeg {
				continue
			}
			neg, err := decodeNeg(ev.payload, DefaultFrameSizeLimit)
			if err != nil {
				t.Fatal(err)
			}
			send(t, link, ActionNegReply, stallReply(neg.SID))
			answered++
		case <-time.After(20 * time.Millisecond):
		}
	}
	info := waitClosed(t, n, "staller")
	if !errors.Is(info.CloseReason, ErrProtocolViolation) {
		t.Errorf("close reason %v, want a protocol violation", info.CloseReason)
	}
	reason := n.m.Ledger().Strikes(key)[0].Reason
	t.Logf("struck after %d stalled rounds: %s; %d missing ranges", answered, reason, len(info.MissingRanges))
	if answered > maxIdleRounds+1 {
		t.Errorf("%d rounds before the strike, want at most %d", answered, maxIdleRounds+1)
	}
	if !strings.Contains(reason, "nothing new") {
		t.Errorf("strike reason %q", reason)
	}
	if info.Reconciliations != 1 || len(info.MissingRanges) > 4096 {
		t.Errorf("%d reconciliations, %d missing ranges", info.Reconciliations, len(info.MissingRanges))
	}
}

// TestForgedRefusalsCannotCensorSync (H2a): a peer sends unsigned copies of
// real records with created_at 1, so that they are refused as expired and
// their real ids enter the refusal memory. They are struck as forgeries
// instead, nothing enters the memory, and the victim still fetches every
// record from an honest peer.
func TestForgedRefusalsCannotCensorSync(t *testing.T) {
	pool := pooledRecords(t, 40)
	victim := newNode(t, "victim", quickConfig())
	honest := newNode(t, "honest", quickConfig())
	seed(t, honest, pool)

	r := initiatorRaw(t)
	link, err := r.dial(t, victim, "poisoner")
	if err != nil {
		t.Fatal(err)
	}
	r.handshake(t, link)
	var forged [][]byte
	for _, e := range pool {
		c := *e
		c.CreatedAt = 1
		c.Sig = [64]byte{} // unsigned; the id still claims the real record
		forged = append(forged, c.AppendJSON(nil))
	}
	send(t, link, ActionRecords, appendRecords(nil, forged, nil))
	key := moderation.KeySubject(r.key.Public())
	waitFor(t, "a strike for the forged copies", func() bool { return len(victim.m.Ledger().Strikes(key)) > 0 })
	if got := victim.m.refused.len(); got != 0 {
		t.Fatalf("%d forged ids entered the refusal memory", got)
	}
	connect(t, victim, honest, 0)
	waitConverged(t, len(pool), victim, honest)
}

// TestRefusalMemoryIsBoundedFIFO (H2b): past its capacity the refusal memory
// forgets exactly its oldest entries, one per new refusal: no scan, and its
// ring grows only up to the capacity. (BenchmarkRefusalMemoryPut measures the
// cost per refusal.)
func TestRefusalMemoryIsBoundedFIFO(t *testing.T) {
	const capacity = 1000
	idOf := func(i int) (id [32]byte) {
		id[0], id[1], id[2] = byte(i), byte(i>>8), byte(i>>16)
		return id
	}
	m := newRefusalMemory(capacity)
	until := time.Now().Add(time.Minute)
	const n = 10*capacity + 37
	for i := range n {
		m.put(idOf(i), refusal{until: until})
		if m.len() > capacity || len(m.order) != min(i+1, capacity) {
			t.Fatalf("after %d refusals: %d entries, ring of %d, cap %d", i+1, m.len(), len(m.order), capacity)
		}
	}
	for i := range n {
		_, held := m.get(idOf(i))
		if want := i >= n-capacity; held != want {
			t.Fatalf("refusal %d of %d: held %v, want %v (only the newest %d are kept)", i, n, held, want, capacity)
		}
	}
	// Refreshing a held id neither grows the memory nor evicts another.
	m.put(idOf(n-1), refusal{until: until.Add(time.Hour)})
	if _, ok := m.get(idOf(n - capacity)); !ok || m.len() != capacity {
		t.Fatalf("a refresh evicted an entry (%d held)", m.len())
	}
}

func BenchmarkRefusalMemoryPut(b *testing.B) {
	m := newRefusalMemory(maxRefusedIDs)
	until := time.Now().Add(time.Minute)
	var id [32]byte
	for i := 0; b.Loop(); i++ {
		id[0], id[1], id[2], id[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
		m.put(id, refusal{until: until})
	}
}

// TestStatefulRefusalForgottenWhenTheAuthorChanges: a refusal that depended on
// the author's stored records (a quota loser) is remembered only until the
// author's records change, so that it can be fetched again when it wins.
func TestStatefulRefusalForgottenWhenTheAuthorChanges(t *testing.T) {
	n := withPipeline(newNode(t, "node", quickConfig()), pipelineFor(t, moderation.PresetStandard()))
	key, _ := record.GenerateKey()
	base := time.Now().Add(-time.Hour)
	var held []*record.Event
	for i := range moderation.DefaultAuthorQuota {
		e, _ := record.New(record.Draft{Text: fmt.Sprintf("newer %d", i), CreatedAt: base.Add(time.Duration(i+1) * time.Minute)}, key, testRoom, record.Limits{})
		held = append(held, e)
		if v := n.replica.Add(e); !v.Stored {
			t.Fatal(v.Err)
		}
	}
	loser, _ := record.New(record.Draft{Text: "older", CreatedAt: base}, key, testRoom, record.Limits{})
	v := n.replica.Add(loser)
	rej, ok := moderation.AsRejection(v.Err)
	if !ok || rej.Rule != moderation.RuleAuthorQuota || !rej.Verified || !rej.DependsOnSet {
		t.Fatalf("quota loser: %+v", v)
	}
	now := time.Now()
	n.m.rememberRefused(loser, rej.DependsOnSet, now)
	if !n.m.wasRefused(loser.ID, now) {
		t.Fatal("the refusal was not remembered")
	}
	del, _ := record.NewDeletion(key, testRoom, held[0].TagValue(record.TagUUID), time.Now())
	if v := n.replica.Add(del); !v.Stored {
		t.Fatal(v.Err)
	}
	if n.m.wasRefused(loser.ID, now) {
		t.Fatal("the refusal outlived the author's deletion")
	}
	if v := n.replica.Add(loser); !v.Stored {
		t.Fatalf("the former loser, now within the quota: %v", v.Err)
	}
}

// TestOneAuthorOnThreeDevicesConverges: one author writes 5 records on each of
// three devices while apart (or gives different records to different peers);
// under the standard preset (5 live records per author) the three converge to
// one root holding the author's 5 newest, instead of each keeping its own 5
// and reconciling forever.
func TestOneAuthorOnThreeDevicesConverges(t *testing.T) {
	key, _ := record.GenerateKey()
	base := time.Now().Add(-time.Hour)
	nodes := make([]*node, 3)
	var all []*record.Event
	for d := range nodes {
		nodes[d] = withPipeline(newNode(t, fmt.Sprintf("device%d", d), quickConfig()), pipelineFor(t, moderation.PresetStandard()))
		for i := range 5 {
			e, err := record.New(record.Draft{Text: fmt.Sprintf("note %d from device %d", i, d), CreatedAt: base.Add(time.Duration(i*3+d) * time.Minute)}, key, testRoom, record.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if v := nodes[d].replica.Add(e); !v.Stored {
				t.Fatal(v.Err)
			}
			all = append(all, e)
		}
	}
	connect(t, nodes[0], nodes[1], time.Millisecond)
	connect(t, nodes[1], nodes[2], time.Millisecond)
	connect(t, nodes[0], nodes[2], time.Millisecond)
	waitConverged(t, 5, nodes...)
	newest := map[[32]byte]bool{}
	for _, e := range all {
		if e.CreatedAt >= base.Add(10*time.Minute).Unix() { // i*3+d >= 10: the 5 newest
			newest[e.ID] = true
		}
	}
	for _, nd := range nodes {
		for id := range newest {
			if !nd.replica.Has(id) {
				t.Fatalf("%s lacks one of the author's 5 newest records", nd.name)
			}
		}
		for _, info := range nd.m.Sessions() {
			if info.RulesDiffer || info.Strikes != 0 {
				t.Errorf("%s: session with %s: %+v", nd.name, info.PeerID, info)
			}
		}
	}
}

// TestStorageFloodIsBounded (H4): one peer pushes 10,000 deletions for random
// UUIDs under one key and 10,000 records under 10,000 keys. The deletion
// quota bounds what one key keeps, and the session's ingest budget bounds
// what the peer adds in all; the rest waits and is never stored unasked.
func TestStorageFloodIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := quickConfig()
		cfg.IngestBurst, cfg.IngestRate = 500, 1
		cfg.FloodRate, cfg.FloodBurst = 1e6, 1<<20
		n := withPipeline(newNode(t, "victim", cfg), pipelineFor(t, moderation.PresetStandard()))
		r := newRawPeer(t, testRoom)
		link, err := r.dial(t, n, "flooder")
		if err != nil {
			t.Fatal(err)
		}
		r.handshake(t, link)
		key, _ := record.GenerateKey()
		now := time.Now()
		var deletions, records [][]byte
		for i := range 10000 {
			uuid, _ := record.NewUUID()
			d, _ := record.NewDeletion(key, testRoom, uuid, now.Add(-time.Duration(i)*time.Second))
			deletions = append(deletions, d.AppendJSON(nil))
		}
		for i := range 10000 {
			k, _ := record.GenerateKey()
			e, _ := record.New(record.Draft{Text: fmt.Sprintf("spam %d", i), CreatedAt: now.Add(-time.Duration(i) * time.Second)}, k, testRoom, record.Limits{})
			records = append(records, e.AppendJSON(nil))
		}
		start := time.Now()
		sent := 0
		for _, batch := range [][][]byte{deletions, records} {
			for i := 0; i < len(batch); i += DefaultMaxBatchRecords {
				send(t, link, ActionRecords, appendRecords(nil, batch[i:min(i+DefaultMaxBatchRecords, len(batch))], nil))
				// Keep within the inbox (a faster flood is refused as such).
				if sent += DefaultMaxBatchRecords; sent%(20*DefaultMaxBatchRecords) == 0 {
					waitFor(t, "the flood to be handled", func() bool {
						info, ok := n.m.Session("flooder")
						if !ok {
							t.Fatal("the flooder's session closed")
						}
						return info.RecordsIn == sent
					})
				}
			}
		}
		elapsed := time.Since(start)
		_, held := n.replica.Root()
		deletionsHeld := n.replica.index.DeletionCount(key.Public())
		info, _ := n.m.Session("flooder")
		t.Logf("held %d events (%d deletions of one key) of 20,000 in %v; %d throttled", held, deletionsHeld, elapsed, info.RecordsThrottled)
		if deletionsHeld > moderation.DefaultDeletionQuota {
			t.Errorf("one key holds %d deletions, over the quota of %d", deletionsHeld, moderation.DefaultDeletionQuota)
		}
		if budget := cfg.IngestBurst + DefaultMaxBatchRecords + int(elapsed.Seconds()+1)*int(cfg.IngestRate); held > budget {
			t.Errorf("held %d events, over the ingest budget of about %d", held, budget)
		}
		if info.RecordsThrottled == 0 {
			t.Error("nothing was throttled")
		}
	})
}

// blockingReplica is a MemoryReplica whose Offer waits until release is closed:
// a replica slower than the peer (signature checks in wasm).
type blockingReplica struct {
	*MemoryReplica
	release chan struct{}
}

func (b blockingReplica) Offer(ctx context.Context, from PeerInfo, events []*record.Event) []Verdict {
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return b.MemoryReplica.Offer(ctx, from, events)
}

// TestSlowReplicaBoundsQueuedBytes (M2): while the replica is slow, a peer
// sends 1,024 records messages of 500 KiB. The queued bytes stay within
// InboxBytes; past it messages are refused as a flood.
func TestSlowReplicaBoundsQueuedBytes(t *testing.T) {
	cfg := quickConfig()
	cfg.FloodRate, cfg.FloodBurst = 1e6, 1<<20
	cfg.LedgerConfig = moderation.LedgerConfig{Threshold: 1 << 20}
	n := newNode(t, "victim", cfg)
	slow := blockingReplica{MemoryReplica: n.replica, release: make(chan struct{})}
	n.m.replica = slow
	defer close(slow.release)
	r := newRawPeer(t, testRoom)
	link, err := r.dial(t, n, "pusher")
	if err != nil {
		t.Fatal(err)
	}
	r.handshake(t, link)
	s := n.m.session("pusher")
	filler := strings.Repeat("x", 500<<10)
	payload := []byte(`{"events":[],"missing":"` + filler + `"}`)
	valid := appendRecords(nil, [][]byte{pooledRecords(t, 1)[0].AppendJSON(nil)}, nil)
	if err := n.m.Deliver(s.link, ActionRecords, valid); err != nil { // the session blocks in Offer on this one
		t.Fatal(err)
	}
	var refused int
	for range 1024 {
		if err := n.m.Deliver(s.link, ActionRecords, payload); errors.Is(err, ErrFlood) {
			refused++
		}
	}
	s.mu.Lock()
	queued := s.inboxBytes
	s.mu.Unlock()
	t.Logf("queued %d bytes, refused %d of 1024 messages", queued, refused)
	if queued > DefaultInboxBytes {
		t.Errorf("queued %d bytes, over %d", queued, DefaultInboxBytes)
	}
	if refused < 1024-DefaultInboxBytes/len(payload)-1 {
		t.Errorf("only %d messages refused", refused)
	}
}

// TestRepeatedWantIsNotAnsweredAgain (M3): a peer asks for the same records
// 1,000 times. After the first answers they are reported missing, the peer is
// struck, and the bytes sent stay bounded.
func TestRepeatedWantIsNotAnsweredAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := quickConfig()
		cfg.FloodRate, cfg.FloodBurst = 1e6, 1<<20
		cfg.LedgerConfig = moderation.LedgerConfig{Threshold: 1 << 20}
		n := newNode(t, "victim", cfg)
		pool := bubbleRecords(t, 256)
		seed(t, n, pool)
		r := newRawPeer(t, testRoom)
		link, err := r.dial(t, n, "leech")
		if err != nil {
			t.Fatal(err)
		}
		r.handshake(t, link)
		ids := make([][32]byte, len(pool))
		var size int64
		for i, e := range pool {
			ids[i] = e.ID
			size += int64(len(e.AppendJSON(nil)))
		}
		back := n.m.session("leech").link.(*pipeLink)
		var answers atomic.Int64
		for range 1000 {
			send(t, link, ActionWant, encodeWant(wantMsg{IDs: ids}))
		}
		waitFor(t, "every want to be answered or deferred", func() bool {
			info, _ := n.m.Session("leech")
			answers.Store(back.sent(ActionRecords))
			return info.MessagesIn >= 1000+2 // the hello and the auth
		})
		time.Sleep(200 * time.Millisecond)
		sent := back.byActionBytes(ActionRecords)
		t.Logf("1000 wants of %d records (%d bytes): %d bytes of records sent", len(ids), size, sent)
		if limit := int64(maxResends)*size*2 + 1<<20; sent > limit {
			t.Errorf("sent %d bytes, over %d", sent, limit)
		}
		if s := n.m.Ledger().Strikes(moderation.KeySubject(r.key.Public())); len(s) == 0 {
			t.Error("the repeated wants earned no strike")
		}
	})
}

// TestNegAmplificationIsBudgeted (M3): 20-byte reconciliation messages that
// each ask for a full frame of ids get answers only within the upload budget.
func TestNegAmplificationIsBudgeted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := quickConfig()
		cfg.FloodRate, cfg.FloodBurst = 1e6, 1<<20
		cfg.UploadBurst, cfg.UploadRate = 1<<20, 64<<10
		n := newNode(t, "victim", cfg)
		seed(t, n, bubbleRecords(t, 2000))
		r := newRawPeer(t, testRoom)
		link, err := r.dial(t, n, "amplifier")
		if err != nil {
			t.Fatal(err)
		}
		r.handshake(t, link)
		ask := merkle.Message{Ranges: []merkle.Range{{Upper: merkle.MaxBound, Mode: merkle.ModeIDList}}}.Encode()
		start := time.Now()
		for i := range 2000 {
			send(t, link, ActionNeg, encodeNeg(negMsg{SID: uint32(i + 1), Msg: ask}))
		}
		waitFor(t, "the negs to arrive", func() bool {
			info, _ := n.m.Session("amplifier")
			return info.MessagesIn >= 2002
		})
		time.Sleep(300 * time.Millisecond)
		back := n.m.session("amplifier").link.(*pipeLink)
		sent := back.byActionBytes(ActionNegReply)
		elapsed := time.Since(start)
		limit := int64(cfg.UploadBurst) + int64(elapsed.Seconds()+1)*int64(cfg.UploadRate) + 2*int64(DefaultFrameSizeLimit)
		t.Logf("2000 negs of %d bytes: %d bytes of replies in %v (budget about %d)", len(ask), sent, elapsed, limit)
		if sent > limit {
			t.Errorf("sent %d bytes of replies, over the budget of %d", sent, limit)
		}
		// Asking on and on while the budget is spent is a flood.
		if s := n.m.Ledger().Strikes(moderation.KeySubject(r.key.Public())); len(s) == 0 {
			t.Error("the peer draining the upload budget earned no strike")
		}
	})
}

// TestRulesDifferBackOff: peers whose rules differ never reach equal roots.
// They say so (RulesDiffer) and reconcile less and less often instead of
// every IdleRootInterval. It runs on synctest's fake clock.
func TestRulesDifferBackOff(t *testing.T) {
	for _, digests := range []bool{true, false} {
		t.Run(fmt.Sprintf("digests=%v", digests), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := quickConfig()
				cfg.IdleRootInterval = 100 * time.Millisecond
				cfg.MaxSyncBackoff = time.Minute
				strict, open := cfg, cfg
				if digests {
					strict.RulesDigest, open.RulesDigest = "standard-rules", "open-rules"
				}
				a := withPipeline(newNode(t, "standard", strict), pipelineFor(t, moderation.PresetStandard()))
				b := newNode(t, "open", open)
				key, _ := record.GenerateKey()
				rude, _ := record.New(record.Draft{Text: "you are a shit"}, key, testRoom, record.Limits{})
				seed(t, b, append([]*record.Event{rude}, bubbleRecords(t, 20)...))
				connect(t, a, b, 0)
				waitFor(t, "the session to report that the rules differ", func() bool {
					info, ok := a.m.Session("open")
					return ok && info.RulesDiffer
				})
				time.Sleep(3 * time.Second)
				ia, _ := a.m.Session("open")
				ib, _ := b.m.Session("standard")
				runs := ia.Reconciliations + ib.Reconciliations
				t.Logf("reconciliations in about 3 s: %d (backoff %v)", runs, max(ia.SyncBackoff, ib.SyncBackoff))
				// Without backoff: one every IdleRootInterval, about 30 (each side
				// backs off on its own, so about 2 × log2(3 s / 100 ms) with it).
				if runs > 16 {
					t.Errorf("%d reconciliations", runs)
				}
				if _, count := a.replica.Root(); count != 20 {
					t.Errorf("the standard peer holds %d records, want the 20 it accepts", count)
				}
			})
		})
	}
}
