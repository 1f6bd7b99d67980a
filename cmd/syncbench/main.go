//go:build !js

// Command syncbench measures a sync between two native peers over real
// WebRTC on loopback, through an in-process tracker, and prints a markdown
// table: wall time, negentropy rounds, bytes each way, beside the naive
// exchange of every id and beside what pkg/merkle predicts for the same sets
// (the missing records' own size plus the reconciliation bytes).
//
//	go run ./cmd/syncbench [-n 100000] [-d 100,10000]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/swarm/session"
	"github.com/peersetdb/peerset/pkg/tracker"
)

func main() {
	nFlag := flag.String("n", "100000", "comma-separated set sizes (records per peer)")
	dFlag := flag.String("d", "100,10000", "comma-separated numbers of differences, split between the two peers")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up on one sync after this long")
	flag.Parse()
	ns, err1 := parseList(*nFlag)
	ds, err2 := parseList(*dFlag)
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "syncbench: -n and -d take comma-separated integers")
		os.Exit(2)
	}
	url, stop, err := startTracker()
	if err != nil {
		fmt.Fprintln(os.Stderr, "syncbench:", err)
		os.Exit(1)
	}
	defer stop()

	fmt.Printf("Sync of two native peers over WebRTC on loopback (%s/%s, %d CPUs, %s, %s)\n\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), runtime.Version())
	fmt.Println("| n | d | join → authenticated | sync wall time | rounds | bytes a→b | bytes b→a | total | missing records' size | merkle's reconciliation bytes | total ÷ (records + reconciliation) | naive: all ids both ways + records | total ÷ naive |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, n := range ns {
		for _, d := range ds {
			if d > n {
				continue
			}
			row, err := run(url, n, d, *timeout)
			if err != nil {
				fmt.Fprintf(os.Stderr, "syncbench: n=%d d=%d: %v\n", n, d, err)
				os.Exit(1)
			}
			fmt.Println(row)
		}
	}
}

func parseList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 0 {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, v)
	}
	return out, nil
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

// makeEvents signs count records (on every CPU) for room.
func makeEvents(count int, roomID string) ([]*record.Event, error) {
	out := make([]*record.Event, count)
	workers := runtime.NumCPU()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	base := time.Now().Add(-30 * 24 * time.Hour)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sk, err := record.GenerateKey()
			if err != nil {
				errs <- err
				return
			}
			for i := w; i < count; i += workers {
				at := base.Add(time.Duration(i) * 25 * time.Second) // spread over about a month at 100k
				e, err := record.New(record.Draft{Text: fmt.Sprintf("benchmark record %d with some text to give it a realistic size", i), CreatedAt: at}, sk, roomID, record.Limits{})
				if err != nil {
					errs <- err
					return
				}
				out[i] = e
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
		return out, nil
	}
}

