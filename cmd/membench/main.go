//go:build !js

// Command membench measures what a peer's memory grows with: the resident
// set (RSS) of `peerset join` holding n records in a bbolt file, and the Go
// heap a room needs per record natively, and prints a markdown table. With
// -baseline it measures an earlier peerset binary on the same records in the
// same run (the file is downgraded to the schema that binary reads).
//
//	go run ./cmd/membench [-n 1000000] [-baseline path/to/old/peerset]
//
// The records are written straight into the file with valid ids and
// unverified signatures (a peer does not verify what its own store holds),
// so that a million of them take seconds to make.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store/bolt"
	"github.com/peersetdb/peerset/pkg/tracker"
)

const room = "membench"

func main() {
	n := flag.Int("n", 1_000_000, "records in the room")
	baseline := flag.String("baseline", "", "an earlier peerset binary to measure on the same records (its store schema 1)")
	binary := flag.String("peerset", "bin/peerset", "the peerset binary to measure")
	heapOf := flag.String("heap", "", "(internal) open this file and print the heap per record")
	writeTo := flag.String("write", "", "only write the room's file here (for inspecting it)")
	flag.Parse()
	if *writeTo != "" {
		if err := writeRoom(context.Background(), *writeTo, *n); err != nil {
			fmt.Fprintln(os.Stderr, "membench:", err)
			os.Exit(1)
		}
		return
	}
	if *heapOf != "" {
		perRecord, err := heapPerRecord(context.Background(), *heapOf, *n)
		if err != nil {
			fmt.Fprintln(os.Stderr, "membench:", err)
			os.Exit(1)
		}
		fmt.Println(perRecord)
		return
	}
	if err := run(*n, *binary, *baseline); err != nil {
		fmt.Fprintln(os.Stderr, "membench:", err)
		os.Exit(1)
	}
}

