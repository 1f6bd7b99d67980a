package peerset

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
)

// forgeriesOf returns n copies of e whose content was changed after
// signing: each still claims e's id, which no longer matches its content.
func forgeriesOf(e *record.Event, n int) []*record.Event {
	out := make([]*record.Event, n)
	for i := range out {
		f := *e
		f.Content = fmt.Sprintf("forged %d", i)
		out[i] = &f
	}
	return out
}

// rejectLog collects what an OnReject subscriber receives; its first call
// blocks until release is closed, as a page that is busy would.
type rejectLog struct {
	mu      sync.Mutex
	got     []Rejection
	blocked chan struct{}
	release chan struct{}
	once    sync.Once
}

func newRejectLog() *rejectLog {
	return &rejectLog{blocked: make(chan struct{}), release: make(chan struct{})}
}

func (l *rejectLog) add(r Rejection) {
	l.once.Do(func() { close(l.blocked); <-l.release })
	l.mu.Lock()
	l.got = append(l.got, r)
	l.mu.Unlock()
}

// counts returns the rejections delivered one by one, the summaries and
// the refusals they stand for in all.
func (l *rejectLog) counts() (detailed, summaries, total int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.got {
		if r.Suppressed > 0 {
			summaries++
			total += r.Suppressed
		} else {
			detailed++
			total++
		}
	}
	return detailed, summaries, total
}

func (l *rejectLog) all() []Rejection {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Rejection(nil), l.got...)
}

// worstQueue is the longest rejection queue among db's subscribers and the
// most bytes one holds.
func worstQueue(db *DB) (n, bytes int) {
	db.rejects.mu.Lock()
	defer db.rejects.mu.Unlock()
	for _, sub := range db.rejects.byID {
		qn, qb, _ := sub.pending()
		n, bytes = max(n, qn), max(bytes, qb)
	}
	return n, bytes
}

func waitTotal(t *testing.T, log *rejectLog, want int, timeout time.Duration) {
	t.Helper()
	testwait.ForState(t, fmt.Sprintf("the subscriber to account for %d refusals", want), timeout, func() bool {
		_, _, total := log.counts()
		if total > want {
			t.Fatalf("the subscriber accounts for %d refusals, more than the %d refused", total, want)
		}
		return total == want
	}, func() string {
		d, s, total := log.counts()
		return fmt.Sprintf("it accounts for %d (%d one by one, %d summaries)", total, d, s)
	})
}

// L1: a hostile peer floods the page with refused events while the page is
// busy. The queue stays bounded, the page gets a few rejections one by one
// and a summary that counts the rest, and no forgery is reported under the
// real record id it claims.
func TestRejectFloodIsCoalesced(t *testing.T) {
	ctx := context.Background()
	const n = 100_000
	db := openTest(t, Config{})
	author := openTest(t, Config{})
	real, err := author.Put(ctx, record.Draft{Text: "a real record"})
	if err != nil {
		t.Fatal(err)
	}
	log := newRejectLog()
	defer db.OnReject(log.add)()

	started := time.Now()
	events := forgeriesOf(real.Event, n)
	blockedSeen := false
	for start := 0; start < n; start += 1000 {
		db.Ingest(ctx, Origin{PeerID: "flooder"}, events[start:start+1000])
		if !blockedSeen {
			<-log.blocked // the subscriber now sits in its first call
			blockedSeen = true
		}
		if qn, qb := worstQueue(db); qn > rejectQueueLen || qb > rejectQueueBytes {
			t.Fatalf("after %d refusals the queue holds %d rejections (%d bytes), over %d (%d bytes)", start+1000, qn, qb, rejectQueueLen, rejectQueueBytes)
		}
	}
	qn, qb := worstQueue(db)
	t.Logf("%d refusals ingested in %v; queue while blocked: %d rejections, %d bytes", n, time.Since(started).Round(time.Millisecond), qn, qb)
	close(log.release)
	waitTotal(t, log, n, 10*time.Second)
	elapsed := time.Since(started)

	detailed, summaries, _ := log.counts()
	windows := int(elapsed/rejectWindow) + 2
	if detailed > windows*rejectsPerPeer || summaries > windows {
		t.Errorf("%d rejections one by one and %d summaries in %v, want at most %d per peer and second and one summary per second",
			detailed, summaries, elapsed.Round(time.Millisecond), rejectsPerPeer)
	}
	if summaries == 0 {
		t.Error("no summary")
	}
	for _, r := range log.all() {
		if r.Origin.PeerID != "flooder" || r.Rule != moderation.RuleIntegrity {
			t.Fatalf("rejection from %q by rule %q, want the flooder and integrity: %+v", r.Origin.PeerID, r.Rule, r)
		}
		if r.Suppressed > 0 {
			if r.Event != nil || r.Reason == "" {
				t.Errorf("summary %+v: want no event and a reason", r)
			}
			continue
		}
		if r.Event != nil || !r.Unverified {
			t.Fatalf("a forgery was reported as the record it claims to be (%+v)", r)
		}
		if !errors.Is(r.Err, record.ErrIDMismatch) {
			t.Errorf("rejection error %v, want the id mismatch", r.Err)
		}
	}
	t.Logf("delivered: %d one by one, %d summaries, in %v", detailed, summaries, elapsed.Round(time.Millisecond))
}

