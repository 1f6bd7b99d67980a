// Package basepoints computes the table that github.com/decred/dcrd/dcrec/
// secp256k1/v4 uses to accelerate scalar base multiplication (the heart of
// BIP-340 signing and verification) at run time, instead of carrying it in
// the binary.
//
// The library embeds the table as a 698 KB string (base64 of zlib of the
// serialized points: random-looking bytes that barely compress), about
// 0.53 MB of peerset.wasm after brotli. The browser build drops that string
// after linking (scripts/build-wasm.sh runs cmd/wasm/internal/striptable on
// the wasm) and, through install_js.go, hands the library this package's
// computation instead: the same table, computed at run time in the engine's
// worker. Without striptable the build still works (the string is then
// unused but present).
//
// The table: for each byte position b of a 256-bit scalar (most significant
// first) and each byte value i, the affine point i·2^(8·(31−b))·G, its X
// and Y as 32-byte big-endian numbers, in that order; the point at infinity
// (i = 0) as zeros. TestMatchesTheEmbeddedTable checks every byte against
// the library's own string.
package basepoints

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash/adler32"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

const (
	windows      = 32  // byte positions of a scalar
	pointsPerWin = 256 // byte values
	// Size is the length of the serialized table.
	Size = windows * pointsPerWin * 64
)

// The generator of secp256k1 (SEC 2, section 2.4.1).
const (
	gx = "79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798"
	gy = "483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8"
)

// Serialized returns the table in the library's serialized form.
func Serialized() []byte {
	var g secp256k1.JacobianPoint
	g.X.SetByteSlice(mustHex(gx))
	g.Y.SetByteSlice(mustHex(gy))
	g.Z.SetInt(1)

	// w[b] = 2^(8·(31−b))·G: w[31] = G, and each window's base is 256
	// times the next one's.
	var bases [windows]secp256k1.JacobianPoint
	bases[windows-1] = g
	for b := windows - 2; b >= 0; b-- {
		p := bases[b+1]
		for range 8 {
			secp256k1.DoubleNonConst(&p, &p)
		}
		bases[b] = p
	}
	// In affine coordinates (Z = 1) each of the additions below takes the
	// library's cheaper mixed addition.
	for b := range bases {
		bases[b].ToAffine()
	}

	// Every multiple i·w[b] for i in 1..255, in Jacobian coordinates.
	points := make([]secp256k1.JacobianPoint, windows*pointsPerWin)
	for b := range windows {
		row := points[b*pointsPerWin : (b+1)*pointsPerWin]
		row[1] = bases[b]
		for i := 2; i < pointsPerWin; i++ {
			secp256k1.AddNonConst(&row[i-1], &bases[b], &row[i])
		}
	}
	toAffine(points)

	out := make([]byte, Size)
	for j := range points {
		if j%pointsPerWin == 0 {
			continue // the point at infinity: zeros
		}
		points[j].X.PutBytesUnchecked(out[64*j:])
		points[j].Y.PutBytesUnchecked(out[64*j+32:])
	}
	return out
}

// toAffine converts the points (except those at index 0 of each window,
// the point at infinity) to affine coordinates with a single field
// inversion (Montgomery's trick).
func toAffine(points []secp256k1.JacobianPoint) {
	prefix := make([]secp256k1.FieldVal, len(points))
	var acc secp256k1.FieldVal
	acc.SetInt(1)
	for j := range points {
		if j%pointsPerWin == 0 {
			continue
		}
		acc.Mul(&points[j].Z).Normalize()
		prefix[j] = acc
	}
	var inv secp256k1.FieldVal
	inv.Set(&acc).Inverse().Normalize() // 1 / (Z_1 · Z_2 · … · Z_n)
	for j := len(points) - 1; j >= 0; j-- {
		if j%pointsPerWin == 0 {
			continue
		}
		// zInv = inv · (Z_1 · … · Z_{j−1}) = 1 / Z_j
		var zInv secp256k1.FieldVal
		zInv.Set(&inv)
		if prev := previous(j); prev >= 0 {
			zInv.Mul(&prefix[prev]).Normalize()
		}
		inv.Mul(&points[j].Z).Normalize()

		var z2 secp256k1.FieldVal
		z2.SquareVal(&zInv).Normalize()
		p := &points[j]
		p.X.Mul(&z2).Normalize()
		p.Y.Mul(z2.Mul(&zInv)).Normalize()
		p.Z.SetInt(1)
	}
}

// previous is the index of the point before j in the product, or -1.
func previous(j int) int {
	for j--; j >= 0; j-- {
		if j%pointsPerWin != 0 {
			return j
		}
	}
	return -1
}

// Compressed returns the table as the library stores it: base64 of a zlib
// stream (RFC 1950) of Serialized. The stream holds stored blocks (RFC 1951
// §3.2.4), not deflated ones: the points do not compress, and writing them
// as they are needs no compressor in the binary.
func Compressed() string {
	data := Serialized()
	const maxBlock = 65535
	z := make([]byte, 0, 2+len(data)+5*(len(data)/maxBlock+1)+4)
	z = append(z, 0x78, 0x01) // deflate, 32 KiB window; no dictionary, check bits
	for rest := data; ; {
		n := min(len(rest), maxBlock)
		final := byte(0)
		if n == len(rest) {
			final = 1
		}
		z = append(z, final) // BFINAL, BTYPE 00 (stored)
		z = binary.LittleEndian.AppendUint16(z, uint16(n))
		z = binary.LittleEndian.AppendUint16(z, ^uint16(n))
		z = append(z, rest[:n]...)
		rest = rest[n:]
		if final == 1 {
			break
		}
	}
	z = binary.BigEndian.AppendUint32(z, adler32.Checksum(data))
	return base64.StdEncoding.EncodeToString(z)
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
