//go:build js

package main

import "io"

// The browser twin of backup_other.go: import and export need a file store.

func cmdImport(args []string, stdin io.Reader, stdout io.Writer) error { return errNativeOnly }

func cmdExport(args []string, stdout io.Writer) error { return errNativeOnly }
