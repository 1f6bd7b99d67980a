//go:build !js

// Command seed fills a peerset database file (bbolt) with signed records
// quickly, for the browser benchmarks: it signs on every core, then writes
// the events through peerset.Open and DB.Ingest in batches, so the file is
// exactly what a native peer would hold. `peerset join --db FILE` then serves
// them to the browser tabs of the room.
//
//	seed --db FILE --room R --count N [--authors K] [--days D] [--json-out FILE]
//
// Records are spread over the last D days (by K authors) so that the
// reconciliation sees several time buckets. It prints
// {"records":N,"root":HEX} when done.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store/bolt"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	path := fs.String("db", "", "the database file to create or extend (required)")
	app := fs.String("app", peerset.DefaultAppID, "the appId")
	room := fs.String("room", "", "the room name (required)")
	count := fs.Int("count", 1000, "how many records to add")
	authors := fs.Int("authors", 50, "how many authors sign them")
	days := fs.Int("days", 30, "spread the records over this many past days")
	batch := fs.Int("batch", 2000, "records per write transaction")
	jsonOut := fs.String("json-out", "", "also write the events to this file as one JSON array (for db._importEvents)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" || *room == "" {
		return errors.New("--db and --room are required")
	}
	if *count < 0 || *authors < 1 || *days < 1 || *batch < 1 {
		return errors.New("--count must be ≥ 0 and --authors, --days, --batch ≥ 1")
	}

	events, err := sign(*app, *room, *count, *authors, *days)
	if err != nil {
		return err
	}

	if *jsonOut != "" {
		b := []byte{'['}
		for i, e := range events {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.AppendJSON(b)
		}
		if err := os.WriteFile(*jsonOut, append(b, ']'), 0o644); err != nil {
			return err
		}
	}

	ctx := context.Background()
	st, err := bolt.Open(*path, bolt.Options{})
	if err != nil {
		return fmt.Errorf("open %s: %w", *path, err)
	}
	open := moderation.PresetOpen() // no per-author quota: many records per author
	db, err := peerset.Open(ctx, peerset.Config{AppID: *app, Room: *room, Store: st, Moderation: &open, GCInterval: -1})
	if err != nil {
		st.Close()
		return fmt.Errorf("open the database: %w", err)
	}
	defer db.Close()
	for start := 0; start < len(events); start += *batch {
		end := min(start+*batch, len(events))
		for i, out := range db.Ingest(ctx, peerset.Origin{}, events[start:end]) {
			if !out.Stored {
				return fmt.Errorf("record %d was not stored: %v", start+i, out.Err)
			}
		}
	}
	stats := db.Stats()
	line, _ := json.Marshal(map[string]any{"records": stats.Records, "root": db.Root().String()})
	fmt.Println(string(line))
	return nil
}

// sign makes count records by authors keys, created over the last days
// days, signing on every core.
func sign(app, room string, count, authors, days int) ([]*record.Event, error) {
	keys := make([]*record.SecretKey, authors)
	for i := range keys {
		k, err := record.GenerateKey()
		if err != nil {
			return nil, fmt.Errorf("generate a key: %w", err)
		}
		keys[i] = k
	}
	roomID := record.RoomID(app, room)
	now := time.Now().Add(-time.Minute)
	span := time.Duration(days) * 24 * time.Hour
	events := make([]*record.Event, count)
	errs := make([]error, count)
	var wg sync.WaitGroup
	workers := runtime.NumCPU()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < count; i += workers {
				at := now.Add(-span / time.Duration(max(count, 1)) * time.Duration(i))
				events[i], errs[i] = record.New(record.Draft{
					Text:      fmt.Sprintf("seeded record %d of %d in %s", i+1, count, room),
					CreatedAt: at,
				}, keys[i%authors], roomID, record.Limits{})
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return events, nil
}
