package merkle

import (
	"errors"
	"fmt"
)

// Negentropy v1 wire constants.
const (
	protocolVersion byte = 0x61
	maxVarintLen    int  = 10 // a uint64 needs at most ten 7-bit groups
)

// Mode is the kind of a range in a reconciliation message.
type Mode uint64

// Range modes of negentropy v1.
const (
	ModeSkip        Mode = 0
	ModeFingerprint Mode = 1
	ModeIDList      Mode = 2
)

// Errors that callers may test with errors.Is.
var (
	// ErrMalformedMessage marks input that does not decode as a negentropy v1 message, or that
	// breaks its rules (bounds out of order, counts beyond the message length, unknown modes).
	ErrMalformedMessage = errors.New("malformed negentropy message")
	// ErrUnsupportedVersion is returned to an initiator whose peer answers with another protocol
	// version.
	ErrUnsupportedVersion = errors.New("unsupported negentropy protocol version")
)

// putVarint writes v as a negentropy varint (base-128, most significant group first, high bit set
// on every byte but the last) into buf and returns the number of bytes written.
func putVarint(buf []byte, v uint64) int {
	var tmp [maxVarintLen]byte
	i := maxVarintLen - 1
	tmp[i] = byte(v & 0x7f)
	for v >>= 7; v != 0; v >>= 7 {
		i--
		tmp[i] = byte(v&0x7f) | 0x80
	}
	return copy(buf, tmp[i:])
}

func appendVarint(dst []byte, v uint64) []byte {
	var tmp [maxVarintLen]byte
	n := putVarint(tmp[:], v)
	return append(dst, tmp[:n]...)
}

// messageReader decodes one message. Timestamps in bounds are deltas from the previous bound of the
// same message.
type messageReader struct {
	data   []byte
	pos    int
	lastTS uint64
}

func (r *messageReader) remaining() int { return len(r.data) - r.pos }

func (r *messageReader) readByte() (byte, error) {
	if r.pos >= len(r.data) {
		return 0, fmt.Errorf("%w: unexpected end of message", ErrMalformedMessage)
	}
	b := r.data[r.pos]
	r.pos++
	return b, nil
}

func (r *messageReader) readBytes(n int) ([]byte, error) {
	if n < 0 || n > r.remaining() {
		return nil, fmt.Errorf("%w: unexpected end of message", ErrMalformedMessage)
	}
	b := r.data[r.pos : r.pos+n]
	r.pos += n
	return b, nil
}

func (r *messageReader) readVarint() (uint64, error) {
	var v uint64
	for i := 0; i < maxVarintLen; i++ {
		b, err := r.readByte()
		if err != nil {
			return 0, err
		}
		if v > (1<<64-1)>>7 {
			return 0, fmt.Errorf("%w: varint overflows 64 bits", ErrMalformedMessage)
		}
		v = v<<7 | uint64(b&0x7f)
		if b&0x80 == 0 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: varint longer than %d bytes", ErrMalformedMessage, maxVarintLen)
}

func (r *messageReader) readBound() (Bound, error) {
	delta, err := r.readVarint()
	if err != nil {
		return Bound{}, err
	}
	var b Bound
	switch {
	case delta == 0 || r.lastTS == MaxTimestamp:
		// Zero encodes the infinite bound; everything after it stays infinite.
		b.Timestamp = MaxTimestamp
	case delta-1 >= MaxTimestamp-r.lastTS:
		return Bound{}, fmt.Errorf("%w: bound timestamp overflows", ErrMalformedMessage)
	default:
		b.Timestamp = r.lastTS + delta - 1
	}
	r.lastTS = b.Timestamp
	prefixLen, err := r.readVarint()
	if err != nil {
		return Bound{}, err
	}
	if prefixLen > IDSize {
		return Bound{}, fmt.Errorf("%w: bound id prefix of %d bytes", ErrMalformedMessage, prefixLen)
	}
	prefix, err := r.readBytes(int(prefixLen))
	if err != nil {
		return Bound{}, err
	}
	if !b.IsInfinite() {
		copy(b.ID[:], prefix)
	}
	return b, nil
}

// messageWriter encodes one message.
type messageWriter struct {
	buf    []byte
	lastTS uint64
}

// writerMark lets a caller drop what was written after it.
type writerMark struct {
	length int
	lastTS uint64
}

func (w *messageWriter) mark() writerMark { return writerMark{len(w.buf), w.lastTS} }

func (w *messageWriter) rollback(m writerMark) { w.buf, w.lastTS = w.buf[:m.length], m.lastTS }

// writeBound appends b. Bounds must be written in ascending order; callers guarantee that.
func (w *messageWriter) writeBound(b Bound) {
	if b.IsInfinite() {
		w.buf = append(w.buf, 0, 0)
		w.lastTS = MaxTimestamp
		return
	}
	w.buf = appendVarint(w.buf, b.Timestamp-w.lastTS+1)
	w.lastTS = b.Timestamp
	prefixLen := IDSize
	for prefixLen > 0 && b.ID[prefixLen-1] == 0 {
		prefixLen-- // zero padding is implied
	}
	w.buf = appendVarint(w.buf, uint64(prefixLen))
	w.buf = append(w.buf, b.ID[:prefixLen]...)
}

func (w *messageWriter) writeFingerprintRange(upper Bound, fp Fingerprint) {
	w.writeBound(upper)
	w.buf = append(w.buf, byte(ModeFingerprint))
	w.buf = append(w.buf, fp[:]...)
}

func (w *messageWriter) writeSkipRange(upper Bound) {
	w.writeBound(upper)
	w.buf = append(w.buf, byte(ModeSkip))
}

// minimalBound returns the shortest bound b with prev < b <= next (prev < next).
func minimalBound(prev, next Item) Bound {
	if prev.Timestamp != next.Timestamp {
		return Bound{Timestamp: next.Timestamp}
	}
	b := Bound{Timestamp: next.Timestamp}
	for i := 0; i < IDSize; i++ {
		b.ID[i] = next.ID[i]
		if next.ID[i] != prev.ID[i] {
			break
		}
	}
	return b
}
