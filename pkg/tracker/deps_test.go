//go:build !js

package tracker_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestTrackerLinksNoWebRTC: the tracker (pkg/tracker and cmd/tracker) gets
// its message codec from pkg/wire and links no WebRTC stack, natively and
// for js/wasm: no dependency of theirs is a pion package. It fails as soon
// as someone imports pkg/swarm (or anything else that pulls pion in) into
// either of them.
func TestTrackerLinksNoWebRTC(t *testing.T) {
	pkgs := []string{"github.com/peersetdb/peerset/cmd/tracker", "github.com/peersetdb/peerset/pkg/tracker"}
	for _, env := range [][]string{nil, {"GOOS=js", "GOARCH=wasm"}} {
		name := "native"
		if env != nil {
			name = "js/wasm"
		}
		t.Run(name, func(t *testing.T) {
			deps := goListDeps(t, env, pkgs...)
			// Natively the server is built and decodes with pkg/wire; for
			// js/wasm cmd/tracker only says it cannot run there.
			want := "github.com/peersetdb/peerset/pkg/wire"
			if env != nil {
				want = pkgs[0]
			}
			if !slices.Contains(deps, want) {
				t.Fatalf("go list -deps %v does not list %s (%d packages): not the tracker's dependencies?", pkgs, want, len(deps))
			}
			var pion []string
			for _, d := range deps {
				if strings.Contains(d, "pion") {
					pion = append(pion, d)
				}
			}
			if len(pion) > 0 {
				t.Errorf("the tracker depends on %d pion packages, want none: %s", len(pion), strings.Join(pion, " "))
			}
		})
	}
}

// goListDeps runs go list -deps. go test puts its own toolchain's bin
// directory first on the test's PATH, so "go" is the go that runs the test.
func goListDeps(t *testing.T, env []string, pkgs ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...)
	cmd.Env = append(cmd.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list -deps %v: %v\n%s", pkgs, err, ee.Stderr)
		}
		t.Fatalf("go list -deps %v: %v", pkgs, err)
	}
	return strings.Fields(string(out))
}
