//go:build js

package main

import "io"

// The browser twin of blob_other.go: blob reads a file store.

func cmdBlob(args []string, stdout io.Writer) error { return errNativeOnly }
