//go:build !js

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/swarm"
)

// TestPutModerationFlags: --pow mines the proof of work the room requires,
// --quota and --deletion-quota change the preset, and values out of range
// are usage errors.
func TestPutModerationFlags(t *testing.T) {
	dir := t.TempDir()
	db := dir + "/flags.db"
	code, out, errOut := runCLI("", "put", "--db", db, "--room", "r", "--nsec", exampleNsec, "--pow", "10", "--text", "worked for")
	if code != 0 {
		t.Fatalf("put --pow 10: %d %q", code, errOut)
	}
	e, err := record.ParseEvent([]byte(strings.TrimSpace(out)), 0)
	if err != nil {
		t.Fatal(err)
	}
	if bits := moderation.LeadingZeroBits(e.ID); bits < 10 {
		t.Fatalf("the id has %d leading zero bits, want at least 10", bits)
	}
	db = dir + "/quota.db"
	for i := range 2 {
		if code, _, errOut := runCLI("", "put", "--db", db, "--room", "r", "--nsec", exampleNsec, "--quota", "2", "--text", fmt.Sprintf("note %d", i)); code != 0 {
			t.Fatalf("put under --quota 2: %q", errOut)
		}
	}
	if code, _, errOut := runCLI("", "put", "--db", db, "--room", "r", "--nsec", exampleNsec, "--quota", "2", "--text", "one too many"); code != 1 || !strings.Contains(errOut, "author-quota") {
		t.Fatalf("a put over --quota 2: %d %q", code, errOut)
	}
	for _, bad := range [][]string{{"--quota", "-3"}, {"--pow", "33"}, {"--deletion-quota", "-2"}} {
		if code, _, errOut := runCLI("", append([]string{"put", "--db", db, "--room", "r", "--text", "x"}, bad...)...); code != 2 || !strings.Contains(errOut, bad[0]) {
			t.Errorf("put %v: %d %q", bad, code, errOut)
		}
	}
}

// TestImportExportRoundTrip: export a room's file, import it into another
// file of the same room, with junk, a forgery and duplicates mixed in: the
// counts say what happened, and both files hold the same set.
func TestImportExportRoundTrip(t *testing.T) {
	dir := t.TempDir()
	from, to := dir+"/from.db", dir+"/to.db"
	for i := range 3 {
		if code, _, errOut := runCLI("", "put", "--db", from, "--room", "backup", "--nsec", exampleNsec, "--text", fmt.Sprintf("note %d", i)); code != 0 {
			t.Fatalf("put: %q", errOut)
		}
	}
	code, exported, errOut := runCLI("", "export", "--db", from)
	if code != 0 || strings.Count(exported, "\n") != 3 {
		t.Fatalf("export: %d %q %q", code, exported, errOut)
	}
	lines := strings.Split(strings.TrimSpace(exported), "\n")
	var e record.Event
	if err := json.Unmarshal([]byte(lines[0]), &e); err != nil {
		t.Fatal(err)
	}
	e.Content += " (changed)"
	forgedJSON, _ := json.Marshal(&e)
	forged := string(forgedJSON)
	input := strings.Join([]string{lines[0], "not json", "", lines[1], forged, lines[2], lines[1], strings.Repeat("x", 2<<20)}, "\n")
	code, out, errOut := runCLI(input, "import", "--db", to, "--room", "backup")
	if code != 0 {
		t.Fatalf("import: %d %q", code, errOut)
	}
	var got peerset.ImportResult
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("import printed %q: %v", out, err)
	}
	if got.Stored != 3 || got.Invalid != 3 || got.Refused != 1 || got.ByRule["parse"] != 2 || got.ByRule["integrity"] != 1 || got.ByRule["duplicate"] != 1 {
		t.Fatalf("import counts %+v", got)
	}
	if _, again, _ := runCLI("", "export", "--db", to); again != exported {
		t.Fatalf("the imported file exports\n%s\nnot\n%s", again, exported)
	}
	if code, _, errOut := runCLI("", "export", "--db", dir+"/missing-dir/x.db"); code == 0 {
		t.Errorf("export of a file that cannot exist: %q", errOut)
	}
}

// TestPutContentRuleFlags: --bad-words adds words from a file and turns the
// bad-words rule on; --allow-link-host turns the link policy on with those
// hosts; a refusal names its rule.
func TestPutContentRuleFlags(t *testing.T) {
	dir := t.TempDir()
	words := dir + "/words.txt"
	if err := os.WriteFile(words, []byte("# our own list\nzorblax\n\n  quuxword  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"a word from the file", []string{"--bad-words", words, "--text", "a zorblax here"}, 1, "bad-words"},
		{"a trimmed word from the file", []string{"--bad-words", words, "--text", "QUUXWORD!"}, 1, "bad-words"},
		{"a comment is not a word", []string{"--bad-words", words, "--text", "our own list"}, 0, ""},
		{"the word without the flag", []string{"--text", "a zorblax here"}, 0, ""},
		{"a missing file", []string{"--bad-words", dir + "/none.txt", "--text", "x"}, 1, "bad-words file"},
		{"an allowed host", []string{"--allow-link-host", "example.org", "--text", "x", "--link", "https://docs.example.org/a"}, 0, ""},
		{"a second allowed host", []string{"--allow-link-host", "example.org", "--allow-link-host", "example.net", "--text", "x", "--link", "https://example.net/"}, 0, ""},
		{"a host not allowed", []string{"--allow-link-host", "example.org", "--text", "x", "--link", "https://evil.example.com/"}, 1, "link-policy"},
		{"any host without the flag", []string{"--text", "x", "--link", "https://evil.example.com/"}, 0, ""},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := fmt.Sprintf("%s/%d.db", dir, i)
			code, _, errOut := runCLI("", append([]string{"put", "--db", db, "--room", "r", "--nsec", exampleNsec}, c.args...)...)
			if code != c.wantCode || !strings.Contains(errOut, c.wantErr) {
				t.Fatalf("put %v: exit %d %q, want exit %d naming %q", c.args, code, errOut, c.wantCode, c.wantErr)
			}
		})
	}
}

