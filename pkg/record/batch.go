package record

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	mrand "math/rand/v2"
	"sync"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// Batch verification of BIP-340 signatures (BIP-340, "Batch Verification").
//
// For u signatures (P_i, m_i, r_i, s_i) with challenges e_i, and random
// 128-bit factors a_i unknown to whoever made the signatures, every
// signature holds iff, with overwhelming probability (a forged batch passes
// with a chance of about 2^-128),
//
//	(Σ a_i·s_i)·G = Σ a_i·R_i + Σ (a_i·e_i)·P_i
//
// where R_i = lift_x(r_i) and P_i = lift_x(P_i). That is one multi-scalar
// multiplication (Pippenger's bucket method here) instead of u double
// multiplications, and the terms of one author's signatures share their
// point: Σ over that author of a_i·e_i is one scalar. Signatures that
// cannot hold on their face (s ≥ n, r not the x of a curve point, an
// author key that is not one) are failed at once and left out of the sum.
// A batch whose sum fails is checked signature by signature, so the result
// is always exactly each event's Verify; such a batch (it holds a forgery)
// costs one batch more than checking each alone.

// minBatchVerify is the smallest batch checked as a batch; smaller ones are
// checked one by one (the multi-scalar multiplication's fixed cost would
// not pay).
const minBatchVerify = 8

// VerifyBatch checks every event like Verify (shape, id, signature) and
// reports which pass: ok[i] is events[i].Verify() == nil (false for a nil
// event). The signatures are checked together, which is several times
// cheaper than one by one when most of them hold.
func VerifyBatch(events []*Event) []bool {
	ok := make([]bool, len(events))
	VerifyBatchInto(events, ok)
	return ok
}

// VerifyBatchInto is VerifyBatch writing into ok, which must be as long as
// events.
func VerifyBatchInto(events []*Event, ok []bool) {
	if len(ok) != len(events) {
		panic("record: VerifyBatchInto: ok and events differ in length")
	}
	// Shape and id first, one by one: cheap, and a batch only gets
	// signatures whose message is the event's real id.
	candidates := make([]int, 0, len(events))
	for i, e := range events {
		ok[i] = false
		if e == nil || e.CheckWellFormed() != nil || e.ComputeID() != e.ID {
			continue
		}
		candidates = append(candidates, i)
	}
	if len(candidates) < minBatchVerify {
		for _, i := range candidates {
			ok[i] = events[i].VerifySignature() == nil
		}
		return
	}
	sigs := make([]batchSig, len(candidates))
	for k, i := range candidates {
		e := events[i]
		sigs[k] = batchSig{pub: e.PubKey, msg: e.ID, sig: e.Sig}
	}
	plausible := make([]bool, len(sigs))
	if verifySignatureBatch(sigs, plausible) {
		for k, i := range candidates {
			ok[i] = plausible[k]
		}
		return
	}
	for k, i := range candidates {
		ok[i] = plausible[k] && events[i].VerifySignature() == nil
	}
}

// batchSig is one signature of a batch.
type batchSig struct {
	pub PublicKey
	msg [32]byte
	sig [64]byte
}

// challengeTag is SHA-256("BIP0340/challenge"), the prefix (twice) of every
// challenge hash.
var challengeTag = sha256.Sum256([]byte("BIP0340/challenge"))

// challenge returns e = int(hash_BIP0340/challenge(r || P || m)) mod n.
func challenge(r *[32]byte, pub *PublicKey, msg *[32]byte) secp256k1.ModNScalar {
	h := sha256.New()
	h.Write(challengeTag[:])
	h.Write(challengeTag[:])
	h.Write(r[:])
	h.Write(pub[:])
	h.Write(msg[:])
	var sum [32]byte
	h.Sum(sum[:0])
	var e secp256k1.ModNScalar
	e.SetBytes(&sum)
	return e
}

// liftX returns the point with x coordinate x and an even y (BIP-340's
// lift_x) in Jacobian form with Z = 1, or false when x is not below the
// field's prime or not on the curve.
func liftX(x *[32]byte, p *secp256k1.JacobianPoint) bool {
	if p.X.SetBytes(x) != 0 {
		return false
	}
	if !secp256k1.DecompressY(&p.X, false, &p.Y) {
		return false
	}
	p.X.Normalize()
	p.Z.SetInt(1)
	return true
}

// batchRandom seeds the factors of a batch: a ChaCha8 stream keyed from the
// system's randomness once per batch, so that no one who signs can predict
// them.
func batchRandom() *mrand.ChaCha8 {
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		// crypto/rand does not fail on supported platforms (Go 1.24+
		// crashes the program instead); keep the compiler satisfied.
		panic("record: no system randomness: " + err.Error())
	}
	return mrand.NewChaCha8(seed)
}

// msmTerm is one point of a multi-scalar multiplication and its scalar.
type msmTerm struct {
	point  secp256k1.JacobianPoint // affine: Z = 1
	scalar [32]byte                // big-endian
}

