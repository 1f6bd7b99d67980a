package session

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"

	"github.com/peersetdb/peerset/pkg/record"
)

// AuthDomain separates peerset's handshake signatures from every other use of
// the same key (records are signed over event ids, never over this transcript).
const AuthDomain = "peerset/auth/v1"

// AuthHash is what a peer signs (BIP-340) to answer the other side's nonce:
//
//	SHA-256( field(AuthDomain) ‖ field(roomID) ‖ field(verifierNonce) ‖ field(signerNonce)
//	         ‖ field(fp(signerFingerprint)) ‖ field(fp(verifierFingerprint)) )
//
// where field(x) is x's length as a 4-byte big-endian integer followed by x, and
// fp lowercases a DTLS fingerprint and trims surrounding white space (SDP writes
// "sha-256 AB:CD:…"; both ends must see the same text). The verifier's nonce
// makes the signature fresh, the signer's nonce and the two fingerprints bind it
// to this one connection and direction, and the room binds it to the room: a
// relay can neither replay it later nor splice it into another connection.
// Empty fingerprints are allowed (transports without DTLS, tests) and then bind
// nothing.
func AuthHash(roomID string, verifierNonce, signerNonce [NonceSize]byte, signerFingerprint, verifierFingerprint string) [32]byte {
	h := sha256.New()
	field := func(b []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte(AuthDomain))
	field([]byte(roomID))
	field(verifierNonce[:])
	field(signerNonce[:])
	field([]byte(normalizeFingerprint(signerFingerprint)))
	field([]byte(normalizeFingerprint(verifierFingerprint)))
	return [32]byte(h.Sum(nil))
}

func normalizeFingerprint(fp string) string {
	return strings.ToLower(strings.TrimSpace(fp))
}

// signHash makes a BIP-340 signature over a 32-byte hash with sk.
func signHash(sk *record.SecretKey, hash [32]byte) ([64]byte, error) {
	priv, _ := btcec.PrivKeyFromBytes(sk.Bytes())
	sig, err := schnorr.Sign(priv, hash[:])
	if err != nil {
		return [64]byte{}, fmt.Errorf("failed to sign the auth transcript: %w", err)
	}
	return [64]byte(sig.Serialize()), nil
}

// verifyHash checks a BIP-340 signature over a 32-byte hash by pk.
func verifyHash(pk record.PublicKey, hash [32]byte, sig [64]byte) error {
	pub, err := schnorr.ParsePubKey(pk[:])
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAuthFailed, err)
	}
	s, err := schnorr.ParseSignature(sig[:])
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAuthFailed, err)
	}
	if !s.Verify(hash[:], pub) {
		return fmt.Errorf("%w: signature does not verify", ErrAuthFailed)
	}
	return nil
}
