//go:build !js

// Command seedbench measures a native seeder serving a big room (issue 11):
// the real `peerset join` holding n signed records in a bbolt file, with
// -peers simulated peers attached over real WebRTC (pion, on loopback)
// through real trackers in this process, while -fresh fresh peers (each a
// process of its own, an empty bbolt file, the standard rules) do a full
// sync from it. It prints a markdown table on stdout (also to
// out/seed-bench.md) and its progress on stderr: the seeder's RSS and CPU
// with the peers idle and during the sync, the fresh peers' time to a first
// session and to the full set, their CPU, the bytes sent, and the
// throughput of a raw pion data channel on loopback measured in the same run,
// to tell whether the link or a CPU bounds the sync.
//
//	make build && go run ./cmd/seedbench [-n 1000000] [-peers 100] [-fresh 1] [-db out/seedbench/room-N.db]
//
// The records carry valid BIP-340 signatures (a fresh peer verifies every
// one), signed on every core, 4 per key; the file is kept (-db) so that a
// second run skips the signing. A simulated peer is a real swarm room and
// session manager (Trystero handshake, authenticated session) over a
// replica that shares one read-only tree of the room's ids: its root is the
// seeder's, so it sits in the room as an already-synced peer without
// holding the records; it serves none. The seeder runs with --max-peers
// above the room's size, --mesh-high -1 and its per-peer upload budget
// lifted; the fresh peers with their ingest budget lifted: what bounds the
// sync is then the machinery, not a rate limit.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/peersetdb/peerset/pkg/tracker"
)

// roomName is the room of the bench.
const roomName = "seedbench"

// config is what one run measures.
type config struct {
	n, peers, fresh int
	db              string // the room's file; "" → out/seedbench/room-N.db
	peersetBin      string
	perTracker      int           // simulated peers per tracker
	idle            time.Duration // the window of the idle measurement
	timeout         time.Duration // bounds each phase
	out             string        // the table is also written here ("" → not)
	progress        io.Writer
}

func main() {
	var c config
	flag.IntVar(&c.n, "n", 1_000_000, "records in the room")
	flag.IntVar(&c.peers, "peers", 100, "simulated peers attached to the seeder")
	flag.IntVar(&c.fresh, "fresh", 1, "fresh peers doing a full sync at once")
	flag.StringVar(&c.db, "db", "", "the room's bbolt file, kept between runs (default out/seedbench/room-N.db)")
	flag.StringVar(&c.peersetBin, "peerset", "bin/peerset", "the peerset binary run as the seeder (make build)")
	flag.IntVar(&c.perTracker, "per-tracker", 5, "simulated peers per tracker (each tracker serves the seeder and this many)")
	flag.DurationVar(&c.idle, "idle", 30*time.Second, "how long the seeder's steady state with idle peers is measured")
	flag.DurationVar(&c.timeout, "timeout", 30*time.Minute, "bounds each phase (loading, attaching, the sync)")
	flag.StringVar(&c.out, "out", "out/seed-bench.md", "also write the table here (empty: stdout only)")
	freshMode := flag.Bool("fresh-peer", false, "(internal) run as a fresh peer")
	trackerURL := flag.String("tracker", "", "(internal, -fresh-peer) the tracker")
	root := flag.String("root", "", "(internal, -fresh-peer) the root to reach")
	flag.Parse()
	if flag.NArg() != 0 {
		fail(fmt.Errorf("unexpected argument %q", flag.Arg(0)), 2)
	}
	if *freshMode {
		if err := runFresh(*trackerURL, c.db, c.n, *root, c.timeout, os.Stdout); err != nil {
			fail(err, 1)
		}
		return
	}
	c.progress = os.Stderr
	table, _, err := run(context.Background(), c)
	if err != nil {
		fail(err, 1)
	}
	fmt.Print(table)
}

func fail(err error, code int) {
	fmt.Fprintln(os.Stderr, "seedbench:", err)
	os.Exit(code)
}

// check validates the flags.
func (c *config) check() error {
	switch {
	case c.n < 1:
		return fmt.Errorf("-n %d: want at least 1 record", c.n)
	case c.peers < 0:
		return fmt.Errorf("-peers %d is negative", c.peers)
	case c.fresh < 0:
		return fmt.Errorf("-fresh %d is negative", c.fresh)
	case c.perTracker < 1:
		return fmt.Errorf("-per-tracker %d: want at least 1", c.perTracker)
	case c.idle <= 0 || c.timeout <= 0:
		return fmt.Errorf("-idle and -timeout must be positive")
	}
	if c.db == "" {
		c.db = filepath.Join("out", "seedbench", fmt.Sprintf("room-%d.db", c.n))
	}
	if _, err := os.Stat(c.peersetBin); err != nil {
		return fmt.Errorf("no peerset binary at %s (make build): %w", c.peersetBin, err)
	}
	return nil
}

