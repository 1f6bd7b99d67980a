//go:build !js

package test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/peersetdb/peerset/internal/trackerclient"
	"github.com/peersetdb/peerset/pkg/tracker"
	"github.com/peersetdb/peerset/pkg/wire"
)

// rules mirrors worker/rules.json (the Go worker's Rules type lives in
// package main, which a test cannot import).
type rules struct {
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
}

func loadRules(t *testing.T) rules {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(workerDir, "rules.json"))
	if err != nil {
		t.Fatalf("failed to read worker/rules.json: %v", err)
	}
	var r rules
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("worker/rules.json: %v", err)
	}
	return r
}

// The Durable Object takes its limits from rules.json; they must be the
// limits cmd/tracker runs with. (The failure reasons that pkg/tracker keeps
// unexported are checked by TestGoTrackerProtocol, which reads the
// expected texts from rules.json.)
func TestRulesMatchGoTracker(t *testing.T) {
	r := loadRules(t)
	d := tracker.DefaultConfig()
	hard := max(4*d.MaxMessageBytes, d.MaxMessageBytes+64<<10) // pkg/tracker's hardReadLimit
	checks := []struct {
		name      string
		got, want int64
	}{
		{"intervalSeconds", int64(r.IntervalSeconds), int64(d.Interval.Seconds())},
		{"maxMessageBytes", r.MaxMessageBytes, d.MaxMessageBytes},
		{"hardMessageBytes", r.HardMessageBytes, hard},
		{"maxOffersPerAnnounce", int64(r.MaxOffersPerAnnounce), int64(d.MaxOffersPerAnnounce)},
		{"maxSwarmsPerConnection", int64(r.MaxSwarmsPerConnection), int64(d.MaxSwarmsPerConn)},
		{"maxPeersPerSwarm", int64(r.MaxPeersPerSwarm), int64(d.MaxPeersPerSwarm)},
		{"maxConnections", int64(r.MaxConnections), int64(d.MaxConns)},
		{"maxConnectionsPerIp", int64(r.MaxConnectionsPerIP), int64(d.MaxConnsPerIP)},
		{"announceRate (x1000)", int64(r.AnnounceRate * 1000), int64(d.AnnounceRate * 1000)},
		{"announceBurst", int64(r.AnnounceBurst), int64(d.AnnounceBurst)},
		{"memberIdleTimeoutSeconds", int64(r.MemberIdleTimeoutSecs), int64(d.MemberIdleTimeout.Seconds())},
		{"idLength", int64(r.IDLength), wire.IDLength},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("rules.json %s is %d, pkg/tracker uses %d: update worker/rules.json", c.name, c.got, c.want)
		}
	}
	errorTexts := map[string]error{
		"malformed":                 wire.ErrMalformedTrackerMessage,
		"invalidAction":             wire.ErrUnknownTrackerAction,
		"invalidInfoHash":           wire.ErrInvalidInfoHash,
		"invalidPeerId":             wire.ErrInvalidPeerID,
		"invalidToPeerId":           wire.ErrInvalidToPeerID,
		"invalidOfferId":            wire.ErrInvalidOfferID,
		"invalidSessionDescription": wire.ErrInvalidSessionDescription,
	}
	for key, err := range errorTexts {
		if got := r.Reasons[key]; got != err.Error() {
			t.Errorf("rules.json reasons.%s is %q, pkg/wire says %q: update worker/rules.json", key, got, err.Error())
		}
	}
	for _, key := range []string{"messageTooLarge", "tooManyOffers", "tooManySwarms", "swarmFull", "peerIdMismatch", "peerIdTaken", "rateLimited"} {
		if r.Reasons[key] == "" {
			t.Errorf("rules.json has no reasons.%s", key)
		}
	}
}

// The swarm-full reason at pkg/tracker's caps is the text the Durable
// Object sends (checkLimits reaches it on both with small caps).
func TestRulesSwarmFullReasonMatchesGoTracker(t *testing.T) {
	r := loadRules(t)
	srv := tracker.New(tracker.Config{MaxPeersPerSwarm: 1, Logger: slog.New(slog.DiscardHandler)})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/announce"
	hash := trackerclient.RandomID()
	a, b := dial(t, url, "a"), dial(t, url, "b")
	a.Announce(hash, nil)
	b.Send(wire.NewOfferAnnounce(hash, b.ID, nil))
	b.ExpectFailure(r.Reasons["swarmFull"], "announce", hash)
}

// wrangler.jsonc binds the Durable Object class under the name rules.json
// gives (the Go worker and src/index.js read it there), as a SQLite class
// (the only kind the free plan offers).
func TestWranglerConfigMatchesRules(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(workerDir, "wrangler.jsonc"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "//") {
			lines = append(lines, line)
		}
	}
	var cfg struct {
		DurableObjects struct {
			Bindings []struct {
				Name      string `json:"name"`
				ClassName string `json:"class_name"`
			} `json:"bindings"`
		} `json:"durable_objects"`
		Migrations []struct {
			NewSqliteClasses []string `json:"new_sqlite_classes"`
		} `json:"migrations"`
	}
	if err := json.Unmarshal([]byte(strings.Join(lines, "\n")), &cfg); err != nil {
		t.Fatalf("wrangler.jsonc (with its whole-line comments removed): %v", err)
	}
	var r struct {
		DurableObject struct {
			Binding string `json:"binding"`
		} `json:"durableObject"`
	}
	raw, _ := os.ReadFile(filepath.Join(workerDir, "rules.json"))
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	b := cfg.DurableObjects.Bindings
	if len(b) != 1 || b[0].Name != r.DurableObject.Binding || b[0].ClassName != "Tracker" {
		t.Errorf("wrangler.jsonc durable_objects.bindings %+v, want one binding %q of class Tracker", b, r.DurableObject.Binding)
	}
	if len(cfg.Migrations) == 0 || len(cfg.Migrations[0].NewSqliteClasses) != 1 || cfg.Migrations[0].NewSqliteClasses[0] != "Tracker" {
		t.Errorf("wrangler.jsonc migrations %+v, want Tracker in new_sqlite_classes", cfg.Migrations)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func statsString(s tracker.Stats) string {
	return fmt.Sprintf("{connections %d, swarms %d, peers %d, seeders %d}", s.Connections, s.Swarms, s.Peers, s.Seeders)
}
