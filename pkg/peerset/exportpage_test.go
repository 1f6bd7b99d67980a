package peerset

import (
	"context"
	"slices"
	"testing"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
)

// ExportPage pages through exactly what Export returns: live records and
// kept deletions, in order, no copy twice, whatever the page bounds.
func TestExportPageMatchesExport(t *testing.T) {
	ctx := context.Background()
	open := moderation.PresetOpen()
	db := openTest(t, Config{Moderation: &open})
	var uuids []string
	for i := range 40 {
		r, err := db.Put(ctx, record.Draft{Text: "record " + string(rune('a'+i%26))})
		if err != nil {
			t.Fatal(err)
		}
		uuids = append(uuids, r.UUID)
	}
	for _, u := range uuids[:5] {
		if err := db.Delete(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Put(ctx, record.Draft{UUID: uuids[7], Text: "a new version"}); err != nil {
		t.Fatal(err)
	}
	want, err := db.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 40 { // 35 live records (one of them a new version) and 5 deletions
		t.Fatalf("Export: %d events, want 40 (35 records, 5 deletions)", len(want))
	}
	ids := func(es []*record.Event) [][32]byte {
		out := make([][32]byte, len(es))
		for i, e := range es {
			out[i] = e.ID
		}
		return out
	}
	for _, tc := range []struct{ limit, maxBytes int }{{1, 0}, {7, 0}, {1000, 0}, {1000, 600}, {3, 1}} {
		var got []*record.Event
		var after *store.Item
		pages := 0
		for {
			page, next, err := db.ExportPage(ctx, after, tc.limit, tc.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(page) > tc.limit {
				t.Fatalf("limit %d: a page of %d events", tc.limit, len(page))
			}
			got = append(got, page...)
			if next == nil {
				break
			}
			if pages > 1000 {
				t.Fatal("ExportPage never ends")
			}
			after = next
		}
		if !slices.Equal(ids(got), ids(want)) {
			t.Fatalf("limit %d, maxBytes %d: %d events in %d pages, not the %d of Export", tc.limit, tc.maxBytes, len(got), pages, len(want))
		}
		if tc.maxBytes == 1 && pages < len(want) {
			t.Fatalf("maxBytes 1: %d pages for %d events, want one event a page", pages, len(want))
		}
	}
	if _, _, err := db.ExportPage(ctx, nil, 0, 0); err == nil {
		t.Fatal("ExportPage with limit 0: no error")
	}
	db.Close()
	if _, _, err := db.ExportPage(ctx, nil, 10, 0); err == nil {
		t.Fatal("ExportPage after Close: no error")
	}
}
