package session

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"

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
	sig, err := sk.SignHash(hash)
	if err != nil {
		return sig, fmt.Errorf("failed to sign the auth transcript: %w", err)
	}
	return sig, nil
}

// verifyHash checks a BIP-340 signature over a 32-byte hash by pk.
func verifyHash(pk record.PublicKey, hash [32]byte, sig [64]byte) error {
	if err := pk.VerifyHash(hash, sig); err != nil {
		return fmt.Errorf("%w: %w", ErrAuthFailed, err)
	}
	return nil
}

// SignAuth answers the other side's hello: it signs AuthHash with sk and
// returns the peerset/auth payload. For tools and tests that speak the
// protocol by hand; Manager does this itself.
func SignAuth(sk *record.SecretKey, roomID string, verifierNonce, signerNonce [NonceSize]byte, signerFingerprint, verifierFingerprint string) ([]byte, error) {
	sig, err := signHash(sk, AuthHash(roomID, verifierNonce, signerNonce, signerFingerprint, verifierFingerprint))
	if err != nil {
		return nil, err
	}
	return encodeAuth(auth{Sig: sig}), nil
}

// DefaultLimits are the limits a Manager with a zero Config advertises.
func DefaultLimits() Limits {
	c, err := Config{}.withDefaults()
	if err != nil {
		panic("session: the zero Config has invalid defaults: " + err.Error()) // unreachable: a test checks the defaults
	}
	return c.limits()
}
