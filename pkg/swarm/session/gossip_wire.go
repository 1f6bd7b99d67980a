package session

import "fmt"

// The gossip messages (docs/protocol.md 4.8): a peer announces the ids of new
// records to its mesh peers (ihave), which ask for the ones they lack
// (iwant) and get them in a records message. Both carry 1.. distinct 32-byte
// ids, raw (see idsMsg).
const (
	// ActionIHave announces ids of records the sender holds and that the
	// receiver may lack: at most MaxIHaveIDs.
	ActionIHave = "peerset/ihave"
	// ActionIWant asks for records the sender announced to us with ihave:
	// at most the receiver's Limits.Want ids.
	ActionIWant = "peerset/iwant"
	// MaxIHaveIDs bounds the ids of one ihave.
	MaxIHaveIDs = 256
)

// idsMsg is an ihave or an iwant. On the wire its payload is the ids
// themselves, 32 bytes each, back to back (no JSON: gossip sends one small
// message per record and link, so every byte counts).
type idsMsg struct {
	IDs [][idSize]byte
}

func encodeIDsMsg(m idsMsg) []byte {
	b := make([]byte, 0, len(m.IDs)*idSize)
	for _, id := range m.IDs {
		b = append(b, id[:]...)
	}
	return b
}

// idsMsgCap is the largest payload of an ihave or iwant of maxIDs ids.
func idsMsgCap(maxIDs int) int {
	return maxIDs * idSize
}

// decodeIDsMsg reads an ihave or iwant (named by action in errors) of
// 1..maxIDs distinct ids.
func decodeIDsMsg(action string, payload []byte, maxIDs int) (idsMsg, error) {
	var m idsMsg
	switch {
	case len(payload) > idsMsgCap(maxIDs):
		return m, fmt.Errorf("%w: %s of %d bytes, over %d", ErrMessageTooLarge, action, len(payload), idsMsgCap(maxIDs))
	case len(payload) == 0:
		return m, fmt.Errorf("%w: empty %s", ErrProtocolViolation, action)
	case len(payload)%idSize != 0:
		return m, fmt.Errorf("%w: %s of %d bytes, not a multiple of %d", ErrProtocolViolation, action, len(payload), idSize)
	}
	m.IDs = make([][idSize]byte, 0, len(payload)/idSize)
	seen := make(map[[idSize]byte]struct{}, len(payload)/idSize)
	for i := 0; i < len(payload); i += idSize {
		id := [idSize]byte(payload[i : i+idSize])
		if _, dup := seen[id]; dup {
			return idsMsg{}, fmt.Errorf("%w: duplicate id in %s", ErrProtocolViolation, action)
		}
		seen[id] = struct{}{}
		m.IDs = append(m.IDs, id)
	}
	return m, nil
}
