//go:build !js

// Command swarmsim runs a whole peerset room in one process (pkg/swarm/swarmsim:
// the real swarm and session code over an in-memory network) on a virtual
// clock, prints progress on stderr and, as the last line on stdout, one JSON
// object with what it measured:
//
//	go run ./cmd/swarmsim -peers 1000 -records 10000 -json
//
// The virtual clock is a testing/synctest bubble: every timer of every peer
// runs on it, and it jumps ahead whenever all goroutines wait, so simulated
// minutes cost only the CPU the peers really use. synctest needs a
// *testing.T, so the simulation runs as the single test of testing.Main,
// with the testing package's own output sent to stderr.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/peersetdb/peerset/pkg/swarm/swarmsim"
)

func main() {
	fs := flag.NewFlagSet("swarmsim", flag.ContinueOnError)
	var o swarmsim.Options
	fs.IntVar(&o.Peers, "peers", 100, "peers in the room")
	fs.IntVar(&o.Records, "records", 1000, "records every peer holds at the start")
	fs.IntVar(&o.Trackers, "trackers", 2, "in-process trackers")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of latencies, losses and choices")
	fs.DurationVar(&o.Latency, "latency", 40*time.Millisecond, "mean one-way link latency")
	fs.DurationVar(&o.Jitter, "jitter", 0, "latency spread (± around -latency; default half of it)")
	fs.Float64Var(&o.Loss, "loss", 0, "probability that a message is lost once and retransmitted, in [0, 1)")
	fs.Float64Var(&o.Unreachable, "unreachable", 0, "fraction of peers behind NATs that no two of them can cross (their records travel through members both reach), in [0, 1]")
	fs.Float64Var(&o.Churn, "churn", 0, "fraction of peers replaced per simulated minute, for one minute before measuring")
	fs.Float64Var(&o.Kill, "kill", 0.3, "fraction of peers killed with every tracker in the heal phase (negative: skip it)")
	fs.IntVar(&o.Probes, "probes", 3, "new records whose spread is measured")
	fs.IntVar(&o.MaxPeers, "max-peers", 0, "swarm and session MaxPeers (0: the default, 32)")
	fs.DurationVar(&o.JoinOver, "join-over", 30*time.Second, "the peers join spread over this (simulated)")
	fs.DurationVar(&o.Settle, "settle", 60*time.Second, "simulated wait after the last join")
	fs.DurationVar(&o.Deadline, "deadline", 60*time.Second, "how long one new record may take to reach everyone (simulated)")
	asJSON := fs.Bool("json", false, "print the result as one JSON object (the last line of stdout)")
	quiet := fs.Bool("q", false, "no progress on stderr")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "swarmsim: unexpected arguments %q\n", fs.Args())
		os.Exit(2)
	}
	if err := o.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var progress io.Writer = os.Stderr
	if *quiet {
		progress = nil
	}

	out := os.Stdout
	os.Stdout = os.Stderr // the testing package's PASS/FAIL lines
	os.Args = os.Args[:1]
	var res swarmsim.Result
	var runErr error
	wall := time.Now()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	test := func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			res, runErr = swarmsim.Run(o, progress)
		})
		res.WallS = time.Since(wall).Seconds()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Fprintf(os.Stderr, "swarmsim: %.1f s of wall time, %.1f s simulated; heap in use at the end %d MiB, memory from the OS %d MiB\n",
			res.WallS, res.SimulatedS, m.HeapInuse>>20, m.Sys>>20)
		if runErr != nil {
			fmt.Fprintln(os.Stderr, "swarmsim:", runErr)
			t.Fail()
			return
		}
		if *asJSON {
			b, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(out, "%s\n", b)
			return
		}
		fmt.Fprintf(out, "peers %d, records %d: sessions per peer max %d (mean %.1f); a new record reaches 99%% in %d hops, %.0f ms; %.0f bytes sent per peer for it; %.2f tracker announces per settled peer per minute; healed after killing %.0f%% and every tracker: %v\n",
			res.Peers, res.Records, res.LinksMax, res.LinksMean, res.ReachHopsP99, res.ReachMSP99, res.BytesPerPeer, res.AnnouncesPerPeerMin, 100*o.Kill, res.Healed)
	}
	match := regexp.MustCompile("^swarmsim$")
	testing.Main(func(_, name string) (bool, error) { return match.MatchString(name), nil },
		[]testing.InternalTest{{Name: "swarmsim", F: test}}, nil, nil)
}
