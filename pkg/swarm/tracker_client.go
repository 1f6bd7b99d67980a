package swarm

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peersetdb/peerset/pkg/wire"
)

// TrackerState is the state of a tracker connection.
type TrackerState string

// Tracker connection states.
const (
	TrackerConnecting TrackerState = "connecting"
	TrackerOpen       TrackerState = "open"
	TrackerClosed     TrackerState = "closed" // waiting to reconnect, or the room is closed
)

// AnnouncePhase is how often a room announces to a tracker.
type AnnouncePhase string

// Announce phases. A new connection starts warming up (a few announces in
// quick succession), then announces at the steady interval; with
// Config.DormantAfterPeers active peers the room goes dormant: rare passive
// announces without offers, so trackers are not flooded.
const (
	PhaseWarmup  AnnouncePhase = "warmup"
	PhaseSteady  AnnouncePhase = "steady"
	PhaseDormant AnnouncePhase = "dormant"
)

// ErrTrackerNotConnected means a message could not be sent because the
// tracker connection is down.
var ErrTrackerNotConnected = errors.New("tracker not connected")

// TrackerStatus describes one tracker connection.
type TrackerStatus struct {
	URL   string
	State TrackerState
	// LastError is the last connection error or tracker failure reason.
	LastError string
	// ReconnectAttempts counts reconnections since the tracker last
	// answered; 0 while it works.
	ReconnectAttempts int
	// Phase is the announce phase of the current connection.
	Phase AnnouncePhase
	// Interval is the steady announce interval in use.
	Interval time.Duration
	// Announces counts the announces sent over all connections.
	Announces uint64
	// LastAnnounce is when the last announce was sent.
	LastAnnounce time.Time
}

// trackerClient keeps one tracker connection alive and announces the room
// over it.
type trackerClient struct {
	room   *Room
	url    string
	kickCh chan struct{}

	announces atomic.Uint64
	interval  atomic.Int64 // the tracker's interval in seconds; 0 until known

	mu           sync.Mutex
	conn         trackerSocket
	state        TrackerState
	lastErr      string
	attempts     int
	phase        AnnouncePhase
	lastAnnounce time.Time
}

func newTrackerClient(r *Room, url string) *trackerClient {
	return &trackerClient{room: r, url: url, kickCh: make(chan struct{}, 1), state: TrackerClosed, phase: PhaseWarmup}
}

func (t *trackerClient) status() TrackerStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	return TrackerStatus{
		URL:               t.url,
		State:             t.state,
		LastError:         t.lastErr,
		ReconnectAttempts: t.attempts,
		Phase:             t.phase,
		Interval:          t.steadyInterval(),
		Announces:         t.announces.Load(),
		LastAnnounce:      t.lastAnnounce,
	}
}

// kick asks for an announce soon (at most one per kickSpacing).
func (t *trackerClient) kick() {
	select {
	case t.kickCh <- struct{}{}:
	default:
	}
}

func (t *trackerClient) setState(s TrackerState, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.state = s
	if err != nil {
		t.lastErr = err.Error()
	}
}

// run connects, announces and reconnects until ctx ends. It never gives up:
// the delay between attempts grows exponentially with jitter up to
// TrackerReconnectMax and is reset once the tracker answers.
func (t *trackerClient) run(ctx context.Context) {
	r := t.room
	log := r.log.With("tracker", t.url)
	attempt := 0
	for {
		t.setState(TrackerConnecting, nil)
		answered := false
		conn, err := t.dial(ctx)
		if err == nil {
			log.Debug("tracker connected")
			answered, err = t.session(ctx, conn)
		}
		if ctx.Err() != nil {
			t.setState(TrackerClosed, nil)
			return
		}
		if answered {
			attempt = 0
		}
		delay := t.backoff(attempt)
		attempt++
		t.mu.Lock()
		t.state = TrackerClosed
		if err != nil {
			t.lastErr = err.Error()
		}
		t.attempts = attempt
		t.mu.Unlock()
		log.Debug("tracker connection lost", "err", err, "retry_in", delay)
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			t.setState(TrackerClosed, nil)
			return
		case <-timer.C:
		}
	}
}

// backoff is the jittered exponential reconnect delay.
func (t *trackerClient) backoff(attempt int) time.Duration {
	lo, hi := t.room.cfg.TrackerReconnectMin, t.room.cfg.TrackerReconnectMax
	d := lo
	for i := 0; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return min(time.Duration(float64(d)*(0.5+rand.Float64())), hi)
}

func (t *trackerClient) dial(ctx context.Context) (trackerSocket, error) {
	dctx, cancel := context.WithTimeout(ctx, trackerDialTimeout)
	defer cancel()
	conn, err := t.room.net.dial(dctx, t.url, trackerReadLimit)
	if err != nil {
		return nil, fmt.Errorf("failed to connect to tracker: %w", err)
	}
	return conn, nil
}