// TestErrorsNamePeersetOnce: the CLI is the edge that says "peerset: ", once,
// before the whole message (issue 12: errors said once). Natively only:
// the js build has no file store.
func TestErrorsNamePeersetOnce(t *testing.T) {
	db := t.TempDir() + "/room-a.db"
	if code, _, errOut := runCLI("", "put", "--db", db, "--room", "a", "--nsec", exampleNsec, "--text", "hi"); code != 0 {
		t.Fatalf("put: %d %q", code, errOut)
	}
	code, _, errOut := runCLI("", "put", "--db", db, "--room", "b", "--nsec", exampleNsec, "--text", "hi")
	want := "peerset: the store belongs to another room: it holds \"peerset/a\", not peerset/b\n"
	if code != 1 || errOut != want {
		t.Errorf("put into another room's store: exit %d, stderr %q; want exit 1, %q", code, errOut, want)
	}
}

// TestJoinSignallingFlags: --tracker and --relay are repeatable; relays
// alone mean no tracker, neither means the public trackers; a URL that is
// not ws:// or wss:// is a usage error naming its flag.
func TestJoinSignallingFlags(t *testing.T) {
	parse := func(args ...string) (peerset.JoinOptions, error) {
		fs := newFlagSet("join test")
		var j joinFlags
		j.register(fs)
		if err := parseFlags(fs, args); err != nil {
			return peerset.JoinOptions{}, err
		}
		return j.options()
	}
	tests := []struct {
		name             string
		args             []string
		trackers, relays []string
		badFlag          string
	}{
		{"neither: public trackers", nil, swarm.DefaultTrackers(), nil, ""},
		{"relays only", []string{"--relay", "ws://127.0.0.1:1", "--relay", "wss://relay.example.org"}, nil, []string{"ws://127.0.0.1:1", "wss://relay.example.org"}, ""},
		{"both", []string{"--tracker", "ws://127.0.0.1:2", "--relay", "ws://127.0.0.1:1"}, []string{"ws://127.0.0.1:2"}, []string{"ws://127.0.0.1:1"}, ""},
		{"bad relay", []string{"--relay", "https://relay.example.org"}, nil, nil, "--relay"},
		{"relay without host", []string{"--relay", "wss://"}, nil, nil, "--relay"},
		{"bad tracker", []string{"--tracker", "udp://127.0.0.1:1"}, nil, nil, "--tracker"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts, err := parse(tc.args...)
			if tc.badFlag != "" {
				if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.badFlag) {
					t.Fatalf("%v, want a usage error naming %s", err, tc.badFlag)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(opts.Trackers, tc.trackers) || !slices.Equal(opts.Relays, tc.relays) {
				t.Fatalf("trackers %v, relays %v; want %v and %v", opts.Trackers, opts.Relays, tc.trackers, tc.relays)
			}
		})
	}
}

// TestJoinMeshFlags: --max-peers, --mesh-high and --upload-rate reach the
// join options, their absence leaves the defaults, and values out of range
// are usage errors that name the flag.
func TestJoinMeshFlags(t *testing.T) {
	parse := func(args ...string) (peerset.JoinOptions, error) {
		fs := newFlagSet("join test")
		var j joinFlags
		j.register(fs)
		if err := parseFlags(fs, args); err != nil {
			return peerset.JoinOptions{}, err
		}
		return j.options()
	}
	opts, err := parse("--max-peers", "150", "--mesh-high", "-1", "--upload-rate", "1e9", "--tracker", "ws://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if opts.MaxPeers != 150 || opts.Swarm == nil || opts.Swarm.MeshHigh != -1 || opts.Session.UploadRate != 1e9 || !slices.Equal(opts.Trackers, []string{"ws://127.0.0.1:1"}) {
		t.Fatalf("options %+v (swarm %+v)", opts, opts.Swarm)
	}
	if opts, err = parse("--mesh-high", "20"); err != nil || opts.Swarm == nil || opts.Swarm.MeshHigh != 20 || opts.MaxPeers != 0 {
		t.Fatalf("--mesh-high 20 under the default cap: %+v, %v", opts, err)
	}
	if opts, err = parse(); err != nil || opts.MaxPeers != 0 || opts.Swarm != nil || opts.Session.UploadRate != 0 || len(opts.Trackers) == 0 {
		t.Fatalf("no flags: %+v, %v", opts, err)
	}
	for _, bad := range [][]string{
		{"--max-peers", "-1"}, {"--mesh-high", "-2"}, {"--mesh-high", "40"}, {"--max-peers", "10", "--mesh-high", "11"},
		{"--upload-rate", "-5"}, {"--max-peers", "many"},
	} {
		_, err := parse(bad...)
		flagName := bad[len(bad)-2]
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), strings.TrimLeft(flagName, "-")) {
			t.Errorf("%v: %v, want a usage error naming %s", bad, err, flagName)
		}
	}
}
