package basepoints

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"io"
	"strings"
	"testing"
	_ "unsafe" // go:linkname

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// embedded is the library's own table (see install_js.go for why the
// browser build blanks it).
//
//go:linkname embedded github.com/decred/dcrd/dcrec/secp256k1/v4.compressedBytePoints
var embedded string

func decode(t *testing.T, s string) []byte {
	t.Helper()
	r, err := zlib.NewReader(base64.NewDecoder(base64.StdEncoding, strings.NewReader(s)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMatchesTheEmbeddedTable: the computed table is byte for byte the
// one the library embeds, through the same encoding it decodes.
func TestMatchesTheEmbeddedTable(t *testing.T) {
	if embedded == "" {
		t.Skip("the library's table was blanked at link time (-X): nothing to compare with")
	}
	want := decode(t, embedded)
	if len(want) != Size {
		t.Fatalf("the library's table has %d bytes, this package computes %d: the library changed its format", len(want), Size)
	}
	got := decode(t, Compressed())
	if !bytes.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("first difference at byte %d (window %d, point %d)", i, i/(64*pointsPerWin), i/64%pointsPerWin)
			}
		}
	}
}

// TestBaseMultiplication: a scalar multiplication through the computed
// table agrees with the generic multiplication.
func TestBaseMultiplication(t *testing.T) {
	table := Serialized()
	point := func(b, i int) (x, y []byte) {
		o := 64 * (b*pointsPerWin + i)
		return table[o : o+32], table[o+32 : o+64]
	}
	var g secp256k1.JacobianPoint
	g.X.SetByteSlice(mustHex(gx))
	g.Y.SetByteSlice(mustHex(gy))
	g.Z.SetInt(1)
	for _, c := range []struct{ b, i int }{{31, 1}, {31, 2}, {31, 255}, {30, 1}, {0, 1}, {0, 255}, {17, 99}} {
		// k = i · 256^(31−b)
		var k secp256k1.ModNScalar
		var kb [32]byte
		kb[c.b] = byte(c.i)
		k.SetBytes(&kb)
		var r secp256k1.JacobianPoint
		secp256k1.ScalarMultNonConst(&k, &g, &r)
		r.ToAffine()
		x, y := point(c.b, c.i)
		var rx, ry [32]byte
		r.X.PutBytes(&rx)
		r.Y.PutBytes(&ry)
		if !bytes.Equal(x, rx[:]) || !bytes.Equal(y, ry[:]) {
			t.Errorf("window %d, value %d: table point differs from %d·256^%d·G", c.b, c.i, c.i, 31-c.b)
		}
	}
}

func BenchmarkCompressed(b *testing.B) {
	for b.Loop() {
		_ = Compressed()
	}
}
