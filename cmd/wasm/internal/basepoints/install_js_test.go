//go:build js && wasm

package basepoints

import (
	"encoding/hex"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
)

// TestInstalledTableSignsAndVerifies: in the browser build the library
// takes its table from this package, and BIP-340 works with it (test
// vector 0 of BIP-340 signed with its aux randomness, then verified).
func TestInstalledTableSignsAndVerifies(t *testing.T) {
	if got := libraryTable(); len(got) != len(Compressed()) || got[:64] != Compressed()[:64] {
		t.Fatal("the library does not take its table from this package")
	}
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
