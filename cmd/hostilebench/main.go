//go:build !js

// Command hostilebench measures how a room holds under attack: two honest
// native peers (in-memory stores, the standard moderation preset) converge
// over real WebRTC on loopback, through an in-process tracker, while one
// attacker runs each attack of the security review in turn. For each attack
// it prints, against the same pair with no attacker measured in the same
// run, the honest pair's convergence time, the peak heap of the honest
// process, the bytes the honest peers sent (and how many of them went to the
// attacker), and the strikes and bans the attacker earned, as a markdown
// table.
//
//	go run ./cmd/hostilebench [-records 2000] [-attacks stall,forged,storage,wants,negs,roots,halfopen] [-linger 3s] [-max 60s] [-v]
//
// The attacker runs in a process of its own (this binary re-executed with
// -attacker NAME -tracker URL -room R), so that the heap measured is the
// honest peers' alone.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/swarm/session"
	"github.com/peersetdb/peerset/pkg/tracker"
)

func main() {
	if isAttackerInvocation(os.Args[1:]) {
		os.Exit(attackerMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	var o benchOptions
	attacks := flag.String("attacks", strings.Join(allAttacks, ","), "comma-separated attacks to run after the baseline: "+strings.Join(allAttacks, ", "))
	flag.IntVar(&o.Records, "records", 2000, "records each honest peer holds (half of them shared)")
	flag.DurationVar(&o.Linger, "linger", 3*time.Second, "how long a row goes on after the honest pair converged")
	flag.DurationVar(&o.MaxRow, "max", 60*time.Second, "longest row: give up on convergence after this")
	flag.IntVar(&o.Sybils, "sybils", 12, "swarm peers of the half-open attack")
	verbose := flag.Bool("v", false, "log the attacker's progress on stderr")
	flag.Parse()
	var err error
	if o.Attacks, err = parseAttacks(*attacks); err != nil || o.Records < 2 {
		fmt.Fprintln(os.Stderr, "hostilebench: -attacks takes a comma-separated list of", strings.Join(allAttacks, ", "), "and -records at least 2")
		os.Exit(2)
	}
	o.Progress = os.Stderr
	if *verbose {
		o.AttackerLog = os.Stderr
	}
	rows, err := runBench(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hostilebench:", err)
		os.Exit(1)
	}
	printTable(os.Stdout, o, rows)
}

func parseAttacks(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" || f == "none" {
			continue
		}
		if _, ok := attackInfo[f]; !ok {
			return nil, fmt.Errorf("unknown attack %q", f)
		}
		out = append(out, f)
	}
	return out, nil
}

type benchOptions struct {
	Records     int
	Attacks     []string // rows after the baseline
	Linger      time.Duration
	MaxRow      time.Duration
	Sybils      int
	Progress    io.Writer // one line per row (nil: none)
	AttackerLog io.Writer // the attacker's notes (nil: none)
}

// rowResult is one line of the table.
type rowResult struct {
	Attack      string // "" for the baseline
	Converged   bool
	Convergence time.Duration // from the joins to equal roots holding the union
	Length      time.Duration // from the joins to the end of the row
	PeakHeap    int64         // HeapInuse of this process above the row's baseline
	BytesOut    int64         // payload bytes sent by both honest peers, every session
	BytesToAtk  int64         // of which in sessions with the attacker
	AtkSessions int           // sessions the honest peers opened with the attacker
	AtkAuth     int           // of which authenticated
	Strikes     int           // strikes those sessions earned
	Bans        int           // bans of the attacker's key, summed over both ledgers
	Held        [2]int        // events (records and deletions) held at the end
	SameAtEnd   bool          // equal roots at the end
	Final       time.Duration // from the joins until either root last changed
	Connected   time.Duration // from the joins until the honest peers authenticated each other
	Expected    int           // the union of the honest records
	Note        string
}