func run(n int, bin, baseline string) error {
	dir, err := os.MkdirTemp("", "membench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	fmt.Fprintf(os.Stderr, "membench: writing %d records\n", n)
	path := filepath.Join(dir, "room.db")
	if err := writeRoom(ctx, path, n); err != nil {
		return err
	}
	// The heap is measured in a process of its own, which made nothing else.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	out, err := exec.Command(self, "-heap", path, "-n", strconv.Itoa(n)).Output()
	if err != nil {
		return fmt.Errorf("failed to measure the heap: %w", err)
	}
	heap, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		return err
	}
	url, stop, err := startTracker()
	if err != nil {
		return err
	}
	defer stop()

	fmt.Printf("Memory of a room of %d records (%s/%s, %d CPUs, %s)\n\n", n, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	fmt.Println("| measure | this build | baseline | this ÷ baseline |")
	fmt.Println("|---|---:|---:|---:|")
	rss, open, err := joinRSS(bin, path, url, n)
	if err != nil {
		return fmt.Errorf("this build: %w", err)
	}
	var baseRSS uint64
	var baseOpen time.Duration
	if baseline != "" {
		old := filepath.Join(dir, "room-v1.db")
		if err := copyFile(path, old); err != nil {
			return err
		}
		if err := downgradeToV1(old); err != nil {
			return err
		}
		if baseRSS, baseOpen, err = joinRSS(baseline, old, url, n); err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
	}
	row := func(name string, v, base float64, unit string) {
		b, ratio := "–", "–"
		if base > 0 {
			b, ratio = fmt.Sprintf("%.1f %s", base, unit), fmt.Sprintf("%.2f×", v/base)
		}
		fmt.Printf("| %s | %.1f %s | %s | %s |\n", name, v, unit, b, ratio)
	}
	row("`peerset join` RSS, all records loaded", float64(rss)/(1<<20), float64(baseRSS)/(1<<20), "MiB")
	row("RSS per record", float64(rss)/float64(n), float64(baseRSS)/float64(n), "B")
	row("`peerset join` start until every record is counted", open.Seconds(), baseOpen.Seconds(), "s")
	fmt.Printf("| Go heap of an open room per record (index, tree; after GC) | %.1f B | | |\n", heap)
	return nil
}

// writeRoom writes n records of 4 per author into a new bbolt file.
func writeRoom(ctx context.Context, path string, n int) error {
	st, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		return err
	}
	defer st.Close()
	roomID := record.RoomID(peerset.DefaultAppID, room)
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	batch := make([]*record.Event, 0, 10_000)
	var pk record.PublicKey
	for i := range n {
		if i%4 == 0 {
			sk, err := record.GenerateKey()
			if err != nil {
				return err
			}
			pk = sk.Public()
		}
		uuid := make([]byte, 16)
		for j := range uuid {
			uuid[j] = byte(rng.Uint32())
		}
		uuid[6], uuid[8] = 0x40|uuid[6]&0x0f, 0x80|uuid[8]&0x3f
		e := &record.Event{PubKey: pk, CreatedAt: now.Add(-time.Duration(n-i) * 5 * time.Second).Unix(), Kind: record.KindRecord,
			Tags:    [][]string{{record.TagUUID, record.FormatUUID([16]byte(uuid))}, {record.TagRoom, roomID}},
			Content: fmt.Sprintf("record %d, with a sentence or two of text, as a typical note in a room would have", i)}
		e.ID = e.ComputeID()
		batch = append(batch, e)
		if len(batch) == cap(batch) || i == n-1 {
			if err := st.Put(ctx, batch...); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	// Bind the file to the room as peerset does, so that join opens it.
	db, err := peerset.Open(ctx, peerset.Config{Room: room, Store: st, GCInterval: -1})
	if err != nil {
		return err
	}
	defer db.Close()
	if got := db.Stats().Records; got != n {
		return fmt.Errorf("the room holds %d records, not %d", got, n)
	}
	return nil
}

// heapPerRecord opens the room in this process and returns the Go heap it
// holds per record after a GC (the events stay in the file).
func heapPerRecord(ctx context.Context, path string, n int) (float64, error) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		return 0, err
	}
	std := moderation.PresetStandard()
	db, err := peerset.Open(ctx, peerset.Config{Room: room, Store: st, Moderation: &std, GCInterval: -1})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := db.Stats().Records; got != n {
		return 0, fmt.Errorf("the room holds %d records, not %d", got, n)
	}
	return (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(n), nil
}

// joinRSS runs `join` on the file until it reports every record, and
// returns its largest RSS over the next two seconds and how long the start
// took.
func joinRSS(bin, path, trackerURL string, n int) (uint64, time.Duration, error) {
	cmd := exec.Command(bin, "join", "--db", path, "--room", room, "--tracker", trackerURL, "--json", "--ice-loopback", "--moderation", "standard")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	loaded := make(chan time.Duration, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var st struct {
				Records *int `json:"records"`
			}
			if json.Unmarshal(sc.Bytes(), &st) == nil && st.Records != nil && *st.Records == n {
				loaded <- time.Since(start)
				_, _ = io.Copy(io.Discard, stdout)
				return
			}
		}
	}()
	var took time.Duration
	select {
	case took = <-loaded:
	case <-time.After(10 * time.Minute):
		return 0, 0, fmt.Errorf("join never reported %d records: %s", n, stderr.String())
	}
	var peak uint64
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		rss, err := readRSS(cmd.Process.Pid)
		if err != nil {
			return 0, 0, err
		}
		peak = max(peak, rss)
	}
	anon, _ := readStatus(cmd.Process.Pid, "RssAnon:")
	file, _ := readStatus(cmd.Process.Pid, "RssFile:")
	fmt.Fprintf(os.Stderr, "membench: %s: RSS %d MiB (anonymous %d MiB, file-backed %d MiB)\n", filepath.Base(bin), peak>>20, anon>>20, file>>20)
	return peak, took, nil
}

// readRSS reads VmRSS from /proc (Linux).
func readRSS(pid int) (uint64, error) { return readStatus(pid, "VmRSS:") }

// readStatus reads one kB field of /proc/PID/status (Linux).
func readStatus(pid int, field string) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("failed to read the RSS (Linux only): %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s line", field)
}

// downgradeToV1 rewrites a schema 2 file as schema 1 (the time index holds
// bare kinds), which earlier builds read.
func downgradeToV1(path string) error {
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *bbolt.Tx) error {
		byTime := tx.Bucket([]byte("by_time"))
		var keys [][]byte
		var kinds [][]byte
		if err := byTime.ForEach(func(k, v []byte) error {
			keys, kinds = append(keys, append([]byte(nil), k...)), append(kinds, append([]byte(nil), v[:2]...))
			return nil
		}); err != nil {
			return err
		}
		for i, k := range keys {
			if err := byTime.Put(k, kinds[i]); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("internal")).Put([]byte("schema"), binary.BigEndian.AppendUint64(nil, 1))
	})
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}

func startTracker() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	cfg := tracker.DefaultConfig()
	cfg.Logger = slog.New(slog.DiscardHandler)
	trk := tracker.New(cfg)
	srv := &http.Server{Handler: trk, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "ws://" + ln.Addr().String(), func() { trk.Close(); _ = srv.Close() }, nil
}
