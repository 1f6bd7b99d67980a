// Command reconbench measures set reconciliation by peerset's pkg/merkle against go-nostr's
// negentropy in the same process and prints markdown tables: messages, bytes each way, CPU time,
// the naive exchange of all ids (32·n bytes) and the ratios. Differences are scattered at random and
// split between the two sides. Every run is checked against the true differences.
//
//	go run ./cmd/reconbench -max-n 100000
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/peersetdb/peerset/interop"
	"github.com/peersetdb/peerset/pkg/merkle"
)

type config struct {
	ns, ds      []int
	seed        uint64
	spanDays    int
	granularity merkle.Granularity
	frameLimit  int
	mixed       bool
}

func main() {
	var (
		maxN     = flag.Int("max-n", 1_000_000, "largest set size to run")
		nsFlag   = flag.String("n", "1000,10000,100000,1000000", "set sizes, comma-separated")
		dsFlag   = flag.String("d", "0,1,10,100,1000", "numbers of differences, comma-separated")
		seed     = flag.Uint64("seed", 1, "random seed")
		spanDays = flag.Int("span-days", 90, "timestamps are spread over this many days")
		gran     = flag.String("granularity", "day", "time buckets for the bucketed table: day, quarter-day, hour, or none to skip it")
		frame    = flag.Int("frame", 16384, "frame size limit for the frame-limited table; 0 skips it")
		mixed    = flag.Bool("mixed", true, "also run ours against theirs in both directions")
	)
	flag.Parse()
	cfg := config{seed: *seed, spanDays: *spanDays, frameLimit: *frame, mixed: *mixed}
	var err error
	if cfg.ns, err = parseInts(*nsFlag, *maxN); err == nil {
		cfg.ds, err = parseInts(*dsFlag, 0)
	}
	if err == nil {
		cfg.granularity, err = merkle.ParseGranularity(*gran)
	}
	if err == nil && cfg.frameLimit != 0 && cfg.frameLimit < merkle.MinFrameSizeLimit {
		err = fmt.Errorf("frame limit must be 0 or at least %d", merkle.MinFrameSizeLimit)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "reconbench:", err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	failed := run(out, os.Stderr, cfg)
	out.Flush()
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "reconbench: %d runs did not find the exact differences\n", failed)
		os.Exit(1)
	}
}

func parseInts(s string, limit int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 0 {
			return nil, fmt.Errorf("failed to parse %q as a list of non-negative integers", s)
		}
		if limit == 0 || v <= limit {
			out = append(out, v)
		}
	}
	return out, nil
}

type key struct{ n, d, frame int }

type bench struct {
	cfg       config
	progress  io.Writer
	scenarios map[[2]int]interop.Scenario
	theirs    map[key]interop.Result
	failed    int
}

