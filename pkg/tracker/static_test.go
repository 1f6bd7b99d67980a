//go:build !js

package tracker

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peersetdb/peerset/pkg/swarm"
)

// writeFiles creates files (path → content) under a temporary directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestStaticFilesBesideTheTracker(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"js/dist/peerset.wasm":     "\x00asm\x01\x00\x00\x00",
		"js/dist/peerset.js":       "export const version = '0';",
		"js/dist/peerset.d.ts":     "export const version: string;",
		"examples/demo/index.html": "<!doctype html><title>demo</title>",
		"examples/demo/style.css":  "body{}",
		".git/config":              "[core]",
		"examples/.env":            "SECRET=1",
	})
	tt := startTracker(t, Config{Static: StaticFiles(dir)})

	do := func(method, path string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(testContext(t), method, tt.http.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(body)
	}

	tests := []struct {
		path, wantType, wantBody string
	}{
		{"/js/dist/peerset.wasm", "application/wasm", "\x00asm\x01\x00\x00\x00"},
		{"/js/dist/peerset.js", "text/javascript; charset=utf-8", "export const version = '0';"},
		{"/js/dist/peerset.d.ts", "text/plain; charset=utf-8", "export const version: string;"},
		{"/examples/demo/", "text/html; charset=utf-8", "<!doctype html><title>demo</title>"},
		{"/examples/demo/style.css", "text/css; charset=utf-8", "body{}"},
	}
	for _, tc := range tests {
		resp, body := do(http.MethodGet, tc.path)
		if resp.StatusCode != http.StatusOK || body != tc.wantBody {
			t.Errorf("GET %s: %d %q, want 200 %q", tc.path, resp.StatusCode, body, tc.wantBody)
		}
		if got := resp.Header.Get("Content-Type"); got != tc.wantType {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.wantType)
		}
		if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", tc.path, got)
		}
	}

	for _, path := range []string{"/.git/config", "/examples/.env", "/missing.js"} {
		if resp, body := do(http.MethodGet, path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d %q, want 404", path, resp.StatusCode, body)
		}
	}
	if resp, _ := do(http.MethodPost, "/js/dist/peerset.js"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
	if resp, body := do(http.MethodGet, "/stats"); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"connections"`) {
		t.Errorf("/stats with static files: %d %s", resp.StatusCode, body)
	}

	// The same server still is a tracker: an upgrade on any path joins it.
	a, b := tt.dial(t, "a"), tt.dial(t, "b")
	a.announce(hashA)
	if r := b.announce(hashA, 1); r.Incomplete != 2 {
		t.Fatalf("announce beside static files: %+v", r)
	}
	if got := recvAs[*swarm.ForwardedOffer](a); got.PeerID != b.id {
		t.Errorf("offer from %q, want %q", got.PeerID, b.id)
	}
}
