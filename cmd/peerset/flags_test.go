//go:build !js

package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
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
