package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"github.com/peersetdb/peerset/pkg/record"
)

type keyPair struct {
	Npub   string `json:"npub"`
	Nsec   string `json:"nsec"`
	PubKey string `json:"pubkey"`
}

func cmdKeygen(args []string, stdout io.Writer) error {
	if len(args) != 0 {
		return fmt.Errorf("%w: keygen takes no arguments", errUsage)
	}
	sk, err := record.GenerateKey()
	if err != nil {
		return err
	}
	return writeJSON(stdout, keyPair{Npub: sk.Public().Npub(), Nsec: sk.Nsec(), PubKey: sk.Public().Hex()})
}

type decodedKey struct {
	Type string `json:"type"` // "npub" or "nsec"
	Hex  string `json:"hex"`
}

func cmdKeyDecode(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: key decode takes one npub or nsec", errUsage)
	}
	prefix, key, err := record.DecodeKey(args[0])
	if err != nil {
		return err
	}
	return writeJSON(stdout, decodedKey{Type: prefix, Hex: hex.EncodeToString(key)})
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
