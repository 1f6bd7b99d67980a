//go:build !js

package tracker

import (
	"net/http"
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
// server: GET and HEAD only, with the right media types for .wasm and .js,
// no caching (a rebuilt peerset.wasm is picked up on reload) and never a
// file or directory whose name starts with a dot (.git, .env).
func StaticFiles(dir string) http.Handler {
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		if t, ok := staticTypes[path.Ext(r.URL.Path)]; ok {
			w.Header().Set("Content-Type", t)
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}
