package main

import (
	"testing"

	"github.com/peersetdb/peerset/pkg/store"
)

func TestExportCursorRoundTrip(t *testing.T) {
	if it, err := parseExportCursor(""); it != nil || err != nil {
		t.Fatalf(`parseExportCursor("") = %v, %v; want the start`, it, err)
	}
	if s := formatExportCursor(nil); s != "" {
		t.Fatalf("formatExportCursor(nil) = %q", s)
	}
	want := store.Item{CreatedAt: 1790000000}
	for i := range want.ID {
		want.ID[i] = byte(i * 7)
	}
	got, err := parseExportCursor(formatExportCursor(&want))
	if err != nil || *got != want {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []string{"x", "12", "12:zz", "-1:" + formatExportCursor(&want)[11:], "1:00", "a:" + formatExportCursor(&want)[11:]} {
		if _, err := parseExportCursor(bad); err == nil {
			t.Errorf("parseExportCursor(%q): no error", bad)
		}
	}
}