// session serves one connection: a reader dispatching the tracker's
// messages, and the announce schedule (warm-up again on every new
// connection). It reports whether the tracker sent anything.
func (t *trackerClient) session(ctx context.Context, conn trackerSocket) (answered bool, err error) {
	r := t.room
	// The reader outlives ctx a little so that a closing room can still
	// close the connection gracefully.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	t.mu.Lock()
	t.conn = conn
	t.state = TrackerOpen
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.conn = nil
		t.mu.Unlock()
	}()

	var got atomic.Bool
	readErr := make(chan error, 1)
	go func() {
		for {
			data, text, err := conn.read(sctx)
			if err != nil {
				readErr <- fmt.Errorf("failed to read from tracker: %w", err)
				return
			}
			got.Store(true)
			t.mu.Lock()
			t.attempts = 0
			t.mu.Unlock()
			if text {
				t.dispatch(data)
			}
		}
	}()

	attempt := 0
	timer := time.NewTimer(0)
	defer timer.Stop()
	nextDue := time.Now()
	for {
		select {
		case <-ctx.Done():
			closeGracefully(conn)
			<-readErr
			return got.Load(), ctx.Err()
		case err := <-readErr:
			_ = conn.closeNow()
			return got.Load(), err
		case <-t.kickCh:
			t.mu.Lock()
			at := t.lastAnnounce.Add(kickSpacing)
			t.mu.Unlock()
			if at.Before(nextDue) {
				nextDue = at
				timer.Reset(time.Until(at))
			}
		case <-timer.C:
			if err := t.announce(ctx); err != nil {
				r.log.Debug("failed to announce", "tracker", t.url, "err", err)
				_ = conn.closeNow()
			}
			delay := t.nextDelay(attempt)
			attempt++
			nextDue = time.Now().Add(delay)
			timer.Reset(delay)
		}
	}
}

// closeGracefully sends a close frame, waiting briefly for the tracker's.
func closeGracefully(conn trackerSocket) {
	done := make(chan struct{})
	go func() {
		_ = conn.close("leaving")
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
		_ = conn.closeNow()
	}
}

// steadyInterval is the announce interval after warm-up.
func (t *trackerClient) steadyInterval() time.Duration {
	if d := t.room.cfg.AnnounceSteady; d > 0 {
		return d
	}
	s := time.Duration(t.interval.Load()) * time.Second
	if s == 0 {
		return steadyIntervalMin
	}
	return min(max(s, steadyIntervalMin), steadyIntervalMax)
}

// nextDelay is the delay after the attempt-th announce of a connection.
func (t *trackerClient) nextDelay(attempt int) time.Duration {
	r := t.room
	r.mu.Lock()
	dormant := r.dormantLocked()
	r.mu.Unlock()
	phase, d := PhaseSteady, t.steadyInterval()
	switch {
	case dormant:
		phase, d = PhaseDormant, r.cfg.AnnounceDormant
	case attempt < len(r.cfg.AnnounceWarmup):
		phase, d = PhaseWarmup, min(d, r.cfg.AnnounceWarmup[attempt])
	}
	t.mu.Lock()
	t.phase = phase
	t.mu.Unlock()
	return d
}

// announce sends the room's offers, or a passive announce when the room is
// dormant or full.
func (t *trackerClient) announce(ctx context.Context) error {
	r := t.room
	offers, passive := r.announceOffers(ctx)
	msg := wire.NewOfferAnnounce(r.infoHash, r.selfID, offers)
	msg.Numwant = offerPoolSize
	if passive {
		var seeding int64
		msg.Left = &seeding
	}
	if err := t.send(ctx, msg); err != nil {
		return err
	}
	t.announces.Add(1)
	t.mu.Lock()
	t.lastAnnounce = time.Now()
	t.mu.Unlock()
	return nil
}

// send writes one message to the tracker.
func (t *trackerClient) send(ctx context.Context, m wire.TrackerMessage) error {
	data, err := wire.EncodeTrackerMessage(m)
	if err != nil {
		return err
	}
	t.mu.Lock()
	conn := t.conn
	t.mu.Unlock()
	if conn == nil {
		return fmt.Errorf("failed to send to %s: %w", t.url, ErrTrackerNotConnected)
	}
	wctx, cancel := context.WithTimeout(ctx, trackerWriteTimeout)
	defer cancel()
	if err := conn.writeText(wctx, data); err != nil {
		return fmt.Errorf("failed to send to %s: %w", t.url, err)
	}
	return nil
}

// dispatch handles one tracker message.
func (t *trackerClient) dispatch(data []byte) {
	r := t.room
	msg, err := wire.DecodeTrackerReply(data)
	if err != nil {
		r.log.Debug("ignoring tracker message", "tracker", t.url, "err", err)
		return
	}
	switch m := msg.(type) {
	case *wire.AnnounceReply:
		if m.InfoHash == r.infoHash {
			t.interval.Store(int64(m.Interval))
		}
	case *wire.ForwardedOffer:
		if m.InfoHash == r.infoHash {
			r.enqueueSignal(func() { r.handleOffer(trackerRoute{t}, m) })
		}
	case *wire.ForwardedAnswer:
		if m.InfoHash == r.infoHash {
			r.enqueueSignal(func() { r.handleAnswer(m) })
		}
	case *wire.TrackerFailure:
		t.mu.Lock()
		t.lastErr = "tracker failure: " + m.FailureReason
		t.mu.Unlock()
		r.log.Debug("tracker failure", "tracker", t.url, "reason", m.FailureReason)
	case *wire.TrackerWarning:
		r.log.Debug("tracker warning", "tracker", t.url, "warning", m.WarningMessage)
	}
}
