//go:build !js

package nostrsignal_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/nostrrelay"
	"github.com/peersetdb/peerset/pkg/nostrsignal"
	"github.com/peersetdb/peerset/pkg/record"
)

func startRelay(t *testing.T) string {
	t.Helper()
	r := nostrrelay.New(nostrrelay.Config{})
	srv := httptest.NewServer(r)
	t.Cleanup(func() {
		r.Close()
		srv.Close()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// inbox collects the signals a client delivers.
type inbox struct {
	mu  sync.Mutex
	got []nostrsignal.Signal
	ch  chan struct{}
}

func newInbox() *inbox { return &inbox{ch: make(chan struct{}, 1)} }

func (in *inbox) add(s nostrsignal.Signal) {
	in.mu.Lock()
	in.got = append(in.got, s)
	in.mu.Unlock()
	select {
	case in.ch <- struct{}{}:
	default:
	}
}

// wait returns the first signal matching ok, failing after d.
func (in *inbox) wait(t *testing.T, d time.Duration, what string, ok func(nostrsignal.Signal) bool) nostrsignal.Signal {
	t.Helper()
	deadline := time.After(d)
	for {
		in.mu.Lock()
		for _, s := range in.got {
			if ok(s) {
				in.mu.Unlock()
				return s
			}
		}
		in.mu.Unlock()
		select {
		case <-in.ch:
		case <-deadline:
			t.Fatalf("no %s within %v", what, d)
		}
	}
}

func (in *inbox) all() []nostrsignal.Signal {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]nostrsignal.Signal(nil), in.got...)
}

func startClient(t *testing.T, cfg nostrsignal.Config) (*nostrsignal.Client, *inbox) {
	t.Helper()
	in := newInbox()
	cfg.OnSignal = in.add
	if cfg.AppID == "" {
		cfg.AppID = "peerset-test"
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = 20*time.Millisecond, 100*time.Millisecond
	}
	c, err := nostrsignal.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Start(context.Background())
	t.Cleanup(func() { c.Close() })
	return c, in
}

func waitOpen(t *testing.T, c *nostrsignal.Client) {
	t.Helper()
	testwait.ForState(t, "every relay open", 5*time.Second, func() bool {
		for _, s := range c.Status() {
			if s.State != nostrsignal.RelayOpen {
				return false
			}
		}
		return true
	}, func() string { return fmt.Sprintf("%+v", c.Status()) })
}

// waitSubscribed waits until every relay of c has answered its
// subscription: a signal published to c after that reaches it (an
// ephemeral event published before the relay read the subscription is
// lost, and under load that can take a while after the connection opens).
func waitSubscribed(t *testing.T, c *nostrsignal.Client) {
	t.Helper()
	testwait.ForState(t, "every relay subscribed", 10*time.Second, func() bool {
		for _, s := range c.Status() {
			if !s.Subscribed {
				return false
			}
		}
		return true
	}, func() string { return fmt.Sprintf("%+v", c.Status()) })
}

func TestTwoPeersAnnounceAndExchangeOfferAnswer(t *testing.T) {
	url := startRelay(t)
	a, inA := startClient(t, nostrsignal.Config{Relays: []string{url}, Room: "lobby", PeerID: "AAAAAAAAAAAAAAAAAAAA"})
	b, inB := startClient(t, nostrsignal.Config{Relays: []string{url}, Room: "lobby", PeerID: "BBBBBBBBBBBBBBBBBBBB"})
	_, inOther := startClient(t, nostrsignal.Config{Relays: []string{url}, Room: "elsewhere", PeerID: "CCCCCCCCCCCCCCCCCCCC"})

	// Each sees the other's room announcement (the warmup announces within
	// about two seconds of connecting, whichever connected first).
	isAnnounceFrom := func(id string) func(nostrsignal.Signal) bool {
		return func(s nostrsignal.Signal) bool { return s.Kind == nostrsignal.Announce && !s.Direct && s.PeerID == id }
	}
	sa := inA.wait(t, 10*time.Second, "announcement of B at A", isAnnounceFrom("BBBBBBBBBBBBBBBBBBBB"))
	inB.wait(t, 10*time.Second, "announcement of A at B", isAnnounceFrom("AAAAAAAAAAAAAAAAAAAA"))
	if sa.Relay != url || sa.PubKey != b.PubKey() {
		t.Fatalf("announcement %+v: want relay %s and B's key", sa, url)
	}

	// A (the smaller id) offers to B through the relay it heard B on; B
	// answers; both arrive once, addressed, with their fields.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Send(ctx, sa.Relay, "BBBBBBBBBBBBBBBBBBBB", nostrsignal.Payload{OfferID: "offer1", Offer: "sealed-offer"}); err != nil {
		t.Fatal(err)
	}
	off := inB.wait(t, 5*time.Second, "offer at B", func(s nostrsignal.Signal) bool { return s.Kind == nostrsignal.Offer })
	if !off.Direct || off.PeerID != "AAAAAAAAAAAAAAAAAAAA" || off.OfferID != "offer1" || off.Sealed != "sealed-offer" || off.PubKey != a.PubKey() {
		t.Fatalf("offer %+v", off)
	}
	if err := b.Send(ctx, off.Relay, off.PeerID, nostrsignal.Payload{OfferID: off.OfferID, Answer: "sealed-answer"}); err != nil {
		t.Fatal(err)
	}
	ans := inA.wait(t, 5*time.Second, "answer at A", func(s nostrsignal.Signal) bool { return s.Kind == nostrsignal.Answer })
	if !ans.Direct || ans.PeerID != "BBBBBBBBBBBBBBBBBBBB" || ans.OfferID != "offer1" || ans.Sealed != "sealed-answer" {
		t.Fatalf("answer %+v", ans)
	}
	if err := b.Send(ctx, "", off.PeerID, nostrsignal.Payload{OfferID: "offer1", Candidate: "sealed-candidate"}); err != nil {
		t.Fatal(err)
	}
	inA.wait(t, 5*time.Second, "candidate at A", func(s nostrsignal.Signal) bool {
		return s.Kind == nostrsignal.Candidate && s.Sealed == "sealed-candidate"
	})

	// Nobody hears their own events, and the other room hears nothing.
	for _, s := range inA.all() {
		if s.PeerID == "AAAAAAAAAAAAAAAAAAAA" {
			t.Fatalf("A heard itself: %+v", s)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if got := inOther.all(); len(got) != 0 {
		t.Fatalf("a client in another room received %d signals: %+v", len(got), got[0])
	}
	// B received no offer meant for someone else, and A no offer at all.
	for _, s := range inA.all() {
		if s.Kind == nostrsignal.Offer {
			t.Fatalf("A received an offer: %+v", s)
		}
	}
	if st := a.Status()[0]; st.Announces < 2 || st.State != nostrsignal.RelayOpen || st.Received == 0 {
		t.Fatalf("status %+v", st)
	}
}

func TestSendWithoutConnection(t *testing.T) {
	c, err := nostrsignal.New(nostrsignal.Config{Relays: []string{"ws://127.0.0.1:1"}, AppID: "a", Room: "r", PeerID: "p", OnSignal: func(nostrsignal.Signal) {}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(context.Background(), "", "q", nostrsignal.Payload{Offer: "x"}); !errors.Is(err, nostrsignal.ErrNotConnected) {
		t.Fatalf("Send before Start: %v", err)
	}
	for _, bad := range []nostrsignal.Config{
		{Relays: []string{"ws://x"}, Room: "r", PeerID: "p", OnSignal: func(nostrsignal.Signal) {}},
		{Relays: []string{"ws://x"}, AppID: "a", Room: "r", OnSignal: func(nostrsignal.Signal) {}},
		{AppID: "a", Room: "r", PeerID: "p", OnSignal: func(nostrsignal.Signal) {}},
		{Relays: []string{"ws://x"}, AppID: "a", Room: "r", PeerID: "p"},
	} {
		if _, err := nostrsignal.New(bad); err == nil {
			t.Fatalf("New(%+v) accepted", bad)
		}
	}
}

// fakeConn is a relay connection whose incoming messages the test writes.
type fakeConn struct {
	in     chan []byte
	out    chan []byte
	closed chan struct{}
	once   sync.Once
}

func newFakeConn() *fakeConn {
	return &fakeConn{in: make(chan []byte, 64), out: make(chan []byte, 256), closed: make(chan struct{})}
}

func (f *fakeConn) Read(ctx context.Context) ([]byte, error) {
	select {
	case b := <-f.in:
		return b, nil
	case <-f.closed:
		return nil, errors.New("closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (f *fakeConn) Write(ctx context.Context, b []byte) error {
	select {
	case f.out <- b:
		return nil
	case <-f.closed:
		return errors.New("closed")
	default:
		return nil // the test does not read everything
	}
}

func (f *fakeConn) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

func TestForgedAndMismatchedEventsAreDropped(t *testing.T) {
	const app, room, self = "peerset-test", "lobby", "SSSSSSSSSSSSSSSSSSSS"
	conns := make(chan *fakeConn, 4)
	dial := func(ctx context.Context, url string, limit int64) (nostrsignal.Conn, error) {
		f := newFakeConn()
		conns <- f
		return f, nil
	}
	c, in := startClient(t, nostrsignal.Config{Relays: []string{"ws://fake"}, AppID: app, Room: room, PeerID: self, Dial: dial})
	_ = c
	conn := <-conns
	// The subscription id is in the first message the client writes.
	var sub string
	select {
	case req := <-conn.out:
		parts := strings.SplitN(string(req), `"`, 5)
		if len(parts) < 4 || parts[1] != "REQ" {
			t.Fatalf("first message %s", req)
		}
		sub = parts[3]
	case <-time.After(5 * time.Second):
		t.Fatal("no REQ")
	}

	sk, err := record.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	root := nostrsignal.RootTopic(app, room)
	mine := nostrsignal.PeerTopic(app, room, self)
	now := time.Now().Unix()
	mk := func(topic string, kind int, created int64, content string) *record.Event {
		e := &record.Event{Kind: kind, CreatedAt: created, Tags: [][]string{{"x", topic}}, Content: content}
		if err := e.Sign(sk); err != nil {
			t.Fatal(err)
		}
		return e
	}
	send := func(subID string, e *record.Event) {
		conn.in <- append(e.AppendJSON([]byte(fmt.Sprintf(`["EVENT",%q,`, subID))), ']')
	}
	announce := func(id string) string { return nostrsignal.Payload{PeerID: id}.Encode() }

	forgedSig := mk(root, nostrsignal.TopicKind(root), now, announce("forged-sig"))
	forgedSig.Sig[0] ^= 0xff
	forgedContent := mk(root, nostrsignal.TopicKind(root), now, announce("x"))
	forgedContent.Content = announce("forged-content") // id no longer matches
	unsigned := mk(root, nostrsignal.TopicKind(root), now, announce("unsigned"))
	unsigned.Sig = [64]byte{}

	bad := []struct {
		name string
		sub  string
		ev   *record.Event
	}{
		{"signature flipped", sub, forgedSig},
		{"content changed after signing", sub, forgedContent},
		{"no signature", sub, unsigned},
		{"other room's topic", sub, mk(nostrsignal.RootTopic(app, "other"), nostrsignal.TopicKind(nostrsignal.RootTopic(app, "other")), now, announce("other-room"))},
		{"kind not the topic's", sub, mk(root, nostrsignal.TopicKind(root)+1, now, announce("wrong-kind"))},
		{"an hour old", sub, mk(root, nostrsignal.TopicKind(root), now-3600, announce("stale"))},
		{"another subscription", "not-ours", mk(root, nostrsignal.TopicKind(root), now, announce("other-sub"))},
		{"content not JSON", sub, mk(root, nostrsignal.TopicKind(root), now, "hello")},
		{"offer on the room topic", sub, mk(root, nostrsignal.TopicKind(root), now, nostrsignal.Payload{PeerID: "broadcast-offer", Offer: "s"}.Encode())},
		{"our own announcement", sub, mk(root, nostrsignal.TopicKind(root), now, announce(self))},
	}
	for _, b := range bad {
		send(b.sub, b.ev)
	}
	conn.in <- []byte(`not json`)
	conn.in <- []byte(`["EVENT"]`)
	good := mk(mine, nostrsignal.TopicKind(mine), now, nostrsignal.Payload{PeerID: "honest", OfferID: "o", Offer: "s"}.Encode())
	send(sub, good)

	s := in.wait(t, 5*time.Second, "the honest offer", func(s nostrsignal.Signal) bool { return s.PeerID == "honest" })
	if s.Kind != nostrsignal.Offer || !s.Direct || s.Relay != "ws://fake" {
		t.Fatalf("honest offer %+v", s)
	}
	// Messages are handled in order, so every bad one was seen first.
	if got := in.all(); len(got) != 1 {
		t.Fatalf("delivered %d signals, want only the honest one: %+v", len(got), got)
	}
	st := c.Status()[0]
	if want := uint64(len(bad) - 1 + 2); st.Dropped != want { // our own event is skipped, not counted
		t.Fatalf("dropped %d, want %d", st.Dropped, want)
	}

	// A relay that closes our subscription ends the session: the client
	// reconnects and subscribes again.
	conn.in <- []byte(fmt.Sprintf(`["CLOSED",%q,"error: shutting down"]`, sub))
	select {
	case conn2 := <-conns:
		select {
		case req := <-conn2.out:
			if !strings.HasPrefix(string(req), `["REQ",`) {
				t.Fatalf("after reconnect, first message %s", req)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no REQ after reconnect")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reconnect after CLOSED")
	}
	if st := c.Status()[0]; !strings.Contains(st.LastError, "shutting down") {
		t.Fatalf("LastError %q", st.LastError)
	}
}

// TestReconnectsAndReannounces: when the connection drops, the client dials
// again with backoff, subscribes again and announces again, so a peer that
// joins later still finds it.
func TestReconnectsAndReannounces(t *testing.T) {
	url := startRelay(t)
	var mu sync.Mutex
	var live []nostrsignal.Conn
	dials := 0
	dial := func(ctx context.Context, u string, limit int64) (nostrsignal.Conn, error) {
		mu.Lock()
		dials++
		n := dials
		mu.Unlock()
		if n == 2 {
			return nil, errors.New("refused once") // one failed attempt in between
		}
		conn, err := nostrsignal.DialWebSocket(ctx, u, limit)
		if err == nil {
			mu.Lock()
			live = append(live, conn)
			mu.Unlock()
		}
		return conn, err
	}
	a, _ := startClient(t, nostrsignal.Config{Relays: []string{url}, Room: "lobby", PeerID: "AAAAAAAAAAAAAAAAAAAA", Dial: dial,
		Warmup: []time.Duration{50 * time.Millisecond}, AnnounceInterval: 200 * time.Millisecond})
	waitOpen(t, a)
	mu.Lock()
	live[0].Close()
	mu.Unlock()

	// B joins after the drop and still hears A.
	_, inB := startClient(t, nostrsignal.Config{Relays: []string{url}, Room: "lobby", PeerID: "BBBBBBBBBBBBBBBBBBBB"})
	inB.wait(t, 10*time.Second, "A's announcement after A reconnected", func(s nostrsignal.Signal) bool {
		return s.Kind == nostrsignal.Announce && s.PeerID == "AAAAAAAAAAAAAAAAAAAA"
	})
	mu.Lock()
	defer mu.Unlock()
	if dials < 3 {
		t.Fatalf("dialled %d times, want at least 3 (first, refused, reconnect)", dials)
	}
}

// TestSeveralRelays: a client on two relays meets peers on either one, and
// answers each through the relay its message came by.
func TestSeveralRelays(t *testing.T) {
	r1, r2 := startRelay(t), startRelay(t)
	a, inA := startClient(t, nostrsignal.Config{Relays: []string{r1, r2, r1}, Room: "lobby", PeerID: "AAAAAAAAAAAAAAAAAAAA"})
	_, inB := startClient(t, nostrsignal.Config{Relays: []string{r1}, Room: "lobby", PeerID: "BBBBBBBBBBBBBBBBBBBB"})
	_, inC := startClient(t, nostrsignal.Config{Relays: []string{r2}, Room: "lobby", PeerID: "CCCCCCCCCCCCCCCCCCCC"})
	if n := len(a.Status()); n != 2 {
		t.Fatalf("%d relay connections for two distinct URLs", n)
	}
	sb := inA.wait(t, 10*time.Second, "B's announcement via r1", func(s nostrsignal.Signal) bool { return s.PeerID == "BBBBBBBBBBBBBBBBBBBB" })
	sc := inA.wait(t, 10*time.Second, "C's announcement via r2", func(s nostrsignal.Signal) bool { return s.PeerID == "CCCCCCCCCCCCCCCCCCCC" })
	if sb.Relay != r1 || sc.Relay != r2 {
		t.Fatalf("B came by %s (want %s), C by %s (want %s)", sb.Relay, r1, sc.Relay, r2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Through r2 only: C gets it, B (on r1 only) cannot.
	if err := a.Send(ctx, r2, "BBBBBBBBBBBBBBBBBBBB", nostrsignal.Payload{OfferID: "o", Offer: "via-r2"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(ctx, sc.Relay, "CCCCCCCCCCCCCCCCCCCC", nostrsignal.Payload{OfferID: "o", Offer: "to-c"}); err != nil {
		t.Fatal(err)
	}
	inC.wait(t, 5*time.Second, "offer at C", func(s nostrsignal.Signal) bool { return s.Kind == nostrsignal.Offer && s.Sealed == "to-c" })
	// Through every relay: B gets it by r1.
	if err := a.Send(ctx, "", "BBBBBBBBBBBBBBBBBBBB", nostrsignal.Payload{OfferID: "o", Offer: "everywhere"}); err != nil {
		t.Fatal(err)
	}
	inB.wait(t, 5*time.Second, "offer at B", func(s nostrsignal.Signal) bool { return s.Kind == nostrsignal.Offer && s.Sealed == "everywhere" })
	for _, s := range inB.all() {
		if s.Sealed == "via-r2" {
			t.Fatal("B, on r1 only, received a message sent through r2 only")
		}
	}
	if err := a.Send(ctx, "ws://127.0.0.1:1/not-configured", "BBBBBBBBBBBBBBBBBBBB", nostrsignal.Payload{Offer: "x"}); !errors.Is(err, nostrsignal.ErrNotConnected) {
		t.Fatalf("Send through an unknown relay: %v", err)
	}
}

// TestRateLimitedAnnouncementsPause: a relay answering an announcement
// "rate-limited:" gets no further announcement for AnnounceInterval, where
// the warmup would otherwise send one within a second (a warmup that leaves
// the client a second to read the answer, even on a loaded machine).
func TestRateLimitedAnnouncementsPause(t *testing.T) {
	conns := make(chan *fakeConn, 4)
	dial := func(ctx context.Context, url string, limit int64) (nostrsignal.Conn, error) {
		f := newFakeConn()
		conns <- f
		return f, nil
	}
	c, _ := startClient(t, nostrsignal.Config{Relays: []string{"ws://fake"}, Room: "lobby", PeerID: "AAAAAAAAAAAAAAAAAAAA", Dial: dial,
		Warmup: []time.Duration{time.Second, time.Second, time.Second}, AnnounceInterval: 3 * time.Second})
	conn := <-conns
	nextEvent := func(d time.Duration) (string, bool) {
		deadline := time.After(d)
		for {
			select {
			case m := <-conn.out:
				if strings.HasPrefix(string(m), `["EVENT",`) {
					i := strings.Index(string(m), `"id":"`)
					return string(m[i+6 : i+70]), true
				}
			case <-deadline:
				return "", false
			}
		}
	}
	id, ok := nextEvent(5 * time.Second)
	if !ok {
		t.Fatal("no first announcement")
	}
	conn.in <- []byte(`["OK","` + id + `",false,"rate-limited: slow down"]`)
	start := time.Now()
	if _, ok := nextEvent(2 * time.Second); ok {
		t.Fatalf("announced again %v after a rate-limited answer", time.Since(start))
	}
	if st := c.Status()[0]; !strings.Contains(st.LastError, "rate-limited") || st.Announces != 1 {
		t.Fatalf("status %+v", st)
	}
	// The pause ends: announcements resume.
	if _, ok := nextEvent(5 * time.Second); !ok {
		t.Fatal("announcements did not resume after the pause")
	}
}

// TestSetPassive: a client marked passive announces and sends with
// "passive": true, and stops when unmarked.
func TestSetPassive(t *testing.T) {
	url := startRelay(t)
	a, _ := startClient(t, nostrsignal.Config{Relays: []string{url}, Room: "lobby", PeerID: "AAAAAAAAAAAAAAAAAAAA", Warmup: []time.Duration{}, AnnounceInterval: time.Hour})
	b, inB := startClient(t, nostrsignal.Config{Relays: []string{url}, Room: "lobby", PeerID: "BBBBBBBBBBBBBBBBBBBB"})
	waitOpen(t, a)
	waitSubscribed(t, b)
	if a.Passive() {
		t.Fatal("a client is passive without Config.Passive")
	}
	for _, passive := range []bool{true, false} {
		a.SetPassive(passive)
		if a.Passive() != passive {
			t.Fatalf("Passive() = %v after SetPassive(%v)", a.Passive(), passive)
		}
		id := fmt.Sprintf("offer-%v", passive)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := a.Send(ctx, "", "BBBBBBBBBBBBBBBBBBBB", nostrsignal.Payload{OfferID: id, Offer: "sealed"})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		got := inB.wait(t, 5*time.Second, "offer "+id, func(s nostrsignal.Signal) bool { return s.Kind == nostrsignal.Offer && s.OfferID == id })
		if got.Passive != passive {
			t.Fatalf("offer sent with SetPassive(%v) arrived with passive %v", passive, got.Passive)
		}
	}
	a.SetPassive(true)
	a.Reannounce()
	inB.wait(t, 5*time.Second, "a passive announcement", func(s nostrsignal.Signal) bool {
		return s.Kind == nostrsignal.Announce && s.PeerID == "AAAAAAAAAAAAAAAAAAAA" && s.Passive
	})
}

// TestRelayInboundFloodIsBoundedBeforeVerifying: a relay sends 1,000
// signed announcements at once, 500 events for another topic, then replays
// 200 of the announcements: the cheap checks and the replay memory cost no
// signature check, at most the inbound budget (100 at once, 50 a second)
// are verified, and an honest announcement after the flood is delivered.
func TestRelayInboundFloodIsBoundedBeforeVerifying(t *testing.T) {
	const app, room, self = "peerset-test", "lobby", "SSSSSSSSSSSSSSSSSSSS"
	conns := make(chan *fakeConn, 4)
	dial := func(ctx context.Context, url string, limit int64) (nostrsignal.Conn, error) {
		f := newFakeConn()
		conns <- f
		return f, nil
	}
	c, in := startClient(t, nostrsignal.Config{Relays: []string{"ws://fake"}, AppID: app, Room: room, PeerID: self, Dial: dial})
	conn := <-conns
	var sub string
	select {
	case req := <-conn.out:
		parts := strings.SplitN(string(req), `"`, 5)
		if len(parts) < 4 || parts[1] != "REQ" {
			t.Fatalf("first message %s", req)
		}
		sub = parts[3]
	case <-time.After(5 * time.Second):
		t.Fatal("no REQ")
	}
	sk, err := record.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	root := nostrsignal.RootTopic(app, room)
	other := nostrsignal.RootTopic(app, "other")
	now := time.Now().Unix()
	mkAt := func(topic, id string, created int64) []byte {
		e := &record.Event{Kind: nostrsignal.TopicKind(topic), CreatedAt: created, Tags: [][]string{{"x", topic}}, Content: nostrsignal.Payload{PeerID: id}.Encode()}
		if err := e.Sign(sk); err != nil {
			t.Fatal(err)
		}
		return append(e.AppendJSON([]byte(fmt.Sprintf(`["EVENT",%q,`, sub))), ']')
	}
	mk := func(topic, id string) []byte { return mkAt(topic, id, now) }
	const flood, wrong, replays = 1000, 500, 200
	announcements := make([][]byte, flood)
	for i := range announcements {
		announcements[i] = mk(root, fmt.Sprintf("F%019d", i))
	}
	wrongTopic := make([][]byte, wrong)
	for i := range wrongTopic {
		wrongTopic[i] = mk(other, fmt.Sprintf("W%019d", i))
	}
	status := func() nostrsignal.RelayStatus { return c.Status()[0] }

	start := time.Now()
	for _, m := range wrongTopic {
		conn.in <- m
	}
	testwait.For(t, "the events for another topic to be dropped", 10*time.Second, func() bool { return status().Dropped >= wrong })
	if st := status(); st.Verified != 0 {
		t.Fatalf("%d signatures checked for events for another topic, want 0 (%+v)", st.Verified, st)
	}
	for _, m := range announcements {
		conn.in <- m
	}
	testwait.ForState(t, "the flood to be handled", 10*time.Second, func() bool {
		st := status()
		return st.Received+st.Dropped >= wrong+flood
	}, func() string { return fmt.Sprintf("%+v", status()) })
	st := status()
	elapsed := time.Since(start).Seconds()
	if limit := 100 + 50*elapsed + 1; float64(st.Verified) > limit || st.RateLimited == 0 {
		t.Fatalf("%d of %d signatures checked in %.2f s (%d rate-limited), want at most %.0f", st.Verified, flood, elapsed, st.RateLimited, limit)
	}
	// Replays of delivered events cost no check.
	verified := st.Verified
	delivered := 0
	for _, s := range in.all() {
		var n int
		if _, err := fmt.Sscanf(s.PeerID, "F%d", &n); err == nil && n < replays {
			delivered++
		}
	}
	for i := range replays {
		conn.in <- announcements[i]
	}
	testwait.ForState(t, "the replays to be handled", 10*time.Second, func() bool {
		st := status()
		return st.Received+st.Dropped+st.Replayed >= wrong+flood+replays
	}, func() string { return fmt.Sprintf("%+v", status()) })
	if st := status(); st.Replayed != uint64(delivered) || st.Verified-verified > uint64(replays-delivered) {
		t.Fatalf("replays: %+v (verified %d before, %d delivered)", st, verified, delivered)
	}
	// An honest peer announcing (again, as peers do) after the flood is
	// delivered.
	i := 0
	testwait.For(t, "an honest announcement after the flood", 10*time.Second, func() bool {
		for _, s := range in.all() {
			if s.PeerID == "HONESTHONESTHONEST00" {
				return true
			}
		}
		select {
		case conn.in <- mkAt(root, "HONESTHONESTHONEST00", now+int64(i)):
			i++
		default:
		}
		return false
	})
}

// stuckConn is a relay connection that takes the REQ and then never
// finishes a write until its context ends.
type stuckConn struct {
	*fakeConn
	writes atomic.Int64
}

func (s *stuckConn) Write(ctx context.Context, b []byte) error {
	if s.writes.Add(1) == 1 {
		return nil // the REQ
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestRelaySendNotHeldByStuckRelay: a Send through every relay is not held
// up by a relay that stopped reading: the honest relay gets the event, and
// Send returns when its context ends, even for writes queued behind the
// stuck one.
func TestRelaySendNotHeldByStuckRelay(t *testing.T) {
	honest := startRelay(t)
	stuck := &stuckConn{fakeConn: newFakeConn()}
	dial := func(ctx context.Context, url string, limit int64) (nostrsignal.Conn, error) {
		if url == "ws://stuck" {
			return stuck, nil
		}
		return nostrsignal.DialWebSocket(ctx, url, limit)
	}
	a, _ := startClient(t, nostrsignal.Config{Relays: []string{"ws://stuck", honest}, Room: "lobby", PeerID: "AAAAAAAAAAAAAAAAAAAA", Dial: dial, Warmup: []time.Duration{}, AnnounceInterval: time.Hour})
	b, inB := startClient(t, nostrsignal.Config{Relays: []string{honest}, Room: "lobby", PeerID: "BBBBBBBBBBBBBBBBBBBB"})
	waitOpen(t, a)
	waitSubscribed(t, b)
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for i := range 5 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			errs <- a.Send(ctx, "", "BBBBBBBBBBBBBBBBBBBB", nostrsignal.Payload{OfferID: fmt.Sprint("o", i), Offer: "sealed"})
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Send held past its context by a stuck relay")
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Send through an honest and a stuck relay: %v", err)
		}
	}
	for i := range 5 {
		id := fmt.Sprint("o", i)
		inB.wait(t, 5*time.Second, "offer "+id, func(s nostrsignal.Signal) bool { return s.Kind == nostrsignal.Offer && s.OfferID == id })
	}
}

// TestRelayReconnectBackoffGrowsForInstantClose: a relay that accepts the
// connection and closes it at once is retried ever more slowly (the
// backoff is not reset by a dial); one whose sessions deliver the end of
// stored events (EOSE) before closing is retried from MinBackoff.
func TestRelayReconnectBackoffGrowsForInstantClose(t *testing.T) {
	const minBackoff = 20 * time.Millisecond
	for _, eose := range []bool{false, true} {
		t.Run(fmt.Sprint("eose=", eose), func(t *testing.T) {
			var mu sync.Mutex
			var dials []time.Time
			dial := func(ctx context.Context, url string, limit int64) (nostrsignal.Conn, error) {
				mu.Lock()
				dials = append(dials, time.Now())
				mu.Unlock()
				f := newFakeConn()
				go func() {
					if eose {
						select {
						case req := <-f.out: // the REQ: answer its EOSE
							parts := strings.SplitN(string(req), `"`, 5)
							if len(parts) >= 4 {
								f.in <- []byte(`["EOSE","` + parts[3] + `"]`)
							}
						case <-time.After(5 * time.Second):
						}
						time.Sleep(10 * time.Millisecond) // (the EOSE is read before the close)
					}
					f.Close()
				}()
				return f, nil
			}
			c, _ := startClient(t, nostrsignal.Config{Relays: []string{"ws://flaky"}, Room: "lobby", PeerID: "AAAAAAAAAAAAAAAAAAAA", Dial: dial,
				MinBackoff: minBackoff, MaxBackoff: 2 * time.Second})
			count := func() int { mu.Lock(); defer mu.Unlock(); return len(dials) }
			testwait.For(t, "7 connections", 15*time.Second, func() bool { return count() >= 7 })
			mu.Lock()
			gap := dials[6].Sub(dials[5])
			mu.Unlock()
			attempts := c.Status()[0].ReconnectAttempts
			if !eose {
				// After 6 failures the backoff is minBackoff×2^5, jittered
				// down to half at most.
				if want := minBackoff * 16; gap < want || attempts < 6 {
					t.Fatalf("7th connection %v after the 6th (want at least %v), %d attempts counted", gap, want, attempts)
				}
			} else if attempts > 1 || gap > time.Second {
				t.Fatalf("sessions that delivered EOSE: %d attempts counted, 7th connection %v after the 6th", attempts, gap)
			}
		})
	}
}
