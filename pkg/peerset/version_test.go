package peerset

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

func TestModuleVersion(t *testing.T) {
	const self = "github.com/peersetdb/peerset"
	tests := []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"go install @v0.1.0", debug.BuildInfo{Main: debug.Module{Path: self, Version: "v0.1.0"}}, "0.1.0"},
		{"working tree", debug.BuildInfo{Main: debug.Module{Path: self, Version: "(devel)"}}, ""},
		{"no version", debug.BuildInfo{Main: debug.Module{Path: self}}, ""},
		{"a program that links peerset", debug.BuildInfo{
			Main: debug.Module{Path: "example.org/app", Version: "v9.9.9"},
			Deps: []*debug.Module{{Path: "example.org/other", Version: "v1.0.0"}, {Path: self, Version: "v0.2.0"}},
		}, "0.2.0"},
		{"another program", debug.BuildInfo{Main: debug.Module{Path: "example.org/app", Version: "v9.9.9"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := moduleVersion(&tt.bi); got != tt.want {
				t.Errorf("moduleVersion = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestVersionWrittenByTheBuild(t *testing.T) {
	saved := version
	t.Cleanup(func() { version = saved })
	version = "1.2.3"
	if got := Version(); got != "1.2.3" {
		t.Errorf("Version() = %q with the build's 1.2.3", got)
	}
	version = ""
	if got := Version(); got == "" {
		t.Error("Version() is empty without the build's version; want the module's or devel")
	}
}

// TestVersionFileIsTheNpmPackages: the Go module and the npm package carry
// one version, the repository's VERSION file (make test-pack checks the
// built binary and js/dist against it too).
func TestVersionFileIsTheNpmPackages(t *testing.T) {
	root := filepath.Join("..", "..")
	raw, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	v := strings.TrimSpace(string(raw))
	if !regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`).MatchString(v) || string(raw) != v+"\n" {
		t.Fatalf("VERSION holds %q: want one semantic version (e.g. 0.1.0) on one line", raw)
	}
	var pkg struct {
		Version string `json:"version"`
	}
	data, err := os.ReadFile(filepath.Join(root, "js", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &pkg); err != nil {
		t.Fatalf("js/package.json: %v", err)
	}
	if pkg.Version != v {
		t.Errorf("js/package.json has version %q, VERSION %q: set \"version\": %q in js/package.json", pkg.Version, v, v)
	}
}
