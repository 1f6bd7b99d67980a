//go:build !js

package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/peersetdb/peerset/pkg/tracker"
)

type fakeObjects map[string]tracker.Stats

func (f fakeObjects) ObjectStats(_ context.Context, name string) (tracker.Stats, error) {
	st, ok := f[name]
	if !ok {
		return tracker.Stats{}, errors.New("no such object")
	}
	return st, nil
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestStatsSumTheObjects(t *testing.T) {
	objects := fakeObjects{
		"one": {Connections: 2, Swarms: 1, Peers: 3, Seeders: 1},
		"two": {Connections: 5, Swarms: 4, Peers: 6, Seeders: 0},
	}
	code, body := get(t, NewHandler(objects, []string{"one", "two"}), "/stats")
	var st tracker.Stats
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != http.StatusOK {
		t.Fatalf("GET /stats: %d %q (%v)", code, body, err)
	}
	if want := (tracker.Stats{Connections: 7, Swarms: 5, Peers: 9, Seeders: 1}); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
}

func TestStatsReportAnUnreachableObject(t *testing.T) {
	code, body := get(t, NewHandler(fakeObjects{}, []string{"gone"}), "/stats")
	if code != http.StatusBadGateway || !strings.Contains(body, `tracker object \"gone\"`) {
		t.Errorf("GET /stats: %d %q, want 502 naming the object", code, body)
	}
}

func TestHealthzAndOtherPaths(t *testing.T) {
	h := NewHandler(fakeObjects{}, nil)
	if code, body := get(t, h, "/healthz"); code != http.StatusOK || strings.TrimSpace(body) != `{"ok":true}` {
		t.Errorf("GET /healthz: %d %q", code, body)
	}
	if code, body := get(t, h, "/anything"); code != http.StatusUpgradeRequired || !strings.Contains(body, "WebSocket") {
		t.Errorf("GET /anything: %d %q, want 426 with a hint", code, body)
	}
}

func TestEmbeddedRulesLoad(t *testing.T) {
	r, err := LoadRules()
	if err != nil {
		t.Fatal(err)
	}
	if r.DurableObject.Binding != "TRACKER" || r.IntervalSeconds <= 0 || len(r.Reasons) == 0 {
		t.Errorf("rules %+v", r)
	}
}
