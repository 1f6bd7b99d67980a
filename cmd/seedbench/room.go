//go:build !js

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store/bolt"
)

// perAuthor is the records each author signs: under the standard preset's
// quota of 5 live records per author, so that the seeder and a fresh peer
// on the default rules keep every record.
const perAuthor = 4

// chunk is the records one signing task makes and one bolt transaction
// writes (a multiple of perAuthor).
const chunk = 10_000

// roomFile is the generated room: its file and what the simulated peers need
// of it (the tree of every record and the sorted ids).
type roomFile struct {
	path      string
	generated time.Duration // 0 when the file was reused
	tree      *merkle.Tree
	ids       [][32]byte // sorted
}

// prepareRoom makes sure path holds the room with n signed records (reusing
// the file when it does already) and reads its ids.
func prepareRoom(ctx context.Context, path string, n int, progress io.Writer) (*roomFile, error) {
	rf := &roomFile{path: path}
	reuse, err := holds(ctx, path, n)
	if err != nil {
		return nil, err
	}
	if reuse {
		fmt.Fprintf(progress, "seedbench: reusing %s (%d records)\n", path, n)
	} else {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		_ = os.Remove(path)
		start := time.Now()
		if err := writeRoom(ctx, path, n, progress); err != nil {
			_ = os.Remove(path)
			return nil, err
		}
		rf.generated = time.Since(start)
		fmt.Fprintf(progress, "seedbench: %d signed records written in %v\n", n, rf.generated.Round(time.Millisecond))
	}
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	rf.tree = merkle.NewTreeWithCapacity(n)
	rf.ids = make([][32]byte, 0, n)
	if err := st.Items(ctx, func(createdAt int64, id [32]byte) error {
		if _, err := rf.tree.Insert(merkle.Item{Timestamp: uint64(createdAt), ID: id}); err != nil {
			return err
		}
		rf.ids = append(rf.ids, id)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("failed to read the room's ids: %w", err)
	}
	slices.SortFunc(rf.ids, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	if len(rf.ids) != n {
		return nil, fmt.Errorf("%s holds %d records, not %d", path, len(rf.ids), n)
	}
	return rf, nil
}

// holds reports whether path is a room file of this room with n records.
func holds(ctx context.Context, path string, n int) (bool, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		return false, nil // unreadable: made again
	}
	std := moderation.PresetStandard()
	db, err := peerset.Open(ctx, peerset.Config{Room: roomName, Store: st, Moderation: &std, GCInterval: -1})
	if err != nil {
		st.Close()
		return false, nil // another room, or records past retention: made again
	}
	defer db.Close()
	return db.Stats().Records == n, nil
}

// writeRoom signs n records (perAuthor per key, on every core) and writes
// them into a new bbolt file in transactions of chunk records, then binds
// the file to the room as peerset does.
func writeRoom(ctx context.Context, path string, n int, progress io.Writer) error {
	st, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		return err
	}
	defer st.Close()
	roomID := record.RoomID(peerset.DefaultAppID, roomName)
	// Two seconds apart, ending a minute ago: a million records span 23
	// days, well inside the standard retention of 90 days, so a reused
	// file stays valid for weeks.
	end := time.Now().Add(-time.Minute)
	chunks := (n + chunk - 1) / chunk
	next := atomic.Int64{}
	signed := atomic.Int64{}
	out := make(chan []*record.Event, runtime.NumCPU())
	errs := make(chan error, runtime.NumCPU()+1)
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Go(func() {
			for {
				c := int(next.Add(1) - 1)
				if c >= chunks || ctx.Err() != nil {
					return
				}
				batch := make([]*record.Event, 0, chunk)
				var sk *record.SecretKey
				for i := c * chunk; i < min(n, (c+1)*chunk); i++ {
					if i%perAuthor == 0 {
						if sk, err = record.GenerateKey(); err != nil {
							errs <- err
							return
						}
					}
					at := end.Add(-time.Duration(n-i) * 2 * time.Second)
					e, err := record.New(record.Draft{Text: fmt.Sprintf("record %d of the seed bench, with a sentence or two of text, as a typical note in a room would have", i), CreatedAt: at}, sk, roomID, record.Limits{})
					if err != nil {
						errs <- err
						return
					}
					batch = append(batch, e)
				}
				signed.Add(int64(len(batch)))
				select {
				case out <- batch:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(out) }()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	start := time.Now()
	written := 0
	for {
		select {
		case batch, ok := <-out:
			if !ok {
				select {
				case err := <-errs:
					return err
				default:
				}
				if written != n {
					return fmt.Errorf("wrote %d records of %d: %w", written, n, ctx.Err())
				}
				return bind(ctx, st, n)
			}
			if err := st.Put(ctx, batch...); err != nil {
				return err
			}
			written += len(batch)
		case err := <-errs:
			return err
		case <-tick.C:
			fmt.Fprintf(progress, "seedbench: signed %d of %d records (%.0f/s)\n", signed.Load(), n, float64(signed.Load())/time.Since(start).Seconds())
		}
	}
}

// bind opens the store as the room's, as `peerset join` will, and checks
// that it keeps every record under the standard rules.
func bind(ctx context.Context, st *bolt.Store, n int) error {
	std := moderation.PresetStandard()
	db, err := peerset.Open(ctx, peerset.Config{Room: roomName, Store: st, Moderation: &std, GCInterval: -1})
	if err != nil {
		return err
	}
	defer db.Close()
	if got := db.Stats().Records; got != n {
		return fmt.Errorf("the room keeps %d records, not %d", got, n)
	}
	return nil
}
