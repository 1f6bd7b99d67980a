//go:build !js

// Command notices writes THIRD_PARTY_NOTICES.md for the npm package:
// the licences of what it ships that is not peerset's own code. That is
// Go's wasm_exec.js (copied as is, and at the head of peerset.worker.js),
// the Go runtime and standard library compiled into peerset.wasm, and every
// Go module whose packages the js/wasm build of ./cmd/wasm links, as `go
// list -deps` reports them (test-only dependencies are not linked, so not
// listed). Each licence is read from the module's own files in the module
// cache (no network) and printed in full. scripts/build-wasm.sh runs it on
// every browser build.
//
//	notices -pkg ./cmd/wasm -out js/dist/THIRD_PARTY_NOTICES.md
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

func main() {
	pkg := flag.String("pkg", "./cmd/wasm", "the main package of the browser build")
	out := flag.String("out", "", "where to write the notices (required)")
	goCmd := flag.String("go", "go", "the go command that built the wasm")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: notices -pkg ./cmd/wasm -out js/dist/THIRD_PARTY_NOTICES.md [-go go]")
		os.Exit(2)
	}
	if err := run(*goCmd, *pkg, *out); err != nil {
		fmt.Fprintln(os.Stderr, "notices:", err)
		os.Exit(1)
	}
}

// module is one module of the build, as go list reports it.
type module struct {
	Path    string
	Version string
	Dir     string
	Main    bool
	Replace *module
}

func run(goCmd, pkg, out string) error {
	mods, err := linkedModules(goCmd, pkg)
	if err != nil {
		return err
	}
	goroot, err := goEnv(goCmd, "GOROOT")
	if err != nil {
		return err
	}
	goVersion, err := goEnv(goCmd, "GOVERSION")
	if err != nil {
		return err
	}
	goLicense, err := os.ReadFile(filepath.Join(goroot, "LICENSE"))
	if err != nil {
		return fmt.Errorf("the Go toolchain's LICENSE: %w", err)
	}
	goPatents, _ := os.ReadFile(filepath.Join(goroot, "PATENTS")) // absent: none
	var b bytes.Buffer
	writeNotices(&b, goVersion, licensed{Text: string(goLicense), Patents: string(goPatents)}, mods)
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

// linkedModules lists the modules, other than the main one, whose packages
// the js/wasm build of pkg links, each with its licence file.
func linkedModules(goCmd, pkg string) ([]licensed, error) {
	cmd := exec.Command(goCmd, "list", "-deps", "-json=Module", pkg)
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "GOFLAGS=-mod=readonly")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps %s (js/wasm): %v: %s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	seen := map[string]bool{}
	var mods []licensed
	dec := json.NewDecoder(bytes.NewReader(outb))
	for {
		var p struct{ Module *module }
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("reading go list's output: %w", err)
		}
		m := p.Module
		if m == nil || m.Main || seen[m.Path] { // nil: the standard library
			continue
		}
		seen[m.Path] = true
		if m.Replace != nil {
			m.Version, m.Dir = m.Replace.Version, m.Replace.Dir
		}
		if m.Dir == "" {
			return nil, fmt.Errorf("module %s %s is not in the module cache: run go mod download", m.Path, m.Version)
		}
		l, err := readLicense(*m)
		if err != nil {
			return nil, err
		}
		mods = append(mods, l)
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	return mods, nil
}

// licensed is a module with its licence.
type licensed struct {
	module
	File string // the licence file's name in the module
	Text string
	Kind string // an SPDX identifier, or "see the text"
	// Patents is the module's PATENTS file (Go's additional patent grant),
	// if it has one.
	Patents string
}

var licenseFile = regexp.MustCompile(`(?i)^(licen[cs]e|copying)(\.(md|txt))?$`)

func readLicense(m module) (licensed, error) {
	entries, err := os.ReadDir(m.Dir)
	if err != nil {
		return licensed{}, err
	}
	for _, e := range entries {
		if e.IsDir() || !licenseFile.MatchString(e.Name()) {
			continue
		}
		text, err := os.ReadFile(filepath.Join(m.Dir, e.Name()))
		if err != nil {
			return licensed{}, err
		}
		patents, _ := os.ReadFile(filepath.Join(m.Dir, "PATENTS")) // absent: none
		return licensed{module: m, File: e.Name(), Text: string(text), Kind: classify(string(text)), Patents: string(patents)}, nil
	}
	return licensed{}, fmt.Errorf("module %s %s has no LICENSE file in %s: its licence must be found by hand before it ships", m.Path, m.Version, m.Dir)
}

// classify names a licence text's SPDX identifier by phrases each licence
// has and the others lack.
func classify(text string) string {
	t := strings.Join(strings.Fields(text), " ")
	switch {
	case strings.Contains(t, "Apache License") && strings.Contains(t, "Version 2.0"):
		return "Apache-2.0"
	case strings.Contains(t, "Permission to use, copy, modify, and/or distribute this software for any purpose with or without fee is hereby granted"),
		strings.Contains(t, "Permission to use, copy, modify, and distribute this software for any purpose with or without fee is hereby granted"):
		return "ISC"
	case strings.Contains(t, "Permission is hereby granted, free of charge"):
		return "MIT"
	case strings.Contains(t, "Redistribution and use in source and binary forms") && strings.Contains(t, "Neither the name"):
		return "BSD-3-Clause"
	case strings.Contains(t, "Redistribution and use in source and binary forms"):
		return "BSD-2-Clause"
	}
	return "see the text"
}

func writeNotices(w io.Writer, goVersion string, golang licensed, mods []licensed) {
	fmt.Fprintf(w, "# Third-party notices\n\n")
	fmt.Fprintf(w, "peerset's own code is under the MIT licence (LICENSE). This package also ships the\n")
	fmt.Fprintf(w, "following, each under its own licence, reproduced in full below.\n\n")
	fmt.Fprintf(w, "| what | where in this package | licence |\n|---|---|---|\n")
	fmt.Fprintf(w, "| Go's `wasm_exec.js` (%s) | `dist/wasm_exec.js`, the head of `dist/peerset.worker.js` | BSD-3-Clause |\n", goVersion)
	fmt.Fprintf(w, "| the Go runtime and standard library (%s) | compiled into `dist/peerset.wasm` | BSD-3-Clause |\n", goVersion)
	for _, m := range mods {
		fmt.Fprintf(w, "| Go module `%s` %s | compiled into `dist/peerset.wasm` | %s |\n", m.Path, m.Version, m.Kind)
	}
	fmt.Fprintf(w, "\n## Go (%s): wasm_exec.js, runtime and standard library\n\n", goVersion)
	fence(w, golang.Text)
	patents(w, golang)
	for _, m := range mods {
		fmt.Fprintf(w, "\n## %s %s (%s, from its %s)\n\n", m.Path, m.Version, m.Kind, m.File)
		fence(w, m.Text)
		patents(w, m)
	}
}

func patents(w io.Writer, l licensed) {
	if strings.TrimSpace(l.Patents) != "" {
		fmt.Fprintf(w, "\nIts PATENTS file:\n\n")
		fence(w, l.Patents)
	}
}

func fence(w io.Writer, text string) {
	fmt.Fprintf(w, "```text\n%s\n```\n", strings.TrimRight(text, "\n"))
}

func goEnv(goCmd, name string) (string, error) {
	out, err := exec.Command(goCmd, "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}
