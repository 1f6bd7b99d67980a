package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/peersetdb/peerset/pkg/tracker"
)

// StatsSource reads the counters of one tracker Durable Object by name.
type StatsSource interface {
	ObjectStats(ctx context.Context, name string) (tracker.Stats, error)
}

// NewHandler serves what cmd/tracker serves besides WebSockets: /healthz,
// /stats (summed over the named Durable Objects: one today, see README.md
// "Routing") and, for anything else, 426 with a hint. Static files never
// reach it: the platform serves the assets directory first.
func NewHandler(src StatsSource, objects []string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		var total tracker.Stats
		for _, name := range objects {
			st, err := src.ObjectStats(r.Context(), name)
			if err != nil {
				writeJSON(w, http.StatusBadGateway, map[string]string{"error": fmt.Sprintf("failed to read the stats of tracker object %q: %v", name, err)})
				return
			}
			total.Connections += st.Connections
			total.Swarms += st.Swarms
			total.Peers += st.Peers
			total.Seeders += st.Seeders
		}
		writeJSON(w, http.StatusOK, total)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusUpgradeRequired)
		_, _ = io.WriteString(w, "peerset tracker: connect with a WebSocket (wss://HOST/announce); stats at /stats\n")
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeStats reads a Durable Object's /stats response.
func decodeStats(res *http.Response) (tracker.Stats, error) {
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return tracker.Stats{}, fmt.Errorf("status %d: %s", res.StatusCode, body)
	}
	var st tracker.Stats
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<16)).Decode(&st); err != nil {
		return tracker.Stats{}, fmt.Errorf("failed to decode stats: %w", err)
	}
	return st, nil
}
