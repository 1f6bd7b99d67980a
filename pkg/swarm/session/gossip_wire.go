package session

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// The gossip messages (docs/protocol.md 4.8): a peer announces the ids of new
// records to its mesh peers (ihave), which ask for the ones they lack
// (iwant) and get them in a records message. Both carry one field, "ids":
// standard padded base64 of 1.. distinct 32-byte ids, like want.
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

// idsMsg is an ihave or an iwant.
type idsMsg struct {
	IDs [][idSize]byte
}

func encodeIDsMsg(m idsMsg) []byte {
	s := encodeIDs(m.IDs)
	b, _ := json.Marshal(idsJSON{IDs: &s})
	return b
}

// idsMsgCap is the largest payload of an ihave or iwant of maxIDs ids.
func idsMsgCap(maxIDs int) int {
	return base64.StdEncoding.EncodedLen(maxIDs*idSize) + envelopeBytes
}

// decodeIDsMsg reads an ihave or iwant (named by action in errors) of
// 1..maxIDs distinct ids.
func decodeIDsMsg(action string, payload []byte, maxIDs int) (idsMsg, error) {
	var m idsMsg
	if max := idsMsgCap(maxIDs); len(payload) > max {
		return m, fmt.Errorf("%w: %s of %d bytes, over %d", ErrMessageTooLarge, action, len(payload), max)
	}
	var j idsJSON
	if err := decodeJSON(payload, &j, true); err != nil {
		return m, err
	}
	if j.IDs == nil {
		return m, fmt.Errorf("%w: %s without ids", ErrProtocolViolation, action)
	}
	ids, err := decodeIDs(*j.IDs, maxIDs)
	if err != nil {
		return m, err
	}
	if len(ids) == 0 {
		return m, fmt.Errorf("%w: empty %s", ErrProtocolViolation, action)
	}
	m.IDs = ids
	return m, nil
}
