//go:build !js

package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/peersetdb/peerset/internal/trackerclient"
	"github.com/peersetdb/peerset/pkg/wire"
)

func TestRunServesAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()

	stdoutR, stdoutW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, []string{"--addr", "127.0.0.1:0", "--interval", "3s"}, stdoutW, io.Discard)
		_ = stdoutW.Close()
	}()

	line, err := bufio.NewReader(stdoutR).ReadString('\n')
	if err != nil {
		t.Fatalf("failed to read the URL: %v", err)
	}
	url := strings.TrimSpace(line)
	if !strings.HasPrefix(url, "ws://127.0.0.1:") {
		t.Fatalf("printed %q, want a ws:// loopback URL", url)
	}

	c := trackerclient.Dial(ctx, t, url, "a", "0123456789AaBbCcDdEe")
	if r := c.Announce(wire.InfoHash("test-app", "room1"), nil); r.Interval != 3 || r.Incomplete != 1 {
		t.Fatalf("reply %+v", r)
	}

	stop() // what SIGINT/SIGTERM do in main
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v", err)
		}
	case <-ctx.Done():
		t.Fatal("run did not return after shutdown")
	}
	if _, _, err := c.WS.Read(ctx); err == nil {
		t.Error("client still connected after shutdown")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	tests := [][]string{
		{"--no-such-flag"},
		{"extra-argument"},
		{"--addr", "256.0.0.1:bad"},
		{"--max-conns-per-ip", "0"},
		{"--max-conns-per-ip", "-2"},
		{"--max-conns", "-1"},
		{"--announce-rate", "0"},
		{"--announce-burst", "-3"},
		{"--idle-timeout", "-1s"},
		{"--send-queue-bytes", "0"},
		{"--interval", "0s"},
	}
	for _, args := range tests {
		err := run(context.Background(), append([]string{"--addr", "127.0.0.1:0"}, args...), io.Discard, io.Discard)
		if err == nil {
			t.Errorf("run(%q) succeeded", args)
		} else if strings.HasPrefix(args[0], "--") && args[0] != "--addr" && args[0] != "--no-such-flag" && !strings.Contains(err.Error(), args[0]) {
			t.Errorf("run(%q): %v; want the error to name the flag", args, err)
		}
	}
}

func TestRunServesStaticFiles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "peerset.wasm"), []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}

	stdoutR, stdoutW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, []string{"--addr", "127.0.0.1:0", "--static", dir}, stdoutW, io.Discard)
		_ = stdoutW.Close()
	}()
	line, err := bufio.NewReader(stdoutR).ReadString('\n')
	if err != nil {
		t.Fatalf("failed to read the URL: %v", err)
	}
	base := "http" + strings.TrimPrefix(strings.TrimSpace(line), "ws")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/peerset.wasm", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "\x00asm" || resp.Header.Get("Content-Type") != "application/wasm" {
		t.Errorf("GET /peerset.wasm: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("run returned %v", err)
	}
}

// --static serves the page beside the tracker but never a database (the
// review's L2: `--static .` served peerset's bbolt store, key included), a
// listing, or a file reached through a symbolic link out of the directory.
func TestRunStaticRefusesDatabasesListingsAndEscapes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	dir, outside := t.TempDir(), t.TempDir()
	files := map[string]string{"index.html": "<title>demo</title>", "sub/a.js": "export {}", "outside.txt": ""}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if name == "outside.txt" {
			p = filepath.Join(outside, name)
			content = "outside secret"
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db, err := bbolt.Open(filepath.Join(dir, "peer.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "peer.db"), filepath.Join(dir, "sub", "copy.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "outside.txt"), filepath.Join(dir, "escape.txt")); err != nil {
		t.Fatal(err)
	}

	stdoutR, stdoutW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, []string{"--addr", "127.0.0.1:0", "--static", dir}, stdoutW, io.Discard)
		_ = stdoutW.Close()
	}()
	line, err := bufio.NewReader(stdoutR).ReadString('\n')
	if err != nil {
		t.Fatalf("failed to read the URL: %v", err)
	}
	base := "http" + strings.TrimPrefix(strings.TrimSpace(line), "ws")
	for path, want := range map[string]int{
		"/":             http.StatusOK,
		"/sub/a.js":     http.StatusOK,
		"/peer.db":      http.StatusForbidden,
		"/sub/copy.txt": http.StatusForbidden,
		"/sub/":         http.StatusNotFound,
		"/escape.txt":   http.StatusNotFound,
	} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d %.60q, want %d", path, resp.StatusCode, body, want)
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("run returned %v", err)
	}
}

func TestRunRejectsMissingStaticDir(t *testing.T) {
	err := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--static", filepath.Join(t.TempDir(), "missing")}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("run with a missing --static dir: %v", err)
	}
}
