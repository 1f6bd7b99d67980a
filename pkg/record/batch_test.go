package record

import (
	"encoding/csv"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// signedEvents returns n signed kind-1 events by authors keys, round-robin.
func signedEvents(t testing.TB, n, authors int) []*Event {
	t.Helper()
	keys := make([]*SecretKey, authors)
	for i := range keys {
		sk, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = sk
	}
	events := make([]*Event, n)
	for i := range events {
		e := &Event{Kind: 1, CreatedAt: 1_700_000_000 + int64(i), Tags: [][]string{{"t", "batch"}}, Content: fmt.Sprintf("event %d", i)}
		if err := e.Sign(keys[i%authors]); err != nil {
			t.Fatal(err)
		}
		events[i] = e
	}
	return events
}

// individually is what VerifyBatch must equal.
func individually(events []*Event) []bool {
	ok := make([]bool, len(events))
	for i, e := range events {
		ok[i] = e != nil && e.Verify() == nil
	}
	return ok
}

func clone(events []*Event) []*Event {
	out := make([]*Event, len(events))
	for i, e := range events {
		if e == nil {
			continue
		}
		c := *e
		c.Tags = append([][]string(nil), e.Tags...)
		out[i] = &c
	}
	return out
}

func TestVerifyBatchMatchesVerify(t *testing.T) {
	base := signedEvents(t, 300, 7)
	fieldPrime, _ := hex.DecodeString("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F")
	curveOrder, _ := hex.DecodeString("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141")
	// A valid signature by another key, moved onto an event.
	other := signedEvents(t, 1, 1)[0]
	tests := []struct {
		name   string
		n      int
		spoil  func(es []*Event) // spoils some events in place
		allOK  bool
		author bool // one author for all
	}{
		{name: "one", n: 1, allOK: true},
		{name: "below the batch size", n: minBatchVerify - 1, allOK: true},
		{name: "the batch size", n: minBatchVerify, allOK: true},
		{name: "300 valid, 7 authors", n: 300, allOK: true},
		{name: "empty", n: 0, allOK: true},
		{name: "s flipped", n: 64, spoil: func(es []*Event) { es[17].Sig[40] ^= 1 }},
		{name: "r flipped", n: 64, spoil: func(es []*Event) { es[0].Sig[3] ^= 0x80 }},
		{name: "r is the field prime", n: 64, spoil: func(es []*Event) { copy(es[5].Sig[:32], fieldPrime) }},
		{name: "s is the curve order", n: 64, spoil: func(es []*Event) { copy(es[63].Sig[32:], curveOrder) }},
		{name: "pubkey not on the curve", n: 64, spoil: func(es []*Event) { es[9].PubKey = PublicKey{0xee, 0xfd, 0xea, 0x4c} }},
		{name: "pubkey of another author", n: 64, spoil: func(es []*Event) { es[9].PubKey = es[10].PubKey }},
		// The id recomputed after the change: the event reaches the batch.
		{name: "pubkey not on the curve, id recomputed", n: 64, spoil: func(es []*Event) {
			es[9].PubKey = PublicKey{0xee, 0xfd, 0xea, 0x4c}
			es[9].ID = es[9].ComputeID()
		}},
		{name: "pubkey of another author, id recomputed", n: 64, spoil: func(es []*Event) {
			es[9].PubKey = es[10].PubKey
			es[9].ID = es[9].ComputeID()
		}},
		{name: "content changed, id recomputed", n: 64, spoil: func(es []*Event) {
			es[20].Content += "!"
			es[20].ID = es[20].ComputeID()
		}},
		{name: "an implausible signature among valid ones", n: 64, spoil: func(es []*Event) { copy(es[33].Sig[:32], fieldPrime) }},
		{name: "signature of another event", n: 64, spoil: func(es []*Event) { es[2].Sig = es[3].Sig }},
		{name: "valid signature, other key and id", n: 64, spoil: func(es []*Event) {
			es[30].ID, es[30].Sig = other.ID, other.Sig
		}},
		{name: "content changed (id mismatch)", n: 64, spoil: func(es []*Event) { es[12].Content += "!" }},
		{name: "negative time", n: 64, spoil: func(es []*Event) { es[1].CreatedAt = -1 }},
		{name: "nil event", n: 64, spoil: func(es []*Event) { es[44] = nil }},
		{name: "the same event twice", n: 64, allOK: true, spoil: func(es []*Event) { es[8] = es[7] }},
		{name: "every signature spoiled", n: 40, spoil: func(es []*Event) {
			for _, e := range es {
				e.Sig[63] ^= 1
			}
		}},
		{name: "two signatures swapped within an author", n: 64, spoil: func(es []*Event) {
			es[0].Sig, es[7].Sig = es[7].Sig, es[0].Sig
		}},
		{name: "one author, 200 valid", n: 200, allOK: true, author: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var es []*Event
			if tt.author {
				es = signedEvents(t, tt.n, 1)
			} else {
				es = clone(base[:tt.n])
			}
			if tt.spoil != nil {
				tt.spoil(es)
			}
			want := individually(es)
			got := VerifyBatch(es)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("VerifyBatch = %v\nVerify      = %v", got, want)
			}
			failed := strings.Count(fmt.Sprint(want), "false")
			if tt.allOK && failed != 0 {
				t.Fatalf("%d valid events failed", failed)
			}
			if !tt.allOK && failed == 0 {
				t.Fatal("the spoiled batch verified: the test spoils nothing")
			}
		})
	}
}