func run(out, progress io.Writer, cfg config) int {
	b := &bench{cfg: cfg, progress: progress, scenarios: map[[2]int]interop.Scenario{}, theirs: map[key]interop.Result{}}
	fmt.Fprintf(out, "# Set reconciliation: peerset pkg/merkle vs go-nostr nip77/negentropy\n\n")
	fmt.Fprintf(out, "Machine: %s/%s, %d CPUs, %s, %s. Measured in one process, both sides in memory.\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), runtime.Version())
	fmt.Fprintf(out, "Items: timestamps spread over %d days, random ids; d differences scattered at random, "+
		"split between the two sides. Bytes are binary (NIP-77 hex doubles them); → initiator to responder, "+
		"← back. Messages count both directions. CPU is user+system time of both sides, excluding building the sets. "+
		"Naive = 32·n bytes. Ours: merkle defaults (a single-fingerprint opening without time buckets; at most %d "+
		"sub-ranges per split, about √m near the leaves; responder id lists below %d items, initiator id lists only "+
		"for empty ranges); theirs: 16 buckets, id lists below 32 items.\n\n",
		cfg.spanDays, merkle.DefaultBranching, merkle.DefaultIDListThreshold)

	b.table(out, "No frame limit, no time buckets", 0, merkle.Options{})
	if cfg.granularity != merkle.GranularityNone {
		b.table(out, fmt.Sprintf("Ours with %s time buckets in the first message (theirs unchanged)", cfg.granularity),
			0, merkle.Options{Granularity: cfg.granularity})
	}
	if cfg.frameLimit > 0 {
		b.table(out, fmt.Sprintf("Frame size limit %d bytes on both sides", cfg.frameLimit), cfg.frameLimit, merkle.Options{})
	}
	if cfg.mixed {
		b.mixedTable(out)
	}
	return b.failed
}

func (b *bench) scenario(n, d int) interop.Scenario {
	k := [2]int{n, d}
	s, ok := b.scenarios[k]
	if !ok {
		s = interop.ScatteredScenario(b.cfg.seed, n, d, uint64(b.cfg.spanDays)*86400)
		if len(b.scenarios) > 0 && n >= 100_000 {
			clear(b.scenarios) // large scenarios are rebuilt rather than kept
		}
		b.scenarios[k] = s
	}
	return s
}

func (b *bench) measure(n, d int, cfg interop.Config) (interop.Result, bool) {
	s := b.scenario(n, d)
	label := fmt.Sprintf("n=%d d=%d %s→%s frame=%d granularity=%s", n, d, cfg.Initiator, cfg.Responder, cfg.FrameSizeLimit, cfg.Options.Granularity)
	fmt.Fprintf(b.progress, "reconbench: %s ...", label)
	start := time.Now()
	res, err := interop.Run(s, cfg)
	if err == nil {
		err = res.Check(s)
	}
	if err != nil {
		fmt.Fprintf(b.progress, " FAILED: %v\n", err)
		b.failed++
		return res, false
	}
	fmt.Fprintf(b.progress, " %d msgs, %d bytes, %s\n", res.Messages, res.Bytes(), time.Since(start).Round(time.Millisecond))
	return res, true
}

func (b *bench) theirResult(n, d, frame int) (interop.Result, bool) {
	k := key{n, d, frame}
	if r, ok := b.theirs[k]; ok {
		return r, true
	}
	r, ok := b.measure(n, d, interop.Config{Initiator: interop.Theirs, Responder: interop.Theirs, FrameSizeLimit: frame})
	if ok {
		b.theirs[k] = r
	}
	return r, ok
}

func (b *bench) table(out io.Writer, title string, frame int, opts merkle.Options) {
	fmt.Fprintf(out, "## %s\n\n", title)
	fmt.Fprintln(out, "| n | d | ours msgs | ours bytes → / ← | ours total | ours CPU ms | theirs msgs | theirs bytes → / ← | theirs total | theirs CPU ms | naive 32·n | ours/theirs | ours/naive |")
	fmt.Fprintln(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, n := range b.cfg.ns {
		for _, d := range b.cfg.ds {
			if d > n {
				continue
			}
			ours, okOurs := b.measure(n, d, interop.Config{Initiator: interop.Ours, Responder: interop.Ours, FrameSizeLimit: frame, Options: opts})
			theirs, okTheirs := b.theirResult(n, d, frame)
			naive := 32 * n
			fmt.Fprintf(out, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				count(n), d,
				msgs(ours, okOurs), split(ours, okOurs), total(ours, okOurs), cpu(ours, okOurs),
				msgs(theirs, okTheirs), split(theirs, okTheirs), total(theirs, okTheirs), cpu(theirs, okTheirs),
				size(naive), ratio(ours, okOurs, theirs.Bytes(), okTheirs), ratio(ours, okOurs, naive, true))
			if w, ok := out.(*bufio.Writer); ok {
				w.Flush()
			}
		}
	}
	fmt.Fprintln(out)
}

func (b *bench) mixedTable(out io.Writer) {
	fmt.Fprintf(out, "## Mixed pairs (no frame limit): ours initiating against their responder and the reverse\n\n")
	fmt.Fprintln(out, "| n | d | ours→theirs msgs | ours→theirs bytes | theirs→ours msgs | theirs→ours bytes | theirs→theirs bytes |")
	fmt.Fprintln(out, "|---:|---:|---:|---:|---:|---:|---:|")
	for _, n := range b.cfg.ns {
		for _, d := range b.cfg.ds {
			if d > n {
				continue
			}
			a, okA := b.measure(n, d, interop.Config{Initiator: interop.Ours, Responder: interop.Theirs})
			c, okC := b.measure(n, d, interop.Config{Initiator: interop.Theirs, Responder: interop.Ours})
			t, okT := b.theirResult(n, d, 0)
			fmt.Fprintf(out, "| %s | %d | %s | %s | %s | %s | %s |\n", count(n), d,
				msgs(a, okA), total(a, okA), msgs(c, okC), total(c, okC), total(t, okT))
			if w, ok := out.(*bufio.Writer); ok {
				w.Flush()
			}
		}
	}
	fmt.Fprintln(out)
}

func msgs(r interop.Result, ok bool) string {
	if !ok {
		return "FAILED"
	}
	return strconv.Itoa(r.Messages)
}

func split(r interop.Result, ok bool) string {
	if !ok {
		return "FAILED"
	}
	return size(r.BytesOut) + " / " + size(r.BytesIn)
}

func total(r interop.Result, ok bool) string {
	if !ok {
		return "FAILED"
	}
	return size(r.Bytes())
}

func cpu(r interop.Result, ok bool) string {
	if !ok {
		return "FAILED"
	}
	return strconv.FormatFloat(float64(r.CPU.Microseconds())/1000, 'f', 1, 64)
}

func ratio(r interop.Result, ok bool, other int, otherOK bool) string {
	if !ok || !otherOK || other == 0 {
		return "–"
	}
	return strconv.FormatFloat(float64(r.Bytes())/float64(other), 'f', 3, 64)
}

func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

func size(b int) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
	case b >= 10*1024:
		return fmt.Sprintf("%.1f KiB", float64(b)/1024)
	}
	return fmt.Sprintf("%d B", b)
}

// cpuModel reads the CPU model name from /proc/cpuinfo where it exists.
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "CPU model unknown"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "CPU model unknown"
}
