package peerset

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
)

// importInput is a mixed import: honest records (several per author, so
// the standard preset's quota evicts some), exact duplicates, new versions
// replacing records of earlier batches, forgeries (a record's id with
// another content, a broken signature) and nil (input that was not an
// event), spread over batches.
func importInput(t *testing.T, room string, now time.Time) [][]*record.Event {
	t.Helper()
	roomID := record.RoomID(DefaultAppID, room)
	events := make([]*record.Event, 300)
	var key *record.SecretKey
	for i := range events {
		if i%4 == 0 {
			key, _ = record.GenerateKey()
		}
		e, err := record.New(record.Draft{Text: fmt.Sprintf("record %d", i), CreatedAt: now.Add(-time.Hour + time.Duration(i)*time.Second)}, key, roomID, record.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		events[i] = e
	}
	var batches [][]*record.Event
	for i := 0; i < len(events); i += 70 {
		batch := append([]*record.Event(nil), events[i:min(i+70, len(events))]...)
		batches = append(batches, batch)
	}
	key, _ = record.GenerateKey()
	const uuid = "3f2b8c1e-9d4a-4b6f-8e2a-1c0d9e8f7a6b"
	first, err := record.New(record.Draft{UUID: uuid, Text: "first version", CreatedAt: now.Add(-time.Minute)}, key, roomID, record.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	second, err := record.New(record.Draft{UUID: uuid, Text: "second version", CreatedAt: now}, key, roomID, record.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	forged := *events[5]
	forged.Content = "not what was signed"
	badSig := *events[len(events)-1] // its real copy comes in the last batch
	badSig.Sig[3] ^= 1
	batches[0] = append(batches[0], first, nil)
	batches[1] = append(batches[1], events[3], &forged, &badSig) // events[3]: a duplicate of batch 0
	batches[2] = append(batches[2], second, first)
	return batches
}

// An Importer overlaps its batches' work but must decide exactly what
// successive Import calls decide: the same counts, the same set.
func TestImporterMatchesImport(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	std := moderation.PresetStandard()
	for _, tc := range []struct {
		name string
		cfg  func() Config
	}{
		{"open", func() Config { return Config{Clock: func() time.Time { return now }} }},
		{"standard", func() Config { return Config{Moderation: &std, Clock: func() time.Time { return now }} }},
		{"batch rule", func() Config {
			return Config{Rules: []moderation.Rule{&cachingRule{verdicts: map[[32]byte]bool{}}}, Clock: func() time.Time { return now }}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			batches := importInput(t, "lobby", now)
			serial := openTest(t, tc.cfg())
			want := ImportResult{ByRule: map[string]int{}}
			for _, b := range batches {
				r, err := serial.Import(ctx, b)
				if err != nil {
					t.Fatal(err)
				}
				want.Add(r)
			}
			piped := openTest(t, tc.cfg())
			imp := piped.NewImporter(ctx)
			for _, b := range batches {
				if err := imp.Add(b); err != nil {
					t.Fatal(err)
				}
			}
			got, err := imp.Close()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Importer counted %+v, Import %+v", got, want)
			}
			if want.Invalid < 3 || want.Refused == 0 || want.Stored == 0 {
				t.Fatalf("the input should hold stored, refused and invalid events: %+v", want)
			}
			if piped.Root() != serial.Root() || piped.Stats().Records != serial.Stats().Records {
				t.Fatalf("Importer: %d records, root %s; Import: %d, %s", piped.Stats().Records, piped.Root(), serial.Stats().Records, serial.Root())
			}
		})
	}
}

// A forgery claiming a real record's id must not reach a batch-judging
// rule through the Importer either (its checks run before the batch).
func TestImporterForgeriesDoNotReachBatchRules(t *testing.T) {
	ctx := context.Background()
	rule := &cachingRule{verdicts: map[[32]byte]bool{}}
	db := openTest(t, Config{Rules: []moderation.Rule{rule}})
	key, _ := record.GenerateKey()
	real, err := record.New(record.Draft{Text: "7 up"}, key, db.RoomID(), record.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	forged := *real
	forged.Content = "fine"
	imp := db.NewImporter(ctx)
	if err := imp.Add([]*record.Event{&forged}); err != nil {
		t.Fatal(err)
	}
	if err := imp.Add([]*record.Event{real}); err != nil {
		t.Fatal(err)
	}
	r, err := imp.Close()
	if err != nil {
		t.Fatal(err)
	}
	if rule.prepared != 1 || r.Stored != 0 || r.Invalid != 1 || r.ByRule[rule.Name()] != 1 {
		t.Fatalf("prepared %d events, counts %+v; want 1 prepared (the real record), 1 invalid, 1 refused by %s", rule.prepared, r, rule.Name())
	}
}

// Once a batch fails (here: the DB closed under it), the import stops and
// Add and Close report the error.
func TestImporterStopsAtAnError(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Config{})
	batches := importInput(t, "lobby", time.Now())
	imp := db.NewImporter(ctx)
	if err := imp.Add(batches[0]); err != nil {
		t.Fatal(err)
	}
	db.Close()
	err := imp.Add(batches[1])
	if err == nil {
		err = imp.Add(batches[2])
	}
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close of the DB: %v, want ErrClosed", err)
	}
	if _, err := imp.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Close: %v, want ErrClosed", err)
	}
}