// Many peers, each under its rate: the queue bound holds, and the (peer,
// rule) summaries are bounded too.
func TestRejectQueueIsBoundedAcrossPeers(t *testing.T) {
	ctx := context.Background()
	const peers, each = 5000, 20
	db := openTest(t, Config{})
	author := openTest(t, Config{})
	real, err := author.Put(ctx, record.Draft{Text: "a real record"})
	if err != nil {
		t.Fatal(err)
	}
	log := newRejectLog()
	defer db.OnReject(log.add)()

	events := forgeriesOf(real.Event, each)
	for p := 0; p < peers; p++ {
		db.Ingest(ctx, Origin{PeerID: fmt.Sprintf("peer-%d", p)}, events)
		if p == 0 {
			<-log.blocked
		}
		if qn, qb := worstQueue(db); qn > rejectQueueLen || qb > rejectQueueBytes {
			t.Fatalf("after %d peers the queue holds %d rejections (%d bytes)", p+1, qn, qb)
		}
	}
	db.rejects.mu.Lock()
	for _, sub := range db.rejects.byID {
		sub.mu.Lock()
		if f := sub.folded.(*rejectFolder); len(f.byKey) > rejectSummaryKeys {
			t.Errorf("%d summaries held, over %d", len(f.byKey), rejectSummaryKeys)
		}
		sub.mu.Unlock()
	}
	db.rejects.mu.Unlock()
	close(log.release)
	waitTotal(t, log, peers*each, 10*time.Second)
	detailed, summaries, _ := log.counts()
	if summaries > rejectSummaryKeys+1+rejectSummaryKeys+1 || detailed > 2*rejectQueueLen+1 {
		t.Errorf("%d one by one, %d summaries", detailed, summaries)
	}
	several := false
	for _, r := range log.all() {
		several = several || (r.Suppressed > 0 && r.Origin.PeerID == "" && r.Rule == "")
	}
	if !several {
		t.Error("no summary for the peers beyond the summary bound")
	}
	t.Logf("%d refusals from %d peers: %d one by one, %d summaries", peers*each, peers, detailed, summaries)
}

// L1: only events whose id and signature were verified are reported as
// themselves. A forgery that claims a real record's id, a real record's
// content with a broken signature and an unsigned expired event are
// reported as unverified, with no event; a signed event refused by a rule
// is reported with the event.
func TestForgedIDIsNotReportedAsThatRecord(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Config{})
	sk, _ := record.GenerateKey()
	now := time.Now()
	sign := func(d record.Draft) *record.Event {
		t.Helper()
		e, err := record.New(d, sk, db.RoomID(), record.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	real := sign(record.Draft{Text: "a real record", CreatedAt: now})
	claimsRealID := forgeriesOf(real, 1)[0]
	brokenSig := *real
	brokenSig.Sig[0] ^= 1
	expired := sign(record.Draft{Text: "old news", CreatedAt: now.Add(-200 * 24 * time.Hour)})
	unsignedExpired := *expired
	unsignedExpired.Sig = [64]byte{}
	badWords := sign(record.Draft{Text: "what an asshole", CreatedAt: now})

	got := make(chan Rejection, 10)
	defer db.OnReject(func(r Rejection) { got <- r })()
	out := db.Ingest(ctx, Origin{PeerID: "mallory"}, []*record.Event{claimsRealID, &brokenSig, &unsignedExpired, expired, badWords})
	for i, o := range out {
		if o.Stored {
			t.Fatalf("event %d was stored", i)
		}
	}
	unverified := map[[32]byte]string{real.ID: "claims the real id", expired.ID: "unsigned expired"}
	verified := map[[32]byte]string{expired.ID: "signed expired", badWords.ID: "bad words"}
	var nUnverified, nVerified int
	for range out {
		var r Rejection
		select {
		case r = <-got:
		case <-time.After(5 * time.Second):
			t.Fatal("a rejection was not reported")
		}
		if r.Origin.PeerID != "mallory" || r.Rule == "" || r.Reason == "" || r.Suppressed != 0 {
			t.Errorf("rejection %+v: want the peer, the rule and the reason", r)
		}
		if r.Unverified {
			nUnverified++
			if r.Event != nil {
				t.Errorf("unverified rejection (rule %s: %s) carries the event %x that it claims to be", r.Rule, r.Reason, r.Event.ID[:4])
			}
			continue
		}
		nVerified++
		if r.Event == nil {
			t.Errorf("verified rejection without its event: %+v", r)
			continue
		}
		if _, ok := verified[r.Event.ID]; !ok || r.Event.Verify() != nil {
			t.Errorf("rejection reports event %x (%s) as verified", r.Event.ID[:4], unverified[r.Event.ID])
		}
	}
	if nUnverified != 3 || nVerified != 2 {
		t.Errorf("%d unverified and %d verified rejections, want 3 and 2", nUnverified, nVerified)
	}
}

// The change subscription has no bound: a blocked subscriber gets every
// change once it resumes.
func TestChangesStayLossless(t *testing.T) {
	db := openTest(t, Config{})
	const n = 100_000
	var mu sync.Mutex
	count := 0
	blocked, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	defer db.Subscribe(func(Change) {
		once.Do(func() { close(blocked); <-release })
		mu.Lock()
		count++
		mu.Unlock()
	})()
	e := &record.Event{}
	db.subs.publish([]Change{{Event: e, Origin: Origin{PeerID: "p"}}})
	<-blocked
	for i := 1; i < n; i += 1000 {
		batch := make([]Change, min(1000, n-i))
		for j := range batch {
			batch[j] = Change{Event: e, Origin: Origin{PeerID: "p"}}
		}
		db.subs.publish(batch)
	}
	close(release)
	delivered := func() int {
		mu.Lock()
		defer mu.Unlock()
		return count
	}
	testwait.ForState(t, fmt.Sprintf("%d changes delivered", n), 10*time.Second, func() bool { return delivered() == n },
		func() string { return fmt.Sprintf("%d delivered", delivered()) })
}
