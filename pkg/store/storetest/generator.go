package storetest

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/record"
)

// Generator makes record and deletion events quickly for tests and
// benchmarks. Events get a correct id but a random signature: signing costs
// far more than storing, and a store does not verify signatures (the caller
// does). Signed makes a genuinely signed record when one is needed.
type Generator struct {
	keys    []*record.SecretKey
	authors []record.PublicKey
	rng     *rand.Rand
	room    string
}

// NewGenerator returns a generator with the given number of authors (fresh
// keys) and a deterministic sequence of UUIDs, signatures and contents.
func NewGenerator(tb testing.TB, authors int, seed uint64) *Generator {
	tb.Helper()
	g := &Generator{
		rng:  rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		room: record.RoomID("peerset", "storetest"),
	}
	for range authors {
		sk, err := record.GenerateKey()
		if err != nil {
			tb.Fatalf("failed to generate key: %v", err)
		}
		g.keys = append(g.keys, sk)
		g.authors = append(g.authors, sk.Public())
	}
	return g
}

// Author returns the public key of author i.
func (g *Generator) Author(i int) record.PublicKey { return g.authors[i] }

// Room returns the room id the events are made for.
func (g *Generator) Room() string { return g.room }

// UUID returns a new canonical version 4 UUID from the generator's sequence.
func (g *Generator) UUID() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	b[6] = 0x40 | b[6]&0x0f
	b[8] = 0x80 | b[8]&0x3f
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// finish sets the event's author, id and a random signature.
func (g *Generator) finish(author int, e *record.Event) *record.Event {
	e.PubKey = g.authors[author]
	for i := range e.Sig {
		e.Sig[i] = byte(g.rng.Uint32())
	}
	e.ID = e.ComputeID()
	return e
}

// Record returns a record event (kind record.KindRecord) by author with this
// UUID and creation time.
func (g *Generator) Record(author int, createdAt int64, uuid string) *record.Event {
	return g.finish(author, &record.Event{
		CreatedAt: createdAt,
		Kind:      record.KindRecord,
		Tags:      [][]string{{record.TagUUID, uuid}, {record.TagRoom, g.room}},
		Content:   "record " + strconv.FormatUint(g.rng.Uint64(), 36),
	})
}

// Deletion returns a NIP-09 deletion by author of its record uuid.
func (g *Generator) Deletion(author int, createdAt int64, uuid string) *record.Event {
	addr := record.Address{Kind: record.KindRecord, PubKey: g.authors[author], UUID: uuid}
	return g.finish(author, &record.Event{
		CreatedAt: createdAt,
		Kind:      record.KindDeletion,
		Tags: [][]string{
			{record.TagAddress, addr.String()},
			{record.TagKind, strconv.Itoa(record.KindRecord)},
			{record.TagRoom, g.room},
		},
	})
}

// Note returns a plain kind 1 event: neither addressable nor a deletion.
func (g *Generator) Note(author int, createdAt int64) *record.Event {
	return g.finish(author, &record.Event{
		CreatedAt: createdAt,
		Kind:      1,
		Tags:      [][]string{{record.TagRoom, g.room}},
		Content:   "note " + strconv.FormatUint(g.rng.Uint64(), 36),
	})
}

// Records returns n records with random authors, new UUIDs and creation
// times in [since, since+spread).
func (g *Generator) Records(n int, since, spread int64) []*record.Event {
	events := make([]*record.Event, n)
	for i := range events {
		events[i] = g.Record(g.rng.IntN(len(g.authors)), since+g.rng.Int64N(spread), g.UUID())
	}
	return events
}

// Signed returns a genuinely signed record by author, made by record.New.
func (g *Generator) Signed(tb testing.TB, author int, createdAt int64, text string) *record.Event {
	tb.Helper()
	e, err := record.New(record.Draft{Text: text, CreatedAt: time.Unix(createdAt, 0)}, g.keys[author], g.room, record.Limits{})
	if err != nil {
		tb.Fatalf("failed to make a signed record: %v", err)
	}
	return e
}

// SignedDeletion returns a genuinely signed deletion by author of uuid.
func (g *Generator) SignedDeletion(tb testing.TB, author int, createdAt int64, uuid string) *record.Event {
	tb.Helper()
	e, err := record.NewDeletion(g.keys[author], g.room, uuid, time.Unix(createdAt, 0))
	if err != nil {
		tb.Fatalf("failed to make a signed deletion: %v", err)
	}
	return e
}
