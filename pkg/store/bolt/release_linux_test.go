//go:build linux

package bolt

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/peersetdb/peerset/pkg/record"
)

// mappedRSS is the resident part of this process's mappings of the file at
// path, from /proc/self/smaps, in bytes.
func mappedRSS(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var total int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = len(fields) >= 6 && fields[len(fields)-1] == path
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") && len(fields) >= 2 {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			total += kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return total
}

// TestReadsByIDDoNotKeepTheFileResident: a peer serving a big room reads
// events by id all over the file, and opening it scans the whole time index;
// every readsBeforeRelease of them the store drops the file's pages from the
// process's resident set, so its RSS does not grow to the file's size (a
// seeder of 1M records reached 1.4 GiB of file-backed RSS before).
func TestReadsByIDDoNotKeepTheFileResident(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 50 MB file")
	}
	old := readsBeforeRelease
	readsBeforeRelease = 64
	t.Cleanup(func() { readsBeforeRelease = old })

	path := filepath.Join(t.TempDir(), "big.db")
	s, err := Open(path, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	sk, err := record.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	const n, textBytes = 10_000, 1800
	ids := make([][32]byte, 0, n)
	for start := 0; start < n; start += 2000 {
		var batch []*record.Event
		for i := start; i < start+2000; i++ {
			e := &record.Event{PubKey: sk.Public(), CreatedAt: 1_790_000_000 + int64(i), Kind: record.KindRecord,
				Tags: [][]string{{"d", fmt.Sprintf("uuid-%d", i)}}, Content: strings.Repeat("x", textBytes)}
			e.ID = e.ComputeID()
			batch = append(batch, e)
			ids = append(ids, e.ID)
		}
		if err := s.Put(ctx, batch...); err != nil {
			t.Fatal(err)
		}
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	s.releaseMapped()
	rand.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	peak := int64(0)
	for i, id := range ids {
		if _, err := s.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
		if i%997 == 0 {
			peak = max(peak, mappedRSS(t, path))
		}
	}
	for i := 0; i < len(ids); i += 50 {
		if _, err := s.GetMany(ctx, ids[i:i+50]); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 0 {
			peak = max(peak, mappedRSS(t, path))
		}
	}
	byID := peak
	s.releaseMapped()
	peak = 0
	// Whole-file reads: a scan of every event and of the time index.
	seen := 0
	if err := s.Scan(ctx, func(*record.Event) error {
		if seen++; seen%997 == 0 {
			peak = max(peak, mappedRSS(t, path))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Items(ctx, func(int64, [32]byte) error {
		if seen++; seen%997 == 0 {
			peak = max(peak, mappedRSS(t, path))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if seen != 2*n {
		t.Fatalf("the scans visited %d entries, want %d", seen, 2*n)
	}
	t.Logf("file %d MB; resident part of its mapping at most %d MB while reading every event by id twice, %d MB while scanning events and keys", info.Size()>>20, byID>>20, peak>>20)
	if byID == 0 || peak == 0 {
		t.Fatal("no resident pages of the file found in /proc/self/smaps: the check measures nothing")
	}
	limit := info.Size() / 2
	if byID > limit {
		t.Errorf("reading by id kept %d MB of a %d MB file resident (bound %d MB): reads by id are not released", byID>>20, info.Size()>>20, limit>>20)
	}
	if peak > limit {
		t.Errorf("scanning kept %d MB of a %d MB file resident (bound %d MB): scans are released only at their end", peak>>20, info.Size()>>20, limit>>20)
	}
}
