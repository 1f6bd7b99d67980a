// Package main is peerset's tracker worker for Cloudflare Workers: the HTTP
// side (/healthz, /stats) in Go, built for js/wasm with
// github.com/syumai/workers. The WebSockets live in a JS Durable Object
// (src/tracker-do.js); README.md explains the split.
package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

// rulesJSON is the file the Durable Object reads too.
//
//go:embed rules.json
var rulesJSON []byte

// Rules are the tracker rules shared with the Durable Object and
// pkg/tracker (rules.json).
type Rules struct {
	IntervalSeconds        int               `json:"intervalSeconds"`
	MaxMessageBytes        int64             `json:"maxMessageBytes"`
	HardMessageBytes       int64             `json:"hardMessageBytes"`
	MaxOffersPerAnnounce   int               `json:"maxOffersPerAnnounce"`
	MaxSwarmsPerConnection int               `json:"maxSwarmsPerConnection"`
	MaxPeersPerSwarm       int               `json:"maxPeersPerSwarm"`
	MaxConnections         int               `json:"maxConnections"`
	MaxConnectionsPerIP    int               `json:"maxConnectionsPerIp"`
	AnnounceRate           float64           `json:"announceRate"`
	AnnounceBurst          int               `json:"announceBurst"`
	MemberIdleTimeoutSecs  int               `json:"memberIdleTimeoutSeconds"`
	IDLength               int               `json:"idLength"`
	Reasons                map[string]string `json:"reasons"`
	DurableObject          struct {
		Binding string `json:"binding"`
		Name    string `json:"name"`
	} `json:"durableObject"`
}

// LoadRules decodes rules.json as embedded in the binary.
func LoadRules() (Rules, error) {
	var r Rules
	if err := json.Unmarshal(rulesJSON, &r); err != nil {
		return Rules{}, fmt.Errorf("failed to decode rules.json: %w", err)
	}
	if r.DurableObject.Binding == "" || r.DurableObject.Name == "" {
		return Rules{}, fmt.Errorf("rules.json: durableObject needs a binding and a name")
	}
	return r, nil
}
