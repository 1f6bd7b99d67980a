package moderation

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math/bits"
	"strconv"

	"github.com/peersetdb/peerset/pkg/record"
)

// TagNonce is the NIP-13 tag ["nonce", "<n>", "<target difficulty>"].
const TagNonce = "nonce"

// LeadingZeroBits returns the NIP-13 difficulty of an id: the number of
// leading zero bits.
func LeadingZeroBits(id [32]byte) int {
	n := 0
	for _, b := range id {
		if b != 0 {
			return n + bits.LeadingZeros8(b)
		}
		n += 8
	}
	return n
}

// CommittedDifficulty returns the target difficulty written in the event's
// nonce tag, or false if there is none.
func CommittedDifficulty(e *record.Event) (int, bool) {
	t := e.Tag(TagNonce)
	if len(t) < 3 {
		return 0, false
	}
	n, err := strconv.Atoi(t[2])
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// ProofOfWorkRule ("proof-of-work") demands NIP-13 work: at least
// difficulty leading zero bits in the id, and a nonce tag committing to a
// target of at least difficulty (so that a lucky id mined for a lower
// target does not count). It applies to deletions as well as records.
func ProofOfWorkRule(difficulty int) Rule {
	return RuleFunc(RuleProofOfWork, func(c *Context, e *record.Event) Verdict {
		committed, ok := CommittedDifficulty(e)
		if !ok {
			return Rejectf("no nonce tag committing to a difficulty; %d bits are required", difficulty)
		}
		if committed < difficulty {
			return Rejectf("the nonce tag commits to %d bits, %d are required", committed, difficulty)
		}
		if got := LeadingZeroBits(e.ID); got < difficulty {
			return Rejectf("the id has %d leading zero bits, %d are required", got, difficulty)
		}
		return Accept()
	})
}

// nonceWidth is the fixed number of decimal digits Mine writes, so that
// the nonce can be changed in place in the serialised event.
const nonceWidth = 16

// Mine adds NIP-13 proof of work to e: it sets a nonce tag committing to
// difficulty, searches for a nonce giving an id with that many leading zero
// bits, and signs e again with sk (whose public key becomes e's author).
// It returns ctx's error if ctx ends first. The expected work is
// 2^difficulty hashes.
func Mine(ctx context.Context, e *record.Event, sk *record.SecretKey, difficulty int) error {
	if sk == nil {
		return fmt.Errorf("failed to mine: %w: no secret key", record.ErrInvalidSecretKey)
	}
	e.PubKey = sk.Public()
	if err := MineID(ctx, e, difficulty); err != nil {
		return err
	}
	id := e.ID
	if err := e.Sign(sk); err != nil {
		return fmt.Errorf("failed to mine: %w", err)
	}
	if e.ID != id {
		return fmt.Errorf("failed to mine: signed id differs from the mined id")
	}
	return nil
}

// MineID is Mine without the signature: it sets the nonce tag and the id of
// e, whose PubKey must already be its author's, and leaves Sig for a signer
// that holds the key elsewhere (signing does not change the id).
func MineID(ctx context.Context, e *record.Event, difficulty int) error {
	if difficulty < 0 || difficulty > 64 {
		return fmt.Errorf("failed to mine: difficulty %d is outside 0..64", difficulty)
	}
	tags := make([][]string, 0, len(e.Tags)+1)
	for _, t := range e.Tags {
		if len(t) == 0 || t[0] != TagNonce {
			tags = append(tags, t)
		}
	}
	zero := fmt.Sprintf("%0*d", nonceWidth, 0)
	e.Tags = append(tags, []string{TagNonce, zero, strconv.Itoa(difficulty)})
	ser := e.Serialize()
	// The nonce tag is the last tag, and quotes inside content are escaped,
	// so the last occurrence of this sequence is the nonce's value.
	marker := []byte(`"` + TagNonce + `","` + zero + `"`)
	at := bytes.LastIndex(ser, marker)
	if at < 0 {
		return fmt.Errorf("failed to mine: nonce not found in the serialised event")
	}
	digits := ser[at+len(TagNonce)+4 : at+len(TagNonce)+4+nonceWidth]
	for n := uint64(0); ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("failed to mine: %w", err)
			}
		}
		writeDecimal(digits, n)
		id := sha256.Sum256(ser)
		if LeadingZeroBits(id) < difficulty {
			continue
		}
		e.Tags[len(e.Tags)-1][1] = string(digits)
		e.ID, e.Sig = id, [64]byte{}
		return nil
	}
}

// writeDecimal writes n zero-padded into dst.
func writeDecimal(dst []byte, n uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = byte('0' + n%10)
		n /= 10
	}
}