// TestSignatureBatchBIP340Vectors puts each BIP-340 test vector into a batch
// of valid signatures: the batch holds iff the vector does.
func TestSignatureBatchBIP340Vectors(t *testing.T) {
	f, err := os.Open("testdata/bip340-vectors.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	valid := signedEvents(t, 15, 3)
	seen := 0
	for _, row := range rows[1:] {
		pub, err1 := hex.DecodeString(row[2])
		msg, err2 := hex.DecodeString(row[4])
		sig, err3 := hex.DecodeString(row[5])
		if err1 != nil || err2 != nil || err3 != nil || len(pub) != 32 || len(msg) != 32 || len(sig) != 64 {
			t.Fatalf("vector %s: malformed row", row[0])
		}
		want := row[6] == "TRUE"
		v := batchSig{pub: PublicKey(pub), msg: [32]byte(msg), sig: [64]byte(sig)}
		if single := v.pub.VerifyHash(v.msg, v.sig) == nil; single != want {
			t.Fatalf("vector %s: VerifyHash = %v, want %v (%s)", row[0], single, want, row[7])
		}
		for _, pos := range []int{0, 7, 15} {
			sigs := make([]batchSig, 0, 16)
			for _, e := range valid {
				sigs = append(sigs, batchSig{pub: e.PubKey, msg: e.ID, sig: e.Sig})
			}
			sigs = append(sigs[:pos], append([]batchSig{v}, sigs[pos:]...)...)
			plausible := make([]bool, len(sigs))
			holds := verifySignatureBatch(sigs, plausible)
			for k, p := range plausible {
				if k != pos && !p {
					t.Errorf("vector %s at %d: valid signature %d failed on its face", row[0], pos, k)
				}
			}
			if got := holds && plausible[pos]; got != want {
				t.Errorf("vector %s at %d: batch = %v (plausible %v), want %v (%s)", row[0], pos, holds, plausible[pos], want, row[7])
			}
		}
		seen++
	}
	if seen != 15 {
		t.Fatalf("read %d vectors, want 15", seen)
	}
}

// TestMultiScalarMult compares the bucket method with a sum of single
// scalar multiplications, for sizes around each window width and scalars
// of every length.
func TestMultiScalarMult(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 15, 16, 63, 64, 200, 600} {
		terms := make([]msmTerm, n)
		var want secp256k1.JacobianPoint
		for i := range terms {
			var k secp256k1.ModNScalar
			var b [32]byte
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			switch i % 4 {
			case 0: // 128 bits
				clear(b[:16])
			case 1: // tiny
				clear(b[:31])
			case 2: // zero
				clear(b[:])
			}
			k.SetBytes(&b)
			var pk secp256k1.ModNScalar
			pk.SetInt(uint32(i + 1))
			var p secp256k1.JacobianPoint
			secp256k1.ScalarBaseMultNonConst(&pk, &p)
			p.ToAffine()
			terms[i] = msmTerm{point: p, scalar: k.Bytes()}
			var kp, sum secp256k1.JacobianPoint
			secp256k1.ScalarMultNonConst(&k, &p, &kp)
			secp256k1.AddNonConst(&want, &kp, &sum)
			want = sum
		}
		var got secp256k1.JacobianPoint
		multiScalarMult(terms, &got)
		want.ToAffine()
		if isInfinity(&got) != isInfinity(&want) {
			t.Fatalf("n=%d: infinity %v, want %v", n, isInfinity(&got), isInfinity(&want))
		}
		if !isInfinity(&got) {
			got.ToAffine()
			if !got.X.Equals(&want.X) || !got.Y.Equals(&want.Y) {
				t.Fatalf("n=%d: sums differ", n)
			}
		}
	}
}

