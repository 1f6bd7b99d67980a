package wire

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Trystero's derivation constants (reference: trystero-wire.md §1, §2.1).
const (
	libName = "Trystero"

	// IDLength is the length of tracker peer ids and offer ids.
	IDLength = 20
	// infoHashLength is how many characters of the hashed topic form the info_hash.
	infoHashLength = 20
	// challengeLength is the length of a password-handshake challenge.
	challengeLength = 36

	// idCharset is Trystero's 62-character id alphabet, in its own order.
	idCharset = "0123456789AaBbCcDdEeFfGgHhIiJjKkLlMmNnOoPpQqRrSsTtUuVvWwXxYyZz"
)

// tsha1 is Trystero's topic hash: the SHA-1 of s, each byte written in
// lowercase base 36 without padding, the pieces joined.
func tsha1(s string) string {
	sum := sha1.Sum([]byte(s))
	var b strings.Builder
	b.Grow(2 * len(sum))
	for _, x := range sum {
		b.WriteString(strconv.FormatUint(uint64(x), 36))
	}
	return b.String()
}

// rootTopic is the strategy-level topic of a room, hashed once.
func rootTopic(appID, room string) string {
	return tsha1(libName + "@" + appID + "@" + room)
}

// InfoHash returns the tracker info_hash of a room: the root topic hashed a
// second time, cut to 20 characters. The room password plays no part.
func InfoHash(appID, room string) string {
	return tsha1(rootTopic(appID, room))[:infoHashLength]
}

// RoomToken returns the room token that prefixes every data-channel frame
// of a room: hex(SHA-256("Trystero:" + appID + ":" + room)), 64 characters.
func RoomToken(appID, room string) string {
	sum := sha256.Sum256([]byte(libName + ":" + appID + ":" + room))
	return hex.EncodeToString(sum[:])
}

// NewPeerID returns a fresh tracker peer id (also the room peer id).
func NewPeerID() (string, error) {
	return randomID(rand.Reader, IDLength)
}

// PeerIDFrom draws a peer id from r instead of crypto/rand: for
// simulations that must repeat from a seed (never for a real peer, whose
// id others must not guess).
func PeerIDFrom(r io.Reader) (string, error) {
	return randomID(r, IDLength)
}

// NewOfferID returns a fresh tracker offer id.
func NewOfferID() (string, error) {
	return randomID(rand.Reader, IDLength)
}

// NewHandshakeChallenge returns a fresh password-handshake challenge.
func NewHandshakeChallenge() (string, error) {
	return randomID(rand.Reader, challengeLength)
}

// randomID draws n characters uniformly from idCharset, reading bytes from
// r. Bytes at or above the largest multiple of 62 are rejected, so there is
// no modulo bias.
func randomID(r io.Reader, n int) (string, error) {
	const limit = 256 - 256%len(idCharset) // 248
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2)
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("failed to read random bytes: %w", err)
		}
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out = append(out, idCharset[int(b)%len(idCharset)])
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}

// IsValidID reports whether s is usable as a tracker id (info_hash, peer_id,
// to_peer_id, offer_id): exactly 20 ASCII characters.
func IsValidID(s string) bool {
	if len(s) != IDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
