//go:build !js

package wire_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOnlyTheStandardLibrary: pkg/wire is pure codecs, shared by the swarm,
// the tracker and the worker; it imports nothing outside the standard
// library (so no WebRTC and no WebSocket), natively and for js/wasm. go
// test puts its own toolchain's bin directory first on the test's PATH,
// so "go" is the go that runs the test.
func TestOnlyTheStandardLibrary(t *testing.T) {
	for _, env := range [][]string{nil, {"GOOS=js", "GOARCH=wasm"}} {
		cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "github.com/peersetdb/peerset/pkg/wire")
		cmd.Env = append(cmd.Environ(), env...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %v: %v", env, err)
		}
		got := strings.Fields(string(out))
		if len(got) != 1 || got[0] != "github.com/peersetdb/peerset/pkg/wire" {
			t.Errorf("%v: pkg/wire's non-standard dependencies are %q, want only pkg/wire itself", env, got)
		}
	}
}
