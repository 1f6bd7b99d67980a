//go:build js && wasm

package basepoints

import (
	"encoding/hex"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
)

// tableCalls counts the library's calls of its table accessor: wrapped here
// (test inits run after the package's), so that a library that no longer
// reads compressedBytePointsFn — the go:linkname then names a variable of
// our own — shows as no call at all.
var tableCalls int

func init() {
	installed := libraryTable
	libraryTable = func() string {
		tableCalls++
		return installed()
	}
}

// TestInstalledTableSignsAndVerifies: in the browser build the library
// takes its table from this package, and BIP-340 works with it (test
// vector 0 of BIP-340 signed with its aux randomness, then verified).
func TestInstalledTableSignsAndVerifies(t *testing.T) {
	defer func() {
		if tableCalls != 1 {
			t.Errorf("the library called the installed table accessor %d times, want once: it no longer takes its table from this package", tableCalls)
		}
	}()
	sk, _ := btcec.PrivKeyFromBytes(mustHex("0000000000000000000000000000000000000000000000000000000000000003"))
	msg := mustHex("0000000000000000000000000000000000000000000000000000000000000000")
	sig, err := schnorr.Sign(sk, msg, schnorr.CustomNonce([32]byte{}))
	if err != nil {
		t.Fatal(err)
	}
	const want = "e907831f80848d1069a5371b402410364bdf1c5f8307b0084c55f1ce2dca821525f66a4a85ea8b71e482a74f382d2ce5ebeee8fdb2172f477df4900d310536c0"
	if got := hex.EncodeToString(sig.Serialize()); got != want {
		t.Fatalf("signature %s, want BIP-340 vector 0's %s", got, want)
	}
	if !sig.Verify(msg, sk.PubKey()) {
		t.Fatal("the signature does not verify")
	}
}
