//go:build !js

// Command speedprobe is the probe of `make bench-speed`
// (scripts/speed-bench.sh): it measures, in one process, how fast this build
// ingests a first sync into a fresh bbolt file and answers "newest 50",
// warm and right after a reopen, and prints the measures as one JSON line.
// The script builds it twice, against this tree and against the baseline
// commit's packages (the build before the compact index), so it uses only
// APIs that both have.
//
//	speedprobe -make events.jsonl -n 50000     # sign the records once
//	speedprobe -events events.jsonl -dir DIR   # measure; prints one JSON line
//	speedprobe -report this.jsonl [-baseline base.jsonl]  # medians, markdown table
//
// The records are signed once into a JSON-lines file that every probe
// reads, so that signing is excluded and both builds ingest identical
// events. Each probe writes its own bbolt file (the two builds' store
// schemas differ), in -dir, and removes it.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store/bolt"
)

const (
	room            = "speedbench"
	batchSize       = 1_000 // events per Ingest call, as a sync delivers them
	perAuthor       = 4     // records per author (within every preset's quota)
	newest          = 50    // the Query limit measured
	maxEventJSONLen = 1 << 20
)

// Measures is what one probe run prints (one JSON line).
type Measures struct {
	Records      int     `json:"records"`
	IngestPerSec float64 `json:"ingest_per_s"`  // records/s into a fresh file, batches of 1,000
	IngestCPUUS  float64 `json:"ingest_cpu_us"` // process CPU (user+sys, every thread) per record during ingest; 0: unknown
	QueryWarmUS  float64 `json:"query_warm_us"` // median of the repeated Query{Limit: 50} after ingest
	QueryColdUS  float64 `json:"query_cold_us"` // first Query{Limit: 50} after a reopen (median over reopens)
	ReopenMS     float64 `json:"reopen_ms"`     // bolt.Open + peerset.Open until Stats().Records == n (median over reopens)
}

func main() {
	n := flag.Int("n", 50_000, "records to sign (with -make)")
	makeTo := flag.String("make", "", "sign n records into this JSON-lines file and exit")
	events := flag.String("events", "", "the JSON-lines file of signed records to ingest")
	dir := flag.String("dir", "", "directory for this probe's bbolt file (default: a temp dir)")
	queries := flag.Int("queries", 200, "warm Query{Limit: 50} repetitions")
	reopens := flag.Int("reopens", 3, "reopens, each timed with its first query")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the measured part here")
	report := flag.String("report", "", "print the markdown table of the medians of this JSON-lines file of measures")
	baseline := flag.String("baseline", "", "with -report: the baseline's measures")
	title := flag.String("title", "", "with -report: a line printed above the table")
	flag.Parse()
	var err error
	switch {
	case *makeTo != "":
		err = makeEvents(*makeTo, *n)
	case *report != "":
		err = printReport(*report, *baseline, *title)
	case *events != "":
		var m Measures
		if m, err = probe(context.Background(), *events, *dir, *queries, *reopens, *cpuProfile); err == nil {
			var b []byte
			b, err = json.Marshal(m)
			fmt.Println(string(b))
		}
	default:
		err = errors.New("one of -make, -events or -report is required")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "speedprobe:", err)
		os.Exit(1)
	}
}

// makeEvents signs n text records of perAuthor per author, one a second up
// to a second ago (oldest first, the order a sync tends to deliver), and
// writes them as JSON lines.
func makeEvents(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	roomID := record.RoomID(peerset.DefaultAppID, room)
	now := time.Now().Truncate(time.Second)
	var sk *record.SecretKey
	for i := range n {
		if i%perAuthor == 0 {
			if sk, err = record.GenerateKey(); err != nil {
				_ = f.Close()
				return err
			}
		}
		e, err := record.New(record.Draft{
			Text:      fmt.Sprintf("record %d, with a sentence or two of text, as a typical note in a room would have", i),
			CreatedAt: now.Add(-time.Duration(n-i) * time.Second),
		}, sk, roomID, record.Limits{})
		if err != nil {
			_ = f.Close()
			return err
		}
		b, err := json.Marshal(e)
		if err != nil {
			_ = f.Close()
			return err
		}
		_, _ = w.Write(b)
		_ = w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func readEvents(path string) ([]*record.Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var events []*record.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxEventJSONLen)
	for sc.Scan() {
		var e record.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, len(events)+1, err)
		}
		events = append(events, &e)
	}
	return events, sc.Err()
}

