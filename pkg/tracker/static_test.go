//go:build !js

package tracker

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/peersetdb/peerset/internal/trackerclient"
	"github.com/peersetdb/peerset/pkg/wire"
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
	h, err := StaticFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	tt := startTracker(t, Config{Static: h})

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
	a.Announce(hashA, nil)
	if r := b.Announce(hashA, offers(1)); r.Incomplete != 2 {
		t.Fatalf("announce beside static files: %+v", r)
	}
	if got := trackerclient.RecvAs[*wire.ForwardedOffer](a); got.PeerID != b.ID {
		t.Errorf("offer from %q, want %q", got.PeerID, b.ID)
	}
}

// makeBolt creates a real bbolt database (peerset's native store format)
// holding a secret, and returns its bytes.
func makeBolt(t *testing.T) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "store.db")
	db, err := bbolt.Open(p, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("meta"))
		if err != nil {
			return err
		}
		return b.Put([]byte("secret-key"), []byte("nsec1secretsecretsecret"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The review (L2): `--static .` lists directories, follows symlinks out of
// its directory and serves a bbolt file, which may hold the secret key.
func TestStaticFilesRefusals(t *testing.T) {
	bolt := makeBolt(t)
	outside := writeFiles(t, map[string]string{"secret.txt": "outside secret"})
	dir := writeFiles(t, map[string]string{
		"index.html":          "<!doctype html><title>root</title>",
		"examples/demo/a.js":  "export {}",
		"data/readme.txt":     "hello",
		"peer.db":             string(bolt),
		"data/backup.bin":     string(bolt),                                       // a renamed database: sniffed
		"data/torn.bin":       strings.Repeat("\x00", 4096) + string(bolt[4096:]), // first meta page lost
		"data/notes.db":       "not bbolt, but .db",
		"data/ok.bin":         "\x00\x01\x02 some binary",
		"empty/placeholder.x": "",
	})
	if err := os.Remove(filepath.Join(dir, "empty", "placeholder.x")); err != nil {
		t.Fatal(err)
	}
	mustSymlink := func(target, name string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	mustSymlink(filepath.Join(outside, "secret.txt"), "abs-link.txt")       // absolute, outside
	mustSymlink("../"+filepath.Base(outside)+"/secret.txt", "rel-link.txt") // relative, outside
	mustSymlink(outside, "outdir")                                          // a directory outside
	mustSymlink("data/readme.txt", "inside-link.txt")                       // relative, inside: fine
	mustSymlink("peer.db", "innocent.txt")                                  // inside, but a database
	h, err := StaticFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	tt := startTracker(t, Config{Static: h})

	tests := []struct {
		path       string
		wantStatus int
		wantBody   string // for 200
	}{
		{"/", 200, "<!doctype html><title>root</title>"},
		{"/data/readme.txt", 200, "hello"},
		{"/data/ok.bin", 200, "\x00\x01\x02 some binary"},
		{"/inside-link.txt", 200, "hello"},
		{"/examples/demo/a.js", 200, "export {}"},
		// No listings: a directory without index.html is not found.
		{"/data/", 404, ""},
		{"/examples/", 404, ""},
		{"/empty/", 404, ""},
		{"/data", 404, ""},
		// No way out of the directory.
		{"/abs-link.txt", 404, ""},
		{"/rel-link.txt", 404, ""},
		{"/outdir/secret.txt", 404, ""},
		{"/outdir/", 404, ""},
		{"/../" + filepath.Base(outside) + "/secret.txt", 404, ""},
		// No databases, by name or by content.
		{"/peer.db", 403, ""},
		{"/data/notes.db", 403, ""},
		{"/data/backup.bin", 403, ""},
		{"/data/torn.bin", 403, ""},
		{"/innocent.txt", 403, ""},
		{"/PEER.DB", 404, ""},
	}
	for _, tc := range tests {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			req, err := http.NewRequestWithContext(testContext(t), method, tt.http.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			// No redirects: a redirect to a listing would hide one.
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("%s %s: %d %q, want %d", method, tc.path, resp.StatusCode, body[:min(len(body), 80)], tc.wantStatus)
				continue
			}
			if method == http.MethodGet && tc.wantStatus == 200 && string(body) != tc.wantBody {
				t.Errorf("GET %s: %q, want %q", tc.path, body, tc.wantBody)
			}
			if strings.Contains(string(body), "nsec1secret") || strings.Contains(string(body), "outside secret") || strings.Contains(string(body), "<a href") {
				t.Errorf("%s %s leaked %q", method, tc.path, body[:min(len(body), 80)])
			}
		}
	}
}

func TestStaticFilesNeedsADirectory(t *testing.T) {
	for _, dir := range []string{filepath.Join(t.TempDir(), "missing"), writeFiles(t, map[string]string{"f": "x"}) + "/f"} {
		if _, err := StaticFiles(dir); err == nil {
			t.Errorf("StaticFiles(%q) succeeded", dir)
		}
	}
}