// result is what run measured, for the test.
type result struct {
	records int
	root    string // the seeder's
	sims    int    // simulated peers attached
	stillAt int    // of those, still attached after the sync
	fresh   []freshResult
}

// run measures one room and returns the markdown table.
func run(ctx context.Context, c config) (string, *result, error) {
	if err := c.check(); err != nil {
		return "", nil, err
	}
	if c.progress == nil {
		c.progress = io.Discard
	}
	logf := func(format string, args ...any) { fmt.Fprintf(c.progress, "seedbench: "+format+"\n", args...) }
	res := &result{}
	startedAt := time.Now().UTC()
	loadStart := loadAvg()

	rf, err := prepareRoom(ctx, c.db, c.n, c.progress)
	if err != nil {
		return "", nil, err
	}
	root := rf.tree.Root().String()

	// One tracker per group of simulated peers and one per fresh peer; the
	// seeder announces to all of them.
	groups := (c.peers + c.perTracker - 1) / c.perTracker
	var trackers []string
	for range groups + c.fresh {
		url, stop, err := startTracker()
		if err != nil {
			return "", nil, err
		}
		defer stop()
		trackers = append(trackers, url)
	}
	maxPeers := c.peers + c.fresh + 16
	const uploadRate = 1 << 40
	sd, err := startSeeder(c.peersetBin, rf.path, trackers, maxPeers, uploadRate)
	if err != nil {
		return "", nil, err
	}
	defer sd.stop()
	if err := sd.waitFor(c.timeout, "every record loaded", func(id string, records int, _ string, _ int) bool { return id != "" && records == c.n }); err != nil {
		return "", nil, err
	}
	loaded := time.Since(sd.started)
	seederID, records, seederRoot, _ := sd.status()
	res.records, res.root = records, seederRoot
	if seederRoot != root {
		return "", nil, fmt.Errorf("the seeder's root %s is not the file's %s", seederRoot, root)
	}
	rssLoaded, _ := readRSS(sd.pid())
	logf("seeder %s holds %d records (root %.12s…), loaded in %v, RSS %v", seederID, records, root, loaded.Round(time.Millisecond), rssLoaded)

	// The simulated peers.
	set := &sharedSet{tree: rf.tree, ids: rf.ids}
	attachStart := time.Now()
	sims, err := startSims(ctx, set, trackers[:groups], seederID, c.peers, c.perTracker, 60*time.Second, c.progress)
	if err != nil {
		return "", nil, err
	}
	defer func() {
		for _, s := range sims {
			s.close()
		}
	}()
	attachTook := time.Since(attachStart)
	res.sims = len(sims)
	logf("%d of %d simulated peers attached in %v", len(sims), c.peers, attachTook.Round(time.Millisecond))

	// The steady state with the peers idle.
	time.Sleep(3 * time.Second)
	idleCPU0, err := procCPU(sd.pid())
	if err != nil {
		return "", nil, err
	}
	var idleBytes0 uint64
	for _, s := range sims {
		idleBytes0 += s.bytesFromSeeder()
	}
	logf("measuring the seeder with %d idle peers for %v", len(sims), c.idle)
	idleSampler := sampleRSS(sd.pid(), 250*time.Millisecond)
	idleStart := time.Now()
	time.Sleep(c.idle)
	idleWall := time.Since(idleStart)
	idleRSS := idleSampler.Peak()
	idleCPU1, _ := procCPU(sd.pid())
	var idleBytes1 uint64
	for _, s := range sims {
		idleBytes1 += s.bytesFromSeeder()
	}
	_, _, _, seederPeers := sd.status()

	// The raw link, in the same conditions (the simulated peers attached).
	logf("measuring a raw pion data channel on loopback")
	raw16, err := rawThroughput(ctx, 16<<10, 3*time.Second)
	if err != nil {
		return "", nil, err
	}
	raw64, err := rawThroughput(ctx, 64<<10, 3*time.Second)
	if err != nil {
		return "", nil, err
	}

	// The fresh peers' full sync.
	dir, err := os.MkdirTemp("", "seedbench-fresh")
	if err != nil {
		return "", nil, err
	}
	defer os.RemoveAll(dir)
	logf("%d fresh peer(s) syncing %d records", c.fresh, c.n)
	syncCPU0, _ := procCPU(sd.pid())
	syncWait0, _ := procWait(sd.pid())
	benchCPU0, _ := procCPU(os.Getpid())
	syncSampler := sampleRSS(sd.pid(), 100*time.Millisecond)
	syncStart := time.Now()
	var peers []*freshPeer
	for i := range c.fresh {
		f, err := startFresh(trackers[groups+i], filepath.Join(dir, fmt.Sprintf("fresh-%d.db", i)), c.n, root, c.timeout)
		if err != nil {
			return "", nil, err
		}
		defer func() { _ = f.cmd.Process.Kill() }()
		peers = append(peers, f)
	}
	progressDone := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-progressDone:
				return
			case <-t.C:
				r, _ := readRSS(sd.pid())
				logf("sync running for %v; seeder RSS %v", time.Since(syncStart).Round(time.Second), r)
			}
		}
	}()
	var syncErr error
	for _, f := range peers {
		r, err := f.wait()
		if err != nil {
			syncErr = cmpErr(syncErr, err)
			continue
		}
		res.fresh = append(res.fresh, r)
	}
	close(progressDone)
	syncWall := time.Since(syncStart)
	syncRSS := syncSampler.Peak()
	syncCPU1, _ := procCPU(sd.pid())
	syncWait1, _ := procWait(sd.pid())
	benchCPU1, _ := procCPU(os.Getpid())
	hwm, _ := procStatus(sd.pid(), "VmHWM:")
	if syncErr != nil {
		return "", nil, syncErr
	}
	for _, s := range sims {
		if s.attached() {
			res.stillAt++
		}
	}
	loadEnd := loadAvg()

	// The table.
	var b strings.Builder
	mib := func(v uint64) string { return fmt.Sprintf("%.0f MiB", float64(v)/(1<<20)) }
	fmt.Fprintf(&b, "Native seeder: `peerset join` on bbolt with %d records, %d simulated peers (%d attached), %d fresh peer(s) syncing (%s/%s, %d CPUs, %s, %s; %s UTC; 1-min load %.2f at start, %.2f at end, on a machine shared with other builds)\n\n",
		c.n, c.peers, len(sims), c.fresh, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), runtime.Version(), startedAt.Format("2006-01-02 15:04"), loadStart, loadEnd)
	b.WriteString("| seeder | value |\n|---|---:|\n")
	if rf.generated > 0 {
		fmt.Fprintf(&b, "| signing and writing the room (this run) | %.1f s (%.0f records/s) |\n", rf.generated.Seconds(), float64(c.n)/rf.generated.Seconds())
	}
	fmt.Fprintf(&b, "| start until every record is loaded | %.1f s |\n", loaded.Seconds())
	fmt.Fprintf(&b, "| RSS, records loaded, no peer | %v |\n", rssLoaded)
	fmt.Fprintf(&b, "| simulated peers attached (authenticated sessions) | %d of %d in %.1f s; the seeder reports %d peers |\n", len(sims), c.peers, attachTook.Seconds(), seederPeers)
	fmt.Fprintf(&b, "| RSS, peers idle (peak over %.0f s) | %v |\n", idleWall.Seconds(), idleRSS)
	fmt.Fprintf(&b, "| CPU, peers idle | %.1f %% of one core |\n", 100*(idleCPU1-idleCPU0).Seconds()/idleWall.Seconds())
	fmt.Fprintf(&b, "| sent to the idle peers (data-channel bytes) | %.0f B/s (%.1f B/s per peer) |\n", float64(idleBytes1-idleBytes0)/idleWall.Seconds(), float64(idleBytes1-idleBytes0)/idleWall.Seconds()/float64(max(1, len(sims))))
	fmt.Fprintf(&b, "| RSS peak during the sync | %v |\n", syncRSS)
	fmt.Fprintf(&b, "| RSS high-water mark (VmHWM, whole run) | %s |\n", mib(hwm))
	seederCPU := (syncCPU1 - syncCPU0).Seconds()
	fmt.Fprintf(&b, "| CPU during the sync | %.1f s over %.1f s: %.2f cores (waited %.1f s for a CPU) |\n", seederCPU, syncWall.Seconds(), seederCPU/syncWall.Seconds(), (syncWait1 - syncWait0).Seconds())
	benchUtil := (benchCPU1 - benchCPU0).Seconds() / syncWall.Seconds()
	fmt.Fprintf(&b, "| (this process meanwhile: trackers, simulated peers) | %.2f cores |\n", benchUtil)
	fmt.Fprintf(&b, "| raw pion data channel on loopback, 16 KiB / 64 KiB messages | %.1f / %.1f MiB/s |\n", raw16/(1<<20), raw64/(1<<20))
	b.WriteString("\n| fresh peer | first session | full sync | records/s | received | received/s | CPU during the sync | CPU per record | waited for a CPU | RSS peak |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var v bound
	v.raw, v.cores, v.seederCPU, v.bench = raw16, runtime.NumCPU(), seederCPU, benchUtil
	for i, r := range res.fresh {
		syncS := r.Synced - r.FirstSession
		fmt.Fprintf(&b, "| %d | %.2f s | %.1f s | %.0f | %.1f MiB | %.2f MiB/s | %.1f s: %.2f cores | %.0f µs | %.1f s | %s |\n",
			i+1, r.FirstSession, r.Synced, float64(r.Records)/syncS, float64(r.BytesIn)/(1<<20), float64(r.BytesIn)/syncS/(1<<20),
			r.CPUSync, r.CPUSync/syncS, 1e6*r.CPUSync/float64(r.Records), r.WaitSync, mib(r.HWM))
		v.records += r.Records
		v.bytes += r.BytesIn
		v.freshCPU += r.CPUSync
		v.wall = max(v.wall, syncS)
	}
	if len(res.fresh) > 0 {
		fmt.Fprintf(&b, "\n%s\n", v.verdict())
	}
	table := b.String()
	if c.out != "" {
		if err := os.MkdirAll(filepath.Dir(c.out), 0o755); err == nil {
			_ = os.WriteFile(c.out, []byte(table), 0o644)
		}
	}
	return table, res, nil
}

