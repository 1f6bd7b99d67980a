//go:build js && wasm

package basepoints

import (
	_ "unsafe" // go:linkname

	_ "github.com/decred/dcrd/dcrec/secp256k1/v4" // initialized first: its init sets the function replaced below
)

// libraryTable is the library's accessor of its embedded table, which it
// calls once, on the first scalar base multiplication.
//
//go:linkname libraryTable github.com/decred/dcrd/dcrec/secp256k1/v4.compressedBytePointsFn
var libraryTable func() string

// Importing this package (cmd/wasm does) makes the library compute its
// table instead of decoding the embedded one, which the browser build
// blanks at link time.
func init() { libraryTable = Compressed }