func runBench(ctx context.Context, o benchOptions) ([]rowResult, error) {
	if o.Linger <= 0 {
		o.Linger = 3 * time.Second
	}
	if o.MaxRow <= 0 {
		o.MaxRow = 60 * time.Second
	}
	if o.Sybils <= 0 {
		o.Sybils = 12
	}
	url, stop, err := startTracker()
	if err != nil {
		return nil, err
	}
	defer stop()
	var rows []rowResult
	for _, attack := range append([]string{""}, o.Attacks...) {
		row, err := runRow(ctx, o, url, attack)
		if err != nil {
			return rows, fmt.Errorf("%s: %w", label(attack), err)
		}
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "hostilebench: %s: converged %v in %v, peak heap +%s, %s sent (%s to the attacker), %d strikes, %d bans\n",
				label(attack), row.Converged, row.Convergence.Round(time.Millisecond), size(row.PeakHeap), size(row.BytesOut), size(row.BytesToAtk), row.Strikes, row.Bans)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func label(attack string) string {
	if attack == "" {
		return "no attacker"
	}
	return attackInfo[attack].label
}

func startTracker() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("failed to listen: %w", err)
	}
	cfg := tracker.DefaultConfig()
	cfg.Logger = slog.New(slog.DiscardHandler)
	trk := tracker.New(cfg)
	srv := &http.Server{Handler: trk, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "ws://" + ln.Addr().String() + "/announce", func() { trk.Close(); _ = srv.Close() }, nil
}

// honestSets signs the honest records for roomID: records [0, n) for a,
// [n/2, n/2+n) for b, so half of each peer's records are shared and the
// union holds n + n - n/2. Each author signs 4 records (the standard
// preset's quota is 5 live records per author), and every text differs (its
// duplicate rule).
func honestSets(n int, roomID string) (a, b []*record.Event, union [][32]byte, err error) {
	total := n + n - n/2
	all := make([]*record.Event, total)
	keys := make([]*record.SecretKey, (total+3)/4)
	for i := range keys {
		if keys[i], err = record.GenerateKey(); err != nil {
			return nil, nil, nil, err
		}
	}
	base := time.Now().Add(-7 * 24 * time.Hour)
	workers := runtime.NumCPU()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < total; i += workers {
				e, err := record.New(record.Draft{Text: fmt.Sprintf("honest record %d, with some text to give it a realistic size", i),
					CreatedAt: base.Add(time.Duration(i) * 10 * time.Second)}, keys[i/4], roomID, record.Limits{})
				if err != nil {
					errs <- err
					return
				}
				all[i] = e
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, nil, nil, err
	default:
	}
	for _, e := range all {
		union = append(union, e.ID)
	}
	return all[:n], all[n/2:], union, nil
}

// sessionLog keeps the final SessionInfo of every session of one honest DB.
type sessionLog struct {
	mu     sync.Mutex
	closed []session.SessionInfo
}

func (l *sessionLog) add(s session.SessionInfo) {
	l.mu.Lock()
	l.closed = append(l.closed, s)
	l.mu.Unlock()
}

func (l *sessionLog) all() []session.SessionInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.closed)
}

// attackerProc is the attacker process of one row.
type attackerProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	ready chan struct{}
	exit  chan struct{}

	killOnce sync.Once

	mu   sync.Mutex
	key  record.PublicKey // the key it authenticates with
	done map[string]bool  // peers whose script ended
	auth map[string]bool  // peers it authenticated with
	err  strings.Builder  // its stderr
}

func startAttacker(attack, trackerURL, room string, sybils int, logw io.Writer) (*attackerProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ap := &attackerProc{ready: make(chan struct{}), exit: make(chan struct{}), done: map[string]bool{}, auth: map[string]bool{}}
	ap.cmd = exec.Command(exe, "-attacker", attack, "-tracker", trackerURL, "-room", room, "-sybils", strconv.Itoa(sybils))
	ap.cmd.Stderr = &lockedWriter{mu: &ap.mu, w: &ap.err}
	if ap.stdin, err = ap.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := ap.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := ap.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(ap.exit)
		sc := bufio.NewScanner(stdout)
		readyOnce := sync.OnceFunc(func() { close(ap.ready) })
		for sc.Scan() {
			line := sc.Text()
			verb, rest, _ := strings.Cut(line, " ")
			ap.mu.Lock()
			switch verb {
			case "ready":
				readyOnce()
			case "done":
				ap.done[rest] = true
			case "auth":
				ap.auth[rest] = true
			case "key":
				if k, err := record.ParsePublicKeyHex(rest); err == nil {
					ap.key = k
				}
			}
			ap.mu.Unlock()
			if logw != nil {
				fmt.Fprintf(logw, "  attacker %s: %s\n", attack, line)
			}
		}
	}()
	select {
	case <-ap.ready:
		return ap, nil
	case <-ap.exit:
		ap.kill()
		return nil, fmt.Errorf("the attacker process ended before it was ready: %s", ap.stderr())
	case <-time.After(2 * time.Minute):
		ap.kill()
		return nil, errors.New("the attacker process was not ready within 2 minutes")
	}
}

