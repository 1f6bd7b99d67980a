//go:build js

package main

import (
	"errors"
	"io"
)

// The browser twin of online_other.go: put and join need a file store and
// pion.

var errNativeOnly = errors.New("put, blob, join, import and export need a file store and run natively only; in a browser use the JavaScript API")

func cmdPut(args []string, stdout io.Writer) error { return errNativeOnly }

func cmdJoin(args []string, stdout, stderr io.Writer) error { return errNativeOnly }
