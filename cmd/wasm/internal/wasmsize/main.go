//go:build !js

// Command wasmsize prints what peerset.wasm is made of (make wasm-size): the
// size of the release build (raw, gzip -9, brotli -q 11), then its code
// grouped by package, and its data.
//
// The release build (scripts/build-wasm.sh) is linked with -s -w, which
// leaves no names; this tool links the same program once more without them
// (with the release build's -gcflags: the same code) and reads the
// WebAssembly name section to give each function body to its package. A package's "brotli alone" is its code
// compressed on its own: an estimate of what it adds to the compressed
// file. The data section (strings, type information, the function table,
// constant tables) carries no names: its largest symbols are listed from
// the compiled packages (go tool nm -size), before the linker dropped
// anything unused.
//
//	go run ./cmd/wasm/internal/wasmsize -wasm js/dist/peerset.wasm
package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
)

func main() {
	release := flag.String("wasm", "js/dist/peerset.wasm", "the release build to measure")
	pkg := flag.String("pkg", "./cmd/wasm", "the package it was built from")
	top := flag.Int("top", 30, "rows of the package table")
	gcflags := flag.String("gcflags", "", "the release build's -gcflags arguments, space-separated (scripts/build-wasm.sh --print-gcflags)")
	flag.Parse()
	if err := run(*release, *pkg, *top, strings.Fields(*gcflags)); err != nil {
		fmt.Fprintln(os.Stderr, "wasmsize:", err)
		os.Exit(1)
	}
}

func run(release, pkg string, top int, gcflags []string) error {
	if _, err := exec.LookPath("brotli"); err != nil {
		return errors.New("the brotli command is missing: apt-get install brotli")
	}
	rel, err := os.ReadFile(release)
	if err != nil {
		return fmt.Errorf("%w (build it first: scripts/build-wasm.sh)", err)
	}
	tmp, err := os.MkdirTemp("", "wasmsize-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	named := filepath.Join(tmp, "named.wasm")
	args := append(append([]string{"build", "-trimpath"}, gcflags...), "-o", named, pkg)
	if out, err := goCmd(args...).CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	bin, err := os.ReadFile(named)
	if err != nil {
		return err
	}
	m, err := parse(bin)
	if err != nil {
		return err
	}
	deps, err := goList("-deps", "-f", "{{.ImportPath}}", pkg)
	if err != nil {
		return err
	}

	groups := m.byPackage(deps)
	type row struct {
		name string
		code []byte
	}
	var rows []row
	for name, code := range groups {
		rows = append(rows, row{name, code})
	}
	sort.Slice(rows, func(i, j int) bool { return len(rows[i].code) > len(rows[j].code) })
	rows = rows[:min(len(rows), top)]

	// brotli -q 11 is slow: every size at once, on every core.
	inputs := [][]byte{rel, m.codeBytes(), m.data}
	for _, r := range rows {
		inputs = append(inputs, r.code)
	}
	sizes := brotliSizes(inputs)

	fmt.Printf("## %s\n\n", release)
	fmt.Println("| build | raw | gzip -9 | brotli -q 11 |")
	fmt.Println("|---|---:|---:|---:|")
	fmt.Printf("| %s (release: -s -w, inlining on hot paths only, secp256k1's table stripped) | %s | %s | %s |\n", filepath.Base(release), mb(len(rel)), mb(gzipSize(rel)), mb(sizes[0]))
	fmt.Printf("| code section (function bodies) | %s | | %s |\n", mb(m.codeTotal()), mb(sizes[1]))
	fmt.Printf("| data section (strings, types, tables, function table) | %s | | %s |\n\n", mb(len(m.data)), mb(sizes[2]))

	fmt.Println("| package (grouped) | functions' code raw | brotli alone |")
	fmt.Println("|---|---:|---:|")
	shown := 0
	for i, r := range rows {
		fmt.Printf("| %s | %s | %s |\n", r.name, kb(len(r.code)), kb(sizes[3+i]))
		shown += len(r.code)
	}
	rest, restN := m.codeTotal()-shown, len(groups)-len(rows)
	if restN > 0 {
		fmt.Printf("| %d more packages | %s | |\n", restN, kb(rest))
	}
	fmt.Println()

	syms, err := dataSymbols(pkg, 16<<10)
	if err != nil {
		return err
	}
	fmt.Println("| largest data symbols (compiled packages, before linking) | size |")
	fmt.Println("|---|---:|")
	for _, s := range syms {
		fmt.Printf("| %s | %s |\n", s.name, kb(s.size))
	}
	return nil
}

func goCmd(args ...string) *exec.Cmd {
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	return cmd
}

func goList(args ...string) ([]string, error) {
	out, err := goCmd(append([]string{"list"}, args...)...).Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w", err)
	}
	return strings.Fields(string(out)), nil
}

