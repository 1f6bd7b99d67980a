package peerset

import (
	"runtime/debug"
	"strings"
)

// version is the release, written in by the build from the repository's
// VERSION file:
//
//	go build -ldflags "-X github.com/peersetdb/peerset/pkg/peerset.version=$(cat VERSION)"
//
// (make build and scripts/build-wasm.sh do). The npm package's version is
// the same file's.
var version string

// Version returns the release of peerset this program was built from: the
// VERSION file's, when the build wrote it in (make build,
// scripts/build-wasm.sh); else the module's version from the build
// information (go install github.com/peersetdb/peerset/cmd/peerset@v0.1.0
// gives 0.1.0); else "devel".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := moduleVersion(bi); v != "" {
			return v
		}
	}
	return "devel"
}

// moduleVersion is this module's version in bi without its "v": the main
// module's, or a dependency's when another program links peerset; "" when
// unknown (a build of a working tree says "(devel)").
func moduleVersion(bi *debug.BuildInfo) string {
	const path = "github.com/peersetdb/peerset"
	m := &bi.Main
	if m.Path != path {
		m = nil
		for _, d := range bi.Deps {
			if d.Path == path {
				m = d
				break
			}
		}
	}
	if m == nil || m.Version == "" || m.Version == "(devel)" {
		return ""
	}
	return strings.TrimPrefix(m.Version, "v")
}