func run(url string, n, d int, timeout time.Duration) (string, error) {
	ctx := context.Background()
	room := fmt.Sprintf("syncbench-%d-%d-%d", n, d, time.Now().UnixNano())
	roomID := record.RoomID(peerset.DefaultAppID, room)
	onlyA, onlyB := d/2, d-d/2
	fmt.Fprintf(os.Stderr, "n=%d d=%d: signing %d records...\n", n, d, n+onlyB)
	all, err := makeEvents(n+onlyB, roomID)
	if err != nil {
		return "", err
	}
	// Scattered differences: every k-th record is one peer's only.
	shared := n - onlyA
	var setA, setB, missing []*record.Event
	ai, bi := 0, 0
	for i, e := range all {
		switch {
		case ai < onlyA && i%((n+onlyB)/max(d, 1)+1) == 0:
			setA = append(setA, e)
			missing = append(missing, e)
			ai++
		case bi < onlyB && i%((n+onlyB)/max(d, 1)+1) == 1:
			setB = append(setB, e)
			missing = append(missing, e)
			bi++
		case len(setA)-ai < shared:
			setA = append(setA, e)
			setB = append(setB, e)
		default:
			setB = append(setB, e)
			missing = append(missing, e)
			bi++
		}
	}
	missingBytes := 0
	for _, e := range missing {
		missingBytes += record.JSONSize(e)
	}
	predicted, err := reconcileBytes(setA, setB)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "n=%d d=%d: a holds %d, b %d, %d differ; opening...\n", n, d, len(setA), len(setB), len(missing))
	open := moderation.PresetOpen()
	dbs := make([]*peerset.DB, 2)
	for i, set := range [][]*record.Event{setA, setB} {
		st := store.NewMemory()
		if err := st.Put(ctx, set...); err != nil {
			return "", err
		}
		if dbs[i], err = peerset.Open(ctx, peerset.Config{Room: room, Store: st, Moderation: &open, GCInterval: -1}); err != nil {
			return "", err
		}
		defer dbs[i].Close()
	}
	join := func(db *peerset.DB) error {
		return db.Join(ctx, peerset.JoinOptions{Trackers: []string{url}, ICEServers: []webrtc.ICEServer{}, LoopbackCandidates: true,
			Swarm: &swarm.Config{AnnounceSteady: time.Second}})
	}
	if err := join(dbs[0]); err != nil {
		return "", err
	}
	start := time.Now()
	if err := join(dbs[1]); err != nil {
		return "", err
	}
	var authAt time.Duration
	deadline := start.Add(timeout)
	for {
		if authAt == 0 {
			for _, s := range dbs[1].Sessions() {
				if s.State.Authenticated() {
					authAt = time.Since(start)
				}
			}
		}
		if dbs[0].Root() == dbs[1].Root() && dbs[0].Stats().Records == len(all) {
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no convergence within %v: %+v / %+v", timeout, dbs[0].Stats(), dbs[1].Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	wall := time.Since(start)
	var sa, sb session.SessionInfo
	if s := dbs[0].Sessions(); len(s) == 1 {
		sa = s[0]
	}
	if s := dbs[1].Sessions(); len(s) == 1 {
		sb = s[0]
	}
	rounds := sa.Rounds + sb.Rounds
	total := sa.BytesOut + sb.BytesOut
	ratio := float64(total) / float64(missingBytes+predicted)
	naive := int64(2*32*n + missingBytes)
	return fmt.Sprintf("| %d | %d | %v | %v | %d | %s | %s | %s | %s | %s | %.2f× | %s | %.2f× |",
		n, d, authAt.Round(time.Millisecond), wall.Round(time.Millisecond), rounds,
		size(sa.BytesOut), size(sb.BytesOut), size(total), size(int64(missingBytes)), size(int64(predicted)), ratio,
		size(naive), float64(total)/float64(naive)), nil
}

// reconcileBytes runs pkg/merkle's reconciliation between the two sets in
// memory, with the session's default frame limit, and returns the bytes of
// every message both ways.
func reconcileBytes(a, b []*record.Event) (int, error) {
	ta, tb := merkle.NewTree(), merkle.NewTree()
	for _, e := range a {
		_, _ = ta.Insert(merkle.Item{Timestamp: uint64(e.CreatedAt), ID: e.ID})
	}
	for _, e := range b {
		_, _ = tb.Insert(merkle.Item{Timestamp: uint64(e.CreatedAt), ID: e.ID})
	}
	opts := merkle.Options{FrameSizeLimit: session.DefaultFrameSizeLimit}
	in, err := merkle.NewInitiator(ta, opts)
	if err != nil {
		return 0, err
	}
	re, err := merkle.NewResponder(tb, opts)
	if err != nil {
		return 0, err
	}
	msg, err := in.Initiate()
	if err != nil {
		return 0, err
	}
	total := len(msg)
	for {
		reply, err := re.Respond(msg)
		if err != nil {
			return 0, err
		}
		total += len(reply)
		next, _, _, done, err := in.Reconcile(reply)
		if err != nil {
			return 0, err
		}
		if done {
			return total, nil
		}
		msg = next
		total += len(msg)
	}
}

func size(b int64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
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
