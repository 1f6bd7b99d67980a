// Package storetest is the conformance suite every store.Store backend runs
// (memory, bolt, and IndexedDB in a browser), with RunBlobs and
// RunBlobsPersistence for store.Blobs, plus shared benchmarks and an event
// generator. It uses no files or other native-only APIs, so it runs
// under js/wasm too.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
)

// Run runs the conformance suite. open must return a new, empty store for
// each call; Run closes it.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"PutGet", testPutGet},
		{"PutIsIdempotent", testPutIsIdempotent},
		{"EventsAreCopied", testEventsAreCopied},
		{"PutRejectsInvalidBatch", testPutRejectsInvalidBatch},
		{"Delete", testDelete},
		{"GetMany", testGetMany},
		{"GetByAddress", testGetByAddress},
		{"Query", testQuery},
		{"QueryPaging", testQueryPaging},
		{"QueryRejectsInvalid", testQueryRejectsInvalid},
		{"ItemsAndScanOrder", testItemsAndScanOrder},
		{"Summaries", testSummaries},
		{"CallbacksMayUseTheStore", testCallbacksMayUseTheStore},
		{"CallbackErrorStops", testCallbackErrorStops},
		{"Count", testCount},
		{"Meta", testMeta},
		{"CanceledContext", testCanceledContext},
		{"Close", testClose},
		{"ConcurrentPuts", testConcurrentPuts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.run(t, s)
		})
	}
}

