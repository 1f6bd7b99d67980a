//go:build !js

package tracker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
)

// staticTypes are the media types the static handler sets itself, whatever
// the system's MIME tables say: browsers compile WebAssembly while it
// downloads only when it comes as application/wasm, and load ES modules only
// with a JavaScript type.
var staticTypes = map[string]string{
	".wasm": "application/wasm",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".ts":   "text/plain; charset=utf-8", // .d.ts files, not MPEG streams
	".json": "application/json",
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".md":   "text/markdown; charset=utf-8",
}

// StaticFiles serves the files under dir for a local demo or development
// server: GET and HEAD only, with the right media types for .wasm and .js
// and no caching (a rebuilt peerset.wasm is picked up on reload). It never
// serves
//   - a file or directory whose name starts with a dot (.git, .env);
//   - anything outside dir: every path is opened through an os.Root, so a
//     symbolic link may point only inside dir, with a relative target;
//   - a directory listing: a directory serves its index.html or is not found;
//   - a database: a bbolt file (peerset's native store, which may hold the
//     secret key), recognised by its header whatever its name, or any file
//     named *.db; these get 403.
//
// dir must be a directory. The handler keeps it open.
func StaticFiles(dir string) (http.Handler, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("failed to open the directory to serve: %w", err)
	}
	if info, err := root.Stat("."); err != nil || !info.IsDir() {
		_ = root.Close()
		return nil, fmt.Errorf("%s is not a directory: give the directory to serve", dir)
	}
	return &staticFiles{root: root}, nil
}

type staticFiles struct {
	root *os.Root
}

func (h *staticFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	for _, part := range strings.Split(r.URL.Path, "/") {
		if strings.HasPrefix(part, ".") {
			http.NotFound(w, r)
			return
		}
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		name = "."
	}
	f, info, err := h.open(name)
	if err == nil && info.IsDir() {
		_ = f.Close()
		if !strings.HasSuffix(r.URL.Path, "/") {
			// No redirect to a directory: it would only lead to a listing
			// or an index.html reachable by its own URL.
			http.NotFound(w, r)
			return
		}
		name = path.Join(name, "index.html")
		f, info, err = h.open(name)
	}
	if err != nil || !info.Mode().IsRegular() {
		if f != nil {
			_ = f.Close()
		}
		// Missing, outside dir (a symbolic link out of it), or not a file.
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	if isDatabase(name, f, info.Size()) {
		http.Error(w, "refusing to serve a database file: it may hold a secret key; keep databases out of the served directory", http.StatusForbidden)
		return
	}
	if t, ok := staticTypes[path.Ext(name)]; ok {
		w.Header().Set("Content-Type", t)
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, path.Base(name), info.ModTime(), f)
}

// open opens name under the root (following symbolic links only inside it)
// and stats the opened file.
func (h *staticFiles) open(name string) (*os.File, fs.FileInfo, error) {
	f, err := h.root.Open(name)
	if err != nil {
		return nil, nil, err
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	return f, info, nil
}

// boltMagic is bbolt's meta page magic 0xED0CDAED, as a little-endian and a
// big-endian machine write it.
var boltMagic = [][]byte{{0xed, 0xda, 0x0c, 0xed}, {0xed, 0x0c, 0xda, 0xed}}

// boltPageSizes are the offsets of bbolt's second meta page for the usual
// page sizes: the first page may be torn while the second holds.
var boltPageSizes = []int64{0, 4096, 8192, 16384, 32768, 65536}

// isDatabase reports whether the file must not be served: its name ends in
// .db, or either meta page has bbolt's magic (the 4 bytes after a 16-byte
// page header). It reads the opened file, so a file swapped after the check
// is not the one served.
func isDatabase(name string, f io.ReaderAt, size int64) bool {
	if strings.EqualFold(path.Ext(name), ".db") {
		return true
	}
	var buf [4]byte
	for _, off := range boltPageSizes {
		if off+20 > size {
			break
		}
		if _, err := f.ReadAt(buf[:], off+16); err != nil && !errors.Is(err, io.EOF) {
			return true // unreadable: do not serve what we cannot check
		}
		for _, magic := range boltMagic {
			if bytes.Equal(buf[:], magic) {
				return true
			}
		}
	}
	return false
}
