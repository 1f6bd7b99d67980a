//go:build js

package main

import (
	"errors"
	"io"
)

var errNativeOnly = errors.New("put, join, import and export need a file store and run natively only; in a browser use the JavaScript API")

func cmdPut(args []string, stdout io.Writer) error { return errNativeOnly }

func cmdJoin(args []string, stdout, stderr io.Writer) error { return errNativeOnly }

func cmdImport(args []string, stdin io.Reader, stdout io.Writer) error { return errNativeOnly }

func cmdExport(args []string, stdout io.Writer) error { return errNativeOnly }