// RunPersistence checks that a store keeps everything across Close and a
// new open. openAt(t, name) opens the store called name: the same name must
// give the same data, a new name an empty store. RunPersistence closes what
// it opens.
func RunPersistence(t *testing.T, openAt func(t *testing.T, name string) store.Store) {
	ctx := context.Background()
	g := NewGenerator(t, 3, 7)
	uuid := g.UUID()
	signed := g.Signed(t, 1, 1200, "signed")
	events := append(g.Records(300, 1000, 100),
		g.Record(0, 900, uuid), g.Record(0, 950, uuid), g.Deletion(0, 960, uuid), signed)
	gone := events[5]

	s := openAt(t, "persist")
	mustPut(t, s, events...)
	if err := s.Delete(ctx, gone.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.SetMeta(ctx, "node-key", []byte("secret")); err != nil {
		t.Fatalf("SetMeta: %v", err)
	}
	if err := s.SetMeta(ctx, "empty", nil); err != nil {
		t.Fatalf("SetMeta: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	want := slices.DeleteFunc(slices.Clone(events), func(e *record.Event) bool { return e == gone })
	s = openAt(t, "persist")
	defer closeStore(t, s)
	checkContents(t, s, want)
	if _, err := s.Get(ctx, gone.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(deleted) after reopen: err = %v, want ErrNotFound", err)
	}
	got, err := s.GetByAddress(ctx, record.Address{Kind: record.KindRecord, PubKey: g.Author(0), UUID: uuid})
	if err != nil || len(got) != 3 || got[0].Kind != record.KindDeletion {
		t.Errorf("GetByAddress after reopen: %d events, err %v; want 3 with the deletion first", len(got), err)
	}
	for key, value := range map[string]string{"node-key": "secret", "empty": ""} {
		if v, err := s.GetMeta(ctx, key); err != nil || string(v) != value {
			t.Errorf("GetMeta(%q) after reopen = %q, %v; want %q", key, v, err, value)
		}
	}
	if got, err := s.Get(ctx, signed.ID); err != nil {
		t.Errorf("Get(signed) after reopen: %v", err)
	} else if err := got.Verify(); err != nil {
		t.Errorf("signed event does not verify after reopen: %v", err)
	}

	other := openAt(t, "other")
	defer closeStore(t, other)
	if n, err := other.Count(ctx); err != nil || n != 0 {
		t.Errorf("a store under another name holds %d events (err %v), want 0", n, err)
	}
}

// Helpers.

func closeStore(t *testing.T, s store.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func mustPut(t testing.TB, s store.Store, events ...*record.Event) {
	t.Helper()
	if err := s.Put(context.Background(), events...); err != nil {
		t.Fatalf("Put(%d events): %v", len(events), err)
	}
}

func sameEvent(a, b *record.Event) bool {
	return bytes.Equal(a.AppendJSON(nil), b.AppendJSON(nil))
}

// sortedItems returns the events in ascending (created_at, id) order.
func sortedEvents(events []*record.Event) []*record.Event {
	sorted := slices.Clone(events)
	slices.SortFunc(sorted, func(a, b *record.Event) int { return store.ItemOf(a).Compare(store.ItemOf(b)) })
	return slices.CompactFunc(sorted, func(a, b *record.Event) bool { return a.ID == b.ID })
}

func describe(events []*record.Event) string {
	var b strings.Builder
	for i, e := range events {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%d/%x", e.CreatedAt, e.ID[:3])
	}
	return "[" + b.String() + "]"
}

func checkSameEvents(t *testing.T, what string, got, want []*record.Event) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = sameEvent(got[i], want[i])
	}
	if !ok {
		t.Errorf("%s:\n got %d %s\nwant %d %s", what, len(got), describe(got), len(want), describe(want))
	}
}

// checkContents checks Count, Items, Scan and Get against want.
func checkContents(t *testing.T, s store.Store, want []*record.Event) {
	t.Helper()
	ctx := context.Background()
	want = sortedEvents(want)
	if n, err := s.Count(ctx); err != nil || n != len(want) {
		t.Errorf("Count = %d, %v; want %d", n, err, len(want))
	}
	var items []store.Item
	if err := s.Items(ctx, func(createdAt int64, id [32]byte) error {
		items = append(items, store.Item{CreatedAt: createdAt, ID: id})
		return nil
	}); err != nil {
		t.Errorf("Items: %v", err)
	}
	wantItems := make([]store.Item, len(want))
	for i, e := range want {
		wantItems[i] = store.ItemOf(e)
	}
	if !slices.Equal(items, wantItems) {
		t.Errorf("Items returned %d items, want %d in (created_at, id) order", len(items), len(wantItems))
	}
	var scanned []*record.Event
	if err := s.Scan(ctx, func(e *record.Event) error {
		scanned = append(scanned, e)
		return nil
	}); err != nil {
		t.Errorf("Scan: %v", err)
	}
	checkSameEvents(t, "Scan", scanned, want)
	type summary struct {
		s  record.Summary
		ok bool
	}
	var summaries []summary
	if err := s.Summaries(ctx, func(sum record.Summary, ok bool) error {
		summaries = append(summaries, summary{sum, ok})
		return nil
	}); err != nil {
		t.Errorf("Summaries: %v", err)
	}
	if len(summaries) != len(want) {
		t.Errorf("Summaries returned %d summaries, want %d", len(summaries), len(want))
	} else {
		for i, e := range want {
			wantSum, wantOK := store.SummaryOf(e)
			if summaries[i].s != wantSum || summaries[i].ok != wantOK {
				t.Errorf("summary %d = %+v (%v), want %+v (%v)", i, summaries[i].s, summaries[i].ok, wantSum, wantOK)
				break
			}
		}
	}
	for _, e := range want {
		got, err := s.Get(ctx, e.ID)
		if err != nil {
			t.Errorf("Get(%x): %v", e.ID, err)
			continue
		}
		if !sameEvent(got, e) {
			t.Errorf("Get(%x) returned a different event", e.ID)
		}
	}
}

// Tests.

func testPutGet(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := NewGenerator(t, 2, 1)
	signed := g.Signed(t, 0, 1_700_000_000, "hello \u2028 \"world\"")
	signedDeletion := g.SignedDeletion(t, 0, 1_700_000_100, signed.TagValue(record.TagUUID))
	noTags := g.finish(1, &record.Event{CreatedAt: 0, Kind: 1, Content: "no tags, epoch"})
	events := append(g.Records(20, 1000, 10), signed, signedDeletion, noTags, g.Note(1, 1005))
	mustPut(t, s, events...)
	if err := s.Put(ctx); err != nil {
		t.Errorf("Put() with no events: %v", err)
	}
	checkContents(t, s, events)
	for _, e := range []*record.Event{signed, signedDeletion} {
		got, err := s.Get(ctx, e.ID)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if err := got.Verify(); err != nil {
			t.Errorf("stored signed event no longer verifies: %v", err)
		}
	}
	if _, err := s.Get(ctx, [32]byte{1, 2, 3}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(missing): err = %v, want ErrNotFound", err)
	}
}

func testPutIsIdempotent(t *testing.T, s store.Store) {
	g := NewGenerator(t, 1, 2)
	events := g.Records(10, 1000, 5)
	mustPut(t, s, events...)
	mustPut(t, s, events...)
	mustPut(t, s, events[3], events[3], events[4])
	// The same id with other content keeps the first copy.
	altered := store.CloneEvent(events[0])
	altered.Content = "altered"
	mustPut(t, s, altered)
	checkContents(t, s, events)
}

func testEventsAreCopied(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := NewGenerator(t, 1, 3)
	e := g.Record(0, 1000, g.UUID())
	original := store.CloneEvent(e)
	mustPut(t, s, e)
	e.Tags[0][1] = "changed by the caller after Put"
	e.Content = "changed"
	got, err := s.Get(ctx, e.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	got.Tags[1][1] = "changed by the caller after Get"
	got.Tags = append(got.Tags, []string{"x"})
	again, err := s.Get(ctx, e.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !sameEvent(again, original) {
		t.Errorf("the store shares memory with its callers: got %s", again.AppendJSON(nil))
	}
}

func testPutRejectsInvalidBatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := NewGenerator(t, 1, 4)
	existing := g.Record(0, 500, g.UUID())
	mustPut(t, s, existing)
	tests := []struct {
		name   string
		mangle func(e *record.Event) *record.Event
	}{
		{"nil event", func(*record.Event) *record.Event { return nil }},
		{"negative created_at", func(e *record.Event) *record.Event { e.CreatedAt = -1; return e }},
		{"kind above 65535", func(e *record.Event) *record.Event { e.Kind = 65536; return e }},
		{"negative kind", func(e *record.Event) *record.Event { e.Kind = -1; return e }},
		{"invalid UTF-8 content", func(e *record.Event) *record.Event { e.Content = "bad \xff"; return e }},
		{"invalid UTF-8 tag", func(e *record.Event) *record.Event { e.Tags[0][1] = "\xc3"; return e }},
		{"empty tag", func(e *record.Event) *record.Event { e.Tags = append(e.Tags, []string{}); return e }},
		{"d tag over MaxUUIDBytes", func(e *record.Event) *record.Event {
			e.Tags[0][1] = strings.Repeat("u", store.MaxUUIDBytes+1)
			return e
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			batch := g.Records(5, 1000, 10)
			batch[2] = tt.mangle(batch[2])
			err := s.Put(ctx, batch...)
			if !errors.Is(err, store.ErrInvalidEvent) {
				t.Fatalf("Put: err = %v, want ErrInvalidEvent", err)
			}
			for _, e := range batch {
				if e == nil {
					continue
				}
				if _, err := s.Get(ctx, e.ID); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("an element of a refused batch was stored (Get err = %v)", err)
				}
			}
			checkContents(t, s, []*record.Event{existing})
		})
	}
}

func testDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := NewGenerator(t, 2, 5)
	uuid := g.UUID()
	v1, v2, del := g.Record(0, 1000, uuid), g.Record(0, 1001, uuid), g.Deletion(0, 1002, uuid)
	others := g.Records(30, 1000, 10)
	all := append([]*record.Event{v1, v2, del}, others...)
	mustPut(t, s, all...)
	if err := s.Delete(ctx, v1.ID, del.ID, others[0].ID, [32]byte{9}, v1.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Delete(ctx); err != nil {
		t.Errorf("Delete() with no ids: %v", err)
	}
	if err := s.Delete(ctx, v1.ID); err != nil {
		t.Errorf("Delete of an id already gone: %v", err)
	}
	want := append([]*record.Event{v2}, others[1:]...)
	checkContents(t, s, want)
	for _, e := range []*record.Event{v1, del, others[0]} {
		if _, err := s.Get(ctx, e.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(deleted): err = %v, want ErrNotFound", err)
		}
	}
	got, err := s.GetByAddress(ctx, record.AddressOf(v1))
	if err != nil {
		t.Fatalf("GetByAddress: %v", err)
	}
	checkSameEvents(t, "GetByAddress after Delete", got, []*record.Event{v2})
	author := others[0].PubKey
	byAuthor, err := s.Query(ctx, store.Query{Author: &author})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	for _, e := range byAuthor {
		if e.ID == others[0].ID {
			t.Errorf("Query by author still returns a deleted event")
		}
	}
	// Deleting and storing again works.
	mustPut(t, s, v1)
	checkContents(t, s, append(want, v1))
}

func testGetMany(t *testing.T, s store.Store) {
	g := NewGenerator(t, 1, 6)
	events := g.Records(10, 1000, 10)
	mustPut(t, s, events[:8]...)
	ids := [][32]byte{events[5].ID, events[9].ID, events[0].ID, {7}, events[5].ID, events[8].ID, events[2].ID}
	got, err := s.GetMany(context.Background(), ids)
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	checkSameEvents(t, "GetMany", got, []*record.Event{events[5], events[0], events[5], events[2]})
	got, err = s.GetMany(context.Background(), nil)
	if err != nil || len(got) != 0 {
		t.Errorf("GetMany(nil) = %d events, %v; want none", len(got), err)
	}
}

func testGetByAddress(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := NewGenerator(t, 2, 8)
	uuid, otherUUID := g.UUID(), g.UUID()
	// Equal times: the lower id must come first.
	tieA, tieB := g.Record(0, 2000, uuid), g.Record(0, 2000, uuid)
	if bytes.Compare(tieA.ID[:], tieB.ID[:]) > 0 {
		tieA, tieB = tieB, tieA
	}
	old := g.Record(0, 1000, uuid)
	del := g.Deletion(0, 1500, uuid)
	// Not at the address: another author with the same UUID, another UUID,
	// a deletion of another record, a UUID sharing a prefix, and a note.
	otherAuthor := g.Record(1, 2500, uuid)
	otherRecord, otherDeletion := g.Record(0, 2500, otherUUID), g.Deletion(0, 2600, otherUUID)
	prefixed := g.Record(0, 3000, uuid+"x")
	short := g.Record(0, 3000, uuid[:10])
	mustPut(t, s, tieB, old, del, tieA, otherAuthor, otherRecord, otherDeletion, prefixed, short, g.Note(0, 2000))

	tests := []struct {
		name string
		addr record.Address
		want []*record.Event
	}{
		{"versions and deletion in replacement order", record.Address{Kind: record.KindRecord, PubKey: g.Author(0), UUID: uuid}, []*record.Event{tieA, tieB, del, old}},
		{"other author", record.Address{Kind: record.KindRecord, PubKey: g.Author(1), UUID: uuid}, []*record.Event{otherAuthor}},
		{"longer uuid", record.AddressOf(prefixed), []*record.Event{prefixed}},
		{"shorter uuid", record.AddressOf(short), []*record.Event{short}},
		{"other uuid with its deletion", record.Address{Kind: record.KindRecord, PubKey: g.Author(0), UUID: otherUUID}, []*record.Event{otherDeletion, otherRecord}},
		{"unknown uuid", record.Address{Kind: record.KindRecord, PubKey: g.Author(0), UUID: g.UUID()}, nil},
		{"other kind", record.Address{Kind: 30001, PubKey: g.Author(0), UUID: uuid}, nil},
		{"note kind is not addressable", record.Address{Kind: 1, PubKey: g.Author(0)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.GetByAddress(ctx, tt.addr)
			if err != nil {
				t.Fatalf("GetByAddress: %v", err)
			}
			checkSameEvents(t, "GetByAddress", got, tt.want)
		})
	}
}

// queryDataset stores a data set with many equal timestamps, three authors
// and three kinds, and returns it.
func queryDataset(t *testing.T, s store.Store) (*Generator, []*record.Event) {
	g := NewGenerator(t, 4, 9)
	events := g.Records(240, 1000, 40)
	for i := range 30 {
		events = append(events, g.Note(i%3, 1000+int64(i)), g.Deletion(i%3, 1010+int64(i), g.UUID()))
	}
	events = append(events, g.Record(0, 0, g.UUID()), g.Record(1, 5000, g.UUID()))
	mustPut(t, s, events...)
	return g, sortedEvents(events)
}

// reference answers a query by brute force over the sorted data set.
func reference(sorted []*record.Event, q store.Query) []*record.Event {
	var out []*record.Event
	for _, e := range sorted {
		if q.Matches(e) {
			out = append(out, e)
		}
	}
	if q.Descending {
		slices.Reverse(out)
	}
	if q.After != nil {
		out = slices.DeleteFunc(out, func(e *record.Event) bool {
			c := store.ItemOf(e).Compare(*q.After)
			return c == 0 || (c < 0) != q.Descending
		})
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out
}

func testQuery(t *testing.T, s store.Store) {
	g, sorted := queryDataset(t, s)
	a0, a1, nobody := g.Author(0), g.Author(1), g.Author(3)
	mid := store.ItemOf(sorted[len(sorted)/2])
	tie := store.ItemOf(sorted[100])
	tie.ID = [32]byte{} // before every id at that time
	tests := []struct {
		name string
		q    store.Query
	}{
		{"everything", store.Query{}},
		{"everything descending", store.Query{Descending: true}},
		{"author", store.Query{Author: &a0}},
		{"author descending limit", store.Query{Author: &a0, Descending: true, Limit: 5}},
		{"author without events", store.Query{Author: &nobody}},
		{"deletions", store.Query{Kinds: []int{record.KindDeletion}}},
		{"notes and records of an author", store.Query{Kinds: []int{1, record.KindRecord}, Author: &a1}},
		{"kind never stored", store.Query{Kinds: []int{7}}},
		{"since until", store.Query{Since: 1010, Until: 1020}},
		{"since equals until", store.Query{Since: 1015, Until: 1015}},
		{"since until descending", store.Query{Since: 1010, Until: 1020, Descending: true}},
		{"until only descending limit", store.Query{Until: 1012, Descending: true, Limit: 7}},
		{"since only limit", store.Query{Since: 1030, Limit: 9}},
		{"limit above size", store.Query{Limit: 10_000}},
		{"since after everything", store.Query{Since: 9999}},
		{"until before since", store.Query{Since: 1020, Until: 1010}},
		{"until max", store.Query{Until: 1<<63 - 1, Descending: true, Limit: 3}},
		{"author since until kinds", store.Query{Author: &a1, Since: 1005, Until: 1030, Kinds: []int{record.KindRecord}}},
		{"after", store.Query{After: &mid}},
		{"after descending", store.Query{After: &mid, Descending: true}},
		{"after with zero id", store.Query{After: &tie, Limit: 4}},
		{"after with zero id descending", store.Query{After: &tie, Descending: true, Limit: 4}},
		{"after author since", store.Query{After: &mid, Author: &a0, Since: 1020}},
		{"after author until descending", store.Query{After: &mid, Author: &a0, Until: 1015, Descending: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Query(context.Background(), tt.q)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			checkSameEvents(t, "Query", got, reference(sorted, tt.q))
		})
	}
}

func testQueryPaging(t *testing.T, s store.Store) {
	g, _ := queryDataset(t, s)
	a2 := g.Author(2)
	tests := []struct {
		name string
		q    store.Query
	}{
		{"time ascending", store.Query{}},
		{"time descending", store.Query{Descending: true}},
		{"author ascending", store.Query{Author: &a2}},
		{"author descending kinds", store.Query{Author: &a2, Descending: true, Kinds: []int{record.KindRecord}}},
		{"window", store.Query{Since: 1005, Until: 1025}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			all, err := s.Query(ctx, tt.q)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			var paged []*record.Event
			q := tt.q
			q.Limit = 7
			for range len(all) + 2 {
				page, err := s.Query(ctx, q)
				if err != nil {
					t.Fatalf("Query page: %v", err)
				}
				paged = append(paged, page...)
				if len(page) < q.Limit {
					break
				}
				last := store.ItemOf(page[len(page)-1])
				q.After = &last
			}
			checkSameEvents(t, "paged query", paged, all)
		})
	}
}

func testQueryRejectsInvalid(t *testing.T, s store.Store) {
	for _, q := range []store.Query{{Limit: -1}, {Since: -5}, {Until: -1}} {
		if _, err := s.Query(context.Background(), q); !errors.Is(err, store.ErrInvalidQuery) {
			t.Errorf("Query(%+v): err = %v, want ErrInvalidQuery", q, err)
		}
	}
}

func testItemsAndScanOrder(t *testing.T, s store.Store) {
	g := NewGenerator(t, 3, 10)
	// Enough events to cross the page size of every backend.
	events := g.Records(5000, 1000, 300)
	for i := 0; i < len(events); i += 1000 {
		mustPut(t, s, events[i:min(i+1000, len(events))]...)
	}
	checkContents(t, s, events)
}

// testSummaries: records, deletions and an event of another kind, deleted and
// stored again; Summaries follows, without decoding (checked through
// checkContents against store.SummaryOf).
func testSummaries(t *testing.T, s store.Store) {
	g := NewGenerator(t, 2, 21)
	u := g.UUID()
	rec := g.Record(0, 1000, u)
	events := []*record.Event{rec, g.Deletion(0, 1001, u), g.Note(1, 999), g.Record(1, 1002, g.UUID())}
	mustPut(t, s, events...)
	checkContents(t, s, events)
	if err := s.Delete(context.Background(), rec.ID); err != nil {
		t.Fatal(err)
	}
	checkContents(t, s, events[1:])
	mustPut(t, s, rec)
	checkContents(t, s, events)
}

func testCallbacksMayUseTheStore(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := NewGenerator(t, 2, 11)
	events := g.Records(3000, 1000, 100)
	mustPut(t, s, events...)
	// A callback may read and write: the store holds no lock or transaction
	// across it. Events written meanwhile may or may not be visited.
	seen := 0
	err := s.Items(ctx, func(createdAt int64, id [32]byte) error {
		seen++
		if seen%500 == 0 {
			if _, err := s.Get(ctx, id); err != nil {
				return err
			}
			mustPut(t, s, g.Record(0, 5000+int64(seen), g.UUID()))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Items: %v", err)
	}
	if seen < len(events) {
		t.Errorf("Items visited %d items, want at least %d", seen, len(events))
	}
	scanned := 0
	err = s.Scan(ctx, func(e *record.Event) error {
		scanned++
		if scanned%500 == 0 {
			if err := s.Delete(ctx, e.ID); err != nil {
				return err
			}
			if _, err := s.Count(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if n, err := s.Count(ctx); err != nil || n != len(events)+seen/500-scanned/500 {
		t.Errorf("Count = %d, %v; want %d", n, err, len(events)+seen/500-scanned/500)
	}
}

func testCallbackErrorStops(t *testing.T, s store.Store) {
	g := NewGenerator(t, 1, 12)
	mustPut(t, s, g.Records(50, 1000, 10)...)
	stop := errors.New("stop here")
	tests := []struct {
		name string
		run  func(fn func() error) error
	}{
		{"Items", func(fn func() error) error {
			return s.Items(context.Background(), func(int64, [32]byte) error { return fn() })
		}},
		{"Scan", func(fn func() error) error {
			return s.Scan(context.Background(), func(*record.Event) error { return fn() })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := tt.run(func() error {
				calls++
				if calls == 3 {
					return stop
				}
				return nil
			})
			if !errors.Is(err, stop) || calls != 3 {
				t.Errorf("err = %v after %d calls; want the callback's error after 3", err, calls)
			}
		})
	}
}

func testCount(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := NewGenerator(t, 1, 13)
	events := g.Records(100, 1000, 10)
	steps := []struct {
		name string
		do   func() error
		want int
	}{
		{"empty", func() error { return nil }, 0},
		{"put 60", func() error { return s.Put(ctx, events[:60]...) }, 60},
		{"put 50 overlapping 10", func() error { return s.Put(ctx, events[50:]...) }, 100},
		{"delete 3 and a missing id", func() error { return s.Delete(ctx, events[0].ID, events[1].ID, events[2].ID, [32]byte{1}) }, 97},
		{"refused batch", func() error {
			if err := s.Put(ctx, events[0], nil); err == nil {
				return errors.New("a batch with nil was accepted")
			}
			return nil
		}, 97},
	}
	for _, step := range steps {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if n, err := s.Count(ctx); err != nil || n != step.want {
			t.Errorf("after %s: Count = %d, %v; want %d", step.name, n, err, step.want)
		}
	}
}

func testMeta(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.GetMeta(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetMeta(missing): err = %v, want ErrNotFound", err)
	}
	value := []byte("v1")
	steps := []struct {
		key   string
		value []byte // nil: delete
		want  string
	}{
		{"node-key", value, "v1"},
		{"node-key", []byte("v2"), "v2"},
		{"cursor/peer-a", []byte{0, 1, 2, 0}, "\x00\x01\x02\x00"},
		{"settings", []byte{}, ""},
		{strings.Repeat("k", 255), []byte("long key"), "long key"},
	}
	for _, step := range steps {
		if err := s.SetMeta(ctx, step.key, step.value); err != nil {
			t.Fatalf("SetMeta(%q): %v", step.key, err)
		}
		got, err := s.GetMeta(ctx, step.key)
		if err != nil || string(got) != step.want {
			t.Errorf("GetMeta(%q) = %q, %v; want %q", step.key, got, err, step.want)
		}
	}
	value[0] = 'X' // the store must have copied it
	got, err := s.GetMeta(ctx, "cursor/peer-a")
	if err != nil {
		t.Fatalf("GetMeta: %v", err)
	}
	got[0] = 9 // and must hand out copies
	if again, _ := s.GetMeta(ctx, "cursor/peer-a"); again[0] != 0 {
		t.Errorf("GetMeta returned the store's own memory")
	}
	if err := s.DeleteMeta(ctx, "node-key"); err != nil {
		t.Fatalf("DeleteMeta: %v", err)
	}
	if err := s.DeleteMeta(ctx, "node-key"); err != nil {
		t.Errorf("DeleteMeta of a missing key: %v", err)
	}
	if _, err := s.GetMeta(ctx, "node-key"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetMeta after DeleteMeta: err = %v, want ErrNotFound", err)
	}
	if got, err := s.GetMeta(ctx, "settings"); err != nil || len(got) != 0 {
		t.Errorf("GetMeta(empty value) = %q, %v; want an empty value", got, err)
	}
	for _, key := range []string{"", strings.Repeat("k", 256)} {
		if err := s.SetMeta(ctx, key, []byte("x")); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("SetMeta(%d-byte key): err = %v, want ErrInvalidKey", len(key), err)
		}
		if _, err := s.GetMeta(ctx, key); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("GetMeta(%d-byte key): err = %v, want ErrInvalidKey", len(key), err)
		}
	}
	// Metadata is not an event.
	if n, err := s.Count(ctx); err != nil || n != 0 {
		t.Errorf("Count = %d, %v with metadata only; want 0", n, err)
	}
}

// calls returns one call of every Store method except Close.
func calls(s store.Store, e *record.Event) map[string]func(ctx context.Context) error {
	return map[string]func(ctx context.Context) error{
		"Put":    func(ctx context.Context) error { return s.Put(ctx, e) },
		"Delete": func(ctx context.Context) error { return s.Delete(ctx, e.ID) },
		"Get": func(ctx context.Context) error {
			_, err := s.Get(ctx, e.ID)
			return err
		},
		"GetMany": func(ctx context.Context) error {
			_, err := s.GetMany(ctx, [][32]byte{e.ID})
			return err
		},
		"GetByAddress": func(ctx context.Context) error {
			_, err := s.GetByAddress(ctx, record.AddressOf(e))
			return err
		},
		"Query": func(ctx context.Context) error {
			_, err := s.Query(ctx, store.Query{})
			return err
		},
		"Items": func(ctx context.Context) error {
			return s.Items(ctx, func(int64, [32]byte) error { return nil })
		},
		"Scan": func(ctx context.Context) error {
			return s.Scan(ctx, func(*record.Event) error { return nil })
		},
		"Summaries": func(ctx context.Context) error {
			return s.Summaries(ctx, func(record.Summary, bool) error { return nil })
		},
		"Count": func(ctx context.Context) error {
			_, err := s.Count(ctx)
			return err
		},
		"GetMeta": func(ctx context.Context) error {
			_, err := s.GetMeta(ctx, "k")
			return err
		},
		"SetMeta":    func(ctx context.Context) error { return s.SetMeta(ctx, "k", []byte("v")) },
		"DeleteMeta": func(ctx context.Context) error { return s.DeleteMeta(ctx, "k") },
	}
}

func testCanceledContext(t *testing.T, s store.Store) {
	g := NewGenerator(t, 1, 14)
	stored, fresh := g.Record(0, 1000, g.UUID()), g.Record(0, 1001, g.UUID())
	mustPut(t, s, stored)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, call := range calls(s, fresh) {
		if err := call(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: err = %v, want context.Canceled", name, err)
		}
	}
	checkContents(t, s, []*record.Event{stored})
}

func testClose(t *testing.T, s store.Store) {
	g := NewGenerator(t, 1, 15)
	e := g.Record(0, 1000, g.UUID())
	mustPut(t, s, e)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for name, call := range calls(s, e) {
		if err := call(context.Background()); !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", name, err)
		}
	}
	// Run closes the store again: that must not fail either.
}

func testConcurrentPuts(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := NewGenerator(t, 4, 16)
	const writers, batches, batchSize = 6, 15, 8
	shared := g.Records(batchSize, 1000, 50) // every writer also puts these
	own := make([][]*record.Event, writers)
	for w := range own {
		own[w] = g.Records(batches*batchSize, 1000, 50)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*2)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				if err := s.Put(ctx, own[w][b*batchSize:(b+1)*batchSize]...); err != nil {
					errs <- err
					return
				}
				if b == w {
					if err := s.Put(ctx, shared...); err != nil {
						errs <- err
						return
					}
				}
			}
		})
		wg.Go(func() { // a reader alongside each writer
			for range batches {
				if _, err := s.Query(ctx, store.Query{Limit: 20, Descending: true}); err != nil {
					errs <- err
					return
				}
				if _, err := s.Count(ctx); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent call: %v", err)
	}
	want := slices.Clone(shared)
	for _, events := range own {
		want = append(want, events...)
	}
	checkContents(t, s, want)
	total := 0
	for i := range 4 {
		author := g.Author(i)
		events, err := s.Query(ctx, store.Query{Author: &author})
		if err != nil {
			t.Fatalf("Query: %v", err)
		}
		total += len(events)
	}
	if total != len(want) {
		t.Errorf("the author index holds %d events, want %d", total, len(want))
	}
}
