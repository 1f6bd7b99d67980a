package merkle

import (
	"fmt"
	"strings"
)

// Range is one decoded range of a message: everything from the previous range's upper bound (or
// the start of the order) up to Upper, in the given mode.
type Range struct {
	Upper       Bound
	Mode        Mode
	Fingerprint Fingerprint    // ModeFingerprint only
	IDs         [][IDSize]byte // ModeIDList only
}

// Message is a decoded negentropy v1 message.
type Message struct {
	Ranges []Range
}

// DecodeMessage parses a negentropy v1 message. It checks the wire rules the reconciler enforces
// (version, ascending bounds, known modes, lengths) without needing a tree; errors wrap
// ErrMalformedMessage or ErrUnsupportedVersion. Allocation is bounded by the message length.
func DecodeMessage(msg []byte) (Message, error) {
	var m Message
	r := messageReader{data: msg}
	version, err := r.readByte()
	if err != nil {
		return m, fmt.Errorf("failed to read protocol version: %w", err)
	}
	if version != protocolVersion {
		return m, fmt.Errorf("failed to decode message: %w: 0x%02x", ErrUnsupportedVersion, version)
	}
	for r.remaining() > 0 {
		var rg Range
		if rg.Upper, err = r.readBound(); err != nil {
			return m, fmt.Errorf("failed to decode bound: %w", err)
		}
		if n := len(m.Ranges); n > 0 && rg.Upper.Compare(m.Ranges[n-1].Upper) <= 0 {
			return m, fmt.Errorf("%w: bounds are not ascending", ErrMalformedMessage)
		}
		mode, err := r.readVarint()
		if err != nil {
			return m, fmt.Errorf("failed to decode mode: %w", err)
		}
		rg.Mode = Mode(mode)
		switch rg.Mode {
		case ModeSkip:
		case ModeFingerprint:
			fp, err := r.readBytes(FingerprintSize)
			if err != nil {
				return m, fmt.Errorf("failed to read fingerprint: %w", err)
			}
			rg.Fingerprint = Fingerprint(fp)
		case ModeIDList:
			count, err := r.readVarint()
			if err != nil {
				return m, fmt.Errorf("failed to decode id count: %w", err)
			}
			if count > uint64(r.remaining()/IDSize) {
				return m, fmt.Errorf("%w: id list of %d ids exceeds the message", ErrMalformedMessage, count)
			}
			rg.IDs = make([][IDSize]byte, count)
			for i := range rg.IDs {
				b, _ := r.readBytes(IDSize)
				rg.IDs[i] = [IDSize]byte(b)
			}
		default:
			return m, fmt.Errorf("%w: unknown mode %d", ErrMalformedMessage, mode)
		}
		m.Ranges = append(m.Ranges, rg)
	}
	return m, nil
}

// Encode writes the message in the negentropy v1 format, with the shortest encoding of each bound.
// Bounds must ascend, as DecodeMessage guarantees.
func (m Message) Encode() []byte {
	w := messageWriter{buf: []byte{protocolVersion}}
	for _, rg := range m.Ranges {
		w.writeBound(rg.Upper)
		w.buf = appendVarint(w.buf, uint64(rg.Mode))
		switch rg.Mode {
		case ModeFingerprint:
			w.buf = append(w.buf, rg.Fingerprint[:]...)
		case ModeIDList:
			w.buf = appendVarint(w.buf, uint64(len(rg.IDs)))
			for _, id := range rg.IDs {
				w.buf = append(w.buf, id[:]...)
			}
		}
	}
	return w.buf
}

// String renders the message for debugging, one range per line.
func (m Message) String() string {
	var sb strings.Builder
	for _, rg := range m.Ranges {
		if rg.Upper.IsInfinite() {
			sb.WriteString("∞")
		} else {
			fmt.Fprintf(&sb, "%d:%x", rg.Upper.Timestamp, trimZeros(rg.Upper.ID[:]))
		}
		switch rg.Mode {
		case ModeSkip:
			sb.WriteString(" skip\n")
		case ModeFingerprint:
			fmt.Fprintf(&sb, " fingerprint %s\n", rg.Fingerprint)
		case ModeIDList:
			fmt.Fprintf(&sb, " ids %d\n", len(rg.IDs))
		}
	}
	return sb.String()
}

func trimZeros(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}