func openDB(ctx context.Context, path string) (*peerset.DB, error) {
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		return nil, err
	}
	open := moderation.PresetOpen()
	db, err := peerset.Open(ctx, peerset.Config{Room: room, Store: st, Moderation: &open, GCInterval: -1})
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	return db, nil
}

// waitRecords waits until the DB reports n live records.
func waitRecords(db *peerset.DB, n int) error {
	deadline := time.Now().Add(5 * time.Minute)
	for db.Stats().Records != n {
		if time.Now().After(deadline) {
			return fmt.Errorf("the room holds %d records, not %d", db.Stats().Records, n)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

func queryNewest(ctx context.Context, db *peerset.DB) (time.Duration, error) {
	start := time.Now()
	recs, err := db.Query(ctx, peerset.Query{Limit: newest})
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	if len(recs) != newest {
		return 0, fmt.Errorf("Query{Limit: %d} returned %d records", newest, len(recs))
	}
	return took, nil
}

func probe(ctx context.Context, eventsPath, dir string, queries, reopens int, cpuProfile string) (Measures, error) {
	events, err := readEvents(eventsPath)
	if err != nil {
		return Measures{}, err
	}
	n := len(events)
	if n < newest {
		return Measures{}, fmt.Errorf("%s holds %d records, fewer than %d", eventsPath, n, newest)
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "speedprobe"); err != nil {
			return Measures{}, err
		}
		defer os.RemoveAll(dir)
	}
	path := filepath.Join(dir, fmt.Sprintf("room-%d.db", os.Getpid()))
	_ = os.Remove(path)
	defer os.Remove(path)
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return Measures{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return Measures{}, err
		}
		defer pprof.StopCPUProfile()
	}
	m := Measures{Records: n}

	// Ingest: a fresh file, n records from one peer in batches.
	db, err := openDB(ctx, path)
	if err != nil {
		return m, err
	}
	peerKey, err := record.GenerateKey()
	if err != nil {
		return m, err
	}
	origin := peerset.Origin{PeerID: "p", PubKey: peerKey.Public()}
	runtime.GC()
	cpuBefore, cpuOK := processCPU()
	start := time.Now()
	for i := 0; i < n; i += batchSize {
		for j, o := range db.Ingest(ctx, origin, events[i:min(i+batchSize, n)]) {
			if !o.Stored {
				_ = db.Close()
				return m, fmt.Errorf("record %d was not stored: %v", i+j, o.Err)
			}
		}
	}
	m.IngestPerSec = float64(n) / time.Since(start).Seconds()
	if cpuAfter, ok := processCPU(); ok && cpuOK {
		m.IngestCPUUS = float64((cpuAfter - cpuBefore).Microseconds()) / float64(n)
	}
	events = nil
	if err := waitRecords(db, n); err != nil {
		_ = db.Close()
		return m, err
	}

	// Warm: the same query again and again on the open DB.
	runtime.GC()
	warm := make([]time.Duration, 0, queries)
	for range queries {
		took, err := queryNewest(ctx, db)
		if err != nil {
			_ = db.Close()
			return m, err
		}
		warm = append(warm, took)
	}
	m.QueryWarmUS = float64(median(warm).Nanoseconds()) / 1e3
	if err := db.Close(); err != nil {
		return m, err
	}

	// Reopen the file, wait until every record is loaded, then time the
	// first query (nothing of this process has read an event yet; the OS
	// page cache holds the file in both builds alike).
	var reopen, cold []time.Duration
	for range max(reopens, 1) {
		runtime.GC()
		start := time.Now()
		db, err := openDB(ctx, path)
		if err != nil {
			return m, err
		}
		if err := waitRecords(db, n); err != nil {
			_ = db.Close()
			return m, err
		}
		reopen = append(reopen, time.Since(start))
		took, err := queryNewest(ctx, db)
		if err != nil {
			_ = db.Close()
			return m, err
		}
		cold = append(cold, took)
		if err := db.Close(); err != nil {
			return m, err
		}
	}
	m.ReopenMS = float64(median(reopen).Microseconds()) / 1e3
	m.QueryColdUS = float64(median(cold).Nanoseconds()) / 1e3
	return m, nil
}

// processCPU returns the CPU time of this process (user+sys, every
// thread) from /proc/self/stat, in ticks of 10 ms (Linux); false elsewhere.
// It is far less sensitive to other load on the machine than wall time.
func processCPU() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	_, after, ok := strings.Cut(string(b), ") ") // the command name may hold spaces
	fields := strings.Fields(after)
	if !ok || len(fields) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64) // field 14 of proc(5)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const userHZ = 100 // USER_HZ, fixed in Linux's ABI
	return time.Duration(utime+stime) * time.Second / userHZ, true
}