// group maps a package to the row it is counted in.
func group(p string) string {
	switch {
	case p == "runtime" || strings.HasPrefix(p, "internal/") || strings.HasPrefix(p, "runtime/"):
		return "Go runtime (runtime, internal/…)"
	case strings.HasPrefix(p, "crypto/internal/"):
		return "crypto/internal/… (standard library)"
	case strings.HasPrefix(p, "vendor/"):
		return "vendor/… (standard library)"
	case strings.HasPrefix(p, "github.com/peersetdb/peerset/"):
		return strings.TrimPrefix(p, "github.com/peersetdb/peerset/")
	}
	return p
}

// secp256k1's embedded table (cmd/wasm/internal/striptable).
const (
	tablePackage = "github.com/decred/dcrd/dcrec/secp256k1/v4"
	tableSize    = 698032
)

type symbol struct {
	name string
	size int
}

// dataSymbols lists the data symbols of at least min bytes in the compiled
// packages that pkg links.
func dataSymbols(pkg string, min int) ([]symbol, error) {
	lines, err := goList("-deps", "-export", "-f", "{{.ImportPath}}={{.Export}}", pkg)
	if err != nil {
		return nil, err
	}
	var out []symbol
	for _, l := range lines {
		path, export, ok := strings.Cut(l, "=")
		if !ok || export == "" {
			continue
		}
		nm, err := exec.Command("go", "tool", "nm", "-size", export).Output()
		if err != nil {
			continue // not an object file nm reads: no data of note
		}
		for line := range strings.Lines(string(nm)) {
			f := strings.Fields(line)
			if len(f) < 4 || (f[2] != "D" && f[2] != "R") {
				continue
			}
			size, err := strconv.Atoi(f[1])
			if err != nil || size < min {
				continue
			}
			name := strings.TrimPrefix(strings.Join(f[3:], " "), path+".")
			if strings.HasPrefix(name, "go:string.") {
				name = "a string constant"
			}
			if path == tablePackage && size == tableSize {
				name += " (the base-point table: dropped from the release build, computed at run time)"
			}
			out = append(out, symbol{name: path + ": " + name, size: size})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].size > out[j].size })
	return out, nil
}

func gzipSize(b []byte) int {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Len()
}

// brotliSizes compresses every input, as many at once as there are cores.
func brotliSizes(inputs [][]byte) []int {
	out := make([]int, len(inputs))
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for i, b := range inputs {
		wg.Go(func() {
			sem <- struct{}{}
			out[i] = brotliSize(b)
			<-sem
		})
	}
	wg.Wait()
	return out
}

func brotliSize(b []byte) int {
	cmd := exec.Command("brotli", "-q", "11", "-c")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		return -1
	}
	return len(out)
}

func mb(n int) string { return fmt.Sprintf("%s B (%.2f MB)", comma(n), float64(n)/1e6) }
func kb(n int) string { return fmt.Sprintf("%.1f KB", float64(n)/1e3) }

func comma(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