// verifySignatureBatch checks the signatures of sigs together (see the
// comment at the top of the file). It sets plausible[i] false for those
// that cannot hold on their face (s ≥ n, r not the x of a curve point, a
// key that is not one: BIP-340 fails them too) and true for the others,
// and reports whether all of those others hold; false means at least one
// does not, and the caller checks them one by one.
func verifySignatureBatch(sigs []batchSig, plausible []bool) bool {
	rng := batchRandom()
	terms := make([]msmTerm, 0, len(sigs)+len(sigs)/2)
	authors := make(map[PublicKey]int, 16) // index in terms; -1: not a key
	var sSum secp256k1.ModNScalar
	var rnd [16]byte
	for i := range sigs {
		sg := &sigs[i]
		plausible[i] = false
		r := (*[32]byte)(sg.sig[:32])
		var s secp256k1.ModNScalar
		if s.SetBytes((*[32]byte)(sg.sig[32:])) != 0 {
			continue // s ≥ n
		}
		var R msmTerm
		if !liftX(r, &R.point) {
			continue // r ≥ p, or not the x of a point
		}
		k, seen := authors[sg.pub]
		if seen && k < 0 {
			continue // a key that is not one
		}
		var P msmTerm
		if !seen {
			pub := [32]byte(sg.pub)
			if !liftX(&pub, &P.point) {
				authors[sg.pub] = -1
				continue
			}
		}
		plausible[i] = true
		// a_i: 128 random bits, never zero.
		var a secp256k1.ModNScalar
		for a.IsZero() {
			binary.LittleEndian.PutUint64(rnd[:8], rng.Uint64())
			binary.LittleEndian.PutUint64(rnd[8:], rng.Uint64())
			a.SetByteSlice(rnd[:])
		}
		// Σ a_i·s_i
		var as secp256k1.ModNScalar
		as.Mul2(&a, &s)
		sSum.Add(&as)

		// −R_i with a_i.
		R.point.Y.Negate(1).Normalize()
		a.PutBytes(&R.scalar)
		terms = append(terms, R)

		// −P_i with a_i·e_i, summed per author.
		e := challenge(r, &sg.pub, &sg.msg)
		var ae secp256k1.ModNScalar
		ae.Mul2(&a, &e)
		if seen {
			var sum secp256k1.ModNScalar
			sum.SetBytes(&terms[k].scalar)
			sum.Add(&ae)
			sum.PutBytes(&terms[k].scalar)
			continue
		}
		P.point.Y.Negate(1).Normalize()
		ae.PutBytes(&P.scalar)
		authors[sg.pub] = len(terms)
		terms = append(terms, P)
	}
	var sum, sG secp256k1.JacobianPoint
	multiScalarMult(terms, &sum)
	secp256k1.ScalarBaseMultNonConst(&sSum, &sG)
	var total secp256k1.JacobianPoint
	secp256k1.AddNonConst(&sum, &sG, &total)
	return isInfinity(&total)
}

// isInfinity reports whether p is the point at infinity (dcrd's
// representations: Z = 0, or X = Y = 0).
func isInfinity(p *secp256k1.JacobianPoint) bool {
	return (p.X.IsZero() && p.Y.IsZero()) || p.Z.IsZero()
}

// windowBits returns the Pippenger window width for n points.
func windowBits(n int) int {
	switch {
	case n < 16:
		return 3
	case n < 64:
		return 4
	case n < 192:
		return 5
	case n < 512:
		return 6
	case n < 1536:
		return 7
	case n < 4096:
		return 8
	default:
		return 9
	}
}

// digit returns the c bits of the big-endian scalar s that start at bit
// start (bit 0 is the least significant).
func digit(s *[32]byte, start, c int) int {
	var d int
	for b := 0; b < c; b++ {
		bit := start + b
		if bit >= 256 {
			break
		}
		if s[31-bit/8]>>(bit%8)&1 != 0 {
			d |= 1 << b
		}
	}
	return d
}

// bucketPool keeps the bucket slices of multiScalarMult.
var bucketPool = sync.Pool{New: func() any { return new([]secp256k1.JacobianPoint) }}

// multiScalarMult sets result to Σ scalar·point over terms (Pippenger's
// bucket method, unsigned windows). Terms whose scalars are short (the
// 128-bit factors) cost nothing in the windows above their length.
func multiScalarMult(terms []msmTerm, result *secp256k1.JacobianPoint) {
	result.X.Zero()
	result.Y.Zero()
	result.Z.Zero()
	if len(terms) == 0 {
		return
	}
	c := windowBits(len(terms))
	windows := (256 + c - 1) / c
	nb := 1<<c - 1
	bp := bucketPool.Get().(*[]secp256k1.JacobianPoint)
	defer bucketPool.Put(bp)
	if cap(*bp) < nb {
		*bp = make([]secp256k1.JacobianPoint, nb)
	}
	buckets := (*bp)[:nb]
	var tmp secp256k1.JacobianPoint
	for w := windows - 1; w >= 0; w-- {
		if !isInfinity(result) {
			for range c {
				secp256k1.DoubleNonConst(result, &tmp)
				*result = tmp
			}
		}
		for i := range buckets {
			buckets[i] = secp256k1.JacobianPoint{}
		}
		top := 0 // the highest digit used in this window
		for i := range terms {
			d := digit(&terms[i].scalar, w*c, c)
			if d == 0 {
				continue
			}
			top = max(top, d)
			b := &buckets[d-1]
			if isInfinity(b) {
				*b = terms[i].point
				continue
			}
			secp256k1.AddNonConst(b, &terms[i].point, &tmp)
			*b = tmp
		}
		if top == 0 {
			continue
		}
		// Σ d·bucket_d as running sums from the top bucket used down.
		var running, acc secp256k1.JacobianPoint
		for d := top - 1; d >= 0; d-- {
			if !isInfinity(&buckets[d]) {
				secp256k1.AddNonConst(&running, &buckets[d], &tmp)
				running = tmp
			}
			if !isInfinity(&running) {
				secp256k1.AddNonConst(&acc, &running, &tmp)
				acc = tmp
			}
		}
		secp256k1.AddNonConst(result, &acc, &tmp)
		*result = tmp
	}
}