func median[T ~int64 | ~float64](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func readMeasures(path string) ([]Measures, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Measures
	for line := range strings.Lines(string(b)) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var m Measures
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no measures", path)
	}
	return out, nil
}

// printReport prints the medians of the rounds as a markdown table.
func printReport(thisPath, basePath, title string) error {
	this, err := readMeasures(thisPath)
	if err != nil {
		return err
	}
	var base []Measures
	if basePath != "" {
		if base, err = readMeasures(basePath); err != nil {
			return err
		}
	}
	if title != "" {
		fmt.Printf("%s\n\n", title)
	}
	fmt.Println("| measure | this build | baseline | this ÷ baseline |")
	fmt.Println("|---|---:|---:|---:|")
	col := func(ms []Measures, f func(Measures) float64) float64 {
		xs := make([]float64, len(ms))
		for i, m := range ms {
			xs[i] = f(m)
		}
		return median(xs)
	}
	row := func(name, unit, format string, f func(Measures) float64) {
		v := col(this, f)
		b, ratio := "–", "–"
		if len(base) > 0 && col(base, f) > 0 {
			bv := col(base, f)
			b, ratio = fmt.Sprintf(format+" %s", bv, unit), fmt.Sprintf("%.2f×", v/bv)
		}
		fmt.Printf("| %s | "+format+" %s | %s | %s |\n", name, v, unit, b, ratio)
	}
	row(fmt.Sprintf("ingest: records/s a fresh bbolt-backed DB takes in from a peer, batches of %d (verify, moderate, store, tree; higher is better)", batchSize),
		"rec/s", "%.0f", func(m Measures) float64 { return m.IngestPerSec })
	if col(this, func(m Measures) float64 { return m.IngestCPUUS }) > 0 {
		row("ingest CPU: process CPU time (user+sys, every thread) per record during that ingest (lower is better; little affected by other load)",
			"µs", "%.0f", func(m Measures) float64 { return m.IngestCPUUS })
	}
	row(fmt.Sprintf("Query newest %d, warm: median latency of the query repeated on the open DB after ingest", newest),
		"µs", "%.0f", func(m Measures) float64 { return m.QueryWarmUS })
	row(fmt.Sprintf("Query newest %d after reopen (cold): the first query once the reopened DB is loaded", newest),
		"µs", "%.0f", func(m Measures) float64 { return m.QueryColdUS })
	row("reopen until loaded: bolt.Open + peerset.Open until Stats().Records is every record",
		"ms", "%.0f", func(m Measures) float64 { return m.ReopenMS })
	fmt.Printf("\nMedians of %d rounds per build (each round a fresh process and file", len(this))
	if len(base) > 0 {
		fmt.Printf("; the builds run alternately")
	}
	fmt.Println("). For ingest records/s higher is better, for the others lower.")
	return nil
}
