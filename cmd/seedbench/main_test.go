//go:build !js

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary be a fresh peer too: run starts this
// executable with -fresh-peer.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-fresh-peer" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestTinyRoom runs the whole bench on a tiny room: the real `peerset join`
// seeds 200 signed records to 3 simulated peers over pion through trackers
// on loopback, and a fresh peer process syncs them. The fresh peer must
// reach the seeder's record count and root, every simulated peer must
// attach and stay attached, and the table must carry its rows and columns.
// A second run reuses the room's file.
func TestTinyRoom(t *testing.T) {
	if testing.Short() {
		t.Skip("builds peerset and runs WebRTC peers (about 30 s)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "peerset")
	if out, err := exec.Command("go", "build", "-o", bin, "../peerset").CombinedOutput(); err != nil {
		t.Fatalf("go build ../peerset: %v\n%s", err, out)
	}
	c := config{n: 200, peers: 3, fresh: 1, db: filepath.Join(dir, "room.db"), peersetBin: bin, perTracker: 2,
		idle: 2 * time.Second, timeout: 2 * time.Minute, out: filepath.Join(dir, "table.md")}
	table, res, err := run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if res.records != 200 || len(res.root) != 32 {
		t.Fatalf("the seeder held %d records, root %q", res.records, res.root)
	}
	if res.sims != 3 || res.stillAt != 3 {
		t.Errorf("%d simulated peers attached, %d still attached after the sync; want 3 and 3", res.sims, res.stillAt)
	}
	if len(res.fresh) != 1 {
		t.Fatalf("%d fresh peer results, want 1", len(res.fresh))
	}
	if f := res.fresh[0]; f.Records != 200 || f.Root != res.root || f.BytesIn < 200*300 || f.FirstSession <= 0 || f.Synced < f.FirstSession || f.CPU <= 0 {
		t.Errorf("fresh peer: %+v; want the seeder's 200 records and root %s", f, res.root)
	}
	for _, want := range []string{
		"| seeder | value |", "| signing and writing the room (this run) |", "| RSS, peers idle (peak over", "| CPU, peers idle |",
		"| sent to the idle peers (data-channel bytes) |", "| RSS peak during the sync |", "| CPU during the sync |",
		"| raw pion data channel on loopback, 16 KiB / 64 KiB messages |",
		"| fresh peer | first session | full sync | records/s | received | received/s | CPU during the sync | CPU per record | waited for a CPU | RSS peak |",
		"Bound: the sync took", "1-min load",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}
	if written, err := os.ReadFile(c.out); err != nil || string(written) != table {
		t.Errorf("the table file holds %q (%v), want the table printed", written, err)
	}

	// A second run reuses the file: no signing row.
	c.peers, c.out = 1, ""
	table, res, err = run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(table, "signing and writing") || res.records != 200 || res.fresh[0].Root != res.root {
		t.Errorf("second run: records %d, fresh %+v, table:\n%s", res.records, res.fresh, table)
	}
}

// TestBadFlags: values that cannot work are errors that name the flag.
func TestBadFlags(t *testing.T) {
	good := config{n: 10, peers: 1, fresh: 1, perTracker: 1, idle: time.Second, timeout: time.Minute, peersetBin: os.Args[0]}
	for _, tc := range []struct {
		change func(*config)
		want   string
	}{
		{func(c *config) { c.n = 0 }, "-n"},
		{func(c *config) { c.peers = -1 }, "-peers"},
		{func(c *config) { c.fresh = -2 }, "-fresh"},
		{func(c *config) { c.perTracker = 0 }, "-per-tracker"},
		{func(c *config) { c.idle = 0 }, "-idle"},
		{func(c *config) { c.peersetBin = filepath.Join(t.TempDir(), "missing") }, "make build"},
	} {
		c := good
		tc.change(&c)
		if _, _, err := run(context.Background(), c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", c, err, tc.want)
		}
	}
}

// TestVerdict: the verdict names the lowest ceiling: the link when the CPU
// per record is small, a side's CPU when it is the one that cannot keep up.
func TestVerdict(t *testing.T) {
	base := bound{records: 100_000, bytes: 100_000 * 500, wall: 50, raw: 10 << 20, cores: 2}
	for _, tc := range []struct {
		seederCPU, freshCPU float64
		want                string
	}{
		{1, 2, "**the link**"},                 // 2M records/s of CPU; the link carries ≈ 21k/s
		{1, 100, "**the fresh peer's CPU**"},   // 2,000 records/s
		{150, 20, "**the seeder's CPU**"},      // 1,333 records/s
		{150, 200, "**the fresh peer's CPU**"}, // 1,000 records/s
	} {
		v := base
		v.seederCPU, v.freshCPU = tc.seederCPU, tc.freshCPU
		got := v.verdict()
		if !strings.Contains(got, tc.want) {
			t.Errorf("seeder %v s, fresh %v s: %q, want %s", tc.seederCPU, tc.freshCPU, got, tc.want)
		}
		if tc.want != "**the link**" && !strings.Contains(got, "limited by the CPU, not the link") {
			t.Errorf("%q does not say the CPU limits the sync", got)
		}
	}
}