// bound is what the verdict weighs: the records and bytes the fresh peers
// received over wall seconds, the CPU seconds each side spent on them, and
// the raw data channel's bytes per second.
type bound struct {
	records             int
	bytes               int64
	wall                float64
	seederCPU, freshCPU float64 // seconds
	bench               float64 // cores
	raw                 float64
	cores               int
}

// verdict says which resource bounds the sync, from three ceilings in
// records per second: what the raw data channel carries at the sync's
// bytes per record, and what the seeder's and the fresh peers' CPU seconds
// per record allow with every core of the machine to themselves.
func (v bound) verdict() string {
	perRecord := float64(v.bytes) / float64(v.records)
	achieved := float64(v.records) / v.wall
	link := v.raw / perRecord
	seeder := float64(v.cores) * float64(v.records) / v.seederCPU
	fresh := float64(v.cores) * float64(v.records) / v.freshCPU
	s := fmt.Sprintf("Bound: the sync took %.0f records/s (%.2f MiB/s, %.0f B per record). Ceilings, in records/s: the raw data channel %.0f (%.1f MiB/s); "+
		"the seeder's CPU %.0f and the fresh peer's %.0f, each with all %d cores to itself (%.0f and %.0f µs of CPU per record). ",
		achieved, achieved*perRecord/(1<<20), perRecord, link, v.raw/(1<<20), seeder, fresh, v.cores, 1e6*v.seederCPU/float64(v.records), 1e6*v.freshCPU/float64(v.records))
	lowest, who := link, "the link"
	if seeder < lowest {
		lowest, who = seeder, "the seeder's CPU"
	}
	if fresh < lowest {
		lowest, who = fresh, "the fresh peer's CPU"
	}
	both := float64(v.cores) * float64(v.records) / (v.seederCPU + v.freshCPU)
	s += fmt.Sprintf("Both ends sharing this machine's cores: %.0f. The lowest ceiling is **%s**", both, who)
	if who != "the link" {
		s += fmt.Sprintf(": the sync is limited by the CPU, not the link (%.1f× below it)", link/lowest)
	}
	return s + "."
}

func startTracker() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("failed to listen: %w", err)
	}
	cfg := tracker.DefaultConfig()
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.MaxConnsPerIP = -1 // every peer of the bench is on 127.0.0.1
	trk := tracker.New(cfg)
	srv := &http.Server{Handler: trk, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "ws://" + ln.Addr().String() + "/announce", func() { trk.Close(); _ = srv.Close() }, nil
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, "model name") {
			if _, v, ok := strings.Cut(line, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown CPU"
}