// FuzzVerifyBatch spoils bytes of a batch's events: the batch's verdicts
// must equal each event's Verify.
func FuzzVerifyBatch(f *testing.F) {
	base := signedEvents(f, 24, 3)
	f.Add(uint8(0), uint8(0), uint8(1), uint8(0), uint8(0))
	f.Add(uint8(5), uint8(70), uint8(0x80), uint8(9), uint8(33))
	f.Fuzz(func(t *testing.T, i, at, x, j, at2 uint8) {
		es := clone(base)
		spoil := func(k, pos, x uint8) {
			e := es[int(k)%len(es)]
			switch p := int(pos) % 160; {
			case p < 64:
				e.Sig[p] ^= x
			case p < 96:
				e.PubKey[p-64] ^= x
			case p < 128:
				e.ID[p-96] ^= x
			default:
				e.CreatedAt ^= int64(x)
			}
		}
		spoil(i, at, x)
		spoil(j, at2, x>>1)
		want := individually(es)
		if got := VerifyBatch(es); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("VerifyBatch = %v\nVerify      = %v", got, want)
		}
	})
}

// BenchmarkVerifyBatch compares checking a batch's signatures one by one
// with checking them as a batch, for batch sizes and author counts.
func BenchmarkVerifyBatch(b *testing.B) {
	for _, tc := range []struct{ n, authors int }{{64, 64}, {128, 128}, {500, 500}, {1000, 1000}, {1000, 250}, {1000, 10}} {
		es := signedEvents(b, tc.n, tc.authors)
		b.Run(fmt.Sprintf("n=%d/authors=%d/one-by-one", tc.n, tc.authors), func(b *testing.B) {
			for b.Loop() {
				for _, e := range es {
					if e.Verify() != nil {
						b.Fatal("invalid")
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*tc.n)/1e3, "µs/event")
		})
		b.Run(fmt.Sprintf("n=%d/authors=%d/batch", tc.n, tc.authors), func(b *testing.B) {
			for b.Loop() {
				for _, ok := range VerifyBatch(es) {
					if !ok {
						b.Fatal("invalid")
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*tc.n)/1e3, "µs/event")
		})
	}
}

// FuzzSignatureBatch puts one arbitrary (key, message, signature) among
// valid signatures: the batch must judge it as VerifyHash does, and the
// valid ones as valid.
func FuzzSignatureBatch(f *testing.F) {
	valid := signedEvents(f, 12, 3)
	f.Add(valid[0].PubKey[:], valid[0].ID[:], valid[0].Sig[:])
	f.Add(valid[1].PubKey[:], valid[2].ID[:], valid[1].Sig[:])
	f.Add(make([]byte, 32), make([]byte, 32), make([]byte, 64))
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		if len(pub) != 32 || len(msg) != 32 || len(sig) != 64 {
			return
		}
		x := batchSig{pub: PublicKey(pub), msg: [32]byte(msg), sig: [64]byte(sig)}
		want := x.pub.VerifyHash(x.msg, x.sig) == nil
		sigs := []batchSig{x}
		for _, e := range valid {
			sigs = append(sigs, batchSig{pub: e.PubKey, msg: e.ID, sig: e.Sig})
		}
		plausible := make([]bool, len(sigs))
		holds := verifySignatureBatch(sigs, plausible)
		if got := holds && plausible[0]; got != want {
			t.Fatalf("batch = %v (plausible %v), VerifyHash = %v", holds, plausible[0], want)
		}
		for k := 1; k < len(sigs); k++ {
			if !plausible[k] {
				t.Fatalf("valid signature %d failed on its face", k)
			}
		}
		if !want && plausible[0] && holds {
			t.Fatal("an invalid signature passed the batch")
		}
	})
}
