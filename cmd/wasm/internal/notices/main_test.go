//go:build !js

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		text, want string
	}{
		{"Copyright (c) 2013-2017 The btcsuite developers\n\nPermission to use, copy, modify, and distribute this software for any\npurpose with or without fee is hereby granted, provided that ...", "ISC"},
		{"ISC License\n\nPermission to use, copy, modify, and/or distribute this software for any purpose with or without fee is hereby granted", "ISC"},
		{"MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy", "MIT"},
		{"Redistribution and use in source and binary forms, with or without\nmodification, are permitted ... * Neither the name of Google LLC nor", "BSD-3-Clause"},
		{"Redistribution and use in source and binary forms, with or without modification, are permitted provided that", "BSD-2-Clause"},
		{"                                 Apache License\n                           Version 2.0, January 2004", "Apache-2.0"},
		{"All rights reserved. Ask us.", "see the text"},
	}
	for _, tt := range tests {
		if got := classify(tt.text); got != tt.want {
			t.Errorf("classify(%.40q) = %s, want %s", tt.text, got, tt.want)
		}
	}
}

// TestGoLicenseIsBSD3: the toolchain's own LICENSE, which the notices
// reproduce for wasm_exec.js and the runtime, is what the table says.
func TestGoLicenseIsBSD3(t *testing.T) {
	goroot, err := goEnv("go", "GOROOT")
	if err != nil {
		t.Fatalf("the notices need the go command: %v", err)
	}
	text, err := os.ReadFile(filepath.Join(goroot, "LICENSE"))
	if err != nil {
		t.Fatalf("the notices need GOROOT/LICENSE: %v", err)
	}
	if got := classify(string(text)); got != "BSD-3-Clause" {
		t.Errorf("Go's LICENSE classifies as %s", got)
	}
}

func TestReadLicenseNeedsAFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := readLicense(module{Path: "example.org/m", Version: "v1.0.0", Dir: dir}); err == nil || !strings.Contains(err.Error(), "no LICENSE file") {
		t.Fatalf("a module without a licence file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "LICENSE.md"), []byte("Permission is hereby granted, free of charge, to any person"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "PATENTS"), []byte("grant"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := readLicense(module{Path: "example.org/m", Version: "v1.0.0", Dir: dir})
	if err != nil || l.Kind != "MIT" || l.File != "LICENSE.md" || l.Patents != "grant" {
		t.Fatalf("readLicense = %+v, %v", l, err)
	}
}