func (ap *attackerProc) doneWith(peers ...string) bool {
	ap.mu.Lock()
	defer ap.mu.Unlock()
	for _, p := range peers {
		if !ap.done[p] {
			return false
		}
	}
	return true
}

func (ap *attackerProc) publicKey() record.PublicKey {
	ap.mu.Lock()
	defer ap.mu.Unlock()
	return ap.key
}

func (ap *attackerProc) stderr() string {
	ap.mu.Lock()
	defer ap.mu.Unlock()
	return strings.TrimSpace(ap.err.String())
}

func (ap *attackerProc) kill() {
	ap.killOnce.Do(func() {
		_ = ap.stdin.Close()
		_ = ap.cmd.Process.Kill()
		_ = ap.cmd.Wait()
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// heapSampler records the peak of runtime.MemStats.HeapInuse every 20 ms.
type heapSampler struct {
	stop chan struct{}
	done chan struct{}
	peak uint64
}

func sampleHeap() *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			h.peak = max(h.peak, ms.HeapInuse)
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) Stop() uint64 {
	close(h.stop)
	<-h.done
	return h.peak
}

// rootWatcher notes when the roots of two DBs last changed.
type rootWatcher struct {
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	same    bool
	changed time.Time
}

func watchRoots(a, b *peerset.DB) *rootWatcher {
	w := &rootWatcher{stop: make(chan struct{}), done: make(chan struct{}), changed: time.Now()}
	go func() {
		defer close(w.done)
		var last [2][16]byte
		for {
			ra, rb := [16]byte(a.Root()), [16]byte(b.Root())
			w.mu.Lock()
			if ra != last[0] || rb != last[1] {
				last, w.changed = [2][16]byte{ra, rb}, time.Now()
			}
			w.same = ra == rb
			w.mu.Unlock()
			select {
			case <-w.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return w
}

// state says whether the roots are equal, and when either last changed.
func (w *rootWatcher) state() (bool, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.same, w.changed
}

func (w *rootWatcher) Stop() {
	close(w.stop)
	<-w.done
}

func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func runRow(ctx context.Context, o benchOptions, trackerURL, attack string) (row rowResult, err error) {
	row.Attack = attack
	name := attack
	if name == "" {
		name = "baseline"
	}
	room := fmt.Sprintf("hostilebench-%s-%d", name, time.Now().UnixNano())
	roomID := record.RoomID(peerset.DefaultAppID, room)
	setA, setB, union, err := honestSets(o.Records, roomID)
	if err != nil {
		return row, err
	}
	row.Expected = len(union)

	std := moderation.PresetStandard()
	dbs := make([]*peerset.DB, 2)
	logs := []*sessionLog{{}, {}}
	for i, set := range [][]*record.Event{setA, setB} {
		st := store.NewMemory()
		if err := st.Put(ctx, set...); err != nil {
			return row, err
		}
		if dbs[i], err = peerset.Open(ctx, peerset.Config{Room: room, Store: st, Moderation: &std, GCInterval: -1}); err != nil {
			return row, err
		}
		defer dbs[i].Close()
	}

	var atk *attackerProc
	if attack != "" {
		if atk, err = startAttacker(attack, trackerURL, room, o.Sybils, o.AttackerLog); err != nil {
			return row, err
		}
		defer atk.kill()
	}

	base := heapInuse()
	sampler := sampleHeap()
	start := time.Now()
	deadline := start.Add(o.MaxRow)
	for i, db := range dbs {
		err := db.Join(ctx, peerset.JoinOptions{Trackers: []string{trackerURL}, ICEServers: []webrtc.ICEServer{}, LoopbackCandidates: true,
			Swarm:   &swarm.Config{AnnounceSteady: time.Second, TrackerReconnectMin: 100 * time.Millisecond, TrackerReconnectMax: time.Second},
			Session: session.Config{OnSessionClosed: logs[i].add}})
		if err != nil {
			sampler.Stop()
			return row, err
		}
	}
	watch := watchRoots(dbs[0], dbs[1])
	selfIDs := [2]string{dbs[0].SelfID(), dbs[1].SelfID()}
	ledgers := [2]*moderation.Ledger{dbs[0].Ledger(), dbs[1].Ledger()}

	// Converged: equal roots, and both hold every record of the union (the
	// attacker may have added its own).
	checked := false
	var checkedRoot [16]byte
	holdsUnion := func(db *peerset.DB) bool {
		evs, err := db.Events(ctx, union)
		return err == nil && len(evs) == len(union)
	}
	for time.Now().Before(deadline) {
		ra, rb := dbs[0].Root(), dbs[1].Root()
		if ra == rb && (!checked || [16]byte(ra) != checkedRoot) {
			checked, checkedRoot = true, [16]byte(ra)
			if holdsUnion(dbs[0]) && holdsUnion(dbs[1]) {
				row.Converged, row.Convergence = true, time.Since(start)
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The row goes on for the linger time after convergence and after the
	// attack settled (see settle), within MaxRow.
	convergedAt := time.Now()
	settled := func() bool {
		if atk == nil {
			return true
		}
		switch attackInfo[attack].settle {
		case settleDone:
			return atk.doneWith(selfIDs[:]...)
		case settleBanned:
			k := atk.publicKey()
			for _, l := range ledgers {
				if l == nil {
					return false
				}
				if banned, _ := l.Banned(moderation.KeySubject(k)); !banned {
					return false
				}
			}
			return true
		case settleHandshake:
			return time.Since(convergedAt) > session.DefaultHandshakeTimeout+time.Second
		}
		return true
	}
	for time.Now().Before(deadline) && !settled() {
		time.Sleep(20 * time.Millisecond)
	}
	if end := time.Now().Add(o.Linger); end.Before(deadline) {
		time.Sleep(time.Until(end))
	} else {
		time.Sleep(time.Until(deadline))
	}
	// An attack may leave the pair with different sets, or still busy with
	// what it sent: the row ends once both roots are equal and have not
	// changed for a second (within MaxRow).
	for time.Now().Before(deadline) {
		same, changed := watch.state()
		if same && time.Since(changed) >= time.Second {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	same, changed := watch.state()
	watch.Stop()
	row.SameAtEnd, row.Final = same, changed.Sub(start)
	row.Length = time.Since(start)
	peak := sampler.Stop()
	row.PeakHeap = int64(peak) - int64(base)
	for i, db := range dbs {
		s := db.Stats()
		row.Held[i] = s.Records + s.Deletions
	}
	if !row.Converged {
		var held [2]int
		for i, db := range dbs {
			evs, _ := db.Events(ctx, union)
			held[i] = len(evs)
		}
		row.Note = fmt.Sprintf("no convergence within %v: a holds %d and b %d of the %d honest records; roots %s and %s",
			o.MaxRow, held[0], held[1], len(union), dbs[0].Stats().Root, dbs[1].Stats().Root)
	}

	// End the attack, then leave: every session ends and is logged.
	if atk != nil {
		atk.kill()
		if msg := atk.stderr(); msg != "" {
			row.Note = strings.TrimSpace(row.Note + " attacker: " + msg)
		}
	}
	var wg sync.WaitGroup
	for _, db := range dbs {
		wg.Go(func() { _ = db.Leave() })
	}
	wg.Wait()

	if o.AttackerLog != nil {
		for i, l := range logs {
			for _, s := range l.all() {
				who := "attacker"
				if s.PeerID == selfIDs[1-i] {
					who = "honest"
				}
				fmt.Fprintf(o.AttackerLog, "  %c's session with %s %s: authenticated %v, out %s in %d msgs, in %s in %d msgs, records in %d stored %d refused %d throttled %d out %d, %d reconciliations %d rounds, %d strikes, upload deferred %d, closed: %v\n",
					'a'+i, who, s.PeerID, !s.AuthenticatedAt.IsZero(), size(s.BytesOut), s.MessagesOut, size(s.BytesIn), s.MessagesIn,
					s.RecordsIn, s.RecordsStored, s.RecordsRefused, s.RecordsThrottled, s.RecordsOut, s.Reconciliations, s.Rounds, s.Strikes, s.UploadDeferred, s.CloseReason)
			}
		}
	}
	keys := map[record.PublicKey]bool{}
	for i, l := range logs {
		var authAt time.Time // our first authentication of the other honest peer
		for _, s := range l.all() {
			row.BytesOut += s.BytesOut
			if s.PeerID == selfIDs[1-i] {
				if !s.AuthenticatedAt.IsZero() && (authAt.IsZero() || s.AuthenticatedAt.Before(authAt)) {
					authAt = s.AuthenticatedAt
				}
				continue
			}
			row.BytesToAtk += s.BytesOut
			row.AtkSessions++
			row.Strikes += s.Strikes
			if !s.AuthenticatedAt.IsZero() {
				row.AtkAuth++
				keys[s.PubKey] = true
			}
		}
		if !authAt.IsZero() {
			row.Connected = max(row.Connected, authAt.Sub(start))
		}
	}
	for k := range keys {
		for _, l := range ledgers {
			if l != nil {
				row.Bans += l.Status(moderation.KeySubject(k)).Bans
			}
		}
	}
	return row, nil
}

func printTable(w io.Writer, o benchOptions, rows []rowResult) {
	if len(rows) == 0 {
		return
	}
	b := rows[0]
	fmt.Fprintf(w, "Hostile room: two honest native peers over WebRTC on loopback, through an in-process tracker, with one attacker process (%s/%s, %d CPUs, %s, %s)\n\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), runtime.Version())
	fmt.Fprintln(w, "| attack | honest pair authenticated at | converged in | × | peak heap | × | bytes sent by the honest peers | × | of which to the attacker | attacker sessions (authenticated) | strikes | bans | events held at the end (a / b) | final set agreed at | row length |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	ratio := func(v, base float64) string {
		if base <= 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f×", v/base)
	}
	for _, r := range rows {
		conv, convRatio := "**no convergence**", "–"
		if r.Converged {
			conv = r.Convergence.Round(time.Millisecond).String()
			if b.Converged {
				convRatio = ratio(float64(r.Convergence), float64(b.Convergence))
			}
		}
		sessions, strikes, bans := "–", "–", "–"
		if r.Attack != "" {
			sessions = fmt.Sprintf("%d (%d)", r.AtkSessions, r.AtkAuth)
			strikes, bans = strconv.Itoa(r.Strikes), strconv.Itoa(r.Bans)
		}
		final := "**never**"
		if r.SameAtEnd {
			final = r.Final.Round(time.Millisecond).String()
		}
		connected := "**never**"
		if r.Connected > 0 {
			connected = r.Connected.Round(time.Millisecond).String()
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d / %d | %s | %v |\n",
			label(r.Attack), connected, conv, convRatio, size(r.PeakHeap), ratio(float64(r.PeakHeap), float64(b.PeakHeap)),
			size(r.BytesOut), ratio(float64(r.BytesOut), float64(b.BytesOut)), size(r.BytesToAtk),
			sessions, strikes, bans, r.Held[0], r.Held[1], final, r.Length.Round(100*time.Millisecond))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Each peer holds %d records (in-memory store, standard moderation preset, default session limits), half of them shared: the union is %d records by %d authors (4 each, under the preset's quota of 5). "+
		"The attacker joins the room first with a fresh key; each row has a room, honest peers and an attacker of its own. "+
		"*Honest pair authenticated at*: from the joins until the two honest peers had authenticated each other (signalling through the tracker, WebRTC, handshake: it varies by up to a second from run to run with the tracker announce timing). "+
		"*Converged*: both peers' roots are equal and both hold every honest record, timed from the joins. "+
		"A row lasts until convergence and until the attack settled (the attacker's script ended with both peers for finite attacks, its key is banned by both peers for continuous ones, a handshake timeout went by for half-open handshakes), then %v more, then until both roots are equal and unchanged for 1 s, at most %v in all. *Final set agreed at*: when either root last changed, if they are equal at the end. "+
		"*Peak heap*: `runtime.MemStats.HeapInuse` of the honest process (both peers and the tracker; the attacker runs in another process), sampled every 20 ms, above its value after a GC just before the joins. "+
		"*Bytes*: session payload bytes (`SessionInfo.BytesOut`) of every session of both honest peers, including the sessions with the attacker, without Trystero, SCTP and DTLS framing. "+
		"*Strikes*: what the attacker's sessions earned; *bans*: of its key, in both peers' ledgers (5 strikes in 10 min ban for 15 min). "+
		"*Events held*: records and deletions, the honest union plus whatever the attacker got stored.\n\n",
		o.Records, b.Expected, (b.Expected+3)/4, o.Linger, o.MaxRow)
	for _, r := range rows[1:] {
		what := attackInfo[r.Attack].what
		if r.Attack == attackHalfOpen {
			what = strings.Replace(what, "N swarm peers", fmt.Sprintf("%d swarm peers", o.Sybils), 1)
		}
		fmt.Fprintf(w, "- **%s**: %s.\n", label(r.Attack), what)
	}
	for _, r := range rows {
		if r.Note != "" {
			fmt.Fprintf(w, "- *%s*: %s\n", label(r.Attack), r.Note)
		}
	}
}

func size(b int64) string {
	neg := ""
	if b < 0 {
		neg, b = "-", -b
	}
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%s%.2f MiB", neg, float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%s%.1f KiB", neg, float64(b)/(1<<10))
	}
	return fmt.Sprintf("%s%d B", neg, b)
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			if _, v, ok := strings.Cut(line, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown CPU"
}
