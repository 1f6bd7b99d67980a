//go:build !js

// Command striptable removes secp256k1's embedded base-point table from a
// linked peerset.wasm: scripts/build-wasm.sh runs it on every browser build.
//
// github.com/decred/dcrd/dcrec/secp256k1/v4 keeps its precomputed table as
// a 698 KB string that an init function references, so the linker keeps it
// (about 0.53 MB of the wasm after brotli). The browser build never reads
// it: cmd/wasm/internal/basepoints computes the same table at run time and
// installs its own accessor in the library. This tool finds the string's
// bytes in the wasm's data section (exactly one occurrence, or it fails)
// and drops them: the data segment that held them is split around them, so
// that memory stays zero there, as for any other gap between segments.
//
//	striptable -in peerset.wasm -out peerset.wasm
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	_ "unsafe" // go:linkname

	_ "github.com/decred/dcrd/dcrec/secp256k1/v4" // the table below
)

// table is the library's embedded table: the very bytes linked into the
// wasm (same module version, from go.mod).
//
//go:linkname table github.com/decred/dcrd/dcrec/secp256k1/v4.compressedBytePoints
var table string

func main() {
	in := flag.String("in", "", "the wasm to read")
	out := flag.String("out", "", "where to write the wasm without the table (may be -in)")
	flag.Parse()
	if *in == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: striptable -in peerset.wasm -out peerset.wasm")
		os.Exit(2)
	}
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "striptable:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	wasm, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	if len(table) < 1024 {
		return errors.New("the secp256k1 library embeds no table any more: drop this step from scripts/build-wasm.sh")
	}
	stripped, err := strip(wasm, []byte(table))
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	fmt.Fprintf(os.Stderr, "striptable: dropped secp256k1's table (%d bytes) from %s\n", len(table), in)
	return os.WriteFile(out, stripped, 0o644)
}
