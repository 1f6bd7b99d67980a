//go:build !js

// Package test checks the tracker worker under `wrangler dev` (local,
// offline): the tracker protocol against both the worker and pkg/tracker,
// the shared rules, and native peers syncing through the worker. Run it with
// scripts/worker-test.sh, which installs wrangler, builds the worker and runs
// this inside a loopback-only network namespace.
package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// workerDir is the worker's directory, relative to this package.
const workerDir = ".."

// devWorker is one `wrangler dev` serving the built worker on 127.0.0.1.
type devWorker struct {
	base  string // http://127.0.0.1:PORT
	cmd   *exec.Cmd
	log   *lockedBuffer
	state string // --persist-to directory
	done  chan struct{}
}

var (
	sharedOnce   sync.Once
	sharedWorker *devWorker
	sharedErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedWorker != nil {
		if code != 0 {
			fmt.Fprintf(os.Stderr, "--- wrangler dev output ---\n%s--- end of wrangler dev output ---\n", sharedWorker.log.String())
		}
		sharedWorker.stop()
	}
	os.Exit(code)
}

// startedWorker returns the wrangler dev that the tests share, starting it
// on first use. It fails the test (never skips) when wrangler or the build
// is missing.
func startedWorker(t *testing.T) *devWorker {
	t.Helper()
	sharedOnce.Do(func() { sharedWorker, sharedErr = startWrangler() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedWorker
}

// TrackerURL is the ws:// URL clients announce to.
func (w *devWorker) TrackerURL() string {
	return "ws" + w.base[len("http"):] + "/announce"
}

// startWrangler starts wrangler dev on free loopback ports with a fresh
// state directory; extra are more wrangler dev arguments.
func startWrangler(extra ...string) (*devWorker, error) {
	dir, err := filepath.Abs(workerDir)
	if err != nil {
		return nil, fmt.Errorf("failed to locate the worker directory: %w", err)
	}
	wrangler := filepath.Join(dir, "node_modules", ".bin", "wrangler")
	if _, err := os.Stat(wrangler); err != nil {
		return nil, fmt.Errorf("wrangler is not installed in worker/node_modules: run scripts/worker-test.sh (it runs npm ci in worker/; needs Node.js 20+ and npm)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		return nil, fmt.Errorf("node is not on PATH: install Node.js 20+ (apt-get install nodejs npm), then run scripts/worker-test.sh")
	}
	for _, f := range []string{"build/app.wasm", "build/worker.mjs"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return nil, fmt.Errorf("worker/%s is missing: build the worker with worker/build.sh (scripts/worker-test.sh does)", f)
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	inspector, err := freePort()
	if err != nil {
		return nil, err
	}
	state, err := os.MkdirTemp("", "peerset-worker-state-")
	if err != nil {
		return nil, fmt.Errorf("failed to make wrangler's state directory: %w", err)
	}
	w := &devWorker{base: "http://127.0.0.1:" + strconv.Itoa(port), log: &lockedBuffer{}, state: state, done: make(chan struct{})}
	w.cmd = exec.Command(wrangler, "dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(port),
		"--inspector-port", strconv.Itoa(inspector), "--persist-to", state,
		"--show-interactive-dev-session=false", "--live-reload=false")
	w.cmd.Args = append(w.cmd.Args, extra...)
	w.cmd.Dir = dir
	w.cmd.Env = append(os.Environ(), "CI=true", "WRANGLER_SEND_METRICS=false", "NO_COLOR=1",
		// Offline: no update check, no download of the Request.cf object.
		"WRANGLER_HIDE_BANNER=true", "CLOUDFLARE_CF_FETCH_ENABLED=false",
		"WRANGLER_LOG_PATH="+filepath.Join(state, "logs"))
	w.cmd.Stdout, w.cmd.Stderr = w.log, w.log
	// Its own process group: wrangler starts node and workerd children,
	// and stop kills them all.
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := w.cmd.Start(); err != nil {
		_ = os.RemoveAll(state)
		return nil, fmt.Errorf("failed to start wrangler dev: %w", err)
	}
	go func() { _ = w.cmd.Wait(); close(w.done) }()

	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(w.base + "/healthz")
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK && bytes.Contains(body, []byte(`"ok":true`)) {
				return w, nil
			}
		}
		select {
		case <-w.done:
			out := w.log.String()
			w.stop()
			return nil, fmt.Errorf("wrangler dev exited before serving /healthz:\n%s", out)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			out := w.log.String()
			w.stop()
			return nil, fmt.Errorf("wrangler dev did not serve %s/healthz within 60 s:\n%s", w.base, out)
		}
	}
}

// stop ends wrangler and every process it started.
func (w *devWorker) stop() {
	pgid := w.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(5 * time.Second):
	}
	// workerd may outlive the wrangler process that started it.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-w.done:
	case <-time.After(5 * time.Second):
	}
	_ = os.RemoveAll(w.state)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("failed to find a free loopback port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// lockedBuffer collects a child's output from two pipes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// getJSON fetches url and decodes its JSON body into v.
func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d: %s", url, res.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w (body %q)", url, err, body)
	}
	return nil
}
